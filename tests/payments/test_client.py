"""Our gateway client against the simulator's process: the redirect it signs is accepted, the
results it reads are verified field by field, and the query API is retried, trusted only
when signed, and reported as unavailable when the gateway is down."""

from datetime import UTC, datetime, timedelta

import pytest

from vnemis.payments.gateway_client import (
    GatewayBadAnswer,
    GatewayClient,
    GatewayConfig,
    GatewayRefused,
    GatewayUnavailable,
    NotificationRefused,
)

from .conftest import MERCHANT_CODE, MERCHANT_SECRET, OTHER_CODE, OTHER_SECRET
from .helpers import sign

_refs = iter(range(10**6))


@pytest.fixture
def client(gateway):
    config = GatewayConfig(
        url=gateway.url, tmn_code=MERCHANT_CODE, secret=MERCHANT_SECRET,
        return_url="http://merchant.example/payments/return/", timeout=2.0, retries=2,
        backoff=0.05,
    )  # fmt: skip
    with GatewayClient(config) as c:
        yield c


def signed_redirect(client, ref=None, amount=150_000, **more):
    now = datetime.now(UTC).replace(microsecond=0)
    ref = ref or f"CL{next(_refs):06d}{now:%H%M%S}"
    url = client.payment_url(
        txn_ref=ref, amount=amount, order_info="Le phi xet tuyen", ip="203.0.113.7",
        created=now, expires=now + timedelta(minutes=15), **more,
    )  # fmt: skip
    return ref, now, url


def paid_result(client, gateway, **choice):
    ref, created, url = signed_redirect(client)
    gateway.pay(url, **choice)
    return ref, created, gateway.transaction(ref)


def test_our_signed_redirect_is_accepted_by_the_gateway(client, gateway):
    ref, _, url = signed_redirect(client, amount=1_234_000)
    page = gateway.open_page(url)
    assert page.status_code == 200 and "1.234.000 ₫" in page.text and ref in page.text


def test_the_gateways_result_reads_back_as_a_verified_report(client, gateway):
    ref, _, txn = paid_result(client, gateway, bank="BIDV")
    report, params = client.notification_read(txn["result_query"])
    assert (report.txn_ref, report.amount, report.outcome) == (ref, 150_000, "paid")
    assert report.transaction_no == txn["transaction_no"] and report.bank_code == "BIDV"
    assert report.pay_date is not None and report.pay_date.utcoffset() == timedelta(hours=7)
    assert params["vnp_TxnRef"] == ref


@pytest.mark.parametrize(
    "field",
    ["vnp_Amount", "vnp_BankCode", "vnp_CardType", "vnp_OrderInfo", "vnp_PayDate",
     "vnp_ResponseCode", "vnp_TransactionNo", "vnp_TransactionStatus", "vnp_TxnRef",
     "vnp_BankTranNo"],
)  # fmt: skip
def test_any_field_of_a_result_changed_is_a_bad_signature(client, gateway, field):
    _, _, txn = paid_result(client, gateway)
    query = txn["result_query"].replace(f"{field}=", f"{field}=1", 1)
    with pytest.raises(NotificationRefused) as refused:
        client.notification_read(query)
    assert (refused.value.rsp_code, refused.value.reason) == ("97", "bad_signature")


def test_another_merchants_result_and_a_missing_hash_are_refused(client, gateway):
    _, _, txn = paid_result(client, gateway)
    ours = txn["result"]
    with pytest.raises(NotificationRefused) as other:
        client.notification_read(sign({**ours, "vnp_TmnCode": OTHER_CODE}, OTHER_SECRET))
    assert other.value.reason == "wrong_merchant" and other.value.rsp_code == "97"
    unsigned = txn["result_query"].split("&vnp_SecureHash=")[0]
    with pytest.raises(NotificationRefused) as missing:
        client.notification_read(unsigned)
    assert missing.value.reason == "bad_signature"


@pytest.mark.parametrize(
    "query",
    ["vnp_TxnRef=A&vnp_TxnRef=B&vnp_SecureHash=x", "vnp_TxnRef=%FF&vnp_SecureHash=x",
     "&".join(f"f{i}=1" for i in range(100)), "a=" + "x" * 9000],
)  # fmt: skip
def test_malformed_query_strings_are_refused_before_the_signature(client, query):
    with pytest.raises(NotificationRefused) as refused:
        client.notification_read(query)
    assert (refused.value.rsp_code, refused.value.reason) == ("99", "malformed")


@pytest.mark.parametrize(
    "changes",
    [{"vnp_Amount": "12.5"}, {"vnp_Amount": "15000050"}, {"vnp_ResponseCode": "x"},
     {"vnp_TransactionNo": ""}, {"vnp_PayDate": "yesterday"}, {"vnp_TxnRef": ""}],
)  # fmt: skip
def test_signed_but_malformed_results_are_refused(client, gateway, changes):
    _, _, txn = paid_result(client, gateway)
    with pytest.raises(NotificationRefused) as refused:
        client.notification_read(sign({**txn["result"], **changes}, MERCHANT_SECRET))
    assert refused.value.rsp_code == "99"


def test_query_reports_paid_pending_and_not_found(client, gateway):
    ref, created, txn = paid_result(client, gateway)
    report, answer = client.query(txn_ref=ref, created=created)
    assert report.outcome == "paid" and report.transaction_no == txn["transaction_no"]
    assert report.amount == 150_000 and answer["vnp_ResponseCode"] == "00"
    opened, opened_at, url = signed_redirect(client)
    gateway.open_page(url)
    assert client.query(txn_ref=opened, created=opened_at)[0].outcome == "pending"
    assert client.query(txn_ref="NEVER-SEEN", created=opened_at)[0].outcome == "not_found"
    later = opened_at + timedelta(seconds=1)  # the creation date is part of the key
    assert client.query(txn_ref=opened, created=later)[0].outcome == "not_found"


def test_query_retries_passing_failures(client, gateway):
    ref, created, _ = paid_result(client, gateway)
    gateway.configure(query_fail_next=["500", "drop"])
    assert client.query(txn_ref=ref, created=created)[0].outcome == "paid"


def test_query_gives_up_when_the_gateway_is_down(client, gateway):
    ref, created, _ = paid_result(client, gateway)
    gateway.configure(query_down=True)
    with pytest.raises(GatewayUnavailable):
        client.query(txn_ref=ref, created=created)


def test_query_times_out_and_retries(gateway):
    config = GatewayConfig(url=gateway.url, tmn_code=MERCHANT_CODE, secret=MERCHANT_SECRET,
                           return_url="http://x/", timeout=0.5, retries=1, backoff=0.01)  # fmt: skip
    with GatewayClient(config) as quick:
        ref, created, _ = paid_result(quick, gateway)
        gateway.configure(query_fail_next=["timeout"], hang_s=2)
        assert quick.query(txn_ref=ref, created=created)[0].outcome == "paid"


def test_a_forged_query_answer_is_never_trusted(client, gateway):
    ref, created, _ = paid_result(client, gateway)
    gateway.configure(query_fail_next=["bad_signature"])
    with pytest.raises(GatewayBadAnswer):
        client.query(txn_ref=ref, created=created)


def test_a_wrong_secret_or_merchant_is_refused_not_retried(gateway):
    for code, secret in ((MERCHANT_CODE, "not-our-secret"), ("NOBODY99", MERCHANT_SECRET)):
        config = GatewayConfig(
            url=gateway.url, tmn_code=code, secret=secret, return_url="http://x/"
        )
        with GatewayClient(config) as wrong, pytest.raises(GatewayRefused):
            wrong.query(txn_ref="ANY", created=datetime.now(UTC))


def test_an_unreachable_gateway_is_unavailable():
    config = GatewayConfig(url="http://127.0.0.1:9", tmn_code=MERCHANT_CODE,
                           secret=MERCHANT_SECRET, return_url="http://x/", timeout=1,
                           retries=1, backoff=0.01)  # fmt: skip
    with GatewayClient(config) as down, pytest.raises(GatewayUnavailable):
        down.query(txn_ref="ANY", created=datetime.now(UTC))
