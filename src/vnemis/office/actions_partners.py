"""The organisation's edXML exchange partners (``ExchangePartner``): saving one after checking
every field the exchange relies on, switching it on or off, and the reads of the partner pages.

A partner's ``trusted_ca_pem`` decides whose signatures the inbox accepts, so it is checked as
strictly as the exchange will use it: PEM certificates only (no private key), each a CA, each
valid today, readable both by ``edxml.trusted_load`` (the XML signatures) and by
``signing.verify.trust_roots_load`` (its files' PDF signatures). Only a leader of the
organisation or the operator changes partners; every change is written to the audit log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from vnemis.core.audit import audit_record
from vnemis.core.text import clean_text
from vnemis.orgs.models import Organisation

from .actions import _rights_ensure
from .actions_errors import OfficeError
from .edxml import trusted_load
from .models import OfficeOrganisation
from .models_exchange import ExchangePartner, InboxMessage, OutboxMessage
from .signing.errors import SigningError
from .signing.verify import trust_roots_load

# Decision 20/2020/QĐ-TTg (DOMAIN.md): 13 characters, four groups, the last one a letter and two
# digits — 000.00.00.G09. The exchange compares OrganIds as strings, so one form is kept.
ORGAN_ID = re.compile(r"\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}")
MAX_PEM_BYTES = 64 * 1024
MAX_CERTIFICATES = 20
FINGERPRINT = re.compile(r"[0-9a-f]{64}")
_http_url = URLValidator(schemes=["http", "https"])


def _error(code: str, vi: str, en: str, field: str) -> OfficeError:
    return OfficeError(code, vi, en, field=field)


# -- checks (pure) -----------------------------------------------------------------------------


def organ_id_clean(value: str) -> str:
    """The OrganId as stored (upper case), or a refusal naming the expected form."""
    organ_id = clean_text(value).upper()
    if not ORGAN_ID.fullmatch(organ_id):
        raise _error(
            "partner_bad_organ_id",
            f"Mã định danh “{organ_id[:60]}” không đúng dạng mã định danh cơ quan trong trục liên"
            " thông: 13 ký tự, bốn nhóm cách nhau bởi dấu chấm, ví dụ 000.00.00.G09.",
            f"The identifier '{organ_id[:60]}' is not an exchange OrganId: 13 characters in four"
            " dot-separated groups, e.g. 000.00.00.G09.",
            "organ_id",
        )
    return organ_id


def url_clean(value: str, *, field: str, required: bool) -> str:
    url = (value or "").strip()
    if not url:
        if required:
            raise _error(
                "partner_url_required",
                "Địa chỉ nhận văn bản (inbox) của cơ quan liên thông là bắt buộc.",
                "The partner's inbox URL is required.",
                field,
            )
        return ""
    try:
        if len(url) > 500:
            raise ValidationError("too long")
        _http_url(url)
    except ValidationError:
        raise _error(
            "partner_bad_url",
            "Địa chỉ phải là một URL http:// hoặc https:// hợp lệ, dài tối đa 500 ký tự (ví dụ"
            " https://vpdt.example.gov.vn/office/edxml/inbox/).",
            "The address must be a valid http:// or https:// URL of at most 500 characters (e.g."
            " https://vpdt.example.gov.vn/office/edxml/inbox/).",
            field,
        ) from None
    return url


def fingerprint_clean(value: str) -> str:
    """SHA-256 as 64 lower-case hex digits ('' when not pinned); colons and spaces allowed."""
    text = re.sub(r"[\s:]", "", value or "").lower()
    if text and not FINGERPRINT.fullmatch(text):
        raise _error(
            "partner_bad_fingerprint",
            "Dấu vân tay chứng thư phải là SHA-256: 64 chữ số hệ mười sáu (có thể có dấu hai"
            " chấm), hoặc để trống để chấp nhận mọi chứng thư do CA trên cấp.",
            "The certificate fingerprint must be a SHA-256: 64 hexadecimal digits (colons"
            " allowed), or blank to accept any certificate of the CA above.",
            "certificate_fingerprint",
        )
    return text


def _pem_error(code: str, vi: str, en: str) -> OfficeError:
    return _error(code, vi, en, "trusted_ca_pem")


def _subject(certificate: x509.Certificate) -> str:
    names = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(names[0].value) if names else certificate.subject.rfc4514_string()


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        basic = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return basic.ca
    return basic.ca and usage.key_cert_sign


def ca_pem_clean(value: str | bytes, *, now: datetime | None = None) -> str:
    """The CA certificates as stored: re-encoded PEM, one after another; refused when the text
    is not PEM certificates, holds a private key, or a certificate is not a CA valid now."""
    data = value.encode() if isinstance(value, str) else bytes(value)
    if len(data) > MAX_PEM_BYTES:
        raise _pem_error(
            "partner_pem_too_large",
            f"Chứng thư CA dài tối đa {MAX_PEM_BYTES // 1024} KB.",
            f"The CA certificate text is at most {MAX_PEM_BYTES // 1024} KB.",
        )
    if not data.strip():
        raise _pem_error(
            "partner_pem_required",
            "Hãy dán hoặc tải lên chứng thư CA (PEM) mà chữ ký của cơ quan liên thông phải dẫn về.",
            "Paste or upload the CA certificate (PEM) the partner's signatures must chain to.",
        )
    if b"PRIVATE KEY" in data:  # a pasted key must never be stored, not even refused later
        raise _pem_error(
            "partner_pem_private_key",
            "Nội dung có khoá bí mật: chỉ dán chứng thư CA (-----BEGIN CERTIFICATE-----), không"
            " bao giờ dán khoá.",
            "The text holds a private key: paste the CA certificate only (-----BEGIN"
            " CERTIFICATE-----), never a key.",
        )
    try:
        certificates = trusted_load(data)
        trust_roots_load(data)  # the PDF validator's parser must read it too
    except (ValueError, TypeError, SigningError):
        certificates = ()
    if not certificates:
        raise _pem_error(
            "partner_pem_unreadable",
            "Không đọc được chứng thư CA: cần một hay nhiều chứng thư dạng PEM (bắt đầu bằng"
            " -----BEGIN CERTIFICATE-----).",
            "The CA certificate cannot be read: one or more PEM certificates are expected"
            " (starting with -----BEGIN CERTIFICATE-----).",
        )
    if len(certificates) > MAX_CERTIFICATES:
        raise _pem_error(
            "partner_pem_too_many",
            f"Tối đa {MAX_CERTIFICATES} chứng thư CA cho một cơ quan liên thông.",
            f"At most {MAX_CERTIFICATES} CA certificates per partner.",
        )
    now = now or datetime.now(UTC)
    for certificate in certificates:
        name = _subject(certificate)[:100]
        if not _is_ca(certificate):
            raise _pem_error(
                "partner_pem_not_ca",
                f"Chứng thư “{name}” không phải chứng thư CA (không được phép cấp chứng thư):"
                " hãy dùng chứng thư của tổ chức cấp, không phải chứng thư ký của cơ quan.",
                f"The certificate '{name}' is not a CA certificate (it may not issue"
                " certificates): use the issuing authority's certificate, not a signing one.",
            )
        if certificate.not_valid_after_utc < now:
            raise _pem_error(
                "partner_pem_expired",
                f"Chứng thư CA “{name}” đã hết hạn ngày"
                f" {certificate.not_valid_after_utc:%d/%m/%Y}.",
                f"The CA certificate '{name}' expired on"
                f" {certificate.not_valid_after_utc:%Y-%m-%d}.",
            )
        if certificate.not_valid_before_utc > now:
            raise _pem_error(
                "partner_pem_not_yet_valid",
                f"Chứng thư CA “{name}” chỉ có hiệu lực từ ngày"
                f" {certificate.not_valid_before_utc:%d/%m/%Y}.",
                f"The CA certificate '{name}' is valid only from"
                f" {certificate.not_valid_before_utc:%Y-%m-%d}.",
            )
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in certificates)


# -- writes ------------------------------------------------------------------------------------


def _has_exchanged(partner: ExchangePartner) -> bool:
    """Whether messages went to or came from the partner: their DocumentIds and the documents
    registered from it name its OrganId, which therefore stays as it is."""
    return (
        OutboxMessage.objects.filter(partner=partner).exists()
        or InboxMessage.objects.filter(partner=partner).exists()
    )


@transaction.atomic
def partner_save(
    *,
    actor,
    organisation: Organisation,
    partner: ExchangePartner | None = None,
    organ_id: str,
    name: str,
    inbox_url: str,
    trusted_ca_pem: str | bytes,
    status_url: str = "",
    certificate_fingerprint: str = "",
    active: bool | None = None,
) -> ExchangePartner:
    """Create a partner of the organisation, or change ``partner`` (a leader or the operator)."""
    _rights_ensure(actor, organisation.pk, leader=True)
    if partner is not None:
        partner = (
            ExchangePartner.objects.select_for_update()
            .filter(pk=partner.pk, organisation=organisation)
            .first()
        )
        if partner is None:  # a partner of another organisation is not this one's to change
            raise _error(
                "partner_not_found",
                "Không tìm thấy cơ quan liên thông này.",
                "This exchange partner does not exist.",
                None,
            )
    name = clean_text(name)
    if not 2 <= len(name) <= 255:
        raise _error(
            "partner_bad_name",
            "Tên cơ quan liên thông phải dài từ 2 đến 255 ký tự.",
            "The partner's name must be 2 to 255 characters.",
            "name",
        )
    organ_id = organ_id_clean(organ_id)
    own = (
        OfficeOrganisation.objects.filter(pk=organisation.pk)
        .values_list("organ_id", flat=True)
        .first()
    )
    if own and own.upper() == organ_id:
        raise _error(
            "partner_own_organ_id",
            f"{organ_id} là mã định danh của chính cơ quan mình: cơ quan liên thông phải là cơ"
            " quan khác.",
            f"{organ_id} is this organisation's own identifier: a partner is another agency.",
            "organ_id",
        )
    duplicate = _error(
        "partner_exists",
        f"Cơ quan đã có cơ quan liên thông mã {organ_id}; hãy sửa cơ quan đó thay vì thêm mới.",
        f"The organisation already has a partner with OrganId {organ_id}; edit that one instead.",
        "organ_id",
    )
    if partner is not None and partner.organ_id != organ_id and _has_exchanged(partner):
        raise _error(
            "partner_organ_id_locked",
            f"Đã có văn bản gửi tới hoặc nhận từ {partner.organ_id} nên không đổi được mã định"
            " danh: hãy ngừng cơ quan này và thêm cơ quan liên thông mới.",
            f"Documents were exchanged with {partner.organ_id}, so its OrganId cannot change:"
            " stop this partner and add a new one.",
            "organ_id",
        )
    taken = ExchangePartner.objects.filter(organisation=organisation, organ_id=organ_id)
    if partner is not None:
        taken = taken.exclude(pk=partner.pk)
    if taken.exists():
        raise duplicate
    values = {
        "organ_id": organ_id,
        "name": name,
        "inbox_url": url_clean(inbox_url, field="inbox_url", required=True),
        "status_url": url_clean(status_url, field="status_url", required=False),
        "trusted_ca_pem": ca_pem_clean(trusted_ca_pem),
        "certificate_fingerprint": fingerprint_clean(certificate_fingerprint),
    }
    if active is not None:
        values["active"] = bool(active)
    if partner is None:
        changed = sorted(values)
        partner = ExchangePartner(organisation=organisation, **values)
    else:
        changed = sorted(k for k, v in values.items() if getattr(partner, k) != v)
        for key, value in values.items():
            setattr(partner, key, value)
    creating = partner.pk is None
    try:
        with transaction.atomic():  # a concurrent twin loses on the unique constraint
            partner.save()
    except IntegrityError:
        raise duplicate from None
    audit_record(
        actor=actor,
        action="create" if creating else "update",
        object_type="exchange_partner",
        object_id=partner.pk,
        detail={"organisation": organisation.pk, "organ_id": organ_id, "fields": changed},
    )
    return partner


@transaction.atomic
def partner_active_set(*, actor, partner: ExchangePartner, active: bool) -> ExchangePartner:
    """Start or stop exchanging with a partner (its messages are kept either way)."""
    _rights_ensure(actor, partner.organisation_id, leader=True)
    partner = ExchangePartner.objects.select_for_update().get(pk=partner.pk)
    if partner.active != bool(active):
        partner.active = bool(active)
        partner.save(update_fields=["active"])
        audit_record(
            actor=actor,
            action="update",
            object_type="exchange_partner",
            object_id=partner.pk,
            detail={
                "organisation": partner.organisation_id,
                "organ_id": partner.organ_id,
                "fields": ["active"],
                "active": partner.active,
            },
        )
    return partner


# -- reads of the pages (scoped to one organisation in the query) ------------------------------

MAX_LISTED = 500


@dataclass(frozen=True)
class CaSummary:
    subject: str
    not_after: datetime | None
    count: int

    @property
    def expired(self) -> bool:
        return self.not_after is not None and self.not_after < datetime.now(UTC)


def ca_summary(pem: str) -> CaSummary:
    """The first CA's name and the earliest expiry of the stored certificates (for the list)."""
    try:
        certificates = trusted_load(pem.encode())
    except ValueError:
        certificates = ()
    if not certificates:
        return CaSummary("—", None, 0)
    return CaSummary(
        _subject(certificates[0]),
        min(c.not_valid_after_utc for c in certificates),
        len(certificates),
    )


def _count(model, **filters) -> Subquery:
    rows = (
        model.objects.filter(partner=OuterRef("pk"), **filters)
        .order_by()
        .values("partner")
        .annotate(n=Count("*"))
        .values("n")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), Value(0))


def partners_of(organisation_id: int):
    """The organisation's partners with the documents sent to and received from each (one
    query: the counts are correlated subqueries)."""
    return (
        ExchangePartner.objects.filter(organisation_id=organisation_id)
        .annotate(
            sent_count=_count(OutboxMessage, kind=OutboxMessage.Kind.DOCUMENT),
            received_count=_count(InboxMessage),
        )
        .order_by("name", "pk")[:MAX_LISTED]
    )


def partner_of(organisation_id: int, pk: int) -> ExchangePartner | None:
    return ExchangePartner.objects.filter(organisation_id=organisation_id, pk=pk).first()
