"""Change tracking (registry migration 0009) and the change feed GET /api/v1/changes.

Numbers: new on insert and on a real update, kept on a no-op update, never settable by the
application, in commit order under concurrent writers (PostgreSQL). Tombstones for deletes and
natural-key changes. The feed: paging, resume, scope, sensitive fields, audit, bad input.
"""

import os
import threading
import time
from datetime import date

import pytest
from django.db import connection, transaction

from vnemis.core.models import AuditEntry
from vnemis.orgs.models import Organisation
from vnemis.orgs.tokens import api_token_create
from vnemis.registry.models import (
    Enrolment,
    HealthRecord,
    Person,
    SchoolClass,
    Subject,
    TeachingAssignment,
    Tombstone,
)

API = "/api/v1/changes"


def seq(obj) -> int:
    return type(obj).objects.values_list("change_seq", flat=True).get(pk=obj.pk)


@pytest.fixture
def tokens(users):
    return {
        role: api_token_create(user=user, name=f"test {role}")[1] for role, user in users.items()
    }


def feed(client, token, **params):
    return client.get(API, params, HTTP_AUTHORIZATION=f"Bearer {token}")


def walk(client, token, since=None, limit=3, **params):
    """Follow the feed to its end; the items and the last cursor."""
    items, cursor = [], since
    for _ in range(1000):
        query = {"limit": limit, **params}
        if cursor:
            query["since"] = cursor
        response = feed(client, token, **query)
        assert response.status_code == 200, response.content
        body = response.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if not body["has_more"]:
            return items, cursor
    raise AssertionError("feed did not end")


# --- numbers ----------------------------------------------------------------------------------


def test_numbers_are_new_on_insert_and_real_update_only(tree, school_year):
    cls = SchoolClass.objects.create(
        school=tree["a"], school_year=school_year, grade=1, name="1A", province_code="01"
    )
    first = seq(cls)
    assert first > 0
    other = SchoolClass.objects.create(
        school=tree["a"], school_year=school_year, grade=1, name="1B", province_code="01"
    )
    assert seq(other) > first
    # A save that changes nothing keeps the number (the in-memory value may be stale).
    cls.refresh_from_db()
    cls.save()
    assert seq(cls) == first
    cls.two_sessions = True
    cls.save()
    changed = seq(cls)
    assert changed > seq(other)
    # The application cannot set the number: a stale value written back is ignored.
    SchoolClass.objects.filter(pk=cls.pk).update(change_seq=1)
    assert seq(cls) == changed
    SchoolClass.objects.filter(pk=cls.pk).update(change_seq=1, grade=2)
    assert seq(cls) > changed


def test_updated_at_alone_is_not_a_change(pupils):
    person = Person.objects.get(pk=pupils["an"].pk)
    before = seq(person)
    person.save()  # bumps updated_at
    assert seq(person) == before
    Person.objects.filter(pk=person.pk).update(full_name="Nguyễn Văn Ân")
    assert seq(person) > before


def test_bulk_create_and_raw_insert_get_distinct_numbers(tree, school_year):
    SchoolClass.objects.bulk_create(
        [
            SchoolClass(
                school=tree["a"], school_year=school_year, grade=2, name=f"2{c}", province_code="01"
            )
            for c in "ABC"
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO registry_schoolclass (school_id, school_year_id, grade, name, "
            "two_sessions, combined_grades, province_code) "
            "SELECT school_id, school_year_id, 4, 'X' || name, two_sessions, combined_grades, "
            "province_code FROM registry_schoolclass WHERE grade = 2"
        )
    numbers = list(
        SchoolClass.objects.filter(grade__in=[2, 4]).values_list("change_seq", flat=True)
    )
    assert len(numbers) == 6
    assert len(set(numbers)) == 6
    assert min(numbers) > 0


def test_organisations_are_tracked(tree):
    org = tree["a"]
    before = seq(org)
    Organisation.objects.filter(pk=org.pk).update(address="12 Phố Huế")
    assert seq(org) > before


# --- tombstones -------------------------------------------------------------------------------


def test_delete_leaves_a_tombstone_with_the_natural_key(users, tree, school_year):
    teacher = users["teacher"].person
    cls = SchoolClass.objects.get(school=tree["a"], name="3A")
    subject = Subject.objects.get(code="TOAN")
    ta = TeachingAssignment.objects.create(school_class=cls, teacher=teacher, subject=subject)
    number, pk = seq(ta), ta.pk
    ta.delete()
    tomb = Tombstone.objects.get(entity="teaching_assignments", object_id=pk)
    assert tomb.reason == "deleted"
    assert tomb.change_seq > number
    assert tomb.school_id == tree["a"].pk
    assert tomb.natural_key == {
        "school_code": "01000101",
        "school_year": "2025-2026",
        "class_name": "3A",
        "subject_code": "TOAN",
        "teacher_education_id": teacher.education_id,
    }


def test_natural_key_change_leaves_a_tombstone_of_the_old_key(pupils, tree):
    enrolment = Enrolment.objects.get(pupil=pupils["an"])
    Enrolment.objects.filter(pk=enrolment.pk).update(pupil_code="HS001")
    Enrolment.objects.filter(pk=enrolment.pk).update(pupil_code="HS002")
    tombs = list(Tombstone.objects.filter(entity="enrolments", object_id=enrolment.pk))
    assert [t.reason for t in tombs] == ["key_changed", "key_changed"]
    assert tombs[1].natural_key == {
        "school_code": "01000101",
        "school_year": "2025-2026",
        "pupil_code": "HS001",
        "education_id": pupils["an"].education_id,
    }
    # A status change is no key change.
    Enrolment.objects.filter(pk=enrolment.pk).update(status="dropped_out")
    assert Tombstone.objects.filter(entity="enrolments").count() == 2


# --- the feed ---------------------------------------------------------------------------------


def test_feed_pages_resume_and_see_every_change_once(client, tree, pupils, users, tokens):
    items, cursor = walk(client, tokens["ministry"], limit=2)
    numbers = [i["change_number"] for i in items]
    assert numbers == sorted(numbers)
    assert len(numbers) == len(set(numbers))
    entities = {i["entity"] for i in items}
    assert {"schools", "classes", "persons", "enrolments", "staff"} <= entities
    an = next(
        i for i in items if i["entity"] == "persons" and i["data"]["full_name"] == "Nguyễn Văn An"
    )
    assert an["key"] == {"education_id": pupils["an"].education_id}
    assert an["op"] == "upsert"
    assert an["data"]["citizen_id_masked"] == "*********234"
    # Nothing new: an empty page, same position.
    again = feed(client, tokens["ministry"], since=cursor).json()
    assert again["items"] == []
    assert again["has_more"] is False
    # Changes after the stored cursor, and only those.
    enrolment = Enrolment.objects.get(pupil=pupils["an"])
    Enrolment.objects.filter(pk=enrolment.pk).update(status="transferred_out")
    TeachingAssignment.objects.create(
        school_class=enrolment.school_class,
        teacher=users["teacher"].person,
        subject=Subject.objects.get(code="TV"),
    ).delete()
    later, _ = walk(client, tokens["ministry"], since=cursor)
    assert [(i["entity"], i["op"]) for i in later] == [
        ("enrolments", "upsert"),
        ("teaching_assignments", "delete"),
    ]
    assert later[0]["data"]["status"] == "transferred_out"
    assert later[0]["version"] == seq(enrolment)
    assert later[0]["key"] == {
        "school_code": "01000101",
        "school_year": "2025-2026",
        "pupil_code": "",
    }
    assert later[1]["key"]["subject_code"] == "TV"


def test_a_record_changed_again_appears_once_under_its_newest_number(client, pupils, tokens):
    _, cursor = walk(client, tokens["ministry"])
    enrolment = Enrolment.objects.get(pupil=pupils["an"])
    for status in ("dropped_out", "studying", "transferred_out"):
        Enrolment.objects.filter(pk=enrolment.pk).update(status=status)
    later, _ = walk(client, tokens["ministry"], since=cursor, limit=1)
    assert len(later) == 1
    assert later[0]["data"]["status"] == "transferred_out"


def test_feed_is_limited_to_the_callers_scope(client, tree, pupils, users, tokens):
    everything, _ = walk(client, tokens["ministry"], limit=50)
    school_items, _ = walk(client, tokens["school"], limit=50)
    codes = {i["key"].get("school_code") for i in school_items if "school_code" in i["key"]}
    assert codes == {"01000101"}
    persons = {i["key"]["education_id"] for i in school_items if i["entity"] == "persons"}
    assert pupils["an"].education_id in persons
    assert pupils["binh"].education_id not in persons
    assert pupils["cuong"].education_id not in persons
    dept, _ = walk(client, tokens["department"], limit=50)
    dept_codes = {i["key"]["school_code"] for i in dept if "school_code" in i["key"]}
    assert dept_codes == {"SGD01", "01000101", "01000102"}
    assert len(everything) > len(dept) > len(school_items)
    # Tombstones follow the same rule.
    Enrolment.objects.filter(pupil=pupils["cuong"]).update(pupil_code="C1")
    _, start = walk(client, tokens["school"])
    c_items, _ = walk(client, tokens["school_c"], limit=50)
    assert any(i["op"] == "delete" for i in c_items)
    after, _ = walk(client, tokens["school"], since=start)
    assert after == []


def test_sensitive_person_fields_and_health_follow_the_registry_rules(client, tree, pupils, tokens):
    HealthRecord.objects.create(
        person=pupils["an"],
        school=tree["a"],
        measured_on=date(2025, 10, 1),
        height_cm=125,
        weight_kg=25,
        bmi=16,
        province_code="01",
    )
    dept, _ = walk(client, tokens["department"], limit=50)
    school, _ = walk(client, tokens["school"], limit=50)

    def person(items):
        return next(
            i["data"]
            for i in items
            if i["entity"] == "persons" and i["key"]["education_id"] == pupils["an"].education_id
        )

    def health(items):
        return next(i for i in items if i["entity"] == "health_records")

    assert person(dept)["ethnicity_code"] is None
    assert person(school)["ethnicity_code"] == "01"
    assert health(dept)["data"] is None
    assert health(dept)["key"]["measured_on"] == "2025-10-01"
    assert health(school)["data"]["height_cm"] == 125.0
    # The school's own software (a system account scoped to the school) reads them too.
    system, _ = walk(client, tokens["system"], limit=50)
    assert person(system)["ethnicity_code"] == "01"
    assert health(system)["data"]["height_cm"] == 125.0


def test_a_former_pupils_sensitive_fields_stay_with_the_new_school(client, tree, pupils, tokens):
    """After the pupil leaves, the old school still sees the change, but not their ethnicity
    or health: sensitive data follows the pupil (as on the pupil page)."""
    from vnemis.registry.models import Enrolment

    HealthRecord.objects.create(
        person=pupils["an"], school=tree["a"], measured_on=date(2025, 10, 1), height_cm=125,
        weight_kg=25, bmi=16, province_code="01",
    )  # fmt: skip
    Enrolment.objects.filter(pupil=pupils["an"]).update(status="transferred_out")
    items, _ = walk(client, tokens["school"], limit=50)
    an = [i for i in items if i["entity"] == "persons"
          and i["key"]["education_id"] == pupils["an"].education_id]  # fmt: skip
    assert an and an[-1]["data"]["full_name"] == "Nguyễn Văn An"
    assert an[-1]["data"]["ethnicity_code"] is None
    assert next(i for i in items if i["entity"] == "health_records")["data"] is None


def test_each_page_is_audited_with_counts_only(client, pupils, users, tokens):
    before = AuditEntry.objects.count()
    body = feed(client, tokens["school"], limit=4).json()
    entries = list(AuditEntry.objects.order_by("id")[before:])
    assert len(entries) == 1
    entry = entries[0]
    assert entry.object_type == "change_feed"
    assert entry.actor_id == users["school"].pk
    assert sum(entry.detail["counts"].values()) == len(body["items"])
    text = str(entry.detail) + entry.object_id
    assert pupils["an"].education_id not in text


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"since": "garbage"}, 422, "invalid_cursor"),
        ({"since": "WzVd.forged"}, 422, "invalid_cursor"),
        ({"entities": "pupils,secrets"}, 422, "unknown_filter_value"),
        ({"entities": ","}, 422, "unknown_filter_value"),
        ({"limit": 0}, 422, None),
        ({"limit": 100000}, 422, None),
        ({"limit": "many"}, 422, None),
    ],
)
def test_malformed_input_gets_a_clear_error(client, pupils, tokens, params, status, code):
    response = feed(client, tokens["ministry"], **params)
    assert response.status_code == status
    body = response.json()
    assert body["message_vi"] and body["message_en"]
    if code:
        assert body["code"] == code
    if code == "invalid_cursor":  # names the parameter the client sent it in
        assert "'since'" in body["message_vi"] and body["errors"][0]["field"] == "since"


def test_since_now_starts_after_the_latest_change(client, pupils, tokens, tree, school_year):
    body = feed(client, tokens["ministry"], since="now").json()
    assert body["items"] == [] and body["has_more"] is False
    SchoolClass.objects.create(
        school=tree["a"], school_year=school_year, grade=5, name="5Z", province_code="01"
    )
    items, _ = walk(client, tokens["ministry"], since=body["next_cursor"])
    assert [i["key"]["class_name"] for i in items if i["entity"] == "classes"] == ["5Z"]
    assert {i["entity"] for i in items} == {"classes"}


def test_cursor_of_another_list_is_refused(client, pupils, tokens):
    from vnemis.core.pagination import encode_cursor

    foreign = encode_cursor([5], namespace="persons")
    assert feed(client, tokens["ministry"], since=foreign).status_code == 422


def test_who_may_not_follow_the_feed(client, pupils, tokens):
    assert client.get(API).status_code == 401
    assert feed(client, tokens["teacher"]).status_code == 403
    assert feed(client, tokens["citizen"]).status_code == 403


def test_entities_filter(client, pupils, tokens):
    items, _ = walk(client, tokens["ministry"], entities="enrolments,persons", limit=50)
    assert {i["entity"] for i in items} == {"enrolments", "persons"}


# --- commit order under concurrency (PostgreSQL) ----------------------------------------------


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL"),
    reason="PostgreSQL only: SQLite has one writer, so commit order is number order",
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_writers_never_make_the_reader_skip_a_change(
    audit_log_flushable, client, tree, school_year
):
    """Writers hold their transactions open after drawing numbers while a reader follows the
    feed; without the commit-order lock the reader would pass a number that commits later."""
    from vnemis.orgs.models import User

    reader = User.objects.create_user("feed", password="pw", role="ministry", scope=tree["moet"])
    token = api_token_create(user=reader, name="feed")[1]
    _, cursor = walk(client, token, limit=100)
    errors = []

    def writer(n: int):
        from django.db import connections

        try:
            for k in range(6):
                with transaction.atomic():
                    SchoolClass.objects.create(
                        school=tree["a"],
                        school_year=school_year,
                        grade=1,
                        name=f"W{n}-{k}",
                        province_code="01",
                    )
                    time.sleep(0.03 * ((n + k) % 3))
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    seen = []
    while any(t.is_alive() for t in threads):
        items, cursor = walk(client, token, since=cursor, limit=2)
        seen += items
        time.sleep(0.01)
    for t in threads:
        t.join()
    items, cursor = walk(client, token, since=cursor, limit=2)
    seen += items
    assert not errors
    names = sorted(i["key"]["class_name"] for i in seen if i["entity"] == "classes")
    assert names == sorted(f"W{n}-{k}" for n in range(3) for k in range(6))
    numbers = [i["change_number"] for i in seen]
    assert numbers == sorted(numbers)


def test_bulk_loader_may_reserve_numbers_on_sqlite(tree, school_year):
    from vnemis.core.change_numbers import change_seq_reserve

    if connection.vendor == "postgresql":
        assert change_seq_reserve(count=3) is None
        return
    with transaction.atomic():
        base = change_seq_reserve(count=2)
        with connection.cursor() as cursor:
            for i, name in enumerate(("9X", "9Y"), start=1):
                cursor.execute(
                    "INSERT INTO registry_schoolclass (school_id, school_year_id, grade, name, "
                    "two_sessions, combined_grades, province_code, change_seq) "
                    "VALUES (%s, %s, 9, %s, 0, 0, '01', %s)",
                    [tree["b"].pk, school_year.pk, name, base + i],
                )
    numbers = sorted(SchoolClass.objects.filter(grade=9).values_list("change_seq", flat=True))
    assert numbers == [base + 1, base + 2]
    later = SchoolClass.objects.create(
        school=tree["b"], school_year=school_year, grade=8, name="8A", province_code="01"
    )
    assert seq(later) > base + 2
