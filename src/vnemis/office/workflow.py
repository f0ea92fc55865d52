"""The handling workflow of documents, as a state machine with one function per transition.

Incoming documents (statuses registered → assigned → in_progress → completed):

- a leader assigns the document to a unit or a person, with a role (main handler, cooperating,
  for information) and a deadline (``assignment_create``);
- a handler forwards their assignment to another unit or person, never with a later deadline
  (``assignment_forward``), asks for opinions (``opinion_request`` / ``opinion_give``),
  comments (``document_comment``), drafts the reply (``reply_draft_create``: an outgoing draft
  linked to the incoming document) and completes their part (``assignment_complete``; the main
  handler's completion completes the document).

Outgoing and internal drafts (draft → submitted → approved → issued, or submitted → returned →
submitted …):

- the drafter submits the current version to a leader (``submission_create``);
- the leader returns it with comments (``submission_return``) or approves it, and approval is
  only by signing: ``approve_by_signing`` takes the signed PDF, checks it is the submitted file
  with a signature added (``signature_check_set`` connects full signature validation), stores it
  as a new signed version, and only then moves the submission and the document to approved.
  The database refuses an approved submission without a signed version;
- the clerk numbers and issues it (``actions.outgoing_issue``).

Every transition is one transaction that locks the document's row, checks the state and the
actor's rights, writes, and appends a ``WorkflowStep``. Overdue assignments are flagged by the
daily task (``overdue_flag``), once each.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from vnemis.core.text import clean_text

from .actions import (
    _rights_ensure,
    document_lock,
    outgoing_draft_create,
    step_record,
    version_create,
)
from .actions_errors import OfficeError
from .actions_files import pdf_check
from .models import (
    HANDLING_STATUSES,
    Assignment,
    Blob,
    Document,
    DocumentVersion,
    OfficeMember,
    OfficeUnit,
    Submission,
    WorkflowStep,
)

logger = logging.getLogger(__name__)
Kind = WorkflowStep.Kind
Role = Assignment.Role
MAX_TEXT = 5000


# -- signature hook ----------------------------------------------------------------------------

SignatureCheck = Callable[..., None]


def default_signature_check(*, submitted: bytes, signed: bytes, signer, submission) -> None:
    """The structural check made without a trust store: the signed file is the submitted one
    with an incremental update appended (a PDF signature never rewrites what it signs) that adds
    at least one signature. Raises OfficeError otherwise.

    Cryptographic validation (signer's certificate, trust, integrity) is connected with
    ``signature_check_set`` by the signing part of the e-office.
    """
    from .actions_files import pdf_structure

    if not signed.startswith(submitted):
        raise OfficeError(
            "not_the_submitted_file",
            "Tệp đã ký không phải là tệp đã trình (nội dung khác với phiên bản trình duyệt).",
            "The signed file is not the submitted one (its content differs from the submitted"
            " version).",
            field="signed_file",
        )
    _pages, before = pdf_structure(submitted)
    _pages, after = pdf_structure(signed)
    if after <= before:
        raise OfficeError(
            "not_signed",
            "Tệp tải lên chưa có chữ ký số mới; chỉ duyệt được bằng cách ký số văn bản đã trình.",
            "The uploaded file carries no new digital signature; approval is only by signing the"
            " submitted document.",
            field="signed_file",
        )


_signature_check: SignatureCheck = default_signature_check


def signature_check_set(check: SignatureCheck | None) -> SignatureCheck:
    """Use ``check`` (keyword arguments submitted, signed, signer, submission; raises
    OfficeError to refuse) for every approval; None restores the default. Returns the
    previous check."""
    global _signature_check
    previous = _signature_check
    _signature_check = check or default_signature_check
    return previous


# -- helpers -----------------------------------------------------------------------------------


def _text(value: str, *, required: bool, field: str, what_vi: str, what_en: str) -> str:
    value = clean_text(value) if "\n" not in (value or "") else (value or "").strip()
    if required and not value:
        raise OfficeError(
            f"{field}_required", f"Hãy ghi {what_vi}.", f"Write the {what_en}.", field=field
        )
    if len(value) > MAX_TEXT:
        raise OfficeError(
            f"{field}_too_long",
            f"{what_vi.capitalize()} dài tối đa {MAX_TEXT} ký tự.",
            f"The {what_en} is at most {MAX_TEXT} characters.",
            field=field,
        )
    return value


def _is_mine(actor, assignment: Assignment) -> bool:
    from .selectors import assignment_is_mine

    return actor is not None and assignment_is_mine(actor, assignment)


def _assignee_check(document: Document, user, unit) -> None:
    if (user is None) == (unit is None):
        raise OfficeError(
            "one_assignee",
            "Hãy chọn một đơn vị hoặc một người xử lý (chỉ một trong hai).",
            "Choose one unit or one person to handle it (one of the two).",
            field="assignee",
        )
    if (
        user is not None
        and not OfficeMember.objects.filter(
            user=user, organisation_id=document.organisation_id
        ).exists()
    ):
        raise OfficeError(
            "assignee_elsewhere",
            "Người được chọn không thuộc văn phòng điện tử của cơ quan này.",
            "The chosen person is not in this organisation's e-office.",
            field="assignee",
        )
    if unit is not None and unit.organisation_id != document.organisation_id:
        raise OfficeError(
            "unit_elsewhere",
            "Đơn vị được chọn không thuộc cơ quan này.",
            "The chosen unit belongs to another organisation.",
            field="assignee",
        )


def _deadline_check(deadline: date | None, *, limit: date | None = None) -> None:
    if deadline is None:
        return
    today = timezone.localdate()
    if deadline < today:
        raise OfficeError(
            "deadline_past",
            f"Hạn xử lý không được trước hôm nay ({today:%d/%m/%Y}).",
            f"The deadline cannot be before today ({today:%d/%m/%Y}).",
            field="deadline",
        )
    if limit is not None and deadline > limit:
        raise OfficeError(
            "deadline_after_parent",
            f"Hạn xử lý không được sau hạn của việc được giao ({limit:%d/%m/%Y}).",
            f"The deadline cannot be after the deadline of the assignment it comes from"
            f" ({limit:%d/%m/%Y}).",
            field="deadline",
        )


def _handling_ensure(document: Document) -> None:
    if document.direction != Document.Direction.INCOMING:
        raise OfficeError(
            "not_incoming",
            "Chỉ giao xử lý văn bản đến.",
            "Only incoming documents are assigned for handling.",
        )
    if document.status not in HANDLING_STATUSES:
        raise OfficeError(
            "handling_closed",
            f"Văn bản đang ở trạng thái “{document.get_status_display()}”, không còn xử lý.",
            f"The document is {document.status}; its handling is closed.",
        )


def _started(document: Document) -> None:
    """A handler's first act moves an assigned document to in progress (locked row)."""
    if document.status == Document.Status.ASSIGNED:
        document.status = Document.Status.IN_PROGRESS
        document.save(update_fields=["status", "updated_at"])


def _open_mine_lock(actor, assignment: Assignment, roles) -> tuple[Assignment, Document]:
    """Lock the document, reload the assignment, check it is open, the actor's, of a role."""
    document = document_lock(assignment.document)
    assignment = Assignment.objects.select_for_update().get(pk=assignment.pk)
    if not _is_mine(actor, assignment):
        raise PermissionDenied(_("Việc này không được giao cho bạn hoặc đơn vị của bạn."))
    if assignment.status != Assignment.Status.OPEN:
        raise OfficeError(
            "assignment_closed",
            f"Việc này đã kết thúc ({assignment.get_status_display()}).",
            f"This assignment is closed ({assignment.status}).",
        )
    if assignment.role not in roles:
        raise OfficeError(
            "wrong_role",
            f"Với vai trò “{assignment.get_role_display()}” không thực hiện được thao tác này.",
            f"This cannot be done with the role '{assignment.role}'.",
        )
    return assignment, document


def _assignee_detail(user, unit) -> dict:
    return {"user": user.pk} if user is not None else {"unit": unit.pk}


# -- incoming: assigning and handling ----------------------------------------------------------


def assignment_create(
    *,
    actor,
    document: Document,
    user=None,
    unit: OfficeUnit | None = None,
    role: str = Role.MAIN,
    deadline: date | None = None,
    instruction: str = "",
) -> Assignment:
    """A leader gives an incoming document to a unit or a person, with a role and a deadline
    (by default the document's due date)."""
    instruction = _text(
        instruction, required=False, field="instruction", what_vi="ý kiến chỉ đạo",
        what_en="instruction",
    )  # fmt: skip
    if role not in (Role.MAIN, Role.COOPERATE, Role.INFO):
        raise OfficeError(
            "bad_role",
            "Vai trò phải là chủ trì, phối hợp hoặc để biết.",
            "The role must be main handler, cooperating or for information.",
            field="role",
        )
    with transaction.atomic():
        document = document_lock(document)
        _rights_ensure(actor, document.organisation_id, leader=True)
        _handling_ensure(document)
        _assignee_check(document, user, unit)
        due = document.due_on
        if deadline is None and role != Role.INFO and due and due >= timezone.localdate():
            deadline = due
        _deadline_check(deadline)
        if (
            role == Role.MAIN
            and document.assignments.filter(role=Role.MAIN, status="open").exists()
        ):
            raise OfficeError(
                "main_exists",
                "Văn bản đã có người/đơn vị chủ trì đang xử lý; hãy giao phối hợp, hoặc để người"
                " chủ trì chuyển tiếp.",
                "The document already has an open main handler; assign a cooperating one, or let"
                " the main handler forward it.",
                field="role",
            )
        duplicate = document.assignments.filter(
            status="open", assignee_user=user, assignee_unit=unit
        ).exists()
        if duplicate:
            raise OfficeError(
                "already_assigned",
                "Người/đơn vị này đang có việc chưa xong trên văn bản.",
                "This person or unit already has an open assignment on the document.",
                field="assignee",
            )
        assignment = Assignment.objects.create(
            document=document,
            organisation_id=document.organisation_id,
            role=role,
            assignee_user=user,
            assignee_unit=unit,
            assigned_by=actor if actor is not None and actor.is_authenticated else None,
            instruction=instruction,
            deadline=deadline,
        )
        if document.status == Document.Status.REGISTERED:
            document.status = Document.Status.ASSIGNED
            document.save(update_fields=["status", "updated_at"])
        step_record(
            document=document,
            kind=Kind.ASSIGNED,
            actor=actor,
            assignment=assignment,
            comment=instruction,
            detail={"role": role, **_assignee_detail(user, unit),
                    "deadline": deadline.isoformat() if deadline else None},
        )  # fmt: skip
    return assignment


def assignment_forward(
    *,
    actor,
    assignment: Assignment,
    user=None,
    unit: OfficeUnit | None = None,
    deadline: date | None = None,
    instruction: str = "",
) -> Assignment:
    """A handler passes their assignment on (a unit to one of its staff, a person to another
    unit): theirs closes as forwarded, the new one keeps the role, and its deadline is never
    later than theirs."""
    instruction = _text(
        instruction, required=False, field="instruction", what_vi="ý kiến", what_en="note"
    )
    with transaction.atomic():
        parent, document = _open_mine_lock(actor, assignment, (Role.MAIN, Role.COOPERATE))
        _handling_ensure(document)
        _assignee_check(document, user, unit)
        if (user is not None and parent.assignee_user_id == user.pk) or (
            unit is not None and parent.assignee_unit_id == unit.pk
        ):
            raise OfficeError(
                "forward_to_self",
                "Không thể chuyển tiếp cho chính người/đơn vị đang giữ việc.",
                "An assignment cannot be forwarded to whoever holds it.",
                field="assignee",
            )
        deadline = deadline or parent.deadline
        _deadline_check(deadline, limit=parent.deadline)
        now = timezone.now()
        parent.status, parent.closed_at = Assignment.Status.FORWARDED, now
        parent.save(update_fields=["status", "closed_at"])
        child = Assignment.objects.create(
            document=document,
            organisation_id=document.organisation_id,
            role=parent.role,
            assignee_user=user,
            assignee_unit=unit,
            assigned_by=actor,
            parent=parent,
            instruction=instruction,
            deadline=deadline,
        )
        _started(document)
        step_record(
            document=document,
            kind=Kind.FORWARDED,
            actor=actor,
            assignment=child,
            comment=instruction,
            detail={"from": parent.pk, **_assignee_detail(user, unit)},
        )
    return child


def opinion_request(
    *,
    actor,
    assignment: Assignment,
    user=None,
    unit: OfficeUnit | None = None,
    deadline: date | None = None,
    question: str = "",
) -> Assignment:
    """A handler asks a unit or person of the organisation for their opinion, by a date."""
    question = _text(
        question, required=True, field="question", what_vi="nội dung xin ý kiến",
        what_en="question",
    )  # fmt: skip
    with transaction.atomic():
        parent, document = _open_mine_lock(actor, assignment, (Role.MAIN, Role.COOPERATE))
        _handling_ensure(document)
        _assignee_check(document, user, unit)
        _deadline_check(deadline, limit=parent.deadline)
        asked = Assignment.objects.create(
            document=document,
            organisation_id=document.organisation_id,
            role=Role.OPINION,
            assignee_user=user,
            assignee_unit=unit,
            assigned_by=actor,
            parent=parent,
            instruction=question,
            deadline=deadline or parent.deadline,
        )
        _started(document)
        step_record(
            document=document,
            kind=Kind.OPINION_REQUESTED,
            actor=actor,
            assignment=asked,
            comment=question,
            detail=_assignee_detail(user, unit),
        )
    return asked


def opinion_give(*, actor, assignment: Assignment, text: str) -> Assignment:
    """The one asked answers: the opinion is recorded and the request closes."""
    text = _text(text, required=True, field="text", what_vi="ý kiến", what_en="opinion")
    with transaction.atomic():
        asked, document = _open_mine_lock(actor, assignment, (Role.OPINION,))
        asked.status, asked.closed_at = Assignment.Status.DONE, timezone.now()
        asked.save(update_fields=["status", "closed_at"])
        step_record(
            document=document, kind=Kind.OPINION_GIVEN, actor=actor, assignment=asked, comment=text
        )
    return asked


def document_comment(*, actor, document: Document, text: str) -> WorkflowStep:
    """A member of the organisation writes a comment on the document."""
    text = _text(text, required=True, field="text", what_vi="ý kiến", what_en="comment")
    with transaction.atomic():
        document = document_lock(document)
        _rights_ensure(actor, document.organisation_id)
        mine = None
        if actor is not None and document.direction == Document.Direction.INCOMING:
            for candidate in document.assignments.filter(status="open"):
                if _is_mine(actor, candidate):
                    mine = candidate
                    break
            if mine is not None and mine.role in (Role.MAIN, Role.COOPERATE):
                _started(document)
        return step_record(
            document=document, kind=Kind.COMMENTED, actor=actor, assignment=mine, comment=text
        )


def reply_draft_create(*, actor, assignment: Assignment, **draft) -> Document:
    """The main handler drafts the reply: an outgoing draft linked to the incoming document."""
    with transaction.atomic():
        parent, document = _open_mine_lock(actor, assignment, (Role.MAIN,))
        _handling_ensure(document)
        reply = outgoing_draft_create(
            actor=actor,
            organisation=document.organisation,
            in_reply_to=document,
            assignment=parent,
            **draft,
        )
        _started(document)
    return reply


def assignment_complete(*, actor, assignment: Assignment, note: str = "") -> Assignment:
    """A handler finishes their part; the main handler's completion completes the document."""
    note = _text(note, required=False, field="note", what_vi="kết quả xử lý", what_en="result")
    with transaction.atomic():
        done, document = _open_mine_lock(actor, assignment, (Role.MAIN, Role.COOPERATE, Role.INFO))
        done.status, done.closed_at = Assignment.Status.DONE, timezone.now()
        done.save(update_fields=["status", "closed_at"])
        if done.role == Role.MAIN and document.status in HANDLING_STATUSES:
            document.status = Document.Status.COMPLETED
            document.save(update_fields=["status", "updated_at"])
        step_record(
            document=document,
            kind=Kind.COMPLETED,
            actor=actor,
            assignment=done,
            comment=note,
            detail={"role": done.role, "document_completed": document.status == "completed"},
        )
    return done


def incoming_send_back(*, actor, document: Document, reason: str) -> WorkflowStep:
    """A leader or the clerk returns a registered incoming document to its sender (trả lại văn
    bản: not for this agency, incomplete, sent by mistake): its open assignments close, it
    leaves every inbox, and a document received by exchange tells its sender why (status 02,
    queued by the exchange's step hook)."""
    reason = _text(reason, required=True, field="reason", what_vi="lý do trả lại", what_en="reason")
    with transaction.atomic():
        document = document_lock(document)
        _rights_ensure(actor, document.organisation_id, leader=True, clerk=True)
        _handling_ensure(document)
        now = timezone.now()
        document.assignments.filter(status=Assignment.Status.OPEN).update(
            status=Assignment.Status.DONE, closed_at=now
        )
        document.status = Document.Status.SENT_BACK
        document.save(update_fields=["status", "updated_at"])
        return step_record(
            document=document,
            kind=Kind.SENT_BACK,
            actor=actor,
            comment=reason,
            detail={"exchange": bool(document.external_id)},
        )


# -- outgoing: submission and approval ---------------------------------------------------------


def _is_leader_of(user, organisation_id: int) -> bool:
    return (
        user is not None
        and OfficeMember.objects.filter(
            user=user, organisation_id=organisation_id, is_leader=True
        ).exists()
    )


def submission_create(*, actor, document: Document, leader, note: str = "") -> Submission:
    """The drafter puts the current version of a draft to a leader for approval."""
    note = _text(note, required=False, field="note", what_vi="ghi chú", what_en="note")
    with transaction.atomic():
        document = document_lock(document)
        from .actions import _editor_ensure

        _editor_ensure(actor, document)
        if actor is None:
            raise PermissionDenied(_("Trình duyệt phải do một người dùng thực hiện."))
        if not _is_leader_of(leader, document.organisation_id):
            raise OfficeError(
                "not_a_leader",
                "Người được trình phải là lãnh đạo của cơ quan.",
                "The document must be submitted to a leader of the organisation.",
                field="leader",
            )
        version = document.versions.order_by("-number").first()
        if version is None or not version.files.filter(is_main=True).exists():
            raise OfficeError(
                "no_main_file",
                "Dự thảo chưa có tệp văn bản (PDF) để lãnh đạo ký; hãy tải tệp lên trước khi trình.",
                "The draft has no document file (PDF) for the leader to sign; upload it before"
                " submitting.",
            )
        submission = Submission.objects.create(
            document=document, version=version, submitted_by=actor, leader=leader, note=note
        )
        document.status = Document.Status.SUBMITTED
        document.save(update_fields=["status", "updated_at"])
        step_record(
            document=document,
            kind=Kind.SUBMITTED,
            actor=actor,
            submission=submission,
            comment=note,
            detail={"version": version.number, "leader": leader.pk},
        )
    return submission


def _decision_lock(actor, submission: Submission) -> tuple[Submission, Document]:
    document = document_lock(submission.document)
    submission = Submission.objects.select_for_update().get(pk=submission.pk)
    if actor is None or actor.pk != submission.leader_id:
        raise PermissionDenied(_("Chỉ lãnh đạo được trình mới duyệt hoặc trả lại văn bản này."))
    _rights_ensure(actor, document.organisation_id, leader=True)
    if submission.status != Submission.Status.PENDING:
        raise OfficeError(
            "already_decided",
            f"Tờ trình này đã được xử lý ({submission.get_status_display()}).",
            f"This submission has been decided already ({submission.status}).",
        )
    return submission, document


def submission_return(*, actor, submission: Submission, comment: str) -> Submission:
    """The leader sends the draft back to its drafter with comments."""
    comment = _text(
        comment, required=True, field="comment", what_vi="ý kiến khi trả lại",
        what_en="comment explaining the return",
    )  # fmt: skip
    with transaction.atomic():
        submission, document = _decision_lock(actor, submission)
        submission.status = Submission.Status.RETURNED
        submission.comment, submission.decided_at = comment, timezone.now()
        submission.save(update_fields=["status", "comment", "decided_at"])
        document.status = Document.Status.RETURNED
        document.save(update_fields=["status", "updated_at"])
        step_record(
            document=document,
            kind=Kind.RETURNED,
            actor=actor,
            submission=submission,
            comment=comment,
        )
    return submission


def submission_forward(*, actor, submission: Submission, leader, note: str = "") -> Submission:
    """The leader the draft was submitted to hands it to another leader of the organisation
    (to the one competent to sign, or while away): this submission becomes ``forwarded`` and a
    new pending one, of the same version, waits for ``leader``."""
    note = _text(note, required=False, field="note", what_vi="ghi chú", what_en="note")
    with transaction.atomic():
        submission, document = _decision_lock(actor, submission)
        if not _is_leader_of(leader, document.organisation_id) or leader.pk == actor.pk:
            raise OfficeError(
                "not_another_leader",
                "Chỉ chuyển được cho một lãnh đạo khác của cơ quan.",
                "A submission can only be handed to another leader of the organisation.",
                field="leader",
            )
        submission.status = Submission.Status.FORWARDED
        submission.comment, submission.decided_at = note, timezone.now()
        submission.save(update_fields=["status", "comment", "decided_at"])
        handed = Submission.objects.create(
            document=document,
            version=submission.version,
            submitted_by=actor,
            leader=leader,
            note=note,
        )
        step_record(
            document=document,
            kind=Kind.SUBMISSION_FORWARDED,
            actor=actor,
            submission=handed,
            comment=note,
            detail={"from": submission.pk, "leader": leader.pk, "version": handed.version.number},
        )
    return handed


def approve_by_signing(
    *,
    actor,
    submission: Submission,
    signed_pdf: bytes,
    file_name: str = "",
    comment: str = "",
    signature_check: SignatureCheck | None = None,
) -> DocumentVersion:
    """The leader approves the submission by signing it: ``signed_pdf`` (the submitted main
    file with the leader's signature) becomes a new signed version, and the submission and the
    document become approved. The only way to approve."""
    main = submission.version.files.select_related("blob").filter(is_main=True).first()
    if main is None:  # submission_create refuses this; kept for data made by other means
        raise OfficeError(
            "no_main_file", "Tờ trình không có tệp văn bản.", "The submission has no file."
        )
    checked = pdf_check(name=file_name or main.name, data=signed_pdf)
    comment = _text(comment, required=False, field="comment", what_vi="ý kiến", what_en="comment")
    with transaction.atomic():
        submission, document = _decision_lock(actor, submission)
        submitted = bytes(Blob.objects.only("data").get(pk=main.blob_id).data)
        (signature_check or _signature_check)(
            submitted=submitted, signed=checked.data, signer=actor, submission=submission
        )
        version = version_create(
            document=document,
            actor=actor,
            main=checked,
            keep_from=submission.version,
            note=_("Bản đã ký duyệt"),
            signed=True,
        )
        submission.status = Submission.Status.APPROVED
        submission.signed_version = version
        submission.comment, submission.decided_at = comment, timezone.now()
        submission.save(update_fields=["status", "signed_version", "comment", "decided_at"])
        document.status = Document.Status.APPROVED
        document.save(update_fields=["status", "updated_at"])
        from .search import search_index_refresh

        search_index_refresh(document)
        step_record(
            document=document,
            kind=Kind.APPROVED,
            actor=actor,
            submission=submission,
            comment=comment,
            detail={"version": version.number, "sha256": checked.sha256},
        )
    return version


# -- overdue -----------------------------------------------------------------------------------


def overdue_flag(*, today: date | None = None, batch: int = 500) -> int:
    """Flag every open assignment past its deadline that is not flagged yet, and log it on its
    document (once: a rerun flags nothing twice). Returns the number flagged."""
    from .selectors import overdue_assignments

    today = today or timezone.localdate()
    flagged = 0
    while True:
        with transaction.atomic():
            rows = list(
                overdue_assignments(today=today)
                .filter(overdue_flagged_at__isnull=True)
                .select_for_update(skip_locked=True)
                .order_by("id")[:batch]
            )
            if not rows:
                return flagged
            now = timezone.now()
            Assignment.objects.filter(pk__in=[a.pk for a in rows]).update(overdue_flagged_at=now)
            WorkflowStep.objects.bulk_create(
                WorkflowStep(
                    document_id=a.document_id,
                    kind=Kind.OVERDUE,
                    assignment=a,
                    at=now,
                    detail={"deadline": a.deadline.isoformat(), "today": today.isoformat()},
                )
                for a in rows
            )
            flagged += len(rows)
