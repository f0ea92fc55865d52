"""Writes around the analytics snapshot: queue a refresh (page, approval, schedule), run one.

Who may ask for a refresh: the Ministry (every province, or one), a Department (its own
province), the system itself (``actor=None``: after an approval, on a schedule). A refresh is
queued as a ``SnapshotRefresh`` record and run by a background task after the transaction that
asked for it commits; a second request for the same thing while one is still queued is the
same request.
"""

import traceback

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from vnemis.core.audit import audit_record
from vnemis.orgs.models import User
from vnemis.orgs.scope import is_unrestricted

from .models import SnapshotRefresh
from .snapshot import snapshot_refresh

Trigger = SnapshotRefresh.Trigger
Status = SnapshotRefresh.Status


def refresh_province_allowed(actor) -> str | None:
    """The one province a Department may refresh; None when the actor may refresh any."""
    if actor is None or is_unrestricted(actor) or actor.role == User.Role.MINISTRY:
        return None
    scope = actor.scope
    if actor.role != User.Role.DEPARTMENT or scope is None or scope.province_id is None:
        raise PermissionDenied(_("Chỉ Bộ GD&ĐT và Sở GD&ĐT được làm mới dữ liệu thống kê."))
    return scope.province.code


@transaction.atomic
def snapshot_refresh_queue(
    *,
    actor,
    province: str | None = None,
    school_year: int | None = None,
    full: bool = False,
    trigger: str = Trigger.MANUAL,
) -> SnapshotRefresh:
    """Queue a refresh of one province (or all); the task runs after commit."""
    own = refresh_province_allowed(actor)
    province = (province or "").strip() or None
    if own is not None:
        if province not in (None, own):
            raise PermissionDenied(_("Sở GD&ĐT chỉ được làm mới dữ liệu của tỉnh, thành phố mình."))
        province = own
    restricted = actor is not None and not is_unrestricted(actor)
    if full and restricted and actor.role != User.Role.MINISTRY:
        raise PermissionDenied(_("Chỉ Bộ GD&ĐT được ghi lại toàn bộ dữ liệu thống kê."))
    waiting = SnapshotRefresh.objects.filter(
        status=Status.QUEUED,
        province=province or "",
        school_year=school_year or 0,
        full=full,
        trigger=trigger,
    ).first()
    if waiting is not None:
        return waiting
    refresh = SnapshotRefresh.objects.create(
        trigger=trigger,
        province=province or "",
        school_year=school_year or 0,
        full=full,
        requested_by=actor if getattr(actor, "pk", None) else None,
    )
    audit_record(
        actor=actor,
        action="create",
        object_type="snapshot_refresh",
        object_id=refresh.pk,
        detail={"province": refresh.province, "school_year": refresh.school_year, "full": full,
                "trigger": trigger},
    )  # fmt: skip
    from .tasks import snapshot_refresh_execute

    transaction.on_commit(lambda: snapshot_refresh_execute.enqueue(refresh.pk))
    return refresh


def snapshot_refresh_run(*, refresh_id: int) -> SnapshotRefresh:
    """Run a queued refresh (idempotent: only a queued one is started) and record the outcome."""
    started = SnapshotRefresh.objects.filter(pk=refresh_id, status=Status.QUEUED).update(
        status=Status.RUNNING, started_at=timezone.now()
    )
    refresh = SnapshotRefresh.objects.get(pk=refresh_id)
    if not started:
        return refresh
    try:
        result = snapshot_refresh(
            provinces=[refresh.province] if refresh.province else None,
            years=[refresh.school_year] if refresh.school_year else None,
            full=refresh.full,
        )
    except Exception as exc:
        refresh.status = Status.FAILED
        refresh.error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"[:4000]
    else:
        refresh.status = Status.SUCCEEDED
        refresh.partitions = result["partitions"] + [f"-{p}" for p in result["removed"]]
        refresh.rows = result["rows"]
        refresh.seconds = round(result["seconds"], 3)
    refresh.finished_at = timezone.now()
    refresh.save(update_fields=["status", "error", "partitions", "rows", "seconds", "finished_at"])
    return refresh


def snapshot_refresh_after_approval(*, school_id: int, school_year: int) -> SnapshotRefresh | None:
    """An approved submission: refresh the school's province for that school year."""
    from vnemis.orgs.models import Organisation

    school = Organisation.objects.select_related("province").filter(pk=school_id).first()
    if school is None or school.province is None:
        return None
    return snapshot_refresh_queue(
        actor=None,
        province=school.province.code,
        school_year=school_year,
        trigger=Trigger.APPROVAL,
    )
