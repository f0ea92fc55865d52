"""The IPN endpoint with real signed notifications from the simulator (fetched from it and
delivered by the test, so each arrives exactly when the test says): settlement, duplicates,
amounts that differ, unknown orders, other merchants, malformed queries, and a handler that
hears of each settlement once."""

import pytest
from django.test import Client

from vnemis.payments.hooks import purpose_register, purpose_unregister
from vnemis.payments.models import PaymentEvent, PaymentOrder

from .conftest import MERCHANT_SECRET, OTHER_CODE, OTHER_SECRET
from .helpers import new_order, pay, sign

pytestmark = pytest.mark.django_db


def send_ipn(client: Client, query: str) -> dict:
    response = client.get(f"/payments/ipn/?{query}")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    return response.json()


def test_a_paid_notification_settles_the_order_once(client, gateway):
    order = new_order(amount=150_000)
    txn, _ = pay(gateway, order, bank="VCB")
    assert send_ipn(client, txn["result_query"]) == {"RspCode": "00", "Message": "Confirm Success"}
    order.refresh_from_db()
    assert order.status == "paid" and order.paid_amount == 150_000
    assert order.transaction_no == txn["transaction_no"] and order.bank_code == "VCB"
    assert order.settled_by == "ipn" and order.paid_at is not None and not order.needs_review
    again = send_ipn(client, txn["result_query"])
    assert again == {"RspCode": "02", "Message": "Order already confirmed"}
    order.refresh_from_db()
    assert order.status == "paid" and order.paid_amount == 150_000
    assert list(order.events.values_list("source", "outcome", "answer")) == [
        ("ipn", "paid", "00"), ("ipn", "duplicate", "02"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("choice", "status", "code"),
    [({"action": "cancel"}, "cancelled", "24"), ({"result": "51"}, "failed", "51")],
)
def test_cancelled_and_failed_payments_settle_without_money(client, gateway, choice, status, code):
    order = new_order()
    txn, _ = pay(gateway, order, **choice)
    assert send_ipn(client, txn["result_query"])["RspCode"] == "00"
    order.refresh_from_db()
    assert (order.status, order.gateway_code, order.paid_amount) == (status, code, None)
    assert send_ipn(client, txn["result_query"])["RspCode"] == "02"


def test_a_different_amount_is_refused_and_never_pays(client, gateway):
    gateway.configure(amount_delta=-50_000)
    order = new_order(amount=150_000)
    txn, _ = pay(gateway, order)
    for _ in range(2):
        assert send_ipn(client, txn["result_query"]) == {
            "RspCode": "04",
            "Message": "Invalid amount",
        }
    order.refresh_from_db()
    assert order.status == "pending" and order.paid_amount is None and order.needs_review
    event = order.events.first()
    assert (event.outcome, event.amount, event.answer) == ("amount_mismatch", 100_000, "04")


def test_an_unknown_order_answers_01(client, gateway):
    from vnemis.payments.gateway_client import GatewayClient

    order = new_order()
    with GatewayClient.from_settings() as ours:  # a reference we never stored
        url = ours.payment_url(txn_ref="PNOTOURS0001", amount=150_000, order_info="x",
                               ip="203.0.113.7", created=order.created_at,
                               expires=order.expires_at)  # fmt: skip
    gateway.pay(url)
    txn = gateway.transaction("PNOTOURS0001")
    assert send_ipn(client, txn["result_query"]) == {"RspCode": "01", "Message": "Order not found"}
    event = PaymentEvent.objects.get(txn_ref="PNOTOURS0001")
    assert event.order is None and event.outcome == "unknown_order"


def test_another_merchants_notification_is_refused(client, gateway):
    order = new_order()
    txn, _ = pay(gateway, order)
    theirs = sign({**txn["result"], "vnp_TmnCode": OTHER_CODE}, OTHER_SECRET)
    assert send_ipn(client, theirs) == {"RspCode": "97", "Message": "Invalid merchant"}
    order.refresh_from_db()
    assert order.status == "pending"
    assert PaymentEvent.objects.get().outcome == "wrong_merchant"


@pytest.mark.parametrize(
    ("tamper", "rsp", "reason"),
    [
        (lambda q: q.replace("vnp_Amount=", "vnp_Amount=9", 1), "97", "bad_signature"),
        (
            lambda q: q.replace("vnp_ResponseCode=00", "vnp_ResponseCode=24", 1),
            "97",
            "bad_signature",
        ),
        (lambda q: q.split("&vnp_SecureHash=")[0], "97", "bad_signature"),
        (lambda q: q + "&vnp_Amount=1", "99", "malformed"),
        (lambda q: q + "&vnp_Extra=%E0%A4", "99", "malformed"),
        (lambda q: q + "&" + "&".join(f"x{i}=1" for i in range(70)), "99", "malformed"),
        (lambda q: "", "97", "bad_signature"),
        (lambda q: "vnp_TxnRef=%00%00&&&==&vnp_SecureHash=", "97", "bad_signature"),
        (lambda q: q + "&pad=" + "a" * 9000, "99", "malformed"),
    ],
)
def test_malformed_or_tampered_notifications_change_nothing(client, gateway, tamper, rsp, reason):
    order = new_order()
    txn, _ = pay(gateway, order)
    answer = send_ipn(client, tamper(txn["result_query"]))
    assert answer["RspCode"] == rsp
    order.refresh_from_db()
    assert order.status == "pending" and order.paid_amount is None
    assert PaymentEvent.objects.get().outcome == reason


def test_signed_but_malformed_fields_answer_99(client, gateway):
    order = new_order()
    txn, _ = pay(gateway, order)
    bad = sign({**txn["result"], "vnp_Amount": "abc"}, MERCHANT_SECRET)
    assert send_ipn(client, bad)["RspCode"] == "99"
    order.refresh_from_db()
    assert order.status == "pending"


def test_only_get_is_served(client):
    assert client.post("/payments/ipn/").status_code == 405


def test_a_payment_after_the_page_expired_ends_the_order_as_expired(client, gateway):
    import time
    from datetime import timedelta

    order = new_order(expires_in=timedelta(seconds=2))
    from .helpers import redirect_of

    page = gateway.open_page(redirect_of(order))
    time.sleep(2.2)
    import re

    import httpx

    token = re.search(r'name="txn" value="([^"]+)"', page.text).group(1)
    httpx.post(f"{gateway.url}/pay/confirm", data={"txn": token, "action": "pay"})
    txn = gateway.transaction(order.txn_ref)
    assert txn["response_code"] == "11"
    assert send_ipn(client, txn["result_query"])["RspCode"] == "00"
    order.refresh_from_db()
    assert order.status == "expired" and order.paid_amount is None


def test_the_purposes_handler_hears_of_a_settlement_once_after_commit(
    client, gateway, django_capture_on_commit_callbacks
):
    heard = []
    purpose_register("test_fee", on_settled=heard.append)
    try:
        order = new_order()
        txn, _ = pay(gateway, order)
        with django_capture_on_commit_callbacks(execute=True):
            send_ipn(client, txn["result_query"])
            send_ipn(client, txn["result_query"])
        assert heard == [order.pk]
    finally:
        purpose_unregister("test_fee")


def test_a_failing_handler_does_not_undo_the_settlement(
    client, gateway, django_capture_on_commit_callbacks
):
    def broken(order_id):
        raise RuntimeError("admissions is down")

    purpose_register("test_fee", on_settled=broken)
    try:
        order = new_order()
        txn, _ = pay(gateway, order)
        with django_capture_on_commit_callbacks(execute=True):
            assert send_ipn(client, txn["result_query"])["RspCode"] == "00"
        order.refresh_from_db()
        assert order.status == "paid"
    finally:
        purpose_unregister("test_fee")


def test_the_ipn_logs_no_query_string(client, gateway, caplog):
    order = new_order()
    txn, _ = pay(gateway, order)
    with caplog.at_level("INFO", logger="vnemis.payments"):
        send_ipn(client, txn["result_query"].replace("vnp_Amount=", "vnp_Amount=9", 1))
        send_ipn(client, txn["result_query"])
    text = caplog.text
    assert order.txn_ref in text and txn["result"]["vnp_TransactionNo"] not in text
    signature = txn["result_query"].rsplit("vnp_SecureHash=", 1)[1]
    assert signature not in text and PaymentOrder.objects.get().status == "paid"
