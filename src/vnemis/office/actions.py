"""Writes of the e-office documents: setting up an organisation's e-office (abbreviation, units,
members), registering incoming documents, drafting outgoing and internal ones, adding file
versions, and numbering and issuing approved documents.

Each action is one transaction: the register number, the document, its files, its search row
and its workflow step commit together or not at all. Files are checked before
(``actions_files.uploads_check``), outside the transaction. A document's row is locked by every
action that changes its state, so two clicks at once cannot both pass a status check.
``actor=None`` is the operator at the console (or the exchange, acting for the system).
The handling workflow (assignments, submissions, approval by signing) is in ``workflow``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from vnemis.core.text import clean_text, search_key
from vnemis.orgs.models import Organisation, User
from vnemis.orgs.scope import is_unrestricted

from .actions_errors import OfficeError
from .actions_files import CheckedPdf, blob_store
from .models import (
    HANDLING_STATUSES,
    Attachment,
    Blob,
    Confidentiality,
    Document,
    DocumentRecipient,
    DocumentType,
    DocumentVersion,
    OfficeMember,
    OfficeOrganisation,
    OfficeUnit,
    Priority,
    Register,
    WorkflowStep,
)
from .numbering import (
    NotationError,
    RegisterDateError,
    abbreviation_check,
    notation_for,
    register_next,
)
from .search import search_index_refresh

__all__ = ["OfficeError"]

logger = logging.getLogger(__name__)
Kind = WorkflowStep.Kind
MAX_SUBJECT = 2000
MAX_RECIPIENTS = 200
EARLIEST = date(1945, 9, 2)


# -- helpers -----------------------------------------------------------------------------------


def _notation_error(exc: NotationError, field: str | None = None) -> OfficeError:
    return OfficeError(exc.code, exc.message_vi, exc.message_en, field=field)


def _member(actor) -> OfficeMember | None:
    from .selectors import member_get

    return member_get(actor)


def _operator(actor) -> bool:
    return actor is None or is_unrestricted(actor)


def _rights_ensure(actor, organisation_id: int, *, leader=False, clerk=False) -> None:
    """The actor is a member of the organisation (with the flag asked for, either one)."""
    if _operator(actor):
        return
    member = _member(actor)
    if member is None or member.organisation_id != organisation_id:
        raise PermissionDenied(_("Bạn không làm việc tại cơ quan của văn bản này."))
    if (leader or clerk) and not ((leader and member.is_leader) or (clerk and member.is_clerk)):
        if leader and clerk:
            raise PermissionDenied(
                _("Chỉ văn thư hoặc lãnh đạo cơ quan được thực hiện thao tác này.")
            )
        if leader:
            raise PermissionDenied(_("Chỉ lãnh đạo cơ quan được thực hiện thao tác này."))
        raise PermissionDenied(_("Chỉ văn thư cơ quan được thực hiện thao tác này."))


# What other parts of the office do after a step is recorded (signature checks of new files,
# status messages to an exchange partner): explicit callbacks, registered in AppConfig.ready,
# called inside the step's transaction; each takes the new WorkflowStep.
STEP_HOOKS: list = []


def step_hook_register(callback) -> None:
    if callback not in STEP_HOOKS:
        STEP_HOOKS.append(callback)


def step_record(
    *,
    document: Document,
    kind: str,
    actor,
    comment: str = "",
    assignment=None,
    submission=None,
    detail: dict | None = None,
    files_added: Sequence[Attachment] | None = None,
) -> WorkflowStep:
    """Append one step to a document's log (inside the caller's transaction), then run the
    step hooks. ``files_added``: the attachments the step added, when the caller has them (as
    ``step.files_added``, so hooks need not read them back)."""
    step = WorkflowStep.objects.create(
        document=document,
        kind=kind,
        actor=actor if actor is not None and actor.is_authenticated else None,
        comment=comment,
        assignment=assignment,
        submission=submission,
        detail=detail or {},
    )
    step.files_added = files_added
    for callback in STEP_HOOKS:
        callback(step)
    return step


def document_lock(document: Document) -> Document:
    """The document's row, locked until the transaction ends, as it is now."""
    return Document.objects.select_for_update().select_related("doc_type").get(pk=document.pk)


def _issuer_key(issuer: Organisation | None, organ_id: str, name: str) -> str:
    if issuer is not None:
        return f"org:{issuer.pk}"
    if organ_id:
        return f"id:{organ_id.lower()}"
    return f"name:{search_key(name)}"[:255]


def _subject_clean(subject: str) -> str:
    subject = clean_text(subject)
    if not subject:
        raise OfficeError(
            "subject_required",
            "Trích yếu nội dung là bắt buộc.",
            "The subject (summary) is required.",
            field="subject",
        )
    if len(subject) > MAX_SUBJECT:
        raise OfficeError(
            "subject_too_long",
            f"Trích yếu nội dung dài tối đa {MAX_SUBJECT} ký tự.",
            f"The subject is at most {MAX_SUBJECT} characters.",
            field="subject",
        )
    return subject


def _codes_check(priority: int, confidentiality: int) -> None:
    if priority not in Priority.values:
        raise OfficeError(
            "bad_priority",
            "Độ khẩn phải là một trong: Thường, Khẩn, Thượng khẩn, Hỏa tốc, Hỏa tốc hẹn giờ.",
            "The urgency must be normal, urgent, very urgent, express or timed express.",
            field="priority",
        )
    if confidentiality not in Confidentiality.values:
        raise OfficeError(
            "bad_confidentiality",
            "Độ mật phải là một trong: Thường, Mật, Tối mật, Tuyệt mật.",
            "The confidentiality must be normal, secret, top secret or absolute secret.",
            field="confidentiality",
        )


def _secret_files_refuse(confidentiality: int, has_files: bool) -> None:
    if confidentiality > Confidentiality.NORMAL and has_files:
        raise OfficeError(
            "secret_no_files",
            "Văn bản mật không được lưu tệp trên hệ thống: chỉ vào sổ thông tin văn bản, bản giấy"
            " được quản lý riêng theo quy định bảo vệ bí mật nhà nước.",
            "A secret document's files are not stored on the system: only its details are"
            " registered; the paper copy is kept apart under the state-secrets rules.",
            field="files",
        )


def _type_check(doc_type: DocumentType) -> None:
    if doc_type is None or not doc_type.active:
        raise OfficeError(
            "bad_type",
            "Hãy chọn loại văn bản trong danh mục.",
            "Choose a document type from the list.",
            field="doc_type",
        )


@dataclass(frozen=True)
class RecipientIn:
    """An addressee: an organisation of the tree, or an outside agency by name (and OrganId)."""

    name: str
    organisation: Organisation | None = None
    organ_id: str = ""


def recipients_parse(text: str) -> list[RecipientIn]:
    """One addressee a line: an organisation code of the tree (SGD01), or a name, optionally
    followed by ``|`` and its OrganId (``Văn phòng Chính phủ | 000.00.00.G01``)."""
    lines = [clean_text(line) for line in (text or "").splitlines()]
    lines = [line for line in lines if line]
    if len(lines) > MAX_RECIPIENTS:
        raise OfficeError(
            "too_many_recipients",
            f"Tối đa {MAX_RECIPIENTS} nơi nhận.",
            f"At most {MAX_RECIPIENTS} recipients.",
            field="recipients",
        )
    codes = {line for line in lines if "|" not in line and " " not in line}
    by_code = {o.code: o for o in Organisation.objects.filter(code__in=codes)} if codes else {}
    out: list[RecipientIn] = []
    for n, line in enumerate(lines, start=1):
        if line in by_code:
            org = by_code[line]
            out.append(RecipientIn(name=org.name, organisation=org))
            continue
        name, _sep, organ_id = (part.strip() for part in line.partition("|"))
        if len(name) < 2 or len(name) > 255:
            raise OfficeError(
                "bad_recipient",
                f"Nơi nhận dòng {n}: tên cơ quan phải dài từ 2 đến 255 ký tự.",
                f"Recipient line {n}: the agency name must be 2 to 255 characters.",
                field="recipients",
            )
        if organ_id and (
            len(organ_id) > 50 or not all(c.isalnum() or c in ".-_" for c in organ_id)
        ):
            raise OfficeError(
                "bad_organ_id",
                f"Nơi nhận dòng {n}: mã định danh “{organ_id}” chỉ gồm chữ, số, dấu chấm, gạch"
                " ngang (ví dụ 000.00.00.G01).",
                f"Recipient line {n}: the identifier '{organ_id}' may hold only letters, digits,"
                " dots and hyphens (e.g. 000.00.00.G01).",
                field="recipients",
            )
        out.append(RecipientIn(name=name, organ_id=organ_id))
    return out


def _recipients_write(document: Document, recipients: Sequence[RecipientIn]) -> None:
    DocumentRecipient.objects.filter(document=document).delete()
    DocumentRecipient.objects.bulk_create(
        DocumentRecipient(
            document=document,
            position=i,
            organisation=r.organisation,
            name=clean_text(r.name)[:255],
            organ_id=r.organ_id,
        )
        for i, r in enumerate(recipients)
    )


def version_create(
    *,
    document: Document,
    actor,
    main: CheckedPdf | Blob | None,
    main_name: str = "",
    appendices: Sequence[CheckedPdf] = (),
    keep_from=None,
    note: str = "",
    signed: bool = False,
    first: bool = False,
) -> DocumentVersion:
    """The document's next version (inside the caller's transaction, document locked): the
    files of ``keep_from`` (a version) carried over, its main file replaced by ``main`` if given,
    and ``appendices`` added. ``first``: the document was just created (version 1). The
    attachments made are on ``version.files_created`` (for the step that records them)."""
    last = 0
    if not first:
        last = document.versions.order_by("-number").values_list("number", flat=True).first() or 0
    version = DocumentVersion.objects.create(
        document=document,
        number=last + 1,
        note=clean_text(note)[:255],
        signed=signed,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    files: list[Attachment] = []
    if main is not None:
        if isinstance(main, CheckedPdf):
            main_name, main = main.name, blob_store(main)
        files.append(Attachment(version=version, name=main_name, is_main=True, blob=main))
    if keep_from is not None:
        for old in keep_from.files.order_by("position"):
            if old.is_main and main is not None:
                continue
            files.append(
                Attachment(version=version, name=old.name, is_main=old.is_main, blob_id=old.blob_id)
            )
    for pdf in appendices:
        files.append(
            Attachment(version=version, name=pdf.name, is_main=False, blob=blob_store(pdf))
        )
    for position, attachment in enumerate(sorted(files, key=lambda a: not a.is_main)):
        attachment.position = position
    Attachment.objects.bulk_create(files)
    version.files_created = files
    return version


# -- setting up --------------------------------------------------------------------------------


def _admin_ensure(actor, organisation: Organisation) -> None:
    """The operator, a leader of the organisation, or the organisation's own staff account."""
    if _operator(actor):
        return
    member = _member(actor)
    if member is not None and member.is_leader and member.organisation_id == organisation.pk:
        return
    staff = actor.role in (User.Role.MINISTRY, User.Role.DEPARTMENT, User.Role.SCHOOL)
    if staff and actor.scope_id == organisation.pk and member is None:
        return
    raise PermissionDenied(
        _("Chỉ lãnh đạo hoặc quản trị của cơ quan được thiết lập văn phòng điện tử.")
    )


@transaction.atomic
def office_organisation_set(
    *, actor, organisation: Organisation, abbreviation: str, place: str = "", organ_id: str = ""
) -> OfficeOrganisation:
    """Set an organisation's abbreviation (BGDĐT), place name and exchange OrganId."""
    _admin_ensure(actor, organisation)
    try:
        abbreviation = abbreviation_check(abbreviation)
    except NotationError as exc:
        raise _notation_error(exc, "abbreviation") from None
    organ_id = clean_text(organ_id)
    if organ_id and (len(organ_id) > 50 or not all(c.isalnum() or c in ".-_" for c in organ_id)):
        raise OfficeError(
            "bad_organ_id",
            "Mã định danh cơ quan chỉ gồm chữ, số, dấu chấm và gạch ngang (ví dụ 000.00.00.G01).",
            "The agency identifier may hold only letters, digits, dots and hyphens (e.g."
            " 000.00.00.G01).",
            field="organ_id",
        )
    try:
        with transaction.atomic():
            office, _created = OfficeOrganisation.objects.update_or_create(
                organisation=organisation,
                defaults={
                    "abbreviation": abbreviation,
                    "place": clean_text(place)[:100],
                    "organ_id": organ_id,
                },
            )
    except IntegrityError:
        raise OfficeError(
            "organ_id_taken",
            f"Mã định danh {organ_id} đã được dùng cho cơ quan khác.",
            f"The identifier {organ_id} is already used by another organisation.",
            field="organ_id",
        ) from None
    return office


@transaction.atomic
def office_unit_create(
    *, actor, organisation: Organisation, name: str, abbreviation: str
) -> OfficeUnit:
    """A unit (phòng, ban, vụ) of the organisation."""
    _admin_ensure(actor, organisation)
    name = clean_text(name)
    if not name or len(name) > 200:
        raise OfficeError(
            "bad_unit_name",
            "Tên đơn vị phải có và dài tối đa 200 ký tự.",
            "The unit name is required, at most 200 characters.",
            field="name",
        )
    try:
        abbreviation = abbreviation_check(abbreviation)
    except NotationError as exc:
        raise _notation_error(exc, "abbreviation") from None
    if OfficeUnit.objects.filter(organisation=organisation, abbreviation=abbreviation).exists():
        raise OfficeError(
            "unit_exists",
            f"Cơ quan đã có đơn vị viết tắt {abbreviation}.",
            f"The organisation already has a unit abbreviated {abbreviation}.",
            field="abbreviation",
        )
    return OfficeUnit.objects.create(
        organisation=organisation, name=name, abbreviation=abbreviation
    )


@transaction.atomic
def office_member_set(
    *,
    actor,
    user,
    organisation: Organisation,
    unit: OfficeUnit | None = None,
    is_leader: bool = False,
    is_clerk: bool = False,
    position: str = "",
) -> OfficeMember:
    """Make ``user`` a member of the organisation's e-office (or change their unit and rights).

    A member works in the organisation their account is scoped to: the e-office adds rights
    inside that organisation, never reach into another.
    """
    _admin_ensure(actor, organisation)
    if not user.is_superuser and user.scope_id != organisation.pk:
        raise OfficeError(
            "member_outside_scope",
            "Tài khoản này không thuộc cơ quan đã chọn nên không thể là thành viên văn phòng"
            " điện tử của cơ quan.",
            "This account does not belong to the chosen organisation, so it cannot be a member of"
            " its e-office.",
            field="user",
        )
    if unit is not None and unit.organisation_id != organisation.pk:
        raise OfficeError(
            "unit_elsewhere",
            "Đơn vị đã chọn không thuộc cơ quan này.",
            "The chosen unit belongs to another organisation.",
            field="unit",
        )
    member, _created = OfficeMember.objects.update_or_create(
        user=user,
        defaults={
            "organisation": organisation,
            "unit": unit,
            "is_leader": is_leader,
            "is_clerk": is_clerk,
            "position": clean_text(position)[:100],
        },
    )
    if hasattr(user, "_office_member_cache"):
        del user._office_member_cache
    return member


# -- incoming ----------------------------------------------------------------------------------


def _duplicate_incoming(organisation_id, issuer_key, year, number, notation) -> Document | None:
    if number is None:
        return None
    return Document.objects.filter(
        organisation_id=organisation_id,
        direction="incoming",
        issuer_key=issuer_key,
        issued_year=year,
        number=number,
        notation=notation,
    ).first()


def incoming_register(
    *,
    actor,
    organisation: Organisation,
    doc_type: DocumentType,
    subject: str,
    issued_on: date,
    issuer: Organisation | None = None,
    issuer_name: str = "",
    issuer_organ_id: str = "",
    number: int | None = None,
    notation: str = "",
    place: str = "",
    signer_name: str = "",
    signer_position: str = "",
    signer_competence: str = "",
    priority: int = Priority.NORMAL,
    confidentiality: int = Confidentiality.NORMAL,
    steering_type: int = 0,
    due_on: date | None = None,
    channel: str = Document.Channel.PAPER,
    main: CheckedPdf | None = None,
    appendices: Sequence[CheckedPdf] = (),
    arrived_at: datetime | None = None,
    external_id: str = "",
    page_count: int | None = None,
    also: Callable[[Document], None] | None = None,
) -> Document:
    """Register an arrived document in the organisation's incoming register: the next arrival
    number of the year, the document, its files (version 1), its search row and its step.
    ``also``: called with the document inside the registering transaction (what the caller
    records with it, e.g. the exchange's inbox row), so the caller needs no transaction of its
    own around this one."""
    _rights_ensure(actor, organisation.pk, leader=True, clerk=True)
    _type_check(doc_type)
    subject = _subject_clean(subject)
    _codes_check(priority, confidentiality)
    _secret_files_refuse(confidentiality, main is not None or bool(appendices))
    if main is None and appendices:
        main, appendices = appendices[0], appendices[1:]
    issuer_name = clean_text(issuer_name) or (issuer.name if issuer else "")
    issuer_organ_id = clean_text(issuer_organ_id)
    if not issuer_name:
        raise OfficeError(
            "issuer_required",
            "Hãy ghi cơ quan ban hành văn bản (tác giả).",
            "Give the issuing agency (author) of the document.",
            field="issuer_name",
        )
    if issuer is not None and issuer.pk == organisation.pk:
        raise OfficeError(
            "issuer_is_receiver",
            "Văn bản do chính cơ quan ban hành không vào sổ văn bản đến.",
            "A document issued by the organisation itself does not go into its incoming register.",
            field="issuer_code",
        )
    notation = clean_text(notation)
    if (number is None) != (not notation):
        raise OfficeError(
            "number_notation_pair",
            "Số và ký hiệu văn bản phải ghi cùng nhau (ví dụ 123/QĐ-BGDĐT).",
            "The number and the notation go together (e.g. 123/QĐ-BGDĐT).",
            field="number_notation",
        )
    if number is not None and number < 1:
        raise OfficeError(
            "number_zero",
            "Số văn bản bắt đầu từ 01; số 0 không hợp lệ.",
            "Document numbers start at 01; 0 is not valid.",
            field="number_notation",
        )
    arrived_at = arrived_at or timezone.now()
    arrival_day = timezone.localdate(arrived_at)
    if issued_on is None or issued_on < EARLIEST or issued_on > arrival_day:
        raise OfficeError(
            "bad_issued_on",
            f"Ngày ban hành phải có và không sau ngày đến ({arrival_day:%d/%m/%Y}).",
            f"The date of issue is required and not after the arrival date ({arrival_day:%d/%m/%Y}).",
            field="issued_on",
        )
    if due_on is not None and due_on < issued_on:
        raise OfficeError(
            "bad_due_on",
            "Hạn xử lý không được trước ngày ban hành.",
            "The due date cannot be before the date of issue.",
            field="due_on",
        )
    if channel not in Document.Channel.values:
        channel = Document.Channel.PAPER
    key = _issuer_key(issuer, issuer_organ_id, issuer_name)
    duplicate_error = OfficeError(
        "duplicate_incoming",
        f"Văn bản số {number:02d}/{notation} ngày {issued_on:%d/%m/%Y} của {issuer_name} đã được"
        " vào sổ văn bản đến của cơ quan.",
        f"Document {number:02d}/{notation} of {issued_on:%d/%m/%Y} from {issuer_name} is already"
        " in the organisation's incoming register.",
        field="number_notation",
    ) if number is not None else None  # fmt: skip
    # A duplicate is refused by the unique constraint office_doc_incoming_once, then named.
    try:
        with transaction.atomic():
            register, arrival_number = register_next(
                organisation_id=organisation.pk,
                kind=Register.Kind.INCOMING,
                year=arrival_day.year,
                on=arrival_day,
            )
            document = Document.objects.create(
                direction=Document.Direction.INCOMING,
                status=Document.Status.REGISTERED,
                organisation=organisation,
                doc_type=doc_type,
                issuer=issuer,
                issuer_name=issuer_name[:255],
                issuer_organ_id=issuer_organ_id[:50],
                issuer_key=key,
                number=number,
                notation=notation,
                issued_on=issued_on,
                issued_year=issued_on.year,
                place=clean_text(place)[:100],
                subject=subject,
                signer_name=clean_text(signer_name)[:100],
                signer_position=clean_text(signer_position)[:100],
                signer_competence=clean_text(signer_competence)[:100],
                priority=priority,
                confidentiality=confidentiality,
                steering_type=steering_type,
                due_on=due_on,
                page_count=page_count or (main.page_count if main else None),
                register=register,
                register_number=arrival_number,
                arrived_at=arrived_at,
                channel=channel,
                external_id=clean_text(external_id)[:200],
                created_by=actor if actor is not None and actor.is_authenticated else None,
            )
            files_added = []
            if main is not None:
                files_added = version_create(
                    document=document, actor=actor, main=main, appendices=appendices,
                    note=_("Văn bản đến"), first=True,
                ).files_created  # fmt: skip
            files = [(f.name, f.text) for f in ([main] if main else []) + list(appendices)]
            search_index_refresh(document, new=True, files=files)
            step_record(
                document=document,
                kind=Kind.REGISTERED,
                actor=actor,
                detail={"register_year": register.year, "arrival_number": arrival_number},
                files_added=files_added,
            )
            if also is not None:
                also(document)
    except RegisterDateError as exc:
        raise OfficeError(
            "arrival_before_last",
            f"Ngày đến không được trước ngày của văn bản vào sổ trước ({exc.last:%d/%m/%Y}).",
            f"The arrival date cannot be before the previous entry's ({exc.last:%d/%m/%Y}).",
        ) from None
    except IntegrityError:
        if duplicate_error is not None and _duplicate_incoming(
            organisation.pk, key, issued_on.year, number, notation
        ):
            raise duplicate_error from None
        raise
    return document


# -- outgoing and internal ---------------------------------------------------------------------


def _draft_fields_check(
    *, organisation_id: int, doc_type, drafting_unit, due_on, priority, confidentiality, copies
) -> None:
    _type_check(doc_type)
    _codes_check(priority, confidentiality)
    if drafting_unit is not None and drafting_unit.organisation_id != organisation_id:
        raise OfficeError(
            "unit_elsewhere",
            "Đơn vị soạn thảo không thuộc cơ quan này.",
            "The drafting unit belongs to another organisation.",
            field="drafting_unit",
        )
    if doc_type.is_letter and drafting_unit is None:
        raise OfficeError(
            "letter_needs_unit",
            "Công văn phải có đơn vị soạn thảo: ký hiệu công văn gồm chữ viết tắt tên cơ quan và"
            " tên đơn vị soạn thảo (ví dụ VPCP-TTĐT).",
            "An official letter needs its drafting unit: its notation is the agency's and the"
            " drafting unit's abbreviations (e.g. VPCP-TTĐT).",
            field="drafting_unit",
        )
    if due_on is not None and due_on < timezone.localdate() - timedelta(days=366):
        raise OfficeError(
            "bad_due_on",
            "Hạn xử lý đã qua quá một năm; hãy kiểm tra lại ngày.",
            "The due date is more than a year past; check the date.",
            field="due_on",
        )
    if not (1 <= copies <= 10_000):
        raise OfficeError(
            "bad_copies",
            "Số lượng bản phải từ 1 đến 10.000.",
            "The number of copies must be 1 to 10,000.",
            field="copies",
        )


def outgoing_draft_create(
    *,
    actor,
    doc_type: DocumentType,
    subject: str,
    organisation: Organisation | None = None,
    direction: str = Document.Direction.OUTGOING,
    drafting_unit: OfficeUnit | None = None,
    recipients: Sequence[RecipientIn] = (),
    due_on: date | None = None,
    priority: int = Priority.NORMAL,
    confidentiality: int = Confidentiality.NORMAL,
    signer_name: str = "",
    signer_position: str = "",
    signer_competence: str = "",
    copies: int = 1,
    place: str = "",
    in_reply_to: Document | None = None,
    replaces: Document | None = None,
    main: CheckedPdf | None = None,
    appendices: Sequence[CheckedPdf] = (),
    assignment=None,
) -> Document:
    """A new outgoing (or internal) draft of the actor's organisation, with its first files.

    A reply names the incoming document it answers (``in_reply_to``, of the same
    organisation); ``assignment`` is the handling assignment it is drafted under (workflow).
    A replacement (văn bản thay thế) names the issued outgoing document it replaces
    (``replaces``): once issued and sent, its receivers mark that one replaced.
    """
    member = _member(actor)
    if organisation is None:
        if member is None:
            raise PermissionDenied(_("Bạn chưa là thành viên văn phòng điện tử của cơ quan nào."))
        organisation = member.organisation
    _rights_ensure(actor, organisation.pk)
    if direction not in (Document.Direction.OUTGOING, Document.Direction.INTERNAL):
        raise OfficeError(
            "bad_direction",
            "Dự thảo là văn bản đi hoặc văn bản nội bộ.",
            "A draft is an outgoing or an internal document.",
            field="direction",
        )
    subject = _subject_clean(subject)
    if drafting_unit is None and member is not None:
        drafting_unit = member.unit
    _draft_fields_check(
        organisation_id=organisation.pk, doc_type=doc_type, drafting_unit=drafting_unit,
        due_on=due_on, priority=priority, confidentiality=confidentiality, copies=copies,
    )  # fmt: skip
    _secret_files_refuse(confidentiality, main is not None or bool(appendices))
    if main is None and appendices:
        main, appendices = appendices[0], appendices[1:]
    if in_reply_to is not None and (
        in_reply_to.organisation_id != organisation.pk or in_reply_to.direction != "incoming"
    ):
        raise OfficeError(
            "bad_reply_to",
            "Văn bản trả lời phải gắn với một văn bản đến của chính cơ quan.",
            "A reply must answer an incoming document of the same organisation.",
        )
    if replaces is not None:
        _replaced_check(replaces, organisation.pk, direction)
    office = OfficeOrganisation.objects.filter(organisation=organisation).first()
    with transaction.atomic():
        document = Document.objects.create(
            direction=direction,
            status=Document.Status.DRAFT,
            organisation=organisation,
            doc_type=doc_type,
            issuer=organisation,
            issuer_name=organisation.name,
            issuer_organ_id=office.organ_id if office else "",
            issuer_key=f"org:{organisation.pk}",
            subject=subject,
            signer_name=clean_text(signer_name)[:100],
            signer_position=clean_text(signer_position)[:100],
            signer_competence=clean_text(signer_competence)[:100],
            priority=priority,
            confidentiality=confidentiality,
            due_on=due_on,
            copies=copies,
            place=clean_text(place)[:100] or (office.place if office else ""),
            drafting_unit=drafting_unit,
            in_reply_to=in_reply_to,
            replaces=replaces,
            channel=Document.Channel.INTERNAL
            if direction == Document.Direction.INTERNAL
            else Document.Channel.ELECTRONIC,
            created_by=actor if actor is not None and actor.is_authenticated else None,
        )
        _recipients_write(document, recipients)
        if main is not None:
            version_create(
                document=document, actor=actor, main=main, appendices=appendices,
                note=_("Dự thảo lần đầu"),
            )  # fmt: skip
        search_index_refresh(document)
        detail = {"in_reply_to": in_reply_to.pk} if in_reply_to is not None else {}
        if replaces is not None:
            detail["replaces"] = replaces.pk
        step_record(
            document=document,
            kind=Kind.REPLY_DRAFTED if in_reply_to is not None else Kind.CREATED,
            actor=actor,
            assignment=assignment,
            detail=detail,
        )
        if replaces is not None:
            step_record(
                document=replaces,
                kind=Kind.REPLACEMENT_DRAFTED,
                actor=actor,
                detail={"replacement": document.pk},
            )
        if in_reply_to is not None:
            step_record(
                document=in_reply_to,
                kind=Kind.REPLY_DRAFTED,
                actor=actor,
                assignment=assignment,
                detail={"reply": document.pk},
            )
    return document


def _replaced_check(
    replaced: Document, organisation_id: int, direction: str, replacement_pk: int | None = None
) -> None:
    """A replacement replaces an issued outgoing document of its own organisation, one not
    replaced by another issued document already."""
    if (
        direction != Document.Direction.OUTGOING
        or replaced.organisation_id != organisation_id
        or replaced.direction != Document.Direction.OUTGOING
        or replaced.status != Document.Status.ISSUED
    ):
        raise OfficeError(
            "bad_replaces",
            "Văn bản thay thế phải là văn bản đi, thay thế một văn bản đi đã phát hành của chính"
            " cơ quan.",
            "A replacement is an outgoing document replacing an issued outgoing document of the"
            " same organisation.",
        )
    done = (
        replaced.replaced_by.filter(status=Document.Status.ISSUED)
        .exclude(pk=replacement_pk)
        .first()
    )
    if done is not None:
        raise OfficeError(
            "already_replaced",
            f"Văn bản {replaced.number_notation} đã được thay thế bởi văn bản"
            f" {done.number_notation}.",
            f"Document {replaced.number_notation} was already replaced by {done.number_notation}.",
        )


def _editor_ensure(actor, document: Document) -> None:
    """The drafter or a leader edits a draft; only while it is a draft or returned."""
    _rights_ensure(actor, document.organisation_id)
    if document.status not in Document.EDITABLE_STATUSES:
        raise OfficeError(
            "not_editable",
            f"Văn bản đang ở trạng thái “{document.get_status_display()}” nên không sửa được; chỉ"
            " sửa dự thảo hoặc văn bản bị trả lại.",
            f"The document is {document.status} and cannot be changed; only drafts and returned"
            " documents can.",
        )
    if _operator(actor) or document.created_by_id == actor.pk:
        return
    member = _member(actor)
    if member is None or not member.is_leader:
        raise PermissionDenied(_("Chỉ người soạn thảo hoặc lãnh đạo được sửa dự thảo này."))


DRAFT_FIELDS = (
    "doc_type", "subject", "drafting_unit", "due_on", "priority", "confidentiality",
    "signer_name", "signer_position", "signer_competence", "copies", "place",
)  # fmt: skip


def draft_update(
    *, actor, document: Document, recipients: Sequence[RecipientIn] | None = None, **changes
) -> Document:
    """Change a draft's details (and its recipients); the step names what changed."""
    unknown = set(changes) - set(DRAFT_FIELDS)
    if unknown:
        raise TypeError(f"unknown draft fields: {sorted(unknown)}")
    with transaction.atomic():
        document = document_lock(document)
        _editor_ensure(actor, document)
        merged = {f: changes.get(f, getattr(document, f)) for f in DRAFT_FIELDS}
        merged["subject"] = _subject_clean(merged["subject"])
        _draft_fields_check(
            organisation_id=document.organisation_id, doc_type=merged["doc_type"],
            drafting_unit=merged["drafting_unit"], due_on=merged["due_on"],
            priority=merged["priority"], confidentiality=merged["confidentiality"],
            copies=merged["copies"],
        )  # fmt: skip
        if merged["confidentiality"] > 0 and document.versions.exists():
            raise OfficeError(
                "secret_no_files",
                "Dự thảo đã có tệp nên không thể chuyển thành văn bản mật trên hệ thống.",
                "The draft has files already, so it cannot be made secret on the system.",
                field="confidentiality",
            )
        changed = []
        for name, value in merged.items():
            if isinstance(value, str) and name != "subject":
                value = clean_text(value)
            if getattr(document, name) != value:
                setattr(document, name, value)
                changed.append(name)
        document.save()
        if recipients is not None:
            before = list(document.recipients.values_list("name", "organisation_id", "organ_id"))
            after = [
                (clean_text(r.name), r.organisation.pk if r.organisation else None, r.organ_id)
                for r in recipients
            ]
            if before != after:
                _recipients_write(document, recipients)
                changed.append("recipients")
        if changed:
            search_index_refresh(document)
            step_record(
                document=document, kind=Kind.UPDATED, actor=actor, detail={"fields": changed}
            )
    return document


def _incoming_filer_ensure(actor, document: Document) -> None:
    """Files of an incoming document are added by a clerk, a leader, or one of its handlers."""
    if _operator(actor):
        return
    member = _member(actor)
    if member is not None and (member.is_clerk or member.is_leader):
        return
    from .selectors import assignment_is_mine

    for assignment in document.assignments.filter(status="open"):
        if assignment_is_mine(actor, assignment):
            return
    raise PermissionDenied(
        _("Chỉ văn thư, lãnh đạo hoặc người được giao xử lý được thêm tệp cho văn bản đến.")
    )


def document_version_add(
    *,
    actor,
    document: Document,
    main: CheckedPdf | None = None,
    appendices: Sequence[CheckedPdf] = (),
    note: str = "",
) -> DocumentVersion:
    """A new version of the document's files: the previous files kept, the main file replaced
    by ``main`` if given, ``appendices`` added. Drafts (drafter or leader) and incoming
    documents while they are handled (clerk, leader or a handler)."""
    if main is None and not appendices:
        raise OfficeError(
            "no_files", "Hãy chọn ít nhất một tệp PDF.", "Choose at least one PDF file.",
            field="files",
        )  # fmt: skip
    with transaction.atomic():
        document = document_lock(document)
        _secret_files_refuse(document.confidentiality, True)
        if document.is_outgoing:
            _editor_ensure(actor, document)
        else:
            _rights_ensure(actor, document.organisation_id)
            _incoming_filer_ensure(actor, document)
            if document.status not in HANDLING_STATUSES:
                raise OfficeError(
                    "not_handling",
                    f"Văn bản đến ở trạng thái “{document.get_status_display()}” nên không thêm"
                    f" tệp được.",
                    f"The incoming document is {document.status}; no files can be added.",
                )
        previous = document.versions.order_by("-number").first()
        version = version_create(
            document=document, actor=actor, main=main, appendices=appendices,
            keep_from=previous, note=note,
        )  # fmt: skip
        if main is not None:
            document.page_count = main.page_count
            document.save(update_fields=["page_count", "updated_at"])
        search_index_refresh(document)
        step_record(
            document=document,
            kind=Kind.VERSION_ADDED,
            actor=actor,
            comment=clean_text(note)[:255],
            detail={"version": version.number, "files": version.files.count()},
        )
    return version


def _replacement_issued(actor, document: Document) -> None:
    """The replaced document's log: replaced by this one (refused if another replacement of it
    was issued meanwhile)."""
    replaced = document_lock(document.replaces)
    _replaced_check(replaced, document.organisation_id, document.direction, document.pk)
    step_record(
        document=replaced,
        kind=Kind.REPLACED,
        actor=actor,
        comment=f"Thay thế bởi văn bản {document.number_notation}",
        detail={"replacement": document.pk},
    )


def outgoing_issue(*, actor, document: Document, issued_on: date | None = None) -> Document:
    """Number an approved document in the outgoing register and issue it: the next number of the
    year, its notation (QĐ-BGDĐT; a letter BGDĐT-VP), its date. Clerks only."""
    issued_on = issued_on or timezone.localdate()
    try:
        with transaction.atomic():
            document = document_lock(document)
            _rights_ensure(actor, document.organisation_id, clerk=True)
            if document.status != Document.Status.APPROVED:
                raise OfficeError(
                    "not_approved",
                    f"Chỉ cấp số văn bản đã được lãnh đạo ký duyệt; văn bản đang ở trạng thái"
                    f" “{document.get_status_display()}”.",
                    f"Only a document a leader has signed can be numbered; this one is"
                    f" {document.status}.",
                )
            office = OfficeOrganisation.objects.filter(
                organisation_id=document.organisation_id
            ).first()
            unit = document.drafting_unit
            try:
                notation = notation_for(
                    type_abbreviation=document.doc_type.abbreviation,
                    is_letter=document.doc_type.is_letter,
                    agency=office.abbreviation if office else "",
                    unit=unit.abbreviation if unit else "",
                    year=issued_on.year if document.doc_type.notation_with_year else None,
                )
            except NotationError as exc:
                raise _notation_error(exc) from None
            register, number = register_next(
                organisation_id=document.organisation_id,
                kind=Register.Kind.OUTGOING,
                year=issued_on.year,
                on=issued_on,
            )
            document.number, document.notation = number, notation
            document.issued_on, document.issued_year = issued_on, issued_on.year
            document.register, document.register_number = register, number
            document.status = Document.Status.ISSUED
            if office and not document.place:
                document.place = office.place
            document.save()
            search_index_refresh(document)
            step_record(
                document=document,
                kind=Kind.ISSUED,
                actor=actor,
                detail={"number": number, "notation": notation, "year": issued_on.year},
            )
            if document.replaces_id is not None:
                _replacement_issued(actor, document)
    except RegisterDateError as exc:
        raise OfficeError(
            "issued_before_last",
            f"Ngày ban hành không được trước ngày của văn bản cấp số trước ({exc.last:%d/%m/%Y}).",
            f"The date of issue cannot be before the previous number's ({exc.last:%d/%m/%Y}).",
            field="issued_on",
        ) from None
    except IntegrityError:
        raise OfficeError(
            "number_taken",
            "Số và ký hiệu này đã được dùng trong năm; hãy thử cấp số lại.",
            "This number and notation are already used this year; try numbering again.",
        ) from None
    return document
