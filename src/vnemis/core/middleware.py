"""Keeps who is asking and from where for the audit log, for the length of one request."""

from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class RequestContext:
    ip: str = ""
    channel: str = "cli"


current_request: ContextVar[RequestContext] = ContextVar(
    "current_request",
    default=RequestContext(),  # noqa: B039 - frozen, immutable
)


def client_ip(request) -> str:
    """The client's address; X-Forwarded-For only counts when it comes from a trusted proxy.

    Walks the header from the right, skipping our own proxies, so a client cannot put a forged
    address into the audit log by sending the header itself.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    trusted = set(settings.VNEMIS_TRUSTED_PROXIES)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if not forwarded or remote not in trusted:
        return remote
    for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
        if hop not in trusted:
            return hop
    return remote


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        channel = "api" if request.path.startswith("/api/") else "web"
        token = current_request.set(RequestContext(ip=client_ip(request), channel=channel))
        try:
            return self.get_response(request)
        finally:
            current_request.reset(token)


class VietnameseFirstMiddleware:
    """The UI is Vietnamese unless the user chose English: the browser's language is ignored.

    Django's LocaleMiddleware would follow Accept-Language; a ministry's Vietnamese UI must not
    turn English because a browser was installed in English. The choice made with the language
    switch (the language cookie) still wins. Runs just before LocaleMiddleware.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
        return self.get_response(request)
