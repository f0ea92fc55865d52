"""Recall (thu hồi) and update (cập nhật) of documents exchanged over edXML.

Sending: the issuing organisation of an outgoing document already delivered to partners asks
them to recall it (``document_recall_request``: BussinessDocType 1, the reason, and the
document's DocumentId in ``Bussiness/DocumentId``) or sends them a corrected version
(``document_update_send``: doc type 2, the corrected header and the current files). Both are
outbox rows (kinds ``recall``, ``update``) delivered by ``exchange.outbox_deliver``.

Receiving: the inbox hands every message whose doc type is not 0 to ``business_receive``, after
the sender and signature checks. A recall of a document we registered is recorded (a pending
``BusinessRequest`` and a step with the reason) and answered 13; a leader then agrees
(``recall_agree``: the document is recalled — kept in the register, its number never reused —
its open assignments close, 15 goes back) or refuses (``recall_refuse``: 16 with the reason).
An update is applied on arrival (the corrected details, a new version of the files, a step) and
answered 15, or 16 when the document is no longer ours to change. A replay is answered with what
was decided and never recorded twice.

Statuses 13, 15 and 16 coming back are recorded on the request they answer
(``business_status_record``, called by ``exchange._status_record``).
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from vnemis.core.text import clean_text
from vnemis.orgs.scope import is_unrestricted

from . import exchange
from .actions import (
    _codes_check,
    _rights_ensure,
    _subject_clean,
    document_lock,
    step_record,
    version_create,
)
from .actions_errors import OfficeError
from .edxml import (
    Business,
    BusinessDocumentInfo,
    Message,
    ResponseFor,
    StaffInfo,
    TraceHeaderList,
    message_build,
)
from .edxml.codes import BUSINESS_DOC_TYPES, DATE_FORMAT
from .models import Assignment, Document, WorkflowStep
from .models_exchange import BusinessRequest, ExchangeStatus, InboxMessage, OutboxMessage
from .search import search_index_refresh
from .texts import texts_enqueue
from .workflow import _text

logger = logging.getLogger(__name__)
Kind = WorkflowStep.Kind
State = OutboxMessage.State
Request = BusinessRequest
BUSINESS_KINDS = (OutboxMessage.Kind.RECALL, OutboxMessage.Kind.UPDATE)
BUSINESS_STATUS_CODES = ("13", "15", "16")
MAX_REASON = 4000
DOCUMENT_ID = re.compile(r"([^,\s]{1,50}),(\d{4}/\d{2}/\d{2}),(\d{1,9}/[^,]{1,60})")
# What an update may correct (the number, notation and date make the DocumentId: a change
# there is a new document, or a replacement).
UPDATE_FIELDS = (
    "subject", "due_on", "priority", "signer_name", "signer_position", "signer_competence",
)  # fmt: skip


def _number(document: Document) -> str:
    return f"{document.register_number:02d}/{document.register.year}"


def _staff(actor) -> StaffInfo:
    from .selectors import member_get

    if actor is None or not actor.is_authenticated:
        return StaffInfo()
    member = member_get(actor)
    unit = member.unit.name if member is not None and member.unit is not None else ""
    name = actor.get_full_name() or actor.username
    return StaffInfo(department=unit[:200], staff=name[:200], email=(actor.email or "")[:200])


# -- sending -----------------------------------------------------------------------------------


def _delivered(document: Document) -> list[OutboxMessage]:
    """The document's messages that reached a partner (delivered, or answered)."""
    return list(
        document.exchange_outbox.filter(
            kind=OutboxMessage.Kind.DOCUMENT, state__in=(State.SENT, State.ACKNOWLEDGED)
        )
        .select_related("partner")
        .order_by("partner__organ_id")
    )


def _request_codes(row: OutboxMessage) -> set[str]:
    return {s.status_code for s in row.statuses.all()}


def partner_recall_states(document: Document) -> dict[int, str]:
    """Per partner id: ``recalled`` (a recall agreed, 15), ``open`` (a recall not answered yet
    with 15/16 and not failed), or nothing."""
    states: dict[int, str] = {}
    rows = document.exchange_outbox.filter(kind=OutboxMessage.Kind.RECALL).prefetch_related(
        "statuses"
    )
    for row in rows:
        codes = _request_codes(row)
        if "15" in codes:
            states[row.partner_id] = "recalled"
        elif "16" not in codes and row.state != State.FAILED:
            states.setdefault(row.partner_id, "open")
    return states


def _sender_ensure(actor, document: Document) -> list[OutboxMessage]:
    _rights_ensure(actor, document.organisation_id, leader=True, clerk=True)
    if document.direction != Document.Direction.OUTGOING or document.status != "issued":
        raise OfficeError(
            "exchange_not_issued",
            "Chỉ thu hồi hoặc cập nhật được văn bản đi đã phát hành và đã gửi liên thông.",
            "Only an issued outgoing document sent through the exchange can be recalled or"
            " updated.",
        )
    rows = _delivered(document)
    if not rows:
        raise OfficeError(
            "exchange_never_sent",
            "Văn bản chưa được gửi tới cơ quan liên thông nào nên không có gì để thu hồi hay cập"
            " nhật.",
            "The document has not reached any exchange partner, so there is nothing to recall or"
            " update.",
        )
    return rows


def _queue(
    document: Document, rows: list[OutboxMessage], *, kind: str, business: Business, files: bool
) -> list[OutboxMessage]:
    """One signed message (the document's header, its files if ``files``, ``business``) to the
    partners of ``rows``, an outbox row each, delivered after the commit."""
    partners = [row.partner for row in rows]
    built = exchange.message_for(document, partners)
    edxml_id = rows[0].edxml_id
    if built.document_id != edxml_id or any(r.edxml_id != edxml_id for r in rows):
        raise OfficeError(
            "exchange_identity_changed",
            "Mã định danh hoặc số, ký hiệu của văn bản đã khác với khi gửi; không thể thu hồi hay"
            " cập nhật qua liên thông.",
            "The document's identifier or number has changed since it was sent; it cannot be"
            " recalled or updated through the exchange.",
        )
    message = Message(
        header=built.header,
        trace=TraceHeaderList(built.trace.traces, business),
        attachments=built.attachments if files else (),
    )
    data = exchange._sign(message_build(message), document.organisation_id)
    if data is None:
        raise OfficeError(
            "exchange_no_credential",
            "Cơ quan chưa có chứng thư số (con dấu) đang hiệu lực để ký thông điệp liên thông.",
            "The organisation has no active seal certificate to sign exchange messages with.",
        )
    key = uuid.uuid4().hex
    created = [
        OutboxMessage.objects.create(
            kind=kind,
            organisation_id=document.organisation_id,
            document=document,
            partner=partner,
            edxml_id=edxml_id,
            business_key=key,
            data=data,
        )
        for partner in partners
    ]
    ids = [row.pk for row in created]
    transaction.on_commit(lambda: exchange._enqueue(ids))
    return created


def document_recall_request(*, actor, document: Document, reason: str) -> list[OutboxMessage]:
    """Ask the partners an issued document reached to recall it (thu hồi), with the reason: one
    signed message (BussinessDocType 1), an outbox row per partner not already asked or
    recalled. Clerks and leaders of the issuing organisation."""
    reason = _text(reason, required=True, field="reason", what_vi="lý do thu hồi", what_en="reason")
    with transaction.atomic():
        document = document_lock(document)
        rows = _sender_ensure(actor, document)
        states = partner_recall_states(document)
        targets = [r for r in rows if r.partner.active and r.partner_id not in states]
        if not targets:
            if rows and all(states.get(r.partner_id) == "recalled" for r in rows):
                raise OfficeError(
                    "exchange_already_recalled",
                    "Các nơi nhận đã đồng ý thu hồi văn bản này.",
                    "The recipients have already agreed to recall this document.",
                )
            raise OfficeError(
                "exchange_recall_pending",
                "Đề nghị thu hồi đã gửi và đang chờ nơi nhận trả lời.",
                "A recall request was sent and is waiting for the recipients' answer.",
            )
        business = Business(
            doc_type=1, reason=reason, document_id=targets[0].edxml_id, staff=_staff(actor)
        )
        created = _queue(document, targets, kind=OutboxMessage.Kind.RECALL, business=business,
                         files=False)  # fmt: skip
        step_record(
            document=document,
            kind=Kind.RECALL_REQUESTED,
            actor=actor,
            comment=reason,
            detail={"exchange": "recall", "partners": [r.partner.organ_id for r in targets]},
        )
    return created


def _update_value(document: Document, name: str, value):
    if name == "subject":
        return _subject_clean(value)
    if name == "priority":
        _codes_check(value, document.confidentiality)
        return value
    if name == "due_on":
        if value is not None and document.issued_on and value < document.issued_on:
            raise OfficeError(
                "bad_due_on",
                "Hạn xử lý không được trước ngày ban hành.",
                "The due date cannot be before the date of issue.",
                field="due_on",
            )
        return value
    return clean_text(value)[:100]


def document_update_send(
    *, actor, document: Document, reason: str, main=None, appendices=(), **changes
) -> list[OutboxMessage]:
    """Correct an issued document's details (``UPDATE_FIELDS``) and/or files (``main``
    replaces the main file, ``appendices`` are added: checked PDFs) and send the corrected
    document to every partner it reached that has not recalled it (BussinessDocType 2)."""
    unknown = set(changes) - set(UPDATE_FIELDS)
    if unknown:
        raise TypeError(f"unknown update fields: {sorted(unknown)}")
    reason = _text(
        reason, required=True, field="reason", what_vi="nội dung cập nhật", what_en="reason"
    )
    with transaction.atomic():
        document = document_lock(document)
        rows = _sender_ensure(actor, document)
        states = partner_recall_states(document)
        targets = [r for r in rows if r.partner.active and states.get(r.partner_id) != "recalled"]
        if not targets:
            raise OfficeError(
                "exchange_update_no_partner",
                "Không còn nơi nhận nào để cập nhật: các nơi nhận đã thu hồi văn bản.",
                "No recipient is left to update: they have recalled the document.",
            )
        changed = []
        for name, value in changes.items():
            value = _update_value(document, name, value)
            if getattr(document, name) != value:
                setattr(document, name, value)
                changed.append(name)
        if not changed and main is None and not appendices:
            raise OfficeError(
                "exchange_update_nothing",
                "Không có thông tin hay tệp nào thay đổi để gửi cập nhật.",
                "Nothing changed: no details or files to send as an update.",
            )
        version = None
        if main is not None or appendices:
            previous = document.versions.order_by("-number").first()
            version = version_create(
                document=document, actor=actor, main=main, appendices=appendices,
                keep_from=previous, note="Cập nhật văn bản đã gửi liên thông",
            )  # fmt: skip
            if main is not None:
                document.page_count = main.page_count
                changed.append("page_count")
        document.save(update_fields=[*changed, "updated_at"])
        search_index_refresh(document)
        business = Business(
            doc_type=2,
            reason=reason,
            document_id=targets[0].edxml_id,
            staff=_staff(actor),
            document_info=BusinessDocumentInfo(document_info=1),
        )
        created = _queue(document, targets, kind=OutboxMessage.Kind.UPDATE, business=business,
                         files=True)  # fmt: skip
        step_record(
            document=document,
            kind=Kind.VERSION_ADDED if version is not None else Kind.UPDATED,
            actor=actor,
            comment=reason,
            detail={
                "exchange": "update",
                "fields": [f for f in changed if f != "page_count"],
                "version": version.number if version is not None else None,
                "partners": [r.partner.organ_id for r in targets],
            },
        )
    return created


# -- receiving ---------------------------------------------------------------------------------


@dataclass
class _Inbound:
    """What the inbox knows of one business message when it hands it over."""

    message: Message
    data: bytes
    office: object
    partner: object
    response_for: ResponseFor
    us: object

    @property
    def org_id(self) -> int:
        return self.office.pk

    def refuse(self, http_status: int, exc) -> exchange.Answer:
        return exchange._refuse(
            http_status, exc, response_for=self.response_for, us=self.us, org_id=self.org_id
        )

    def answer(self, code: str, vi: str, en: str, document=None) -> exchange.Answer:
        body = exchange._status_bytes(
            response_for=self.response_for,
            us=self.us,
            organisation_id=self.org_id,
            code=code,
            vi=vi,
            en=en,
        )
        return exchange.Answer(200, body, code, document)


def _malformed(vi: str, en: str) -> OfficeError:
    return OfficeError(
        "exchange_business_malformed",
        f"Khối nghiệp vụ (Bussiness) không hợp lệ: {vi}",
        f"The business block (Bussiness) is not valid: {en}",
    )


def document_id_check(
    target: str, partner, *, verb_vi: str = "thu hồi hoặc cập nhật",
    verb_en: str = "recall or update", label_vi: str = "DocumentId", label_en: str = "DocumentId",
) -> OfficeError | None:  # fmt: skip
    """Why ``target`` cannot name a document ``partner`` issued (None: it can): the form
    ``{OrganId},{yyyy/MM/dd},{number}/{notation}``, a real date, the partner's OrganId."""
    found = DOCUMENT_ID.fullmatch(target)
    if found is None:
        return _malformed(
            f"{label_vi} “{target[:80]}” không có dạng {{OrganId}},{{yyyy/MM/dd}},{{số}}/{{ký"
            " hiệu}}.",
            f"{label_en} '{target[:80]}' is not of the form {{OrganId}},{{yyyy/MM/dd}},"
            "{number}/{notation}.",
        )
    try:
        datetime.strptime(found.group(2), DATE_FORMAT)  # noqa: DTZ007 - a date, no time
    except ValueError:
        return _malformed(
            f"ngày “{found.group(2)}” trong {label_vi} không có thật.",
            f"the date '{found.group(2)}' in {label_en} does not exist.",
        )
    if found.group(1) != partner.organ_id:
        return OfficeError(
            "exchange_business_not_sender",
            f"Chỉ cơ quan ban hành được {verb_vi} văn bản {target[:120]};"
            f" {partner.name} không phải cơ quan ban hành văn bản này.",
            f"Only the issuing agency may {verb_en} document {target[:120]};"
            f" {partner.name} did not issue it.",
        )
    return None


def _business_check(message: Message, partner) -> OfficeError | None:
    """Why the Bussiness block cannot be acted on (None: it can). The 403 (not the sender's
    document) comes before the 400s, so a hostile partner learns nothing about our documents."""
    b = message.trace.business
    target = b.document_id.strip()
    problem = document_id_check(target, partner)
    if problem is not None:
        return problem
    if target != message.header.document_id:
        return _malformed(
            f"DocumentId {target[:120]} không phải văn bản trong MessageHeader"
            f" ({message.header.document_id[:120]}).",
            f"DocumentId {target[:120]} is not the document of the MessageHeader"
            f" ({message.header.document_id[:120]}).",
        )
    if len(b.reason) > MAX_REASON:
        return _malformed(
            f"lý do (BussinessDocReason) dài quá {MAX_REASON} ký tự.",
            f"the reason (BussinessDocReason) is over {MAX_REASON} characters.",
        )
    return None


def business_receive(*, message, data, office, partner, response_for, us) -> exchange.Answer:
    """A recall or update from a verified partner, about a document it sent us: recorded or
    applied, answered 13/15/16 (200), or refused (4xx, status 02 with the reason). Never
    raises for bad input."""
    inbound = _Inbound(message, data, office, partner, response_for, us)
    b = message.trace.business
    if b.doc_type not in (1, 2):  # 3 (replacement) is a new document: exchange_replace
        vi, en = BUSINESS_DOC_TYPES.get(b.doc_type, ("?", "?"))
        return inbound.refuse(
            422,
            OfficeError(
                "exchange_business_unsupported",
                f"Nghiệp vụ “{vi}” (BussinessDocType {b.doc_type}) chưa được hỗ trợ; thông điệp"
                " không được xử lý.",
                f"The business type '{en}' (BussinessDocType {b.doc_type}) is not supported;"
                " the message was not processed.",
            ),
        )
    problem = _business_check(message, partner)
    if problem is not None:
        status = 403 if problem.code == "exchange_business_not_sender" else 400
        return inbound.refuse(status, problem)
    target = b.document_id.strip()
    inbox = (
        InboxMessage.objects.select_related("document")
        .filter(organisation_id=office.pk, edxml_id=target, partner=partner)
        .first()
    )
    if inbox is None:
        return inbound.refuse(
            404,
            OfficeError(
                "exchange_unknown_document",
                f"Không có văn bản {target[:120]} đã nhận từ {partner.name}; không thể thu hồi"
                " hay cập nhật.",
                f"No document {target[:120]} was received from {partner.name}; it cannot be"
                " recalled or updated.",
            ),
        )
    digest = hashlib.sha256(data).hexdigest()
    if b.doc_type == 1:
        return _recall_receive(inbound, inbox, digest)
    return _update_receive(inbound, inbox, digest)


def _replay_answer(inbound: _Inbound, seen: BusinessRequest) -> exchange.Answer:
    """The answer to a message received before: what was decided, nothing recorded again."""
    document = Document.objects.select_related("register").get(pk=seen.document_id)
    number = _number(document)
    what_vi = "thu hồi" if seen.kind == Request.Kind.RECALL else "cập nhật"
    what_en = "recall" if seen.kind == Request.Kind.RECALL else "update"
    if seen.state == Request.State.PENDING:
        return inbound.answer(
            "13",
            f"Đề nghị thu hồi văn bản đến số {number} đã được ghi nhận trước đó, đang chờ lãnh"
            " đạo cho ý kiến.",
            f"The recall request for incoming number {number} was recorded before and waits"
            " for a leader's decision.",
            document,
        )
    if seen.state == Request.State.AGREED:
        return inbound.answer(
            "15",
            f"Đề nghị {what_vi} văn bản đến số {number} đã được chấp nhận trước đó.",
            f"The {what_en} of incoming number {number} was agreed before.",
            document,
        )
    return inbound.answer(
        "16",
        f"Đề nghị {what_vi} văn bản đến số {number} đã bị từ chối trước đó. Lý do: {seen.decision}",
        f"The {what_en} of incoming number {number} was refused before. Reason (in"
        f" Vietnamese): {seen.decision}",
        document,
    )


def _staff_dict(staff: StaffInfo | None) -> dict:
    if staff is None:
        return {}
    values = {
        "department": staff.department,
        "staff": staff.staff,
        "mobile": staff.mobile,
        "email": staff.email,
    }
    return {k: clean_text(v)[:200] for k, v in values.items() if v}


def _recall_receive(inbound: _Inbound, inbox: InboxMessage, digest: str) -> exchange.Answer:
    b = inbound.message.trace.business
    reason = (b.reason or "").strip()[:MAX_REASON]
    try:
        with transaction.atomic():
            document = document_lock(inbox.document)
            number = _number(document)
            seen = Request.objects.filter(organisation_id=inbound.org_id, sha256=digest).first()
            if seen is not None:
                return _replay_answer(inbound, seen)
            if document.status == Document.Status.RECALLED:
                return inbound.answer(
                    "15",
                    f"Văn bản đến số {number} đã được thu hồi trước đó.",
                    f"Incoming number {number} was recalled before.",
                    document,
                )
            pending = document.business_requests.filter(
                kind=Request.Kind.RECALL, state=Request.State.PENDING
            ).first()
            if pending is not None:
                return _replay_answer(inbound, pending)
            request = Request.objects.create(
                organisation_id=inbound.org_id,
                partner=inbound.partner,
                document=document,
                kind=Request.Kind.RECALL,
                reason=reason,
                staff=_staff_dict(b.staff),
                sha256=digest,
            )
            step_record(
                document=document,
                kind=Kind.RECALL_REQUESTED,
                actor=None,
                comment=reason or "—",
                detail={
                    "exchange": "recall",
                    "request": request.pk,
                    "partner": inbound.partner.organ_id,
                    "staff": request.staff,
                },
            )
    except IntegrityError:  # the same request recorded by a concurrent delivery
        seen = (
            Request.objects.filter(organisation_id=inbound.org_id, sha256=digest).first()
            or Request.objects.filter(
                document_id=inbox.document_id,
                kind=Request.Kind.RECALL,
                state=Request.State.PENDING,
            ).first()
        )
        if seen is None:
            raise
        return _replay_answer(inbound, seen)
    logger.info("exchange: recall of document %s requested by %s", document.pk, inbox.partner_id)
    return inbound.answer(
        "13",
        f"Đã ghi nhận đề nghị thu hồi văn bản đến số {number}; chờ lãnh đạo cơ quan cho ý kiến.",
        f"The recall request for incoming number {number} is recorded and waits for a"
        " leader's decision.",
        document,
    )


def _update_changes(document: Document, message: Message) -> dict:
    """The corrected details a message carries, as the document's fields (only the changed)."""
    h = message.header
    wanted = {
        "subject": _subject_clean(h.subject),
        "signer_name": clean_text(h.signer.full_name)[:100],
        "signer_position": clean_text(h.signer.position)[:100],
        "signer_competence": clean_text(h.signer.competence)[:100],
        "place": clean_text(h.promulgation.place)[:100],
        "due_on": h.due_date,
        "priority": h.other_info.priority,
        "steering_type": h.steering_type,
        "doc_type": exchange._doc_type_for(message),
    }
    if wanted["due_on"] is not None and wanted["due_on"] < document.issued_on:
        raise OfficeError(
            "bad_due_on",
            "Hạn xử lý không được trước ngày ban hành.",
            "The due date cannot be before the date of issue.",
        )
    return {name: value for name, value in wanted.items() if getattr(document, name) != value}


def _update_refused(inbound, document, digest, vi: str, en: str) -> exchange.Answer:
    Request.objects.create(
        organisation_id=inbound.org_id,
        partner=inbound.partner,
        document=document,
        kind=Request.Kind.UPDATE,
        state=Request.State.REFUSED,
        reason=(inbound.message.trace.business.reason or "").strip()[:MAX_REASON],
        staff=_staff_dict(inbound.message.trace.business.staff),
        sha256=digest,
        decided_at=timezone.now(),
        decision=vi,
    )
    return inbound.answer("16", vi, en, document)


# How the answer names what an update changed (Vietnamese, English).
UPDATE_LABELS = {
    "subject": ("trích yếu", "subject"),
    "signer_name": ("người ký", "signer"),
    "signer_position": ("chức vụ người ký", "signer's position"),
    "signer_competence": ("thẩm quyền ký", "signing competence"),
    "place": ("địa danh", "place"),
    "due_on": ("hạn xử lý", "due date"),
    "priority": ("độ khẩn", "urgency"),
    "steering_type": ("loại chỉ đạo", "steering type"),
    "doc_type": ("loại văn bản", "document type"),
}

CLOSED_FOR_UPDATE = {
    Document.Status.RECALLED: ("đã được thu hồi", "has been recalled"),
    Document.Status.SENT_BACK: ("đã được trả lại nơi gửi", "was returned to its sender"),
}


def _update_receive(inbound: _Inbound, inbox: InboxMessage, digest: str) -> exchange.Answer:
    from .actions_signing import reports_known

    seen = Request.objects.filter(organisation_id=inbound.org_id, sha256=digest).first()
    if seen is not None:
        return _replay_answer(inbound, seen)
    try:  # the files are checked as a new document's are, before the transaction
        files, reports = exchange._files(inbound.message, inbound.partner)
    except OfficeError as exc:
        return inbound.refuse(422, exc)
    b = inbound.message.trace.business
    reason = (b.reason or "").strip()[:MAX_REASON]
    try:
        with transaction.atomic(), reports_known(reports):
            document = document_lock(inbox.document)
            number = _number(document)
            if document.status in CLOSED_FOR_UPDATE:
                vi, en = CLOSED_FOR_UPDATE[document.status]
                return _update_refused(
                    inbound, document, digest,
                    f"Không cập nhật được: văn bản đến số {number} {vi}.",
                    f"Not updated: incoming number {number} {en}.",
                )  # fmt: skip
            try:
                changes = _update_changes(document, inbound.message)
            except OfficeError as exc:
                return _update_refused(
                    inbound, document, digest,
                    f"Không cập nhật được văn bản đến số {number}: {exc.message_vi}",
                    f"Incoming number {number} not updated: {exc.message_en}",
                )  # fmt: skip
            current = document.versions.order_by("-number").first()
            held = (
                [a.blob.sha256 for a in current.files.select_related("blob").order_by("position")]
                if current is not None
                else []
            )
            new_files = bool(files) and [f.sha256 for f in files] != held
            what_vi, what_en = [], []
            for name in changes:
                setattr(document, name, changes[name])
                vi, en = UPDATE_LABELS[name]
                what_vi.append(vi)
                what_en.append(en)
            version = None
            if new_files:
                version = version_create(
                    document=document, actor=None, main=files[0], appendices=files[1:],
                    note="Cập nhật từ nơi gửi",
                )  # fmt: skip
                document.page_count = files[0].page_count
                what_vi.append(f"tệp (phiên bản {version.number})")
                what_en.append(f"files (version {version.number})")
            decided = timezone.now()
            if not what_vi:
                Request.objects.create(
                    organisation_id=inbound.org_id, partner=inbound.partner, document=document,
                    kind=Request.Kind.UPDATE, state=Request.State.AGREED, reason=reason,
                    staff=_staff_dict(b.staff), sha256=digest, decided_at=decided,
                    decision="Không có gì thay đổi.",
                )  # fmt: skip
                return inbound.answer(
                    "15",
                    f"Văn bản đến số {number} đã có đúng nội dung này; không có gì thay đổi.",
                    f"Incoming number {number} already holds this content; nothing changed.",
                    document,
                )
            document.save()
            search_index_refresh(document)
            request = Request.objects.create(
                organisation_id=inbound.org_id, partner=inbound.partner, document=document,
                kind=Request.Kind.UPDATE, state=Request.State.AGREED, reason=reason,
                staff=_staff_dict(b.staff), sha256=digest, decided_at=decided,
                decision="Đã cập nhật: " + ", ".join(what_vi),
            )  # fmt: skip
            step_record(
                document=document,
                kind=Kind.VERSION_ADDED if version is not None else Kind.UPDATED,
                actor=None,
                comment=reason or "—",
                detail={
                    "exchange": "update",
                    "request": request.pk,
                    "fields": list(changes),
                    "version": version.number if version is not None else None,
                    "partner": inbound.partner.organ_id,
                },
            )
            if version is not None:
                texts_enqueue(f.sha256 for f in files if f.text_status == "pending")
    except IntegrityError:  # the same update applied by a concurrent delivery
        seen = Request.objects.filter(organisation_id=inbound.org_id, sha256=digest).first()
        if seen is None:
            raise
        return _replay_answer(inbound, seen)
    return inbound.answer(
        "15",
        f"Đã cập nhật văn bản đến số {number} theo đề nghị của nơi gửi: {', '.join(what_vi)}.",
        f"Incoming number {number} updated as the sender asked: {', '.join(what_en)}.",
        document,
    )


# -- the receiving leader's decision -----------------------------------------------------------


def recall_pending(document: Document) -> BusinessRequest | None:
    """The recall a partner asked for that waits for a leader (None: none)."""
    return (
        document.business_requests.filter(kind=Request.Kind.RECALL, state=Request.State.PENDING)
        .select_related("partner")
        .first()
    )


def _decision_lock(actor, document: Document) -> tuple[Document, BusinessRequest]:
    document = document_lock(document)
    _rights_ensure(actor, document.organisation_id, leader=True)
    request = (
        Request.objects.select_for_update()
        .filter(document=document, kind=Request.Kind.RECALL, state=Request.State.PENDING)
        .first()
    )
    if request is None:
        raise OfficeError(
            "exchange_no_recall_pending",
            "Văn bản không có đề nghị thu hồi nào đang chờ cho ý kiến.",
            "The document has no recall request waiting for a decision.",
        )
    return document, request


def _answer_queue(request: BusinessRequest, document: Document, code: str, vi: str, en: str):
    """Status 15/16 to the partner that asked, once per request (delivered after the commit)."""
    inbox = InboxMessage.objects.select_related("partner").get(document=document)
    if not inbox.partner.active:
        logger.warning("exchange: partner %s stopped; status %s not sent", inbox.partner_id, code)
        return None
    return exchange.status_report_queue(
        inbox, document, code, vi, en, business_key=f"request:{request.pk}"
    )


def recall_agree(*, actor, document: Document, comment: str = "") -> WorkflowStep:
    """A leader agrees to the partner's recall: the document is recalled (it leaves every inbox
    and list of work, stays in the register), its open assignments close, 15 goes back."""
    comment = _text(comment, required=False, field="comment", what_vi="ý kiến", what_en="comment")
    with transaction.atomic():
        document, request = _decision_lock(actor, document)
        now = timezone.now()
        closed = document.assignments.filter(status=Assignment.Status.OPEN).update(
            status=Assignment.Status.DONE, closed_at=now
        )
        document.status = Document.Status.RECALLED
        document.save(update_fields=["status", "updated_at"])
        request.state, request.decided_at, request.decision = Request.State.AGREED, now, comment
        request.decided_by = actor if actor is not None and actor.is_authenticated else None
        request.save(update_fields=["state", "decided_at", "decision", "decided_by"])
        step = step_record(
            document=document,
            kind=Kind.RECALLED,
            actor=actor,
            comment=comment,
            detail={"exchange": "recall", "request": request.pk, "assignments_closed": closed},
        )
        number = _number(document)
        _answer_queue(
            request, document, "15",
            f"Đồng ý thu hồi văn bản; văn bản đến số {number} đã được thu hồi."
            + (f" Ý kiến: {comment}" if comment else ""),
            f"Recall agreed; incoming number {number} has been recalled."
            + (f" Comment (in Vietnamese): {comment}" if comment else ""),
        )  # fmt: skip
    return step


def recall_refuse(*, actor, document: Document, reason: str) -> WorkflowStep:
    """A leader refuses the partner's recall, with the reason (16 goes back with it); the
    document's handling goes on."""
    reason = _text(
        reason, required=True, field="reason", what_vi="lý do từ chối thu hồi", what_en="reason"
    )
    with transaction.atomic():
        document, request = _decision_lock(actor, document)
        request.state, request.decided_at, request.decision = (
            Request.State.REFUSED, timezone.now(), reason,
        )  # fmt: skip
        request.decided_by = actor if actor is not None and actor.is_authenticated else None
        request.save(update_fields=["state", "decided_at", "decision", "decided_by"])
        step = step_record(
            document=document,
            kind=Kind.RECALL_REFUSED,
            actor=actor,
            comment=reason,
            detail={"exchange": "recall", "request": request.pk},
        )
        _answer_queue(
            request, document, "16",
            f"Từ chối thu hồi văn bản. Lý do: {reason}",
            f"Recall refused. Reason (in Vietnamese): {reason}",
        )  # fmt: skip
    return step


# -- statuses coming back to the sender --------------------------------------------------------


def _open_request(row: OutboxMessage) -> OutboxMessage | None:
    """The recall (first) or update to this partner that a 13/15/16 about ``row``'s document
    answers: the oldest one not answered with 15 or 16 yet."""
    answered = ExchangeStatus.objects.filter(outbox_id=OuterRef("pk"), status_code__in=("15", "16"))
    for kind in BUSINESS_KINDS:
        found = (
            OutboxMessage.objects.filter(
                partner_id=row.partner_id, kind=kind, edxml_id=row.edxml_id
            )
            .exclude(state=State.FAILED)
            .annotate(done=Exists(answered))
            .filter(done=False)
            .order_by("id")
            .first()
        )
        if found is not None:
            return found
    return None


def business_status_record(row: OutboxMessage, status) -> ExchangeStatus:
    """A 13, 15 or 16 from a partner: recorded (once) on the recall or update it answers, that
    request marked acknowledged, and a recall's outcome written in our document's log."""
    target = row if row.kind in BUSINESS_KINDS else (_open_request(row) or row)
    values = {"description": status.description[:4000], "timestamp": status.timestamp}
    try:
        with transaction.atomic():
            record, made = ExchangeStatus.objects.get_or_create(
                outbox=target, status_code=status.status_code, defaults=values
            )
    except IntegrityError:
        record, made = (
            ExchangeStatus.objects.get(outbox=target, status_code=status.status_code),
            False,
        )
    if target.kind in BUSINESS_KINDS and target.state != State.ACKNOWLEDGED:
        OutboxMessage.objects.filter(pk=target.pk).update(state=State.ACKNOWLEDGED)
    if made and target.kind == OutboxMessage.Kind.RECALL and status.status_code in ("15", "16"):
        step_record(
            document=target.document,
            kind=Kind.RECALLED if status.status_code == "15" else Kind.RECALL_REFUSED,
            actor=None,
            comment=f"{target.partner.name}: {status.description}"[:4000],
            detail={"exchange": "recall", "partner": target.partner.organ_id},
        )
    return record


# -- the document page -------------------------------------------------------------------------


@dataclass
class PartnerBusiness:
    """One partner of our document: whether it recalled it, and the requests sent to it."""

    partner: object
    recalled: bool = False
    recall_open: bool = False
    requests: list[OutboxMessage] = field(default_factory=list)


@dataclass
class BusinessPanel:
    """What the document page shows and offers of recalls and updates."""

    partners: list[PartnerBusiness] = field(default_factory=list)  # our outgoing document
    received: list[BusinessRequest] = field(default_factory=list)  # an incoming document
    pending: BusinessRequest | None = None
    can_recall: bool = False
    can_update: bool = False
    can_decide: bool = False


def business_panel(*, viewer, document: Document, owned: bool, member) -> BusinessPanel:
    """The recall and update section of a document's page, for this viewer."""
    panel = BusinessPanel()
    if not owned:
        return panel
    operator = is_unrestricted(viewer)
    leader = operator or (member is not None and member.is_leader)
    clerk = operator or (member is not None and member.is_clerk)
    if document.direction == Document.Direction.OUTGOING and document.status == "issued":
        rows = list(
            document.exchange_outbox.exclude(kind=OutboxMessage.Kind.STATUS)
            .select_related("partner")
            .prefetch_related("statuses")
            .order_by("partner__organ_id", "id")[:200]
        )
        by_partner: dict[int, PartnerBusiness] = {}
        delivered = set()
        for row in rows:
            entry = by_partner.setdefault(row.partner_id, PartnerBusiness(row.partner))
            if row.kind == OutboxMessage.Kind.DOCUMENT:
                if row.state in (State.SENT, State.ACKNOWLEDGED):
                    delivered.add(row.partner_id)
                continue
            entry.requests.append(row)
        states = partner_recall_states(document)
        for partner_id, entry in by_partner.items():
            entry.recalled = states.get(partner_id) == "recalled"
            entry.recall_open = states.get(partner_id) == "open"
        panel.partners = list(by_partner.values())
        reachable = [p for p in delivered if by_partner[p].partner.active]
        panel.can_recall = (leader or clerk) and any(p not in states for p in reachable)
        panel.can_update = (leader or clerk) and any(states.get(p) != "recalled" for p in reachable)
    elif document.direction == Document.Direction.INCOMING:
        panel.received = list(
            document.business_requests.select_related("partner", "decided_by").order_by("-id")[:50]
        )
        panel.pending = next(
            (r for r in panel.received if r.kind == "recall" and r.state == "pending"), None
        )
        panel.can_decide = panel.pending is not None and leader
    return panel
