"""The payment-gateway simulator on its own, over real HTTP against its process: the redirect's
checks (signature over every field, expiry, merchant, formats), the payment page, the
result, the query API's checks, administration, and the ``vnemis sim payment`` command."""

import hashlib
import hmac
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
from payment_sim_support import running_payment_simulator

from .conftest import MERCHANT_CODE, MERCHANT_SECRET, OTHER_SECRET
from .helpers import sign

VN = timezone(timedelta(hours=7))
QUERY = "/merchant_webapi/api/transaction"
_counter = iter(range(10**6))


def vn(moment: datetime) -> str:
    return moment.astimezone(VN).strftime("%Y%m%d%H%M%S")


def request_params(**changes) -> dict:
    now = datetime.now(UTC)
    params = {
        "vnp_Version": "2.1.0",
        "vnp_Command": "pay",
        "vnp_TmnCode": MERCHANT_CODE,
        "vnp_Amount": "15000000",
        "vnp_CurrCode": "VND",
        "vnp_TxnRef": f"SIM{next(_counter):06d}{now:%H%M%S%f}",
        "vnp_OrderInfo": "Le phi xet tuyen",
        "vnp_OrderType": "other",
        "vnp_Locale": "vn",
        "vnp_ReturnUrl": "http://merchant.example/payments/return/",
        "vnp_IpAddr": "203.0.113.7",
        "vnp_CreateDate": vn(now),
        "vnp_ExpireDate": vn(now + timedelta(minutes=15)),
    }
    params.update(changes)
    return {k: v for k, v in params.items() if v is not None}


def open_page(sim, params: dict, secret: str = MERCHANT_SECRET) -> httpx.Response:
    return httpx.get(f"{sim.url}/pay?{sign(params, secret)}")


def error_code(response: httpx.Response) -> str:
    found = re.search(r'id="error-code">([^<]+)<', response.text)
    return found.group(1) if found else ""


@pytest.fixture
def sim(paysim):
    paysim.calm()
    yield paysim
    paysim.calm()


# --- the redirect ------------------------------------------------------------------------------


def test_a_signed_redirect_opens_the_vietnamese_payment_page(sim):
    params = request_params()
    page = open_page(sim, params)
    assert page.status_code == 200
    assert 'lang="vi"' in page.text and "Cổng thanh toán" in page.text
    assert "150.000 ₫" in page.text and params["vnp_TxnRef"] in page.text
    assert 'name="action" value="pay"' in page.text and 'value="cancel"' in page.text


def test_the_signed_text_is_sorted_url_encoded_pairs(sim):
    # A known answer written out by hand: sorted keys, spaces as "+", ":" and "/" escaped.
    params = {
        "vnp_OrderInfo": "Le phi: 2 NV",
        "vnp_Amount": "1000000",
        "vnp_ReturnUrl": "http://a/b",
    }
    text = "vnp_Amount=1000000&vnp_OrderInfo=Le+phi%3A+2+NV&vnp_ReturnUrl=http%3A%2F%2Fa%2Fb"
    digest = hmac.new(b"k" * 8, text.encode(), hashlib.sha512).hexdigest()
    assert sign(params, "k" * 8) == f"{text}&vnp_SecureHash={digest}"


@pytest.mark.parametrize(
    "field",
    ["vnp_Amount", "vnp_TxnRef", "vnp_OrderInfo", "vnp_ReturnUrl", "vnp_IpAddr",
     "vnp_CreateDate", "vnp_ExpireDate", "vnp_Locale", "vnp_OrderType", "vnp_CurrCode",
     "vnp_Version", "vnp_Command"],
)  # fmt: skip
def test_changing_any_signed_field_after_signing_is_refused(sim, field):
    params = request_params()
    query = sign(params, MERCHANT_SECRET)
    value = params[field]
    tampered = query.replace(f"{field}=", f"{field}={'9' if value[:1] != '9' else '8'}", 1)
    page = httpx.get(f"{sim.url}/pay?{tampered}")
    assert page.status_code == 400
    assert error_code(page) == "70" and "Sai chữ ký" in page.text and "Wrong signature" in page.text


def test_an_added_vnp_parameter_breaks_the_signature(sim):
    query = sign(request_params(), MERCHANT_SECRET) + "&vnp_BankCode=VCB"
    assert error_code(httpx.get(f"{sim.url}/pay?{query}")) == "70"


def test_signed_with_another_merchants_secret_is_refused(sim):
    assert error_code(open_page(sim, request_params(), OTHER_SECRET)) == "70"


def test_an_unknown_merchant_is_refused(sim):
    page = open_page(sim, request_params(vnp_TmnCode="NOBODY99"))
    assert page.status_code == 400 and error_code(page) == "72"


def test_an_expired_link_is_refused_with_a_clear_page(sim):
    past = datetime.now(UTC) - timedelta(minutes=1)
    page = open_page(
        sim,
        request_params(vnp_CreateDate=vn(past - timedelta(minutes=15)), vnp_ExpireDate=vn(past)),
    )
    assert page.status_code == 400 and error_code(page) == "15"
    assert "quá thời gian chờ thanh toán" in page.text and "expired" in page.text


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"vnp_Amount": None}, "vnp_Amount"),
        ({"vnp_SecureHash": None}, "vnp_SecureHash"),
        ({"vnp_Amount": "15000050"}, "vnp_Amount"),
        ({"vnp_Amount": "-100"}, "vnp_Amount"),
        ({"vnp_Amount": "100"}, "vnp_Amount"),
        ({"vnp_Amount": "100000000000"}, "vnp_Amount"),
        ({"vnp_CurrCode": "USD"}, "vnp_CurrCode"),
        ({"vnp_Version": "2.0.0"}, "vnp_Version"),
        ({"vnp_Command": "refund"}, "vnp_Command"),
        ({"vnp_TxnRef": "a b"}, "vnp_TxnRef"),
        ({"vnp_OrderInfo": "Lệ phí"}, "vnp_OrderInfo"),
        ({"vnp_ReturnUrl": "javascript:alert(1)"}, "vnp_ReturnUrl"),
        ({"vnp_IpAddr": "not-an-ip"}, "vnp_IpAddr"),
        ({"vnp_CreateDate": "20250231120000"}, "vnp_CreateDate"),
        ({"vnp_ExpireDate": "soon"}, "vnp_ExpireDate"),
        ({"vnp_Locale": "fr"}, "vnp_Locale"),
    ],
)
def test_malformed_signed_requests_name_the_field_in_both_languages(sim, changes, named):
    params = request_params(**changes)
    if "vnp_SecureHash" in changes:
        query = "&".join(f"{k}={v}" for k, v in params.items())
    else:
        query = sign(params, MERCHANT_SECRET)
    page = httpx.get(f"{sim.url}/pay?{query}")
    assert page.status_code == 400 and error_code(page) == "03", page.text
    assert named in page.text
    assert re.search(r'id="error-vi">[^<]*(Thiếu|không hợp lệ)', page.text)
    assert re.search(r'id="error-en">[^<]*(missing|invalid)', page.text)


def test_repeated_parameters_and_bad_encoding_are_refused(sim):
    query = sign(request_params(), MERCHANT_SECRET)
    assert error_code(httpx.get(f"{sim.url}/pay?{query}&vnp_Amount=1")) == "03"
    assert error_code(httpx.get(f"{sim.url}/pay?{query}&x=%FF%FE")) == "03"
    long = httpx.get(f"{sim.url}/pay?{query}&x={'a' * 9000}")
    assert long.status_code == 400 and error_code(long) == "03"


def test_reopening_the_same_request_shows_the_same_page_but_a_changed_one_is_refused(sim):
    params = request_params()
    first = open_page(sim, params)
    again = open_page(sim, params)
    token = re.compile(r'name="txn" value="([^"]+)"')
    assert token.search(first.text).group(1) == token.search(again.text).group(1)
    other = open_page(sim, {**params, "vnp_Amount": "20000000"})
    assert error_code(other) == "94"


# --- the payer's choice -----------------------------------------------------------------------


def test_paying_redirects_to_the_return_url_with_a_signed_result(sim):
    params = request_params()
    answer = sim.pay(f"{sim.url}/pay?{sign(params, MERCHANT_SECRET)}", bank="VCB")
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith(params["vnp_ReturnUrl"] + "?")
    txn = sim.transaction(params["vnp_TxnRef"])
    result = txn["result"]
    assert result["vnp_ResponseCode"] == "00" and result["vnp_TransactionStatus"] == "00"
    assert result["vnp_Amount"] == "15000000" and result["vnp_BankCode"] == "VCB"
    assert re.fullmatch(r"\d{8}", result["vnp_TransactionNo"])
    assert location.endswith(txn["result_query"])
    assert sign(result, MERCHANT_SECRET) == txn["result_query"]  # verifiable by the merchant
    # A paid reference cannot be paid again.
    again = sim.open_page(f"{sim.url}/pay?{sign(params, MERCHANT_SECRET)}")
    assert again.status_code == 400 and error_code(again) == "94"


@pytest.mark.parametrize(
    ("choice", "code", "status"),
    [({"action": "cancel"}, "24", "02"), ({"result": "51"}, "51", "02"), ({}, "00", "00")],
)
def test_the_result_code_follows_the_payers_choice(sim, choice, code, status):
    params = request_params()
    sim.pay(f"{sim.url}/pay?{sign(params, MERCHANT_SECRET)}", **choice)
    txn = sim.transaction(params["vnp_TxnRef"])
    assert (txn["response_code"], txn["transaction_status"]) == (code, status)
    if code == "24":
        assert txn["transaction_no"] == "0"


def test_a_page_left_open_past_its_expiry_ends_in_timeout(sim):
    now = datetime.now(UTC)
    params = request_params(vnp_ExpireDate=vn(now + timedelta(seconds=2)))
    page = open_page(sim, params)
    token = re.search(r'name="txn" value="([^"]+)"', page.text).group(1)
    import time

    time.sleep(2.2)
    httpx.post(f"{sim.url}/pay/confirm", data={"txn": token, "action": "pay"})
    assert sim.transaction(params["vnp_TxnRef"])["response_code"] == "11"


def test_a_lost_return_shows_a_finished_page_without_a_redirect(sim):
    sim.configure(return_lost=True)
    params = request_params()
    answer = sim.pay(f"{sim.url}/pay?{sign(params, MERCHANT_SECRET)}")
    assert answer.status_code == 200 and "location" not in answer.headers
    assert "Giao dịch đã được ghi nhận" in answer.text


def test_the_confirm_form_refuses_unknown_transactions_and_choices(sim):
    unknown = httpx.post(f"{sim.url}/pay/confirm", data={"txn": "nope", "action": "pay"})
    assert unknown.status_code == 404 and error_code(unknown) == "01"
    page = open_page(sim, request_params())
    token = re.search(r'name="txn" value="([^"]+)"', page.text).group(1)
    for bad in (
        {"action": "steal"},
        {"action": "pay", "bank": "XYZ"},
        {"action": "pay", "result": "99"},
    ):
        answer = httpx.post(f"{sim.url}/pay/confirm", data={"txn": token, **bad})
        assert answer.status_code == 400 and error_code(answer) == "03"


def test_an_amount_delta_changes_the_reported_amount_but_stays_signed(sim):
    sim.configure(amount_delta=1_000)
    params = request_params()
    sim.pay(f"{sim.url}/pay?{sign(params, MERCHANT_SECRET)}")
    txn = sim.transaction(params["vnp_TxnRef"])
    assert txn["result"]["vnp_Amount"] == "15100000"
    assert sign(txn["result"], MERCHANT_SECRET) == txn["result_query"]


# --- the query API -----------------------------------------------------------------------------


REQUEST_FIELDS = ("vnp_RequestId", "vnp_Version", "vnp_Command", "vnp_TmnCode", "vnp_TxnRef",
                  "vnp_TransactionDate", "vnp_CreateDate", "vnp_IpAddr", "vnp_OrderInfo")  # fmt: skip
RESPONSE_FIELDS = ("vnp_ResponseId", "vnp_Command", "vnp_ResponseCode", "vnp_Message",
                   "vnp_TmnCode", "vnp_TxnRef", "vnp_Amount", "vnp_BankCode", "vnp_PayDate",
                   "vnp_TransactionNo", "vnp_TransactionType", "vnp_TransactionStatus",
                   "vnp_OrderInfo", "vnp_PromotionCode", "vnp_PromotionAmount")  # fmt: skip


def pipe(secret: str, values) -> str:
    return hmac.new(secret.encode(), "|".join(values).encode(), hashlib.sha512).hexdigest()


def query_body(ref: str, created: str, secret: str = MERCHANT_SECRET, **changes) -> dict:
    body = {
        "vnp_RequestId": f"R{next(_counter):09d}",
        "vnp_Version": "2.1.0",
        "vnp_Command": "querydr",
        "vnp_TmnCode": MERCHANT_CODE,
        "vnp_TxnRef": ref,
        "vnp_TransactionDate": created,
        "vnp_CreateDate": vn(datetime.now(UTC)),
        "vnp_IpAddr": "127.0.0.1",
        "vnp_OrderInfo": "Truy van",
        **changes,
    }
    body["vnp_SecureHash"] = pipe(secret, (body[f] for f in REQUEST_FIELDS))
    return body


def test_the_query_api_tells_a_paid_transaction_in_a_signed_answer(sim):
    params = request_params()
    sim.pay(f"{sim.url}/pay?{sign(params, MERCHANT_SECRET)}")
    answer = httpx.post(
        f"{sim.url}{QUERY}", json=query_body(params["vnp_TxnRef"], params["vnp_CreateDate"])
    ).json()
    assert answer["vnp_ResponseCode"] == "00" and answer["vnp_TransactionStatus"] == "00"
    assert answer["vnp_Amount"] == "15000000" and answer["vnp_TxnRef"] == params["vnp_TxnRef"]
    assert answer["vnp_SecureHash"] == pipe(MERCHANT_SECRET, (answer[f] for f in RESPONSE_FIELDS))


def test_the_query_api_refuses_what_it_cannot_trust(sim):
    params = request_params()
    open_page(sim, params)  # known to the gateway, not completed
    ref, created = params["vnp_TxnRef"], params["vnp_CreateDate"]

    def ask(body):
        return httpx.post(f"{sim.url}{QUERY}", json=body).json()["vnp_ResponseCode"]

    assert ask(query_body(ref, created)) == "00"
    pending = httpx.post(f"{sim.url}{QUERY}", json=query_body(ref, created)).json()
    assert pending["vnp_TransactionStatus"] == "01"
    assert ask(query_body(ref, created, secret=OTHER_SECRET)) == "97"
    assert ask(query_body(ref, created, vnp_TmnCode="NOBODY99")) == "02"
    assert ask(query_body("NO-SUCH-REF", created)) == "91"
    assert ask(query_body(ref, "20200101000000")) == "91"  # the wrong creation date
    assert ask(query_body(ref, created, vnp_Command="refund")) == "03"
    repeated = query_body(ref, created)
    assert ask(repeated) == "00" and ask(repeated) == "94"
    missing = query_body(ref, created)
    del missing["vnp_TxnRef"]
    assert ask(missing) == "03"
    assert ask({**query_body(ref, created), "vnp_Amount": 5}) == "00"  # unknown fields ignored
    for body in (b"not json", b"[1, 2]", b'{"vnp_TxnRef": 5}'):
        answer = httpx.post(f"{sim.url}{QUERY}", content=body)
        assert answer.status_code == 200 and answer.json()["vnp_ResponseCode"] == "03"


def test_query_faults_answer_as_configured(sim):
    params = request_params()
    open_page(sim, params)
    ref, created = params["vnp_TxnRef"], params["vnp_CreateDate"]
    sim.configure(query_fail_next=["500", "bad_signature"])
    assert httpx.post(f"{sim.url}{QUERY}", json=query_body(ref, created)).status_code == 500
    forged = httpx.post(f"{sim.url}{QUERY}", json=query_body(ref, created)).json()
    assert forged["vnp_SecureHash"] != pipe(MERCHANT_SECRET, (forged[f] for f in RESPONSE_FIELDS))
    sim.configure(query_down=True)
    assert httpx.post(f"{sim.url}{QUERY}", json=query_body(ref, created)).status_code == 503
    sim.configure(query_down=False, query_fail_next=["drop"])
    with pytest.raises(httpx.TransportError):
        httpx.post(f"{sim.url}{QUERY}", json=query_body(ref, created))


# --- administration ----------------------------------------------------------------------------


def test_admin_endpoints_need_the_admin_key_and_check_the_configuration(sim):
    assert httpx.get(f"{sim.url}/_sim/config").status_code == 401
    assert httpx.get(f"{sim.url}/_sim/config", headers={"X-Admin-Key": "wrong"}).status_code == 401
    admin = {"X-Admin-Key": sim.admin_key}
    for bad, named in (
        ({"ipn_copies": 0}, "ipn_copies"), ({"ipn_never": "yes"}, "ipn_never"),
        ({"ipn_url": "file:///etc/passwd"}, "ipn_url"), ({"colour": 1}, "colour"),
        ({"query_fail_next": ["boom"]}, "boom"), ({"ipn_delay_s": -1}, "ipn_delay_s"),
    ):  # fmt: skip
        answer = httpx.post(f"{sim.url}/_sim/config", json=bad, headers=admin)
        assert answer.status_code == 400 and named in answer.json()["error"]["message"]
    assert httpx.post(f"{sim.url}/_sim/config", content=b"[]", headers=admin).status_code == 400
    assert httpx.get(f"{sim.url}/_sim/transactions", headers=admin).status_code == 400
    assert (
        httpx.post(f"{sim.url}/_sim/ipn/release", json={"order": "x"}, headers=admin).status_code
        == 400
    )
    assert httpx.get(f"{sim.url}/nowhere").status_code == 404
    assert httpx.delete(f"{sim.url}/pay").status_code == 405
    health = httpx.get(f"{sim.url}/healthz").json()
    assert health["status"] == "ok" and health["merchants"] == 2


def test_the_request_log_names_routes_and_references_not_the_payers_address(sim):
    params = request_params()
    sim.pay(f"{sim.url}/pay?{sign(params, MERCHANT_SECRET)}")
    log = sim.log_text()
    assert f"ref={params['vnp_TxnRef']}" in log and "POST /pay/confirm 302" in log
    assert "203.0.113.7" not in log and "vnp_SecureHash" not in log


def test_a_notification_nobody_answers_is_retried_then_given_up(sim):
    sim.configure(ipn_never=False, ipn_attempts=2, ipn_retry_s=0.1)
    try:
        params = request_params()
        sim.pay(f"{sim.url}/pay?{sign(params, MERCHANT_SECRET)}")
        txn = sim.wait_ipn(params["vnp_TxnRef"], attempts=2)
        assert txn["ipn_state"] == "gave_up"
        assert [a["error"] for a in txn["ipn_attempts"]] == ["unreachable", "unreachable"]
    finally:
        sim.configure(ipn_never=True, ipn_attempts=3, ipn_retry_s=0.3)


def test_vnemis_sim_payment_runs_the_simulator_and_refuses_bad_options(tmp_path):
    command = [sys.executable, "-m", "vnemis.cli", "sim", "payment"]
    with running_payment_simulator(
        command=command, merchant="ABC123:s3cret-key", quiet=True, return_lost=True
    ) as other:
        assert httpx.get(f"{other.url}/healthz").json()["merchants"] == 1
        assert other.configure()["return_lost"] is True
    bad = subprocess.run(
        [*command, "--port", "0", "--merchant", "lowercase:x"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert bad.returncode != 0 and "CODE:SECRET" in bad.stderr
