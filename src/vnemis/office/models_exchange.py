"""The edXML exchange between agencies: partners, the outbox, the inbox and status reports.

``ExchangePartner`` is another agency one of our organisations exchanges documents with: its
OrganId, the URLs of its inbox and status endpoints, and the CA (and optionally the certificate
fingerprint) its signatures must chain to. ``OutboxMessage`` is one signed message (a document,
or a status report about a document we received) queued for one partner and delivered by the
``exchange_outbox_deliver`` task with retries. ``InboxMessage`` is one document received, kept
by its DocumentId so that a replay (or a retry after a lost answer) never registers it twice.
``ExchangeStatus`` is one status report (01 … 06, 02) a partner sent back about our document.
``BusinessRequest`` is a recall or update a partner sent about a document it had sent us
(``exchange_business``): the replay guard, the pending recall a leader decides, the record.
The workflow hook (``exchange.step_recorded``) queues the status reports of received documents.
"""

from django.conf import settings
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
        RECALL = "recall", _("Đề nghị thu hồi")  # BussinessDocType 1 (exchange_business)
        UPDATE = "update", _("Cập nhật văn bản")  # BussinessDocType 2

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
    status_code = models.CharField(max_length=2, blank=True)  # kind status: 02 … 06, 13 … 16
    # One recall or update request (shared by its rows to each partner), or the received
    # request a 15/16 answers: a document can be recalled or updated more than once.
    business_key = models.CharField(max_length=40, blank=True)
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
                fields=["partner", "kind", "edxml_id", "status_code", "business_key"],
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


class BusinessRequest(models.Model):
    """A recall (BussinessDocType 1) or update (2) a partner sent about a document we received.

    Kept by the message's SHA-256, so a replay is answered without being recorded twice; a
    recall stays ``pending`` until a leader agrees (the document is recalled, 15 goes back) or
    refuses (16 with the reason). An update is applied (15) or refused (16) on arrival.
    """

    class Kind(models.TextChoices):
        RECALL = "recall", _("Đề nghị thu hồi")
        UPDATE = "update", _("Cập nhật văn bản")

    class State(models.TextChoices):
        PENDING = "pending", _("Chờ lãnh đạo cho ý kiến")
        AGREED = "agreed", _("Đồng ý")
        REFUSED = "refused", _("Từ chối")

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    partner = models.ForeignKey(ExchangePartner, on_delete=models.PROTECT, related_name="+")
    document = models.ForeignKey(
        "office.Document", on_delete=models.PROTECT, related_name="business_requests"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    reason = models.TextField(blank=True)  # BussinessDocReason, as the sender wrote it
    staff = models.JSONField(default=dict, blank=True)  # the sender's StaffInfo
    sha256 = models.CharField(max_length=64)  # of the message as received
    received_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision = models.TextField(blank=True)  # the leader's comment or reason; what an update did

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "sha256"], name="office_business_once"),
            # One recall waits for a leader at a time; a repeated request is answered with it.
            models.UniqueConstraint(
                fields=["document"],
                condition=Q(kind="recall", state="pending"),
                name="office_recall_one_pending",
            ),
            models.CheckConstraint(
                condition=Q(state="pending", decided_at__isnull=True)
                | (~Q(state="pending") & Q(decided_at__isnull=False)),
                name="office_business_decided_at",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.state} ({self.document_id})"
