"""The text of PDFs for search (actions_files.pdf_text, PDFium in-process)."""

import threading

from fpdf import FPDF

from vnemis.office.actions_files import pdf_text

from .test_documents_support import pdf_bytes


def test_vietnamese_text_keeps_its_diacritics_in_nfc():
    text, status = pdf_text(pdf_bytes("Kế hoạch tuyển sinh đầu cấp năm học 2026-2027", pages=2))
    assert status == "ok"
    assert text.count("Kế hoạch tuyển sinh đầu cấp năm học 2026-2027") == 2


def test_a_page_without_a_text_layer_is_empty():
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 60, style="F")  # what a scan's page holds: marks, no text
    assert pdf_text(bytes(pdf.output())) == ("", "empty")


def test_broken_bytes_are_a_failure_not_an_exception():
    good = pdf_bytes("Công văn")
    assert pdf_text(b"%PDF-1.7\nnot a pdf at all") == ("", "failed")
    assert pdf_text(good[: len(good) // 3])[1] in ("failed", "empty", "ok")  # truncated: no crash
    assert pdf_text(b"") == ("", "failed")


def test_the_text_is_cut_at_the_configured_size(settings):
    settings.VNEMIS_OFFICE_TEXT_MAX_CHARS = 50
    text, status = pdf_text(pdf_bytes("Quyết định về việc tuyển sinh " * 8, pages=3))
    assert status == "ok" and len(text) == 50


def test_threads_extracting_at_once_get_their_own_text():
    pdfs = {i: pdf_bytes(f"Văn bản số {i} của Sở") for i in range(8)}
    results = {}

    def one(i):
        results[i] = pdf_text(pdfs[i])[0]

    threads = [threading.Thread(target=one, args=(i,)) for i in pdfs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(f"Văn bản số {i} của Sở" in results[i] for i in pdfs)
