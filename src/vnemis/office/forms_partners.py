"""The form of an exchange partner: its identity, its endpoints and the CA it signs under (pasted
as PEM, or uploaded as a .pem/.crt/.cer file, PEM or DER, at most 64 KB). The checks that matter
are the action's (``actions_partners``); the form only gets the text to it."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django import forms
from django.utils.translation import gettext_lazy as _

from .actions_partners import MAX_PEM_BYTES
from .forms import _styled


class PartnerForm(forms.Form):
    name = forms.CharField(label=_("Tên cơ quan liên thông"), max_length=255)
    organ_id = forms.CharField(
        label=_("Mã định danh cơ quan (OrganId)"),
        max_length=50,
        help_text=_("Ví dụ 000.00.00.G09."),
    )
    inbox_url = forms.CharField(
        label=_("Địa chỉ nhận văn bản (inbox)"),
        max_length=500,
        help_text=_("Ví dụ https://vpdt.example.gov.vn/office/edxml/inbox/."),
    )
    status_url = forms.CharField(
        label=_("Địa chỉ nhận trạng thái xử lý"),
        max_length=500,
        required=False,
        help_text=_("Để trống: địa chỉ inbox với “inbox/” thay bằng “status/”."),
    )
    trusted_ca_pem = forms.CharField(
        label=_("Chứng thư CA tin cậy (PEM)"),
        required=False,
        max_length=MAX_PEM_BYTES,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        help_text=_(
            "Dán chứng thư của tổ chức cấp chứng thư số cho cơ quan liên thông (bắt đầu bằng"
            " -----BEGIN CERTIFICATE-----), hoặc tải tệp lên ở ô dưới."
        ),
    )
    trusted_ca_file = forms.FileField(
        label=_("hoặc tệp chứng thư CA (.pem, .crt, .cer)"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".pem,.crt,.cer,.der"}),
    )
    certificate_fingerprint = forms.CharField(
        label=_("Dấu vân tay SHA-256 của chứng thư ký (không bắt buộc)"),
        max_length=200,
        required=False,
        help_text=_("Nếu điền, chỉ chấp nhận chữ ký bằng đúng chứng thư này."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _styled(self)
        self.fields["trusted_ca_pem"].widget.attrs["class"] += " font-monospace small"

    def clean_trusted_ca_file(self):
        upload = self.cleaned_data.get("trusted_ca_file")
        if not upload:
            return ""
        if upload.size > MAX_PEM_BYTES:  # refused before the bytes are read
            raise forms.ValidationError(
                _("Tệp chứng thư CA dài tối đa 64 KB (một chứng thư chỉ vài KB).")
            )
        data = upload.read(MAX_PEM_BYTES + 1)
        if b"-----BEGIN" not in data:  # a DER certificate: the action stores PEM
            try:
                certificate = x509.load_der_x509_certificate(data)
            except ValueError:
                raise forms.ValidationError(
                    _("Tệp không phải chứng thư (cần PEM hoặc DER).")
                ) from None
            return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
        try:
            return data.decode("ascii")
        except UnicodeDecodeError:
            raise forms.ValidationError(_("Tệp không phải chứng thư (cần PEM hoặc DER).")) from None

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        # An uploaded file wins over the text box (which may hold the current CA on editing).
        pem = data.get("trusted_ca_file") or data.get("trusted_ca_pem", "")
        if not pem.strip():
            self.add_error(
                "trusted_ca_pem", _("Hãy dán chứng thư CA (PEM) hoặc chọn tệp chứng thư.")
            )
        data["trusted_ca_pem"] = pem
        return data

    def action_fields(self) -> dict:
        """The keyword arguments of ``actions_partners.partner_save``."""
        keys = ("name", "organ_id", "inbox_url", "status_url", "certificate_fingerprint")
        return {k: self.cleaned_data[k] for k in keys} | {
            "trusted_ca_pem": self.cleaned_data["trusted_ca_pem"]
        }
