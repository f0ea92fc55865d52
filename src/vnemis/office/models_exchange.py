"""The edXML exchange between agencies: partners, the outbox, the inbox and status reports.

``ExchangePartner`` is another agency one of our organisations exchanges documents with: its
OrganId, the URLs of its inbox and status endpoints, and the CA (and optionally the certificate
fingerprint) its signatures must chain to. ``OutboxMessage`` is one signed message (a document,
or a status report about a document we received) queued for one partner and delivered by the
``exchange_outbox_deliver`` task with retries. ``InboxMessage`` is one document received, kept
by its DocumentId so that a replay (or a retry after a lost answer) never registers it twice.
``ExchangeStatus`` is one status report (01 … 06, 02) a partner sent back about our document.
The workflow hook (``exchange.step_recorded``) queues the status reports of received documents.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from vnemis.orgs.models import Organisation


class ExchangePartner(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    organ_id = models.CharField(_("mã định danh cơ quan"), max_length=50)
    name = models.CharField(_("tên cơ quan"), max_length=255)
    inbox_url = models.URLField(_("địa chỉ nhận văn bản"), max_length=500)
    # Blank: the inbox URL with "inbox/" replaced by "status/" (two vnemis instances).
    status_url = models.URLField(_("địa chỉ nhận trạng thái"), max_length=500, blank=True)
    trusted_ca_pem = models.TextField(_("chứng thư CA tin cậy (PEM)"))
    # SHA-256 of the partner's signing certificate (hex); blank: any certificate of the CA.
    certificate_fingerprint = models.CharField(max_length=64, blank=True)
    active = models.BooleanField(_("đang liên thông"), default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["organisation", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "organ_id"], name="office_partner_organ_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.organ_id})"

    @property
    def status_endpoint(self) -> str:
        if self.status_url:
            return self.status_url
        base = self.inbox_url.rstrip("/")
        return (base[: -len("inbox")] if base.endswith("inbox") else base + "/") + "status/"


class OutboxMessage(models.Model):
    class Kind(models.TextChoices):
        DOCUMENT = "document", _("Văn bản")
        STATUS = "status", _("Trạng thái xử lý")

    class State(models.TextChoices):
        QUEUED = "queued", _("Chờ gửi")
        SENT = "sent", _("Đã gửi")
        ACKNOWLEDGED = "acknowledged", _("Bên nhận đã xác nhận")
        FAILED = "failed", _("Gửi không thành công")

    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.DOCUMENT)
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    # The document sent (kind document), or the received document reported on (kind status).
    document = models.ForeignKey(
        "office.Document", on_delete=models.PROTECT, related_name="exchange_outbox"
    )
    partner = models.ForeignKey(ExchangePartner, on_delete=models.PROTECT, related_name="outbox")
    edxml_id = models.CharField(max_length=200)  # the edXML DocumentId
    status_code = models.CharField(max_length=2, blank=True)  # kind status: 02 … 06
    data = models.BinaryField()  # the signed XML, exactly as sent
    state = models.CharField(max_length=12, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["state", "next_attempt_at"])]
        constraints = [
            # Sending twice queues nothing twice: one row per partner, document and report.
            models.UniqueConstraint(
                fields=["partner", "kind", "edxml_id", "status_code"],
                name="office_outbox_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.edxml_id} → {self.partner_id} ({self.state})"

    @property
    def latest_status(self):
        return self.statuses.order_by("-timestamp", "-id").first()


class InboxMessage(models.Model):
    """One received document, by DocumentId: the receiver's guard against replays."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    partner = models.ForeignKey(ExchangePartner, on_delete=models.PROTECT, related_name="inbox")
    edxml_id = models.CharField(max_length=200)
    document = models.OneToOneField(
        "office.Document", on_delete=models.PROTECT, related_name="exchange_inbox"
    )
    sha256 = models.CharField(max_length=64)
    signer_fingerprint = models.CharField(max_length=64)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "edxml_id"], name="office_inbox_once")
        ]

    def __str__(self) -> str:
        return self.edxml_id


class ExchangeStatus(models.Model):
    """A status report a partner sent about one of our documents (verified before stored)."""

    outbox = models.ForeignKey(OutboxMessage, on_delete=models.CASCADE, related_name="statuses")
    status_code = models.CharField(max_length=2)
    description = models.TextField(blank=True)
    timestamp = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["timestamp", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["outbox", "status_code"],
                condition=~Q(status_code="02"),
                name="office_exchange_status_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.status_code} {self.timestamp:%Y-%m-%d %H:%M}"

    @property
    def label(self) -> str:
        from .exchange import status_label

        return status_label(self.status_code)
