"""The fixed top of the organisation tree: the Ministry and one Department per province.

Run after ``vnemis geo load`` (``vnemis orgs seed``). Idempotent: missing organisations are
created, drifted ones corrected, and a run that finds everything in place writes nothing.
"""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from vnemis.core.audit import audit_record_many
from vnemis.core.text import clean_text, search_key
from vnemis.geo.models import Province

from .actions import closure_rebuild
from .models import Organisation, OrgClosure

MINISTRY_CODE = "BGDDT"
MINISTRY_NAME = "Bộ Giáo dục và Đào tạo"
DEPARTMENT_PREFIX = "Sở Giáo dục và Đào tạo "
_PROVINCE_PREFIXES = ("Tỉnh ", "Thành phố ")
_SEEDED_FIELDS = ["name", "name_search", "kind", "parent_id", "province_id"]


class SeedError(Exception):
    """The seed cannot run (no provinces loaded yet)."""


@dataclass
class SeedReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    closure_rows: int | None = None  # None when the closure table was left as it was


def department_code(province_code: str) -> str:
    return f"SGD{province_code}"


def department_name(province_name: str) -> str:
    """'Thành phố Hà Nội' → 'Sở Giáo dục và Đào tạo Hà Nội'."""
    name = clean_text(province_name)
    for prefix in _PROVINCE_PREFIXES:
        if name.lower().startswith(prefix.lower()):
            name = name[len(prefix) :]
            break
    return DEPARTMENT_PREFIX + name


def _wanted(code: str, name: str, kind: str, parent_id, province_id) -> dict:
    name = clean_text(name)
    # bulk_create skips Organisation.save(), which is where name_search is normally set.
    return {
        "code": code,
        "name": name,
        "name_search": search_key(name),
        "kind": kind,
        "parent_id": parent_id,
        "province_id": province_id,
    }


def _sync(rows: list[dict], report: SeedReport) -> tuple[list[int], list[int]]:
    existing = {o.code: o for o in Organisation.objects.filter(code__in=[r["code"] for r in rows])}
    to_create, to_update = [], []
    for row in rows:
        org = existing.get(row["code"])
        if org is None:
            to_create.append(Organisation(**row))
        elif any(getattr(org, f) != row[f] for f in _SEEDED_FIELDS):
            for f in _SEEDED_FIELDS:
                setattr(org, f, row[f])
            org.updated_at = timezone.now()  # bulk_update does not apply auto_now
            to_update.append(org)
        else:
            report.unchanged += 1
    created = Organisation.objects.bulk_create(to_create)
    if to_update:
        Organisation.objects.bulk_update(to_update, [*_SEEDED_FIELDS, "updated_at"])
    report.created += len(created)
    report.updated += len(to_update)
    # bulk_create returns primary keys on both PostgreSQL and SQLite ≥ 3.35.
    return [o.pk for o in created], [o.pk for o in to_update]


@transaction.atomic
def orgs_seed(*, actor=None) -> SeedReport:
    """Create or correct the Ministry and the 34 Departments, then rebuild the closure table."""
    provinces = list(Province.objects.order_by("code").values_list("id", "code", "name"))
    if not provinces:
        raise SeedError(
            "Chưa có dữ liệu tỉnh/thành phố: hãy chạy 'vnemis geo load' trước. "
            "/ No provinces loaded: run 'vnemis geo load' first."
        )
    report = SeedReport()
    created, updated = _sync(
        [_wanted(MINISTRY_CODE, MINISTRY_NAME, Organisation.Kind.MINISTRY, None, None)], report
    )
    ministry_id = Organisation.objects.values_list("id", flat=True).get(code=MINISTRY_CODE)
    more_created, more_updated = _sync(
        [
            _wanted(
                department_code(code),
                department_name(name),
                Organisation.Kind.DEPARTMENT,
                ministry_id,
                province_id,
            )
            for province_id, code, name in provinces
        ],
        report,
    )
    created += more_created
    updated += more_updated
    if created:
        audit_record_many(
            actor=actor, action="create", object_type="organisation", object_ids=created
        )
    if updated:
        audit_record_many(
            actor=actor,
            action="update",
            object_type="organisation",
            object_ids=updated,
            detail={"fields": ["name", "kind", "parent", "province"]},
        )
    # A rebuild rewrites the whole closure table, so skip it when nothing moved and every
    # organisation already has its own row (a rerun stays a no-op).
    closure_incomplete = OrgClosure.objects.filter(depth=0).count() != Organisation.objects.count()
    if created or updated or closure_incomplete:
        report.closure_rows = closure_rebuild()
    return report
