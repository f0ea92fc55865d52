"""The gateway's HTTP service: standard-library ``ThreadingHTTPServer``, HTTP/1.1 keep-alive.

One thread per connection. ``/pay`` and ``/pay/confirm`` are the payer's pages, the query API
is JSON, ``/_sim/*`` (with the ``X-Admin-Key`` header) configures faults and shows what
happened. The request log names the route, status and time, and for a payment its TxnRef
and result code: never the payer's address or the query string.
"""

import json
import secrets
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TextIO
from urllib.parse import parse_qsl, urlsplit

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


class AdminError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class Gateway:
    """What the handler threads share."""

    store: Store
    faults: Faults
    admin_key: str
    stats: Stats = field(default_factory=Stats)
    log: TextIO | None = None  # None: no request log
    _log_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self):
        self.query_api = QueryApi(self.store, self.store.merchants)
        self.notifier = Notifier(self.store, self.faults, self.stats, self.write_log)

    def write_log(self, line: str) -> None:
        if self.log is None:
            return
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        with self._log_lock:
            self.log.write(f"{stamp} {line}\n")
            self.log.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "vnemis-payment-sim/1"
    timeout = 120  # seconds an idle keep-alive connection is kept
    gateway: Gateway  # set on the subclass made by ``make_server``

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        self._started = time.perf_counter()
        parts = urlsplit(self.path)
        self._route = parts.path if parts.path in ROUTES else "(unknown path)"
        self._note: dict[str, object] = {}
        try:
            body = self._read_body()
            methods = ROUTES.get(parts.path)
            if methods is None:
                raise AdminError(404, "not_found", "There is no page or endpoint at this path.")
            if method not in methods:
                raise AdminError(405, "method_not_allowed", f"Use {', '.join(methods)} here.")
            if parts.path.startswith("/_sim/"):
                self._admin()
            getattr(self, methods[method])(parts.query, body)
        except PayError as exc:
            self.gateway.stats.error(exc.code)
            self._note["error"] = exc.code
            self._html(exc.status, pages.error_page(exc.code, exc.vi, exc.en))
        except AdminError as exc:
            self._json(exc.status, {"error": {"code": exc.code, "message": exc.message}})
        except Exception as exc:  # a bug here: answer without details, log only its type
            self._note["exception"] = type(exc).__name__
            self.close_connection = True
            self._json(500, {"error": {"code": "internal_error", "message": "The gateway failed."}})

    # --- plumbing -----------------------------------------------------------------------------

    def log_request(self, code="-", size="-"):  # our own line per request, in ``_send``
        pass

    def log_error(self, format, *args):  # the default would print the raw request line
        self.gateway.write_log("connection closed (idle or malformed)")

    def _send(self, status: int, body: bytes, content_type: str, headers: dict | None = None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        if self.close_connection:
            self.send_header("Connection", "close")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self._headers_buffer.extend((b"\r\n", body))
        try:
            self.flush_headers()
        except OSError:  # the client went away
            self.close_connection = True
        ms = (time.perf_counter() - self._started) * 1000
        notes = "".join(f" {k}={v}" for k, v in self._note.items())
        self.gateway.write_log(f"{self.command} {self._route} {status} {ms:.1f}ms{notes}")

    def _json(self, status: int, payload: dict, headers: dict | None = None):
        body = json.dumps(payload, separators=(",", ":")).encode()
        self._send(status, body, "application/json; charset=utf-8", headers)

    def _html(self, status: int, body: bytes, headers: dict | None = None):
        self._send(status, body, "text/html; charset=utf-8", headers)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            raise AdminError(411, "length_required", "Send the body with a Content-Length.")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            raise AdminError(400, "invalid_request", "Content-Length is not a number.") from None
        if length > MAX_BODY or length < 0:
            self.close_connection = True  # the unread body would be taken for the next request
            raise AdminError(413, "body_too_large", f"A body holds at most {MAX_BODY} bytes.")
        return self.rfile.read(length) if length else b""

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

    def _admin(self) -> None:
        given = self.headers.get("X-Admin-Key", "")
        if not secrets.compare_digest(given.encode(), self.gateway.admin_key.encode()):
            raise AdminError(
                401, "invalid_admin_key", "The X-Admin-Key header is missing or wrong."
            )

    def _drop(self) -> None:
        """Close the TCP connection abruptly, without an answer."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

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
            raise AdminError(503, "unavailable", "The query service is down for maintenance.")
        if fault == "timeout":
            time.sleep(gateway.faults.config.hang_s)
        if fault in ("drop", "timeout"):
            self._drop()
            self.gateway.write_log(f"POST {self._route} dropped fault={fault}")
            return
        if fault == "500":
            raise AdminError(500, "internal_error", "Simulated server error; try again later.")
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
            raise AdminError(400, "invalid_config", str(exc)) from None
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
            raise AdminError(400, "invalid_request", "Give the transaction as ?ref=TXNREF.")
        found = self.gateway.store.find(ref, params.get("merchant"))
        with self.gateway.store.lock:
            rows = [t.as_dict() for t in found]
        self._json(200, {"transactions": rows})

    def _release(self, query: str, body: bytes) -> None:
        payload = self._object(body) if body else {}
        order = payload.get("order", "fifo") if isinstance(payload, dict) else None
        if order not in ("fifo", "reverse"):
            raise AdminError(400, "invalid_request", 'order must be "fifo" or "reverse".')
        released = self.gateway.notifier.release(reverse=order == "reverse")
        self._json(200, {"released": released})


class Server(ThreadingHTTPServer):
    daemon_threads = True  # hanging answers (the timeout fault) must not hold up a stop
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):  # no traceback: it may quote a request
        exc = sys.exc_info()[1]
        self.RequestHandlerClass.gateway.write_log(f"connection error {type(exc).__name__}")


def make_server(gateway: Gateway, host: str, port: int) -> Server:
    handler = type("BoundHandler", (Handler,), {"gateway": gateway})
    return Server((host, port), handler)
