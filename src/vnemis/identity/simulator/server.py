"""The simulator's HTTP service: standard-library ``ThreadingHTTPServer``, HTTP/1.1 keep-alive.

One thread per connection; the handler routes, authenticates, applies the quota, latency and
faults, then calls the operation in ``api``. The request log names the endpoint, status, time,
client and fault, never a citizen ID or a name (paths are logged only when they are known
routes, and bodies never).
"""

import base64
import binascii
import json
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from vnemis.core import simserver

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


@dataclass(kw_only=True)
class Simulator(simserver.ServiceState):
    """What the handler threads share (with the admin key and the request log)."""

    citizens: Citizens
    tokens: Tokens
    quota: Quota
    faults: Faults
    stats: Stats = field(default_factory=Stats)


class Handler(simserver.Handler):
    server_version = "vnemis-registry-sim/1"
    routes = ROUTES
    max_body = MAX_BODY

    @property
    def sim(self) -> Simulator:
        return self.server.state

    def do_PATCH(self):
        self._dispatch("PATCH")

    def _begin(self, path: str) -> None:
        # Latency, faults and service counts apply to the token and API routes only.
        self._service = path == "/oauth/token" or path.startswith("/api/")
        self._latency = self.sim.faults.latency() if self._service else 0.0
        if self._service:
            self.sim.stats.request(self._route)

    def _call(self, target: tuple[str, str | None], query: str, body: bytes) -> None:
        name, scope = target
        if scope:
            self._api(scope, getattr(self, name), body)
        else:
            getattr(self, name)(body)

    def _answered(self, status: int) -> None:
        if self._service:
            self.sim.stats.answered(status)

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
            self._log(fault)  # in place of a status: nothing was answered
            return
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

    @staticmethod
    def _payload(body: bytes):
        if not body.strip():
            raise ApiError(400, "invalid_json", "The body is empty; send a JSON object.")
        try:
            return json.loads(body)
        except (ValueError, RecursionError):
            raise ApiError(400, "invalid_json", "The body is not valid JSON.") from None

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


class Server(simserver.Server):
    request_queue_size = 256


def make_server(sim: Simulator, host: str, port: int) -> Server:
    return Server((host, port), Handler, sim)
