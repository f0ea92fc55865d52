"""The payer's return page: it shows the order as we hold it, asks the gateway when the IPN has
not come yet, never settles from the return itself, and explains bad links in Vietnamese."""

import pytest

from vnemis.payments.hooks import purpose_register, purpose_unregister
from vnemis.payments.models import PaymentEvent, PaymentOrder

from .conftest import MERCHANT_SECRET, OTHER_CODE, OTHER_SECRET
from .helpers import local_path, new_order, pay, sign

pytestmark = pytest.mark.django_db


def test_after_the_ipn_the_return_page_says_paid(client, gateway):
    order = new_order(amount=150_000)
    txn, location = pay(gateway, order)
    client.get(f"/payments/ipn/?{txn['result_query']}")
    page = client.get(local_path(location))
    text = page.content.decode()
    assert page.status_code == 200 and "Thanh toán thành công" in text
    assert order.txn_ref in text and "150.000 ₫" in text and 'data-status="paid"' in text
    assert "Refresh" not in page
    assert gateway.stats()["queries_by_code"].get("00", 0) >= 0  # no query needed: paid already


def test_without_an_ipn_the_return_page_asks_the_gateway_and_settles_from_its_answer(
    client, gateway
):
    order = new_order()
    txn, location = pay(gateway, order)  # the IPN is never sent (the fixture's default)
    before = gateway.stats()["queries"]
    page = client.get(local_path(location))
    assert "Thanh toán thành công" in page.content.decode()
    assert gateway.stats()["queries"] == before + 1
    order.refresh_from_db()
    assert order.status == "paid" and order.settled_by == "query" and order.reconciled_at
    assert list(order.events.values_list("source", "outcome")) == [
        ("return", "received"), ("query", "paid"),
    ]  # fmt: skip
    # The IPN arriving late changes nothing.
    late = client.get(f"/payments/ipn/?{txn['result_query']}").json()
    assert late["RspCode"] == "02"
    # A reload neither queries again (settled) nor records another return.
    client.get(local_path(location))
    assert gateway.stats()["queries"] == before + 1
    assert order.events.filter(source="return").count() == 1


def test_when_the_gateway_cannot_confirm_the_page_says_confirming_and_refreshes(client, gateway):
    order = new_order()
    _, location = pay(gateway, order)
    gateway.configure(query_down=True)
    page = client.get(local_path(location))
    text = page.content.decode()
    assert page.status_code == 200 and "đang xác nhận thanh toán" in text
    assert "Vui lòng không thanh toán lại" in text and page["Refresh"] == "5"
    order.refresh_from_db()
    assert order.status == "pending"  # the return's own "00" is not believed
    assert order.events.filter(source="query", outcome="error").exists()
    gateway.configure(query_down=False)
    assert "Thanh toán thành công" in client.get(local_path(location)).content.decode()


def test_a_cancelled_payment_is_shown_as_cancelled(client, gateway):
    order = new_order()
    txn, location = pay(gateway, order, action="cancel")
    text = client.get(local_path(location)).content.decode()
    # Before the IPN, the query API knows "failed" only; the signed return tells why.
    assert "Thanh toán không thành công" in text and "Bạn đã huỷ giao dịch" in text
    order.refresh_from_db()
    assert order.status == "failed"
    client.get(f"/payments/ipn/?{txn['result_query']}")  # the IPN says 24: still no money
    order.refresh_from_db()
    assert order.status == "failed"
    cancelled = new_order()
    txn, location = pay(gateway, cancelled, action="cancel")
    client.get(f"/payments/ipn/?{txn['result_query']}")
    text = client.get(local_path(location)).content.decode()
    assert "Bạn đã huỷ giao dịch. Đơn chưa được thanh toán." in text


def test_a_failed_payment_says_why(client, gateway):
    order = new_order()
    txn, location = pay(gateway, order, result="51")
    client.get(f"/payments/ipn/?{txn['result_query']}")
    text = client.get(local_path(location)).content.decode()
    assert "Thanh toán không thành công" in text and "không đủ số dư" in text


def test_a_forged_return_claiming_success_is_refused(client, gateway):
    order = new_order()
    _, location = pay(gateway, order, action="cancel")
    forged = local_path(location).replace("vnp_ResponseCode=24", "vnp_ResponseCode=00")
    page = client.get(forged)
    assert page.status_code == 400 and "Chữ ký" in page.content.decode()
    order.refresh_from_db()
    assert order.status == "pending"
    assert PaymentEvent.objects.get().outcome == "bad_signature"


def test_bad_return_links_are_explained(client, gateway):
    order = new_order()
    txn, _ = pay(gateway, order)
    theirs = sign({**txn["result"], "vnp_TmnCode": OTHER_CODE}, OTHER_SECRET)
    assert client.get(f"/payments/return/?{theirs}").status_code == 400
    assert client.get("/payments/return/?vnp_TxnRef=a&vnp_TxnRef=b").status_code == 400
    assert client.get("/payments/return/?vnp_TxnRef=%00&vnp_SecureHash=%00").status_code == 400
    assert client.get("/payments/return/").status_code == 400
    unknown = sign({**txn["result"], "vnp_TxnRef": "PUNKNOWN"}, MERCHANT_SECRET)
    page = client.get(f"/payments/return/?{unknown}")
    assert page.status_code == 404 and "Không tìm thấy đơn" in page.content.decode()
    assert PaymentOrder.objects.get().status == "pending"


def test_the_return_page_in_english(client, gateway):
    order = new_order()
    txn, location = pay(gateway, order)
    client.get(f"/payments/ipn/?{txn['result_query']}")
    client.cookies["django_language"] = "en"
    page = client.get(local_path(location))
    assert page.status_code == 200 and 'lang="en"' in page.content.decode()


def test_the_purpose_says_where_the_payer_goes_next(client, gateway):
    purpose_register("test_fee", next_url=lambda order: f"/admissions/wishes/?paid={order.txn_ref}")
    try:
        order = new_order()
        _, location = pay(gateway, order)
        text = client.get(local_path(location)).content.decode()
        assert f'href="/admissions/wishes/?paid={order.txn_ref}"' in text
    finally:
        purpose_unregister("test_fee")


def test_the_pay_page_sends_only_the_payer_to_the_gateway(client, gateway, users):
    payer, other = users["citizen"], users["school"]
    order = new_order(payer=payer)
    assert client.get(f"/payments/pay/{order.txn_ref}/").status_code == 302  # to the log-in
    client.force_login(other)
    assert client.get(f"/payments/pay/{order.txn_ref}/").status_code == 404
    client.force_login(payer)
    answer = client.get(f"/payments/pay/{order.txn_ref}/")
    assert answer.status_code == 302 and answer["Location"].startswith(f"{gateway.url}/pay?")
    assert gateway.open_page(answer["Location"]).status_code == 200
    PaymentOrder.objects.filter(pk=order.pk).update(status="cancelled")
    closed = client.get(f"/payments/pay/{order.txn_ref}/")
    assert closed.status_code == 409 and "không thể thanh toán" in closed.content.decode()


def test_the_staff_list_is_the_ministrys_and_filters(client, gateway, users):
    ministry, department = users["ministry"], users["department"]
    paid = new_order(reference="C1:2026")
    txn, _ = pay(gateway, paid)
    client.get(f"/payments/ipn/?{txn['result_query']}")
    waiting = new_order(reference="C2:2026")
    client.force_login(department)
    assert client.get("/payments/orders/").status_code == 403
    assert client.get(f"/payments/orders/{paid.txn_ref}/").status_code == 403
    client.force_login(ministry)
    everything = client.get("/payments/orders/").content.decode()
    assert paid.txn_ref in everything and waiting.txn_ref in everything
    only_paid = client.get("/payments/orders/?status=paid").content.decode()
    assert paid.txn_ref in only_paid and waiting.txn_ref not in only_paid
    by_ref = client.get("/payments/orders/?q=C2:2026").content.decode()
    assert waiting.txn_ref in by_ref and paid.txn_ref not in by_ref
    detail = client.get(f"/payments/orders/{paid.txn_ref}/").content.decode()
    assert "Thông báo IPN" in detail and "paid" in detail
    assert client.get("/payments/orders/PNOSUCH/").status_code == 404
