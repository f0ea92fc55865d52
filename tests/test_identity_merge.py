"""Duplicate merge and undo, and the trigger that sends changed persons back to unverified."""

from datetime import date

import pytest
from conftest import make_pupil
from django.core.exceptions import PermissionDenied

from vnemis.core.models import AuditEntry
from vnemis.identity.merge import MergeRefused, merge_undo, persons_merge
from vnemis.identity.models import (
    EducationIdAlias,
    ReviewItem,
    Verification,
    VerificationEvent,
)
from vnemis.identity.verification import candidate_of, outcomes_save
from vnemis.registry import actions as registry_actions
from vnemis.registry.models import Enrolment, HealthRecord, Person


@pytest.fixture
def twin_records(pupils, binh_again):
    """Bình re-registered in another class of school B: two active records of one pupil."""
    binh, copy = pupils["binh"], binh_again
    HealthRecord.objects.create(
        person=copy,
        measured_on=date(2025, 10, 1),
        height_cm=150,
        weight_kg=40,
        bmi=17.8,
        province_code="01",
    )
    return binh, copy


def _verified(person):
    outcomes_save([candidate_of(person, "verified")], method="id_check", run_id=None)


def test_merge_keeps_both_histories_under_one_education_id(users, twin_records):
    binh, copy = twin_records
    copy_id, copy_eid = copy.pk, copy.education_id
    _verified(copy)
    merge = persons_merge(actor=users["department"], survivor=binh, duplicate=copy)

    assert not Person.objects.filter(pk=copy_id).exists()
    enrolments = list(Enrolment.objects.filter(pupil=binh).order_by("started_on", "id"))
    assert len(enrolments) == 2
    # One active enrolment a year: the other is closed as the unclosed transfer it was.
    assert sorted(e.status for e in enrolments) == ["studying", "transferred_out"]
    assert HealthRecord.objects.filter(person=binh).count() == 1
    assert EducationIdAlias.objects.get(education_id=copy_eid).person == binh
    assert VerificationEvent.objects.filter(person=binh).exists()  # the copy's history moved
    entry = AuditEntry.objects.filter(object_type="person_merge").last()
    assert entry.detail["merged"] == copy_id and entry.actor == users["department"]
    assert merge.snapshot["person"]["education_id"] == copy_eid


def test_undo_puts_everything_back(users, twin_records):
    binh, copy = twin_records
    before = {
        e.pk: (e.pupil_id, e.status, e.ended_on)
        for e in Enrolment.objects.filter(pupil__in=[binh, copy])
    }
    copy_fields = Person.objects.filter(pk=copy.pk).values(
        "education_id", "full_name", "birth_date", "sex", "citizen_id_index", "province_code"
    )[0]
    _verified(copy)
    merge = persons_merge(actor=users["department"], survivor=binh, duplicate=copy)
    restored = merge_undo(actor=users["department"], merge=merge)

    assert restored.pk == copy.pk
    assert Person.objects.filter(pk=copy.pk).values(*copy_fields.keys())[0] == copy_fields
    after = {
        e.pk: (e.pupil_id, e.status, e.ended_on)
        for e in Enrolment.objects.filter(pupil__in=[binh, restored])
    }
    assert after == before
    assert HealthRecord.objects.filter(person=restored).count() == 1
    assert Verification.objects.get(person=restored).status == "verified"
    assert not EducationIdAlias.objects.exists()
    merge.refresh_from_db()
    assert merge.undone_at is not None
    with pytest.raises(MergeRefused):
        merge_undo(actor=users["department"], merge=merge)


def test_merge_from_a_review_item_marks_it_merged(users, twin_records):
    binh, copy = twin_records
    item = ReviewItem.objects.create(
        kind="duplicate",
        person=copy,
        other_person=binh,
        match_probability=0.97,
        match_weight=9.1,
        model_version="dedupe-v1",
        province_code="01",
    )
    persons_merge(actor=users["department"], survivor=binh, duplicate=copy, review=item)
    item.refresh_from_db()
    assert (
        item.status == "merged" and item.person == binh and item.decided_by == users["department"]
    )


def test_merge_refused_to_schools_and_other_provinces(users, twin_records, pupils):
    binh, copy = twin_records
    with pytest.raises(PermissionDenied):
        persons_merge(actor=users["school"], survivor=binh, duplicate=copy)
    with pytest.raises(PermissionDenied):
        persons_merge(actor=users["department_dn"], survivor=binh, duplicate=copy)
    with pytest.raises(MergeRefused):
        persons_merge(actor=users["department"], survivor=binh, duplicate=binh)
    assert Person.objects.filter(pk=copy.pk).exists()


def test_undo_refused_when_moved_rows_changed_hands(users, twin_records, tree, school_year):
    binh, copy = twin_records
    merge = persons_merge(actor=users["department"], survivor=binh, duplicate=copy)
    moved = merge.snapshot["moved"]["enrolments"][0]
    other = make_pupil(
        school=tree["b"],
        school_year=school_year,
        grade=7,
        class_name="7D",
        full_name="Đỗ Văn Khác",
        birth_date=date(2013, 1, 1),
    )
    Enrolment.objects.filter(pk=moved).update(pupil=other, status="completed")
    with pytest.raises(MergeRefused):
        merge_undo(actor=users["department"], merge=merge)


def test_changing_identifying_fields_sends_a_verified_person_back(users, pupils):
    an = pupils["an"]
    _verified(an)
    registry_actions.person_update(actor=users["school"], person=an, birth_place="Hà Nội")
    assert Verification.objects.get(person=an).status == "verified"  # not an identifying field

    registry_actions.person_update(actor=users["school"], person=an, full_name="Nguyễn Văn Ân")
    check = Verification.objects.get(person=an)
    assert check.status == "unverified" and check.method == "changed"
    history = list(VerificationEvent.objects.filter(person=an).values_list("status", "method"))
    assert history == [("verified", "id_check"), ("unverified", "changed")]


def test_changed_through_a_bulk_update_also_counts(pupils):
    an = pupils["an"]
    _verified(an)
    Person.objects.filter(pk=an.pk).update(birth_date=date(2017, 4, 14))
    assert Verification.objects.get(person=an).status == "unverified"
