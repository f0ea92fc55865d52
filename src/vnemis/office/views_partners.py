"""Pages of the organisation's edXML exchange partners ("Cơ quan liên thông"): the list with
each partner's CA and message counts, adding and editing one, and switching it on or off.

Every member of the organisation sees the list; only its leaders change it (the action checks
again). A partner of another organisation is a 404, whoever asks."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from . import actions_partners, selectors
from .actions_errors import OfficeError
from .forms import office_error_to_form
from .forms_partners import PartnerForm


def _member(request):
    member = selectors.member_ensure(request.user)
    if member is None:  # an operator has no organisation of their own to keep partners for
        raise Http404(_("Tài khoản quản trị không có cơ quan liên thông trong văn phòng điện tử."))
    return member


def _leader_ensure(member) -> None:
    if not member.is_leader:
        raise PermissionDenied(_("Chỉ lãnh đạo cơ quan được thêm, sửa cơ quan liên thông."))


def _partner(member, pk: int):
    partner = actions_partners.partner_of(member.organisation_id, pk)
    if partner is None:
        raise Http404(_("Không tìm thấy cơ quan liên thông này."))
    return partner


@login_required
def partners(request):
    member = _member(request)
    rows = [
        (p, actions_partners.ca_summary(p.trusted_ca_pem))
        for p in actions_partners.partners_of(member.organisation_id)
    ]
    return render(
        request,
        "office/partners.html",
        {
            "member": member,
            "rows": rows,
            "can_change": member.is_leader,
            "max_listed": actions_partners.MAX_LISTED,
        },
    )


def _form_page(request, member, partner, form, status=200):
    return render(
        request,
        "office/partner_form.html",
        {
            "member": member,
            "partner": partner,
            "form": form,
            "ca": actions_partners.ca_summary(partner.trusted_ca_pem) if partner else None,
        },
        status=status,
    )


def _save(request, member, partner):
    _leader_ensure(member)
    if request.method == "GET":
        initial = {}
        if partner is not None:
            initial = {
                k: getattr(partner, k)
                for k in (
                    "name",
                    "organ_id",
                    "inbox_url",
                    "status_url",
                    "trusted_ca_pem",
                    "certificate_fingerprint",
                )
            }
        return _form_page(request, member, partner, PartnerForm(initial=initial))
    form = PartnerForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            saved = actions_partners.partner_save(
                actor=request.user,
                organisation=member.organisation,
                partner=partner,
                **form.action_fields(),
            )
        except OfficeError as exc:
            office_error_to_form(form, exc)
        else:
            if partner is None:
                messages.success(
                    request, _("Đã thêm cơ quan liên thông %(name)s.") % {"name": saved.name}
                )
            else:
                messages.success(
                    request, _("Đã lưu cơ quan liên thông %(name)s.") % {"name": saved.name}
                )
            return redirect("office:partners")
    return _form_page(request, member, partner, form, status=400)


@login_required
@require_http_methods(["GET", "POST"])
def partner_new(request):
    return _save(request, _member(request), None)


@login_required
@require_http_methods(["GET", "POST"])
def partner_edit(request, pk: int):
    member = _member(request)
    return _save(request, member, _partner(member, pk))


@login_required
@require_POST
def partner_active(request, pk: int):
    member = _member(request)
    partner = _partner(member, pk)
    active = request.POST.get("active") == "1"
    actions_partners.partner_active_set(actor=request.user, partner=partner, active=active)
    if active:
        messages.success(request, _("Đã bật liên thông với %(name)s.") % {"name": partner.name})
    else:
        messages.success(
            request,
            _("Đã tạm dừng liên thông với %(name)s: văn bản của cơ quan này sẽ bị từ chối.")
            % {"name": partner.name},
        )
    return redirect("office:partners")
