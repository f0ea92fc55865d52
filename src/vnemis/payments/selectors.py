"""Reads of the payments app: orders for other apps, the payer, and the finance staff."""

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet

from .models import PaymentEvent, PaymentOrder

PAGE_SIZE = 50


def order_get(*, txn_ref: str) -> PaymentOrder | None:
    return PaymentOrder.objects.filter(txn_ref=txn_ref).first()


def orders_for(*, purpose: str, reference: str) -> QuerySet[PaymentOrder]:
    """Every order of one purpose and reference, newest first."""
    return PaymentOrder.objects.filter(purpose=purpose, reference=reference).order_by("-created_at")


def order_paid_for(*, purpose: str, reference: str) -> PaymentOrder | None:
    """The paid order of this purpose and reference, if there is one."""
    return orders_for(purpose=purpose, reference=reference).filter(status="paid").first()


def order_for_payer(*, viewer, txn_ref: str) -> PaymentOrder | None:
    """The viewer's own order (only its payer may pay it)."""
    if not viewer.is_authenticated:
        return None
    return PaymentOrder.objects.filter(txn_ref=txn_ref, payer=viewer).first()


def can_see_all_orders(viewer) -> bool:
    """Payment records are the Ministry's (the fee collector's) to see."""
    return viewer.is_authenticated and (viewer.is_superuser or viewer.role == "ministry")


def orders_page(
    *,
    viewer,
    status: str = "",
    purpose: str = "",
    needs_review: bool = False,
    q: str = "",
    before: int | None = None,
) -> tuple[list[PaymentOrder], int | None]:
    """One page of orders, newest first, and the id to continue before (keyset)."""
    if not can_see_all_orders(viewer):
        raise PermissionDenied
    orders = PaymentOrder.objects.order_by("-id")
    if status in PaymentOrder.Status.values:
        orders = orders.filter(status=status)
    if purpose:
        orders = orders.filter(purpose=purpose)
    if needs_review:
        orders = orders.filter(needs_review=True)
    if q:
        orders = orders.filter(Q(txn_ref=q.strip().upper()) | Q(reference=q.strip()))
    if before:
        orders = orders.filter(id__lt=before)
    rows = list(orders[: PAGE_SIZE + 1])
    more = rows[PAGE_SIZE].pk if len(rows) > PAGE_SIZE else None
    rows = rows[:PAGE_SIZE]
    return rows, rows[-1].pk if more and rows else None


def order_with_events(*, viewer, txn_ref: str) -> tuple[PaymentOrder, list[PaymentEvent]] | None:
    if not can_see_all_orders(viewer):
        raise PermissionDenied
    order = order_get(txn_ref=txn_ref)
    if order is None:
        return None
    return order, list(order.events.order_by("id")[:500])


def purposes() -> list[str]:
    return list(
        PaymentOrder.objects.order_by("purpose").values_list("purpose", flat=True).distinct()[:100]
    )
