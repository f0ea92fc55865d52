"""Payment orders and their append-only history of what the gateway said.

An order is one amount owed for one purpose (``purpose`` + ``reference``, e.g.
``admission_wish_fee`` and ``"<candidate>:<round>"``), paid through the gateway under its
unique ``txn_ref`` (the gateway's vnp_TxnRef). Its status moves once, from pending to paid,
failed, cancelled or expired, and only in ``settlement`` (row lock and conditional UPDATE);
the check constraints keep a paid order's paid amount equal to its amount, so no code path
can record a drift.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class PaymentOrder(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Chờ thanh toán")
        PAID = "paid", _("Đã thanh toán")
        FAILED = "failed", _("Không thành công")
        CANCELLED = "cancelled", _("Đã huỷ")
        EXPIRED = "expired", _("Hết hạn")

    txn_ref = models.CharField(_("mã giao dịch"), max_length=32, unique=True)
    purpose = models.CharField(_("mục đích"), max_length=40)
    reference = models.CharField(_("tham chiếu"), max_length=100, blank=True)
    # Shown to the payer on our pages; no names or ID numbers (it goes to the gateway).
    description = models.CharField(_("nội dung"), max_length=200)
    payer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payment_orders",
    )
    amount = models.BigIntegerField(_("số tiền (đồng)"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    paid_amount = models.BigIntegerField(null=True, blank=True)
    transaction_no = models.CharField(max_length=20, blank=True)  # the gateway's
    bank_code = models.CharField(max_length=20, blank=True)
    gateway_code = models.CharField(max_length=2, blank=True)  # result code that settled it
    paid_at = models.DateTimeField(null=True, blank=True)  # the gateway's vnp_PayDate
    settled_at = models.DateTimeField(null=True, blank=True)
    settled_by = models.CharField(max_length=10, blank=True)  # the event source that settled it
    # When the query API last confirmed the settled state (reconciliation's re-check).
    reconciled_at = models.DateTimeField(null=True, blank=True)
    # The gateway contradicted us (or reported another amount): a person must look.
    needs_review = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["purpose", "reference"]),
            models.Index(fields=["settled_at"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(paid_amount__isnull=True) | Q(paid_amount=F("amount")),
                name="payment_paid_amount_is_amount",
            ),
            models.CheckConstraint(
                condition=~Q(status="paid")
                | (Q(paid_amount__isnull=False) & ~Q(transaction_no="")),
                name="payment_paid_has_amount_and_transaction",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "paid", "failed", "cancelled", "expired"]),
                name="payment_status_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.txn_ref} {self.amount:,} VND {self.status}"

    @property
    def is_settled(self) -> bool:
        return self.status != self.Status.PENDING


class PaymentEvent(models.Model):
    """One thing the gateway said about an order (or about a TxnRef we do not know), and what
    we made of it. Append-only: saving an existing event is refused."""

    class Source(models.TextChoices):
        RETURN = "return", _("Trình duyệt quay về")
        IPN = "ipn", _("Thông báo IPN")
        QUERY = "query", _("Truy vấn cổng")
        RECONCILE = "reconcile", _("Đối soát")

    order = models.ForeignKey(
        PaymentOrder, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    txn_ref = models.CharField(max_length=100, blank=True)  # as received, even if unknown
    source = models.CharField(max_length=10, choices=Source.choices)
    # paid, failed, cancelled, expired, duplicate, discrepancy, amount_mismatch, unknown_order,
    # bad_signature, wrong_merchant, malformed, pending, confirmed, received, error, ...
    outcome = models.CharField(max_length=20)
    gateway_code = models.CharField(max_length=2, blank=True)  # response code or status
    answer = models.CharField(max_length=2, blank=True)  # our IPN answer (RspCode)
    amount = models.BigIntegerField(null=True, blank=True)  # the amount reported (VND)
    params = models.JSONField(default=dict, blank=True)  # the gateway's parameters, bounded
    detail = models.CharField(max_length=255, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["order", "id"]), models.Index(fields=["outcome", "at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.source} {self.txn_ref} {self.outcome}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("Payment events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Payment events are append-only.")
