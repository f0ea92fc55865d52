"""Reconciliation against the simulator's query API: orders whose IPN never came are settled,
links past their expiry with no payment expire, settled orders are re-checked (and a
contradiction is flagged, not applied), late IPNs change nothing, and a gateway that is down
leaves every order as it was and says so."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from vnemis.payments.models import PaymentEvent, PaymentOrder
from vnemis.payments.reconcile import payments_reconcile
from vnemis.payments.tasks import payments_reconcile_run

from .helpers import new_order, pay, redirect_of

pytestmark = pytest.mark.django_db
NOW = timedelta(0)


def test_an_order_whose_ipn_never_came_is_settled_by_reconciliation(client, gateway):
    paid, cancelled, failed = new_order(), new_order(), new_order()
    txn, _ = pay(gateway, paid)
    pay(gateway, cancelled, action="cancel")
    pay(gateway, failed, result="13")
    summary = payments_reconcile(older_than=NOW)
    assert summary.settled == {"paid": 1, "failed": 2} and summary.errors == 0
    paid.refresh_from_db()
    assert paid.status == "paid" and paid.paid_amount == paid.amount
    assert paid.settled_by == "reconcile" and paid.reconciled_at is not None
    assert paid.transaction_no == txn["transaction_no"]
    # The IPN arriving after reconciliation is a duplicate: 02, nothing changes.
    assert client.get(f"/payments/ipn/?{txn['result_query']}").json()["RspCode"] == "02"
    paid.refresh_from_db()
    assert paid.status == "paid" and paid.events.filter(outcome="duplicate").count() == 1
    # A second run finds nothing left to do.
    again = payments_reconcile(older_than=NOW)
    assert again.checked == 0 and not again.settled


def test_young_orders_are_left_for_the_ipn(gateway):
    order = new_order()
    pay(gateway, order)
    assert payments_reconcile(older_than=timedelta(minutes=5)).checked == 0
    order.refresh_from_db()
    assert order.status == "pending"


def test_past_expiry_with_no_payment_the_order_expires(gateway, settings):
    settings.VNEMIS_PAYMENT_EXPIRY_GRACE_MINUTES = 0
    never_opened, opened, fresh = new_order(), new_order(), new_order()
    gateway.open_page(redirect_of(opened))  # the payer looked and left
    past = timezone.now() - timedelta(seconds=1)
    PaymentOrder.objects.filter(pk__in=[never_opened.pk, opened.pk]).update(expires_at=past)
    summary = payments_reconcile(older_than=NOW)
    assert summary.settled == {"expired": 2} and summary.still_pending == 1
    never_opened.refresh_from_db(), opened.refresh_from_db(), fresh.refresh_from_db()
    assert never_opened.status == opened.status == "expired" and fresh.status == "pending"
    assert never_opened.events.get().gateway_code == ""  # 91: the gateway never saw it
    assert opened.events.get().gateway_code == "01"  # seen, never completed


def test_the_grace_period_keeps_a_just_expired_order_pending(gateway, settings):
    settings.VNEMIS_PAYMENT_EXPIRY_GRACE_MINUTES = 10
    order = new_order()
    PaymentOrder.objects.filter(pk=order.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert payments_reconcile(older_than=NOW).still_pending == 1
    order.refresh_from_db()
    assert order.status == "pending"


def test_settled_orders_are_rechecked_once_and_contradictions_are_flagged(client, gateway):
    agreed, contradicted = new_order(), new_order()
    for order in (agreed, contradicted):
        txn, _ = pay(gateway, order)
        client.get(f"/payments/ipn/?{txn['result_query']}")
    # A bug or a hand edit marks a paid order failed: reconciliation must notice, not "fix".
    PaymentOrder.objects.filter(pk=contradicted.pk).update(
        status="failed", paid_amount=None, reconciled_at=None
    )
    summary = payments_reconcile(older_than=NOW)
    assert (summary.confirmed, summary.discrepancies) == (1, 1)
    agreed.refresh_from_db(), contradicted.refresh_from_db()
    assert agreed.reconciled_at is not None and not agreed.needs_review
    assert contradicted.status == "failed" and contradicted.needs_review
    assert contradicted.events.last().outcome == "discrepancy"
    assert payments_reconcile(older_than=NOW).checked == 0  # each is re-checked once


def test_a_different_amount_at_the_gateway_never_settles(gateway):
    gateway.configure(amount_delta=10_000)
    order = new_order()
    pay(gateway, order)
    summary = payments_reconcile(older_than=NOW)
    assert summary.refused == 1 and not summary.settled
    order.refresh_from_db()
    assert order.status == "pending" and order.needs_review and order.paid_amount is None


def test_passing_gateway_failures_are_retried(gateway):
    order = new_order()
    pay(gateway, order)
    gateway.configure(query_fail_next=["500"])
    assert payments_reconcile(older_than=NOW).settled == {"paid": 1}


def test_a_gateway_that_is_down_leaves_orders_pending_and_stops_the_run(gateway, settings):
    orders = [new_order() for _ in range(5)]
    for order in orders:
        pay(gateway, order)
    gateway.configure(query_down=True)
    summary = payments_reconcile(older_than=NOW)
    assert (summary.errors, summary.skipped, summary.checked) == (3, 2, 0)
    assert set(PaymentOrder.objects.values_list("status", flat=True)) == {"pending"}
    assert PaymentEvent.objects.filter(source="reconcile", outcome="error").count() == 3
    out = StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("payments", "reconcile", "--older-than", "0", stdout=out)
    assert "Cổng thanh toán không trả lời" in str(failed.value)
    assert "gateway gave no answer" in str(failed.value)
    assert "Lỗi / Errors" in out.getvalue()
    gateway.configure(query_down=False)
    settings.VNEMIS_PAYMENT_GATEWAY_URL = "http://127.0.0.1:9"  # nobody listens
    assert payments_reconcile(older_than=NOW).errors == 3
    assert set(PaymentOrder.objects.values_list("status", flat=True)) == {"pending"}
    settings.VNEMIS_PAYMENT_GATEWAY_URL = gateway.url
    assert payments_reconcile(older_than=NOW).settled == {"paid": 5}


def test_a_forged_gateway_answer_is_an_error_not_a_settlement(gateway):
    order = new_order()
    pay(gateway, order)
    gateway.configure(query_fail_next=["bad_signature"])
    summary = payments_reconcile(older_than=NOW)
    assert summary.errors == 1 and "gateway_bad_answer" in summary.error_details[0]
    order.refresh_from_db()
    assert order.status == "pending"


def test_the_command_prints_a_summary_and_shows_an_order(client, gateway):
    order = new_order()
    pay(gateway, order)
    out = StringIO()
    call_command("payments", "reconcile", "--older-than", "0", stdout=out)
    text = out.getvalue()
    assert "Đã thanh toán / Paid" in text and "Xong / Done" in text
    assert any(line.split()[-1] == "1" for line in text.splitlines() if "Paid" in line)
    shown = StringIO()
    call_command("payments", "show", order.txn_ref.lower(), stdout=shown)
    assert order.txn_ref in shown.getvalue() and "reconcile" in shown.getvalue()
    with pytest.raises(CommandError, match="No such payment order"):
        call_command("payments", "show", "PNOSUCH")
    with pytest.raises(CommandError, match="at least 0"):
        call_command("payments", "reconcile", "--older-than", "-1")


def test_the_task_runs_a_reconciliation(gateway):
    order = new_order()
    pay(gateway, order)
    result = payments_reconcile_run.enqueue(older_than_minutes=0)
    assert result.return_value["settled"] == {"paid": 1}
    order.refresh_from_db()
    assert order.status == "paid"
