"""Returning a registered incoming document to its sender (trả lại văn bản): who may, what it
closes, the page, and the status 02 with the reason that a partner agency receives."""

import pytest
from django.core.exceptions import PermissionDenied

from vnemis.office import actions, exchange, workflow
from vnemis.office.actions_errors import OfficeError
from vnemis.office.models import Assignment, WorkflowStep
from vnemis.office.models_exchange import ExchangeStatus, OutboxMessage

from .test_documents_support import checked, office_setup, register_incoming
from .test_exchange import INBOX, issued, received

REASON = "Văn bản không thuộc thẩm quyền giải quyết của Bộ; đề nghị gửi Sở Giáo dục và Đào tạo."


@pytest.mark.django_db
def test_a_leader_or_clerk_sends_back_with_a_reason_and_the_open_work_closes(tree):
    office = office_setup(tree)
    document = register_incoming(office)
    workflow.assignment_create(
        actor=office.leader, document=document, unit=office.moet_gdth, deadline=None
    )
    with pytest.raises(PermissionDenied):
        workflow.incoming_send_back(actor=office.staff, document=document, reason=REASON)
    with pytest.raises(OfficeError) as refused:
        workflow.incoming_send_back(actor=office.clerk, document=document, reason="  ")
    assert refused.value.code == "reason_required" and refused.value.field == "reason"
    step = workflow.incoming_send_back(actor=office.clerk, document=document, reason=REASON)
    document.refresh_from_db()
    assert document.status == "sent_back" and step.kind == WorkflowStep.Kind.SENT_BACK
    assert step.comment == REASON and step.detail == {"exchange": False}
    assert not Assignment.objects.filter(document=document, status="open").exists()
    # its handling is over: nothing more can be assigned, nor sent back twice
    with pytest.raises(OfficeError) as refused:
        workflow.assignment_create(actor=office.leader, document=document, unit=office.moet_vp)
    assert refused.value.code == "handling_closed"
    with pytest.raises(OfficeError):
        workflow.incoming_send_back(actor=office.leader, document=document, reason=REASON)
    with pytest.raises(OfficeError) as refused:  # nor take new files
        actions.document_version_add(actor=office.clerk, document=document, main=checked())
    assert refused.value.code == "not_handling"


@pytest.mark.django_db
def test_the_page_offers_it_to_the_clerk_and_says_what_is_missing(client, tree):
    office = office_setup(tree)
    document = register_incoming(office)
    url = f"/office/documents/{document.pk}/"
    client.force_login(office.staff)
    assert 'id="send-back-form"' not in client.get(url).content.decode()
    client.force_login(office.clerk)
    assert 'id="send-back-form"' in client.get(url).content.decode()
    refused = client.post(f"{url}send-back/", {"reason": ""})
    assert refused.status_code == 400
    assert "Hãy ghi lý do trả lại văn bản cho nơi gửi." in refused.content.decode()
    done = client.post(f"{url}send-back/", {"reason": REASON}, follow=True)
    page = done.content.decode()
    assert "Đã trả lại văn bản cho nơi gửi." in page and REASON in page
    assert 'id="send-back-form"' not in page
    client.force_login(office.outsider)  # another organisation's member: not found
    assert client.post(f"{url}send-back/", {"reason": REASON}).status_code == 404


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("audit_log_flushable")
def test_a_document_received_by_exchange_tells_its_sender_why_with_status_02(
    setup, live_server, client
):
    office = setup["office"]
    for partner in (setup["at_so"], setup["at_moet"]):
        partner.inbox_url = f"{live_server.url}{INBOX}"
        partner.save()
    document = issued(office)
    [row] = exchange.document_send(actor=office.clerk, document=document)
    incoming = received(office).get()
    step = workflow.incoming_send_back(actor=office.so_clerk, document=incoming, reason=REASON)
    assert step.detail == {"exchange": True}
    report = OutboxMessage.objects.get(kind="status", status_code="02")
    assert report.state == "acknowledged", report.last_error
    row.refresh_from_db()
    assert row.state == "acknowledged"
    status = ExchangeStatus.objects.get(outbox=row, status_code="02")
    assert REASON in status.description and "returned after registration" in status.description
    client.force_login(office.clerk)
    page = client.get(f"/office/documents/{document.pk}/").content.decode()
    assert 'data-code="02"' in page and REASON in page
