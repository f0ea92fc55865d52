"""Pages and endpoints of payments: the gateway's IPN, the payer's return page, the start of a
payment, and the finance staff's list of orders. Each translates between HTTP and ``actions``."""

import logging
from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from vnemis.core.middleware import client_ip

from . import hooks, selectors
from .actions import payment_ipn_handle, payment_redirect_url, payment_return_handle
from .conf import setting
from .errors import PaymentError
from .models import PaymentOrder

logger = logging.getLogger(__name__)

PROBLEMS = {
    "bad_signature": (
        400,
        gettext_lazy(
            "Chữ ký của kết quả thanh toán không hợp lệ nên kết quả này không được ghi nhận. Nếu "
            "bạn đã thanh toán, hệ thống sẽ tự xác nhận với cổng thanh toán."
        ),
    ),
    "wrong_merchant": (
        400,
        gettext_lazy("Kết quả thanh toán này không dành cho hệ thống của chúng tôi."),
    ),
    "malformed": (
        400,
        gettext_lazy("Đường dẫn kết quả thanh toán không đầy đủ hoặc sai định dạng."),
    ),
    "unknown_order": (404, gettext_lazy("Không tìm thấy đơn thanh toán này.")),
}
# What the bank's result codes mean for the payer (VNPay's codes).
RESULT_MESSAGES = {
    "24": gettext_lazy("Bạn đã huỷ giao dịch."),
    "11": gettext_lazy("Đã hết thời gian chờ thanh toán."),
    "51": gettext_lazy("Tài khoản không đủ số dư."),
    "13": gettext_lazy("Mật khẩu xác thực giao dịch (OTP) không đúng."),
    "65": gettext_lazy("Tài khoản đã vượt hạn mức giao dịch trong ngày."),
}
REFRESH_SECONDS = 5


@csrf_exempt  # the gateway calls it server to server; it carries its own signature
@require_GET
@never_cache
def ipn(request):
    """The gateway's notification (IPN): answers ``{"RspCode": .., "Message": ..}``."""
    try:
        code, message = payment_ipn_handle(query_string=request.META.get("QUERY_STRING", ""))
    except Exception as exc:  # a database failure: the gateway must retry later
        logger.error("IPN failed: %s", type(exc).__name__)
        code, message = "99", "Unknown error"
    return JsonResponse({"RspCode": code, "Message": message})


def _next_url(order: PaymentOrder | None) -> str:
    purpose = hooks.purpose_get(order.purpose) if order else None
    if purpose and purpose.next_url:
        try:
            return purpose.next_url(order)
        except Exception:
            logger.exception("next_url failed for purpose %s", order.purpose)
    return "/"


@require_GET
@never_cache
def payment_return(request):
    """Where the gateway sends the payer back: the order's state as we hold it."""
    result = payment_return_handle(query_string=request.META.get("QUERY_STRING", ""))
    if result.problem:
        status, message = PROBLEMS[result.problem]
        return render(
            request,
            "payments/return.html",
            {"problem": result.problem, "problem_message": message},
            status=status,
        )
    order = result.order
    grace = timedelta(minutes=int(setting("VNEMIS_PAYMENT_EXPIRY_GRACE_MINUTES")))
    refresh = result.confirming and timezone.now() < order.expires_at + grace
    response = render(
        request,
        "payments/return.html",
        {
            "order": order,
            "result": result,
            "refresh": refresh,
            # The query API says only "failed"; the signed return may say why (e.g. 24).
            "result_message": RESULT_MESSAGES.get(order.gateway_code)
            or RESULT_MESSAGES.get(result.gateway_code, ""),
            "next_url": _next_url(order),
        },
    )
    if refresh:  # ask again shortly: the IPN or the gateway's answer may be on its way
        response["Refresh"] = str(REFRESH_SECONDS)
    return response


@login_required
@require_GET
@never_cache
def payment_start(request, txn_ref: str):
    """Send the payer of a pending order to the gateway's payment page."""
    order = selectors.order_for_payer(viewer=request.user, txn_ref=txn_ref)
    if order is None:
        raise Http404(_("Không tìm thấy đơn thanh toán của bạn."))
    locale = "en" if (request.LANGUAGE_CODE or "vi").startswith("en") else "vn"
    try:
        url = payment_redirect_url(order=order, ip=client_ip(request), locale=locale)
    except PaymentError as exc:
        return render(
            request,
            "payments/return.html",
            {"order": order, "problem_message": exc.message(), "next_url": _next_url(order)},
            status=409,
        )
    return redirect(url)


@login_required
@require_GET
def order_list(request):
    """Orders for the finance staff, filtered by status, purpose, review flag or reference."""
    before = request.GET.get("before", "")
    filters = {
        "status": request.GET.get("status", ""),
        "purpose": request.GET.get("purpose", ""),
        "needs_review": request.GET.get("review") == "1",
        "q": request.GET.get("q", "")[:100],
    }
    orders, next_before = selectors.orders_page(
        viewer=request.user, before=int(before) if before.isdigit() else None, **filters
    )
    return render(
        request,
        "payments/order_list.html",
        {
            "orders": orders,
            "next_before": next_before,
            "filters": filters,
            "statuses": PaymentOrder.Status.choices,
            "purposes": selectors.purposes(),
        },
    )


@login_required
@require_GET
def order_detail(request, txn_ref: str):
    found = selectors.order_with_events(viewer=request.user, txn_ref=txn_ref)
    if found is None:
        raise Http404(_("Không tìm thấy đơn thanh toán này."))
    order, events = found
    return render(request, "payments/order_detail.html", {"order": order, "events": events})
