"""The HTTP API: one NinjaAPI at /api/v1 that mounts each app's router.

Authentication is a bearer token for system clients or the Django session of a logged-in user
(so the web pages can call the API; ninja checks CSRF on unsafe methods for session callers).
Every error leaves as ``ErrorOut``: a stable ``code`` plus a Vietnamese and an English message.
"""

import logging

from django.core.exceptions import PermissionDenied
from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.renderers import JSONRenderer
from ninja.security import HttpBearer, django_auth

from vnemis.core.api_errors import ApiError, invalid_cursor
from vnemis.core.pagination import CursorError
from vnemis.exchange.api import router as exchange_router
from vnemis.geo.api import router as geo_router
from vnemis.identity.api import router as identity_router
from vnemis.orgs.api import router as orgs_router
from vnemis.orgs.tokens import api_token_authenticate
from vnemis.registry.api import router as registry_router
from vnemis.stats.api import router as stats_router
from vnemis.stats.api_opendata import router as opendata_router

logger = logging.getLogger(__name__)


class ApiTokenAuth(HttpBearer):
    """``Authorization: Bearer <token>``: a live token of an active user."""

    def authenticate(self, request, token: str):
        user = api_token_authenticate(raw=token)
        if user is not None:
            # Pages and helpers that read request.user see the token's owner, not AnonymousUser.
            request.user = user
        return user


class Utf8JSONRenderer(JSONRenderer):
    """JSON with Vietnamese text as UTF-8: a third of the size of \\u escapes, and readable."""

    json_dumps_params = {"ensure_ascii": False}


api = NinjaAPI(
    title="vnemis API",
    version="1",
    description=(
        "National education registry API (Bộ GD&ĐT). Authenticate with "
        "`Authorization: Bearer <token>` (system clients; `vnemis token create`) or a web "
        "session. Lists are keyset-paginated: pass the `next_cursor` of a page as `cursor` "
        "to read the next one (`limit` ≤ 500). Errors carry a stable `code` with "
        "`message_vi` and `message_en`."
    ),
    urls_namespace="api-v1",
    auth=[ApiTokenAuth(), django_auth],
    renderer=Utf8JSONRenderer(),
)


def _error(request, status: int, body: dict):
    return api.create_response(request, body, status=status)


@api.exception_handler(ApiError)
def on_api_error(request, exc: ApiError):
    return _error(request, exc.status, exc.body())


@api.exception_handler(CursorError)
def on_cursor_error(request, exc: CursorError):
    err = invalid_cursor()
    return _error(request, err.status, err.body())


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request, exc: AuthenticationError):
    return _refusal(
        request,
        401,
        "unauthenticated",
        "Chưa xác thực: hãy gửi mã truy cập hợp lệ (Authorization: Bearer …) hoặc đăng nhập.",
        "Not authenticated: send a valid token (Authorization: Bearer …) or log in.",
    )


def _field_of(loc) -> str:
    # ninja puts the source first ("query", "path"); the client knows the parameter name.
    parts = [str(p) for p in loc if p not in ("query", "path", "body", "header", "cookie")]
    return ".".join(parts) or "request"


@api.exception_handler(ValidationError)
def on_validation_error(request, exc: ValidationError):
    errors = [
        {
            "field": _field_of(e.get("loc", ())),
            "type": str(e.get("type", "invalid")),
            "message": str(e.get("msg", "")),
        }
        for e in exc.errors
    ]
    fields = ", ".join(sorted({e["field"] for e in errors})) or "request"
    return _error(
        request,
        422,
        {
            "code": "validation_error",
            "message_vi": f"Tham số không hợp lệ: {fields}. Xem chi tiết trong 'errors'.",
            "message_en": f"Invalid parameter(s): {fields}. See 'errors' for details.",
            "errors": errors,
        },
    )


def _refusal(request, status: int, code: str, message_vi: str, message_en: str):
    """An error without per-field details."""
    body = {"code": code, "message_vi": message_vi, "message_en": message_en, "errors": None}
    return _error(request, status, body)


@api.exception_handler(PermissionDenied)
def on_permission_denied(request, exc: PermissionDenied):
    # Routers translate the selectors' refusals themselves; this is the safety net.
    return _refusal(
        request,
        403,
        "forbidden",
        str(exc) or "Bạn không có quyền thực hiện thao tác này.",
        "You are not allowed to do this.",
    )


@api.exception_handler(Http404)
def on_not_found(request, exc: Http404):
    return _refusal(request, 404, "not_found", "Không tìm thấy.", "Not found.")


@api.exception_handler(HttpError)
def on_http_error(request, exc: HttpError):
    # ninja raises HttpError for a failed CSRF check of a session caller, among others.
    code = "csrf_failed" if exc.status_code == 403 and "CSRF" in str(exc) else "http_error"
    return _refusal(
        request,
        exc.status_code,
        code,
        "Yêu cầu bị từ chối: " + str(exc),
        "Request refused: " + str(exc),
    )


api.add_router("/units", geo_router)
api.add_router("/organisations", orgs_router)
api.add_router("/", registry_router)
api.add_router("/", exchange_router)
api.add_router("/identity", identity_router)
api.add_router("/stats", stats_router)
api.add_router("/open-data", opendata_router)
