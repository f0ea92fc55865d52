"""Reconciliation: settle every order against the gateway's query API, whatever IPNs did.

Pending orders older than ``older_than`` are asked about one by one: paid or failed at the
gateway settles them; past their expiry (plus a grace for clock skew) with no payment at the
gateway (not found, or never completed) they expire; otherwise they stay pending. Orders
settled recently and not yet confirmed by the query API are re-checked; a contradiction is
recorded as a discrepancy and flagged for a person, never applied. A gateway that stops
answering stops the run after a few orders in a row (the rest wait for the next run), and
every order it could not check stays as it was, with an error event.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from .conf import setting
from .gateway_client import GatewayClient, GatewayError, GatewayUnavailable
from .models import PaymentEvent, PaymentOrder
from .settlement import event_record, order_expire, order_recheck, order_settle

Status = PaymentOrder.Status
Source = PaymentEvent.Source
STOP_AFTER = 3  # consecutive unavailable answers that end a run


@dataclass
class ReconcileSummary:
    checked: int = 0
    settled: Counter = field(default_factory=Counter)  # paid, failed, cancelled, expired
    still_pending: int = 0
    confirmed: int = 0  # settled orders the gateway agrees with
    discrepancies: int = 0  # settled orders the gateway contradicts (needs_review)
    refused: int = 0  # amount mismatches and results a person must decide (needs_review)
    errors: int = 0
    skipped: int = 0  # not checked: the run stopped because the gateway is down
    error_details: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "checked": self.checked,
            "settled": dict(self.settled),
            "still_pending": self.still_pending,
            "confirmed": self.confirmed,
            "discrepancies": self.discrepancies,
            "refused": self.refused,
            "errors": self.errors,
            "skipped": self.skipped,
            "error_details": self.error_details[:20],
        }


def payments_reconcile(
    *,
    older_than: timedelta = timedelta(minutes=5),
    recheck_within: timedelta = timedelta(days=1),
    now: datetime | None = None,
    client: GatewayClient | None = None,
    limit: int = 20_000,
) -> ReconcileSummary:
    """Check pending and recently settled orders against the gateway; a summary of the run."""
    now = now or timezone.now()
    grace = timedelta(minutes=int(setting("VNEMIS_PAYMENT_EXPIRY_GRACE_MINUTES")))
    cutoff = now - older_than
    pending = list(
        PaymentOrder.objects.filter(status=Status.PENDING, created_at__lte=cutoff)
        .order_by("created_at")
        .values_list("pk", "txn_ref", "created_at", "expires_at")[:limit]
    )
    settled = list(
        PaymentOrder.objects.exclude(status=Status.PENDING)
        .filter(reconciled_at__isnull=True, settled_at__lte=cutoff)
        .filter(settled_at__gte=now - recheck_within)
        .order_by("settled_at")
        .values_list("pk", "txn_ref", "created_at", "expires_at")[:limit]
    )
    summary = ReconcileSummary()
    own_client = client is None
    client = client or GatewayClient.from_settings()
    work = [(row, True) for row in pending] + [(row, False) for row in settled]
    unavailable_in_a_row = 0
    try:
        for index, ((pk, txn_ref, created, expires), is_pending) in enumerate(work):
            try:
                report, answer = client.query(txn_ref=txn_ref, created=created)
            except GatewayError as exc:
                summary.errors += 1
                summary.error_details.append(f"{txn_ref}: {exc.code}")
                event_record(
                    source=Source.RECONCILE, outcome="error", txn_ref=txn_ref,
                    order=PaymentOrder.objects.get(pk=pk), detail=f"{exc.code}: {exc}",
                )  # fmt: skip
                unavailable_in_a_row = (
                    unavailable_in_a_row + 1 if isinstance(exc, GatewayUnavailable) else 0
                )
                if unavailable_in_a_row >= STOP_AFTER:
                    summary.skipped = len(work) - index - 1
                    break
                continue
            unavailable_in_a_row = 0
            summary.checked += 1
            if not is_pending:
                outcome = order_recheck(order_id=pk, report=report, params=answer, now=now)
                if outcome == "confirmed":
                    summary.confirmed += 1
                else:
                    summary.discrepancies += 1
                continue
            if report.outcome in ("not_found", "pending") and now > expires + grace:
                if order_expire(
                    order_id=pk, source=Source.RECONCILE, report=report, params=answer, now=now
                ):
                    summary.settled["expired"] += 1
                continue
            settlement = order_settle(
                report=report, source=Source.RECONCILE, params=answer, now=now
            )
            if settlement.changed:
                summary.settled[settlement.outcome] += 1
            elif settlement.outcome in ("pending", "not_found"):
                summary.still_pending += 1
            elif settlement.outcome == "discrepancy":
                summary.discrepancies += 1
            elif settlement.outcome in ("amount_mismatch", "review"):
                summary.refused += 1
    finally:
        if own_client:
            client.close()
    return summary
