"""The sync API POST /api/v1/sync/{entity}: batch upserts through the file pipeline, idempotency
keys, optimistic versions (409, nothing applied), removals as status changes, scope, bad input.
"""

import json
import os
import threading
import uuid
from datetime import date

import pytest

from vnemis.orgs.tokens import api_token_create
from vnemis.registry.models import (
    Enrolment,
    EnrolmentStatusChange,
    Person,
    SchoolClass,
    StaffAssignment,
    Subject,
    TeachingAssignment,
    Tombstone,
)

API = "/api/v1/sync"


@pytest.fixture
def tokens(users):
    return {
        role: api_token_create(user=user, name=f"test {role}")[1] for role, user in users.items()
    }


def post(client, path, body, token, key=None, **params):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    if key is not False:
        headers["HTTP_IDEMPOTENCY_KEY"] = key or uuid.uuid4().hex
    query = "&".join(f"{k}={v}" for k, v in params.items())
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.post(
        API + path + (f"?{query}" if query else ""),
        data=data,
        content_type="application/json",
        **headers,
    )


def klass(name, grade=4, school="01000101", **extra):
    return {
        "school_code": school,
        "school_year": "2025-2026",
        "class_name": name,
        "grade": grade,
        "two_sessions": False,
        "combined_grades": False,
        **extra,
    }


def seq_of_class(name, school="01000101"):
    return SchoolClass.objects.get(school__code=school, name=name).change_seq


# --- upserts ----------------------------------------------------------------------------------


def test_batch_inserts_then_updates_then_changes_nothing(client, pupils, users, tokens):
    response = post(client, "/classes", {"records": [klass("4A"), klass("4B")]}, tokens["school"])
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["applied"] is True
    assert [r["status"] for r in body["results"]] == ["inserted", "inserted"]
    assert body["results"][0]["version"] == seq_of_class("4A")
    assert body["totals"]["inserted"] == 2
    again = post(client, "/classes", {"records": [klass("4A"), klass("4B", two_sessions=True)]},
                 tokens["school"]).json()  # fmt: skip
    assert [r["status"] for r in again["results"]] == ["unchanged", "updated"]
    assert again["results"][1]["version"] > body["results"][1]["version"]
    assert SchoolClass.objects.get(school__code="01000101", name="4B").two_sessions is True


def test_retry_with_the_same_key_replays_without_applying_again(client, pupils, tokens):
    batch = {"records": [klass("4C")]}
    first = post(client, "/classes", batch, tokens["school"], key="retry-key-0001")
    assert first.status_code == 200
    number = seq_of_class("4C")
    # Someone else changes the class; the retry must not write the old values back.
    SchoolClass.objects.filter(name="4C").update(two_sessions=True)
    changed = seq_of_class("4C")
    assert changed > number
    retry = post(client, "/classes", batch, tokens["school"], key="retry-key-0001")
    assert retry.status_code == 200
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    assert seq_of_class("4C") == changed
    assert SchoolClass.objects.get(name="4C").two_sessions is True


def test_same_key_with_another_body_is_refused(client, pupils, tokens):
    assert post(client, "/classes", {"records": [klass("4D")]}, tokens["school"],
                key="reuse-key-0001").status_code == 200  # fmt: skip
    response = post(client, "/classes", {"records": [klass("4E")]}, tokens["school"],
                    key="reuse-key-0001")  # fmt: skip
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert not SchoolClass.objects.filter(name="4E").exists()


def test_stale_version_refuses_the_whole_batch(client, pupils, tokens):
    post(client, "/classes", {"records": [klass("4F"), klass("4G")]}, tokens["school"])
    seen_f, seen_g = seq_of_class("4F"), seq_of_class("4G")
    SchoolClass.objects.filter(name="4G").update(combined_grades=True)  # someone else's write
    batch = {
        "records": [
            klass("4F", two_sessions=True, version=seen_f),
            klass("4G", two_sessions=True, version=seen_g),
            klass("4H", version=0),
        ]
    }
    response = post(client, "/classes", batch, tokens["school"])
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "stale_version"
    assert body["message_vi"] and body["message_en"]
    stale = body["errors"]  # structured: index, key, version sent, current version
    assert [s["key"]["class_name"] for s in stale] == ["4G"]
    assert stale[0]["current_version"] == seq_of_class("4G")
    assert stale[0]["index"] == 2 and stale[0]["version"] == seen_g
    assert "version" in stale[0]["message"]
    # Nothing of the batch was applied.
    assert SchoolClass.objects.get(name="4F").two_sessions is False
    assert seq_of_class("4F") == seen_f
    assert not SchoolClass.objects.filter(name="4H").exists()
    # With the current versions it goes through; version 0 on an existing record is stale.
    batch["records"][1]["version"] = seq_of_class("4G")
    assert post(client, "/classes", batch, tokens["school"]).status_code == 200
    again = post(client, "/classes", {"records": [klass("4H", version=0)]}, tokens["school"])
    assert again.status_code == 409


def test_invalid_record_rejects_the_batch_unless_apply_valid(client, pupils, tokens):
    batch = {"records": [klass("4K"), klass("4L", grade=11)]}  # grade 11 at a primary school
    response = post(client, "/classes", batch, tokens["school"])
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["code"] == "batch_rejected"
    assert [r["status"] for r in body["results"]] == ["not_applied", "rejected"]
    error = body["results"][1]["errors"][0]
    assert error["code"] and error["message_vi"] and error["message_en"]
    assert not SchoolClass.objects.filter(name__in=["4K", "4L"]).exists()
    partial = post(client, "/classes", batch, tokens["school"], mode="apply_valid")
    assert partial.status_code == 200
    assert [r["status"] for r in partial.json()["results"]] == ["inserted", "rejected"]
    assert SchoolClass.objects.filter(name="4K").exists()


def test_school_token_writes_only_its_own_school(client, pupils, tokens):
    batch = {"records": [klass("3Z", grade=3, school="48000101")]}
    response = post(client, "/classes", batch, tokens["school"], mode="apply_valid")
    assert response.status_code == 200, response.content
    result = response.json()["results"][0]
    assert result["status"] == "rejected"
    assert result["errors"][0]["code"] == "wrong_school"  # not the token's school
    assert not SchoolClass.objects.filter(name="3Z").exists()
    # A Department writes the schools of its province only.
    response = post(client, "/classes", batch, tokens["department"], mode="apply_valid")
    assert response.json()["results"][0]["errors"][0]["code"] == "out_of_scope"
    assert not SchoolClass.objects.filter(name="3Z").exists()
    assert post(client, "/classes", batch, tokens["department_dn"]).status_code == 200
    assert SchoolClass.objects.filter(name="3Z", school__code="48000101").exists()
    # Schools: only Departments and the Ministry.
    schools = {"records": [{"school_code": "01000101", "name": "X"}]}
    assert post(client, "/schools", schools, tokens["school"]).status_code == 403
    assert post(client, "/classes", batch, tokens["teacher"]).status_code == 403


def test_enrolments_sync_through_the_pipeline(client, pupils, tokens):
    Enrolment.objects.filter(pupil=pupils["an"]).update(pupil_code="HS-AN")
    record = {
        "school_code": "01000101",
        "school_year": "2025-2026",
        "pupil_code": "HS-AN",
        "class_name": "3A",
        "status": "studying",
        "started_on": "2025-09-05",
    }
    response = post(client, "/enrolments", {"records": [record]}, tokens["school"])
    assert response.status_code == 200, response.content
    result = response.json()["results"][0]
    assert result["status"] == "unchanged"
    assert result["version"] == Enrolment.objects.get(pupil=pupils["an"]).change_seq


NEW_PUPIL = {
    "school_code": "01000101",
    "pupil_code": "HS-NEW",
    "full_name": "Đỗ Văn Mới",
    "birth_date": "05/05/2017",
    "sex": "M",
    "ethnicity_code": "01",
    "nationality": "VN",
}


def test_new_pupils_arrive_with_their_class_through_roster(client, pupils, tokens):
    persons = Person.objects.count()
    roster = {**NEW_PUPIL, "school_year": "2025-2026", "class_name": "3A",
              "status": "studying", "started_on": "2025-09-05"}  # fmt: skip
    first = post(client, "/roster", {"records": [roster]}, tokens["school"])
    assert first.status_code == 200, first.content
    result = first.json()["results"][0]
    assert result["status"] == "inserted"
    enrolment = Enrolment.objects.get(pupil_code="HS-NEW")
    assert result["version"] == max(enrolment.change_seq, enrolment.pupil.change_seq)
    assert Person.objects.count() == persons + 1
    # The same row again (another key): nothing changes, no second person.
    again = post(client, "/roster", {"records": [roster]}, tokens["school"]).json()
    assert again["results"][0]["status"] == "unchanged"
    assert Person.objects.count() == persons + 1
    # Now known at the school: the pupils entity updates the person, versioned.
    # (A pupil's version is the person's number; a roster row's is the newer of the two.)
    person_version = enrolment.pupil.change_seq
    renamed = {**NEW_PUPIL, "full_name": "Đỗ Văn Mới Đổi", "version": person_version}
    update = post(client, "/pupils", {"records": [renamed]}, tokens["school"])
    assert update.status_code == 200, update.content
    assert update.json()["results"][0]["status"] == "updated"
    assert Person.objects.get(pk=enrolment.pupil_id).full_name == "Đỗ Văn Mới Đổi"
    assert Person.objects.count() == persons + 1


def test_unknown_pupil_without_education_id_is_refused_not_duplicated(client, pupils, tokens):
    persons = Person.objects.count()
    response = post(client, "/pupils", {"records": [NEW_PUPIL]}, tokens["school"])
    assert response.status_code == 422
    error = response.json()["results"][0]["errors"][0]
    assert error["code"] == "pupil_needs_enrolment"
    assert "roster" in error["message_en"]
    # apply_valid: the known pupil is written, the unknown one refused; nothing is duplicated.
    Enrolment.objects.filter(pupil=pupils["an"]).update(pupil_code="HS-AN")
    known = {**NEW_PUPIL, "pupil_code": "HS-AN", "full_name": "Nguyễn Văn An",
             "birth_date": "2017-03-14", "education_id": pupils["an"].education_id}  # fmt: skip
    for _ in range(2):
        mixed = post(client, "/pupils", {"records": [known, NEW_PUPIL]}, tokens["school"],
                     mode="apply_valid")  # fmt: skip
        assert mixed.status_code == 200, mixed.content
        assert [r["status"] for r in mixed.json()["results"]][1] == "rejected"
    assert Person.objects.count() == persons


# --- removals ---------------------------------------------------------------------------------


def test_enrolment_removal_is_a_status_change_with_history(client, pupils, tokens):
    enrolment = Enrolment.objects.get(pupil=pupils["an"])
    Enrolment.objects.filter(pk=enrolment.pk).update(pupil_code="HS-AN")
    record = {
        "school_code": "01000101",
        "school_year": "2025-2026",
        "pupil_code": "HS-AN",
        "status": "transferred_out",
        "date": "15/01/2026",
    }
    response = post(client, "/enrolments/remove", {"records": [record]}, tokens["school"])
    assert response.status_code == 200, response.content
    result = response.json()["results"][0]
    assert result["status"] == "updated"
    enrolment.refresh_from_db()
    assert (enrolment.status, enrolment.ended_on) == ("transferred_out", date(2026, 1, 15))
    assert result["version"] == enrolment.change_seq
    assert Person.objects.filter(pk=pupils["an"].pk).exists()
    history = EnrolmentStatusChange.objects.get(enrolment=enrolment, status="transferred_out")
    assert history.effective_on == date(2026, 1, 15)
    assert not Tombstone.objects.filter(entity="enrolments", reason="deleted").exists()
    again = post(client, "/enrolments/remove", {"records": [record]}, tokens["school"])
    assert again.json()["results"][0]["status"] == "unchanged"


def test_removal_errors_and_scope(client, pupils, tokens):
    Enrolment.objects.filter(pupil=pupils["cuong"]).update(pupil_code="HS-C")
    records = [
        {"school_code": "48000101", "school_year": "2025-2026", "pupil_code": "HS-C",
         "status": "dropped_out", "date": "2026-01-15"},
        {"school_code": "01000101", "school_year": "2025-2026", "pupil_code": "NOPE",
         "status": "dropped_out", "date": "2026-01-15"},
        {"school_code": "01000101", "school_year": "2025-2026", "pupil_code": "NOPE",
         "status": "deleted", "date": "someday"},
    ]  # fmt: skip
    response = post(client, "/enrolments/remove", {"records": records}, tokens["school"])
    assert response.status_code == 422
    codes = [[e["code"] for e in r["errors"]] for r in response.json()["results"]]
    assert codes == [
        ["out_of_scope"],
        ["unknown_enrolment"],
        ["unknown_enrolment", "bad_status", "bad_date"],
    ]
    assert Enrolment.objects.get(pupil=pupils["cuong"]).status == "studying"


def test_staff_removal_ends_the_post(client, users, tokens):
    post_ = StaffAssignment.objects.get(person=users["teacher"].person)
    StaffAssignment.objects.filter(pk=post_.pk).update(staff_code="GV01")
    record = {"school_code": "01000101", "staff_code": "GV01", "date": "2026-06-30"}
    response = post(client, "/staff/remove", {"records": [record]}, tokens["school"])
    assert response.status_code == 200, response.content
    post_.refresh_from_db()
    assert post_.ends_on == date(2026, 6, 30)
    assert StaffAssignment.objects.filter(pk=post_.pk).exists()


def test_teaching_assignment_removal_leaves_a_tombstone(client, users, tokens):
    cls = SchoolClass.objects.get(school__code="01000101", name="3A")
    ta = TeachingAssignment.objects.create(
        school_class=cls, teacher=users["teacher"].person, subject=Subject.objects.get(code="TOAN")
    )
    record = {
        "school_code": "01000101",
        "school_year": "2025-2026",
        "class_name": "3A",
        "subject_code": "TOAN",
        "version": ta.change_seq or TeachingAssignment.objects.get(pk=ta.pk).change_seq,
    }
    response = post(client, "/teaching_assignments/remove", {"records": [record]},
                    tokens["school"])  # fmt: skip
    assert response.status_code == 200, response.content
    assert response.json()["results"][0]["status"] == "deleted"
    assert not TeachingAssignment.objects.filter(pk=ta.pk).exists()
    assert Tombstone.objects.filter(entity="teaching_assignments", object_id=ta.pk).exists()


# --- malformed input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/classes", b"{not json", 422, "invalid_body"),
        ("/classes", b"\xff\xfe", 422, "invalid_body"),
        ("/classes", [], 422, "invalid_body"),
        ("/classes", {"rows": []}, 422, "invalid_body"),
        ("/classes", {"records": []}, 422, "invalid_body"),
        ("/classes", {"records": ["x"]}, 422, "invalid_body"),
        ("/classes", {"records": [{"class_name": {"a": 1}}]}, 422, "invalid_body"),
        ("/classes", {"records": [{"class_name": "1A", "version": "7"}]}, 422, "invalid_body"),
        ("/classes", {"records": [{"class_name": "1A", "version": -1}]}, 422, "invalid_body"),
        ("/classes", {"records": [{}] * 1001}, 413, "too_many_records"),
        ("/secrets", {"records": [{}]}, 404, "unknown_entity"),
        ("/pupils/remove", {"records": [{}]}, 404, "unknown_entity"),
    ],
)
def test_malformed_requests_get_clear_errors(client, pupils, tokens, path, body, status, code):
    response = post(client, path, body, tokens["school"])
    assert response.status_code == status, response.content
    payload = response.json()
    assert payload["code"] == code
    assert payload["message_vi"] and payload["message_en"]


def test_idempotency_key_is_required_and_checked(client, pupils, tokens):
    batch = {"records": [klass("4M")]}
    missing = post(client, "/classes", batch, tokens["school"], key=False)
    assert missing.status_code == 422
    assert missing.json()["code"] == "idempotency_key_missing"
    bad = post(client, "/classes", batch, tokens["school"], key="no spaces allowed!")
    assert bad.json()["code"] == "idempotency_key_invalid"
    assert not SchoolClass.objects.filter(name="4M").exists()


def test_anonymous_and_bad_mode(client, pupils, tokens):
    anonymous = client.post(API + "/classes", data="{}", content_type="application/json")
    assert anonymous.status_code == 401
    assert post(client, "/classes", {"records": [klass("4N")]}, tokens["school"],
                mode="sometimes").status_code == 422  # fmt: skip


# --- locked periods ---------------------------------------------------------------------------


@pytest.fixture
def locked_year(tree, school_year):
    """School A's 2025-2026 data is submitted to the Department: locked (helper H-G's rules)."""
    from vnemis.exchange.models_submissions import ReportingPeriod, Submission

    period = ReportingPeriod.objects.create(
        school_year=school_year,
        kind=ReportingPeriod.Kind.values[0],
        as_of=date(2025, 9, 30),
        opens_on=date(2025, 9, 1),
        due_on=date(2025, 10, 15),
    )
    return Submission.objects.create(school=tree["a"], period=period, status="submitted")


def test_locked_period_refuses_writes(client, pupils, tokens, locked_year):
    response = post(client, "/classes", {"records": [klass("4P")]}, tokens["school"])
    assert response.status_code == 423, response.content
    body = response.json()
    assert body["code"] == "period_locked"
    assert body["results"][0]["errors"][0]["code"] == "period_locked"
    assert not SchoolClass.objects.filter(name="4P").exists()
    Enrolment.objects.filter(pupil=pupils["an"]).update(pupil_code="HS-AN")
    record = {"school_code": "01000101", "school_year": "2025-2026", "pupil_code": "HS-AN",
              "status": "dropped_out", "date": "2026-01-15"}  # fmt: skip
    removal = post(client, "/enrolments/remove", {"records": [record]}, tokens["school"])
    assert removal.status_code == 423
    assert Enrolment.objects.get(pupil=pupils["an"]).status == "studying"


# --- concurrency (PostgreSQL) -----------------------------------------------------------------


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL"), reason="PostgreSQL only: concurrent writers"
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_writers_with_one_version_and_one_key(audit_log_flushable, pupils, tokens):
    """Two writers sending the same version: one wins, the other gets 409 (the check and the
    write are one locked transaction). Two sends with one key: applied once, replayed once."""
    from django.db import connections
    from django.test import Client

    post(Client(), "/classes", {"records": [klass("4Q")]}, tokens["school"])
    version = seq_of_class("4Q")
    statuses = []

    def send(batch, key=None):
        try:
            statuses.append(post(Client(), "/classes", batch, tokens["school"], key=key))
        finally:
            connections.close_all()

    def race(batches, key=None):
        threads = [threading.Thread(target=send, args=(b, key)) for b in batches]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    race([{"records": [klass("4Q", two_sessions=True, version=version)]},
          {"records": [klass("4Q", combined_grades=True, version=version)]}])  # fmt: skip
    assert sorted(r.status_code for r in statuses) == [200, 409]
    cls = SchoolClass.objects.get(name="4Q")
    assert cls.two_sessions != cls.combined_grades  # exactly one of the two writes
    statuses.clear()
    before = seq_of_class("4Q")
    batch = {"records": [klass("4Q", grade=5)]}
    race([batch, batch], key="same-key-race-01")
    assert [r.status_code for r in statuses] == [200, 200]
    assert sorted(r.get("Idempotent-Replayed", "") for r in statuses) == ["", "true"]
    assert statuses[0].json() == statuses[1].json()
    after = seq_of_class("4Q")
    assert after > before
    assert SchoolClass.objects.get(name="4Q").grade == 5


def test_department_syncs_its_schools(client, tree, tokens):
    record = {
        "school_code": "01000102",
        "name": "Trường THCS Sóc Sơn",
        "kind": "school",
        "level": "lower_secondary",
        "ownership": "public",
        "parent_code": "SGD01",
        "province_code": "01",
        "commune_code": "09619",
        "address": "Số 1 đường Núi Đôi",
        "status": "open",
        "opened_on": "1990-09-01",
    }
    before = tree["b"].__class__.objects.get(pk=tree["b"].pk).change_seq
    response = post(client, "/schools", {"records": [{**record, "version": before}]},
                    tokens["department"])  # fmt: skip
    assert response.status_code == 200, response.content
    result = response.json()["results"][0]
    assert result["status"] == "updated"
    assert result["version"] > before
    other = {**record, "school_code": "48000101", "parent_code": "SGD48", "province_code": "48"}
    refused = post(client, "/schools", {"records": [other]}, tokens["department"])
    assert refused.status_code == 422
    assert refused.json()["results"][0]["errors"][0]["code"] == "out_of_scope"
