"""Signing credentials of the e-office's users and the signature results of stored files.

``SigningCredential`` holds a user's PKCS#12 (key, certificate, chain), encrypted at rest with
the project's AES-GCM keys (``core.crypto``), and what the pages and checks need from the
certificate in clear (subject, issuer, serial, validity, fingerprint, key type). A personal
credential's password is never stored: the leader types it each time they sign. One credential
is active per user (personal) and per organisation (seal); importing a new one deactivates the
old, which stays as history (documents it signed must still be traceable to it).

``AttachmentSignatures`` is the validation of every signature of one stored file, made when the
file is attached (``signing_hooks``), shown on the document's page.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from vnemis.orgs.models import Organisation


class SigningCredential(models.Model):
    class Kind(models.TextChoices):
        PERSONAL = "personal", _("Chứng thư số cá nhân")
        SEAL = "seal", _("Chứng thư số của cơ quan (con dấu)")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="signing_credentials"
    )
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.PERSONAL)
    subject_name = models.CharField(_("người được cấp"), max_length=255)  # common name
    subject = models.TextField()  # the whole subject, RFC 4514
    issuer = models.TextField(_("tổ chức cấp"))
    serial = models.CharField(max_length=80)  # hex
    not_before = models.DateTimeField(_("hiệu lực từ"))
    not_after = models.DateTimeField(_("hiệu lực đến"))
    fingerprint = models.CharField(max_length=64, db_index=True)  # SHA-256 of the DER, hex
    key_type = models.CharField(max_length=20)  # "EC P-256", "RSA 2048", "Ed25519"
    # core.crypto.encrypt_identifier of the base64 text of the PKCS#12 file.
    p12_encrypted = models.BinaryField()
    # Seal only. The organisation's seal is applied by the clerk when a document is issued,
    # an act of the organisation rather than of a person typing their own secret, so the
    # server must be able to open it unattended. The password is kept encrypted with the same
    # at-rest keys as the PKCS#12 (a database dump alone opens neither); personal credentials
    # never store theirs.
    password_encrypted = models.BinaryField(null=True, blank=True)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    deactivated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(active=True, kind="personal"),
                name="office_cred_one_personal",
            ),
            models.UniqueConstraint(
                fields=["organisation"],
                condition=Q(active=True, kind="seal"),
                name="office_cred_one_seal",
            ),
            models.CheckConstraint(
                condition=Q(kind="seal") | Q(password_encrypted__isnull=True),
                name="office_cred_personal_no_password",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject_name} ({self.kind}, {self.fingerprint[:16]})"


class AttachmentSignatures(models.Model):
    """Every signature of one stored file, validated against the trusted roots when attached."""

    class Status(models.TextChoices):
        CHECKED = "checked", _("Đã kiểm tra")
        NONE = "none", _("Không có chữ ký số")
        ERROR = "error", _("Không kiểm tra được")

    attachment = models.OneToOneField(
        "office.Attachment", on_delete=models.CASCADE, related_name="signature_check"
    )
    status = models.CharField(max_length=8, choices=Status.choices)
    # [{index, field, outcome, signer, organisation, signing_time (ISO), whole, detail_vi,
    #   detail_en}], in the order the signatures were applied
    results = models.JSONField(default=list, blank=True)
    all_valid = models.BooleanField(default=False)
    error_vi = models.TextField(blank=True)
    error_en = models.TextField(blank=True)
    checked_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.attachment_id}: {self.status}"
