"""The files of a received message: their signatures validated before anything is registered
(a file altered after signing refuses the message), their text extracted after the commit."""

import pytest

from vnemis.office import exchange
from vnemis.office.actions_files import pdf_check
from vnemis.office.edxml import Attachment, Message, message_build
from vnemis.office.models import Blob, DocumentSearch
from vnemis.office.models_signing import AttachmentSignatures
from vnemis.office.search import documents_search
from vnemis.office.texts import pending_texts_extract

from .helpers import append_page_content
from .test_documents_support import pdf_bytes, register_incoming
from .test_exchange import post, received, signed_message
from .test_signing_workflow import _signed_by_ca


def _with_file(setup, data: bytes, name: str = "cong-van.pdf") -> bytes:
    """A message of the Ministry to the Department whose one attachment is ``data``."""
    _data, message = signed_message(setup)
    other = Message(
        header=message.header,
        trace=message.trace,
        attachments=[Attachment.new(name=name, content_type="application/pdf", data=data)],
    )
    return exchange._sign(message_build(other), setup["office"].moet.pk)


@pytest.mark.django_db
def test_a_file_signed_under_the_senders_ca_is_recorded_valid_and_its_text_extracted_at_commit(
    client, setup, ca, django_capture_on_commit_callbacks
):
    office = setup["office"]
    signed = _signed_by_ca(ca, pdf_bytes("Kế hoạch tuyển sinh lớp mười Hà Giang"))
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, _with_file(setup, signed))
    assert response.status_code == 200, response.content
    document = received(office).get()
    attachment = document.versions.get().files.get()
    check = AttachmentSignatures.objects.get(attachment=attachment)
    assert check.all_valid and [r["outcome"] for r in check.results] == ["valid"]
    blob = Blob.objects.get(pk=attachment.blob_id)
    assert blob.text_status == "ok" and "Hà Giang" in blob.text
    found, _next, _words = documents_search(viewer=office.so_clerk, q="ha giang muoi")
    assert [d.pk for d in found] == [document.pk]


@pytest.mark.django_db
def test_the_text_waits_for_the_commit_and_an_unknown_signer_is_recorded_not_refused(client, setup):
    from .test_documents_support import sign

    office = setup["office"]
    response = post(client, _with_file(setup, sign(pdf_bytes("Công văn về lịch thi"))))
    assert response.status_code == 200, response.content
    attachment = received(office).get().versions.get().files.get()
    assert Blob.objects.get(pk=attachment.blob_id).text_status == "pending"
    check = AttachmentSignatures.objects.get(attachment=attachment)
    assert [r["outcome"] for r in check.results] == ["unknown_signer"]


@pytest.mark.django_db
def test_a_file_modified_after_signing_refuses_the_message_and_stores_nothing(client, setup, ca):
    office = setup["office"]
    forged = append_page_content(_signed_by_ca(ca, pdf_bytes("Quyết định khen thưởng")))
    response = post(client, _with_file(setup, forged, name="quyet-dinh.pdf"))
    assert response.status_code == 422
    assert response["X-Edxml-Status"] == "02"
    assert response["X-Edxml-Error"] == "exchange_pdf_signature_bad"
    text = response.content.decode()
    assert "quyet-dinh.pdf" in text and "sửa đổi sau khi ký" in text
    assert "modified after signing" in text
    assert not received(office).exists()
    assert not Blob.objects.filter(size=len(forged)).exists()


@pytest.mark.django_db
def test_the_sweep_extracts_every_pending_file_once_and_refreshes_the_search_row(setup):
    office = setup["office"]
    main = pdf_check(name="den.pdf", data=pdf_bytes("Báo cáo sĩ số Điện Biên"), text=False)
    assert main.text_status == "pending" and main.text == ""
    document = register_incoming(office, main=main)
    row = DocumentSearch.objects.get(document=document)
    assert "dien bien" not in row.body
    assert pending_texts_extract() == {"ok": 1}
    row.refresh_from_db()
    assert "dien bien" in row.body
    assert pending_texts_extract() == {}
    assert not Blob.objects.filter(text_status="pending").exists()


@pytest.mark.django_db
def test_a_burst_of_messages_queues_one_sweep_that_extracts_them_all(
    client, setup, settings, django_capture_on_commit_callbacks
):
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    office = setup["office"]
    for text in ("Công văn thứ nhất về Lai Châu", "Công văn thứ hai về Sơn La"):
        with django_capture_on_commit_callbacks(execute=True):
            assert post(client, _with_file(setup, pdf_bytes(text))).status_code == 200
    sweeps = DBTaskResult.objects.filter(task_path="vnemis.office.tasks.office_texts_extract")
    assert sweeps.count() == 1 and sweeps.get().status == "READY"
    assert Blob.objects.filter(text_status="pending").count() == 2
    # what the worker runs for it (the worker itself closes the test's database connection)
    from vnemis.office.tasks import office_texts_extract

    assert office_texts_extract.call() == {"ok": 2}
    assert not Blob.objects.filter(text_status="pending").exists()
    found, _next, _words = documents_search(viewer=office.so_clerk, q="son la")
    assert len(found) == 1
