"""The payment requests the gateway has seen and their results, keyed by merchant and TxnRef.

``Store.open`` checks a redirect the way a gateway does (parameters, merchant, signature,
amount, dates, expiry) and refuses it with a ``PayError`` that the payment page shows;
``Store.complete`` records what the payer chose and the signed result that goes back to the
merchant by the return redirect and the IPN. One TxnRef pays at most once per merchant.
"""

import ipaddress
import itertools
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

from .merchants import Merchant
from .signing import signature_valid, signed_query

VN = timezone(timedelta(hours=7))  # gateway dates are Vietnam time (no daylight saving)
DATE_FORMAT = "%Y%m%d%H%M%S"
VERSION = "2.1.0"
REQUIRED = (
    "vnp_Version", "vnp_Command", "vnp_TmnCode", "vnp_Amount", "vnp_CurrCode", "vnp_TxnRef",
    "vnp_OrderInfo", "vnp_ReturnUrl", "vnp_IpAddr", "vnp_CreateDate", "vnp_ExpireDate",
    "vnp_SecureHash",
)  # fmt: skip
MIN_VND, MAX_VND = 5_000, 1_000_000_000  # a payment is from 5,000 to under a billion VND
BANKS = ("NCB", "VCB", "BIDV", "TCB", "VIB")
# Results the payer can pick on the page (a stand-in for what the bank decides).
PAYER_RESULTS = {
    "00": ("Giao dịch thành công", "Successful"),
    "51": ("Tài khoản không đủ số dư", "Insufficient balance"),
    "13": ("Nhập sai mật khẩu xác thực (OTP)", "Wrong one-time password"),
    "65": ("Tài khoản đã vượt hạn mức giao dịch trong ngày", "Daily limit exceeded"),
}
CANCELLED, TIMED_OUT = "24", "11"
RESULT_TEXT = {
    **PAYER_RESULTS,
    CANCELLED: ("Khách hàng đã hủy giao dịch", "Cancelled by the payer"),
    TIMED_OUT: ("Đã hết hạn chờ thanh toán", "The time to pay ran out"),
}
_TXN_REF = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
_ORDER_INFO = re.compile(r"^[ -~]{1,255}$")  # printable ASCII: no diacritics, as VNPay asks
_DIGITS = re.compile(r"^[1-9][0-9]{0,15}$")


class PayError(Exception):
    """A request the gateway refuses; ``code`` and both messages go on the error page."""

    def __init__(self, code: str, vi: str, en: str, status: int = 400):
        super().__init__(en)
        self.code, self.vi, self.en, self.status = code, vi, en, status


def _malformed(name: str, vi: str, en: str) -> PayError:
    return PayError("03", f"Tham số {name} không hợp lệ: {vi}.", f"{name} is invalid: {en}.")


@dataclass
class Transaction:
    token: str  # the payment page's handle for this transaction
    merchant: str
    txn_ref: str
    amount: int  # as sent: VND × 100
    order_info: str
    return_url: str
    create_date: str  # as sent: yyyyMMddHHmmss, Vietnam time
    expires: datetime
    locale: str
    state: str = "pending"  # pending (the page was shown) | done
    response_code: str = ""
    transaction_status: str = "01"  # 01 not completed, 00 paid, 02 failed
    transaction_no: str = ""
    bank_code: str = ""
    pay_date: str = ""
    reported_amount: int = 0  # what the result says (VND × 100; differs under amount_delta)
    result: dict = field(default_factory=dict)  # the signed return and IPN parameters
    result_query: str = ""  # ... as a signed query string
    ipn_state: str = ""  # scheduled | held | sending | delivered | gave_up | never
    ipn_attempts: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "merchant": self.merchant,
            "txn_ref": self.txn_ref,
            "amount": self.amount,
            "create_date": self.create_date,
            "expires": self.expires.astimezone(VN).strftime(DATE_FORMAT),
            "state": self.state,
            "response_code": self.response_code,
            "transaction_status": self.transaction_status,
            "transaction_no": self.transaction_no,
            "bank_code": self.bank_code,
            "pay_date": self.pay_date,
            "result": dict(self.result),
            "result_query": self.result_query,
            "ipn_state": self.ipn_state,
            "ipn_attempts": list(self.ipn_attempts),
        }


def parse_date(name: str, value: str) -> datetime:
    if not re.fullmatch(r"\d{14}", value):
        raise _malformed(name, "phải có dạng yyyyMMddHHmmss", "expected yyyyMMddHHmmss")
    try:
        return datetime.strptime(value, DATE_FORMAT).replace(tzinfo=VN)
    except ValueError:
        raise _malformed(name, "không phải ngày giờ có thật", "not a real date and time") from None


class Store:
    def __init__(self, merchants: dict[str, Merchant], clock: Callable[[], datetime] | None = None):
        self.merchants = merchants
        self.clock = clock or (lambda: datetime.now(UTC))
        self.lock = threading.Lock()
        self._by_key: dict[tuple[str, str], Transaction] = {}
        self._by_token: dict[str, Transaction] = {}
        self._numbers = itertools.count(14_000_001)

    # --- the redirect -------------------------------------------------------------------------

    def open(self, items: list[tuple[str, str]]) -> Transaction:
        """The transaction a payment redirect asks for, new or (the page reloaded) the same."""
        params = _single_values(items)
        missing = [name for name in REQUIRED if not params.get(name)]
        if missing:
            raise PayError(
                "03",
                f"Thiếu tham số bắt buộc: {', '.join(missing)}.",
                f"Required parameter(s) missing: {', '.join(missing)}.",
            )
        merchant = self.merchants.get(params["vnp_TmnCode"])
        if merchant is None:
            raise PayError(
                "72",
                "Không tìm thấy đơn vị chấp nhận thanh toán (vnp_TmnCode).",
                "The merchant (vnp_TmnCode) is not known to the gateway.",
            )
        if not signature_valid(params, merchant.secret):
            raise PayError(
                "70",
                "Sai chữ ký: dữ liệu thanh toán đã bị thay đổi hoặc ký bằng khoá khác.",
                "Wrong signature: the payment data was altered or signed with another key.",
            )
        values = _checked_request(params, self.clock())
        with self.lock:
            key = (merchant.code, values["txn_ref"])
            known = self._by_key.get(key)
            if known is not None:
                return _same_request(known, values)
            txn = Transaction(token=secrets.token_urlsafe(16), merchant=merchant.code, **values)
            self._by_key[key] = txn
            self._by_token[txn.token] = txn
            return txn

    # --- the payer's choice -------------------------------------------------------------------

    def complete(
        self, token: str, *, action: str, bank: str, result: str, amount_delta: int
    ) -> tuple[Transaction, bool]:
        """Record the payer's choice; (the transaction, whether this call completed it)."""
        if action not in ("pay", "cancel"):
            raise _malformed("action", "chỉ nhận pay hoặc cancel", "only pay or cancel")
        if bank not in BANKS:
            raise _malformed("bank", "ngân hàng không được hỗ trợ", "the bank is not supported")
        if result not in PAYER_RESULTS:
            raise _malformed("result", "kết quả không có trong danh sách", "unknown result")
        with self.lock:
            txn = self._by_token.get(token)
            if txn is None:
                raise PayError(
                    "01",
                    "Không tìm thấy giao dịch; hãy quay lại trang của đơn vị và thanh toán lại.",
                    "No such transaction; go back to the merchant's site and pay again.",
                    status=404,
                )
            if txn.state == "done":  # a second click or a reload: the same result again
                return txn, False
            now = self.clock()
            if action == "cancel":
                code = CANCELLED
            elif now >= txn.expires:
                code = TIMED_OUT
            else:
                code = result
            number = "0" if code == CANCELLED else str(next(self._numbers))
            txn.state = "done"
            txn.response_code = code
            txn.transaction_status = "00" if code == "00" else "02"
            txn.transaction_no = number
            txn.bank_code = bank
            txn.pay_date = now.astimezone(VN).strftime(DATE_FORMAT)
            txn.reported_amount = txn.amount + amount_delta * 100
            txn.result = {
                "vnp_Amount": str(txn.reported_amount),
                "vnp_BankCode": bank,
                "vnp_CardType": "ATM",
                "vnp_OrderInfo": txn.order_info,
                "vnp_PayDate": txn.pay_date,
                "vnp_ResponseCode": code,
                "vnp_TmnCode": txn.merchant,
                "vnp_TransactionNo": number,
                "vnp_TransactionStatus": txn.transaction_status,
                "vnp_TxnRef": txn.txn_ref,
            }
            if code == "00":
                txn.result["vnp_BankTranNo"] = f"VNP{number}"
            txn.result_query = signed_query(txn.result, self.merchants[txn.merchant].secret)
            return txn, True

    # --- look-ups -------------------------------------------------------------------------------

    def get(self, merchant: str, txn_ref: str) -> Transaction | None:
        with self.lock:
            return self._by_key.get((merchant, txn_ref))

    def by_token(self, token: str) -> Transaction | None:
        with self.lock:
            return self._by_token.get(token)

    def find(self, txn_ref: str, merchant: str | None = None) -> list[Transaction]:
        with self.lock:
            return [
                t
                for (code, ref), t in self._by_key.items()
                if ref == txn_ref and merchant in (None, code)
            ]

    def record_attempt(self, txn: Transaction, attempt: dict, state: str | None = None) -> None:
        with self.lock:
            txn.ipn_attempts.append(attempt)
            if state:
                txn.ipn_state = state

    def set_ipn_state(self, txn: Transaction, state: str) -> None:
        with self.lock:
            txn.ipn_state = state

    def __len__(self) -> int:
        with self.lock:
            return len(self._by_key)


def _single_values(items: list[tuple[str, str]]) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in items:
        if name in params:
            raise PayError(
                "03",
                f"Tham số {name} xuất hiện nhiều lần.",
                f"The parameter {name} is given more than once.",
            )
        params[name] = value
    return params


def _checked_request(params: dict[str, str], now: datetime) -> dict:
    """The request's values once each is well formed and the link has not expired."""
    if params["vnp_Version"] != VERSION:
        raise _malformed("vnp_Version", f"chỉ hỗ trợ {VERSION}", f"only {VERSION} is supported")
    if params["vnp_Command"] != "pay":
        raise _malformed("vnp_Command", "phải là pay", "must be pay")
    if params["vnp_CurrCode"] != "VND":
        raise _malformed("vnp_CurrCode", "chỉ nhận VND", "only VND is accepted")
    amount = params["vnp_Amount"]
    if not _DIGITS.match(amount) or int(amount) % 100:
        raise _malformed(
            "vnp_Amount", "phải là số tiền × 100, số nguyên", "must be the amount × 100, whole"
        )
    if not MIN_VND <= int(amount) // 100 < MAX_VND:
        raise _malformed(
            "vnp_Amount",
            "số tiền hợp lệ từ 5.000 đến dưới 1 tỷ đồng",
            "a payment is from 5,000 to under 1,000,000,000 VND",
        )
    if not _TXN_REF.match(params["vnp_TxnRef"]):
        raise _malformed(
            "vnp_TxnRef", "chỉ gồm chữ, số, - và _, tối đa 100", "letters, digits, - and _ only"
        )
    if not _ORDER_INFO.match(params["vnp_OrderInfo"]):
        raise _malformed(
            "vnp_OrderInfo",
            "tiếng Việt không dấu, tối đa 255 ký tự",
            "plain ASCII without diacritics, at most 255 characters",
        )
    return_url = params["vnp_ReturnUrl"]
    if not return_url.startswith(("http://", "https://")) or len(return_url) > 2000:
        raise _malformed("vnp_ReturnUrl", "phải là địa chỉ http(s)", "must be an http(s) address")
    try:
        ipaddress.ip_address(params["vnp_IpAddr"])
    except ValueError:
        raise _malformed("vnp_IpAddr", "không phải địa chỉ IP", "not an IP address") from None
    locale = params.get("vnp_Locale", "vn")
    if locale not in ("vn", "en"):
        raise _malformed("vnp_Locale", "chỉ nhận vn hoặc en", "only vn or en")
    created = parse_date("vnp_CreateDate", params["vnp_CreateDate"])
    expires = parse_date("vnp_ExpireDate", params["vnp_ExpireDate"])
    if expires <= created:
        raise _malformed(
            "vnp_ExpireDate", "phải sau vnp_CreateDate", "must be later than vnp_CreateDate"
        )
    if expires <= now:
        raise PayError(
            "15",
            "Giao dịch đã quá thời gian chờ thanh toán. Hãy quay lại trang của đơn vị để tạo "
            "giao dịch mới.",
            "The payment link has expired. Go back to the merchant's site to start a new one.",
        )
    return {
        "txn_ref": params["vnp_TxnRef"],
        "amount": int(amount),
        "order_info": params["vnp_OrderInfo"],
        "return_url": return_url,
        "create_date": params["vnp_CreateDate"],
        "expires": expires,
        "locale": locale,
    }


def _same_request(known: Transaction, values: dict) -> Transaction:
    if known.state == "done":
        raise PayError(
            "94",
            "Giao dịch với mã tham chiếu này đã được xử lý.",
            "A transaction with this reference has already been processed.",
        )
    same = (known.amount, known.order_info, known.return_url, known.create_date) == (
        values["amount"],
        values["order_info"],
        values["return_url"],
        values["create_date"],
    )
    if not same:
        raise PayError(
            "94",
            "Mã tham chiếu (vnp_TxnRef) đã được dùng cho một giao dịch khác.",
            "The reference (vnp_TxnRef) is already used by a different transaction.",
        )
    return known
