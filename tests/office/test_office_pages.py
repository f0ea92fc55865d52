"""The e-office pages: scope (anonymous, non-member, another organisation, the right one), the
forms' specific errors with nothing half-applied, and a document walked through by posts."""

import io
import re

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from vnemis.office import workflow
from vnemis.office.models import Assignment, Blob, Document, Register, Submission, WorkflowStep

from .test_documents_support import (
    draft_outgoing,
    office_setup,
    pdf_bytes,
    register_incoming,
    sign,
)


@pytest.fixture
def office(tree):
    return office_setup(tree)


def upload(data: bytes, name: str = "van-ban.pdf"):
    f = io.BytesIO(data)
    f.name = name
    return f


def incoming_post(**changes):
    data = {
        "doc_type": "",  # filled by the test
        "number_notation": "123/QĐ-UBND",
        "issued_on": timezone.localdate().strftime("%d/%m/%Y"),
        "issuer_name": "Ủy ban nhân dân Thành phố Hà Nội",
        "issuer_organ_id": "000.00.00.H26",
        "subject": "Quyết định phê duyệt kế hoạch tuyển sinh",
        "signer_name": "Nguyễn Văn Phong",
        "priority": "1",
        "confidentiality": "0",
        "channel": "paper",
    }
    data.update(changes)
    return data


def qd_pk():
    from vnemis.office.models import DocumentType

    return DocumentType.objects.get(code="QD").pk


def text(response) -> str:
    return response.content.decode()


# -- scope -------------------------------------------------------------------------------------

PAGES = [
    "/office/",
    "/office/documents/",
    "/office/documents/new/outgoing/",
    "/office/search/?q=quyet",
]


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_visitors_are_sent_to_log_in(client, office, url):
    response = client.get(url)
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize("url", PAGES)
def test_users_outside_the_e_office_are_refused(client, office, django_user_model, url):
    stranger = django_user_model.objects.create_user(
        "truong_x", role="school", scope=office.tree["a"]
    )
    client.force_login(stranger)
    response = client.get(url)
    assert response.status_code == 403
    assert "chưa là thành viên văn phòng điện tử" in text(response)


def test_another_organisations_document_does_not_exist_for_the_viewer(client, office):
    doc = register_incoming(office, text="Văn bản của Bộ")
    attachment = doc.versions.get().files.get()
    client.force_login(office.so_staff)
    assert client.get(f"/office/documents/{doc.pk}/").status_code == 404
    assert client.get(f"/office/files/{attachment.pk}/").status_code == 404
    assert client.get(f"/office/documents/{doc.pk}/edit/").status_code == 404
    assert doc.subject not in text(client.get("/office/documents/"))
    # Writes are refused the same way, and change nothing.
    before = WorkflowStep.objects.count()
    for url, data in [
        (f"/office/documents/{doc.pk}/comment/", {"text": "Xâm nhập"}),
        (
            f"/office/documents/{doc.pk}/assign/",
            {"assignee": f"u:{office.so_staff.pk}", "role": "main"},
        ),
        (f"/office/documents/{doc.pk}/files/", {"appendices": upload(pdf_bytes())}),
        (f"/office/documents/{doc.pk}/issue/", {}),
    ]:
        assert client.post(url, data).status_code == 404, url
    assert WorkflowStep.objects.count() == before
    assert doc.versions.count() == 1 and not Assignment.objects.exists()


def test_assignments_and_submissions_of_another_organisation_are_404(client, office):
    doc = register_incoming(office)
    given = workflow.assignment_create(actor=office.leader, document=doc, user=office.staff)
    draft = draft_outgoing(office)
    submission = workflow.submission_create(
        actor=office.staff, document=draft, leader=office.leader
    )
    client.force_login(office.outsider)
    assert client.post(f"/office/assignments/{given.pk}/complete/", {}).status_code == 404
    assert client.post(f"/office/assignments/{given.pk}/forward/", {}).status_code == 404
    assert (
        client.post(f"/office/submissions/{submission.pk}/return/", {"comment": "x"}).status_code
        == 404
    )
    given.refresh_from_db()
    submission.refresh_from_db()
    assert given.status == "open" and submission.status == "pending"


def test_a_member_without_the_right_gets_403_and_nothing_changes(client, office):
    doc = register_incoming(office)
    client.force_login(office.staff)
    response = client.post(
        f"/office/documents/{doc.pk}/assign/", {"assignee": f"u:{office.staff.pk}", "role": "main"}
    )
    assert response.status_code == 403
    assert "lãnh đạo" in text(response)
    assert not Assignment.objects.exists()
    assert client.get("/office/dashboard/").status_code == 403
    assert client.get("/office/documents/new/incoming/").status_code == 403
    response = client.post("/office/documents/new/incoming/", incoming_post(doc_type=qd_pk()))
    assert response.status_code == 403  # only clerks and leaders register
    assert Document.objects.count() == 1


def test_documents_issued_to_an_organisation_are_readable_there(client, office):
    draft = draft_outgoing(office, text="Hướng dẫn gửi các Sở")
    submission = workflow.submission_create(
        actor=office.staff, document=draft, leader=office.leader
    )
    main = draft.versions.get().files.get(is_main=True)
    signed = sign(bytes(Blob.objects.get(pk=main.blob_id).data))
    workflow.approve_by_signing(actor=office.leader, submission=submission, signed_pdf=signed)
    client.force_login(office.so_staff)
    assert client.get(f"/office/documents/{draft.pk}/").status_code == 404  # not issued yet
    from vnemis.office import actions

    actions.outgoing_issue(actor=office.clerk, document=draft)
    page = client.get(f"/office/documents/{draft.pk}/")
    assert page.status_code == 200
    assert "01/BGDĐT-GDTH" in text(page)
    assert "Quá trình xử lý" not in text(page)  # the issuer's internal steps stay inside
    signed_file = draft.versions.order_by("-number").first().files.get(is_main=True)
    download = client.get(f"/office/files/{signed_file.pk}/")
    assert download.status_code == 200 and download.content == signed
    assert (
        client.post(f"/office/documents/{draft.pk}/comment/", {"text": "Ý kiến"}).status_code == 403
    )


# -- forms -------------------------------------------------------------------------------------


def test_registering_an_incoming_document_through_the_page(client, office):
    client.force_login(office.clerk)
    response = client.post(
        "/office/documents/new/incoming/",
        incoming_post(doc_type=qd_pk(), main_file=upload(pdf_bytes("Quyết định 123"), "qd-123.pdf"),
                      appendices=[upload(pdf_bytes("Phụ lục"), "phu-luc.pdf")]),
    )  # fmt: skip
    assert response.status_code == 302
    doc = Document.objects.get()
    assert response["Location"] == f"/office/documents/{doc.pk}/"
    assert (doc.number, doc.notation, doc.register_number, doc.priority) == (123, "QĐ-UBND", 1, 1)
    assert [f.name for f in doc.versions.get().files.all()] == ["qd-123.pdf", "phu-luc.pdf"]
    page = client.get(response["Location"])
    assert "Đã vào sổ văn bản đến, số đến 01/" in text(page)
    assert "123/QĐ-UBND" in text(page) and "qd-123.pdf" in text(page)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"number_notation": "QĐ-123"}, "không đúng định dạng"),
        ({"subject": ""}, "Hãy nhập trích yếu nội dung."),
        ({"issued_on": "31/02/2026"}, "Ngày ban hành không đúng định dạng ngày"),
        ({"issued_on": ""}, "Hãy nhập ngày ban hành."),
        ({"issuer_name": ""}, "Hãy ghi cơ quan ban hành"),
        ({"issuer_code": "KHONGCO"}, "Không có cơ quan nào mã KHONGCO"),
        ({"doc_type": "999999"}, "Loại văn bản đã chọn không có trong danh mục."),
        ({"main_file": "not-a-pdf"}, "không phải là PDF"),
        ({"main_file": "corrupt"}, "bị hỏng hoặc không đọc được"),
        ({"confidentiality": "1", "main_file": "pdf"}, "Văn bản mật không được lưu tệp"),
        ({"issued_on": "01/01/2099"}, "không sau ngày đến"),
    ],
)
def test_the_incoming_form_says_what_is_wrong_and_registers_nothing(
    client, office, changes, message
):
    client.force_login(office.clerk)
    files = {
        "not-a-pdf": upload(b"\x89PNG\r\n\x1a\n fake image", "anh.pdf"),
        "corrupt": upload(pdf_bytes("hỏng")[:400], "hong.pdf"),
        "pdf": upload(pdf_bytes("Mật"), "mat.pdf"),
    }
    if "main_file" in changes:
        changes = {**changes, "main_file": files[changes["main_file"]]}
    response = client.post(
        "/office/documents/new/incoming/", incoming_post(**{"doc_type": qd_pk(), **changes})
    )
    assert response.status_code == 400
    assert message in text(response)
    assert not Document.objects.exists() and not Blob.objects.exists()
    assert not Register.objects.filter(last_number__gt=0).exists()


def test_a_duplicate_registration_is_refused_on_the_form(client, office):
    client.force_login(office.clerk)
    assert (
        client.post("/office/documents/new/incoming/", incoming_post(doc_type=qd_pk())).status_code
        == 302
    )
    response = client.post("/office/documents/new/incoming/", incoming_post(doc_type=qd_pk()))
    assert response.status_code == 400
    assert "đã được vào sổ văn bản đến" in text(response)
    assert Document.objects.count() == 1


def test_refusals_are_in_english_when_english_is_chosen(client, office):
    client.force_login(office.clerk)
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.post(
        "/office/documents/new/incoming/",
        incoming_post(doc_type=qd_pk(), main_file=upload(b"GIF89a not a pdf", "x.pdf")),
    )
    assert response.status_code == 400
    assert "The file is not a PDF" in text(response)


def test_drafting_through_the_page(client, office):
    client.force_login(office.staff)
    response = client.post(
        "/office/documents/new/outgoing/",
        {
            "direction": "outgoing", "doc_type": qd_pk(), "subject": "Quyết định thành lập tổ công tác",
            "recipients": "SGD01\nBộ Tài chính | 000.00.00.G10", "priority": "0", "confidentiality": "0",
            "copies": "2", "main_file": upload(pdf_bytes("Dự thảo quyết định")),
        },
    )  # fmt: skip
    assert response.status_code == 302
    draft = Document.objects.get()
    assert draft.status == "draft" and draft.created_by == office.staff and draft.copies == 2
    assert list(draft.recipients.values_list("name", flat=True)) == [
        "Sở GD&ĐT Hà Nội",
        "Bộ Tài chính",
    ]
    page = text(client.get(f"/office/documents/{draft.pk}/"))
    assert 'id="submit-form"' in page and 'id="upload-form"' in page
    assert 'id="assign-form"' not in page and 'id="issue-form"' not in page


def test_bad_draft_input_is_refused_with_its_line(client, office):
    client.force_login(office.staff)
    response = client.post(
        "/office/documents/new/outgoing/",
        {"direction": "outgoing", "doc_type": qd_pk(), "subject": "X", "recipients": "SGD01\nB",
         "priority": "0", "confidentiality": "0", "copies": "0"},
    )  # fmt: skip
    assert response.status_code == 400
    page = text(response)
    assert "Nơi nhận dòng 2" in page and "Số lượng bản phải từ 1 trở lên." in page
    assert not Document.objects.exists()


def test_editing_a_draft(client, office):
    draft = draft_outgoing(office)
    client.force_login(office.staff)
    page = client.get(f"/office/documents/{draft.pk}/edit/")
    assert page.status_code == 200 and "SGD01" in text(page)
    response = client.post(
        f"/office/documents/{draft.pk}/edit/",
        {"doc_type": draft.doc_type_id, "subject": "Hướng dẫn đã sửa", "recipients": "SGD48",
         "priority": "2", "confidentiality": "0", "copies": "1", "drafting_unit": office.moet_gdth.pk},
    )  # fmt: skip
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.subject == "Hướng dẫn đã sửa" and draft.priority == 2
    client.force_login(office.staff2)
    assert client.get(f"/office/documents/{draft.pk}/edit/").status_code == 403
    assert client.post(f"/office/documents/{draft.pk}/edit/", {"subject": "x"}).status_code == 403
    draft.refresh_from_db()
    assert draft.subject == "Hướng dẫn đã sửa"


def test_downloads_are_pdf_attachments_with_the_name(client, office):
    doc = register_incoming(office, text="Tệp tải về")
    attachment = doc.versions.get().files.get()
    client.force_login(office.staff)
    response = client.get(f"/office/files/{attachment.pk}/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert "attachment;" in response["Content-Disposition"]
    assert "filename*=UTF-8''van-ban.pdf" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"


# -- a document walked through the pages --------------------------------------------------------


def _location_pk(response) -> int:
    return int(re.search(r"/documents/(\d+)/", response["Location"]).group(1))


def test_a_document_walked_from_arrival_to_an_issued_reply_through_the_pages(client, office):
    incoming = register_incoming(office, text="Đề nghị hướng dẫn")
    client.force_login(office.leader)
    response = client.post(
        f"/office/documents/{incoming.pk}/assign/",
        {"assignee": f"g:{office.moet_gdth.pk}", "role": "main", "instruction": "Vụ GDTH chủ trì",
         "deadline": (timezone.localdate()).isoformat()},
    )  # fmt: skip
    assert response.status_code == 302
    to_unit = Assignment.objects.get()
    # The unit's member sees it in the inbox and passes it on.
    client.force_login(office.staff)
    inbox = text(client.get("/office/"))
    assert "Đề nghị" in inbox or incoming.subject[:20] in inbox
    refused = client.post(
        f"/office/assignments/{to_unit.pk}/forward/",
        {
            f"a{to_unit.pk}-assignee": f"u:{office.staff2.pk}",
            f"a{to_unit.pk}-deadline": "2099-01-01",
        },
    )
    assert refused.status_code == 400 and "không được sau hạn" in text(refused)
    response = client.post(
        f"/office/assignments/{to_unit.pk}/forward/",
        {f"a{to_unit.pk}-assignee": f"u:{office.staff2.pk}"},
    )
    assert response.status_code == 302
    to_person = Assignment.objects.get(parent=to_unit)
    # The specialist drafts the reply from the assignment.
    client.force_login(office.staff2)
    form = client.get(f"/office/documents/new/outgoing/?assignment={to_person.pk}")
    assert form.status_code == 200 and "Văn bản trả lời cho văn bản đến" in text(form)
    response = client.post(
        f"/office/documents/new/outgoing/?assignment={to_person.pk}",
        {"direction": "outgoing", "doc_type": Document.objects.get(pk=incoming.pk).doc_type_id,
         "subject": "Trả lời đề nghị", "priority": "0", "confidentiality": "0", "copies": "1",
         "main_file": upload(pdf_bytes("Dự thảo trả lời"))},
    )  # fmt: skip
    assert response.status_code == 302
    reply = Document.objects.get(pk=_location_pk(response))
    assert reply.in_reply_to_id == incoming.pk
    assert client.post(f"/office/documents/{reply.pk}/submit/", {"leader": ""}).status_code == 400
    response = client.post(f"/office/documents/{reply.pk}/submit/", {"leader": office.leader.pk})
    assert response.status_code == 302
    submission = Submission.objects.get()
    # The leader signs the submitted file with their own tool and uploads it.
    client.force_login(office.leader)
    page = text(client.get(f"/office/documents/{reply.pk}/"))
    assert 'id="approve-form"' in page and 'id="return-form"' in page
    main = reply.versions.get().files.get(is_main=True)
    submitted = bytes(Blob.objects.get(pk=main.blob_id).data)
    refused = client.post(
        f"/office/submissions/{submission.pk}/approve/",
        {"signed_file": upload(submitted, "chua-ky.pdf")},
    )
    assert refused.status_code == 400 and "chưa có chữ ký số mới" in text(refused)
    response = client.post(
        f"/office/submissions/{submission.pk}/approve/",
        {"signed_file": upload(sign(submitted), "da-ky.pdf")},
    )
    assert response.status_code == 302
    reply.refresh_from_db()
    assert reply.status == "approved"
    # The clerk numbers and issues it.
    client.force_login(office.clerk)
    assert "Chờ cấp số" in text(client.get("/office/"))
    response = client.post(f"/office/documents/{reply.pk}/issue/", {})
    assert response.status_code == 302
    reply.refresh_from_db()
    assert reply.number_notation.endswith("/QĐ-BGDĐT") and reply.status == "issued"
    # The handler completes; the leader's dashboard has nothing open left.
    client.force_login(office.staff2)
    response = client.post(
        f"/office/assignments/{to_person.pk}/complete/", {f"a{to_person.pk}-note": "Đã trả lời"}
    )
    assert response.status_code == 302
    incoming.refresh_from_db()
    assert incoming.status == "completed"
    client.force_login(office.leader)
    board = client.get("/office/dashboard/")
    assert board.status_code == 200 and "Không có việc nào đang xử lý." in text(board)


def test_overdue_work_is_marked_on_the_pages(client, office):
    doc = register_incoming(office)
    given = workflow.assignment_create(
        actor=office.leader, document=doc, user=office.staff, deadline=timezone.localdate()
    )
    Assignment.objects.filter(pk=given.pk).update(
        deadline=timezone.localdate() - timezone.timedelta(days=2)
    )
    workflow.overdue_flag()
    client.force_login(office.staff)
    inbox = text(client.get("/office/"))
    assert "1 việc quá hạn" in inbox and "table-danger" in inbox
    client.force_login(office.leader)
    board = text(client.get("/office/dashboard/"))
    assert "Vụ Giáo dục Tiểu học" in board and "Việc quá hạn" in board


def test_the_search_page(client, office):
    register_incoming(office, subject="Quyết định công nhận trường chuẩn quốc gia")
    client.force_login(office.staff)
    page = text(client.get("/office/search/?q=truong+chuan+quoc+gia"))
    assert "Quyết định công nhận trường chuẩn quốc gia" in page
    page = text(client.get("/office/search/?q=%2F%2F"))
    assert "Hãy nhập ít nhất một từ" in page
    client.force_login(office.so_staff)
    assert "trường chuẩn" not in text(client.get("/office/search/?q=truong+chuan"))


def _queries(client, url) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_list_pages_cost_the_same_number_of_queries_whatever_their_length(client, office):
    """No query per row on the inbox, the list, the register and the search (hot pages)."""
    year = timezone.localdate().year
    urls = ["/office/", "/office/documents/", f"/office/registers/incoming/{year}/",
            f"/office/registers/outgoing/{year}/", "/office/search/?q=quyet+dinh"]  # fmt: skip

    def grow(first: int, count: int):
        for n in range(first, first + count):
            doc = register_incoming(office, number=n)
            workflow.assignment_create(actor=office.leader, document=doc, user=office.clerk)
        draft_outgoing(office, actor=office.clerk, text=None)

    grow(1, 2)
    client.force_login(office.clerk)
    few = [_queries(client, url) for url in urls]
    grow(10, 12)
    many = [_queries(client, url) for url in urls]
    assert many == few
