"""Paying in a real browser: a logged-in citizen starts the payment on our site, pays on the
simulator's page, and lands on our return page, which says the payment succeeded; another
order is cancelled on the gateway's page. Screenshots land in var/screenshots/.

Notifications are held until the page has been seen (on SQLite the live server has one
connection, so the IPN must not arrive during the return request); released, they are
answered "already confirmed".
"""

import re

import pytest
from browser_support import SCREENSHOTS, log_in

from .helpers import new_order

pytestmark = [
    pytest.mark.browser,
    pytest.mark.usefixtures("audit_log_flushable"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_a_citizen_pays_on_the_gateway_page_and_lands_on_our_return_page(
    page, live_server, live_gateway, users
):
    from playwright.sync_api import expect

    live_gateway.configure(ipn_hold=True)
    citizen = users["citizen"]
    order = new_order(amount=60_000, payer=citizen, description="Lệ phí xét tuyển 2 nguyện vọng")
    base = live_server.url
    log_in(page, base, citizen.username)
    page.goto(f"{base}/payments/pay/{order.txn_ref}/")
    page.wait_for_url(re.compile(re.escape(live_gateway.url) + r"/pay\?"))
    expect(page.locator("#amount")).to_have_text("60.000 ₫")
    expect(page.locator("#txn-ref")).to_have_text(order.txn_ref)
    page.get_by_label("Ngân hàng").select_option("VCB")
    page.screenshot(path=str(SCREENSHOTS / "payment_gateway_page.png"), full_page=True)
    page.get_by_role("button", name="Thanh toán", exact=True).click()
    page.wait_for_url(re.compile(re.escape(base) + r"/payments/return/\?"))
    expect(page.locator("#payment-result")).to_have_attribute("data-status", "paid")
    expect(page.get_by_role("status")).to_contain_text("Thanh toán thành công")
    expect(page.locator("#amount")).to_have_text("60.000 ₫")
    page.screenshot(path=str(SCREENSHOTS / "payment_return_paid.png"), full_page=True)
    order.refresh_from_db()
    assert order.status == "paid" and order.bank_code == "VCB" and order.settled_by == "query"
    assert live_gateway.release() == 1
    assert [a["rsp_code"] for a in live_gateway.wait_ipn(order.txn_ref)["ipn_attempts"]] == ["02"]

    second = new_order(amount=60_000, payer=citizen)
    page.goto(f"{base}/payments/pay/{second.txn_ref}/")
    page.get_by_role("button", name="Hủy giao dịch").click()
    page.wait_for_url(re.compile(re.escape(base) + r"/payments/return/\?"))
    expect(page.get_by_role("status")).to_contain_text("Bạn đã huỷ giao dịch")
    second.refresh_from_db()
    assert second.status == "failed" and second.paid_amount is None
