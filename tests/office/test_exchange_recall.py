"""Recall (thu hồi) and update (cập nhật) of exchanged documents: the Ministry (000.00.00.G09)
sends to the Hanoi Department (000.00.01.H26), both in this database. Every message travels
through the real inbox and status views: the outbox's HTTP client is given a transport that
hands each request to Django's test client, and ``pump`` delivers what is queued, as the worker
would. Messages a hostile or broken partner could send are posted to the inbox directly."""

import html
import re
from dataclasses import replace

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile

from vnemis.office import actions, exchange, exchange_business, selectors, workflow
from vnemis.office.actions_errors import OfficeError
from vnemis.office.edxml import (
    Business,
    Message,
    TraceHeaderList,
    message_build,
    status_parse,
)
from vnemis.office.models import Assignment, Document, WorkflowStep
from vnemis.office.models_exchange import BusinessRequest, ExchangeStatus, OutboxMessage

from .test_documents_support import checked, draft_outgoing, pdf_bytes
from .test_exchange import issued, post, received

REASON = "Văn bản ban hành nhầm đối tượng; đề nghị thu hồi để ban hành lại."
REFUSAL = "Văn bản đã được triển khai tới các trường; đề nghị ban hành văn bản đính chính."
Kind = WorkflowStep.Kind


def pump() -> None:
    """Deliver every queued outbox message until none is left (the worker's job)."""
    for _round in range(10):
        ids = list(OutboxMessage.objects.filter(state="queued").values_list("pk", flat=True))
        if not ids:
            return
        for pk in ids:
            exchange.outbox_deliver(message_id=pk, force=True)
    raise AssertionError("the outbox does not drain")


def sent(setup):
    """An issued Ministry letter delivered to the Department: (ours, theirs)."""
    office = setup["office"]
    document = issued(office)
    exchange.document_send(actor=office.clerk, document=document)
    pump()
    return document, received(office).get()


def business_message(setup, document, *, doc_type=1, reason=REASON, document_id=None,
                     files=False, header=None) -> bytes:  # fmt: skip
    """A recall/update message about ``document`` as a partner could write it, sealed by the
    Ministry."""
    built = exchange.message_for(document, [setup["at_moet"]])
    business = Business(
        doc_type=doc_type, reason=reason, document_id=document_id or built.document_id
    )
    message = Message(
        header=header or built.header,
        trace=TraceHeaderList(built.trace.traces, business),
        attachments=built.attachments if files else (),
    )
    return exchange._sign(message_build(message), setup["office"].moet.pk)


def recall_row(document, partner=None) -> OutboxMessage:
    return OutboxMessage.objects.filter(document=document, kind="recall").latest("id")


def codes(row) -> list[str]:
    return [s.status_code for s in row.statuses.all()]


def page(client, user, document) -> str:
    client.force_login(user)
    response = client.get(f"/office/documents/{document.pk}/")
    assert response.status_code == 200
    return response.content.decode()


# -- the full cycles ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_recall_requested_recorded_agreed_and_shown_on_both_sides(wire, client):
    office = wire["office"]
    document, incoming = sent(wire)
    workflow.assignment_create(
        actor=office.so_leader, document=incoming, unit=office.so_gdtrh, deadline=None
    )
    pump()
    assert selectors.inbox(viewer=office.so_staff).assignments  # the unit has it to handle

    # the Ministry's clerk asks for the recall on the document page
    page(client, office.clerk, document)
    response = client.post(f"/office/documents/{document.pk}/recall/", {"reason": REASON})
    assert response.status_code == 302
    pump()
    row = recall_row(document)
    assert row.state == "acknowledged" and codes(row) == ["13"], row.last_error
    assert document.steps.filter(kind=Kind.RECALL_REQUESTED, comment=REASON).exists()

    # the Department records it: a visible pending request and a step with the reason
    request = BusinessRequest.objects.get(document=incoming)
    assert (request.kind, request.state, request.reason) == ("recall", "pending", REASON)
    assert incoming.steps.filter(kind=Kind.RECALL_REQUESTED, comment=REASON).count() == 1
    staff_page = page(client, office.so_staff, incoming)
    assert 'id="recall-pending"' in staff_page and REASON in staff_page
    assert 'id="recall-agree-form"' not in staff_page  # only a leader decides
    leader_page = page(client, office.so_leader, incoming)
    assert 'id="recall-agree-form"' in leader_page and 'id="recall-refuse-form"' in leader_page

    # the Department's leader agrees
    response = client.post(f"/office/documents/{incoming.pk}/recall/agree/", {"comment": ""})
    assert response.status_code == 302
    incoming.refresh_from_db()
    assert incoming.status == Document.Status.RECALLED
    assert incoming.register_number == 1  # kept in the register, its number never reused
    assert not Assignment.objects.filter(document=incoming, status="open").exists()
    assert not selectors.inbox(viewer=office.so_staff).assignments
    assert incoming.steps.filter(kind=Kind.RECALLED).count() == 1
    with pytest.raises(OfficeError) as refused:
        workflow.assignment_create(actor=office.so_leader, document=incoming, unit=office.so_vp)
    assert refused.value.code == "handling_closed"
    with pytest.raises(OfficeError) as refused:  # nor a new version of its files
        actions.document_version_add(actor=office.so_leader, document=incoming, main=checked())
    assert refused.value.code == "not_handling"
    pump()
    # 15 travelled back: recorded on the recall, in our log, on our page
    assert codes(row) == ["13", "15"]
    assert document.steps.filter(kind=Kind.RECALLED).count() == 1
    ours = page(client, office.clerk, document)
    assert "Đã thu hồi" in ours and 'data-code="15"' in ours and 'data-code="13"' in ours
    assert 'id="recall-form"' not in ours  # nothing left to recall
    theirs = page(client, office.so_leader, incoming)
    assert "Đã thu hồi" in theirs and 'id="recall-agree-form"' not in theirs
    assert 'id="upload-form"' not in theirs
    # the Department reported 04 and 15, nothing for the recall itself
    reports = OutboxMessage.objects.filter(document=incoming, kind="status")
    assert sorted(reports.values_list("status_code", flat=True)) == ["04", "15"]
    assert set(reports.values_list("state", flat=True)) == {"acknowledged"}
    with pytest.raises(OfficeError) as refused:
        exchange_business.document_recall_request(
            actor=office.clerk, document=document, reason=REASON
        )
    assert refused.value.code == "exchange_already_recalled"


@pytest.mark.django_db
def test_a_refused_recall_answers_16_with_the_reason_and_may_be_asked_again(wire, client):
    office = wire["office"]
    document, incoming = sent(wire)
    exchange_business.document_recall_request(actor=office.leader, document=document, reason=REASON)
    pump()
    with pytest.raises(OfficeError) as refused:  # one open request at a time
        exchange_business.document_recall_request(
            actor=office.clerk, document=document, reason=REASON
        )
    assert refused.value.code == "exchange_recall_pending"

    page(client, office.so_leader, incoming)
    empty = client.post(f"/office/documents/{incoming.pk}/recall/refuse/", {"reason": " "})
    assert empty.status_code == 400
    assert "Hãy ghi lý do từ chối thu hồi." in empty.content.decode()
    assert BusinessRequest.objects.get().state == "pending"
    done = client.post(f"/office/documents/{incoming.pk}/recall/refuse/", {"reason": REFUSAL})
    assert done.status_code == 302
    incoming.refresh_from_db()
    assert incoming.status == "registered"  # its handling goes on
    assert incoming.steps.filter(kind=Kind.RECALL_REFUSED, comment=REFUSAL).exists()
    pump()
    row = recall_row(document)
    assert codes(row) == ["13", "16"]
    assert REFUSAL in ExchangeStatus.objects.get(outbox=row, status_code="16").description
    assert document.steps.filter(kind=Kind.RECALL_REFUSED).count() == 1
    assert REFUSAL in page(client, office.clerk, document)
    with pytest.raises(OfficeError) as refused:  # nothing pending any more
        exchange_business.recall_agree(actor=office.so_leader, document=incoming)
    assert refused.value.code == "exchange_no_recall_pending"

    # asked again, with another reason: a new request, answered 13
    exchange_business.document_recall_request(
        actor=office.clerk, document=document, reason="Đề nghị xem xét lại việc thu hồi."
    )
    pump()
    assert codes(recall_row(document)) == ["13"]
    assert BusinessRequest.objects.filter(document=incoming).count() == 2


@pytest.mark.django_db
def test_an_update_gives_the_receiver_new_details_and_a_new_version(wire, client):
    office = wire["office"]
    document, incoming = sent(wire)
    new_subject = "Hướng dẫn thực hiện nhiệm vụ năm học 2026-2027 (bản đính chính)"
    versions_before = document.versions.count()
    [row] = exchange_business.document_update_send(
        actor=office.clerk,
        document=document,
        reason="Đính chính trích yếu và thay tệp văn bản.",
        subject=new_subject,
        main=checked("Bản đính chính của công văn hướng dẫn", name="dinh-chinh.pdf"),
    )
    document.refresh_from_db()
    assert document.subject == new_subject
    assert document.versions.count() == versions_before + 1
    pump()
    row.refresh_from_db()
    assert row.state == "acknowledged" and codes(row) == ["15"], row.last_error
    incoming.refresh_from_db()
    assert incoming.subject == new_subject
    versions = list(incoming.versions.order_by("number"))
    assert [v.number for v in versions] == [1, 2]
    [main] = versions[1].files.all()
    assert main.name == "dinh-chinh.pdf" and main.is_main
    step = incoming.steps.get(kind=Kind.VERSION_ADDED)
    assert step.detail["exchange"] == "update" and step.detail["fields"] == ["subject"]
    assert "trích yếu" in ExchangeStatus.objects.get(outbox=row).description

    # details only: the due date
    due = document.issued_on.replace(year=document.issued_on.year + 1)
    exchange_business.document_update_send(
        actor=office.leader, document=document, reason="Gia hạn thời hạn báo cáo.", due_on=due
    )
    pump()
    incoming.refresh_from_db()
    assert incoming.due_on == due and incoming.versions.count() == 2
    assert incoming.steps.filter(kind=Kind.UPDATED).count() == 1
    assert BusinessRequest.objects.filter(document=incoming, kind="update").count() == 2
    ours = page(client, office.clerk, document)
    assert 'data-kind="update"' in ours and 'data-code="15"' in ours
    theirs = page(client, office.so_clerk, incoming)
    assert 'data-kind="update"' in theirs and new_subject in theirs

    with pytest.raises(OfficeError) as refused:
        exchange_business.document_update_send(
            actor=office.clerk, document=document, reason="Không đổi gì.", due_on=due
        )
    assert refused.value.code == "exchange_update_nothing"
    with pytest.raises(OfficeError) as refused:
        exchange_business.document_update_send(
            actor=office.clerk, document=document, reason="Sai hạn.",
            due_on=document.issued_on.replace(year=document.issued_on.year - 1),
        )  # fmt: skip
    assert refused.value.code == "bad_due_on"
    with pytest.raises(TypeError):
        exchange_business.document_update_send(
            actor=office.clerk, document=document, reason="x", number=5
        )


@pytest.mark.django_db
def test_the_page_sends_an_update_and_says_what_is_wrong(wire, client):
    office = wire["office"]
    document, incoming = sent(wire)
    assert 'id="update-form"' not in page(client, office.staff, document)  # clerks, leaders
    ours = page(client, office.clerk, document)
    assert 'id="update-form"' in ours and document.subject in ours  # filled with its details
    url = f"/office/documents/{document.pk}/update/"
    fields = {
        "subject": document.subject, "priority": document.priority,
        "due_on": "", "signer_name": document.signer_name,
        "signer_position": document.signer_position,
        "signer_competence": document.signer_competence,
    }  # fmt: skip
    missing = client.post(url, {**fields, "reason": " "})
    assert missing.status_code == 400 and "Hãy ghi nội dung cập nhật." in missing.content.decode()
    unchanged = client.post(url, {**fields, "reason": "Không đổi gì."})
    assert unchanged.status_code == 400
    assert "Không có thông tin hay tệp nào thay đổi" in unchanged.content.decode()
    bad = SimpleUploadedFile("hong.pdf", b"MZ not a pdf", content_type="application/pdf")
    corrupt = client.post(url, {**fields, "reason": "Thay tệp.", "main_file": bad})
    assert corrupt.status_code == 400 and "Tệp không phải là PDF" in corrupt.content.decode()
    assert not OutboxMessage.objects.filter(kind="update").exists()

    new_subject = "Hướng dẫn thực hiện nhiệm vụ năm học (bản cập nhật trên trang)"
    appendix = SimpleUploadedFile(
        "phu-luc.pdf", pdf_bytes("Phụ lục danh sách trường"), content_type="application/pdf"
    )
    done = client.post(
        url, {**fields, "subject": new_subject, "reason": "Đính chính trích yếu, thêm phụ lục.",
              "appendices": [appendix]},
    )  # fmt: skip
    assert done.status_code == 302
    pump()
    incoming.refresh_from_db()
    assert incoming.subject == new_subject
    names = sorted(f.name for f in incoming.versions.latest("number").files.all())
    assert "phu-luc.pdf" in names and len(names) == 2
    row = OutboxMessage.objects.get(kind="update")
    assert codes(row) == ["15"], row.last_error


@pytest.mark.django_db
def test_a_page_opened_before_a_correction_sends_only_what_its_user_changed(wire, client):
    office = wire["office"]
    document, incoming = sent(wire)
    stale = page(client, office.clerk, document)  # the clerk opens the page
    corrected = "Hướng dẫn năm học 2026-2027 (đã đính chính)"
    exchange_business.document_update_send(
        actor=office.leader, document=document, reason="Đính chính trích yếu.", subject=corrected
    )
    # the clerk, on the page as it was, adds an appendix only
    shown = {  # (an empty value is rendered without its attribute)
        name: re.search(rf'name="initial-{name}"(?: value="([^"]*)")?', stale).group(1) or ""
        for name in exchange_business.UPDATE_FIELDS
    }
    data = {name: html.unescape(value) for name, value in shown.items()}
    data.update({f"initial-{k}": v for k, v in data.items()})
    appendix = SimpleUploadedFile(
        "phu-luc.pdf", pdf_bytes("Phụ lục"), content_type="application/pdf"
    )
    done = client.post(
        f"/office/documents/{document.pk}/update/",
        {**data, "reason": "Bổ sung phụ lục.", "appendices": [appendix]},
    )
    assert done.status_code == 302, done.content.decode()[:2000]
    document.refresh_from_db()
    assert document.subject == corrected  # not undone by the older page
    pump()
    incoming.refresh_from_db()
    assert incoming.subject == corrected
    assert sorted(codes(r) for r in OutboxMessage.objects.filter(kind="update")) == [["15"], ["15"]]


@pytest.mark.django_db
def test_an_update_of_a_recalled_document_is_refused_with_16(wire, client):
    office = wire["office"]
    document, incoming = sent(wire)
    exchange_business.document_recall_request(actor=office.clerk, document=document, reason=REASON)
    pump()
    exchange_business.recall_agree(actor=office.so_leader, document=incoming, comment="Đồng ý.")
    pump()
    # our own action no longer sends to a partner that recalled it
    with pytest.raises(OfficeError) as refused:
        exchange_business.document_update_send(
            actor=office.clerk, document=document, reason="Sửa.", subject="Trích yếu mới"
        )
    assert refused.value.code == "exchange_update_no_partner"
    # a partner's update arriving anyway is answered 16 and changes nothing
    document.subject = "Trích yếu mới"
    data = business_message(wire, document, doc_type=2, reason="Sửa trích yếu.")
    response = post(client, data)
    assert response.status_code == 200 and response["X-Edxml-Status"] == "16"
    assert "đã được thu hồi" in status_parse(response.content).description
    incoming.refresh_from_db()
    assert incoming.subject != "Trích yếu mới" and incoming.status == "recalled"
    # its replay: the same answer, nothing recorded twice
    again = post(client, data)
    assert again["X-Edxml-Status"] == "16"
    assert BusinessRequest.objects.filter(kind="update").count() == 1


# -- replays -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_replayed_or_repeated_recall_is_answered_and_recorded_once(wire, client):
    office = wire["office"]
    document, incoming = sent(wire)
    data = business_message(wire, document)
    first = post(client, data)
    assert first.status_code == 200 and first["X-Edxml-Status"] == "13"
    assert "chờ lãnh đạo" in status_parse(first.content).description
    replay = post(client, data)
    assert replay.status_code == 200 and replay["X-Edxml-Status"] == "13"
    assert "ghi nhận trước đó" in status_parse(replay.content).description
    resigned = business_message(wire, document, reason="Lần hai.")  # other bytes, same ask
    assert resigned != data
    assert post(client, resigned)["X-Edxml-Status"] == "13"
    assert BusinessRequest.objects.count() == 1
    assert incoming.steps.filter(kind=Kind.RECALL_REQUESTED).count() == 1
    exchange_business.recall_agree(actor=office.so_leader, document=incoming)
    after = post(client, data)
    assert after.status_code == 200 and after["X-Edxml-Status"] == "15"
    assert (
        post(client, business_message(wire, document, reason="Lần ba."))["X-Edxml-Status"] == "15"
    )
    assert BusinessRequest.objects.count() == 1
    assert incoming.steps.filter(kind=Kind.RECALLED).count() == 1


@pytest.mark.django_db
def test_a_replayed_update_is_applied_once(wire, client):
    _document, incoming = sent(wire)
    document = _document
    header = replace(
        exchange.message_for(document, [wire["at_moet"]]).header, subject="Trích yếu đã sửa"
    )
    data = business_message(wire, document, doc_type=2, header=header, files=True)
    assert post(client, data)["X-Edxml-Status"] == "15"
    assert post(client, data)["X-Edxml-Status"] == "15"
    # the same correction signed again: nothing left to change
    again = post(client, business_message(wire, document, doc_type=2, header=header, files=True))
    assert again["X-Edxml-Status"] == "15"
    assert "không có gì thay đổi" in status_parse(again.content).description
    incoming.refresh_from_db()
    assert incoming.subject == "Trích yếu đã sửa" and incoming.versions.count() == 1
    assert incoming.steps.filter(kind=Kind.UPDATED).count() == 1


# -- refusals ----------------------------------------------------------------------------------


def _refused(response, status: int, code: str) -> str:
    assert (response.status_code, response["X-Edxml-Error"]) == (status, code), response.content
    assert response["X-Edxml-Status"] == "02"
    return exchange._answer_description(response.content)  # a plain Status when unreadable


@pytest.mark.django_db
def test_a_recall_of_a_document_never_received_is_404_with_a_bilingual_reason(wire, client):
    office = wire["office"]
    never = issued(office, subject="Công văn chưa từng gửi liên thông")
    text = _refused(post(client, business_message(wire, never)), 404, "exchange_unknown_document")
    assert "Không có văn bản" in text and "No document" in text and " / " in text
    assert not BusinessRequest.objects.exists()
    assert not Document.objects.filter(direction="incoming").exists()  # not registered as new


@pytest.mark.django_db
def test_a_recall_of_a_document_the_sender_did_not_issue_is_refused(wire, client):
    document, incoming = sent(wire)
    elsewhere = "000.00.99.Z99,2026/01/05,12/QĐ-UBND"
    text = _refused(
        post(client, business_message(wire, document, document_id=elsewhere)),
        403,
        "exchange_business_not_sender",
    )
    assert "000.00.99.Z99" in text and "did not issue" in text
    assert not BusinessRequest.objects.exists()
    assert not incoming.steps.filter(kind=Kind.RECALL_REQUESTED).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "document_id",
    [
        "không phải mã văn bản",
        "000.00.00.G09,2026/02/30,05/BGDĐT-GDTH",  # no such day
        "000.00.00.G09,2026/01/05,999/BGDĐT-GDTH",  # another document than the header's
        "000.00.00.G09,2026/01/05,05/BGDĐT,GDTH",  # a comma inside the notation
        "000.00.00.G09," + "9" * 300,
    ],
)
def test_a_malformed_business_document_id_is_400(wire, client, document_id):
    document, _incoming = sent(wire)
    _refused(
        post(client, business_message(wire, document, document_id=document_id)),
        400,
        "exchange_business_malformed",
    )
    assert not BusinessRequest.objects.exists()
    assert received(wire["office"]).count() == 1  # nothing registered as new


@pytest.mark.django_db
def test_malformed_business_blocks_are_refused_before_anything_is_recorded(wire, client):
    office = wire["office"]
    document, _incoming = sent(wire)
    too_long = business_message(wire, document, reason="x" * 5000)
    _refused(post(client, too_long), 400, "exchange_business_malformed")
    # doc type outside the table, and a recall without its DocumentId: the parser refuses
    built = message_build(
        Message(
            header=exchange.message_for(document, [wire["at_moet"]]).header,
            trace=TraceHeaderList((), Business(doc_type=1, reason=REASON, document_id="X")),
        )
    )
    bad_type = built.replace(b">1</edXML:BussinessDocType>", b">9</edXML:BussinessDocType>")
    assert bad_type != built
    _refused(post(client, exchange._sign(bad_type, office.moet.pk)), 400, "edxml_bad_code")
    no_id = built.replace(b"<edXML:DocumentId>X</edXML:DocumentId>", b"")
    assert no_id != built
    text = _refused(
        post(client, exchange._sign(no_id, office.moet.pk)), 400, "edxml_missing_element"
    )
    assert "Bussiness/DocumentId" in text
    # a replacement (3) naming no replaced document: refused, not registered as a new document
    replacement = business_message(wire, document, doc_type=3)
    text = _refused(post(client, replacement), 400, "exchange_business_malformed")
    assert "ReplacementInfoList" in text
    assert not BusinessRequest.objects.exists() and received(office).count() == 1


@pytest.mark.django_db
def test_signature_and_sender_checks_run_before_the_business_block(wire, client):
    office = wire["office"]
    document, incoming = sent(wire)
    data = business_message(wire, document)
    tampered = data.replace(REASON.encode(), "Thu hồi vì lý do khác hẳn.".encode(), 1)
    assert tampered != data
    _refused(post(client, tampered), 400, "edxml_signature_invalid")
    unsigned = data[: data.index(b"<ds:Signature")] + data[data.index(b"</ds:Signature>") + 15 :]
    _refused(post(client, unsigned), 400, "edxml_unsigned")
    wire["at_so"].active = False
    wire["at_so"].save()
    _refused(post(client, data), 403, "exchange_unknown_sender")
    assert not BusinessRequest.objects.exists()
    assert not incoming.steps.filter(kind=Kind.RECALL_REQUESTED).exists()
    assert office  # the Ministry's side has nothing to record either
    assert not OutboxMessage.objects.filter(kind="recall").exists()


@pytest.mark.django_db
def test_an_update_with_a_bad_file_is_refused_and_changes_nothing(wire, client):
    from vnemis.office.edxml import Attachment

    document, incoming = sent(wire)
    built = exchange.message_for(document, [wire["at_moet"]])
    message = Message(
        header=replace(built.header, subject="Trích yếu kèm tệp hỏng"),
        trace=TraceHeaderList(
            built.trace.traces, Business(doc_type=2, reason="x", document_id=built.document_id)
        ),
        attachments=[Attachment.new(name="a.pdf", content_type="application/pdf", data=b"MZ")],
    )
    data = exchange._sign(message_build(message), wire["office"].moet.pk)
    response = post(client, data)
    assert response.status_code == 422 and response["X-Edxml-Status"] == "02"
    incoming.refresh_from_db()
    assert incoming.subject != "Trích yếu kèm tệp hỏng" and incoming.versions.count() == 1
    assert not BusinessRequest.objects.exists()


# -- permissions -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_only_the_issuers_clerk_or_leader_recalls_and_only_sent_documents(wire, client):
    office = wire["office"]
    draft = draft_outgoing(office)
    with pytest.raises(OfficeError) as refused:
        exchange_business.document_recall_request(actor=office.clerk, document=draft, reason=REASON)
    assert refused.value.code == "exchange_not_issued"
    never = issued(office)
    with pytest.raises(OfficeError) as refused:
        exchange_business.document_recall_request(actor=office.clerk, document=never, reason=REASON)
    assert refused.value.code == "exchange_never_sent"
    assert 'id="recall-form"' not in page(client, office.clerk, never)

    document, _incoming = sent(wire)
    with pytest.raises(PermissionDenied):
        exchange_business.document_recall_request(
            actor=office.staff, document=document, reason=REASON
        )
    with pytest.raises(PermissionDenied):  # the receiver cannot recall the sender's document
        exchange_business.document_recall_request(
            actor=office.so_leader, document=document, reason=REASON
        )
    with pytest.raises(OfficeError) as refused:
        exchange_business.document_recall_request(actor=office.clerk, document=document, reason="")
    assert refused.value.code == "reason_required"
    assert not OutboxMessage.objects.filter(kind__in=("recall", "update")).exists()

    assert 'id="recall-form"' not in page(client, office.staff, document)
    assert (
        client.post(f"/office/documents/{document.pk}/recall/", {"reason": REASON}).status_code
        == 403
    )
    assert 'id="recall-form"' in page(client, office.clerk, document)
    refused_page = client.post(f"/office/documents/{document.pk}/recall/", {"reason": ""})
    assert refused_page.status_code == 400
    assert "Hãy ghi lý do thu hồi văn bản." in refused_page.content.decode()
    client.force_login(office.outsider)  # Da Nang is a recipient: it reads, it cannot recall
    assert (
        client.post(f"/office/documents/{document.pk}/recall/", {"reason": REASON}).status_code
        == 403
    )
    assert not OutboxMessage.objects.filter(kind="recall").exists()


@pytest.mark.django_db
def test_only_a_leader_of_the_receiver_decides_a_recall(wire, client):
    office = wire["office"]
    document, incoming = sent(wire)
    exchange_business.document_recall_request(actor=office.clerk, document=document, reason=REASON)
    pump()
    for actor in (office.so_clerk, office.so_staff, office.leader):
        with pytest.raises(PermissionDenied):
            exchange_business.recall_agree(actor=actor, document=incoming)
        with pytest.raises(PermissionDenied):
            exchange_business.recall_refuse(actor=actor, document=incoming, reason=REFUSAL)
    client.force_login(office.so_clerk)
    assert client.post(f"/office/documents/{incoming.pk}/recall/agree/", {}).status_code == 403
    client.force_login(office.outsider)
    assert client.post(f"/office/documents/{incoming.pk}/recall/agree/", {}).status_code == 404
    incoming.refresh_from_db()
    assert incoming.status == "registered"
    assert BusinessRequest.objects.get().state == "pending"
    assert not OutboxMessage.objects.filter(kind="status", status_code__in=("15", "16")).exists()
