"""Audit IPs behind proxies, failed log-ins, log-in throttling, traceback redaction, scope edges."""

import logging
from datetime import date

import pytest
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory, override_settings

from vnemis.core.logging import RedactPersonalIdentifiers
from vnemis.core.middleware import client_ip
from vnemis.core.models import AuditEntry
from vnemis.orgs.models import User
from vnemis.orgs.scope import can_read_sensitive
from vnemis.registry import actions, selectors
from vnemis.registry.models import Enrolment, SchoolClass, SchoolYear


def _request(remote: str, forwarded: str = ""):
    meta = {"REMOTE_ADDR": remote}
    if forwarded:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **meta)


def test_forwarded_for_is_ignored_from_untrusted_clients():
    assert client_ip(_request("203.0.113.9", "6.6.6.6")) == "203.0.113.9"


@override_settings(VNEMIS_TRUSTED_PROXIES=["10.0.0.2"])
def test_forwarded_for_from_a_trusted_proxy_gives_the_rightmost_untrusted_hop():
    assert client_ip(_request("10.0.0.2", "6.6.6.6, 198.51.100.7")) == "198.51.100.7"
    assert client_ip(_request("10.0.0.2", "10.0.0.2")) == "10.0.0.2"


def test_failed_login_is_audited_without_the_typed_name_and_throttled(client, users):
    cache.clear()
    for _ in range(10):
        response = client.post("/login/", {"username": "truong_a", "password": "wrong"})
        assert response.status_code == 200
    entry = AuditEntry.objects.filter(action="login_fail").last()
    assert entry is not None and "truong_a" not in str(entry.detail)
    refused = client.post("/login/", {"username": "truong_a", "password": "pw"})
    assert refused.status_code == 429
    assert "_auth_user_id" not in client.session
    cache.clear()
    assert client.post("/login/", {"username": "truong_a", "password": "pw"}).status_code == 302


def test_tracebacks_are_redacted_before_handlers_print_them():
    try:
        raise ValueError("bad citizen id 001217001234")
    except ValueError:
        record = logging.getLogger("x").makeRecord(
            "x", logging.ERROR, __file__, 1, "failed", (), exc_info=__import__("sys").exc_info()
        )
    RedactPersonalIdentifiers().filter(record)
    text = logging.Formatter().format(record)
    assert "001217001234" not in text and "[redacted]" in text


def test_operator_superuser_without_scope_reaches_everything(users, pupils):
    admin = User.objects.create_superuser("root", password="pw-long-enough-1")
    names = set(selectors.persons_visible(viewer=admin).values_list("full_name", flat=True))
    assert {"Nguyễn Văn An", "Trần Thị Bình", "Lê Văn Cường"} <= names


def test_teacher_loses_access_when_the_year_ends_or_the_post_ends(users, pupils, school_year):
    teacher = users["teacher"]
    assert selectors.persons_visible(viewer=teacher).filter(pk=pupils["an"].pk).exists()
    assignment = teacher.person.assignments.get()
    assignment.ends_on = date(2020, 1, 1)
    assignment.starts_on = date(2010, 1, 1)
    assignment.save()
    assert not selectors.persons_visible(viewer=teacher).filter(pk=pupils["an"].pk).exists()
    assignment.ends_on = None
    assignment.save()
    SchoolYear.objects.filter(pk=school_year.pk).update(is_current=False)
    assert not selectors.persons_visible(viewer=teacher).filter(pk=pupils["an"].pk).exists()


def test_old_school_loses_sensitive_access_after_a_transfer(users, pupils, tree, school_year):
    an = pupils["an"]
    assert can_read_sensitive(users["school"], an)
    enrolment = Enrolment.objects.get(pupil=an)
    actions.enrolment_change_status(
        actor=users["school"],
        enrolment=enrolment,
        status="transferred_out",
        effective_on=date(2025, 11, 1),
    )
    new_class = actions.school_class_get_or_create(
        school=tree["c"], school_year=school_year, grade=3, name="3C"
    )
    actions.enrolment_create(
        actor=None,
        pupil=an,
        school_class=new_class,
        started_on=date(2025, 11, 2),
        status="transferred_in",
    )
    assert not can_read_sensitive(users["school"], an)
    assert can_read_sensitive(users["school_c"], an)
    with pytest.raises(Exception):  # noqa: B017 - PermissionDenied
        selectors.health_records_of_person(viewer=users["school"], person=an)
    # The old school still sees its own part of the history.
    assert SchoolClass.objects.filter(enrolments__pupil=an, school=tree["a"]).exists()
    assert [
        e.school_id for e in selectors.enrolments_of_person(viewer=users["school"], person=an)
    ] == [tree["a"].pk]


# --- writes are scoped in the actions themselves ----------------------------------------------


@pytest.mark.parametrize("role", ["teacher", "citizen", "school", "department"])
def test_person_update_outside_scope_is_refused_and_nothing_changes(users, pupils, role):
    cuong = pupils["cuong"]  # a Đà Nẵng pupil: none of these users may change him
    with pytest.raises(PermissionDenied):
        actions.person_update(actor=users[role], person=cuong, permanent_address="forged")
    cuong.refresh_from_db()
    assert cuong.permanent_address == "" and cuong.version == 1


def test_person_update_inside_scope_is_allowed(users, pupils):
    updated = actions.person_update(
        actor=users["department_dn"], person=pupils["cuong"], permanent_address="12 Bạch Đằng"
    )
    assert updated.permanent_address == "12 Bạch Đằng"


@pytest.mark.parametrize("role", ["school_c", "teacher", "citizen"])
def test_enrolment_create_outside_scope_or_by_a_reader_is_refused(
    users, pupils, tree, school_year, role
):
    cls = SchoolClass.objects.get(school=tree["a"], name="3A")
    before = Enrolment.objects.count()
    with pytest.raises(PermissionDenied):
        actions.enrolment_create(
            actor=users[role], pupil=pupils["cuong"], school_class=cls, started_on=date(2025, 9, 5)
        )
    assert Enrolment.objects.count() == before


def test_readers_cannot_create_persons(users):
    from vnemis.registry.models import Ethnicity, Person

    for role in ("teacher", "citizen"):
        with pytest.raises(PermissionDenied):
            actions.person_create(
                actor=users[role],
                full_name="Hồ Văn Giả",
                birth_date=date(2015, 1, 1),
                sex="M",
                ethnicity=Ethnicity.objects.get(code="01"),
                province_code="01",
            )
    assert not Person.objects.filter(full_name="Hồ Văn Giả").exists()


def test_ui_is_vietnamese_even_for_an_english_browser_until_english_is_chosen(client):
    page = client.get("/login/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert 'lang="vi"' in page.content.decode()
    client.post("/i18n/setlang/", {"language": "en", "next": "/login/"})
    assert 'lang="en"' in client.get("/login/").content.decode()
