"""A school's year data under a period submission refuses registry writes, and frees them again."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError

from vnemis.exchange.models import ReportingPeriod, Submission
from vnemis.registry import actions
from vnemis.registry.models import Enrolment


@pytest.fixture
def submission(tree, school_year):
    period = ReportingPeriod.objects.create(
        school_year=school_year,
        kind="start_of_year",
        as_of=date(2025, 9, 30),
        opens_on=date(2025, 9, 5),
        due_on=date(2025, 10, 30),
    )
    return Submission.objects.create(school=tree["a"], period=period, status="submitted")


@pytest.mark.django_db
def test_locked_year_refuses_writes_and_changes_nothing(users, pupils, submission):
    enrolment = Enrolment.objects.get(pupil=pupils["an"])
    with pytest.raises(ValidationError) as info:
        actions.enrolment_change_status(
            actor=users["school"], enrolment=enrolment, status="dropped_out",
            effective_on=date(2025, 11, 1),
        )  # fmt: skip
    assert info.value.code == "period_locked"
    with pytest.raises(ValidationError):
        actions.person_update(actor=users["school"], person=pupils["an"], birth_place="Hà Nội")
    enrolment.refresh_from_db()
    pupils["an"].refresh_from_db()
    assert enrolment.status == "studying" and pupils["an"].birth_place == ""
    # Another school's pupils are not affected by school A's lock.
    other = Enrolment.objects.get(pupil=pupils["cuong"])
    actions.enrolment_change_status(
        actor=None, enrolment=other, status="dropped_out", effective_on=date(2025, 11, 1)
    )


@pytest.mark.django_db
def test_returned_submission_frees_the_year(users, pupils, submission):
    Submission.objects.filter(pk=submission.pk).update(status="returned")
    updated = actions.person_update(
        actor=users["school"], person=pupils["an"], birth_place="Hà Nội"
    )
    assert updated.birth_place == "Hà Nội"
