"""``vnemis payments reconcile|show``: payment orders from the terminal.

``reconcile [--older-than MINUTES] [--enqueue]`` settles every pending order older than that
against the gateway's query API and re-checks recently settled ones, then prints a summary
(exit status 1 when the gateway could not be asked about some orders); ``show REF`` prints
one order and its history. Messages are "Vietnamese / English".
"""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from vnemis.payments.reconcile import payments_reconcile
from vnemis.payments.selectors import order_get

SETTLED_LABELS = [
    ("paid", "Đã thanh toán / Paid"),
    ("failed", "Không thành công / Failed"),
    ("cancelled", "Đã huỷ / Cancelled"),
    ("expired", "Hết hạn / Expired"),
]


class Command(BaseCommand):
    help = "Payment orders: reconcile with the gateway, show one. / Đơn thanh toán: đối soát, xem."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        run = actions.add_parser("reconcile", help="settle orders against the gateway")
        run.add_argument(
            "--older-than", type=int, default=5, metavar="MINUTES",
            help="only orders created at least this many minutes ago (5)",
        )  # fmt: skip
        run.add_argument("--enqueue", action="store_true", help="run on the worker")
        show = actions.add_parser("show", help="one order and its history")
        show.add_argument("ref", help="the transaction reference (TxnRef)")

    def handle(self, *args, action, **opts):
        if action == "show":
            return self._show(opts["ref"])
        minutes = opts["older_than"]
        if minutes < 0:
            raise CommandError("--older-than phải ≥ 0 / --older-than must be at least 0")
        if opts["enqueue"]:
            from vnemis.payments.tasks import payments_reconcile_run

            result = payments_reconcile_run.enqueue(older_than_minutes=minutes)
            self.stdout.write(f"Đã xếp hàng / Queued: {result.id}")
            return
        summary = payments_reconcile(older_than=timedelta(minutes=minutes))
        out = self.stdout.write
        out(f"  {'Đã kiểm tra / Checked':<40} {summary.checked:>8,}")
        for key, label in SETTLED_LABELS:
            out(f"  {label:<40} {summary.settled.get(key, 0):>8,}")
        out(f"  {'Vẫn chờ / Still pending':<40} {summary.still_pending:>8,}")
        out(f"  {'Khớp với cổng / Confirmed':<40} {summary.confirmed:>8,}")
        out(f"  {'Sai lệch, cần xem / Discrepancies':<40} {summary.discrepancies:>8,}")
        out(f"  {'Bị từ chối, cần xem / Refused':<40} {summary.refused:>8,}")
        out(f"  {'Lỗi / Errors':<40} {summary.errors:>8,}")
        out(f"  {'Bỏ qua / Skipped':<40} {summary.skipped:>8,}")
        if summary.errors:
            raise CommandError(
                f"Cổng thanh toán không trả lời cho {summary.errors} đơn; các đơn này giữ nguyên, "
                f"chạy lại sau / The gateway gave no answer for {summary.errors} order(s); they "
                f"are unchanged, run again later ({', '.join(summary.error_details[:5])})"
            )
        self.stdout.write(self.style.SUCCESS("Xong / Done"))

    def _show(self, ref: str):
        order = order_get(txn_ref=ref.strip().upper())
        if order is None:
            raise CommandError(f"Không có đơn thanh toán / No such payment order: {ref}")
        out = self.stdout.write
        out(f"{order.txn_ref}  {order.status}  {order.amount:,} VND")
        out(f"  purpose    {order.purpose}  {order.reference}")
        out(f"  created    {order.created_at.isoformat()}  expires {order.expires_at.isoformat()}")
        if order.settled_at:
            out(f"  settled    {order.settled_at.isoformat()} by {order.settled_by}")
        if order.transaction_no:
            out(f"  gateway    transaction {order.transaction_no} bank {order.bank_code} "
                f"code {order.gateway_code}")  # fmt: skip
        if order.needs_review:
            out("  NEEDS REVIEW / CẦN XEM XÉT")
        for event in order.events.order_by("id")[:200]:
            out(
                f"  {event.at.isoformat(timespec='seconds')}  {event.source:<9} "
                f"{event.outcome:<16} {event.gateway_code:<2} {event.answer:<2} {event.detail}"
            )
