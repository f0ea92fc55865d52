"""Pages of digital signatures: "Chứng thư số của tôi" (import a PKCS#12, list, deactivate),
signing and approving a submission on the server, and the organisation's seal on an issued
document. Refusals re-render the page with the form and its message (400)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from . import actions_signing, selectors
from .actions_errors import OfficeError
from .forms import _styled, office_error_to_form
from .models_signing import SigningCredential
from .signing.credentials import MAX_P12_BYTES
from .views import auto_id, detail_render, document_or_404
from .views_workflow import _submission

Kind = SigningCredential.Kind


class CredentialForm(forms.Form):
    p12_file = forms.FileField(
        label=gettext_lazy("Tệp chứng thư số (PKCS#12: .p12, .pfx)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".p12,.pfx,application/x-pkcs12"}),
        error_messages={"required": gettext_lazy("Hãy chọn tệp chứng thư số (.p12/.pfx).")},
    )
    password = forms.CharField(
        label=gettext_lazy("Mật khẩu của tệp"),
        required=False,
        max_length=200,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
    )
    kind = forms.ChoiceField(label=gettext_lazy("Loại"), choices=Kind.choices, initial="personal")

    def __init__(self, *args, seal_allowed: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not seal_allowed:
            self.fields["kind"].choices = [(Kind.PERSONAL, Kind.PERSONAL.label)]
        _styled(self)


class SignForm(forms.Form):
    password = forms.CharField(
        label=gettext_lazy("Mật khẩu chứng thư số"),
        max_length=200,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        error_messages={"required": gettext_lazy("Hãy nhập mật khẩu chứng thư số để ký.")},
    )
    comment = forms.CharField(label=gettext_lazy("Ý kiến"), required=False, max_length=5000)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _styled(self)


def _credentials_render(request, member, form, status=200):
    seal_keeper = bool(member and (member.is_leader or member.is_clerk))
    own = SigningCredential.objects.filter(user_id=request.user.pk, kind=Kind.PERSONAL)
    seals = SigningCredential.objects.none()
    if seal_keeper:
        seals = SigningCredential.objects.filter(
            organisation_id=member.organisation_id, kind=Kind.SEAL
        )
    return render(
        request,
        "office/credentials.html",
        {
            "member": member,
            "form": form,
            "own": list(own),
            "seals": list(seals),
            "seal_keeper": seal_keeper,
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def credentials(request):
    member = selectors.member_ensure(request.user)
    if member is None:  # an operator has no organisation to hold a credential in
        raise Http404(_("Tài khoản quản trị không có chứng thư số trong văn phòng điện tử."))
    seal_allowed = member.is_leader or member.is_clerk
    if request.method == "GET":
        return _credentials_render(request, member, CredentialForm(seal_allowed=seal_allowed))
    form = CredentialForm(request.POST, request.FILES, seal_allowed=seal_allowed)
    if form.is_valid():
        upload = form.cleaned_data["p12_file"]
        try:
            if upload.size > MAX_P12_BYTES:
                raise OfficeError(
                    "p12_too_large",
                    "Tệp chứng thư quá lớn (tệp PKCS#12 chỉ vài KB).",
                    "The credential file is too large (a PKCS#12 file is a few KB).",
                    field="p12_file",
                )
            actions_signing.credential_import(
                actor=request.user,
                p12_bytes=upload.read(),
                password=form.cleaned_data["password"],
                kind=form.cleaned_data["kind"],
            )
        except OfficeError as exc:
            office_error_to_form(form, exc)
        else:
            messages.success(request, _("Đã nhập chứng thư số."))
            return redirect("office:credentials")
    return _credentials_render(request, member, form, status=400)


@login_required
@require_POST
def credential_deactivate(request, pk: int):
    selectors.member_ensure(request.user)
    credential = SigningCredential.objects.filter(pk=pk).first()
    if credential is None:
        raise Http404(_("Không tìm thấy chứng thư số này."))
    actions_signing.credential_deactivate(actor=request.user, credential=credential)
    messages.success(request, _("Đã thu hồi chứng thư số."))
    return redirect("office:credentials")


@login_required
@require_POST
def submission_sign(request, pk: int):
    """The leader signs the submitted document with their certificate and so approves it."""
    submission = _submission(request, pk)
    document = submission.document
    form = SignForm(request.POST, auto_id=auto_id("sign"))
    if form.is_valid():
        try:
            actions_signing.submission_sign_and_approve(
                actor=request.user,
                submission=submission,
                password=form.cleaned_data["password"],
                comment=form.cleaned_data["comment"],
            )
        except OfficeError as exc:
            if exc.field not in form.fields:
                exc.field = "password" if exc.code.startswith("p12") else None
            office_error_to_form(form, exc)
        else:
            messages.success(request, _("Đã ký số và phê duyệt văn bản."))
            return redirect("office:document", pk=document.pk)
    return detail_render(
        request, document, status=400, bound={"sign": form}, error=_("Chưa ký duyệt được.")
    )


@login_required
@require_POST
def document_seal(request, pk: int):
    selectors.member_ensure(request.user)
    document = document_or_404(request, pk)
    try:
        actions_signing.document_seal(actor=request.user, document=document)
    except OfficeError as exc:
        return detail_render(request, document, status=400, error=exc.message())
    messages.success(request, _("Đã đóng dấu số của cơ quan."))
    return redirect("office:document", pk=document.pk)
