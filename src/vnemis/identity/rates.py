"""Verification rates of pupils per school, province and nation, one row per organisation a day.

The national KPI (share of pupils verified against the population registry) is read from these
rows, never computed on request: one set-wise query over this year's active enrolments, rolled
up the organisation tree through the closure table.
"""

from django.db import connection, transaction
from django.utils import timezone

from vnemis.registry.models import ACTIVE_STATUSES, SchoolYear

from .models import VerificationRate, VerificationStatus

STATUS_COLUMNS = {s.value: s.value for s in VerificationStatus}


def rates_refresh(day=None) -> int:
    """Recompute today's rates for every organisation with pupils; returns the rows written."""
    year = SchoolYear.objects.filter(is_current=True).first()
    if year is None:
        return 0
    day = day or timezone.localdate()
    marks = ", ".join(["%s"] * len(ACTIVE_STATUSES))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.ancestor_id, COALESCE(v.status, 'unverified'), COUNT(*) "  # noqa: S608
            "FROM registry_enrolment e "
            "JOIN orgs_orgclosure c ON c.descendant_id = e.school_id "
            "LEFT JOIN identity_verification v ON v.person_id = e.pupil_id "
            f"WHERE e.school_year_id = %s AND e.status IN ({marks}) "
            "GROUP BY c.ancestor_id, COALESCE(v.status, 'unverified')",
            [year.pk, *ACTIVE_STATUSES],
        )
        found = cursor.fetchall()
    rates: dict[int, VerificationRate] = {}
    for org_id, status, count in found:
        rate = rates.setdefault(org_id, VerificationRate(day=day, organisation_id=org_id))
        setattr(rate, STATUS_COLUMNS.get(status, "unverified"), count)
        rate.persons += count
    with transaction.atomic():
        VerificationRate.objects.filter(day=day).delete()
        VerificationRate.objects.bulk_create(rates.values(), batch_size=2_000)
    return len(rates)
