"""The HTTP plumbing every simulator of an external system shares; standard library only.

Each simulator (the population registry, the payment gateway) is its own service on a
``ThreadingHTTPServer`` with HTTP/1.1 keep-alive, and needs neither Django nor our database.
What they share is here: the state every handler thread sees (the ``/_sim/*`` admin key and
the request log, one UTC-stamped line per event), a request handler that routes by path and
method, checks the admin key, reads a bounded body, answers in one write with a log line and
can drop a connection unanswered; the server; the serve loop of ``__main__``; and the check of
``/_sim/config`` setting names. Routes, endpoints, errors and faults stay in each simulator.
Nothing here logs a request's content: only what a simulator puts in its line.
"""

import json
import secrets
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TextIO
from urllib.parse import urlsplit


@dataclass(kw_only=True)
class ServiceState:
    """What a simulator's handler threads share; each simulator adds its own parts."""

    admin_key: str  # the X-Admin-Key of /_sim/*
    log: TextIO | None = None  # None: no request log
    _log_lock: threading.Lock = field(default_factory=threading.Lock)

    def write_log(self, line: str) -> None:
        if self.log is None:
            return
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        with self._log_lock:
            self.log.write(f"{stamp} {line}\n")
            self.log.flush()


class HttpError(Exception):
    """An answer ``{"error": {"code", "message"}}`` with its status and any extra headers."""

    def __init__(
        self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None
    ):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}


class Handler(BaseHTTPRequestHandler):
    """Routes ``routes[path][method]`` to ``_call``; a subclass gives the routes and endpoints.

    Unknown paths are 404 and other methods 405, ``/_sim/*`` needs the admin key, a body is
    read whole (with a Content-Length, at most ``max_body`` bytes) before the endpoint runs, an
    ``HttpError`` becomes its JSON answer and any other exception a bare 500.
    """

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # small answers must not wait for the client's delayed ACK
    timeout = 120  # seconds an idle keep-alive connection is kept
    server: "Server"
    routes: dict[str, dict[str, object]]  # path → method → what ``_call`` is given
    max_body: int
    extra_headers: dict[str, str] = {}  # on every answer, after Content-Length
    # The sentences of the errors answered here; each simulator words its own.
    not_found = "There is no endpoint at this path."
    not_allowed = "Use {allowed} for this endpoint."
    allow_header = True  # a 405 names the methods in an Allow header too
    too_large = "A request body holds at most {max_body:,} bytes."
    failed = "The simulator failed."
    _latency = 0.0  # seconds every answer is held back (a latency fault)

    # --- dispatch -----------------------------------------------------------------------------

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
        self._route = parts.path if parts.path in self.routes else "(unknown path)"
        self._note: dict[str, object] = {}
        self._begin(parts.path)
        try:
            body = self._read_body()
            methods = self.routes.get(parts.path)
            if methods is None:
                raise HttpError(404, "not_found", self.not_found)
            if method not in methods:
                allowed = ", ".join(methods)
                raise HttpError(
                    405,
                    "method_not_allowed",
                    self.not_allowed.format(allowed=allowed),
                    headers={"Allow": allowed} if self.allow_header else None,
                )
            if parts.path.startswith("/_sim/"):
                self._admin()
            self._call(methods[method], parts.query, body)
        except HttpError as exc:
            self._json(exc.status, exc.body(), exc.headers)
        except Exception as exc:  # a bug here: answer without details, log only its type
            self._note["exception"] = type(exc).__name__
            self.close_connection = True
            self._json(500, {"error": {"code": "internal_error", "message": self.failed}})

    def _begin(self, path: str) -> None:
        """Called first for every request, once ``_route`` and ``_note`` are set."""

    def _call(self, target, query: str, body: bytes) -> None:
        """Run the endpoint that ``routes`` names for this path and method."""
        raise NotImplementedError

    def _answered(self, status: int) -> None:
        """Called once an answer is sent, before its log line."""

    # --- plumbing -----------------------------------------------------------------------------

    def log_request(self, code="-", size="-"):  # our own line per request, in ``_send``
        pass

    def log_error(self, format, *args):  # the default would print the raw request line
        code = args[0] if args and isinstance(args[0], int) else None
        what = f"protocol error {code}" if code else "connection closed (idle or malformed)"
        self.server.state.write_log(what)

    def _log(self, status) -> None:
        ms = (time.perf_counter() - self._started) * 1000
        notes = "".join(f" {k}={v}" for k, v in self._note.items())
        self.server.state.write_log(f"{self.command} {self._route} {status} {ms:.1f}ms{notes}")

    def _send(self, status: int, body: bytes, content_type: str, headers: dict | None = None):
        if self._latency:
            time.sleep(self._latency)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in self.extra_headers.items():
            self.send_header(key, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        # Headers and body in one write (``end_headers`` would send the headers alone first).
        self._headers_buffer.extend((b"\r\n", body))
        try:
            self.flush_headers()
        except OSError:  # the client went away
            self.close_connection = True
        self._answered(status)
        self._log(status)

    def _json(self, status: int, payload: dict, headers: dict | None = None):
        # ASCII escapes: a caller's text may not be valid UTF-8 (surrogates).
        body = json.dumps(payload, separators=(",", ":")).encode()
        self._send(status, body, "application/json; charset=utf-8", headers)

    def _html(self, status: int, body: bytes, headers: dict | None = None):
        self._send(status, body, "text/html; charset=utf-8", headers)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            raise HttpError(411, "length_required", "Send the body with a Content-Length.")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            raise HttpError(400, "invalid_request", "Content-Length is not a number.") from None
        if length > self.max_body or length < 0:
            self.close_connection = True  # the unread body would be taken for the next request
            raise HttpError(413, "body_too_large", self.too_large.format(max_body=self.max_body))
        return self.rfile.read(length) if length else b""

    def _admin(self) -> None:
        given = self.headers.get("X-Admin-Key", "")
        if not secrets.compare_digest(given.encode(), self.server.state.admin_key.encode()):
            raise HttpError(401, "invalid_admin_key", "The X-Admin-Key header is missing or wrong.")

    def _drop(self) -> None:
        """Close the TCP connection abruptly, without an answer."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class Server(ThreadingHTTPServer):
    """One thread per connection; the handlers reach the simulator's state as ``server.state``."""

    daemon_threads = True  # hanging answers (the timeout fault) must not hold up a stop
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[Handler], state: ServiceState):
        self.state = state
        super().__init__(address, handler)

    def handle_error(self, request, client_address):  # no traceback: it may quote a request
        exc = sys.exc_info()[1]
        self.state.write_log(f"connection error {type(exc).__name__}")


def serve_until_stopped(
    server: Server, name: str, detail: str, *, notes: Iterable[str] = ()
) -> None:
    """Serve until SIGTERM or SIGINT.

    Prints ``notes`` on stderr, then ``NAME listening on http://HOST:PORT (DETAIL)`` on stdout
    (the line tests wait for), and ``NAME stopped`` on stderr at the end.
    """
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    host, port = server.server_address[:2]
    for note in notes:
        print(note, file=sys.stderr, flush=True)
    print(f"{name} listening on http://{host}:{port} ({detail})", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        print(f"{name} stopped", file=sys.stderr, flush=True)


def check_setting_names(changes: object, config: type) -> None:
    """ValueError unless ``changes`` is a dict naming only fields of the dataclass ``config``."""
    if not isinstance(changes, dict):
        raise ValueError("The configuration must be a JSON object.")
    known = {f.name for f in fields(config)}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise ValueError(
            f"Unknown setting(s): {', '.join(unknown)}. Known: {', '.join(sorted(known))}."
        )
