"""Client of the payment gateway (VNPay-style, or ``vnemis sim payment``).

Three jobs: build the signed redirect that sends a payer to the gateway (``payment_url``);
read and verify what the gateway sends back, by the payer's browser (return) or server to
server (IPN), into a ``GatewayReport`` (``notification_read``); and ask the gateway for a
transaction's state (``query``, the ``querydr`` API: signed JSON both ways, with timeouts and
retries with backoff). The client holds no database state: settling an order is
``settlement``'s job.
"""

import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl

import httpx

from . import signing
from .conf import setting

VN = timezone(timedelta(hours=7))  # the gateway's dates are Vietnam time, no daylight saving
DATE_FORMAT = "%Y%m%d%H%M%S"
VERSION = "2.1.0"
PAY_PATH = "/pay"
QUERY_PATH = "/merchant_webapi/api/transaction"
QUERY_REQUEST_FIELDS = (
    "vnp_RequestId", "vnp_Version", "vnp_Command", "vnp_TmnCode", "vnp_TxnRef",
    "vnp_TransactionDate", "vnp_CreateDate", "vnp_IpAddr", "vnp_OrderInfo",
)  # fmt: skip
QUERY_RESPONSE_FIELDS = (
    "vnp_ResponseId", "vnp_Command", "vnp_ResponseCode", "vnp_Message", "vnp_TmnCode",
    "vnp_TxnRef", "vnp_Amount", "vnp_BankCode", "vnp_PayDate", "vnp_TransactionNo",
    "vnp_TransactionType", "vnp_TransactionStatus", "vnp_OrderInfo", "vnp_PromotionCode",
    "vnp_PromotionAmount",
)  # fmt: skip
MAX_QUERY_STRING = 8 * 1024
MAX_FIELDS = 60
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_AMOUNT = re.compile(r"^(0|[1-9][0-9]{0,17})$")
_CODE = re.compile(r"^[0-9A-Z]{2}$")
_TXN_NO = re.compile(r"^[0-9]{1,20}$")
_TXN_REF = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


def vn_date(moment: datetime) -> str:
    """A timezone-aware moment as the gateway writes dates: yyyyMMddHHmmss, Vietnam time."""
    return moment.astimezone(VN).strftime(DATE_FORMAT)


def parse_vn_date(text: str) -> datetime:
    """The gateway's yyyyMMddHHmmss (Vietnam time) as an aware datetime; ValueError if not one."""
    if not re.fullmatch(r"\d{14}", text):
        raise ValueError(text)
    return datetime.strptime(text, DATE_FORMAT).replace(tzinfo=VN)


# --- errors -------------------------------------------------------------------------------------


class GatewayError(Exception):
    """The query API gave no usable answer; ``code`` says why (for events and summaries)."""

    code = "gateway_error"


class GatewayUnavailable(GatewayError):
    """No answer after the retries (network, timeouts, HTTP 5xx): try again later."""

    code = "gateway_unavailable"


class GatewayRefused(GatewayError):
    """The gateway refused the request as sent (unknown merchant, signature, format)."""

    code = "gateway_refused"


class GatewayBadAnswer(GatewayError):
    """An answer we cannot trust: unsigned, wrongly signed, or about another transaction."""

    code = "gateway_bad_answer"


class NotificationRefused(Exception):
    """A return or IPN we do not accept; ``rsp_code`` is what the IPN answers (97 or 99)."""

    def __init__(self, rsp_code: str, reason: str, detail: str):
        super().__init__(detail)
        self.rsp_code, self.reason, self.detail = rsp_code, reason, detail


# --- what the gateway says about one transaction -----------------------------------------------


@dataclass(frozen=True)
class GatewayReport:
    """One transaction's state as the gateway reported it (return, IPN or query)."""

    txn_ref: str
    found: bool = True
    amount: int = 0  # VND (the gateway's vnp_Amount / 100)
    response_code: str = ""  # the payment's result (return and IPN only; 00 success)
    transaction_status: str = ""  # 00 paid, 01 not completed, 02 failed, others: see outcome
    transaction_no: str = ""
    bank_code: str = ""
    pay_date: datetime | None = None

    @property
    def outcome(self) -> str:
        """paid, failed, cancelled, expired, pending, not_found or review (a person decides)."""
        if not self.found:
            return "not_found"
        status, code = self.transaction_status, self.response_code
        if status == "00":
            return "paid" if code in ("", "00") else "review"
        if status == "01":
            return "pending"
        if status == "02":
            return {"24": "cancelled", "11": "expired"}.get(code, "failed")
        # 07 money taken but held as suspected fraud; 04, 05, 06, 09 reversals and refunds.
        return "review"


@dataclass(frozen=True)
class GatewayConfig:
    url: str
    tmn_code: str
    secret: str
    return_url: str
    timeout: float = 10.0
    retries: int = 2
    backoff: float = 0.3
    server_ip: str = "127.0.0.1"

    @classmethod
    def from_settings(cls, **overrides) -> "GatewayConfig":
        values = {
            "url": setting("VNEMIS_PAYMENT_GATEWAY_URL").rstrip("/"),
            "tmn_code": setting("VNEMIS_PAYMENT_TMN_CODE"),
            "secret": setting("VNEMIS_PAYMENT_SECRET"),
            "return_url": setting("VNEMIS_PAYMENT_RETURN_URL"),
            "timeout": float(setting("VNEMIS_PAYMENT_TIMEOUT")),
            "retries": int(setting("VNEMIS_PAYMENT_RETRIES")),
            "server_ip": setting("VNEMIS_PAYMENT_SERVER_IP"),
        }
        return cls(**{**values, **overrides})


class GatewayClient:
    def __init__(self, config: GatewayConfig, *, sleep: Callable[[float], None] = time.sleep):
        self.config = config
        self._sleep = sleep
        self._http = httpx.Client(base_url=config.url, timeout=config.timeout, trust_env=False)

    @classmethod
    def from_settings(cls, **overrides) -> "GatewayClient":
        return cls(GatewayConfig.from_settings(**overrides))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "GatewayClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- the redirect ---------------------------------------------------------------------------

    def payment_url(
        self,
        *,
        txn_ref: str,
        amount: int,
        order_info: str,
        ip: str,
        created: datetime,
        expires: datetime,
        locale: str = "vn",
    ) -> str:
        """The signed gateway address that takes the payer to the payment page."""
        params = {
            "vnp_Version": VERSION,
            "vnp_Command": "pay",
            "vnp_TmnCode": self.config.tmn_code,
            "vnp_Amount": str(amount * 100),  # the gateway counts in hundredths of a dong
            "vnp_CurrCode": "VND",
            "vnp_TxnRef": txn_ref,
            "vnp_OrderInfo": order_info,
            "vnp_OrderType": "other",
            "vnp_Locale": locale,
            "vnp_ReturnUrl": self.config.return_url,
            "vnp_IpAddr": ip,
            "vnp_CreateDate": vn_date(created),
            "vnp_ExpireDate": vn_date(expires),
        }
        return f"{self.config.url}{PAY_PATH}?{signing.signed_query(params, self.config.secret)}"

    # --- return and IPN -------------------------------------------------------------------------

    def notification_read(self, query_string: str) -> tuple[GatewayReport, dict[str, str]]:
        """A return's or IPN's query string, verified: (the report, its vnp_ parameters).

        Raises ``NotificationRefused``: 99 for a malformed query, 97 for another merchant's
        notification or a missing or wrong signature.
        """
        params = _single_vnp_params(query_string)
        if not params.get("vnp_SecureHash"):
            raise NotificationRefused("97", "bad_signature", "vnp_SecureHash is missing.")
        if params.get("vnp_TmnCode") != self.config.tmn_code:
            raise NotificationRefused("97", "wrong_merchant", "vnp_TmnCode is not ours.")
        if not signing.signature_matches(params, self.config.secret):
            raise NotificationRefused("97", "bad_signature", "vnp_SecureHash does not match.")
        checks = {
            "vnp_TxnRef": _TXN_REF,
            "vnp_Amount": _AMOUNT,
            "vnp_ResponseCode": _CODE,
            "vnp_TransactionStatus": _CODE,
            "vnp_TransactionNo": _TXN_NO,
        }
        wrong = [
            name for name, pattern in checks.items() if not pattern.match(params.get(name, ""))
        ]
        if wrong:
            raise NotificationRefused(
                "99", "malformed", f"Missing or malformed: {', '.join(wrong)}."
            )
        try:
            return _report(params, response_code=params["vnp_ResponseCode"]), params
        except ValueError as exc:
            raise NotificationRefused("99", "malformed", str(exc)) from None

    # --- the query API --------------------------------------------------------------------------

    def query(self, *, txn_ref: str, created: datetime) -> tuple[GatewayReport, dict]:
        """The gateway's word on one transaction: (the report, the signed answer as received).

        ``created`` is the order's creation time, sent in the redirect as vnp_CreateDate.
        """
        attempts = 1 + max(0, self.config.retries)
        last: Exception | None = None
        for attempt in range(attempts):
            if attempt:
                self._sleep(min(2.0, self.config.backoff * 2 ** (attempt - 1)))
            try:
                answer = self._query_once(txn_ref, created)
            except _Retry as exc:
                last = exc
                continue
            code = answer["vnp_ResponseCode"]
            if code == "00":
                try:
                    return _report(answer, response_code=""), answer
                except ValueError as exc:
                    raise GatewayBadAnswer(f"The query answer is malformed: {exc}") from None
            if code == "91":
                return GatewayReport(txn_ref=txn_ref, found=False), answer
            raise GatewayRefused(f"The gateway refused the query: {code} {answer['vnp_Message']}")
        raise GatewayUnavailable(f"The gateway did not answer after {attempts} attempts: {last}")

    def _query_once(self, txn_ref: str, created: datetime) -> dict:
        now = datetime.now(VN)
        request = {
            "vnp_RequestId": secrets.token_hex(16),  # a new one per attempt: unique per day
            "vnp_Version": VERSION,
            "vnp_Command": "querydr",
            "vnp_TmnCode": self.config.tmn_code,
            "vnp_TxnRef": txn_ref,
            "vnp_OrderInfo": f"Truy van giao dich {txn_ref}",
            "vnp_TransactionDate": vn_date(created),
            "vnp_CreateDate": vn_date(now),
            "vnp_IpAddr": self.config.server_ip,
        }
        request["vnp_SecureHash"] = signing.pipe_hash(
            self.config.secret, (request[f] for f in QUERY_REQUEST_FIELDS)
        )
        try:
            response = self._http.post(QUERY_PATH, json=request)
        except httpx.TransportError as exc:  # timeouts, refused and dropped connections
            raise _Retry(type(exc).__name__) from None
        if response.status_code in RETRY_STATUSES:
            raise _Retry(f"HTTP {response.status_code}")
        if response.status_code != 200:
            raise GatewayRefused(f"The query API answered HTTP {response.status_code}.")
        try:
            answer = response.json()
        except ValueError:
            raise _Retry("the answer is not JSON") from None
        if not isinstance(answer, dict) or not all(
            isinstance(answer.get(f, ""), str) for f in (*QUERY_RESPONSE_FIELDS, "vnp_SecureHash")
        ):
            raise GatewayBadAnswer("The query answer is not an object of text fields.")
        answer = {f: answer.get(f, "") for f in (*QUERY_RESPONSE_FIELDS, "vnp_SecureHash")}
        code = answer["vnp_ResponseCode"]
        if code in ("94", "99"):  # a repeated request id or a passing failure: ask again
            raise _Retry(f"answer {code}")
        if code in ("00", "91"):
            self._check_answer(answer, txn_ref)
        return answer

    def _check_answer(self, answer: dict, txn_ref: str) -> None:
        expected = signing.pipe_hash(self.config.secret, (answer[f] for f in QUERY_RESPONSE_FIELDS))
        if not secrets.compare_digest(answer["vnp_SecureHash"].lower().encode(), expected.encode()):
            raise GatewayBadAnswer("The query answer's signature does not match.")
        if answer["vnp_TmnCode"] != self.config.tmn_code or answer["vnp_TxnRef"] != txn_ref:
            raise GatewayBadAnswer("The query answer is about another merchant or transaction.")
        if answer["vnp_ResponseCode"] == "00" and not (
            _AMOUNT.match(answer["vnp_Amount"]) and _CODE.match(answer["vnp_TransactionStatus"])
        ):
            raise GatewayBadAnswer("The query answer's amount or status is malformed.")


class _Retry(Exception):
    """One attempt failed in a way that may pass."""


def _single_vnp_params(query_string: str) -> dict[str, str]:
    if len(query_string) > MAX_QUERY_STRING:
        raise NotificationRefused("99", "malformed", "The query string is too long.")
    try:
        pairs = parse_qsl(
            query_string, keep_blank_values=True, max_num_fields=MAX_FIELDS, errors="strict"
        )
    except (ValueError, UnicodeDecodeError):
        raise NotificationRefused(
            "99", "malformed", "The query string is not valid URL-encoded UTF-8."
        ) from None
    params: dict[str, str] = {}
    for name, value in pairs:
        if not name.startswith("vnp_"):
            continue  # not signed, not read
        if name in params:
            raise NotificationRefused("99", "malformed", f"{name} is given more than once.")
        params[name] = value
    return params


def _report(params: dict[str, str], *, response_code: str) -> GatewayReport:
    """The report in checked parameters; ValueError naming what is malformed."""
    pay_date = None
    if params.get("vnp_PayDate"):
        try:
            pay_date = parse_vn_date(params["vnp_PayDate"])
        except ValueError:
            raise ValueError("vnp_PayDate is not a date.") from None
    amount = int(params["vnp_Amount"])
    if amount % 100:
        raise ValueError("vnp_Amount is not a whole number of dong.")
    return GatewayReport(
        txn_ref=params["vnp_TxnRef"],
        amount=amount // 100,
        response_code=response_code,
        transaction_status=params["vnp_TransactionStatus"],
        transaction_no=params.get("vnp_TransactionNo", ""),
        bank_code=params.get("vnp_BankCode", "")[:20],
        pay_date=pay_date,
    )
