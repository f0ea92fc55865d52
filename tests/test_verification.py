"""Verification runs against the population-registry simulator running as its own process."""

from datetime import date, timedelta

import httpx
import pytest
from conftest import make_pupil
from django.utils import timezone
from registry_sim_support import citizen, running_simulator, write_citizens

from vnemis.core.models import Job
from vnemis.identity import verification
from vnemis.identity.models import Verification, VerificationEvent, VerificationRun
from vnemis.identity.rates import rates_refresh
from vnemis.identity.registry_client import (
    ClientConfig,
    RegistryClient,
    RegistryUnavailable,
)
from vnemis.identity.verification import RunBusy, run_create, run_execute
from vnemis.registry import actions as registry_actions
from vnemis.registry.models import Person

# What the registry knows: An as the school has him; Dũng under another spelling; Hà's real ID
# differs by one digit from the one her school typed.
REGISTRY = [
    citizen("001217001234", "Nguyễn Văn An", date(2017, 3, 14), "M"),
    citizen("001217005678", "Phạm Văn Dũng", date(2017, 5, 5), "M"),
    citizen("001317004321", "Đỗ Thu Hà", date(2017, 8, 9), "F"),
]


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    path = write_citizens(tmp_path_factory.mktemp("registry") / "citizens.parquet", REGISTRY)
    with running_simulator(path) as handle:
        yield handle


def _admin(sim, **settings):
    response = httpx.post(
        f"{sim.url}/_sim/config", json=settings, headers={"X-Admin-Key": sim.admin_key}
    )
    response.raise_for_status()


def _items_verified(sim) -> int:
    response = httpx.get(f"{sim.url}/_sim/stats", headers={"X-Admin-Key": sim.admin_key})
    return response.json()["counts"].get("items_verified", 0)


@pytest.fixture
def registry(sim):
    _admin(sim, fail_next=[], error_500_rate=0, drop_rate=0, timeout_rate=0, latency_ms=0)
    yield sim
    _admin(sim, fail_next=[], error_500_rate=0, drop_rate=0, timeout_rate=0, latency_ms=0)


def client_for(sim, **overrides) -> RegistryClient:
    settings = {"timeout": 2, "backoff_base": 0.01, "backoff_max": 0.05, "concurrency": 2}
    config = ClientConfig(
        base_url=sim.url,
        client_id=sim.client_id,
        client_secret=sim.client_secret,
        **{**settings, **overrides},
    )
    return RegistryClient(config)


@pytest.fixture
def school_pupils(tree, school_year, pupils, users):
    made = {"an": pupils["an"], "binh": pupils["binh"]}
    made["dung"] = make_pupil(
        school=tree["a"],
        school_year=school_year,
        grade=3,
        class_name="3A",
        full_name="Phạm Văn Dung",
        birth_date=date(2017, 5, 5),
        citizen_id="001217005678",
    )
    made["ha"] = make_pupil(
        school=tree["a"],
        school_year=school_year,
        grade=3,
        class_name="3B",
        full_name="Đỗ Thu Hà",
        birth_date=date(2017, 8, 9),
        sex="F",
        citizen_id="001317004322",
    )
    return made


def statuses(persons) -> dict:
    found = dict(
        Verification.objects.filter(person__in=persons.values()).values_list("person", "status")
    )
    return {name: found.get(p.pk) for name, p in persons.items()}


def test_a_run_verifies_a_scope_and_names_what_differs(registry, tree, school_pupils):
    run = run_create(actor=None, scope=tree["a"], enqueue=False)
    with client_for(registry) as client:
        run = run_execute(run.pk, client=client)
    assert run.status == "succeeded"
    assert statuses(school_pupils) == {
        "an": "verified",
        "binh": None,  # school B: outside the run's scope
        "dung": "mismatch",
        "ha": "not_found",
    }
    assert Verification.objects.get(person=school_pupils["dung"]).mismatched == ["full_name"]
    assert run.counts["verified"] == 1 and run.counts["sent"] == 3
    job = Job.objects.get(pk=run.job_id)
    assert job.status == "succeeded" and job.done == job.total
    # The teacher of school A has no ID: settled without asking the registry.
    assert run.counts["no_id"] == 1


def test_unchanged_records_are_never_sent_twice(registry, tree, school_pupils):
    with client_for(registry) as client:
        run_execute(run_create(actor=None, scope=tree["so_hn"], enqueue=False).pk, client=client)
        sent_before = _items_verified(registry)
        again = run_execute(
            run_create(actor=None, scope=tree["so_hn"], enqueue=False).pk, client=client
        )
        assert again.counts["sent"] == 0 and _items_verified(registry) == sent_before

        registry_actions.person_update(
            actor=None, person=school_pupils["dung"], full_name="Phạm Văn Dũng"
        )
        assert Verification.objects.get(person=school_pupils["dung"]).status == "unverified"
        third = run_execute(
            run_create(actor=None, scope=tree["so_hn"], enqueue=False).pk, client=client
        )
    assert third.counts["sent"] == 1 and third.counts["verified"] == 1
    assert _items_verified(registry) == sent_before + 1
    history = VerificationEvent.objects.filter(person=school_pupils["dung"]).values_list(
        "status", flat=True
    )
    assert list(history) == ["mismatch", "unverified", "verified"]


def test_retries_ride_out_500_drop_429_and_timeout(registry, tree, school_pupils):
    _admin(registry, fail_next=["500", "drop", "429", "timeout"], hang_s=3)
    with client_for(registry, timeout=0.5) as client:
        run = run_execute(run_create(actor=None, scope=tree["a"], enqueue=False).pk, client=client)
        assert client.stats.retries >= 4
    assert run.status == "succeeded"
    assert statuses(school_pupils)["an"] == "verified"


def test_a_registry_down_pauses_the_run_and_it_resumes_where_it_stopped(
    registry, tree, school_pupils
):
    _admin(registry, error_500_rate=1.0)
    run = run_create(actor=None, scope=tree["a"], enqueue=False)
    with client_for(registry, retries=2, breaker_failures=3) as client:
        paused = run_execute(run.pk, client=client)
    assert paused.status == "paused" and paused.cursor == 0
    job = Job.objects.get(pk=run.job_id)
    assert job.status == "failed" and job.error == "registry_unavailable"
    assert not Verification.objects.filter(person=school_pupils["an"]).exists()

    _admin(registry, error_500_rate=0)
    with client_for(registry) as client:
        resumed = run_execute(run.pk, client=client)
    assert resumed.status == "succeeded" and statuses(school_pupils)["an"] == "verified"


def test_the_circuit_breaker_fails_fast_while_open(registry):
    _admin(registry, error_500_rate=1.0)
    with client_for(registry, retries=0, breaker_failures=2, breaker_cooldown=60) as client:
        for _ in range(2):
            with pytest.raises(RegistryUnavailable):
                client.verify_batch([{"ref": "1", **_item()}])
        requests = client.stats.requests
        with pytest.raises(RegistryUnavailable, match="circuit open"):
            client.verify_batch([{"ref": "1", **_item()}])
        assert client.stats.requests == requests  # nothing sent while open


def _item():
    return {
        "citizen_id": "001217001234",
        "full_name": "Nguyễn Văn An",
        "birth_date": "2017-03-14",
        "sex": "M",
    }


def test_a_crashed_run_resumes_after_its_last_saved_batch(
    registry, tree, school_pupils, monkeypatch
):
    monkeypatch.setattr(verification, "BATCH_LIMIT", 1)
    calls = {"n": 0}

    class Crashing(RegistryClient):
        def verify_batch(self, items):
            calls["n"] += 1
            if calls["n"] == 2:
                raise SystemError("worker killed")
            return super().verify_batch(items)

    run = run_create(actor=None, scope=tree["a"], enqueue=False)
    config = client_for(registry).config
    with pytest.raises(SystemError), Crashing(config) as client:
        run_execute(run.pk, client=client)
    run.refresh_from_db()
    assert run.status == "running" and run.cursor > 0
    saved = Verification.objects.count()
    with pytest.raises(RunBusy), client_for(registry) as client:
        run_execute(run.pk, client=client)  # its worker may still be alive
    VerificationRun.objects.filter(pk=run.pk).update(
        heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    sent = _items_verified(registry)
    with client_for(registry) as client:
        resumed = run_execute(run.pk, client=client)
    assert resumed.status == "succeeded"
    assert Verification.objects.count() > saved
    # Only what had not been saved went out again (the teacher, without an ID, never goes out).
    assert _items_verified(registry) - sent == 3 - saved


def test_rates_roll_up_schools_departments_and_the_nation(registry, tree, school_pupils):
    with client_for(registry) as client:
        run_execute(run_create(actor=None, scope=tree["moet"], enqueue=False).pk, client=client)
    rates_refresh()
    from vnemis.identity.models import VerificationRate

    school = VerificationRate.objects.get(organisation=tree["a"])
    nation = VerificationRate.objects.get(organisation=tree["moet"])
    assert (school.persons, school.verified, school.mismatch, school.not_found) == (3, 1, 1, 1)
    # Pupils of the nation: An, Dũng and Hà at A, Bình at B and Cường at C (the last two no ID).
    assert (nation.persons, nation.verified, nation.no_id) == (5, 1, 2)


def test_person_without_usable_id_is_no_id_even_with_an_old_id_card(registry, tree, school_pupils):
    person = school_pupils["binh"]
    registry_actions.person_update(actor=None, person=person, citizen_id="")
    with client_for(registry) as client:
        verification.verify_person_now(person, client=client)
    assert Verification.objects.get(person=person).status == "no_id"
    assert Person.objects.get(pk=person.pk).citizen_id_index == ""
