"""Replacement (thay thế, BussinessDocType 3) of exchanged documents: the Ministry replaces a
letter it sent the Hanoi Department with a new one. As in test_exchange_recall, every message
goes through the real inbox and status views; hostile or foreign messages are posted to the
inbox directly."""

import html
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from vnemis.office import actions, exchange, workflow
from vnemis.office.actions_errors import OfficeError
from vnemis.office.edxml import (
    Business,
    Message,
    ReplacementInfo,
    TraceHeaderList,
    message_build,
    message_parse,
    status_parse,
)
from vnemis.office.models import Assignment, Blob, Document, Register, WorkflowStep
from vnemis.office.models_exchange import ExchangeStatus, InboxMessage, OutboxMessage

from .test_documents_support import draft_outgoing, pdf_bytes, sign
from .test_exchange import issued, post, received
from .test_exchange_recall import _refused, page, pump, sent

Kind = WorkflowStep.Kind
NEW_SUBJECT = "Hướng dẫn thực hiện nhiệm vụ năm học 2026-2027 (thay thế)"


def approve_and_issue(office, draft):
    submission = workflow.submission_create(
        actor=office.staff, document=draft, leader=office.leader
    )
    main = draft.versions.get().files.get(is_main=True)
    signed = sign(bytes(Blob.objects.get(pk=main.blob_id).data))
    workflow.approve_by_signing(actor=office.leader, submission=submission, signed_pdf=signed)
    return actions.outgoing_issue(actor=office.clerk, document=draft)


def replacement_of(office, document, subject=NEW_SUBJECT):
    return approve_and_issue(office, draft_outgoing(office, subject=subject, replaces=document))


def replacement_message(setup, document, replacements, *, business_id=None) -> bytes:
    """A replacement as a partner could write it: ``document``'s header (a new document of
    the Ministry) replacing ``replacements`` (ReplacementInfo), sealed by the Ministry."""
    built = exchange.message_for(document, [setup["at_moet"]])
    business = Business(
        doc_type=3,
        reason="Thay thế do sai sót",
        document_id=business_id if business_id is not None else built.document_id,
        replacements=tuple(replacements),
    )
    message = Message(
        header=built.header,
        trace=TraceHeaderList(built.trace.traces, business),
        attachments=built.attachments,
    )
    return exchange._sign(message_build(message), setup["office"].moet.pk)


def delivered_id(document) -> str:
    return OutboxMessage.objects.get(document=document, kind="document").edxml_id


# -- the full cycle ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_replacement_is_drafted_issued_sent_and_replaces_the_received_document(wire, client):
    office = wire["office"]
    document, incoming = sent(wire)
    workflow.assignment_create(
        actor=office.so_leader, document=incoming, unit=office.so_gdtrh, deadline=None
    )
    pump()
    assert incoming.assignments.filter(status="open").exists()

    # the Ministry drafts the replacement from the issued letter's page: its details copied
    text = page(client, office.staff, document)
    assert 'id="replace-link"' in text
    form = client.get(f"/office/documents/new/outgoing/?replaces={document.pk}").content.decode()
    assert 'id="replaces-note"' in form and html.escape(document.number_notation) in form
    assert html.escape(document.subject) in form and "SGD01" in form  # subject, recipients
    values = {
        "direction": "outgoing",
        "doc_type": document.doc_type_id,
        "subject": NEW_SUBJECT,
        "recipients": "SGD01\nVăn phòng Chính phủ | 000.00.00.G01",
        "priority": 0,
        "confidentiality": 0,
        "copies": 1,
        "signer_name": "Phạm Ngọc Thưởng",
        "signer_position": "Thứ trưởng",
        "signer_competence": "KT. BỘ TRƯỞNG",
        "replaces": document.pk,
        "main_file": SimpleUploadedFile(
            "thay-the.pdf", pdf_bytes("Văn bản thay thế"), "application/pdf"
        ),
    }
    response = client.post("/office/documents/new/outgoing/", values)
    assert response.status_code == 302, response.content.decode()[:2000]
    draft = Document.objects.get(subject=NEW_SUBJECT)
    assert draft.replaces_id == document.pk
    assert document.steps.filter(kind=Kind.REPLACEMENT_DRAFTED).count() == 1

    replacement = approve_and_issue(office, draft)
    assert replacement.number != document.number  # a new number in the register
    assert document.steps.filter(kind=Kind.REPLACED).count() == 1
    rows = exchange.document_send(actor=office.clerk, document=replacement)
    sealed = message_parse(bytes(rows[0].data))
    business = sealed.trace.business
    assert business.doc_type == 3 and business.document_id == sealed.document_id
    assert business.replacements == (
        ReplacementInfo(delivered_id(document), (wire["at_moet"].organ_id,)),
    )
    assert document.number_notation in business.reason
    pump()

    # the Department registered the new document and marked the old one replaced
    row = OutboxMessage.objects.get(document=replacement, kind="document")
    assert row.state == "acknowledged", row.last_error
    answer = ExchangeStatus.objects.get(outbox=row)
    assert answer.status_code == "03"
    assert f"Đã thay thế văn bản đến số {incoming.register_number:02d}/" in answer.description
    new = received(office).get(external_id=sealed.document_id)
    incoming.refresh_from_db()
    assert new.replaces_id == incoming.pk and incoming.status == "replaced"
    assert not incoming.assignments.filter(status=Assignment.Status.OPEN).exists()
    step = incoming.steps.get(kind=Kind.REPLACED)
    assert new.number_notation in step.comment and step.detail["assignments_closed"] == 1
    assert incoming.register_number != new.register_number  # both stay in the register

    # both sides show the link; the old letter offers no second replacement
    ours = page(client, office.staff, document)
    assert 'id="replaced-by"' in ours and 'id="replace-link"' not in ours
    assert 'id="replaces"' in page(client, office.staff, replacement)
    theirs = page(client, office.so_staff, incoming)
    assert "Đã bị thay thế" in theirs and f"/office/documents/{new.pk}/" in theirs
    assert f"/office/documents/{incoming.pk}/" in page(client, office.so_staff, new)


@pytest.mark.django_db
def test_a_replayed_replacement_changes_nothing_again(wire, client):
    office = wire["office"]
    document, incoming = sent(wire)
    replacement = replacement_of(office, document)
    data = replacement_message(wire, replacement, [ReplacementInfo(delivered_id(document))])
    first = post(client, data)
    assert first.status_code == 200 and "Đã thay thế" in status_parse(first.content).description
    again = post(client, data)
    assert again.status_code == 200
    assert "không vào sổ lại" in status_parse(again.content).description
    assert received(office).count() == 2
    assert incoming.steps.filter(kind=Kind.REPLACED).count() == 1


# -- what the receiver refuses, registering nothing --------------------------------------------


@pytest.mark.django_db
def test_a_replacement_of_another_issuers_document_is_refused(wire, client):
    office = wire["office"]
    document, incoming = sent(wire)
    replacement = replacement_of(office, document)
    foreign = ReplacementInfo("000.00.99.Z99,2026/01/05,12/QĐ-UBND")
    text = _refused(post(client, replacement_message(wire, replacement, [foreign])), 403,
                    "exchange_business_not_sender")  # fmt: skip
    assert "000.00.99.Z99" in text and "did not issue" in text
    assert received(office).count() == 1
    incoming.refresh_from_db()
    assert incoming.status == "registered"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("replacements", "business_id", "says"),
    [
        ([], None, "ReplacementInfoList"),  # names nothing
        ([ReplacementInfo("không phải mã văn bản")], None, "không có dạng"),
        ([ReplacementInfo("000.00.00.G09,2026/02/30,05/BGDĐT-GDTH")], None, "does not exist"),
        ([ReplacementInfo("SELF")], None, "itself"),
        (
            [ReplacementInfo(f"000.00.00.G09,2026/01/05,{n}/BGDĐT") for n in range(1, 22)],
            None,
            "over 20",
        ),
        (
            [ReplacementInfo("000.00.00.G09,2026/01/05,7/BGDĐT")],
            "000.00.00.G09,2026/01/05,8/BGDĐT",
            "neither",
        ),
    ],
    ids=["empty", "malformed-id", "no-such-day", "itself", "too-many", "business-id-elsewhere"],
)
def test_malformed_replacements_are_400_and_register_nothing(
    wire, client, replacements, business_id, says
):
    office = wire["office"]
    document, _incoming = sent(wire)
    replacement = replacement_of(office, document)
    own = exchange.message_for(replacement, [wire["at_moet"]]).document_id
    replacements = [ReplacementInfo(own) if r.document_id == "SELF" else r for r in replacements]
    data = replacement_message(wire, replacement, replacements, business_id=business_id)
    text = _refused(post(client, data), 400, "exchange_business_malformed")
    assert says in text
    assert received(office).count() == 1
    assert not InboxMessage.objects.filter(edxml_id=own).exists()


# -- what the receiver registers, replacing only what it may -----------------------------------


@pytest.mark.django_db
def test_a_replacement_of_a_document_never_received_is_registered_and_says_so(wire, client):
    office = wire["office"]
    earlier = issued(office, subject="Công văn gửi bằng bản giấy")  # never exchanged
    replacement = replacement_of(office, earlier)
    rows = exchange.document_send(actor=office.clerk, document=replacement)
    sealed = message_parse(bytes(rows[0].data))
    (info,) = sealed.trace.business.replacements
    # its identity as the exchange names it, and no OrganIds: every receiver
    assert info.document_id.endswith(f",{earlier.number_notation}") and info.organ_ids == ()
    pump()
    answer = ExchangeStatus.objects.get(outbox=rows[0])
    assert answer.status_code == "03" and "Chưa từng nhận" in answer.description
    assert received(office).get().replaces_id is None


@pytest.mark.django_db
def test_a_replacement_for_other_receivers_only_leaves_ours_alone(wire, client):
    office = wire["office"]
    document, incoming = sent(wire)
    replacement = replacement_of(office, document)
    elsewhere = ReplacementInfo(delivered_id(document), ("000.00.02.H29",))
    response = post(client, replacement_message(wire, replacement, [elsewhere]))
    assert response.status_code == 200
    assert "thay thế" not in status_parse(response.content).description
    incoming.refresh_from_db()
    assert incoming.status == "registered" and received(office).count() == 2


@pytest.mark.django_db
def test_a_document_sent_back_is_not_replaced_and_the_answer_says_why(wire, client):
    office = wire["office"]
    document, incoming = sent(wire)
    workflow.incoming_send_back(actor=office.so_clerk, document=incoming, reason="Sai nơi nhận.")
    replacement = replacement_of(office, document)
    response = post(
        client, replacement_message(wire, replacement, [ReplacementInfo(delivered_id(document))])
    )
    assert response.status_code == 200
    assert "không bị thay thế" in status_parse(response.content).description
    incoming.refresh_from_db()
    assert incoming.status == "sent_back" and received(office).count() == 2


@pytest.mark.django_db
def test_the_replaced_document_named_in_the_business_document_id_is_understood(wire, client):
    """Some writers put the replaced document in Bussiness/DocumentId, with no list."""
    office = wire["office"]
    document, incoming = sent(wire)
    replacement = replacement_of(office, document)
    data = replacement_message(wire, replacement, [], business_id=delivered_id(document))
    assert post(client, data).status_code == 200
    incoming.refresh_from_db()
    assert incoming.status == "replaced"


# -- drafting rules ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_only_an_issued_outgoing_document_of_ones_own_is_replaced_and_only_once(wire, client):
    office = wire["office"]
    document, incoming = sent(wire)
    draft = draft_outgoing(office)
    for wrong in (draft, incoming):  # not issued; not ours, nor outgoing
        with pytest.raises(OfficeError) as refused:
            draft_outgoing(office, replaces=wrong)
        assert refused.value.code == "bad_replaces"
    # another organisation's page is not found; the link needs an issued document
    client.force_login(office.so_staff)
    assert client.get(f"/office/documents/new/outgoing/?replaces={document.pk}").status_code == 404
    client.force_login(office.staff)
    assert client.get(f"/office/documents/new/outgoing/?replaces={draft.pk}").status_code == 404
    assert 'id="replace-link"' not in page(client, office.staff, draft)

    # two replacements drafted; the second cannot be issued once the first is
    first = draft_outgoing(office, subject="Thay thế lần một", replaces=document)
    second = draft_outgoing(office, subject="Thay thế lần hai", replaces=document)
    approve_and_issue(office, first)
    register = Register.objects.get(organisation=office.moet, kind="outgoing")
    with pytest.raises(OfficeError) as refused:
        approve_and_issue(office, second)
    assert refused.value.code == "already_replaced"
    assert re.search(r"đã được thay thế bởi văn bản \d+/", refused.value.message_vi)
    second.refresh_from_db()
    assert second.status == "approved" and second.number is None
    assert Register.objects.get(pk=register.pk).last_number == register.last_number  # no gap
    with pytest.raises(OfficeError) as refused:
        draft_outgoing(office, replaces=document)
    assert refused.value.code == "already_replaced"
