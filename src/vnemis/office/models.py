"""E-office records: official documents, their versions and PDF files, registers, and the
handling workflow (assignments, submissions for approval, the append-only step log).

The rules follow Decree 30/2020 (DOMAIN.md §9). A document belongs to one organisation of the
tree (``organisation``): the issuer of an outgoing or internal document, the receiver of an
incoming one. Its files live in versions: every upload or signature adds a version and the old
ones stay, so the PDF a leader signed is always the one that was submitted. File bytes are stored
in the database (``Blob``, content-addressed), so a registration and its files commit or roll
back together and backups hold both.

Numbers come from ``Register`` rows (one per organisation, kind and calendar year), locked in the
transaction that registers the document (``numbering``): gap-free, restarting at 1 each year.
Writes go through ``actions`` and ``workflow``; reads through ``selectors`` (scoped).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from vnemis.orgs.models import Organisation


class DocumentType(models.Model):
    """A kind of document (Decree 30/2020, Appendix III) with its notation abbreviation.

    Kept as data (migration 0002 loads the table): ``abbreviation`` goes into the notation
    (QĐ in 123/QĐ-BGDĐT); an official letter (``is_letter``, công văn) has none and uses the
    drafting unit's abbreviation instead (7816/VPCP-TTĐT). ``edxml_code`` is the numeric
    DocumentType/Type of an exchange partner, which differs between public samples.
    """

    code = models.CharField(max_length=10, unique=True)
    name = models.CharField(_("tên loại văn bản"), max_length=100)
    abbreviation = models.CharField(_("chữ viết tắt"), max_length=10, blank=True)
    is_letter = models.BooleanField(default=False)
    # Legal normative documents carry the year in the notation: 05/2025/TT-BGDĐT.
    notation_with_year = models.BooleanField(default=False)
    edxml_code = models.CharField(max_length=10, blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(is_letter=True) | ~Q(abbreviation=""), name="office_type_has_abbr"
            )
        ]

    def __str__(self) -> str:
        return self.name


class OfficeOrganisation(models.Model):
    """What the e-office needs of an organisation: the abbreviation of its name in notations
    (BGDĐT, SGDĐT), its place name on documents (Hà Nội), and its exchange identifier."""

    organisation = models.OneToOneField(
        Organisation, on_delete=models.CASCADE, primary_key=True, related_name="office"
    )
    abbreviation = models.CharField(_("chữ viết tắt tên cơ quan"), max_length=20)
    place = models.CharField(_("địa danh"), max_length=100, blank=True)
    # The OrganId of the national document exchange (edXML From/To).
    organ_id = models.CharField(_("mã định danh cơ quan"), max_length=50, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organ_id"], condition=~Q(organ_id=""), name="office_org_organ_id_unique"
            )
        ]

    def __str__(self) -> str:
        return self.abbreviation


class OfficeUnit(models.Model):
    """A unit inside an organisation (Văn phòng, a Vụ, a Phòng) that drafts and handles
    documents; its abbreviation closes an official letter's notation (VPCP-TTĐT)."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("tên đơn vị"), max_length=200)
    abbreviation = models.CharField(_("chữ viết tắt"), max_length=20)

    class Meta:
        ordering = ["organisation", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "abbreviation"], name="office_unit_abbr_unique"
            )
        ]

    def __str__(self) -> str:
        return self.name


class OfficeMember(models.Model):
    """A user's place in the e-office: one organisation, optionally a unit, and the rights
    there. Leaders (lãnh đạo) assign incoming documents and approve submissions; clerks (văn
    thư) keep the registers: they register incoming documents and number outgoing ones."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="office_member"
    )
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey(
        OfficeUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="members"
    )
    is_leader = models.BooleanField(_("lãnh đạo"), default=False)
    is_clerk = models.BooleanField(_("văn thư"), default=False)
    position = models.CharField(_("chức vụ"), max_length=100, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organisation", "unit"])]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organisation_id}"


class Register(models.Model):
    """A register (sổ văn bản đến / đi) of one organisation for one calendar year: its counter.

    ``last_number`` is read and advanced only under a row lock, in the transaction that
    registers the document (``numbering.register_next``). ``last_date`` keeps numbers in date
    order: a document is never numbered with a date before the previous one's.
    """

    class Kind(models.TextChoices):
        INCOMING = "incoming", _("Sổ văn bản đến")
        OUTGOING = "outgoing", _("Sổ văn bản đi")

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    year = models.PositiveSmallIntegerField()
    last_number = models.PositiveIntegerField(default=0)
    last_date = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "kind", "year"], name="office_register_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.year} ({self.last_number})"


class Priority(models.IntegerChoices):
    """Độ khẩn, with the edXML Priority codes."""

    NORMAL = 0, _("Thường")
    URGENT = 1, _("Khẩn")
    VERY_URGENT = 2, _("Thượng khẩn")
    EXPRESS = 3, _("Hỏa tốc")
    TIMED_EXPRESS = 4, _("Hỏa tốc hẹn giờ")


class Confidentiality(models.IntegerChoices):
    """Độ mật. State secrets are not stored on a networked system: a secret document is
    registered (metadata only) and its paper copy handled apart; its files are refused."""

    NORMAL = 0, _("Thường")
    SECRET = 1, _("Mật")
    TOP_SECRET = 2, _("Tối mật")
    ABSOLUTE = 3, _("Tuyệt mật")


OUTGOING_STATUSES = ("draft", "submitted", "returned", "approved", "issued")
INCOMING_STATUSES = (
    "registered", "assigned", "in_progress", "completed", "sent_back", "recalled", "replaced",
)  # fmt: skip
# incoming documents still being handled: assignable, files can be added
HANDLING_STATUSES = ("registered", "assigned", "in_progress")


class Document(models.Model):
    class Direction(models.TextChoices):
        INCOMING = "incoming", _("Văn bản đến")
        OUTGOING = "outgoing", _("Văn bản đi")
        INTERNAL = "internal", _("Văn bản nội bộ")

    class Status(models.TextChoices):
        # outgoing and internal documents
        DRAFT = "draft", _("Dự thảo")
        SUBMITTED = "submitted", _("Chờ lãnh đạo duyệt")
        RETURNED = "returned", _("Bị trả lại")
        APPROVED = "approved", _("Đã ký duyệt")
        ISSUED = "issued", _("Đã phát hành")
        # incoming documents (edXML status codes 03, 04, 05, 06, and 02 when sent back)
        REGISTERED = "registered", _("Đã vào sổ")
        ASSIGNED = "assigned", _("Đã giao xử lý")
        IN_PROGRESS = "in_progress", _("Đang xử lý")
        COMPLETED = "completed", _("Đã hoàn thành")
        SENT_BACK = "sent_back", _("Đã trả lại nơi gửi")  # edXML status 02 to the sender
        # the sender recalled it; kept in the register (context: a credential is "revoked")
        RECALLED = "recalled", pgettext_lazy("document", "Đã thu hồi")
        # the sender issued a document replacing it (edXML BussinessDocType 3)
        REPLACED = "replaced", _("Đã bị thay thế")

    OUTGOING_STATUSES = OUTGOING_STATUSES
    INCOMING_STATUSES = INCOMING_STATUSES
    EDITABLE_STATUSES = ("draft", "returned")

    class Channel(models.TextChoices):
        PAPER = "paper", _("Bản giấy")
        ELECTRONIC = "electronic", _("Trục liên thông (edXML)")
        EMAIL = "email", _("Thư điện tử")
        INTERNAL = "internal", _("Trong hệ thống")

    direction = models.CharField(max_length=8, choices=Direction.choices)
    status = models.CharField(max_length=12, choices=Status.choices)
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    doc_type = models.ForeignKey(DocumentType, on_delete=models.PROTECT, related_name="+")

    # The issuer: our organisation for outgoing documents; for incoming ones, an organisation of
    # the tree or an outside agency by name and OrganId. ``issuer_key`` identifies it for the
    # uniqueness of number + notation (folded name, OrganId or our id).
    issuer = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    issuer_name = models.CharField(_("cơ quan ban hành"), max_length=255)
    issuer_organ_id = models.CharField(max_length=50, blank=True)
    issuer_key = models.CharField(max_length=255)

    number = models.PositiveIntegerField(_("số"), null=True, blank=True)
    notation = models.CharField(_("ký hiệu"), max_length=60, blank=True)
    issued_on = models.DateField(_("ngày ban hành"), null=True, blank=True)
    issued_year = models.PositiveSmallIntegerField(null=True, blank=True)
    place = models.CharField(_("địa danh"), max_length=100, blank=True)
    subject = models.TextField(_("trích yếu nội dung"))
    signer_name = models.CharField(_("người ký"), max_length=100, blank=True)
    signer_position = models.CharField(_("chức vụ người ký"), max_length=100, blank=True)
    signer_competence = models.CharField(_("thẩm quyền ký"), max_length=100, blank=True)
    priority = models.PositiveSmallIntegerField(
        _("độ khẩn"), choices=Priority.choices, default=Priority.NORMAL
    )
    confidentiality = models.PositiveSmallIntegerField(
        _("độ mật"), choices=Confidentiality.choices, default=Confidentiality.NORMAL
    )
    steering_type = models.PositiveSmallIntegerField(default=0)  # edXML SteeringType 0-2
    due_on = models.DateField(_("hạn xử lý"), null=True, blank=True)
    copies = models.PositiveSmallIntegerField(_("số lượng bản"), default=1)
    page_count = models.PositiveIntegerField(null=True, blank=True)
    drafting_unit = models.ForeignKey(
        OfficeUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # A reply (outgoing draft) names the incoming document it answers.
    in_reply_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replies"
    )
    # A replacement (văn bản thay thế) names the document it replaces: for an outgoing one, our
    # issued document; for an incoming one, the earlier document of the same sender.
    replaces = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by"
    )

    # The register entry: arrival number (incoming) or the document's number (outgoing).
    register = models.ForeignKey(
        Register, null=True, blank=True, on_delete=models.PROTECT, related_name="documents"
    )
    register_number = models.PositiveIntegerField(null=True, blank=True)
    arrived_at = models.DateTimeField(_("ngày đến"), null=True, blank=True)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.PAPER)
    # The edXML DocumentId ({OrganId},{yyyy/MM/dd},{number}/{notation}) when exchanged.
    external_id = models.CharField(max_length=200, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["organisation", "direction", "status"]),
            models.Index(fields=["organisation", "register", "register_number"]),
            models.Index(fields=["in_reply_to"]),
            models.Index(fields=["replaces"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(direction="incoming", status__in=INCOMING_STATUSES)
                | Q(direction__in=["outgoing", "internal"], status__in=OUTGOING_STATUSES),
                name="office_doc_status_fits_direction",
            ),
            models.CheckConstraint(
                condition=Q(priority__lte=4) & Q(confidentiality__lte=3) & Q(steering_type__lte=2),
                name="office_doc_codes_known",
            ),
            models.CheckConstraint(
                condition=Q(number__isnull=True) | Q(number__gte=1), name="office_doc_number_pos"
            ),
            # An issued outgoing document and every incoming one sit in a register.
            models.CheckConstraint(
                condition=~Q(status__in=["issued", *INCOMING_STATUSES])
                | Q(register__isnull=False, register_number__isnull=False),
                name="office_doc_registered",
            ),
            models.CheckConstraint(
                condition=~Q(status="issued")
                | Q(number__isnull=False, issued_on__isnull=False, issued_year__isnull=False),
                name="office_doc_issued_numbered",
            ),
            models.UniqueConstraint(
                fields=["register", "register_number"], name="office_doc_register_number_unique"
            ),
            # Decree 30/2020: number + notation unique in the year, per issuing organisation.
            models.UniqueConstraint(
                fields=["organisation", "issued_year", "number", "notation"],
                condition=Q(direction__in=["outgoing", "internal"], number__isnull=False),
                name="office_doc_outgoing_number_unique",
            ),
            # The same document of the same issuer is registered once by each receiver.
            models.UniqueConstraint(
                fields=["organisation", "issuer_key", "issued_year", "number", "notation"],
                condition=Q(direction="incoming", number__isnull=False),
                name="office_doc_incoming_once",
            ),
            models.UniqueConstraint(
                fields=["organisation", "external_id"],
                condition=~Q(external_id=""),
                name="office_doc_external_id_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.number_notation or self.subject[:60]

    @property
    def number_notation(self) -> str:
        """'123/QĐ-BGDĐT'; numbers below 10 with a leading zero ('05/QĐ-BGDĐT')."""
        from .numbering import number_notation

        return number_notation(self.number, self.notation)

    @property
    def is_outgoing(self) -> bool:
        return self.direction != self.Direction.INCOMING

    @property
    def is_secret(self) -> bool:
        return self.confidentiality > Confidentiality.NORMAL


class DocumentRecipient(models.Model):
    """One addressee (nơi nhận): an organisation of the tree, or an outside agency by name and
    OrganId, or (internal documents) one of our units by name."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="recipients")
    position = models.PositiveSmallIntegerField(default=0)
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    name = models.CharField(max_length=255)
    organ_id = models.CharField(max_length=50, blank=True)

    class Meta:
        ordering = ["document", "position"]
        indexes = [models.Index(fields=["organisation", "document"])]

    def __str__(self) -> str:
        return self.name


class Blob(models.Model):
    """The bytes of one file, stored once whatever the number of versions holding it, with the
    text extracted from it for search (``text_status``: ok, empty, failed, or pending until a task
    extracts it)."""

    sha256 = models.CharField(max_length=64, unique=True)
    size = models.PositiveBigIntegerField()
    data = models.BinaryField()
    page_count = models.PositiveIntegerField(default=0)
    signature_count = models.PositiveSmallIntegerField(default=0)
    text = models.TextField(blank=True)
    text_status = models.CharField(max_length=8, default="ok")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [  # the few files still waiting for their text, found without a scan
            models.Index(
                fields=["id"], condition=Q(text_status="pending"), name="office_blob_text_pending"
            )
        ]

    def __str__(self) -> str:
        return f"{self.sha256[:12]} ({self.size} B)"


class DocumentVersion(models.Model):
    """One state of a document's files. Versions are never changed: a new upload or a signature
    makes the next one (``number`` 1, 2, ...) and the document's current files are the last."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveSmallIntegerField()
    note = models.CharField(max_length=255, blank=True)
    signed = models.BooleanField(default=False)  # made by a signature (approval, seal)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["document", "number"]
        constraints = [
            models.UniqueConstraint(fields=["document", "number"], name="office_version_unique")
        ]

    def __str__(self) -> str:
        return f"v{self.number}"


class Attachment(models.Model):
    """A PDF file of a version: the document itself (``is_main``, the file that gets signed) or
    an appendix. Bytes are in ``blob``."""

    version = models.ForeignKey(DocumentVersion, on_delete=models.CASCADE, related_name="files")
    position = models.PositiveSmallIntegerField(default=0)
    name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100, default="application/pdf")
    is_main = models.BooleanField(default=False)
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["version", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["version"], condition=Q(is_main=True), name="office_one_main_file"
            )
        ]

    def __str__(self) -> str:
        return self.name


class DocumentSearch(models.Model):
    """A document's searchable text, folded (no diacritics, lower case) by ``core.text``:
    metadata and the text of its current files. PostgreSQL indexes
    ``to_tsvector('simple', body)`` (GIN); SQLite mirrors it into the FTS5 table
    ``office_document_fts`` by triggers (migration 0003). Written only by ``search``."""

    document = models.OneToOneField(
        Document, on_delete=models.CASCADE, primary_key=True, related_name="search_row"
    )
    body = models.TextField()


class Assignment(models.Model):
    """A piece of handling work on a document given to one person or one unit.

    ``role``: main handler (chủ trì), cooperating (phối hợp), an opinion asked for (xin ý kiến),
    or for information. Closed by completing it or by forwarding it (``parent`` links the new
    assignment to the one it came from).
    """

    class Role(models.TextChoices):
        MAIN = "main", _("Chủ trì xử lý")
        COOPERATE = "cooperate", _("Phối hợp")
        OPINION = "opinion", _("Cho ý kiến")
        INFO = "info", _("Để biết")

    class Status(models.TextChoices):
        OPEN = "open", _("Đang xử lý")
        DONE = "done", _("Đã xong")
        FORWARDED = "forwarded", _("Đã chuyển tiếp")

    document = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="assignments")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MAIN)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    assignee_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    assignee_unit = models.ForeignKey(
        OfficeUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    instruction = models.TextField(_("ý kiến chỉ đạo"), blank=True)
    deadline = models.DateField(_("hạn xử lý"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Set once by the daily overdue task, so each overdue item is flagged (and logged) once.
    overdue_flagged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["assignee_user", "status", "deadline"]),
            models.Index(fields=["assignee_unit", "status", "deadline"]),
            models.Index(fields=["organisation", "status", "deadline"]),
            models.Index(fields=["document", "status"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(assignee_user__isnull=False, assignee_unit__isnull=True)
                | Q(assignee_user__isnull=True, assignee_unit__isnull=False),
                name="office_assignment_one_assignee",
            ),
            models.CheckConstraint(
                condition=Q(status="open", closed_at__isnull=True)
                | (~Q(status="open") & Q(closed_at__isnull=False)),
                name="office_assignment_closed_at",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role} {self.status}"

    def is_overdue(self, today=None) -> bool:
        today = today or timezone.localdate()
        return (
            self.status == self.Status.OPEN and self.deadline is not None and self.deadline < today
        )


class Submission(models.Model):
    """An outgoing draft's version put to a leader for approval.

    Pending → returned (with the leader's comment) by ``workflow.submission_return``, →
    forwarded to another leader (a new pending submission of the same version) by
    ``workflow.submission_forward``, or → approved only by ``workflow.approve_by_signing``,
    which stores the signed PDF as a new version: the check constraint makes an approval
    without a signed version impossible.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Chờ duyệt")
        APPROVED = "approved", _("Đã ký duyệt")
        RETURNED = "returned", _("Trả lại")
        # handed to another leader, who decides a new submission of the same version
        FORWARDED = "forwarded", _("Chuyển lãnh đạo khác")

    document = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="submissions")
    version = models.ForeignKey(DocumentVersion, on_delete=models.PROTECT, related_name="+")
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    leader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    submitted_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True)
    signed_version = models.ForeignKey(
        DocumentVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["leader", "status"])]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="approved") | Q(signed_version__isnull=False),
                name="office_approval_is_signed",
            ),
            models.CheckConstraint(
                condition=Q(status="pending", decided_at__isnull=True)
                | (~Q(status="pending") & Q(decided_at__isnull=False)),
                name="office_submission_decided_at",
            ),
            # At most one pending submission of a document at a time.
            models.UniqueConstraint(
                fields=["document"],
                condition=Q(status="pending"),
                name="office_one_pending_submission",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.document_id} {self.status}"


class WorkflowStep(models.Model):
    """One thing that happened to a document, by whom and when. Append-only: saving an existing
    step or deleting one is refused, and documents cannot be deleted under their steps."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Tạo dự thảo")
        REGISTERED = "registered", _("Vào sổ văn bản đến")
        UPDATED = "updated", _("Sửa thông tin")
        VERSION_ADDED = "version", _("Thêm phiên bản tệp")
        ASSIGNED = "assigned", _("Giao xử lý")
        FORWARDED = "forwarded", _("Chuyển tiếp")
        COMMENTED = "commented", _("Ý kiến")
        OPINION_REQUESTED = "opinion_req", _("Xin ý kiến")
        OPINION_GIVEN = "opinion", _("Cho ý kiến")
        REPLY_DRAFTED = "reply", _("Soạn văn bản trả lời")
        SUBMITTED = "submitted", _("Trình duyệt")
        RETURNED = "returned", _("Trả lại")
        SUBMISSION_FORWARDED = "submit_fwd", _("Chuyển lãnh đạo khác duyệt")
        APPROVED = "approved", _("Ký duyệt")
        ISSUED = "issued", _("Cấp số, phát hành")
        COMPLETED = "completed", _("Hoàn thành xử lý")
        SENT_BACK = "sent_back", _("Trả lại nơi gửi")
        OVERDUE = "overdue", _("Quá hạn")
        # the exchange's recall (thu hồi): asked for, agreed, refused (exchange_business)
        RECALL_REQUESTED = "recall_req", _("Đề nghị thu hồi")
        RECALLED = "recalled", _("Thu hồi văn bản")
        RECALL_REFUSED = "recall_no", _("Từ chối đề nghị thu hồi")
        # replacement (thay thế): drafted for an issued document; the replaced one's step
        REPLACEMENT_DRAFTED = "replacing", _("Soạn văn bản thay thế")
        REPLACED = "replaced", _("Bị thay thế")

    document = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="steps")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    assignment = models.ForeignKey(
        Assignment, null=True, blank=True, on_delete=models.PROTECT, related_name="steps"
    )
    submission = models.ForeignKey(
        Submission, null=True, blank=True, on_delete=models.PROTECT, related_name="steps"
    )
    comment = models.TextField(blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["document", "id"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("Workflow steps are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Workflow steps are append-only.")


from .models_exchange import ExchangePartner, OutboxMessage  # noqa: E402, F401
from .models_signing import AttachmentSignatures, SigningCredential  # noqa: E402, F401
