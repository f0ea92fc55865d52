"""Writes of the payments app: create an order, send its payer to the gateway, and take what
the gateway sends back (IPN and return). Other apps call ``payment_order_create`` and
``payment_redirect_url`` (or link to the ``payments_pay`` page); statuses change only in
``settlement``.
"""

import ipaddress
import logging
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qsl

from django.db import IntegrityError, transaction
from django.utils import timezone

from .conf import setting
from .errors import PaymentError
from .gateway_client import (
    GatewayClient,
    GatewayError,
    GatewayReport,
    NotificationRefused,
)
from .models import PaymentEvent, PaymentOrder
from .settlement import Settlement, event_record, order_settle

logger = logging.getLogger(__name__)
Source = PaymentEvent.Source

MIN_AMOUNT, MAX_AMOUNT = 5_000, 1_000_000_000  # the gateway's range: 5,000 to under a billion
_PURPOSE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
_ID_LIKE = re.compile(r"(?<!\d)\d{9,12}(?!\d)")  # a citizen or education ID has no place here
IPN_MESSAGES = {
    "00": "Confirm Success",
    "01": "Order not found",
    "02": "Order already confirmed",
    "04": "Invalid amount",
    "97": "Invalid signature",
    "99": "Unknown error",
}


# Letters only after the date: a run of nine or more digits would look like an ID card number
# and be redacted from the logs (core.logging), hiding the reference people search logs for.
_TXN_REF_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ"


def _txn_ref() -> str:
    """P + the date + 9 random letters (24**9, about 2.6e12): unguessable, sortable by day."""
    suffix = "".join(secrets.choice(_TXN_REF_ALPHABET) for _ in range(9))
    return f"P{timezone.localdate():%y%m%d}{suffix}"


def order_info_text(description: str) -> str:
    """The description as the gateway wants vnp_OrderInfo: ASCII without diacritics."""
    folded = unicodedata.normalize("NFD", description.replace("đ", "d").replace("Đ", "D"))
    ascii_only = "".join(c for c in folded if not unicodedata.combining(c))
    kept = re.sub(r"[^A-Za-z0-9 .,:_-]", " ", ascii_only)
    return re.sub(r"\s+", " ", kept).strip()[:200] or "Thanh toan"


def payment_order_create(
    *,
    purpose: str,
    amount: int,
    description: str,
    reference: str = "",
    payer=None,
    expires_in: timedelta | None = None,
) -> PaymentOrder:
    """A new pending order of ``amount`` VND for ``purpose``/``reference``, payable until it expires."""
    if not isinstance(purpose, str) or not _PURPOSE.match(purpose):
        raise PaymentError(
            "invalid_purpose",
            "Mục đích thanh toán phải gồm chữ thường, số và dấu gạch dưới (2–40 ký tự).",
            "The purpose must be 2-40 lower-case letters, digits or underscores.",
        )
    if (
        not isinstance(amount, int)
        or isinstance(amount, bool)
        or not (MIN_AMOUNT <= amount < MAX_AMOUNT)
    ):
        raise PaymentError(
            "invalid_amount",
            "Số tiền phải là số nguyên từ 5.000 đến dưới 1.000.000.000 đồng.",
            "The amount must be a whole number from 5,000 to under 1,000,000,000 VND.",
        )
    if not isinstance(reference, str) or len(reference) > 100:
        raise PaymentError(
            "invalid_reference",
            "Tham chiếu dài tối đa 100 ký tự.",
            "The reference is at most 100 characters.",
        )
    description = (description or "").strip()
    if not description or len(description) > 200 or _ID_LIKE.search(description):
        raise PaymentError(
            "invalid_description",
            "Nội dung thanh toán phải có, dài tối đa 200 ký tự và không chứa số định danh.",
            "The description is required, at most 200 characters, and holds no ID numbers.",
        )
    lifetime = (
        expires_in
        if expires_in is not None
        else timedelta(minutes=int(setting("VNEMIS_PAYMENT_EXPIRE_MINUTES")))
    )
    if lifetime <= timedelta(0):
        raise PaymentError(
            "invalid_expiry",
            "Thời hạn thanh toán phải lớn hơn 0.",
            "The time to pay must be more than zero.",
        )
    for _attempt in range(3):  # a clash of 40 random bits is rare; try again if it happens
        # The gateway's dates have whole seconds: keep ours whole so both name the same moment.
        created = timezone.now().replace(microsecond=0)
        try:
            with transaction.atomic():
                return PaymentOrder.objects.create(
                    txn_ref=_txn_ref(),
                    purpose=purpose,
                    reference=reference,
                    description=description,
                    payer=payer,
                    amount=amount,
                    created_at=created,
                    expires_at=created + lifetime,
                )
        except IntegrityError:
            continue
    raise PaymentError(
        "reference_clash",
        "Không tạo được mã giao dịch; hãy thử lại.",
        "No transaction reference could be made; try again.",
    )


def payment_redirect_url(*, order: PaymentOrder, ip: str, locale: str = "vn") -> str:
    """The signed gateway address where the payer pays this order."""
    if order.status != PaymentOrder.Status.PENDING:
        raise PaymentError(
            "not_payable",
            f"Đơn {order.txn_ref} đã kết thúc ({order.get_status_display()}), không thể thanh toán.",
            f"Order {order.txn_ref} is closed ({order.status}) and cannot be paid.",
        )
    if timezone.now() >= order.expires_at:
        raise PaymentError(
            "expired",
            f"Đơn {order.txn_ref} đã hết hạn thanh toán; hãy tạo đơn mới.",
            f"Order {order.txn_ref} is past its time to pay; create a new one.",
        )
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        ip = "127.0.0.1"  # the gateway needs one; ours stands in when the client's is unknown
    with GatewayClient.from_settings() as client:
        return client.payment_url(
            txn_ref=order.txn_ref,
            amount=order.amount,
            order_info=order_info_text(f"{order.description} {order.txn_ref}"),
            ip=ip,
            created=order.created_at,
            expires=order.expires_at,
            locale=locale if locale in ("vn", "en") else "vn",
        )


def _raw_params(query_string: str) -> dict:
    """What a refused notification said, for its event: first values only, bounded."""
    try:
        pairs = parse_qsl(query_string[:8192], keep_blank_values=True, max_num_fields=60)
    except ValueError:
        return {}
    out: dict = {}
    for name, value in pairs:
        out.setdefault(name, value)
    return out


def payment_ipn_handle(*, query_string: str) -> tuple[str, str]:
    """The gateway's notification: verify it, settle the order; (RspCode, Message) to answer."""
    with GatewayClient.from_settings() as client:
        try:
            report, params = client.notification_read(query_string)
        except NotificationRefused as exc:
            raw = _raw_params(query_string)
            event_record(
                source=Source.IPN,
                outcome=exc.reason,
                txn_ref=str(raw.get("vnp_TxnRef", "")),
                params=raw,
                answer=exc.rsp_code,
                detail=exc.detail,
            )
            logger.warning("IPN refused: %s (%s)", exc.reason, exc.detail)
            message = "Invalid merchant" if exc.reason == "wrong_merchant" else None
            return exc.rsp_code, message or IPN_MESSAGES[exc.rsp_code]
    settlement = order_settle(report=report, source=Source.IPN, params=params)
    logger.info("IPN %s: %s", report.txn_ref, settlement.outcome)
    return settlement.ipn_answer, IPN_MESSAGES[settlement.ipn_answer]


def payment_order_refresh(
    *, order: PaymentOrder, client: GatewayClient, source: str = Source.QUERY
) -> tuple[Settlement, GatewayReport]:
    """Ask the gateway (query API) and settle the order from its answer."""
    report, answer = client.query(txn_ref=order.txn_ref, created=order.created_at)
    return order_settle(report=report, source=source, params=answer), report


@dataclass(frozen=True)
class ReturnResult:
    order: PaymentOrder | None
    problem: str = ""  # bad_signature, wrong_merchant, malformed, unknown_order
    reported: str = ""  # what the return itself said (paid, cancelled, failed, ...)
    gateway_code: str = ""
    confirming: bool = False  # still pending: the gateway has not confirmed yet


def payment_return_handle(*, query_string: str) -> ReturnResult:
    """The payer's browser is back: verify, and if no IPN settled the order yet, ask the gateway.

    The return itself never settles an order (anyone holding the link can replay it); the
    signed server-to-server answers (IPN, query) do.
    """
    # A person waits for this page: one short query attempt, and the page refreshes itself.
    with GatewayClient.from_settings(retries=0, timeout=5.0) as client:
        try:
            report, params = client.notification_read(query_string)
        except NotificationRefused as exc:
            raw = _raw_params(query_string)
            event_record(
                source=Source.RETURN, outcome=exc.reason, txn_ref=str(raw.get("vnp_TxnRef", "")),
                params=raw, detail=exc.detail,
            )  # fmt: skip
            return ReturnResult(order=None, problem=exc.reason)
        order = PaymentOrder.objects.filter(txn_ref=report.txn_ref).first()
        if order is None:
            event_record(
                source=Source.RETURN, outcome="unknown_order", txn_ref=report.txn_ref,
                report=report, params=params,
            )  # fmt: skip
            return ReturnResult(order=None, problem="unknown_order")
        if not order.events.filter(source=Source.RETURN).exists():  # a reload adds nothing
            outcome = "received" if report.amount == order.amount else "amount_mismatch"
            event_record(
                source=Source.RETURN, outcome=outcome, order=order, report=report, params=params
            )
        if order.status == PaymentOrder.Status.PENDING:
            try:
                payment_order_refresh(order=order, client=client)
            except GatewayError as exc:
                event_record(
                    source=Source.QUERY, outcome="error", order=order,
                    detail=f"{exc.code}: {exc}",
                )  # fmt: skip
            order.refresh_from_db()
    return ReturnResult(
        order=order,
        reported=report.outcome,
        gateway_code=report.response_code,
        confirming=order.status == PaymentOrder.Status.PENDING,
    )
