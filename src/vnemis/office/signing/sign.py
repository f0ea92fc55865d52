"""PAdES signatures on PDFs with pyHanko: a visible Vietnamese stamp, several signatures in order.

``pdf_sign`` adds one signature as an incremental update, so the earlier ones stay valid: an
official document gets the drafter's initial (ký nháy), then the leader's signature, then the
organisation's seal, each by a call on the previous call's output (``pdf_sign_all`` does the
sequence). Each signature is PAdES B-B (``ETSI.CAdES.detached``, SHA-256, the signing
certificate attribute), B-T when a ``timestamper`` (an RFC 3161 TSA) is given.

Speed (DESIGN.md §8): the signer's key is parsed once (``credentials.KeyedSigner``) and the space
for the signature is reserved from a size measured once per credential, instead of pyHanko's
default of a dry-run signature before every real one.

The stamp shows the signer, their position and the signing time (Asia/Ho_Chi_Minh) in
Vietnamese, drawn in DejaVu Sans (``fonts``), in a box on a page the caller chooses; without a
box each kind of signature has a default place near the foot of the page. Boxes are in PDF
points from the page's lower-left corner.
"""

from __future__ import annotations

import asyncio
import enum
import io
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from django.utils.translation import gettext_lazy as _
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import fields, signers
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.stamp import TextStampStyle

from .credentials import Credential
from .errors import DocumentError, SigningError
from .fonts import TrueTypeEngineFactory, font_path

VN = ZoneInfo("Asia/Ho_Chi_Minh")
MAX_PDF_BYTES = 100 * 1024 * 1024
TIME_FORMAT = "%d/%m/%Y %H:%M:%S (GMT+7)"
# Hex characters kept free beyond the measured signature: ECDSA signatures vary by a few bytes;
# a timestamp token's size depends on the TSA, so it gets far more room.
RESERVE_MARGIN = 256
TIMESTAMP_RESERVE = 16_384


class Kind(enum.StrEnum):
    """The three signatures of an official document, in the order they are applied."""

    INITIAL = "initial"  # ký nháy: the drafter or the unit head, beside the text
    SIGNATURE = "signature"  # the leader who signs the document
    SEAL = "seal"  # the organisation's signature, in place of the red seal


# For pages (gettext; English in office/en_fragment_signing.po).
KIND_LABELS = {
    Kind.INITIAL: _("Ký nháy"),
    Kind.SIGNATURE: _("Chữ ký của người có thẩm quyền"),
    Kind.SEAL: _("Chữ ký số của cơ quan (con dấu)"),
}
KIND_TEXT = {
    Kind.INITIAL: ("Ký nháy", "Initial"),
    Kind.SIGNATURE: ("Chữ ký của người có thẩm quyền", "Signature of the competent person"),
    Kind.SEAL: ("Chữ ký số của cơ quan (con dấu)", "The organisation's digital signature (seal)"),
}

STAMP_TEXT = {
    Kind.INITIAL: "Ký nháy: %(signer)s\n%(signed_at)s",
    Kind.SIGNATURE: (
        "Ký bởi: %(signer)s\nChức vụ: %(position)s\nCơ quan: %(organisation)s\n"
        "Thời gian ký: %(signed_at)s"
    ),
    Kind.SEAL: "Cơ quan: %(organisation)s\nKý số bởi: %(signer)s\nThời gian ký: %(signed_at)s",
}


def default_box(kind: Kind, width: float, height: float) -> tuple[float, float, float, float]:
    """Where each kind goes on a page of that size (A4: 595 × 842 points) without a box given:
    the signature at the right under the text, the seal to its left, the initial in the corner."""
    if kind == Kind.SIGNATURE:
        return (width * 0.52, 96.0, width - 36.0, 168.0)
    if kind == Kind.SEAL:
        return (width * 0.10, 96.0, width * 0.48, 150.0)
    return (width - 190.0, 24.0, width - 36.0, 56.0)


@dataclass(frozen=True)
class SignRequest:
    """One signature to apply: who, what kind, where, and why."""

    credential: Credential
    kind: Kind = Kind.SIGNATURE
    page: int = -1  # 1-based; -1 is the last page, -2 the one before, ...
    box: tuple[float, float, float, float] | None = None
    position: str = ""  # chức vụ: the certificate's title when empty
    reason: str | None = None
    location: str | None = None
    field_name: str | None = None
    visible: bool = True


class _TimedPdfSigner(signers.PdfSigner):
    """A ``PdfSigner`` whose session uses our signing time, so the stamp and the CMS agree."""

    def __init__(self, *args, signing_time: datetime, **kwargs):
        super().__init__(*args, **kwargs)
        self._signing_time = signing_time

    def init_signing_session(self, pdf_out, existing_fields_only=False):
        session = super().init_signing_session(pdf_out, existing_fields_only)
        session.system_time = self._signing_time
        return session


_reserved: dict[tuple[str, bool], int] = {}


def reserve_size(credential: Credential, timestamper: TimeStamper | None) -> int:
    """Hex characters to reserve for this credential's signature, measured once."""
    key = (credential.fingerprint, timestamper is not None)
    if key not in _reserved:
        cms = asyncio.run(
            credential.signer.async_sign(
                bytes(32), "sha256", dry_run=True, use_pades=True,
                signed_attr_settings=PdfCMSSignedAttributes(signing_time=datetime.now(UTC)),
            )
        )  # fmt: skip
        size = len(cms.dump()) * 2 + RESERVE_MARGIN
        _reserved[key] = size + (TIMESTAMP_RESERVE if timestamper else 0)
    return _reserved[key]


def _open(pdf: bytes) -> IncrementalPdfFileWriter:
    if not isinstance(pdf, bytes | bytearray) or not pdf:
        raise DocumentError("pdf_empty", "Tệp PDF rỗng.", "The PDF file is empty.")
    if len(pdf) > MAX_PDF_BYTES:
        raise DocumentError(
            "pdf_too_large",
            f"Tệp PDF quá lớn (tối đa {MAX_PDF_BYTES // 1024 // 1024} MB).",
            f"The PDF file is too large (at most {MAX_PDF_BYTES // 1024 // 1024} MB).",
        )
    if b"%PDF-" not in pdf[:1024]:
        raise not_a_pdf()
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        if writer.prev.encrypted:
            raise DocumentError(
                "pdf_encrypted",
                "Tệp PDF được mã hoá bằng mật khẩu: hãy gỡ mã hoá trước khi ký.",
                "The PDF is password-protected: remove the encryption before signing.",
            )
        int(writer.root["/Pages"]["/Count"])
    except SigningError:
        raise
    except Exception as exc:  # pyHanko raises many kinds on a damaged file
        raise damaged_pdf() from exc
    return writer


def not_a_pdf() -> DocumentError:
    return DocumentError("not_pdf", "Tệp không phải là tệp PDF.", "The file is not a PDF document.")


def damaged_pdf() -> DocumentError:
    return DocumentError(
        "pdf_damaged",
        "Tệp PDF bị hỏng hoặc không đọc được.",
        "The PDF file is damaged or cannot be read.",
    )


def _page_size(writer: IncrementalPdfFileWriter, index: int) -> tuple[float, float]:
    page_ref, _ = writer.find_page_for_modification(index)
    page = page_ref.get_object()
    node, box = page, None
    while node is not None and box is None:  # /MediaBox is inheritable
        box = node.get("/MediaBox")
        node = node.get("/Parent")
        node = node.get_object() if node is not None else None
    x1, y1, x2, y2 = (float(v) for v in (box or [0, 0, 595, 842]))
    return abs(x2 - x1), abs(y2 - y1)


def _field_names(writer: IncrementalPdfFileWriter) -> set[str]:
    """The names of the signature fields already there, signed or not."""
    return {str(name) for name, _value, _ref in fields.enumerate_sig_fields(writer.prev)}


def pdf_sign(
    *,
    pdf: bytes,
    request: SignRequest,
    signing_time: datetime | None = None,
    timestamper: TimeStamper | None = None,
) -> bytes:
    """``pdf`` with one more signature, appended as an incremental update."""
    now = (signing_time or datetime.now(UTC)).astimezone(VN).replace(microsecond=0)
    request.credential.check_valid_at(now)
    writer = _open(pdf)
    try:
        return _sign(writer, request, now, timestamper)
    except SigningError:
        raise
    except Exception as exc:  # pyHanko met damage deeper in the file than _open looks
        raise damaged_pdf() from exc


def _sign(writer, request: SignRequest, now: datetime, timestamper) -> bytes:
    credential = request.credential
    pages = int(writer.root["/Pages"]["/Count"])
    page = request.page
    if page == 0 or abs(page) > pages:
        raise DocumentError(
            "page_out_of_range",
            f"Trang {page} không có trong văn bản ({pages} trang).",
            f"Page {page} is not in the document ({pages} page(s)).",
        )
    index = page - 1 if page > 0 else pages + page
    existing = _field_names(writer)
    name = request.field_name or f"{request.kind.value}-{len(existing) + 1}"
    if name in existing:
        raise SigningError(
            "field_exists",
            f"Văn bản đã có trường chữ ký {name}.",
            f"The document already has a signature field named {name}.",
        )
    box = None
    if request.visible:
        width, height = _page_size(writer, index)
        box = request.box or default_box(request.kind, width, height)
        x1, y1, x2, y2 = box
        if not (x2 - x1 >= 20 and y2 - y1 >= 10):
            raise SigningError(
                "box_invalid",
                "Khung chữ ký phải có dạng x1,y1,x2,y2 với x2 > x1 và y2 > y1 (tối thiểu "
                "20 × 10 điểm).",
                "The signature box must be x1,y1,x2,y2 with x2 > x1 and y2 > y1 (at least "
                "20 × 10 points).",
            )
    params = {
        "signer": _clean(credential.name),
        "position": _clean(request.position or credential.title) or "—",
        "organisation": _clean(credential.organisation) or "—",
        "signed_at": now.strftime(TIME_FORMAT),
    }
    template = STAMP_TEXT[request.kind]
    size = 7 if request.kind == Kind.INITIAL else 9
    style = TextStampStyle(
        stamp_text=template,
        text_box_style=TextBoxStyle(
            font=TrueTypeEngineFactory(str(font_path()), text="".join(params.values())),
            font_size=size,
            leading=round(size * 1.35),
        ),
        border_width=1,
        timestamp_format=TIME_FORMAT,
    )
    signer = _TimedPdfSigner(
        signers.PdfSignatureMetadata(
            field_name=name,
            md_algorithm="sha256",
            subfilter=fields.SigSeedSubFilter.PADES,
            reason=request.reason,
            location=request.location,
            name=credential.name or None,
        ),
        signer=credential.signer,
        timestamper=timestamper,
        stamp_style=style,
        new_field_spec=fields.SigFieldSpec(
            sig_field_name=name, on_page=index, box=tuple(box) if box else None
        ),
        signing_time=now,
    )
    output = io.BytesIO()
    signer.sign_pdf(
        writer,
        bytes_reserved=reserve_size(credential, timestamper),
        appearance_text_params=params,
        output=output,
    )
    return output.getvalue()


def pdf_sign_all(
    *,
    pdf: bytes,
    requests: list[SignRequest],
    timestamper: TimeStamper | None = None,
) -> bytes:
    """``pdf`` with each request's signature, in order (initial, signature, seal)."""
    for request in requests:
        pdf = pdf_sign(pdf=pdf, request=request, timestamper=timestamper)
    return pdf


def _clean(text: str) -> str:
    """One line of NFC text without control characters (a stamp line is a line)."""
    text = unicodedata.normalize("NFC", text or "")
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def box_parse(text: str) -> tuple[float, float, float, float]:
    """``x1,y1,x2,y2`` in points, as the command line takes it."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4 or any(v < 0 for v in values):
        raise SigningError(
            "box_format",
            f"Khung chữ ký không hợp lệ: {text!r} (cần x1,y1,x2,y2 tính bằng điểm, ví dụ "
            "330,96,560,168).",
            f"Invalid signature box: {text!r} (expected x1,y1,x2,y2 in points, e.g. "
            "330,96,560,168).",
        )
    return values  # type: ignore[return-value]


__all__ = [
    "Kind",
    "SignRequest",
    "box_parse",
    "default_box",
    "pdf_sign",
    "pdf_sign_all",
]
