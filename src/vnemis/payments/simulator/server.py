"""The gateway's HTTP service: standard-library ``ThreadingHTTPServer``, HTTP/1.1 keep-alive.

One thread per connection. ``/pay`` and ``/pay/confirm`` are the payer's pages, the query API
is JSON, ``/_sim/*`` (with the ``X-Admin-Key`` header) configures faults and shows what
happened. The request log names the route, status and time, and for a payment its TxnRef
and result code: never the payer's address or the query string.
"""

import json
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from vnemis.core import simserver
from vnemis.core.simserver import HttpError

from . import pages
from .faults import Faults
from .notifier import Notifier
from .query import QueryApi
from .stats import Stats
from .transactions import PayError, Store

MAX_BODY = 64 * 1024
MAX_QUERY = 8 * 1024
MAX_FIELDS = 60
QUERY_PATH = "/merchant_webapi/api/transaction"

# path → method → handler method; anything else is 404 or 405.
ROUTES: dict[str, dict[str, str]] = {
    "/healthz": {"GET": "_healthz"},
    "/pay": {"GET": "_pay"},
    "/pay/confirm": {"POST": "_confirm"},
    QUERY_PATH: {"POST": "_query"},
    "/_sim/config": {"GET": "_config_get", "POST": "_config_set"},
    "/_sim/stats": {"GET": "_stats"},
    "/_sim/reset": {"POST": "_reset"},
    "/_sim/transactions": {"GET": "_transactions"},
    "/_sim/ipn/release": {"POST": "_release"},
}


@dataclass(kw_only=True)
class Gateway(simserver.ServiceState):
    """What the handler threads share (with the admin key and the request log)."""

    store: Store
    faults: Faults
    stats: Stats = field(default_factory=Stats)

    def __post_init__(self):
        self.query_api = QueryApi(self.store, self.store.merchants)
        self.notifier = Notifier(self.store, self.faults, self.stats, self.write_log)


class Handler(simserver.Handler):
    server_version = "vnemis-payment-sim/1"
    routes = ROUTES
    max_body = MAX_BODY
    extra_headers = {"Cache-Control": "no-store"}
    not_found = "There is no page or endpoint at this path."
    not_allowed = "Use {allowed} here."
    allow_header = False
    too_large = "A body holds at most {max_body} bytes."
    failed = "The gateway failed."

    @property
    def gateway(self) -> Gateway:
        return self.server.state

    def _call(self, target: str, query: str, body: bytes) -> None:
        try:
            getattr(self, target)(query, body)
        except PayError as exc:  # the payer's pages: an HTML error page
            self.gateway.stats.error(exc.code)
            self._note["error"] = exc.code
            self._html(exc.status, pages.error_page(exc.code, exc.vi, exc.en))

    # --- plumbing -----------------------------------------------------------------------------

    def log_error(self, format, *args):  # the default would print the raw request line
        self.gateway.write_log("connection closed (idle or malformed)")

    @staticmethod
    def _pairs(text: str) -> list[tuple[str, str]]:
        """Decoded name/value pairs of a query string or form, or a PayError 03."""
        if len(text) > MAX_QUERY:
            raise PayError("03", "Dữ liệu gửi sang quá dài.", "The request is too long.")
        try:
            return parse_qsl(
                text, keep_blank_values=True, max_num_fields=MAX_FIELDS, errors="strict"
            )
        except (ValueError, UnicodeDecodeError):
            raise PayError(
                "03",
                "Dữ liệu gửi sang không đúng định dạng (mã hoá URL hoặc UTF-8 sai).",
                "The request is malformed (bad URL encoding or UTF-8, or too many fields).",
            ) from None

    @staticmethod
    def _object(body: bytes):
        try:
            return json.loads(body)
        except (ValueError, RecursionError):
            return None

    # --- the payer's pages --------------------------------------------------------------------

    def _healthz(self, query: str, body: bytes) -> None:
        self._json(
            200,
            {
                "status": "ok",
                "merchants": len(self.gateway.store.merchants),
                "transactions": len(self.gateway.store),
            },
        )

    def _pay(self, query: str, body: bytes) -> None:
        txn = self.gateway.store.open(self._pairs(query))
        self.gateway.stats.count("pages")
        self._note["ref"] = txn.txn_ref
        self._html(200, pages.payment_page(txn))

    def _confirm(self, query: str, body: bytes) -> None:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise PayError("03", "Biểu mẫu không phải UTF-8.", "The form is not UTF-8.") from None
        form: dict[str, str] = {}
        for name, value in self._pairs(text):
            form.setdefault(name, value)
        gateway = self.gateway
        txn, completed = gateway.store.complete(
            form.get("txn", ""),
            action=form.get("action", ""),
            bank=form.get("bank", "NCB"),
            result=form.get("result", "00"),
            amount_delta=gateway.faults.config.amount_delta,
        )
        self._note.update(ref=txn.txn_ref, result=txn.response_code)
        if completed:
            gateway.stats.result(txn.response_code)
            gateway.notifier.schedule(txn)
        if gateway.faults.config.return_lost:
            self._html(200, pages.finished_page(txn))
            return
        joiner = "&" if "?" in txn.return_url else "?"
        location = f"{txn.return_url}{joiner}{txn.result_query}"
        self._send(302, b"", "text/plain; charset=utf-8", {"Location": location})

    # --- the query API ------------------------------------------------------------------------

    def _query(self, query: str, body: bytes) -> None:
        gateway = self.gateway
        fault = gateway.faults.next_query_fault()
        if fault:
            self._note["fault"] = fault
        if fault == "down":
            raise HttpError(503, "unavailable", "The query service is down for maintenance.")
        if fault == "timeout":
            time.sleep(gateway.faults.config.hang_s)
        if fault in ("drop", "timeout"):
            self._drop()
            self.gateway.write_log(f"POST {self._route} dropped fault={fault}")
            return
        if fault == "500":
            raise HttpError(500, "internal_error", "Simulated server error; try again later.")
        answer = gateway.query_api.answer(
            self._object(body), corrupt_signature=fault == "bad_signature"
        )
        gateway.stats.query(answer["vnp_ResponseCode"])
        self._note["code"] = answer["vnp_ResponseCode"]
        self._json(200, answer)

    # --- administration -----------------------------------------------------------------------

    def _config_get(self, query: str, body: bytes) -> None:
        self._json(200, {"config": self.gateway.faults.config.as_dict()})

    def _config_set(self, query: str, body: bytes) -> None:
        try:
            config = self.gateway.faults.update(self._object(body))
        except ValueError as exc:
            raise HttpError(400, "invalid_config", str(exc)) from None
        self._json(200, {"config": config.as_dict()})

    def _stats(self, query: str, body: bytes) -> None:
        self._json(200, {**self.gateway.stats.snapshot(), "held": self.gateway.notifier.held()})

    def _reset(self, query: str, body: bytes) -> None:
        self.gateway.stats.reset()
        self._json(200, {"status": "ok"})

    def _transactions(self, query: str, body: bytes) -> None:
        params = dict(parse_qsl(query))
        ref = params.get("ref", "")
        if not ref:
            raise HttpError(400, "invalid_request", "Give the transaction as ?ref=TXNREF.")
        found = self.gateway.store.find(ref, params.get("merchant"))
        with self.gateway.store.lock:
            rows = [t.as_dict() for t in found]
        self._json(200, {"transactions": rows})

    def _release(self, query: str, body: bytes) -> None:
        payload = self._object(body) if body else {}
        order = payload.get("order", "fifo") if isinstance(payload, dict) else None
        if order not in ("fifo", "reverse"):
            raise HttpError(400, "invalid_request", 'order must be "fifo" or "reverse".')
        released = self.gateway.notifier.release(reverse=order == "reverse")
        self._json(200, {"released": released})


class Server(simserver.Server):
    request_queue_size = 128


def make_server(gateway: Gateway, host: str, port: int) -> Server:
    return Server((host, port), Handler, gateway)
