"""Payment orders: what may be created, what the database refuses, the redirect, events that
cannot be rewritten, and the look-ups other apps use."""

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from vnemis.payments.actions import order_info_text, payment_redirect_url
from vnemis.payments.errors import PaymentError
from vnemis.payments.models import PaymentEvent, PaymentOrder
from vnemis.payments.selectors import order_paid_for, orders_for

from .helpers import new_order

pytestmark = pytest.mark.django_db


def test_a_new_order_is_pending_with_a_reference_and_an_expiry(settings):
    settings.VNEMIS_PAYMENT_EXPIRE_MINUTES = 20
    order = new_order(amount=75_000, purpose="admission_wish_fee", reference="C0001:2026")
    assert order.status == "pending" and order.amount == 75_000
    # The date, then letters only: no run of digits the log filter would take for an ID card.
    assert re.fullmatch(r"P\d{6}[A-HJ-NP-Z]{9}", order.txn_ref)
    assert order.created_at.microsecond == 0
    assert order.expires_at - order.created_at == timedelta(minutes=20)
    assert orders_for(purpose="admission_wish_fee", reference="C0001:2026").get() == order
    assert order_paid_for(purpose="admission_wish_fee", reference="C0001:2026") is None


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"amount": 4_999}, "invalid_amount"),
        ({"amount": 1_000_000_000}, "invalid_amount"),
        ({"amount": 150_000.0}, "invalid_amount"),
        ({"amount": True}, "invalid_amount"),
        ({"purpose": "Admission Fee"}, "invalid_purpose"),
        ({"purpose": ""}, "invalid_purpose"),
        ({"reference": "x" * 101}, "invalid_reference"),
        ({"description": ""}, "invalid_description"),
        ({"description": "Lệ phí của 001217001234"}, "invalid_description"),
        ({"expires_in": timedelta(0)}, "invalid_expiry"),
    ],
)
def test_invalid_orders_are_refused_in_both_languages(kwargs, code):
    with pytest.raises(PaymentError) as refused:
        new_order(**kwargs)
    assert refused.value.code == code
    assert refused.value.message_vi != refused.value.message_en
    assert " / " in refused.value.bilingual()
    assert not PaymentOrder.objects.exists()


def test_the_database_refuses_a_paid_amount_that_is_not_the_amount():
    order = new_order()
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentOrder.objects.filter(pk=order.pk).update(
            status="paid", paid_amount=order.amount + 1, transaction_no="14000001"
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentOrder.objects.filter(pk=order.pk).update(status="paid")  # no amount, no number
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentOrder.objects.filter(pk=order.pk).update(amount=0)
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentOrder.objects.filter(pk=order.pk).update(status="refunded")
    order.refresh_from_db()
    assert order.status == "pending" and order.paid_amount is None


def test_events_are_append_only():
    order = new_order()
    event = PaymentEvent.objects.create(order=order, source="ipn", outcome="paid")
    event.outcome = "failed"
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(ValueError, match="append-only"):
        event.delete()
    assert PaymentEvent.objects.get().outcome == "paid"


def test_the_redirect_carries_the_order_signed(gateway):
    order = new_order(amount=150_000, description="Lệ phí đăng ký 3 nguyện vọng")
    url = payment_redirect_url(order=order, ip="203.0.113.7")
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert url.startswith(f"{gateway.url}/pay?")
    assert query["vnp_Amount"] == "15000000" and query["vnp_TxnRef"] == order.txn_ref
    assert query["vnp_OrderInfo"] == f"Le phi dang ky 3 nguyen vong {order.txn_ref}"
    assert query["vnp_IpAddr"] == "203.0.113.7" and len(query["vnp_SecureHash"]) == 128
    assert gateway.open_page(url).status_code == 200
    # An address we cannot use is replaced by ours rather than sent to the gateway.
    odd = payment_redirect_url(order=order, ip="unknown")
    assert "vnp_IpAddr=127.0.0.1" in odd


def test_no_redirect_for_a_settled_or_expired_order(gateway):
    settled = new_order()
    PaymentOrder.objects.filter(pk=settled.pk).update(status="cancelled")
    settled.refresh_from_db()
    with pytest.raises(PaymentError) as closed:
        payment_redirect_url(order=settled, ip="203.0.113.7")
    assert closed.value.code == "not_payable"
    late = new_order()
    PaymentOrder.objects.filter(pk=late.pk).update(expires_at=timezone.now())
    late.refresh_from_db()
    with pytest.raises(PaymentError) as expired:
        payment_redirect_url(order=late, ip="203.0.113.7")
    assert expired.value.code == "expired"


def test_order_info_is_plain_ascii_for_the_gateway():
    assert order_info_text("Lệ phí xét tuyển — Đợt 1 (2026)") == "Le phi xet tuyen Dot 1 2026"
    assert order_info_text("<script>") == "script"
    assert order_info_text("!!!") == "Thanh toan"
