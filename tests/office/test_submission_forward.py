"""A leader hands a pending submission to another leader (chuyển lãnh đạo khác duyệt): the
Deputy Minister passes a draft to the Minister, who signs it."""

import pytest
from django.core.exceptions import PermissionDenied

from vnemis.office import actions, selectors, workflow
from vnemis.office.actions_errors import OfficeError
from vnemis.office.models import Blob, Submission, WorkflowStep

from .test_documents_support import draft_outgoing, office_setup, sign

NOTE = "Kính chuyển Bộ trưởng xem xét, ký ban hành."


@pytest.fixture
def office(tree):
    return office_setup(tree)


@pytest.fixture
def minister(office, django_user_model):
    user = django_user_model.objects.create_user(
        "bo_truong", password="pw", role="ministry", scope=office.moet, first_name="Bộ trưởng"
    )
    actions.office_member_set(
        actor=None, user=user, organisation=office.moet, is_leader=True, position="Bộ trưởng"
    )
    return user


def submitted(office):
    draft = draft_outgoing(office)
    return draft, workflow.submission_create(
        actor=office.staff, document=draft, leader=office.leader
    )


def signed_main(submission) -> bytes:
    main = submission.version.files.get(is_main=True)
    return sign(bytes(Blob.objects.get(pk=main.blob_id).data))


def test_a_forwarded_submission_waits_for_the_other_leader_who_signs_it(office, minister):
    draft, submission = submitted(office)
    handed = workflow.submission_forward(
        actor=office.leader, submission=submission, leader=minister, note=NOTE
    )
    submission.refresh_from_db()
    draft.refresh_from_db()
    assert (submission.status, submission.comment) == ("forwarded", NOTE)
    assert submission.decided_at is not None
    assert (handed.status, handed.leader, handed.version_id) == (
        "pending",
        minister,
        submission.version_id,
    )
    assert draft.status == "submitted"
    step = draft.steps.get(kind=WorkflowStep.Kind.SUBMISSION_FORWARDED)
    assert (step.actor, step.comment, step.submission) == (office.leader, NOTE, handed)
    # it left the first leader's inbox and reached the minister's
    assert not selectors.inbox(viewer=office.leader).to_approve
    assert [s.pk for s in selectors.inbox(viewer=minister).to_approve] == [handed.pk]

    # the first leader can no longer decide; the minister approves by signing
    with pytest.raises(OfficeError) as refused:
        workflow.approve_by_signing(
            actor=office.leader, submission=submission, signed_pdf=signed_main(submission)
        )
    assert refused.value.code == "already_decided"
    with pytest.raises(PermissionDenied):
        workflow.submission_return(actor=office.leader, submission=handed, comment="Không")
    workflow.approve_by_signing(actor=minister, submission=handed, signed_pdf=signed_main(handed))
    draft.refresh_from_db()
    assert draft.status == "approved"


@pytest.mark.parametrize("to", ["self", "staff", "outsider", "none"])
def test_a_submission_is_handed_only_to_another_leader_of_the_organisation(office, minister, to):
    draft, submission = submitted(office)
    leader = {"self": office.leader, "staff": office.staff, "outsider": office.outsider}.get(to)
    with pytest.raises(OfficeError) as refused:
        workflow.submission_forward(actor=office.leader, submission=submission, leader=leader)
    assert refused.value.code == "not_another_leader" and refused.value.field == "leader"
    submission.refresh_from_db()
    assert submission.status == "pending"
    assert Submission.objects.filter(document=draft).count() == 1


def test_only_the_deciding_leader_hands_on_a_pending_submission(office, minister):
    _draft, submission = submitted(office)
    with pytest.raises(PermissionDenied):  # a leader it was not submitted to
        workflow.submission_forward(actor=minister, submission=submission, leader=office.leader)
    with pytest.raises(PermissionDenied):
        workflow.submission_forward(actor=office.staff, submission=submission, leader=minister)
    workflow.submission_return(actor=office.leader, submission=submission, comment="Sửa lại.")
    with pytest.raises(OfficeError) as refused:  # decided already
        workflow.submission_forward(actor=office.leader, submission=submission, leader=minister)
    assert refused.value.code == "already_decided"


def test_the_page_offers_the_handover_to_the_deciding_leader_and_reports_errors(
    office, minister, client
):
    draft, submission = submitted(office)
    client.force_login(office.staff)
    assert (
        'id="submission-forward-form"'
        not in client.get(f"/office/documents/{draft.pk}/").content.decode()
    )
    client.force_login(office.leader)
    page = client.get(f"/office/documents/{draft.pk}/").content.decode()
    assert 'id="submission-forward-form"' in page and "Bộ trưởng" in page
    url = f"/office/submissions/{submission.pk}/forward/"
    # no leader chosen; then the leader themself (not offered): the form says why
    response = client.post(url, {"leader": "", "note": NOTE})
    assert (
        response.status_code == 400 and "Hãy chọn lãnh đạo để trình." in response.content.decode()
    )
    response = client.post(url, {"leader": str(office.leader.pk), "note": NOTE})
    assert response.status_code == 400
    submission.refresh_from_db()
    assert submission.status == "pending"
    response = client.post(url, {"leader": str(minister.pk), "note": NOTE})
    assert response.status_code == 302
    submission.refresh_from_db()
    assert submission.status == "forwarded"
    page = client.get(f"/office/documents/{draft.pk}/").content.decode()
    assert "Chuyển lãnh đạo khác" in page and 'id="submission-forward-form"' not in page
    client.force_login(minister)
    page = client.get(f"/office/documents/{draft.pk}/").content.decode()
    assert 'id="sign-form"' in page and 'id="submission-forward-form"' in page
