"""The edXML exchange in one process: the Ministry (000.00.00.G09) sends to the Hanoi Department
(000.00.01.H26), both in this database, each with its own CA and seal. The inbox is driven with
Django's client for every refusal; delivery, retries and status reports go over real HTTP to
the live server."""

import socket
from types import SimpleNamespace

import pytest
from django.utils import timezone

from vnemis.office import actions, actions_signing, exchange, workflow
from vnemis.office.edxml import (
    Organ,
    message_build,
    message_sign,
    message_verify,
    status_parse,
    trusted_load,
)
from vnemis.office.models import Blob, Document
from vnemis.office.models_exchange import (
    ExchangePartner,
    ExchangeStatus,
    InboxMessage,
    OutboxMessage,
)
from vnemis.office.signing.dev_ca import certificate_issue, pkcs12_bytes

from .test_documents_support import draft_outgoing, office_setup, sign

INBOX = "/office/edxml/inbox/"
STATUS = "/office/edxml/status/"
PASSWORD = "mật-khẩu-con-dấu"


def _seal(ca, name):
    issued = certificate_issue(ca=ca, name=name, organisation=name)
    return issued, pkcs12_bytes(issued=issued, ca=ca, password=PASSWORD)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def exchange_setup(tree, ca, other_ca) -> dict:
    """The ``setup`` fixture (conftest): the Ministry and the Hanoi Department, each with its
    seal, each the other's partner."""
    office = office_setup(tree)
    _issued, moet_p12 = _seal(ca, "Bộ Giáo dục và Đào tạo")
    stranger, _p12 = _seal(other_ca, "Kẻ giả mạo")
    _so_issued, so_p12 = _seal(other_ca, "Sở GD&ĐT Hà Nội")
    actions_signing.credential_import(
        actor=office.clerk, p12_bytes=moet_p12, password=PASSWORD, kind="seal"
    )
    actions_signing.credential_import(
        actor=office.so_clerk, p12_bytes=so_p12, password=PASSWORD, kind="seal"
    )
    # The Department trusts the Ministry's CA; the Ministry the Department's.
    at_so = ExchangePartner.objects.create(
        organisation=office.so_hn,
        organ_id="000.00.00.G09",
        name="Bộ Giáo dục và Đào tạo",
        inbox_url="http://127.0.0.1:9/office/edxml/inbox/",
        trusted_ca_pem=ca.certificate_pem().decode(),
    )
    at_moet = ExchangePartner.objects.create(
        organisation=office.moet,
        organ_id="000.00.01.H26",
        name="Sở GD&ĐT Hà Nội",
        inbox_url="http://127.0.0.1:9/office/edxml/inbox/",
        trusted_ca_pem=other_ca.certificate_pem().decode(),
    )
    return {"office": office, "at_so": at_so, "at_moet": at_moet, "stranger": stranger}


def issued(office, subject="Hướng dẫn thực hiện nhiệm vụ năm học 2026-2027", **draft):
    draft = draft_outgoing(office, subject=subject, **draft)
    submission = workflow.submission_create(
        actor=office.staff, document=draft, leader=office.leader
    )
    main = draft.versions.get().files.get(is_main=True)
    signed = sign(bytes(Blob.objects.get(pk=main.blob_id).data))
    workflow.approve_by_signing(actor=office.leader, submission=submission, signed_pdf=signed)
    return actions.outgoing_issue(actor=office.clerk, document=draft)


def signed_message(setup, document=None, *, to=None, key=None):
    office = setup["office"]
    document = document or issued(office)
    message = exchange.message_for(document, [to or setup["at_moet"]])
    data = message_build(message)
    if key is None:
        return exchange._sign(data, office.moet.pk), message
    return message_sign(data, key=key.key, certificate=key.certificate), message


def post(client, data, url=INBOX):
    return client.post(url, data=data, content_type="application/xml")


def received(office):
    return Document.objects.filter(organisation=office.so_hn, direction="incoming")


def description(response) -> str:
    return status_parse(response.content).description


# -- the inbox ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_signed_message_is_registered_with_its_files_and_answered_03(client, setup, other_ca):
    office = setup["office"]
    data, message = signed_message(setup)
    response = post(client, data)
    assert response.status_code == 200, response.content
    assert response["X-Edxml-Status"] == "03"
    # the answer is the Department's signed status message about this document
    signer = message_verify(response.content, trusted=trusted_load(other_ca.certificate_pem()))
    assert signer.common_name == "Sở GD&ĐT Hà Nội"
    status = status_parse(response.content)
    assert status.status_code == "03" and status.response_for.document_id == message.document_id
    assert "vào sổ văn bản đến số 01" in status.description
    document = received(office).get()
    assert document.channel == "electronic" and document.external_id == message.document_id
    assert document.issuer_organ_id == "000.00.00.G09" and document.doc_type.code == "CV"
    assert document.subject == message.header.subject
    files = document.versions.get().files.all()
    assert [f.is_main for f in files] == [True]
    assert bytes(files[0].blob.data) == message.attachments[0].data
    assert InboxMessage.objects.get().document == document


@pytest.mark.django_db
def test_a_replay_is_answered_as_already_received_and_registered_once(client, setup):
    office = setup["office"]
    data, _message = signed_message(setup)
    assert post(client, data).status_code == 200
    again = post(client, data)
    assert again.status_code == 200
    assert "không vào sổ lại" in description(again)
    assert received(office).count() == 1 and InboxMessage.objects.count() == 1


@pytest.mark.django_db
def test_the_same_document_signed_again_is_a_replay_but_other_content_is_refused(client, setup):
    office = setup["office"]
    document = issued(office)
    first, _ = signed_message(setup, document)
    assert post(client, first).status_code == 200
    resent, _ = signed_message(setup, document)  # a new trace time and new content ids
    assert resent != first
    assert post(client, resent).status_code == 200
    document.subject = "Một trích yếu khác"
    conflicting, _ = signed_message(setup, document)
    refused = post(client, conflicting)
    assert refused.status_code == 409 and refused["X-Edxml-Status"] == "02"
    assert "nội dung khác" in description(refused) and "different content" in description(refused)
    assert received(office).count() == 1


@pytest.mark.django_db
def test_a_tampered_message_is_refused_with_02_and_nothing_registered(client, setup):
    office = setup["office"]
    data, message = signed_message(setup)
    subject = message.header.subject.encode()
    tampered = data.replace(subject, "Hướng dẫn đã bị sửa".encode(), 1)
    assert tampered != data
    response = post(client, tampered)
    assert response.status_code == 400
    assert response["X-Edxml-Error"] == "edxml_signature_invalid"
    status = status_parse(response.content)
    assert status.status_code == "02" and " / " in status.description
    assert not received(office).exists()


@pytest.mark.django_db
def test_unsigned_untrusted_and_unknown_senders_are_refused(client, setup):
    office = setup["office"]
    document = issued(office)
    unsigned = message_build(exchange.message_for(document, [setup["at_moet"]]))
    response = post(client, unsigned)
    assert (response.status_code, response["X-Edxml-Error"]) == (400, "edxml_unsigned")
    assert status_parse(response.content).status_code == "02"

    forged, _ = signed_message(setup, document, key=setup["stranger"])
    response = post(client, forged)
    assert (response.status_code, response["X-Edxml-Error"]) == (403, "edxml_signer_untrusted")

    setup["at_so"].active = False
    setup["at_so"].save()
    data, _ = signed_message(setup, document)
    response = post(client, data)
    assert (response.status_code, response["X-Edxml-Error"]) == (403, "exchange_unknown_sender")
    assert "000.00.00.G09" in description(response)
    assert not received(office).exists() and not InboxMessage.objects.exists()


@pytest.mark.django_db
def test_a_pinned_certificate_refuses_another_certificate_of_the_same_ca(client, setup):
    setup["at_so"].certificate_fingerprint = "ab" * 32
    setup["at_so"].save()
    data, _ = signed_message(setup)
    response = post(client, data)
    assert (response.status_code, response["X-Edxml-Error"]) == (403, "edxml_signer_not_partner")
    assert not received(setup["office"]).exists()


@pytest.mark.django_db
def test_a_message_for_another_organisation_is_refused(client, setup):
    elsewhere = ExchangePartner(organ_id="000.00.99.Z99", name="Sở GD&ĐT nơi khác")
    data, _ = signed_message(setup, to=elsewhere)
    response = post(client, data)
    assert (response.status_code, response["X-Edxml-Error"]) == (403, "exchange_wrong_recipient")
    assert "000.00.99.Z99" in description(response)
    assert not Document.objects.filter(direction="incoming").exists()


@pytest.mark.django_db
def test_malformed_and_oversized_messages_are_refused_plainly(client, setup, settings):
    response = post(client, b"<edXML><not-closed>")
    assert (response.status_code, response["X-Edxml-Error"]) == (400, "edxml_not_xml")
    assert b"<edXML:StatusCode>02</edXML:StatusCode>" in response.content
    assert b"XML" in response.content
    response = post(client, b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>')
    assert response.status_code == 400 and response["X-Edxml-Error"] == "edxml_dtd_forbidden"
    settings.VNEMIS_OFFICE_EXCHANGE_MAX_BYTES = 1000
    data, _ = signed_message(setup)
    response = post(client, data)
    assert (response.status_code, response["X-Edxml-Error"]) == (413, "edxml_too_large")
    assert client.get(INBOX).status_code == 405
    assert not Document.objects.filter(direction="incoming").exists()


@pytest.mark.django_db
def test_a_non_pdf_attachment_is_refused(client, setup):
    from vnemis.office.edxml import Attachment, Message

    data, message = signed_message(setup)
    bad = Message(
        header=message.header,
        trace=message.trace,
        attachments=[Attachment.new(name="x.exe", content_type="application/x-msdos", data=b"MZ")],
    )
    data = exchange._sign(message_build(bad), setup["office"].moet.pk)
    response = post(client, data)
    assert (response.status_code, response["X-Edxml-Error"]) == (422, "exchange_not_pdf")
    assert not received(setup["office"]).exists()


@pytest.mark.django_db
def test_sending_needs_an_issued_document_a_partner_and_a_clerk(setup):
    office = setup["office"]
    from django.core.exceptions import PermissionDenied

    from vnemis.office.actions_errors import OfficeError

    draft = draft_outgoing(office)
    with pytest.raises(OfficeError) as refused:
        exchange.document_send(actor=office.clerk, document=draft)
    assert refused.value.code == "exchange_not_issued"
    document = issued(office)
    with pytest.raises(PermissionDenied):
        exchange.document_send(actor=office.staff, document=document)
    setup["at_moet"].active = False
    setup["at_moet"].save()
    with pytest.raises(OfficeError) as refused:
        exchange.document_send(actor=office.clerk, document=document)
    assert refused.value.code == "exchange_no_partner"
    assert not OutboxMessage.objects.exists()


# -- over HTTP: delivery, retries, status reports ----------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("audit_log_flushable")
def test_send_deliver_assign_and_see_the_statuses_on_the_document(setup, live_server, client):
    office = setup["office"]
    for partner in (setup["at_so"], setup["at_moet"]):
        partner.inbox_url = f"{live_server.url}{INBOX}"
        partner.save()
    document = issued(office)
    [row] = exchange.document_send(actor=office.clerk, document=document)  # delivered on commit
    row.refresh_from_db()
    assert row.state == "acknowledged" and row.attempts == 1, row.last_error
    assert [s.status_code for s in row.statuses.all()] == ["03"]
    incoming = received(office).get()
    assert exchange.document_send(actor=office.clerk, document=document) == []  # queued once

    # the Department's leader assigns it: 04 travels back to the Ministry's status endpoint
    workflow.assignment_create(
        actor=office.so_leader, document=incoming, unit=office.so_gdtrh, deadline=None
    )
    report = OutboxMessage.objects.get(kind="status", status_code="04")
    assert report.state == "acknowledged", report.last_error
    assert [s.status_code for s in row.statuses.all()] == ["03", "04"]
    # a comment by a handler moves it to in progress: 05
    workflow.document_comment(actor=office.so_staff, document=incoming, text="Đang xử lý.")
    assert ExchangeStatus.objects.filter(outbox=row, status_code="05").exists()

    client.force_login(office.clerk)
    page = client.get(f"/office/documents/{document.pk}/").content.decode()
    assert 'id="exchange-status"' in page
    assert 'data-code="04"' in page and "Lãnh đạo đã phân công xử lý" in page

    # a lost answer: the sender tries again; the receiver says already received
    OutboxMessage.objects.filter(pk=row.pk).update(state="queued")
    assert exchange.outbox_deliver(message_id=row.pk, force=True) == "acknowledged"
    assert received(office).count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("audit_log_flushable")
def test_a_receiver_down_is_retried_later_and_the_document_delivered_once(setup, live_server):
    office = setup["office"]
    closed = _free_port()
    setup["at_moet"].inbox_url = f"http://127.0.0.1:{closed}{INBOX}"
    setup["at_moet"].save()
    document = issued(office)
    [row] = exchange.document_send(actor=office.clerk, document=document)
    row.refresh_from_db()
    assert row.state == "queued" and row.attempts == 1 and "Connect" in row.last_error
    assert row.next_attempt_at > timezone.now()
    assert exchange.outbox_due_deliver() == {}  # not due yet
    setup["at_moet"].inbox_url = f"{live_server.url}{INBOX}"
    setup["at_moet"].save()
    later = timezone.now() + timezone.timedelta(hours=1)
    assert exchange.outbox_due_deliver(now=later) == {"acknowledged": 1}
    assert exchange.outbox_due_deliver(now=later) == {}
    row.refresh_from_db()
    assert row.state == "acknowledged" and row.attempts == 2
    assert received(office).count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("audit_log_flushable")
def test_a_partner_answering_again_gets_its_backlog_at_once(setup, live_server):
    office = setup["office"]
    exchange._released.clear()
    setup["at_moet"].inbox_url = f"http://127.0.0.1:{_free_port()}{INBOX}"
    setup["at_moet"].save()
    first, second = (
        exchange.document_send(actor=office.clerk, document=issued(office, subject=s))[0]
        for s in ("Công văn thứ nhất khi bên nhận vắng", "Công văn thứ hai khi bên nhận vắng")
    )
    OutboxMessage.objects.filter(pk=second.pk).update(
        next_attempt_at=timezone.now() + timezone.timedelta(hours=1)  # backed off far
    )
    setup["at_moet"].inbox_url = f"{live_server.url}{INBOX}"
    setup["at_moet"].save()
    # the first retry gets through: the second no longer waits its hour (delivered on commit)
    assert exchange.outbox_deliver(message_id=first.pk, force=True) == "acknowledged"
    second.refresh_from_db()
    # (held while the partner was away, it was first tried now)
    assert second.state == "acknowledged" and second.attempts == 1, second.last_error
    assert received(office).count() == 2


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("audit_log_flushable")
def test_a_partner_refusing_connections_is_not_tried_again_for_a_moment(
    setup, live_server, monkeypatch
):
    office = setup["office"]
    setup["at_moet"].inbox_url = f"http://127.0.0.1:{_free_port()}{INBOX}"
    setup["at_moet"].save()
    tries = []
    client = exchange._client()
    real_post = client.post
    monkeypatch.setattr(client, "post", lambda *a, **k: tries.append(1) or real_post(*a, **k))
    # the hold's clock is the test's: a slow machine cannot outlast the hold between sends
    clock = [1000.0]
    monkeypatch.setattr(exchange, "time", SimpleNamespace(monotonic=lambda: clock[0]))

    def send(subject):
        return exchange.document_send(actor=office.clerk, document=issued(office, subject=subject))[
            0
        ]

    first = send("Công văn một")
    failed_by = timezone.now()
    second, third = send("Công văn hai"), send("Công văn ba")
    first.refresh_from_db()
    assert first.attempts == 1 and "Connect" in first.last_error and len(tries) == 1
    # the others wait for the hold to end: no connection, no attempt counted
    for row in (second, third):
        row.refresh_from_db()
        assert row.state == "queued" and row.attempts == 0, row.last_error
        assert "refused a connection moments ago" in row.last_error
        assert row.next_attempt_at <= failed_by + timezone.timedelta(seconds=1)
    assert len(tries) == 1
    # after the hold, the partner is tried again
    clock[0] += exchange.UNREACHABLE_HOLD + 0.01
    assert exchange.outbox_deliver(message_id=second.pk, force=True) == "queued"
    assert len(tries) == 2
    second.refresh_from_db()
    assert second.attempts == 1
    # saving the partner (its address corrected) ends a hold at once
    clock[0] += exchange.UNREACHABLE_HOLD + 0.01
    assert exchange.outbox_deliver(message_id=third.pk, force=True) == "queued"
    assert len(tries) == 3 and exchange._unreachable
    setup["at_moet"].inbox_url = f"{live_server.url}{INBOX}"
    setup["at_moet"].save()
    assert exchange.outbox_deliver(message_id=third.pk, force=True) == "acknowledged"
    assert not exchange._unreachable


@pytest.mark.django_db
def test_a_status_from_an_unknown_sender_or_about_an_unknown_document_is_refused(client, setup):
    from vnemis.office.edxml import ResponseFor, StatusMessage, status_build

    office = setup["office"]
    ref = ResponseFor.to("000.00.00.G09", "99/BGDĐT-GDTH", timezone.localdate())
    status = StatusMessage(ref, Organ("000.00.01.H26", "Sở"), "04", timezone.now())
    data = exchange._sign(status_build(status), office.so_hn.pk)
    response = post(client, data, STATUS)
    assert (response.status_code, response["X-Edxml-Error"]) == (404, "exchange_unknown_document")
    response = post(client, status_build(status), STATUS)
    assert (response.status_code, response["X-Edxml-Error"]) == (400, "edxml_unsigned")
    assert not ExchangeStatus.objects.exists()
