"""Merging two records of one person, and undoing it.

A merge keeps the survivor's record and education ID; every row of the duplicate (enrolments,
posts, teaching, health, accounts, verification history) moves to the survivor, so both
histories sit under one person. Where two active enrolments of one year would then collide,
the one not kept is closed as transferred out, as the unclosed transfer should have been. The
duplicate's row is removed (the change feed carries its tombstone) and its education ID becomes
an alias of the survivor's. ``Merge.snapshot`` holds everything needed to put it all back.
"""

import base64

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from vnemis.core.audit import audit_record
from vnemis.orgs.models import User
from vnemis.registry.locks import year_data_ensure_unlocked
from vnemis.registry.models import (
    ACTIVE_STATUSES,
    Enrolment,
    EnrolmentStatusChange,
    HealthRecord,
    Person,
    SchoolClass,
    StaffAssignment,
    TeachingAssignment,
)
from vnemis.registry.search import person_keys_replace

from .models import EducationIdAlias, Merge, ReviewItem, Verification, VerificationEvent

MERGERS = {User.Role.DEPARTMENT, User.Role.MINISTRY}
# Rows that follow the person: (label, model, field naming the person).
MOVED = (
    ("enrolments", Enrolment, "pupil_id"),
    ("posts", StaffAssignment, "person_id"),
    ("teaching", TeachingAssignment, "teacher_id"),
    ("homeroom", SchoolClass, "homeroom_teacher_id"),
    ("health", HealthRecord, "person_id"),
    ("accounts", User, "person_id"),
    ("verification_events", VerificationEvent, "person_id"),
)


class MergeRefused(ValidationError):
    pass


def _authorise(actor, *persons: Person) -> None:
    if actor is None or (actor.is_superuser and not actor.scope_id):
        return
    if actor.role not in MERGERS:
        raise PermissionDenied(_("Chỉ cán bộ Sở hoặc Bộ được hợp nhất hồ sơ."))
    if actor.role == User.Role.DEPARTMENT:
        code = actor.scope.province.code if actor.scope and actor.scope.province_id else None
        if any(p.province_code != code for p in persons):
            raise PermissionDenied(_("Hồ sơ nằm ngoài tỉnh, thành phố của Sở."))


SKIPPED_ON_RESTORE = ("created_at", "updated_at", "change_seq")


def _dump(obj) -> dict:
    """A row as JSON: every concrete column by attribute name (``ethnicity_id``), bytes in base64."""
    data = {}
    for f in obj._meta.concrete_fields:
        value = getattr(obj, f.attname)
        if isinstance(value, bytes | memoryview):
            value = {"b64": base64.b64encode(bytes(value)).decode()}
        elif hasattr(value, "isoformat"):
            value = value.isoformat()
        data[f.attname] = value
    return data


def _restore(row: dict, **override) -> dict:
    """Keyword arguments to recreate a row from ``_dump``."""
    values = {k: _undump(v) for k, v in row.items() if k not in SKIPPED_ON_RESTORE}
    return {**values, **override}


@transaction.atomic
def persons_merge(
    *,
    actor,
    survivor: Person,
    duplicate: Person,
    keep_enrolment_id: int | None = None,
    review: ReviewItem | None = None,
) -> Merge:
    """Make ``duplicate`` part of ``survivor``; returns the record of what moved."""
    if survivor.pk == duplicate.pk:
        raise MergeRefused(_("Không thể hợp nhất một hồ sơ với chính nó."))
    locked = {
        p.pk: p
        for p in Person.objects.select_for_update().filter(pk__in=[survivor.pk, duplicate.pk])
    }
    if len(locked) != 2:
        raise MergeRefused(_("Một trong hai hồ sơ không còn tồn tại."))
    survivor, duplicate = locked[survivor.pk], locked[duplicate.pk]
    _authorise(actor, survivor, duplicate)
    now = timezone.now()
    today = timezone.localdate()

    closed = []
    for dup_enrolment in Enrolment.objects.select_for_update().filter(
        pupil=duplicate, status__in=ACTIVE_STATUSES
    ):
        clash = (
            Enrolment.objects.select_for_update()
            .filter(
                pupil=survivor,
                school_year_id=dup_enrolment.school_year_id,
                status__in=ACTIVE_STATUSES,
            )
            .first()
        )
        if clash is None:
            continue
        kept = (
            keep_enrolment_id or max((clash, dup_enrolment), key=lambda e: (e.started_on, e.pk)).pk
        )
        if kept not in (clash.pk, dup_enrolment.pk):
            raise MergeRefused(_("Lượt nhập học được giữ lại không thuộc hai hồ sơ này."))
        ending = dup_enrolment if kept == clash.pk else clash
        year_data_ensure_unlocked(school_id=ending.school_id, school_year_id=ending.school_year_id)
        history = EnrolmentStatusChange.objects.create(
            enrolment=ending,
            status="transferred_out",
            effective_on=max(today, ending.started_on),
            note=_("Đóng khi hợp nhất hồ sơ trùng"),
            recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        closed.append(
            {
                "id": ending.pk,
                "status": ending.status,
                "ended_on": ending.ended_on.isoformat() if ending.ended_on else None,
                "history_id": history.pk,
            }
        )
        ending.status, ending.ended_on = "transferred_out", max(today, ending.started_on)
        ending.save(update_fields=["status", "ended_on", "updated_at"])

    removed = {
        "health": [
            _dump(h)
            for h in HealthRecord.objects.filter(
                person=duplicate,
                measured_on__in=HealthRecord.objects.filter(person=survivor).values("measured_on"),
            )
        ],
        "teaching": [
            _dump(t)
            for t in TeachingAssignment.objects.filter(teacher=duplicate).filter(
                school_class_id__in=TeachingAssignment.objects.filter(teacher=survivor).values(
                    "school_class_id"
                )
            )
        ],
    }
    HealthRecord.objects.filter(pk__in=[h["id"] for h in removed["health"]]).delete()
    TeachingAssignment.objects.filter(pk__in=[t["id"] for t in removed["teaching"]]).delete()

    moved = {}
    for label, model, column in MOVED:
        rows = model.objects.filter(**{column: duplicate.pk})
        moved[label] = list(rows.values_list("pk", flat=True))
        rows.update(**{column: survivor.pk})
    verification = Verification.objects.filter(person=duplicate).values().first()
    snapshot = {
        "person": _dump(duplicate),
        "moved": moved,
        "removed": removed,
        "closed": closed,
        "verification": {
            k: (v.isoformat() if hasattr(v, "isoformat") else v)
            for k, v in (verification or {}).items()
        },
    }
    Verification.objects.filter(person=duplicate).delete()
    ReviewItem.objects.filter(person=duplicate).exclude(pk=getattr(review, "pk", None)).delete()
    ReviewItem.objects.filter(other_person=duplicate).exclude(
        pk=getattr(review, "pk", None)
    ).delete()
    merge = Merge.objects.create(
        survivor=survivor,
        merged_person_id=duplicate.pk,
        merged_education_id=duplicate.education_id,
        snapshot=snapshot,
        review=review,
        merged_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    if review is not None:
        # The pair's duplicate side is about to go: the item keeps the survivor alone.
        ReviewItem.objects.filter(pk=review.pk).update(
            status=ReviewItem.Status.MERGED,
            decided_by=merge.merged_by,
            decided_at=now,
            person=survivor,
            other_person=None,
        )
    duplicate.delete()
    EducationIdAlias.objects.create(
        education_id=merge.merged_education_id, person=survivor, merge=merge
    )
    audit_record(
        actor=actor,
        action="update",
        object_type="person_merge",
        object_id=merge.pk,
        detail={
            "survivor": survivor.pk,
            "merged": merge.merged_person_id,
            "moved": {k: len(v) for k, v in moved.items()},
            "closed_enrolments": len(closed),
        },
    )
    return merge


@transaction.atomic
def merge_undo(*, actor, merge: Merge) -> Person:
    """Put the merged record back as it was; refuses if what moved has changed hands since."""
    merge = Merge.objects.select_for_update().get(pk=merge.pk)
    if merge.undone_at is not None:
        raise MergeRefused(_("Việc hợp nhất này đã được hoàn tác."))
    survivor = Person.objects.select_for_update().get(pk=merge.survivor_id)
    _authorise(actor, survivor)
    snap = merge.snapshot
    for label, model, column in MOVED:
        ids = snap["moved"].get(label, [])
        still = model.objects.filter(pk__in=ids, **{column: survivor.pk}).count()
        if still != len(ids):
            raise MergeRefused(
                _("Không thể hoàn tác: dữ liệu đã chuyển (%(what)s) đã thay đổi sau khi hợp nhất.")
                % {"what": label}
            )
    restored = Person(**_restore(snap["person"]))
    restored.save(force_insert=True)
    for label, model, column in MOVED:
        model.objects.filter(pk__in=snap["moved"].get(label, [])).update(**{column: restored.pk})
    for row in snap["removed"]["health"]:
        HealthRecord.objects.create(**_restore(row, person_id=restored.pk))
    for row in snap["removed"]["teaching"]:
        TeachingAssignment.objects.create(**_restore(row, teacher_id=restored.pk))
    for row in snap["closed"]:
        Enrolment.objects.filter(pk=row["id"]).update(
            status=row["status"], ended_on=row["ended_on"], updated_at=timezone.now()
        )
        EnrolmentStatusChange.objects.filter(pk=row["history_id"]).delete()
    if snap.get("verification"):
        Verification.objects.create(
            **{k: v for k, v in snap["verification"].items() if k != "person_id"},
            person=restored,
        )
    person_keys_replace(restored)
    EducationIdAlias.objects.filter(merge=merge).delete()
    merge.undone_at = timezone.now()
    merge.undone_by = actor if getattr(actor, "is_authenticated", False) else None
    merge.save(update_fields=["undone_at", "undone_by"])
    if merge.review_id:
        ReviewItem.objects.filter(pk=merge.review_id).update(
            status=ReviewItem.Status.PENDING,
            other_person=restored,
            decided_at=None,
            decided_by=None,
        )
    audit_record(
        actor=actor,
        action="update",
        object_type="person_merge_undo",
        object_id=merge.pk,
        detail={"survivor": survivor.pk, "restored": restored.pk},
    )
    return restored


def _undump(value):
    if isinstance(value, dict) and set(value) == {"b64"}:
        return base64.b64decode(value["b64"])
    return value
