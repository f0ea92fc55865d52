"""vnemis.core.memo: configuration kept a few seconds, dropped when its model is saved."""

import pytest

from vnemis.core import memo as memo_module
from vnemis.core.memo import Memo
from vnemis.orgs.models import Organisation


def test_a_value_is_kept_for_its_lifetime_then_computed_again(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(memo_module.time, "monotonic", lambda: now[0])
    calls = []
    kept = Memo(5)

    def compute():
        calls.append(1)
        return len(calls)

    assert kept.get("k", compute) == 1
    now[0] += 4.9
    assert kept.get("k", compute) == 1  # still kept
    assert kept.get("other", compute) == 2  # each key its own
    now[0] += 0.2
    assert kept.get("k", compute) == 3  # expired: computed again
    assert kept.get("none", lambda: None) is None
    assert kept.get("none", compute) is None  # a None is kept too (e.g. "no such row")


@pytest.mark.django_db
def test_saving_or_deleting_the_model_drops_every_value(tree):
    kept = Memo(3600).clear_on_save(Organisation)
    kept.get("name", lambda: "before")
    org = Organisation.objects.filter(kind="school").first()
    org.name = org.name + " (đổi tên)"
    org.save()
    assert kept.get("name", lambda: "after save") == "after save"
    Organisation.objects.filter(pk=org.pk).update(name="x")  # a bulk update sends no signal:
    assert kept.get("name", lambda: "stale") == "after save"  # kept until it expires
