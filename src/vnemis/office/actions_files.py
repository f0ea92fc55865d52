"""Checking and storing the PDF files of documents.

A file is accepted only if it is a PDF that parses: the ``%PDF-`` header, then pyHanko's reader
opens it and resolves every page; an encrypted PDF is refused (it can be neither searched nor
signed). Size is bounded by ``VNEMIS_OFFICE_MAX_FILE_BYTES`` (default 20 MB), checked before
the bytes are read. The text for search is extracted in-process by PDFium (pypdfium2, under a
lock: PDFium is not thread-safe; a third of a millisecond a page, where starting poppler's
``pdftotext`` alone took 7 ms a file), page by page until ``VNEMIS_OFFICE_TEXT_MAX_CHARS``; a
file whose text cannot be extracted is still stored, and says so (``text_status``). A file
received from another agency is registered first and its text extracted after the commit
(``text_status`` "pending" until ``texts.pending_texts_extract`` runs), so the exchange answers
without waiting for it.

Checking happens before the registering transaction opens (it is slow and pure); storing
(``blob_store``) inside it.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings

from .actions_errors import OfficeError
from .models import Blob

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_FILES = 20
DEFAULT_TEXT_MAX_CHARS = 200_000
MAX_PAGES = 5_000
_pdfium_lock = threading.Lock()


def max_file_bytes() -> int:
    return int(getattr(settings, "VNEMIS_OFFICE_MAX_FILE_BYTES", DEFAULT_MAX_BYTES))


def max_files() -> int:
    return int(getattr(settings, "VNEMIS_OFFICE_MAX_FILES", DEFAULT_MAX_FILES))


def _size(size: int) -> str:
    """20 MB, 1.5 MB, 300 KB: the unit that reads best."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f}".rstrip("0").rstrip(".") + " MB"
    return f"{max(size, 1) / 1024:.1f}".rstrip("0").rstrip(".") + " KB"


@dataclass(frozen=True)
class CheckedPdf:
    """A PDF that passed the checks, ready to store."""

    name: str
    data: bytes
    sha256: str
    page_count: int
    signature_count: int
    text: str
    text_status: str  # ok, empty, failed; pending: to be extracted after the commit


def clean_file_name(name: str) -> str:
    """The last path part, NFC, no control characters, at most 200 characters, ending .pdf."""
    base = PurePath((name or "").replace("\\", "/")).name
    base = unicodedata.normalize("NFC", base)
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip() or "van-ban"
    stem, dot, ext = base.rpartition(".")
    if not dot or ext.lower() != "pdf":
        stem = base
    return f"{stem[:196]}.pdf"


def too_large_error(name: str, size: int) -> OfficeError:
    limit = max_file_bytes()
    return OfficeError(
        "file_too_large",
        f"Tệp “{name}” dung lượng {_size(size)}, vượt quá giới hạn {_size(limit)} cho mỗi tệp.",
        f"The file '{name}' is {_size(size)}, over the limit of {_size(limit)} per file.",
        field="files",
    )


def upload_read(uploaded) -> tuple[str, bytes]:
    """(name, bytes) of an uploaded file, refusing an oversized one before reading it."""
    name = clean_file_name(getattr(uploaded, "name", "") or "")
    size = getattr(uploaded, "size", None)
    if size is not None and size > max_file_bytes():
        raise too_large_error(name, size)
    data = uploaded.read(max_file_bytes() + 1)
    if len(data) > max_file_bytes():
        raise too_large_error(name, len(data))
    return name, data


def _page_count(reader) -> int:
    """Resolve every page (bounded), so a file whose page objects are broken is refused."""
    pages = reader.root["/Pages"]
    count = int(pages["/Count"])
    if count < 1 or count > MAX_PAGES:
        raise ValueError(f"page count {count}")
    seen = 0
    stack = [pages]
    while stack:
        node = stack.pop()
        if node.get("/Type") == "/Pages" or "/Kids" in node:
            kids = node["/Kids"]
            for i in range(len(kids)):
                stack.append(kids[i])  # indexing resolves the indirect reference
                if len(stack) > MAX_PAGES:
                    raise ValueError("page tree too large")
        else:
            node.get("/MediaBox")
            seen += 1
            if seen > MAX_PAGES:
                raise ValueError("too many pages")
    if seen == 0:
        raise ValueError("no pages")
    return seen


def pdf_structure(data: bytes) -> tuple[int, int]:
    """(page count, number of embedded signatures) of a PDF; OfficeError if it is not one."""
    _reader, pages, signatures = pdf_open(data)
    return pages, signatures


def pdf_open(data: bytes):
    """(pyHanko reader, page count, number of embedded signatures) of a PDF; OfficeError if it
    is not one. The reader caches what it parsed, so validating its signatures next reads
    nothing twice."""
    if b"%PDF-" not in data[:1024]:
        raise OfficeError(
            "not_pdf",
            "Tệp không phải là PDF (không có phần đầu %PDF-). Chỉ nhận văn bản định dạng PDF.",
            "The file is not a PDF (no %PDF- header). Only PDF documents are accepted.",
            field="files",
        )
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        if reader.encrypted:
            raise OfficeError(
                "pdf_encrypted",
                "Tệp PDF có đặt mật khẩu hoặc mã hoá; hãy gỡ mật khẩu rồi tải lên lại.",
                "The PDF is password-protected or encrypted; remove the password and upload it"
                " again.",
                field="files",
            )
        pages = _page_count(reader)
        signatures = len(reader.embedded_signatures)
    except OfficeError:
        raise
    except Exception as exc:  # pyHanko raises many kinds on damaged files
        logger.info("PDF refused: %s", type(exc).__name__)
        raise OfficeError(
            "pdf_corrupt",
            "Tệp PDF bị hỏng hoặc không đọc được (cấu trúc tệp không hợp lệ).",
            "The PDF is damaged or cannot be read (its structure is not valid).",
            field="files",
        ) from None
    return reader, pages, signatures


def pdf_text(data: bytes) -> tuple[str, str]:
    """(text, status) of a PDF: status ok, empty (no text layer: a scan) or failed."""
    import pypdfium2

    limit = int(getattr(settings, "VNEMIS_OFFICE_TEXT_MAX_CHARS", DEFAULT_TEXT_MAX_CHARS))
    parts, size = [], 0
    with _pdfium_lock:
        try:
            pdf = pypdfium2.PdfDocument(data)
        except pypdfium2.PdfiumError:
            return "", "failed"
        try:
            for index in range(min(len(pdf), MAX_PAGES)):
                page = pdf[index]
                textpage = page.get_textpage()
                parts.append(textpage.get_text_bounded())
                textpage.close()
                page.close()
                size += len(parts[-1])
                if size >= limit:
                    break
        except pypdfium2.PdfiumError:
            return "", "failed"
        finally:
            pdf.close()
    text = unicodedata.normalize("NFC", "\n".join(parts))[:limit].replace("\x00", "")
    return (text, "ok") if text.strip() else ("", "empty")


def pdf_check(*, name: str, data: bytes, text: bool = True) -> CheckedPdf:
    """Check one PDF (size, header, structure) and extract its text (or leave it pending)."""
    return pdf_check_open(name=name, data=data, text=text)[0]


def pdf_check_open(*, name: str, data: bytes, text: bool = True):
    """``pdf_check``, and the reader it opened (to validate the file's signatures with)."""
    name = clean_file_name(name)
    if len(data) > max_file_bytes():
        raise too_large_error(name, len(data))
    if not data:
        raise OfficeError(
            "file_empty",
            f"Tệp “{name}” rỗng (0 byte).",
            f"The file '{name}' is empty (0 bytes).",
            field="files",
        )
    try:
        reader, pages, signatures = pdf_open(data)
    except OfficeError as exc:
        raise OfficeError(
            exc.code, f"“{name}”: {exc.message_vi}", f"'{name}': {exc.message_en}", field="files"
        ) from None
    text, status = pdf_text(data) if text else ("", "pending")
    checked = CheckedPdf(
        name=name,
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        page_count=pages,
        signature_count=signatures,
        text=text,
        text_status=status,
    )
    return checked, reader


def uploads_check(uploads) -> list[CheckedPdf]:
    """Every uploaded file checked, in order; the first bad one refuses them all."""
    uploads = list(uploads or [])
    if len(uploads) > max_files():
        raise OfficeError(
            "too_many_files",
            f"Mỗi lần chỉ tải lên tối đa {max_files()} tệp.",
            f"At most {max_files()} files can be uploaded at once.",
            field="files",
        )
    checked = []
    for uploaded in uploads:
        name, data = upload_read(uploaded)
        checked.append(pdf_check(name=name, data=data))
    return checked


_BLOB_COLUMNS = ("sha256", "size", "data", "page_count", "signature_count", "text", "text_status")
_BLOB_RETURNED = ("id", "sha256", "size", "page_count", "signature_count", "text", "text_status")


def blob_store(pdf: CheckedPdf) -> Blob:
    """The stored blob of these bytes (stored once; concurrent stores of one file agree), its
    data not loaded. One statement: the insert answers with the row, new or already there."""
    from django.db import connection
    from django.utils import timezone

    values = {
        "sha256": pdf.sha256,
        "size": len(pdf.data),
        "data": pdf.data,
        "page_count": pdf.page_count,
        "signature_count": pdf.signature_count,
        "text": pdf.text,
        "text_status": pdf.text_status,
    }
    fields = [Blob._meta.get_field(name) for name in (*_BLOB_COLUMNS, "created_at")]
    params = [f.get_db_prep_save(values.get(f.name, timezone.now()), connection) for f in fields]
    columns = ", ".join(f.column for f in fields)
    sql = (
        f"INSERT INTO {Blob._meta.db_table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"  # noqa: S608 - model names, values bound
        " ON CONFLICT (sha256) DO UPDATE SET sha256 = EXCLUDED.sha256"
        f" RETURNING {', '.join(_BLOB_RETURNED)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return Blob.from_db(connection.alias, list(_BLOB_RETURNED), list(row))
