"""The two HTTP endpoints of the edXML exchange, called by partner agencies' systems.

``POST /office/edxml/inbox/`` receives a document, ``POST /office/edxml/status/`` a status
report about one of ours. Both are machine endpoints: no session, no CSRF token (the message's
XML signature is the authentication), a size cap read before the body, and an answer that is
always a status message (03, or 02 with the reason in Vietnamese and English). ``send`` is the document page's
button that queues an issued document for its partner recipients.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import exchange, selectors
from .actions_errors import OfficeError
from .views import detail_render, document_or_404

STATUS_MAX_BYTES = 1024 * 1024


def _read(request, limit: int):
    """The body, or None when it is over ``limit`` bytes (declared or actual)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    data = request.read(limit + 1)
    return None if len(data) > limit else data


def _respond(answer: exchange.Answer) -> HttpResponse:
    response = HttpResponse(
        answer.body, status=answer.http_status, content_type=exchange.CONTENT_TYPE
    )
    response["X-Edxml-Status"] = "02" if answer.http_status >= 400 else answer.code
    if answer.http_status >= 400:
        response["X-Edxml-Error"] = answer.code
    return response


def _too_large(limit: int) -> HttpResponse:
    mb = f"{limit / (1024 * 1024):.0f} MB"
    return _respond(
        exchange.refusal_plain(
            413,
            "edxml_too_large",
            f"Thông điệp vượt quá giới hạn {mb}.",
            f"The message is over the {mb} limit.",
        )
    )


@csrf_exempt
@require_POST
def inbox(request):
    """Receive one edXML message from a partner agency."""
    limit = exchange.max_message_bytes()
    data = _read(request, limit)
    if data is None:
        return _too_large(limit)
    return _respond(exchange.inbox_receive(data))


@csrf_exempt
@require_POST
def status(request):
    """Receive a partner's status report about a document we sent."""
    data = _read(request, STATUS_MAX_BYTES)
    if data is None:
        return _too_large(STATUS_MAX_BYTES)
    return _respond(exchange.status_receive(data))


@login_required
@require_POST
def send(request, pk: int):
    """Queue an issued document for its exchange partners (clerks and leaders)."""
    selectors.member_ensure(request.user)
    document = document_or_404(request, pk)
    try:
        queued = exchange.document_send(actor=request.user, document=document)
    except OfficeError as exc:
        return detail_render(request, document, status=400, error=exc.message())
    if queued:
        messages.success(request, _("Đã đưa văn bản vào hàng gửi liên thông."))
    else:
        messages.info(request, _("Văn bản đã được gửi liên thông cho các nơi nhận này."))
    return redirect("office:document", pk=document.pk)
