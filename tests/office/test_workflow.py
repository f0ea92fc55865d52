"""The handling workflow: allowed and refused transitions, approval only by signing, overdue
flags, the inbox and the leader's dashboard."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from vnemis.office import actions, selectors, workflow
from vnemis.office.actions_errors import OfficeError
from vnemis.office.models import Assignment, Blob, Document, Submission, WorkflowStep
from vnemis.office.tasks import office_overdue_flag_run

from .test_documents_support import (
    checked,
    doc_type,
    draft_outgoing,
    office_setup,
    register_incoming,
    sign,
)


@pytest.fixture
def office(tree):
    return office_setup(tree)


def today():
    return timezone.localdate()


def main_bytes(document) -> bytes:
    version = document.versions.order_by("-number").first()
    main = version.files.get(is_main=True)
    return bytes(Blob.objects.get(pk=main.blob_id).data)


def kinds(document) -> list[str]:
    return list(WorkflowStep.objects.filter(document=document).values_list("kind", flat=True))


# -- the whole way -----------------------------------------------------------------------------


def test_from_arrival_to_a_signed_issued_reply(office):
    incoming = register_incoming(
        office, text="Đề nghị Bộ hướng dẫn tuyển sinh lớp 1", due_on=today() + timedelta(days=10)
    )
    # The leader gives it to the primary education unit, with the document's due date.
    to_unit = workflow.assignment_create(
        actor=office.leader,
        document=incoming,
        unit=office.moet_gdth,
        instruction="Vụ GDTH chủ trì trả lời.",
    )
    assert to_unit.deadline == incoming.due_on
    incoming.refresh_from_db()
    assert incoming.status == "assigned"
    # The unit (any of its members) hands it to a specialist, never with a later deadline.
    to_person = workflow.assignment_forward(
        actor=office.staff,
        assignment=to_unit,
        user=office.staff2,
        deadline=today() + timedelta(days=7),
    )
    to_unit.refresh_from_db()
    assert to_unit.status == "forwarded" and to_person.parent == to_unit
    incoming.refresh_from_db()
    assert incoming.status == "in_progress"
    # The specialist asks the Office for an opinion, and gets it.
    asked = workflow.opinion_request(
        actor=office.staff2,
        assignment=to_person,
        unit=office.moet_vp,
        question="Văn phòng cho ý kiến về thể thức.",
    )
    workflow.opinion_give(
        actor=office.staff_vp, assignment=asked, text="Đồng ý, lưu ý ghi nơi nhận."
    )
    asked.refresh_from_db()
    assert asked.status == "done"
    workflow.document_comment(actor=office.staff2, document=incoming, text="Đã tổng hợp ý kiến.")
    # The reply: an outgoing draft linked to the incoming document.
    reply = workflow.reply_draft_create(
        actor=office.staff2, assignment=to_person, doc_type=doc_type("CV"),
        subject="V/v hướng dẫn tuyển sinh lớp 1", main=checked("Dự thảo trả lời lần 1"),
        recipients=actions.recipients_parse("Ủy ban nhân dân Thành phố Hà Nội | 000.00.00.H26"),
    )  # fmt: skip
    assert reply.in_reply_to == incoming and reply.status == "draft"
    assert reply.drafting_unit == office.moet_gdth
    # Submitted, returned with comments, corrected, submitted again.
    first = workflow.submission_create(actor=office.staff2, document=reply, leader=office.leader)
    reply.refresh_from_db()
    assert reply.status == "submitted"
    workflow.submission_return(
        actor=office.leader, submission=first, comment="Bổ sung căn cứ pháp lý."
    )
    reply.refresh_from_db()
    assert reply.status == "returned"
    actions.document_version_add(
        actor=office.staff2,
        document=reply,
        main=checked("Dự thảo trả lời lần 2"),
        note="Bổ sung căn cứ",
    )
    second = workflow.submission_create(actor=office.staff2, document=reply, leader=office.leader)
    assert second.version.number == 2
    # Approved by signing the submitted file.
    signed = sign(main_bytes(reply))
    version = workflow.approve_by_signing(actor=office.leader, submission=second, signed_pdf=signed)
    assert version.signed and version.number == 3
    assert main_bytes(reply) == signed
    second.refresh_from_db()
    reply.refresh_from_db()
    assert second.status == "approved" and second.signed_version == version
    assert reply.status == "approved"
    assert Blob.objects.get(pk=version.files.get(is_main=True).blob_id).signature_count == 1
    # The clerk numbers it: an official letter's notation is agency - drafting unit.
    issued = actions.outgoing_issue(actor=office.clerk, document=reply)
    assert issued.status == "issued"
    assert issued.number_notation == "01/BGDĐT-GDTH"
    assert issued.register.kind == "outgoing" and issued.issued_on == today()
    # The handler completes, which completes the incoming document.
    workflow.assignment_complete(
        actor=office.staff2, assignment=to_person, note="Đã trả lời bằng văn bản 01/BGDĐT-GDTH."
    )
    incoming.refresh_from_db()
    assert incoming.status == "completed"
    assert kinds(incoming) == [
        "registered", "assigned", "forwarded", "opinion_req", "opinion", "commented", "reply",
        "completed",
    ]  # fmt: skip
    assert kinds(reply) == [
        "reply",
        "submitted",
        "returned",
        "version",
        "submitted",
        "approved",
        "issued",
    ]
    returned = WorkflowStep.objects.get(document=reply, kind="returned")
    assert returned.actor == office.leader and returned.comment == "Bổ sung căn cứ pháp lý."


def test_a_decision_gets_the_type_in_its_notation_and_numbers_run_on(office):
    numbers = []
    for i in range(3):
        draft = draft_outgoing(office, doc_type=doc_type("QD"), text=f"Quyết định {i}")
        submission = workflow.submission_create(
            actor=office.staff, document=draft, leader=office.leader
        )
        workflow.approve_by_signing(
            actor=office.leader, submission=submission, signed_pdf=sign(main_bytes(draft))
        )
        numbers.append(actions.outgoing_issue(actor=office.clerk, document=draft).number_notation)
    assert numbers == ["01/QĐ-BGDĐT", "02/QĐ-BGDĐT", "03/QĐ-BGDĐT"]


# -- refused transitions -----------------------------------------------------------------------


def test_only_a_leader_of_the_organisation_assigns(office):
    incoming = register_incoming(office)
    for actor in (office.staff, office.clerk, office.so_leader):
        with pytest.raises(PermissionDenied):
            workflow.assignment_create(actor=actor, document=incoming, user=office.staff)
    assert not Assignment.objects.exists()
    incoming.refresh_from_db()
    assert incoming.status == "registered"


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"user": None, "unit": None}, "one_assignee"),
        ({"deadline": "past"}, "deadline_past"),
        ({"role": "opinion"}, "bad_role"),
        ({"user": "so_staff"}, "assignee_elsewhere"),
        ({"unit": "so_gdtrh"}, "unit_elsewhere"),
    ],
)
def test_bad_assignments_are_refused(office, kwargs, code):
    incoming = register_incoming(office)
    values = {"user": None if "unit" in kwargs else office.staff, "unit": None}
    for key, value in kwargs.items():
        if value == "past":
            value = today() - timedelta(days=1)
        elif isinstance(value, str) and key in ("user", "unit"):
            value = getattr(office, value)
        values[key] = value
    with pytest.raises(OfficeError) as exc:
        workflow.assignment_create(actor=office.leader, document=incoming, **values)
    assert exc.value.code == code and exc.value.message_vi
    assert not Assignment.objects.exists()
    assert kinds(incoming) == ["registered"]


def test_one_main_handler_at_a_time(office):
    incoming = register_incoming(office)
    workflow.assignment_create(actor=office.leader, document=incoming, unit=office.moet_gdth)
    with pytest.raises(OfficeError) as exc:
        workflow.assignment_create(actor=office.leader, document=incoming, user=office.staff_vp)
    assert exc.value.code == "main_exists"
    workflow.assignment_create(
        actor=office.leader, document=incoming, user=office.staff_vp, role="cooperate"
    )
    assert incoming.assignments.count() == 2


def test_outgoing_documents_are_not_assigned(office):
    draft = draft_outgoing(office)
    with pytest.raises(OfficeError) as exc:
        workflow.assignment_create(actor=office.leader, document=draft, user=office.staff)
    assert exc.value.code == "not_incoming"


def test_forwarding_is_for_the_assignee_and_keeps_the_deadline(office):
    incoming = register_incoming(office)
    given = workflow.assignment_create(
        actor=office.leader,
        document=incoming,
        user=office.staff,
        deadline=today() + timedelta(days=3),
    )
    with pytest.raises(PermissionDenied):
        workflow.assignment_forward(actor=office.staff2, assignment=given, user=office.staff_vp)
    with pytest.raises(OfficeError) as exc:
        workflow.assignment_forward(
            actor=office.staff,
            assignment=given,
            user=office.staff2,
            deadline=today() + timedelta(days=4),
        )
    assert exc.value.code == "deadline_after_parent" and exc.value.field == "deadline"
    with pytest.raises(OfficeError) as exc:
        workflow.assignment_forward(actor=office.staff, assignment=given, user=office.staff)
    assert exc.value.code == "forward_to_self"
    child = workflow.assignment_forward(actor=office.staff, assignment=given, user=office.staff2)
    assert child.deadline == given.deadline
    with pytest.raises(OfficeError) as exc:  # closed now
        workflow.assignment_forward(actor=office.staff, assignment=given, user=office.staff_vp)
    assert exc.value.code == "assignment_closed"


def test_an_opinion_is_given_only_by_whoever_was_asked(office):
    incoming = register_incoming(office)
    given = workflow.assignment_create(actor=office.leader, document=incoming, user=office.staff)
    asked = workflow.opinion_request(
        actor=office.staff, assignment=given, user=office.staff_vp, question="Ý kiến?"
    )
    with pytest.raises(PermissionDenied):
        workflow.opinion_give(actor=office.staff2, assignment=asked, text="Không phải tôi")
    with pytest.raises(OfficeError) as exc:
        workflow.opinion_give(actor=office.staff_vp, assignment=asked, text="  ")
    assert exc.value.code == "text_required"
    with pytest.raises(OfficeError) as exc:  # an opinion request cannot be forwarded
        workflow.assignment_forward(actor=office.staff_vp, assignment=asked, user=office.staff2)
    assert exc.value.code == "wrong_role"


def test_submitting_needs_a_file_and_a_leader(office):
    draft = draft_outgoing(office, text=None)
    with pytest.raises(OfficeError) as exc:
        workflow.submission_create(actor=office.staff, document=draft, leader=office.leader)
    assert exc.value.code == "no_main_file"
    actions.document_version_add(actor=office.staff, document=draft, main=checked())
    with pytest.raises(OfficeError) as exc:
        workflow.submission_create(actor=office.staff, document=draft, leader=office.staff2)
    assert exc.value.code == "not_a_leader"
    with pytest.raises(OfficeError):
        workflow.submission_create(actor=office.staff, document=draft, leader=office.so_leader)
    with pytest.raises(PermissionDenied):  # not the drafter
        workflow.submission_create(actor=office.staff2, document=draft, leader=office.leader)
    assert not Submission.objects.exists()
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_a_submitted_draft_is_frozen(office):
    draft = draft_outgoing(office)
    workflow.submission_create(actor=office.staff, document=draft, leader=office.leader)
    with pytest.raises(OfficeError) as exc:
        actions.document_version_add(actor=office.staff, document=draft, main=checked("Sửa lén"))
    assert exc.value.code == "not_editable"
    with pytest.raises(OfficeError):
        actions.draft_update(actor=office.staff, document=draft, subject="Khác")
    with pytest.raises(OfficeError):  # one pending submission at a time
        workflow.submission_create(actor=office.staff, document=draft, leader=office.leader)
    assert draft.versions.count() == 1


def test_a_return_needs_comments_and_the_addressed_leader(office, django_user_model):
    draft = draft_outgoing(office)
    submission = workflow.submission_create(
        actor=office.staff, document=draft, leader=office.leader
    )
    with pytest.raises(OfficeError) as exc:
        workflow.submission_return(actor=office.leader, submission=submission, comment="")
    assert exc.value.code == "comment_required"
    other_leader = django_user_model.objects.create_user(
        "bo_lanhdao2", role="ministry", scope=office.moet
    )
    actions.office_member_set(
        actor=None, user=other_leader, organisation=office.moet, is_leader=True
    )
    with pytest.raises(PermissionDenied):
        workflow.submission_return(
            actor=other_leader, submission=submission, comment="Không phải của tôi"
        )
    submission.refresh_from_db()
    assert submission.status == "pending"


@pytest.mark.parametrize("case", ["unsigned", "other_file", "corrupt", "not_pdf"])
def test_approval_only_by_signing_the_submitted_file(office, case):
    draft = draft_outgoing(office)
    submission = workflow.submission_create(
        actor=office.staff, document=draft, leader=office.leader
    )
    submitted = main_bytes(draft)
    bad = {
        "unsigned": submitted,
        "other_file": sign(checked("Một văn bản khác").data),
        "corrupt": sign(submitted)[:-500],
        "not_pdf": b"not a pdf",
    }[case]
    expected = {"unsigned": "not_signed", "other_file": "not_the_submitted_file",
                "corrupt": "pdf_corrupt", "not_pdf": "not_pdf"}[case]  # fmt: skip
    with pytest.raises(OfficeError) as exc:
        workflow.approve_by_signing(actor=office.leader, submission=submission, signed_pdf=bad)
    assert exc.value.code == expected
    submission.refresh_from_db()
    draft.refresh_from_db()
    assert submission.status == "pending" and draft.status == "submitted"
    assert draft.versions.count() == 1
    assert "approved" not in kinds(draft)


def test_only_the_addressed_leader_approves(office):
    draft = draft_outgoing(office)
    submission = workflow.submission_create(
        actor=office.staff, document=draft, leader=office.leader
    )
    signed = sign(main_bytes(draft))
    for actor in (office.staff, office.clerk, office.so_leader):
        with pytest.raises(PermissionDenied):
            workflow.approve_by_signing(actor=actor, submission=submission, signed_pdf=signed)
    workflow.approve_by_signing(actor=office.leader, submission=submission, signed_pdf=signed)
    with pytest.raises(OfficeError) as exc:
        workflow.approve_by_signing(
            actor=office.leader, submission=submission, signed_pdf=sign(signed, field="LanhDao2")
        )
    assert exc.value.code == "already_decided"


def test_the_database_refuses_an_approval_without_a_signed_version(office):
    draft = draft_outgoing(office)
    submission = workflow.submission_create(
        actor=office.staff, document=draft, leader=office.leader
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Submission.objects.filter(pk=submission.pk).update(
            status="approved", decided_at=timezone.now()
        )


def test_the_signature_check_can_be_replaced(office):
    """The signing part connects full validation here; a refusal stops the approval."""
    draft = draft_outgoing(office)
    submission = workflow.submission_create(
        actor=office.staff, document=draft, leader=office.leader
    )
    seen = {}

    def refuse(*, submitted, signed, signer, submission):
        seen.update(signer=signer, submission=submission.pk, grew=len(signed) > len(submitted))
        raise OfficeError("untrusted", "Chữ ký không hợp lệ.", "The signature is not valid.")

    previous = workflow.signature_check_set(refuse)
    try:
        with pytest.raises(OfficeError) as exc:
            workflow.approve_by_signing(
                actor=office.leader, submission=submission, signed_pdf=sign(main_bytes(draft))
            )
    finally:
        workflow.signature_check_set(previous)
    assert exc.value.code == "untrusted"
    assert seen == {"signer": office.leader, "submission": submission.pk, "grew": True}
    submission.refresh_from_db()
    assert submission.status == "pending"


def test_issuing_needs_approval_and_a_clerk(office):
    draft = draft_outgoing(office)
    with pytest.raises(OfficeError) as exc:
        actions.outgoing_issue(actor=office.clerk, document=draft)
    assert exc.value.code == "not_approved"
    submission = workflow.submission_create(
        actor=office.staff, document=draft, leader=office.leader
    )
    workflow.approve_by_signing(
        actor=office.leader, submission=submission, signed_pdf=sign(main_bytes(draft))
    )
    for actor in (office.staff, office.leader, office.so_clerk):
        with pytest.raises(PermissionDenied):
            actions.outgoing_issue(actor=actor, document=draft)
    draft.refresh_from_db()
    assert draft.status == "approved" and draft.number is None


def test_a_completed_document_takes_no_more_work(office):
    incoming = register_incoming(office)
    given = workflow.assignment_create(actor=office.leader, document=incoming, user=office.staff)
    workflow.assignment_complete(actor=office.staff, assignment=given)
    with pytest.raises(OfficeError) as exc:
        workflow.assignment_create(actor=office.leader, document=incoming, user=office.staff2)
    assert exc.value.code == "handling_closed"
    with pytest.raises(OfficeError) as exc:
        actions.document_version_add(actor=office.clerk, document=incoming, main=checked())
    assert exc.value.code == "not_handling"


# -- overdue, inbox, dashboard -----------------------------------------------------------------


def test_overdue_assignments_are_flagged_once(office):
    incoming = register_incoming(office)
    late = workflow.assignment_create(
        actor=office.leader,
        document=incoming,
        user=office.staff,
        deadline=today() + timedelta(days=2),
    )
    other = register_incoming(office, number=124)
    workflow.assignment_create(
        actor=office.leader,
        document=other,
        user=office.staff2,
        deadline=today() + timedelta(days=9),
    )
    later = today() + timedelta(days=3)
    assert list(selectors.overdue_assignments(today=later)) == [late]
    assert workflow.overdue_flag(today=later) == 1
    assert workflow.overdue_flag(today=later) == 0  # idempotent
    late.refresh_from_db()
    assert late.overdue_flagged_at is not None
    step = WorkflowStep.objects.get(kind="overdue")
    assert step.assignment == late and step.detail["deadline"] == late.deadline.isoformat()
    # The daily task does the same (the test settings run tasks immediately).
    result = office_overdue_flag_run.enqueue(today=(today() + timedelta(days=10)).isoformat())
    assert result.return_value == {"flagged": 1}
    # Done work is never overdue.
    workflow.assignment_complete(actor=office.staff, assignment=late)
    assert not selectors.overdue_assignments(today=later).filter(pk=late.pk).exists()


def test_the_inbox_lists_mine_and_my_units_overdue_first(office):
    docs = [register_incoming(office, number=n) for n in (1, 2, 3, 4)]
    a_late = workflow.assignment_create(
        actor=office.leader,
        document=docs[0],
        user=office.staff,
        deadline=today() + timedelta(days=1),
    )
    a_soon = workflow.assignment_create(
        actor=office.leader,
        document=docs[1],
        user=office.staff,
        deadline=today() + timedelta(days=5),
    )
    a_unit = workflow.assignment_create(
        actor=office.leader, document=docs[2], unit=office.moet_gdth
    )
    workflow.assignment_create(actor=office.leader, document=docs[3], user=office.staff_vp)
    box = selectors.inbox(viewer=office.staff, today=today() + timedelta(days=2))
    assert [a.pk for a in box.assignments] == [a_late.pk, a_soon.pk, a_unit.pk]
    assert box.overdue == 1
    # The other GDTH specialist sees the unit's work only.
    assert [a.pk for a in selectors.inbox(viewer=office.staff2).assignments] == [a_unit.pk]
    assert selectors.inbox(viewer=office.so_staff).assignments == []


def test_the_inbox_of_a_leader_and_a_clerk(office):
    draft = draft_outgoing(office)
    submission = workflow.submission_create(
        actor=office.staff, document=draft, leader=office.leader
    )
    assert [s.pk for s in selectors.inbox(viewer=office.leader).to_approve] == [submission.pk]
    workflow.approve_by_signing(
        actor=office.leader, submission=submission, signed_pdf=sign(main_bytes(draft))
    )
    assert [d.pk for d in selectors.inbox(viewer=office.clerk).to_issue] == [draft.pk]
    assert selectors.inbox(viewer=office.so_clerk).to_issue == []


def test_the_dashboard_counts_by_status_and_unit(office):
    docs = [register_incoming(office, number=n) for n in (1, 2, 3)]
    workflow.assignment_create(
        actor=office.leader,
        document=docs[0],
        unit=office.moet_gdth,
        deadline=today() + timedelta(days=1),
    )
    workflow.assignment_create(
        actor=office.leader,
        document=docs[1],
        user=office.staff,
        deadline=today() + timedelta(days=8),
    )
    workflow.assignment_create(
        actor=office.leader,
        document=docs[2],
        user=office.staff_vp,
        deadline=today() + timedelta(days=1),
    )
    draft_outgoing(office)
    board = selectors.leader_dashboard(viewer=office.leader, today=today() + timedelta(days=2))
    by_status = {(d, s): n for d, s, _label, n in board.by_status}
    assert by_status == {("incoming", "assigned"): 3, ("outgoing", "draft"): 1}
    units = {u.unit_name: (u.open, u.overdue) for u in board.units}
    assert units == {"Vụ Giáo dục Tiểu học": (2, 1), "Văn phòng": (1, 1)}
    assert len(board.overdue) == 2
    with pytest.raises(PermissionDenied):
        selectors.leader_dashboard(viewer=office.staff)
    other = selectors.leader_dashboard(viewer=office.so_leader)
    assert other.by_status == [] and other.units == []


def test_non_members_have_no_office(office, django_user_model):
    stranger = django_user_model.objects.create_user(
        "truong_x", role="school", scope=office.tree["a"]
    )
    with pytest.raises(PermissionDenied):
        selectors.inbox(viewer=stranger)
    assert not selectors.documents_visible(stranger).exists()
    with pytest.raises(PermissionDenied):
        actions.outgoing_draft_create(actor=stranger, doc_type=doc_type("TB"), subject="Thông báo")
    assert not Document.objects.exists()


def test_members_work_in_their_own_organisation_only(office, django_user_model):
    user = django_user_model.objects.create_user("bo_khac", role="ministry", scope=office.moet)
    with pytest.raises(OfficeError) as exc:
        actions.office_member_set(actor=None, user=user, organisation=office.so_hn)
    assert exc.value.code == "member_outside_scope"
    with pytest.raises(PermissionDenied):  # a plain member does not make members
        actions.office_member_set(actor=office.staff, user=user, organisation=office.moet)
    actions.office_member_set(
        actor=office.leader, user=user, organisation=office.moet, unit=office.moet_vp
    )
    with pytest.raises(OfficeError) as exc:
        actions.office_member_set(
            actor=office.leader, user=user, organisation=office.moet, unit=office.so_vp
        )
    assert exc.value.code == "unit_elsewhere"
