"""Replacement (thay thế) of documents exchanged over edXML: BussinessDocType 3.

Sending: a replacement is a new outgoing document (its own number, date and files) drafted for
an issued one (``Document.replaces``). Its message carries the new document whole, with a
Bussiness block of type 3: ``DocumentId`` is the new document's, ``ReplacementInfoList`` names
the replaced document's DocumentId and the OrganIds it reached (none: every receiver).

Receiving: the inbox registers the replacement like any new document and, in the same
transaction, marks the replaced document it received from the same sender as replaced (its open
assignments close, a step names the replacement; it stays in the register, its number never
reused). A replaced document this receiver never got is reported in the answer, not an error:
the replacement is a valid document on its own. A replay is a duplicate of the new document
and changes nothing again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils import timezone

from .actions import document_lock, step_record
from .edxml import Business, MessageHeader, ReplacementInfo, document_id_format
from .exchange_business import MAX_REASON, _malformed, document_id_check
from .models import HANDLING_STATUSES, Assignment, Document, WorkflowStep
from .models_exchange import InboxMessage, OutboxMessage

REPLACEMENT = 3  # BussinessDocType
MAX_REPLACED = 20  # documents one replacement may name
# what a replacement may still replace: a document being handled, or completed
REPLACEABLE = (*HANDLING_STATUSES, Document.Status.COMPLETED)


# -- sending -----------------------------------------------------------------------------------


def replacement_business(document: Document, header: MessageHeader) -> Business:
    """The Bussiness block of ``document``'s message: type 3 naming the document it replaces
    and where that one was delivered, or a plain new document."""
    replaced = document.replaces
    if replaced is None or replaced.issued_on is None or replaced.number is None:
        return Business()
    rows = list(
        replaced.exchange_outbox.filter(
            kind=OutboxMessage.Kind.DOCUMENT,
            state__in=(OutboxMessage.State.SENT, OutboxMessage.State.ACKNOWLEDGED),
        )
        .select_related("partner")
        .order_by("partner__organ_id")
    )
    if rows:
        replaced_id = rows[0].edxml_id
    else:  # never exchanged (sent on paper): its identity as the exchange would have named it
        replaced_id = document_id_format(
            header.from_organ.organ_id, replaced.issued_on, replaced.number_notation
        )
    organ_ids = tuple(dict.fromkeys(row.partner.organ_id for row in rows))
    return Business(
        doc_type=REPLACEMENT,
        reason=(
            f"Thay thế văn bản số {replaced.number_notation} ngày"
            f" {replaced.issued_on:%d/%m/%Y} về việc {replaced.subject}"
        )[:MAX_REASON],
        document_id=header.document_id,
        replacements=(ReplacementInfo(replaced_id, organ_ids),),
    )


# -- receiving ---------------------------------------------------------------------------------


def replaced_ids(message, partner, organ_id: str) -> list[str]:
    """The DocumentIds a replacement from ``partner`` replaces at our organisation ``organ_id``
    (entries naming other receivers left out), or an OfficeError (400 malformed, 403 a document
    the partner did not issue) before anything is registered."""
    b = message.trace.business
    own = message.header.document_id
    listed = [r.document_id.strip() for r in b.replacements]
    target = b.document_id.strip()
    # Bussiness/DocumentId names the replacement itself; some writers put the replaced
    # document there instead, with or without a ReplacementInfoList: read it as such.
    if target and target != own and target not in listed:
        if listed:
            raise _malformed(
                f"DocumentId {target[:120]} không phải văn bản trong MessageHeader ({own[:120]})"
                " cũng không nằm trong ReplacementInfoList.",
                f"DocumentId {target[:120]} is neither the document of the MessageHeader"
                f" ({own[:120]}) nor one of the ReplacementInfoList.",
            )
        entries = [ReplacementInfo(target)]
    else:
        entries = list(b.replacements)
    if not entries:
        raise _malformed(
            "văn bản thay thế (BussinessDocType 3) không nêu văn bản bị thay thế"
            " (ReplacementInfoList).",
            "a replacement (BussinessDocType 3) names no replaced document (ReplacementInfoList).",
        )
    if len(entries) > MAX_REPLACED:
        raise _malformed(
            f"ReplacementInfoList nêu quá {MAX_REPLACED} văn bản.",
            f"ReplacementInfoList names over {MAX_REPLACED} documents.",
        )
    if len(b.reason) > MAX_REASON:
        raise _malformed(
            f"lý do (BussinessDocReason) dài quá {MAX_REASON} ký tự.",
            f"the reason (BussinessDocReason) is over {MAX_REASON} characters.",
        )
    ours = []
    for entry in entries:
        replaced = entry.document_id.strip()
        if replaced == own:
            raise _malformed(
                f"văn bản {own[:120]} không thể thay thế chính nó.",
                f"document {own[:120]} cannot replace itself.",
            )
        problem = document_id_check(
            replaced, partner, verb_vi="thay thế", verb_en="replace",
            label_vi="văn bản bị thay thế", label_en="the replaced document",
        )  # fmt: skip
        if problem is not None:
            raise problem
        if not entry.organ_ids or organ_id in entry.organ_ids:
            ours.append(replaced)
    return list(dict.fromkeys(ours))


@dataclass
class ReplacementOutcome:
    """What a registered replacement did here, for the answer to its sender."""

    replaced: list[Document] = field(default_factory=list)
    kept: list[Document] = field(default_factory=list)  # recalled, sent back, replaced before
    unknown: list[str] = field(default_factory=list)  # never received here

    def note(self) -> tuple[str, str]:
        vi, en = [], []
        if self.replaced:
            numbers = ", ".join(_arrival(d) for d in self.replaced)
            vi.append(f"Đã thay thế văn bản đến số {numbers}.")
            en.append(f"It replaces incoming number {numbers}.")
        for d in self.kept:
            vi.append(
                f"Văn bản đến số {_arrival(d)} không bị thay thế vì đang ở trạng thái"
                f" “{d.get_status_display()}”."
            )
            en.append(f"Incoming number {_arrival(d)} was not replaced: it is {d.status}.")
        if self.unknown:
            ids = ", ".join(i[:120] for i in self.unknown)
            vi.append(f"Chưa từng nhận văn bản bị thay thế {ids}.")
            en.append(f"The replaced document {ids} was never received here.")
        return " ".join(vi), " ".join(en)


def _arrival(document: Document) -> str:
    return f"{document.register_number:02d}/{document.register.year}"


def replacement_apply(document: Document, ids: list[str], partner) -> ReplacementOutcome:
    """Inside the registering transaction: each document of ``ids`` received from ``partner``
    is marked replaced by ``document`` (just registered); the first one replaced is linked."""
    outcome = ReplacementOutcome()
    inboxes = {
        row.edxml_id: row
        for row in InboxMessage.objects.filter(
            organisation_id=document.organisation_id, partner=partner, edxml_id__in=ids
        )
    }
    for replaced_id in ids:
        inbox = inboxes.get(replaced_id)
        if inbox is None:
            outcome.unknown.append(replaced_id)
            continue
        replaced = document_lock(inbox.document)
        if replaced.status not in REPLACEABLE:
            outcome.kept.append(Document.objects.select_related("register").get(pk=replaced.pk))
            continue
        closed = replaced.assignments.filter(status=Assignment.Status.OPEN).update(
            status=Assignment.Status.DONE, closed_at=timezone.now()
        )
        replaced.status = Document.Status.REPLACED
        replaced.save(update_fields=["status", "updated_at"])
        step_record(
            document=replaced,
            kind=WorkflowStep.Kind.REPLACED,
            actor=None,
            comment=(
                f"Thay thế bởi văn bản {document.number_notation} (văn bản đến số"
                f" {_arrival(document)})."
            ),
            detail={
                "exchange": "replace",
                "replacement": document.pk,
                "assignments_closed": closed,
            },
        )
        outcome.replaced.append(replaced)
    if outcome.replaced:
        document.replaces = outcome.replaced[0]
        document.save(update_fields=["replaces", "updated_at"])
    return outcome
