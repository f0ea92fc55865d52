"""The simulator's HTTP service: standard-library ``ThreadingHTTPServer``, HTTP/1.1 keep-alive.

One thread per connection; the handler routes, authenticates, applies the quota, latency and
faults, then calls the operation in ``api``. The request log names the endpoint, status, time,
client and fault, never a citizen ID or a name (paths are logged only when they are known
routes, and bodies never).
"""

import base64
import binascii
import json
import secrets
import socket
import struct
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TextIO
from urllib.parse import parse_qs, urlsplit

from . import api
from .api import ApiError
from .auth import Grant, TokenError, Tokens
from .citizens import Citizens
from .faults import Faults
from .quota import Quota
from .stats import Stats

MAX_BODY = 4 * 1024 * 1024

# path → (method → (handler method, scope for /api routes)); anything else is 404 or 405.
ROUTES: dict[str, dict[str, tuple[str, str | None]]] = {
    "/healthz": {"GET": ("_healthz", None)},
    "/oauth/token": {"POST": ("_token", None)},
    "/api/v1/citizens/verify": {"POST": ("_verify_one", "verify")},
    "/api/v1/citizens/verify/batch": {"POST": ("_verify_batch", "verify")},
    "/api/v1/extracts/cohort": {"POST": ("_extract", "extract")},
    "/_sim/config": {"GET": ("_config_get", None), "POST": ("_config_set", None)},
    "/_sim/stats": {"GET": ("_stats", None)},
    "/_sim/reset": {"POST": ("_reset", None)},
}


@dataclass
class Simulator:
    """What the handler threads share."""

    citizens: Citizens
    tokens: Tokens
    quota: Quota
    faults: Faults
    admin_key: str
    stats: Stats = field(default_factory=Stats)
    log: TextIO | None = None  # None: no request log
    _log_lock: threading.Lock = field(default_factory=threading.Lock)

    def write_log(self, line: str) -> None:
        if self.log is None:
            return
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        with self._log_lock:
            self.log.write(f"{stamp} {line}\n")
            self.log.flush()


class Dropped(Exception):
    """The connection was closed on purpose without an answer (a fault)."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # small answers must not wait for the client's delayed ACK
    server_version = "vnemis-registry-sim/1"
    timeout = 120  # seconds an idle keep-alive connection is kept
    sim: Simulator  # set on the subclass made by ``make_server``

    # --- dispatch -----------------------------------------------------------------------------

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_PATCH(self):
        self._dispatch("PATCH")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        self._started = time.perf_counter()
        path = urlsplit(self.path).path
        self._route = path if path in ROUTES else "(unknown path)"
        self._service = path == "/oauth/token" or path.startswith("/api/")
        self._latency = self.sim.faults.latency() if self._service else 0.0
        self._note: dict[str, object] = {}
        if self._service:
            self.sim.stats.request(self._route)
        try:
            body = self._read_body()
            methods = ROUTES.get(path)
            if methods is None:
                raise ApiError(404, "not_found", "There is no endpoint at this path.")
            if method not in methods:
                allowed = ", ".join(methods)
                raise ApiError(
                    405,
                    "method_not_allowed",
                    f"Use {allowed} for this endpoint.",
                    headers={"Allow": allowed},
                )
            name, scope = methods[method]
            if path.startswith("/_sim/"):
                self._admin()
            if scope:
                self._api(scope, getattr(self, name), body)
            else:
                getattr(self, name)(body)
        except ApiError as exc:
            self._json(exc.status, exc.body(), exc.headers)
        except Dropped as exc:
            self._log(str(exc))
        except Exception as exc:  # a bug here: answer without details, log only its type
            self._note["exception"] = type(exc).__name__
            self.close_connection = True
            self._json(
                500,
                {"error": {"code": "internal_error", "message": "The simulator failed."}},
            )

    def _api(self, scope: str, operation, body: bytes) -> None:
        grant = self._authenticate(scope)
        client_id = grant.client.client_id
        self._note["client"] = client_id
        self.sim.stats.client_request(client_id)
        wait = self.sim.quota.take(client_id)
        if wait is not None:
            raise ApiError(
                429,
                "quota_exceeded",
                f"The request quota of this client is used up; retry in {wait} s.",
                headers={"Retry-After": str(wait)},
            )
        fault, hold = self.sim.faults.draw()
        if fault:
            self._note["fault"] = fault
            self.sim.stats.fault(fault)
        if hold:
            time.sleep(hold)
        if fault in ("drop", "timeout"):
            self._drop()
            raise Dropped(fault)
        if fault == "500":
            raise ApiError(500, "internal_error", "Simulated server error; try again later.")
        if fault == "429":
            raise ApiError(
                429,
                "rate_limited",
                "Simulated overload; try again later.",
                headers={"Retry-After": "1"},
            )
        operation(grant, self._payload(body))

    # --- plumbing -----------------------------------------------------------------------------

    def log_request(self, code="-", size="-"):  # our own line per request, in ``_send``
        pass

    def log_error(self, format, *args):  # the default would print the raw request line
        code = args[0] if args and isinstance(args[0], int) else None
        what = f"protocol error {code}" if code else "connection closed (idle or malformed)"
        self.sim.write_log(what)

    def _log(self, status) -> None:
        ms = (time.perf_counter() - self._started) * 1000
        notes = "".join(f" {k}={v}" for k, v in self._note.items())
        self.sim.write_log(f"{self.command} {self._route} {status} {ms:.1f}ms{notes}")

    def _send(self, status: int, body: bytes, content_type: str, headers: dict | None = None):
        if self._latency:
            time.sleep(self._latency)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
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
        if self._service:
            self.sim.stats.answered(status)
        self._log(status)

    def _json(self, status: int, payload: dict, headers: dict | None = None):
        # ASCII escapes: a caller's ``ref`` may hold text that is not valid UTF-8 (surrogates).
        body = json.dumps(payload, separators=(",", ":")).encode()
        self._send(status, body, "application/json; charset=utf-8", headers)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            raise ApiError(411, "length_required", "Send the body with a Content-Length.")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            raise ApiError(400, "invalid_request", "Content-Length is not a number.") from None
        if length > MAX_BODY or length < 0:
            self.close_connection = True  # the unread body would be taken for the next request
            raise ApiError(
                413, "body_too_large", f"A request body holds at most {MAX_BODY:,} bytes."
            )
        return self.rfile.read(length) if length else b""

    @staticmethod
    def _payload(body: bytes):
        if not body.strip():
            raise ApiError(400, "invalid_json", "The body is empty; send a JSON object.")
        try:
            return json.loads(body)
        except (ValueError, RecursionError):
            raise ApiError(400, "invalid_json", "The body is not valid JSON.") from None

    def _drop(self) -> None:
        """Close the TCP connection abruptly, without an answer."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _admin(self) -> None:
        given = self.headers.get("X-Admin-Key", "")
        if not secrets.compare_digest(given.encode(), self.sim.admin_key.encode()):
            raise ApiError(401, "invalid_admin_key", "The X-Admin-Key header is missing or wrong.")

    def _authenticate(self, scope: str) -> Grant:
        auth = self.headers.get("Authorization", "")
        grant = None
        if auth[:7].lower() == "bearer ":
            grant = self.sim.tokens.grant_of(auth[7:].strip())
        if grant is None:
            raise ApiError(
                401,
                "invalid_token",
                "A valid bearer token is required; get one from /oauth/token.",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        if scope not in grant.scopes:
            raise ApiError(
                403,
                "insufficient_scope",
                f"This client's token lacks the '{scope}' scope.",
                headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
            )
        return grant

    # --- endpoints ----------------------------------------------------------------------------

    def _healthz(self, body: bytes) -> None:
        self._json(200, {"status": "ok", "citizens": len(self.sim.citizens)})

    def _token(self, body: bytes) -> None:
        kind = self.headers.get("Content-Type", "")
        if kind.startswith("application/json"):
            form = self._payload(body)
            if not isinstance(form, dict):
                raise ApiError(400, "invalid_request", "The body must be a JSON object.")
        else:
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                raise ApiError(400, "invalid_request", "The form is not UTF-8.") from None
            form = {k: v[0] for k, v in parse_qs(text).items()}
        client_id, secret = form.get("client_id"), form.get("client_secret")
        basic = self.headers.get("Authorization", "")
        if basic[:6].lower() == "basic ":
            try:
                client_id, _, secret = (
                    base64.b64decode(basic[6:].strip(), validate=True).decode().partition(":")
                )
            except (binascii.Error, UnicodeDecodeError):
                raise ApiError(
                    400, "invalid_request", "The Basic credentials are malformed."
                ) from None
        if form.get("grant_type") != "client_credentials":
            raise ApiError(
                400,
                "unsupported_grant_type",
                "grant_type must be client_credentials.",
                field="grant_type",
            )
        if not isinstance(client_id, str) or not isinstance(secret, str) or not client_id:
            raise ApiError(400, "invalid_request", "client_id and client_secret are required.")
        scope = form.get("scope")
        try:
            token, grant = self.sim.tokens.issue(
                client_id, secret, scope if isinstance(scope, str) else None
            )
        except TokenError as exc:
            status = 401 if exc.code == "invalid_client" else 400
            raise ApiError(status, exc.code, exc.message) from None
        self._note["client"] = client_id
        self._json(
            200,
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": self.sim.tokens.expires_in,
                "scope": " ".join(sorted(grant.scopes)),
            },
            {"Cache-Control": "no-store"},
        )

    def _verify_one(self, grant: Grant, payload) -> None:
        answer = api.verify_one(self.sim.citizens, payload)
        self.sim.stats.verified(grant.client.client_id, 1)
        self._note["items"] = 1
        self._answer(answer)

    def _verify_batch(self, grant: Grant, payload) -> None:
        answer, verified = api.verify_batch(self.sim.citizens, payload)
        self.sim.stats.verified(grant.client.client_id, verified)
        self._note["items"] = verified
        self._answer(answer)

    def _answer(self, answer: dict) -> None:
        request_id = uuid.uuid4().hex
        answer["request_id"] = request_id
        self._json(200, answer, {"X-Request-Id": request_id})

    def _extract(self, grant: Grant, payload) -> None:
        body = api.cohort_extract(self.sim.citizens, payload)
        self._send(
            200,
            body,
            "application/vnd.apache.parquet",
            {"Content-Disposition": 'attachment; filename="cohort.parquet"'},
        )

    def _config_get(self, body: bytes) -> None:
        self._json(200, {"config": self.sim.faults.config.as_dict()})

    def _config_set(self, body: bytes) -> None:
        try:
            config = self.sim.faults.update(self._payload(body))
        except ValueError as exc:
            raise ApiError(400, "invalid_config", str(exc)) from None
        self._json(200, {"config": config.as_dict()})

    def _stats(self, body: bytes) -> None:
        self._json(200, self.sim.stats.snapshot())

    def _reset(self, body: bytes) -> None:
        self.sim.stats.reset()
        self._json(200, {"status": "ok"})


class Server(ThreadingHTTPServer):
    daemon_threads = True  # hanging answers (the timeout fault) must not hold up a stop
    allow_reuse_address = True
    request_queue_size = 256

    def handle_error(self, request, client_address):  # no traceback: it may quote a request
        exc = sys.exc_info()[1]
        self.RequestHandlerClass.sim.write_log(f"connection error {type(exc).__name__}")


def make_server(sim: Simulator, host: str, port: int) -> Server:
    handler = type("BoundHandler", (Handler,), {"sim": sim})
    return Server((host, port), handler)
