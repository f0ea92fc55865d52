"""The simulator's HTTP service (standard library ``ThreadingHTTPServer``, HTTP/1.1 keep-alive)."""

import json
import re
import socket
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from .access import Quota, Tokens
from .citizens import Citizens
from .faults import Faults

BATCH_LIMIT = 1_000
MAX_EXTRACT_YEARS = 5
MAX_BODY = 2 * 1024 * 1024
CITIZEN_ID = re.compile(r"^\d{12}$")


class Refusal(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


class Registry:
    """What the handler threads share: citizens, access, quota, faults and counters."""

    def __init__(self, citizens: Citizens, tokens: Tokens, quota: Quota, faults: Faults, admin_key):
        self.citizens, self.tokens, self.quota, self.faults = citizens, tokens, quota, faults
        self.admin_key = admin_key
        self.stats = Counter()
        self.per_client = Counter()
        self.lock = threading.Lock()

    def count(self, *keys: str, client: str | None = None, items: int = 0) -> None:
        with self.lock:
            for key in keys:
                self.stats[key] += 1
            if client:
                self.per_client[client] += 1
            self.stats["items_verified"] += items


def item_problem(item) -> dict | None:
    """What is wrong with one verification item, naming the field (None: well formed)."""
    if not isinstance(item, dict):
        return {"code": "not_an_object", "field": None, "message": "each item must be an object"}
    for name in ("citizen_id", "full_name", "birth_date", "sex"):
        if not isinstance(item.get(name), str) or not item[name].strip():
            return {"code": "missing_field", "field": name, "message": f"{name} is required"}
    if not CITIZEN_ID.match(item["citizen_id"]):
        return {"code": "invalid_citizen_id", "field": "citizen_id", "message": "12 digits"}
    try:
        date.fromisoformat(item["birth_date"])
    except ValueError:
        return {"code": "invalid_date", "field": "birth_date", "message": "YYYY-MM-DD"}
    if item["sex"] not in ("M", "F"):
        return {"code": "invalid_sex", "field": "sex", "message": "M or F"}
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # small answers must not wait for the client's delayed ACK
    server_version = "vnemis-registry-sim/1"
    registry: Registry  # set on the subclass made by ``make_server``

    # --- plumbing ---------------------------------------------------------------------------

    def log_message(self, format, *args):  # request lines carry no personal data: paths only
        if not getattr(self.server, "quiet", False):
            sys.stderr.write(f"{self.log_date_time_string()} {format % args}\n")

    def _send(self, status: int, body: bytes, content_type: str, headers: dict | None = None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        # Headers and body in one write (``end_headers`` would send the headers alone first).
        self._headers_buffer.extend((b"\r\n", body))
        self.flush_headers()
        self.registry.count(f"status_{status}")

    def _json(self, status: int, payload: dict, headers: dict | None = None):
        body = json.dumps(payload, ensure_ascii=False).encode()
        self._send(status, body, "application/json; charset=utf-8", headers)

    def _refuse(self, exc: Refusal):
        self._json(exc.status, {"error": {"code": exc.code, "message": exc.message}}, exc.headers)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise Refusal(413, "too_large", f"request body above {MAX_BODY} bytes")
        return self.rfile.read(length) if length else b""

    def _json_body(self):
        raw = self._body()
        try:
            return json.loads(raw or b"null")
        except (ValueError, UnicodeDecodeError):
            raise Refusal(400, "invalid_json", "the body is not JSON") from None

    def _drop(self):
        """Close the TCP connection abruptly, without an answer."""
        self.close_connection = True
        try:
            self.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # --- routes -----------------------------------------------------------------------------

    def do_GET(self):
        try:
            if self.path == "/healthz":
                return self._json(200, {"status": "ok", "citizens": len(self.registry.citizens)})
            if self.path == "/_sim/stats":
                self._admin()
                with self.registry.lock:
                    stats = {
                        "counts": dict(self.registry.stats),
                        "clients": dict(self.registry.per_client),
                    }
                return self._json(200, stats)
            raise Refusal(404, "not_found", "no such endpoint")
        except Refusal as exc:
            self._refuse(exc)

    def do_POST(self):
        try:
            if self.path == "/oauth/token":
                return self._token()
            if self.path == "/_sim/config":
                self._admin()
                try:
                    config = self.registry.faults.update(self._json_body() or {})
                except (TypeError, ValueError) as exc:
                    raise Refusal(400, "invalid_config", str(exc)) from None
                return self._json(200, {"config": config.__dict__})
            routes = {
                "/api/v1/citizens/verify": ("verify", self._verify_one),
                "/api/v1/citizens/verify/batch": ("verify", self._verify_batch),
                "/api/v1/extracts/cohort": ("extract", self._extract),
            }
            if self.path not in routes:
                self._body()
                raise Refusal(404, "not_found", "no such endpoint")
            scope, handler = routes[self.path]
            client = self._client(scope)
            self.registry.count("requests", client=client)
            fault, delay = self.registry.faults.draw()
            if fault:
                self.registry.count(f"fault_{fault}")
            body_error = None
            try:
                payload = self._json_body()
            except Refusal as exc:
                body_error = exc
            if delay:
                time.sleep(delay)
            if fault in ("drop", "timeout"):
                return self._drop()
            if fault == "500":
                raise Refusal(500, "internal_error", "simulated server error")
            if fault == "429":
                raise Refusal(429, "rate_limited", "simulated overload", {"Retry-After": "1"})
            if body_error:
                raise body_error
            handler(payload)
        except Refusal as exc:
            self._refuse(exc)

    def _admin(self):
        if self.headers.get("X-Admin-Key") != self.registry.admin_key:
            raise Refusal(401, "unauthorised", "admin key required")

    def _token(self):
        raw = self._body()
        kind = self.headers.get("Content-Type", "")
        if kind.startswith("application/json"):
            try:
                form = json.loads(raw or b"{}")
            except ValueError:
                raise Refusal(400, "invalid_request", "the body is not JSON") from None
        else:
            form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
        if form.get("grant_type") != "client_credentials":
            raise Refusal(400, "unsupported_grant_type", "grant_type must be client_credentials")
        token = self.registry.tokens.issue(
            str(form.get("client_id", "")), str(form.get("client_secret", ""))
        )
        if token is None:
            raise Refusal(401, "invalid_client", "unknown client or wrong secret")
        self._json(
            200,
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": int(self.registry.tokens.ttl),
            },
        )

    def _client(self, scope: str) -> str:
        auth = self.headers.get("Authorization", "")
        client = None
        if auth.startswith("Bearer "):
            client = self.registry.tokens.client_of(auth[7:].strip())
        if client is None:
            self._body()
            raise Refusal(401, "invalid_token", "a valid bearer token is required")
        if scope not in client.scopes:
            self._body()
            raise Refusal(403, "insufficient_scope", f"the client lacks the '{scope}' scope")
        wait = self.registry.quota.take(client.client_id)
        if wait is not None:
            self._body()
            raise Refusal(
                429,
                "quota_exceeded",
                "request quota exceeded",
                {"Retry-After": f"{wait:.0f}" if wait >= 1 else "1"},
            )
        return client.client_id

    def _answer(self, item: dict) -> dict:
        return self.registry.citizens.compare(
            item["citizen_id"], item["full_name"], item["birth_date"], item["sex"]
        )

    def _verify_one(self, payload):
        problem = item_problem(payload)
        if problem:
            raise Refusal(400, problem["code"], f"{problem['field']}: {problem['message']}")
        self.registry.count("verify_single", items=1)
        self._json(200, {**self._answer(payload), "request_id": uuid.uuid4().hex})

    def _verify_batch(self, payload):
        items = payload.get("items") if isinstance(payload, dict) else None
        if not isinstance(items, list) or not items:
            raise Refusal(400, "missing_items", "items must be a non-empty list")
        if len(items) > BATCH_LIMIT:
            raise Refusal(413, "batch_too_large", f"at most {BATCH_LIMIT} items per request")
        answers = []
        for item in items:
            ref = item.get("ref") if isinstance(item, dict) else None
            problem = item_problem(item)
            if problem:
                answers.append({"ref": ref, "result": "invalid", "error": problem})
            else:
                answers.append({"ref": ref, **self._answer(item)})
        self.registry.count("verify_batch", items=len(items))
        self._json(200, {"items": answers, "request_id": uuid.uuid4().hex})

    def _extract(self, payload):
        years = payload.get("birth_years") if isinstance(payload, dict) else None
        if not isinstance(years, list) or not years or not all(isinstance(y, int) for y in years):
            raise Refusal(400, "invalid_birth_years", "birth_years must be a list of years")
        if len(set(years)) > MAX_EXTRACT_YEARS:
            raise Refusal(
                400, "too_many_years", f"at most {MAX_EXTRACT_YEARS} birth years per extract"
            )
        provinces = payload.get("birth_province_codes")
        if provinces is not None and not (
            isinstance(provinces, list) and all(isinstance(p, str) for p in provinces)
        ):
            raise Refusal(400, "invalid_provinces", "birth_province_codes must be a list of codes")
        body = self.registry.citizens.cohort_parquet(sorted(set(years)), provinces)
        self.registry.count("extracts")
        self._send(200, body, "application/vnd.apache.parquet")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def make_server(registry: Registry, host: str, port: int, *, quiet: bool = False) -> Server:
    handler = type("BoundHandler", (Handler,), {"registry": registry})
    server = Server((host, port), handler)
    server.quiet = quiet
    return server
