"""The snapshot page: refreshes and partitions, and a button that queues a refresh."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from vnemis.geo.models import Province
from vnemis.orgs.models import User
from vnemis.orgs.scope import is_unrestricted

from .actions_snapshot import refresh_province_allowed, snapshot_refresh_queue
from .models import SnapshotPartition, SnapshotRefresh

MANAGERS = (User.Role.MINISTRY, User.Role.DEPARTMENT)
LIST_LIMIT = 50


def _own_province(user) -> str | None:
    """None: every province (Ministry, operator); else the Department's own."""
    if not (user.role in MANAGERS or is_unrestricted(user) or user.is_superuser):
        raise PermissionDenied(_("Trang này dành cho cán bộ quản lý của Bộ và Sở GD&ĐT."))
    return refresh_province_allowed(user)


@login_required
@require_http_methods(["GET", "POST"])
def snapshot_page(request):
    """Refreshes of the analytics snapshot and its partitions; a POST queues a refresh."""
    own = _own_province(request.user)
    if request.method == "POST":
        province = request.POST.get("province", "").strip() or None
        try:
            refresh = snapshot_refresh_queue(actor=request.user, province=province)
        except PermissionDenied as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                _("Đã xếp lịch làm mới dữ liệu thống kê (lượt số %(id)s).") % {"id": refresh.pk},
            )
        return redirect("stats_snapshot")
    refreshes = SnapshotRefresh.objects.select_related("requested_by")
    partitions = SnapshotPartition.objects.all()
    if own is not None:
        refreshes = refreshes.filter(Q(province=own) | Q(province=""))
        partitions = partitions.filter(Q(province=own) | Q(province=""))
    provinces = Province.objects.order_by("code") if own is None else []
    return render(
        request,
        "stats/snapshot.html",
        {
            "refreshes": list(refreshes[:LIST_LIMIT]),
            "partitions": list(partitions[:2000]),
            "own_province": own,
            "provinces": provinces,
        },
    )
