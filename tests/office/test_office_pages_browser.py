"""A document walked through the e-office in a real browser: the clerk registers an incoming
letter with its PDF, the leader assigns it, the specialist drafts and submits the reply, the
leader approves it by uploading the submitted PDF signed with their own tool, and the clerk
numbers it. Screenshots land in var/screenshots/."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from browser_support import SCREENSHOTS, log_in
from django.utils import timezone

from vnemis.office.models import Document

from .test_documents_support import office_setup, pdf_bytes, sign

pytestmark = [
    pytest.mark.browser,
    pytest.mark.usefixtures("audit_log_flushable"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _as(page, base, username):
    page.context.clear_cookies()
    log_in(page, base, username)


def _pdf(name: str, text: str) -> dict:
    return {"name": name, "mimeType": "application/pdf", "buffer": pdf_bytes(text)}


def test_from_arrival_to_a_signed_numbered_reply(page, live_server, tree):
    from playwright.sync_api import expect

    office = office_setup(tree)
    base = live_server.url

    # The clerk registers the arrived letter.
    _as(page, base, office.clerk.username)
    page.goto(f"{base}/office/documents/new/incoming/")
    page.locator("#id_doc_type").select_option(label="Công văn")
    page.locator("#id_number_notation").fill("2150/UBND-KGVX")
    page.locator("#id_issued_on").fill(timezone.localdate().isoformat())
    page.locator("#id_issuer_name").fill("Ủy ban nhân dân Thành phố Hà Nội")
    page.locator("#id_subject").fill("Đề nghị hướng dẫn tuyển sinh lớp 1 năm học 2026-2027")
    page.locator("#id_main_file").set_input_files(
        _pdf("cv-2150.pdf", "Đề nghị hướng dẫn tuyển sinh")
    )
    page.get_by_role("button", name="Vào sổ").click()
    expect(page.get_by_role("status")).to_contain_text("Đã vào sổ văn bản đến, số đến 01/")
    incoming = Document.objects.get()
    page.screenshot(path=str(SCREENSHOTS / "office_incoming_registered.png"), full_page=True)

    # The leader gives it to the primary education unit.
    _as(page, base, office.leader.username)
    page.goto(f"{base}/office/documents/{incoming.pk}/")
    page.locator("#id_assign_assignee").select_option(f"g:{office.moet_gdth.pk}")
    page.locator("#id_assign_instruction").fill("Vụ GDTH chủ trì, trả lời trước ngày 15.")
    page.get_by_role("button", name="Giao việc").click()
    expect(page.locator("#doc-status")).to_have_text("Đã giao xử lý")

    # A specialist of the unit finds it in the inbox and drafts the reply.
    _as(page, base, office.staff.username)
    page.goto(f"{base}/office/")
    page.get_by_role("link", name="Đề nghị hướng dẫn tuyển sinh").click()
    page.get_by_role("link", name="Soạn văn bản trả lời").click()
    page.locator("#id_doc_type").select_option(label="Công văn")
    page.locator("#id_subject").fill("V/v hướng dẫn tuyển sinh lớp 1")
    page.locator("#id_recipients").fill("Ủy ban nhân dân Thành phố Hà Nội | 000.00.00.H26")
    page.locator("#id_main_file").set_input_files(_pdf("tra-loi.pdf", "Dự thảo trả lời"))
    page.get_by_role("button", name="Lưu dự thảo").click()
    expect(page.get_by_role("status")).to_contain_text("Đã tạo dự thảo")
    reply = Document.objects.get(in_reply_to=incoming)
    page.locator("#id_submit_leader").select_option(str(office.leader.pk))
    page.get_by_role("button", name="Trình", exact=True).click()
    expect(page.locator("#doc-status")).to_have_text("Chờ lãnh đạo duyệt")

    # The leader downloads the submitted file, signs it, and uploads the signed one.
    _as(page, base, office.leader.username)
    page.goto(f"{base}/office/")
    page.get_by_role("link", name="V/v hướng dẫn tuyển sinh lớp 1").click()
    href = page.get_by_role("link", name="tra-loi.pdf").get_attribute("href")
    submitted = page.request.get(f"{base}{href}").body()
    assert submitted.startswith(b"%PDF-")
    # pyHanko signs through asyncio.run: not from Playwright's thread, which runs a loop.
    with ThreadPoolExecutor(1) as pool:
        signed = pool.submit(sign, submitted).result()
    page.locator("#id_approve_signed_file").set_input_files(
        {"name": "tra-loi-da-ky.pdf", "mimeType": "application/pdf", "buffer": signed}
    )
    page.get_by_role("button", name="Ký duyệt").click()
    expect(page.locator("#doc-status")).to_have_text("Đã ký duyệt")
    expect(page.get_by_text("đã ký số")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "office_reply_signed.png"), full_page=True)

    # The clerk numbers and issues it.
    _as(page, base, office.clerk.username)
    page.goto(f"{base}/office/documents/{reply.pk}/")
    page.get_by_role("button", name="Cấp số").click()
    expect(page.get_by_role("status")).to_contain_text("Đã cấp số 01/BGDĐT-GDTH và phát hành")
    expect(page.locator("#doc-status")).to_have_text("Đã phát hành")
    page.goto(f"{base}/office/registers/outgoing/")
    expect(page.locator("#register")).to_contain_text("01/BGDĐT-GDTH")
    page.screenshot(path=str(SCREENSHOTS / "office_outgoing_register.png"), full_page=True)
