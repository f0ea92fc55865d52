"""``vnemis demo --no-serve``: sets up data and one log-in per role, and a rerun reuses them."""

import pytest
from django.core.management import call_command, get_commands

from vnemis.orgs.models import ApiToken, User
from vnemis.orgs.scope import person_ids_in_scope
from vnemis.registry.management.commands.demo import DEMO_PASSWORD
from vnemis.registry.models import Enrolment, Person


@pytest.mark.skipif("generate" not in get_commands(), reason="the generator is not installed")
def test_demo_sets_up_and_reuses(db, settings, tmp_path, capsys):
    settings.VAR_DIR = tmp_path
    args = ["demo", "--no-serve", "--schools", "3", "--students", "400"]
    call_command(*args)
    out = capsys.readouterr().out
    assert "giaovien" in out and DEMO_PASSWORD in out
    enrolments = Enrolment.objects.filter(province_code="01").count()
    assert enrolments > 0
    users = {u.username: u for u in User.objects.all()}
    for name in ("bo", "so", "truong", "giaovien", "hethong", "congdan"):
        assert users[name].check_password(DEMO_PASSWORD)
    teacher = users["giaovien"]
    assert teacher.person.homeroom_classes.exists()
    assert Person.objects.filter(
        id__in=person_ids_in_scope(teacher), id=users["congdan"].person_id
    ).exists()
    assert ApiToken.objects.filter(user=users["hethong"], revoked_at=None).count() == 1
    persons = Person.objects.count()
    call_command(*args)
    out = capsys.readouterr().out
    assert "already loaded" in out
    assert Person.objects.count() == persons
    # A new raw token each run; the old one is revoked, never shown again.
    assert ApiToken.objects.filter(user=users["hethong"], revoked_at=None).count() == 1
