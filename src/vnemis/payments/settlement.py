"""The one place an order's status changes: settle it from a gateway report, or expire it.

Each call is one transaction. The order's row is locked (``select_for_update``; on SQLite the
IMMEDIATE transaction serialises writers) and the status is changed by an UPDATE conditioned on
``status = pending``, so notifications racing each other settle an order once. Pending goes to
paid, failed, cancelled or expired, and nothing leaves those. A report whose amount is not the
order's never settles it; a report that contradicts a settled order is a discrepancy, flagged
for a person (``needs_review``) and never applied. Every call records an event.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from . import hooks
from .gateway_client import GatewayReport
from .models import PaymentEvent, PaymentOrder

Status = PaymentOrder.Status
Source = PaymentEvent.Source
TERMINAL = {"paid": Status.PAID, "failed": Status.FAILED, "cancelled": Status.CANCELLED,
            "expired": Status.EXPIRED}  # fmt: skip
# The IPN's answer to the gateway for each outcome: 00 taken, 01 unknown order, 02 already
# settled, 04 wrong amount (VNPay's merchant codes).
IPN_ANSWERS = {"unknown_order": "01", "duplicate": "02", "discrepancy": "02",
               "amount_mismatch": "04"}  # fmt: skip
MAX_PARAMS, MAX_VALUE = 40, 255


@dataclass(frozen=True)
class Settlement:
    outcome: str  # paid, failed, cancelled, expired (changed), or why nothing changed
    changed: bool
    order_id: int | None

    @property
    def ipn_answer(self) -> str:
        return IPN_ANSWERS.get(self.outcome, "00")


def clean(text: object, limit: int) -> str:
    """Text from outside as the database takes it: no NUL (PostgreSQL refuses it), bounded."""
    return str(text).replace("\x00", "")[:limit]


def bounded(params: dict) -> dict:
    """At most 40 parameters of at most 255 characters: what an event keeps of an input."""
    return {
        clean(name, 40): clean(value, MAX_VALUE)
        for name, value in list(params.items())[:MAX_PARAMS]
    }


def event_record(
    *,
    source: str,
    outcome: str,
    order: PaymentOrder | None = None,
    txn_ref: str = "",
    report: GatewayReport | None = None,
    params: dict | None = None,
    answer: str = "",
    detail: str = "",
) -> PaymentEvent:
    code = ""
    if report is not None:
        code = report.response_code or report.transaction_status
    return PaymentEvent.objects.create(
        order=order,
        txn_ref=clean(txn_ref or (order.txn_ref if order else ""), 100),
        source=source,
        outcome=outcome,
        gateway_code=code[:2],
        answer=answer,
        amount=report.amount if report is not None and report.found else None,
        params=bounded(params or {}),
        detail=clean(detail, 255),
    )


def order_settle(
    *, report: GatewayReport, source: str, params: dict, now: datetime | None = None
) -> Settlement:
    """Apply what the gateway reported about one transaction to its order."""
    now = now or timezone.now()
    with transaction.atomic():
        order = PaymentOrder.objects.select_for_update().filter(txn_ref=report.txn_ref).first()
        settlement = _decide(order, report, source, now)
        event_record(
            source=source,
            outcome=settlement.outcome,
            order=order,
            txn_ref=report.txn_ref,
            report=report,
            params=params,
            answer=settlement.ipn_answer if source == Source.IPN else "",
        )
        if settlement.changed:
            purpose = order.purpose
            transaction.on_commit(
                lambda: hooks.settled_notify(order_id=settlement.order_id, purpose=purpose)
            )
    return settlement


def _decide(
    order: PaymentOrder | None, report: GatewayReport, source: str, now: datetime
) -> Settlement:
    if order is None:
        return Settlement("unknown_order", False, None)
    if report.found and report.amount != order.amount:
        _flag(order)
        return Settlement("amount_mismatch", False, order.pk)
    target = report.outcome
    if target in ("pending", "not_found"):
        return Settlement(target, False, order.pk)
    if target == "review" or (target == "paid" and report.transaction_no in ("", "0")):
        _flag(order)
        return Settlement("review", False, order.pk)
    if order.status == Status.PENDING:
        fields = {
            "status": TERMINAL[target],
            "gateway_code": report.response_code or report.transaction_status,
            "transaction_no": report.transaction_no,
            "bank_code": report.bank_code,
            "paid_at": report.pay_date,
            "settled_at": now,
            "settled_by": source,
            "updated_at": now,
        }
        if target == "paid":
            fields["paid_amount"] = report.amount
        if source in (Source.QUERY, Source.RECONCILE):  # the query API's word already
            fields["reconciled_at"] = now
        if PaymentOrder.objects.filter(pk=order.pk, status=Status.PENDING).update(**fields):
            return Settlement(target, True, order.pk)
        order.refresh_from_db()  # settled meanwhile (only possible without a row lock)
    if agrees(order, report):
        return Settlement("duplicate", False, order.pk)
    _flag(order)
    return Settlement("discrepancy", False, order.pk)


def agrees(order: PaymentOrder, report: GatewayReport) -> bool:
    """Whether a settled order and the gateway's report tell the same story about the money."""
    if order.status == Status.PAID:
        return (
            report.outcome == "paid"
            and report.transaction_no == order.transaction_no
            and report.amount == order.paid_amount
        )
    # Failed, cancelled and expired all mean no money moved: any of them agrees with another.
    return report.outcome in ("not_found", "pending", "failed", "cancelled", "expired")


def _flag(order: PaymentOrder) -> None:
    PaymentOrder.objects.filter(pk=order.pk).update(needs_review=True, updated_at=timezone.now())
    order.needs_review = True


def order_expire(
    *, order_id: int, source: str, report: GatewayReport | None, params: dict, now: datetime
) -> bool:
    """Pending → expired, once the link is past its expiry and the gateway has no payment."""
    with transaction.atomic():
        order = PaymentOrder.objects.select_for_update().get(pk=order_id)
        changed = bool(
            PaymentOrder.objects.filter(pk=order_id, status=Status.PENDING).update(
                status=Status.EXPIRED,
                settled_at=now,
                settled_by=source,
                reconciled_at=now,
                updated_at=now,
            )
        )
        event_record(
            source=source,
            outcome="expired" if changed else "duplicate",
            order=order,
            report=report,
            params=params,
        )
        if changed:
            purpose = order.purpose
            transaction.on_commit(lambda: hooks.settled_notify(order_id=order_id, purpose=purpose))
    return changed


def order_recheck(*, order_id: int, report: GatewayReport, params: dict, now: datetime) -> str:
    """A settled order against the query API: ``confirmed`` or ``discrepancy`` (flagged)."""
    with transaction.atomic():
        order = PaymentOrder.objects.select_for_update().get(pk=order_id)
        outcome = "confirmed" if agrees(order, report) else "discrepancy"
        changes = {"reconciled_at": now, "updated_at": now}
        if outcome == "discrepancy":
            changes["needs_review"] = True
        PaymentOrder.objects.filter(pk=order_id).update(**changes)
        event_record(
            source=Source.RECONCILE, outcome=outcome, order=order, report=report, params=params
        )
    return outcome
