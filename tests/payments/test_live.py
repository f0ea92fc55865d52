"""End to end over the network: the simulator's process notifies our live server (IPN) and
sends the payer back to its return page. Late, repeated, held, reordered and retried
notifications, a lost return, and (PostgreSQL) notifications racing each other and
reconciliation: the order is settled once, with the right amount, whatever the order.

On SQLite the live server shares the test's one in-memory connection, so these tests never
let two requests reach it at once; the races run on PostgreSQL only.
"""

import threading
import time
from datetime import timedelta

import httpx
import pytest
from django.db import DatabaseError, connection, connections

from vnemis.payments.models import PaymentEvent, PaymentOrder
from vnemis.payments.reconcile import payments_reconcile

from .conftest import NOWHERE
from .helpers import new_order, pay

pytestmark = [
    pytest.mark.usefixtures("audit_log_flushable"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def answers(txn: dict) -> list:
    return [a["rsp_code"] for a in txn["ipn_attempts"]]


def test_pay_then_ipn_then_the_return_page(live_gateway):
    order = new_order(amount=230_000)
    _, location = pay(live_gateway, order)
    txn = live_gateway.wait_ipn(order.txn_ref)
    assert answers(txn) == ["00"] and txn["ipn_state"] == "delivered"
    page = httpx.get(location)
    assert page.status_code == 200 and "Thanh toán thành công" in page.text
    assert "230.000 ₫" in page.text
    order.refresh_from_db()
    assert (order.status, order.paid_amount, order.settled_by) == ("paid", 230_000, "ipn")


def test_an_unanswered_ipn_is_retried_until_our_server_answers(live_gateway, live_server):
    live_gateway.configure(ipn_url=NOWHERE, ipn_retry_s=1.0)
    order = new_order()
    pay(live_gateway, order)
    live_gateway.wait_ipn(order.txn_ref, attempts=1, ipn_state="sending")
    live_gateway.configure(ipn_url=f"{live_server.url}/payments/ipn/")
    txn = live_gateway.wait_ipn(order.txn_ref, attempts=2)
    assert [a["error"] for a in txn["ipn_attempts"]][:1] == ["unreachable"]
    assert answers(txn)[-1] == "00" and txn["ipn_state"] == "delivered"
    order.refresh_from_db()
    assert order.status == "paid"


def test_an_ipn_sent_twice_settles_once(live_gateway):
    live_gateway.configure(ipn_copies=2)
    order = new_order()
    pay(live_gateway, order)
    txn = live_gateway.wait_ipn(order.txn_ref, attempts=2)
    assert answers(txn) == ["00", "02"]
    order.refresh_from_db()
    assert order.status == "paid" and order.paid_amount == order.amount
    assert list(order.events.values_list("outcome", flat=True)) == ["paid", "duplicate"]


def test_a_late_ipn_after_the_return_page_settled_the_order(live_gateway):
    live_gateway.configure(ipn_delay_s=2.0)
    order = new_order()
    _, location = pay(live_gateway, order)
    page = httpx.get(location)  # before the IPN: the page asks the gateway
    assert "Thanh toán thành công" in page.text
    txn = live_gateway.wait_ipn(order.txn_ref)
    assert answers(txn) == ["02"]
    order.refresh_from_db()
    assert order.status == "paid" and order.settled_by == "query"


def test_notifications_released_out_of_order_settle_each_order(live_gateway):
    live_gateway.configure(ipn_hold=True)
    first, second = new_order(amount=50_000), new_order(amount=70_000)
    _, cancel_location = pay(live_gateway, first, action="cancel")
    pay(live_gateway, second)
    assert live_gateway.stats()["held"] == 2
    assert live_gateway.release("reverse") == 2
    a = live_gateway.wait_ipn(first.txn_ref)
    b = live_gateway.wait_ipn(second.txn_ref)
    assert b["ipn_attempts"][0]["at"] < a["ipn_attempts"][0]["at"]  # newest went first
    assert answers(a) == answers(b) == ["00"]
    first.refresh_from_db(), second.refresh_from_db()
    assert (first.status, first.paid_amount) == ("cancelled", None)
    assert (second.status, second.paid_amount) == ("paid", 70_000)
    assert "Bạn đã huỷ giao dịch" in httpx.get(cancel_location).text


def test_a_lost_return_still_settles_by_ipn(live_gateway):
    live_gateway.configure(return_lost=True)
    order = new_order()
    _, location = pay(live_gateway, order)
    assert location == ""
    assert answers(live_gateway.wait_ipn(order.txn_ref)) == ["00"]
    order.refresh_from_db()
    assert order.status == "paid" and not order.events.filter(source="return").exists()


# --- races (PostgreSQL) ---------------------------------------------------------------------


def needs_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent database connections (PostgreSQL)")


def test_concurrent_copies_from_the_gateway_settle_once(live_gateway):
    needs_postgres()
    live_gateway.configure(ipn_copies=6, ipn_concurrent=True)
    order = new_order(amount=120_000)
    pay(live_gateway, order)
    txn = live_gateway.wait_ipn(order.txn_ref, attempts=6)
    assert sorted(answers(txn)) == ["00"] + ["02"] * 5
    order.refresh_from_db()
    assert order.status == "paid" and order.paid_amount == 120_000
    outcomes = list(order.events.values_list("outcome", flat=True))
    assert sorted(outcomes) == ["duplicate"] * 5 + ["paid"]


def test_duplicate_ipns_and_reconciliation_racing_settle_once(live_gateway, live_server):
    needs_postgres()
    live_gateway.configure(ipn_never=True)
    orders = [new_order(amount=100_000 + 1_000 * i) for i in range(3)]
    queries = [pay(live_gateway, order)[0]["result_query"] for order in orders]
    threads_per_order = 6
    barrier = threading.Barrier(threads_per_order * len(orders) + 1)
    codes: list[str] = []
    errors: list[Exception] = []

    def notify(query: str) -> None:
        try:
            barrier.wait()
            answer = httpx.get(f"{live_server.url}/payments/ipn/?{query}", timeout=30)
            codes.append(answer.json()["RspCode"])
        except Exception as exc:
            errors.append(exc)

    def reconcile() -> None:
        try:
            barrier.wait()
            payments_reconcile(older_than=timedelta(0))
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=notify, args=(q,)) for q in queries
               for _ in range(threads_per_order)]  # fmt: skip
    threads.append(threading.Thread(target=reconcile))
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert set(codes) <= {"00", "02"} and codes.count("00") <= len(orders)
    for order in orders:
        order.refresh_from_db()
        assert order.status == "paid" and order.paid_amount == order.amount
        changes = order.events.filter(outcome="paid").count()
        assert changes == 1, list(order.events.values_list("source", "outcome"))
    assert PaymentEvent.objects.filter(outcome__in=["discrepancy", "amount_mismatch"]).count() == 0
    assert PaymentOrder.objects.filter(needs_review=True).count() == 0


def test_the_ipn_answers_99_when_the_database_fails(live_gateway, live_server, monkeypatch):
    # A storage failure must make the gateway retry, never a false confirmation.
    def broken(**kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr("vnemis.payments.actions.order_settle", broken)
    live_gateway.configure(ipn_attempts=2, ipn_retry_s=0.2)
    order = new_order()
    pay(live_gateway, order)
    txn = live_gateway.wait_ipn(order.txn_ref, attempts=2)
    assert answers(txn) == ["99", "99"] and txn["ipn_state"] == "gave_up"
    time.sleep(0.1)
    order.refresh_from_db()
    assert order.status == "pending"
