"""Scope enforcement in selectors and actions, the audit chain, PII encryption and log redaction."""

import logging
from datetime import date

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction

from vnemis.core.audit import audit_record, audit_verify
from vnemis.core.crypto import blind_index, decrypt_identifier, encrypt_identifier
from vnemis.core.logging import RedactPersonalIdentifiers
from vnemis.core.models import AuditEntry
from vnemis.registry import actions, selectors
from vnemis.registry.citizen_id import citizen_id_problems
from vnemis.registry.education_id import education_ids_issue, is_valid_education_id
from vnemis.registry.models import Enrolment, Person

# --- scope -------------------------------------------------------------------------------------


def visible_names(user):
    """Names of the pupils a user reaches (the conftest teacher, Phạm Thị Hoa, left out)."""
    names = set(selectors.persons_visible(viewer=user).values_list("full_name", flat=True))
    return names - {"Phạm Thị Hoa"}


def test_each_role_sees_only_its_scope(users, pupils):
    assert {"Nguyễn Văn An", "Trần Thị Bình", "Lê Văn Cường"} <= visible_names(users["ministry"])
    assert visible_names(users["department"]) == {"Nguyễn Văn An", "Trần Thị Bình"}
    assert visible_names(users["department_dn"]) == {"Lê Văn Cường"}
    assert visible_names(users["school"]) == {"Nguyễn Văn An"}
    assert visible_names(users["teacher"]) == {"Nguyễn Văn An"}
    assert visible_names(users["citizen"]) == {"Nguyễn Văn An"}


@pytest.mark.parametrize("role", ["school_c", "department_dn"])
def test_out_of_scope_read_is_refused_and_not_audited_as_read(users, pupils, role):
    before = AuditEntry.objects.filter(action="read").count()
    with pytest.raises(PermissionDenied):
        selectors.person_get(viewer=users[role], person_id=pupils["an"].pk)
    assert AuditEntry.objects.filter(action="read").count() == before


def test_in_scope_read_is_audited_with_who_and_what(users, pupils):
    selectors.person_get(viewer=users["school"], person_id=pupils["an"].pk)
    entry = AuditEntry.objects.filter(action="read", object_type="person").last()
    assert entry.actor == users["school"]
    assert entry.object_id == str(pupils["an"].pk)


def test_out_of_scope_write_is_refused_and_nothing_changes(users, pupils):
    enrolment = Enrolment.objects.get(pupil=pupils["an"])
    with pytest.raises(PermissionDenied):
        actions.enrolment_change_status(
            actor=users["school_c"],
            enrolment=enrolment,
            status="dropped_out",
            effective_on=date(2025, 10, 1),
        )
    with pytest.raises(PermissionDenied):
        actions.enrolment_change_status(
            actor=users["teacher"],
            enrolment=enrolment,
            status="dropped_out",
            effective_on=date(2025, 10, 1),
        )
    enrolment.refresh_from_db()
    assert enrolment.status == "studying"
    assert enrolment.history.count() == 1


def test_health_records_need_a_sensitive_reader_role(users, pupils):
    with pytest.raises(PermissionDenied):
        selectors.health_records_of_person(viewer=users["department"], person=pupils["an"])
    assert (
        list(selectors.health_records_of_person(viewer=users["school"], person=pupils["an"])) == []
    )


def test_transferred_pupil_old_school_sees_only_its_own_history(users, pupils, tree, school_year):
    enrolment = Enrolment.objects.get(pupil=pupils["an"])
    actions.enrolment_change_status(
        actor=users["school"],
        enrolment=enrolment,
        status="transferred_out",
        effective_on=date(2025, 11, 1),
    )
    new_class = actions.school_class_get_or_create(
        school=tree["c"], school_year=school_year, grade=3, name="3B"
    )
    actions.enrolment_create(
        actor=None,
        pupil=pupils["an"],
        school_class=new_class,
        started_on=date(2025, 11, 2),
        status="transferred_in",
    )
    old_view = selectors.enrolments_of_person(viewer=users["school"], person=pupils["an"])
    new_view = selectors.enrolments_of_person(viewer=users["school_c"], person=pupils["an"])
    assert [e.school_id for e in old_view] == [tree["a"].pk]
    assert [e.school_id for e in new_view] == [tree["c"].pk]


def test_search_ignores_diacritics_and_case_and_respects_scope(users, pupils):
    def names(viewer, q):
        return [p.full_name for p in selectors.persons_search(viewer=viewer, q=q).items]

    assert names(users["school"], "nguyen van an") == ["Nguyễn Văn An"]
    assert names(users["school"], "VĂN AN") == ["Nguyễn Văn An"]
    assert names(users["department"], "VĂN AN") == ["Nguyễn Văn An"]
    assert names(users["ministry"], "văn an") == ["Nguyễn Văn An"]
    assert names(users["school_c"], "nguyen van an") == []
    assert names(users["department_dn"], "nguyen van an") == []
    by_id = selectors.persons_search(viewer=users["department"], q=pupils["an"].education_id)
    assert by_id.items == [pupils["an"]]
    assert (
        selectors.persons_search(viewer=users["school_c"], q=pupils["an"].education_id).items == []
    )


# --- invariants in the database -----------------------------------------------------------------


def test_one_active_enrolment_per_pupil_per_year_is_a_database_constraint(
    pupils, tree, school_year
):
    enrolment = Enrolment.objects.get(pupil=pupils["an"])
    with pytest.raises(IntegrityError), transaction.atomic():
        Enrolment.objects.create(
            pupil=pupils["an"],
            school_class=enrolment.school_class,
            school=tree["a"],
            school_year=school_year,
            status="studying",
            started_on=date(2025, 9, 5),
            province_code="01",
        )


def test_enrolment_dates_must_be_in_order(pupils, tree, school_year):
    with pytest.raises(IntegrityError), transaction.atomic():
        Enrolment.objects.filter(pupil=pupils["an"]).update(
            ended_on=date(2020, 1, 1), status="dropped_out"
        )


def test_second_enrolment_in_same_year_is_refused_by_the_action(pupils, tree, school_year):
    cls = actions.school_class_get_or_create(
        school=tree["a"], school_year=school_year, grade=3, name="3B"
    )
    with pytest.raises(ValidationError):
        actions.enrolment_create(
            actor=None, pupil=pupils["an"], school_class=cls, started_on=date(2025, 9, 5)
        )


def test_grade_outside_school_level_is_refused(tree, school_year):
    with pytest.raises(ValidationError):
        actions.school_class_get_or_create(
            school=tree["a"], school_year=school_year, grade=10, name="10A"
        )


# --- citizen ID at rest ----------------------------------------------------------------------------


def test_citizen_id_is_encrypted_at_rest_and_found_by_blind_index(pupils):
    an = Person.objects.get(pk=pupils["an"].pk)
    raw = bytes(an.citizen_id_ciphertext)
    assert b"001217001234" not in raw
    assert decrypt_identifier(raw) == "001217001234"
    assert Person.objects.get(citizen_id_index=blind_index("001217001234")) == an
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM registry_person")
        assert "001217001234" not in repr(cursor.fetchall())


def test_encryption_is_randomised_and_tamper_evident():
    a, b = encrypt_identifier("079203000001"), encrypt_identifier("079203000001")
    assert a != b
    tampered = a[:-1] + bytes([a[-1] ^ 1])
    with pytest.raises(Exception):  # noqa: B017 - cryptography raises InvalidTag
        decrypt_identifier(tampered)


def test_malformed_citizen_id_is_refused(tree):
    from vnemis.registry.models import Ethnicity

    with pytest.raises(ValidationError):
        actions.person_create(
            actor=None,
            full_name="Đỗ Minh",
            birth_date=date(2015, 1, 1),
            sex="M",
            ethnicity=Ethnicity.objects.get(code="01"),
            province_code="01",
            citizen_id="12AB",
        )
    assert not Person.objects.filter(full_name="Đỗ Minh").exists()


@pytest.mark.parametrize(
    ("cccd", "birth", "sex", "problems"),
    [
        ("001217001234", date(2017, 3, 14), "M", []),
        ("001317001234", date(2017, 3, 14), "F", []),
        ("001017001234", date(2017, 3, 14), "M", ["cccd_century_sex"]),
        ("001216001234", date(2017, 3, 14), "M", ["cccd_birth_year"]),
        ("003217001234", date(2017, 3, 14), "M", ["cccd_province"]),
        ("00121700123", date(2017, 3, 14), "M", ["cccd_format"]),
        ("079185000111", date(1985, 1, 1), "F", []),
    ],
)
def test_citizen_id_structure_checks(cccd, birth, sex, problems):
    assert citizen_id_problems(cccd, birth_date=birth, sex=sex) == problems


# --- education ID ----------------------------------------------------------------------------------


def test_education_ids_are_valid_unique_and_never_reissued(db):
    first = education_ids_issue(province_code="01", year=2025, count=100)
    second = education_ids_issue(province_code="01", year=2025, count=100)
    assert len(set(first + second)) == 200
    assert all(is_valid_education_id(x) for x in first + second)
    assert first[0].startswith("0125")
    assert not is_valid_education_id(first[0][:-1] + str((int(first[0][-1]) + 1) % 10))


def test_person_update_bumps_version_refuses_stale_and_audits_field_names(users, pupils):
    an = pupils["an"]
    updated = actions.person_update(
        actor=users["school"], person=an, expected_version=1, full_name="nguyễn văn  ân"
    )
    assert updated.full_name == "Nguyễn Văn Ân" and updated.version == 2
    entry = AuditEntry.objects.filter(object_type="person", action="update").last()
    assert entry.detail == {"fields": ["full_name"]}
    with pytest.raises(ValidationError):
        actions.person_update(actor=users["school"], person=an, expected_version=1, sex="F")
    assert Person.objects.get(pk=an.pk).sex == "M"


# --- audit chain -----------------------------------------------------------------------------------


def test_audit_chain_verifies_and_detects_tampering(users, pupils):
    for i in range(5):
        audit_record(actor=users["school"], action="read", object_type="person", object_id=i)
    assert list(audit_verify()) == []
    call_command("audit", "verify")
    victim = AuditEntry.objects.order_by("id")[3]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # A table owner switching the triggers off, as a tampering DBA would (replica mode
            # no longer does: they fire always).
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE core_auditentry DISABLE TRIGGER audit_no_change")
        else:
            cursor.execute("DROP TRIGGER audit_no_update")
        cursor.execute("UPDATE core_auditentry SET object_id = 'forged' WHERE id = %s", [victim.id])
    problems = list(audit_verify())
    assert [p.entry_id for p in problems] == [victim.id]
    with pytest.raises(CommandError):
        call_command("audit", "verify")


def test_audit_log_refuses_update_and_delete(users, pupils):
    entry = AuditEntry.objects.first()
    with pytest.raises(Exception), transaction.atomic():  # noqa: B017 - driver-specific error class
        AuditEntry.objects.filter(pk=entry.pk).update(actor_label="someone else")
    with pytest.raises(Exception), transaction.atomic():  # noqa: B017
        AuditEntry.objects.filter(pk=entry.pk).delete()
    assert AuditEntry.objects.filter(pk=entry.pk, actor_label=entry.actor_label).exists()


# --- logs ------------------------------------------------------------------------------------------


def test_log_filter_redacts_personal_identifiers():
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "lookup %s for %s", ("001217001234", "school"), None
    )
    RedactPersonalIdentifiers().filter(record)
    assert "001217001234" not in record.getMessage()
    assert "school" in record.getMessage()


def test_school_year_is_created_with_terms_and_bad_codes_are_refused(db):
    year = actions.school_year_get_or_create(code="2026-2027")
    assert year.starts_on == date(2026, 9, 5) and year.terms.count() == 2
    assert actions.school_year_get_or_create(code="2026-2027") == year
    for bad in ["2026", "2026-2028", "abcd-efgh"]:
        with pytest.raises(ValidationError):
            actions.school_year_get_or_create(code=bad)


def test_anchor_detects_a_cut_off_tail(users, pupils, tmp_path):
    for i in range(3):
        audit_record(actor=users["school"], action="read", object_type="person", object_id=i)
    anchor = tmp_path / "anchor.json"
    call_command("audit", "anchor", "--out", str(anchor))
    call_command("audit", "verify", "--anchor", str(anchor))
    head = AuditEntry.objects.order_by("-id").first()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE core_auditentry DISABLE TRIGGER audit_no_change")
        else:
            cursor.execute("DROP TRIGGER audit_no_delete")
        cursor.execute("DELETE FROM core_auditentry WHERE id = %s", [head.id])
    assert list(audit_verify()) == []  # the chain alone cannot see it
    with pytest.raises(CommandError):
        call_command("audit", "verify", "--anchor", str(anchor))


def test_edited_anchor_is_rejected(users, pupils, tmp_path):
    import json

    anchor = tmp_path / "anchor.json"
    call_command("audit", "anchor", "--out", str(anchor))
    record = json.loads(anchor.read_text())
    record["entry_id"] = 1
    anchor.write_text(json.dumps(record))
    with pytest.raises(CommandError):
        call_command("audit", "verify", "--anchor", str(anchor))


def test_class_roster_read_names_every_pupil_in_the_audit_log(users, pupils):
    cls = Enrolment.objects.get(pupil=pupils["an"]).school_class
    selectors.class_roster(viewer=users["school"], school_class=cls)
    entry = AuditEntry.objects.filter(object_type="class_roster").last()
    assert entry.detail["ids"] == [pupils["an"].pk]
