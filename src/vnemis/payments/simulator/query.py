"""The query API (``POST /merchant_webapi/api/transaction``, ``vnp_Command=querydr``).

The merchant asks, by TxnRef and the transaction's creation date, what state a transaction is
in; request and answer are JSON and each is signed over its fields joined by ``|`` in a fixed
order (``REQUEST_FIELDS``, ``RESPONSE_FIELDS``). ``vnp_ResponseCode`` says whether the query
itself worked (00; 91 not found; 94 repeated request id; 97 bad signature; 02 unknown merchant;
03 malformed; 99 other), ``vnp_TransactionStatus`` the transaction's state (00 paid, 01 not
completed, 02 failed). Answers are signed whenever the merchant is known.
"""

import re
import secrets
import threading

from .merchants import Merchant
from .signing import pipe_hash
from .transactions import VERSION, Store

REQUEST_FIELDS = (
    "vnp_RequestId", "vnp_Version", "vnp_Command", "vnp_TmnCode", "vnp_TxnRef",
    "vnp_TransactionDate", "vnp_CreateDate", "vnp_IpAddr", "vnp_OrderInfo",
)  # fmt: skip
RESPONSE_FIELDS = (
    "vnp_ResponseId", "vnp_Command", "vnp_ResponseCode", "vnp_Message", "vnp_TmnCode",
    "vnp_TxnRef", "vnp_Amount", "vnp_BankCode", "vnp_PayDate", "vnp_TransactionNo",
    "vnp_TransactionType", "vnp_TransactionStatus", "vnp_OrderInfo", "vnp_PromotionCode",
    "vnp_PromotionAmount",
)  # fmt: skip
MESSAGES = {
    "00": "QueryDR Success",
    "02": "Merchant is not valid",
    "03": "Invalid data format",
    "91": "Transaction not found",
    "94": "Duplicate request",
    "97": "Invalid checksum",
    "99": "Unknown error",
}
_REQUEST_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")
_DATE = re.compile(r"^\d{14}$")
SEEN_LIMIT = 200_000  # request ids remembered per merchant (VNPay: unique within a day)


class QueryApi:
    def __init__(self, store: Store, merchants: dict[str, Merchant]):
        self.store, self.merchants = store, merchants
        self._seen: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def answer(self, payload, *, corrupt_signature: bool = False) -> dict:
        """The signed answer to one query request (a decoded JSON body)."""
        if not isinstance(payload, dict):
            return self._reply("03", None, detail="The body must be a JSON object.")
        missing = [f for f in (*REQUEST_FIELDS, "vnp_SecureHash") if payload.get(f) in (None, "")]
        wrong_type = [f for f in (*REQUEST_FIELDS, "vnp_SecureHash") if f in payload
                      and not isinstance(payload[f], str)]  # fmt: skip
        merchant = self.merchants.get(payload.get("vnp_TmnCode"))  # type: ignore[arg-type]
        if missing or wrong_type:
            named = ", ".join(missing + wrong_type)
            return self._reply("03", merchant, payload, f"Missing or not text: {named}.")
        if merchant is None:
            return self._reply("02", None, payload)
        expected = pipe_hash(merchant.secret, (payload[f] for f in REQUEST_FIELDS))
        if not secrets.compare_digest(
            payload["vnp_SecureHash"].lower().encode(), expected.encode()
        ):
            return self._reply("97", merchant, payload)
        if payload["vnp_Version"] != VERSION or payload["vnp_Command"] != "querydr":
            return self._reply(
                "03", merchant, payload, f"Only vnp_Version {VERSION} and querydr are served."
            )
        bad_dates = [
            f for f in ("vnp_TransactionDate", "vnp_CreateDate") if not _DATE.match(payload[f])
        ]
        if bad_dates or not _REQUEST_ID.match(payload["vnp_RequestId"]):
            return self._reply(
                "03", merchant, payload, "vnp_RequestId or a date is not well formed."
            )
        with self._lock:
            seen = self._seen.setdefault(merchant.code, set())
            if payload["vnp_RequestId"] in seen:
                return self._reply("94", merchant, payload)
            if len(seen) >= SEEN_LIMIT:
                seen.clear()
            seen.add(payload["vnp_RequestId"])
        txn = self.store.get(merchant.code, payload["vnp_TxnRef"])
        if txn is None or txn.create_date != payload["vnp_TransactionDate"]:
            return self._reply("91", merchant, payload)
        with self.store.lock:
            found = {
                "vnp_Amount": str(txn.reported_amount or txn.amount),
                "vnp_BankCode": txn.bank_code,
                "vnp_PayDate": txn.pay_date,
                "vnp_TransactionNo": txn.transaction_no,
                "vnp_TransactionType": "01",
                "vnp_TransactionStatus": txn.transaction_status,
                "vnp_OrderInfo": txn.order_info,
            }
        return self._reply("00", merchant, payload, found=found, corrupt=corrupt_signature)

    def _reply(
        self,
        code: str,
        merchant: Merchant | None,
        payload: dict | None = None,
        detail: str = "",
        *,
        found: dict | None = None,
        corrupt: bool = False,
    ) -> dict:
        payload = payload or {}
        ref = payload.get("vnp_TxnRef")
        answer = dict.fromkeys(RESPONSE_FIELDS, "")
        answer.update(
            vnp_ResponseId=secrets.token_hex(16),
            vnp_Command="querydr",
            vnp_ResponseCode=code,
            vnp_Message=f"{MESSAGES[code]}. {detail}".strip() if detail else MESSAGES[code],
            vnp_TmnCode=merchant.code if merchant else "",
            vnp_TxnRef=ref if isinstance(ref, str) else "",
            **(found or {}),
        )
        if merchant is not None:
            signature = pipe_hash(merchant.secret, (answer[f] for f in RESPONSE_FIELDS))
            if corrupt:  # the "bad_signature" fault: one hex digit changed
                signature = ("e" if signature[0] == "f" else "f") + signature[1:]
            answer["vnp_SecureHash"] = signature
        return answer
