"""Validating every signature in a PDF against trusted roots, with one plain outcome each.

For each signature, in the order they were applied, pyHanko checks the document digest over the
signed byte ranges, the signature value, the signer's chain to one of the ``trust`` roots
(with key usage digitalSignature or nonRepudiation) and what the later incremental updates
changed. That is summed up as one ``Outcome``:

- ``valid``: intact, cryptographically sound, a trusted signer, and every later change (if any)
  is only further signatures or form filling;
- ``modified``: the signed bytes no longer match (edited after signing), the signature covers
  the file in a non-standard way, or a later update changed the content (a page, an image);
- ``invalid``: the signature value does not verify, cannot be read, or the certificate was not
  usable (expired, revoked, wrong key usage) at the time of validation;
- ``unknown_signer``: sound, but the certificate does not chain to a trusted root.

Revocation is checked softly and never fetched (no network here): a real CA's CRL/OCSP would be
given to the validation context by the caller once that is wired in. A file that is not a PDF,
or a damaged one, raises ``DocumentError``; a single unreadable signature is reported
``invalid`` without stopping the others.
"""

from __future__ import annotations

import asyncio
import enum
import io
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from django.utils.translation import gettext_lazy as _
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from vnemis.core.i18n import pick

from .errors import DocumentError, SigningError
from .sign import MAX_PDF_BYTES, VN, damaged_pdf, not_a_pdf

# pyHanko logs each failed check with a traceback at WARNING: the outcome carries it instead.
logging.getLogger("pyhanko.sign.validation").setLevel(logging.ERROR)
logging.getLogger("pyhanko_certvalidator").setLevel(logging.ERROR)

KEY_USAGE = KeyUsageConstraints(
    key_usage={"digital_signature", "non_repudiation"}, match_all_key_usages=False
)


class Outcome(enum.StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    UNKNOWN_SIGNER = "unknown_signer"
    MODIFIED = "modified"


# (Vietnamese, English); the gettext form of the Vietnamese for pages is OUTCOME_LABELS.
OUTCOME_TEXT = {
    Outcome.VALID: ("Hợp lệ", "Valid"),
    Outcome.INVALID: ("Không hợp lệ", "Invalid"),
    Outcome.UNKNOWN_SIGNER: ("Không xác định được người ký", "Unknown signer"),
    Outcome.MODIFIED: ("Bị sửa đổi sau khi ký", "Modified after signing"),
}
OUTCOME_LABELS = {
    Outcome.VALID: _("Hợp lệ"),
    Outcome.INVALID: _("Không hợp lệ"),
    Outcome.UNKNOWN_SIGNER: _("Không xác định được người ký"),
    Outcome.MODIFIED: _("Bị sửa đổi sau khi ký"),
}


@dataclass(frozen=True)
class SignatureResult:
    """One signature's outcome, and who signed when."""

    index: int  # 1-based, in the order the signatures were applied
    field_name: str
    outcome: Outcome
    signer_name: str = ""
    organisation: str = ""
    signing_time: datetime | None = None  # as the signer's software stated it
    timestamp: datetime | None = None  # from a TSA, when the signature carries one
    covers_whole_document: bool = False
    detail_vi: str = ""
    detail_en: str = ""

    @property
    def valid(self) -> bool:
        return self.outcome == Outcome.VALID

    def label(self) -> str:
        return pick(*OUTCOME_TEXT[self.outcome])

    def detail(self) -> str:
        return pick(self.detail_vi, self.detail_en)


@dataclass(frozen=True)
class Report:
    signatures: list[SignatureResult] = field(default_factory=list)

    @property
    def all_valid(self) -> bool:
        """At least one signature, and every one valid."""
        return bool(self.signatures) and all(s.valid for s in self.signatures)


def trust_roots_load(data: bytes | Iterable[bytes]) -> list[asn1_x509.Certificate]:
    """Certificates from PEM (one or several) or DER bytes."""
    chunks = [data] if isinstance(data, bytes | bytearray) else list(data)
    roots: list[asn1_x509.Certificate] = []
    try:
        for chunk in chunks:
            if pem.detect(chunk):
                for _type, _headers, der in pem.unarmor(chunk, multiple=True):
                    roots.append(asn1_x509.Certificate.load(der))
            else:
                roots.append(asn1_x509.Certificate.load(chunk))
        for root in roots:
            root.native  # noqa: B018 - parse fully now, not halfway through validation
    except (ValueError, TypeError) as exc:
        raise SigningError(
            "trust_invalid",
            "Tệp chứng thư gốc tin cậy không đọc được (cần PEM hoặc DER).",
            "The trusted root certificate file cannot be read (PEM or DER expected).",
        ) from exc
    return roots


def trust_roots_load_files(paths: Iterable[Path]) -> list[asn1_x509.Certificate]:
    roots = []
    for path in paths:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise SigningError(
                "trust_unreadable",
                f"Không đọc được tệp chứng thư gốc {path}: {exc.strerror}.",
                f"Cannot read the root certificate file {path}: {exc.strerror}.",
            ) from exc
        roots += trust_roots_load(data)
    return roots


def _reader(pdf: bytes) -> PdfFileReader:
    if not pdf:
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
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        if reader.encrypted:
            raise DocumentError(
                "pdf_encrypted",
                "Tệp PDF được mã hoá bằng mật khẩu: không kiểm tra được chữ ký.",
                "The PDF is password-protected: its signatures cannot be checked.",
            )
        reader.root["/Pages"]
    except SigningError:
        raise
    except Exception as exc:
        raise damaged_pdf() from exc
    return reader


def pdf_verify(
    *,
    pdf: bytes,
    trust: list[asn1_x509.Certificate],
    at: datetime | None = None,
    reader: PdfFileReader | None = None,
) -> Report:
    """Every signature's outcome (an empty report for a PDF without signatures); ``reader``:
    one already open on these bytes, whose parsed objects are reused."""
    reader = reader if reader is not None else _reader(pdf)
    try:
        found = list(fields.enumerate_sig_fields(reader, filled_status=True))
    except Exception as exc:
        raise damaged_pdf() from exc
    entries = []  # (where its signed range ends, field name, embedded signature or None)
    for fq_name, sig_object, sig_field in found:
        try:
            dictionary = sig_object.get_object()
            if dictionary.get("/Type") == "/DocTimeStamp":
                continue  # a document timestamp is not a signature of the document
            ends = dictionary["/ByteRange"]
            order = int(ends[2]) + int(ends[3])
        except Exception:
            order = len(pdf)
        try:
            embedded = EmbeddedPdfSignature(reader, sig_field, fq_name)
        except Exception:  # an unreadable container still counts, as an invalid signature
            embedded = None
        entries.append((order, str(fq_name), embedded))
    entries.sort(key=lambda entry: entry[0])
    return _run(_verify_all(entries, trust, at))


_loops = threading.local()


def _run(coroutine):
    """``asyncio.run`` without a new event loop each time (made and closed, it cost a tenth of
    a validation on the exchange inbox): one loop per thread, kept."""
    loop = getattr(_loops, "loop", None)
    if loop is None or loop.is_closed():
        loop = _loops.loop = asyncio.new_event_loop()
    return loop.run_until_complete(coroutine)


async def _verify_all(entries, trust, at) -> Report:
    results = []
    for index, (_order, name, embedded) in enumerate(entries, start=1):
        if embedded is None:
            base = {"index": index, "field_name": name}
            results.append(_result(base, Outcome.INVALID, "unreadable"))
        else:
            results.append(await _verify_one(index, name, embedded, trust, at))
    return Report(results)


def _name_part(certificate, key: str) -> str:
    try:
        value = certificate.subject.native.get(key, "")
    except Exception:  # a damaged certificate is reported, not raised
        return ""
    return value[0] if isinstance(value, list) else str(value or "")


async def _verify_one(index, name, signature, trust, at) -> SignatureResult:
    base = {"index": index, "field_name": name}
    try:
        certificate = signature.signer_cert
    except Exception:  # no certificate to name: the validation below says what is wrong
        certificate = None
    if certificate is not None:
        base["signer_name"] = _name_part(certificate, "common_name")
        base["organisation"] = _name_part(certificate, "organization_name")
    context = ValidationContext(
        trust_roots=trust or [], allow_fetching=False, revocation_mode="soft-fail", moment=at
    )
    try:
        status = await async_validate_pdf_signature(
            signature, signer_validation_context=context, key_usage_settings=KEY_USAGE
        )
    except Exception as exc:  # an unreadable or malformed signature container
        return _result(base, Outcome.INVALID, "unreadable", str(exc))
    signing_time = status.signer_reported_dt
    base["signing_time"] = signing_time.astimezone(VN) if signing_time else None
    if status.timestamp_validity is not None:
        base["timestamp"] = status.timestamp_validity.timestamp.astimezone(VN)
    base["covers_whole_document"] = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    if not status.intact:
        return _result(base, Outcome.MODIFIED, "digest")
    if not status.valid:
        return _result(base, Outcome.INVALID, "crypto")
    if status.coverage is None or status.coverage < SignatureCoverageLevel.ENTIRE_REVISION:
        return _result(base, Outcome.MODIFIED, "coverage")
    level = status.modification_level
    if status.docmdp_ok is False or level == ModificationLevel.OTHER:
        return _result(base, Outcome.MODIFIED, "changes")
    problem = status.trust_problem_indic
    if problem is not None or status.validation_path is None:
        if problem in (AdESIndeterminate.EXPIRED, AdESIndeterminate.OUT_OF_BOUNDS_NO_POE,
                       AdESIndeterminate.OUT_OF_BOUNDS_NOT_REVOKED):  # fmt: skip
            return _result(base, Outcome.INVALID, "expired")
        if problem in (AdESIndeterminate.NOT_YET_VALID, AdESFailure.NOT_YET_VALID):
            return _result(base, Outcome.INVALID, "not_yet_valid")
        if problem in (AdESFailure.REVOKED, AdESIndeterminate.REVOKED_NO_POE,
                       AdESIndeterminate.REVOKED_CA_NO_POE):  # fmt: skip
            return _result(base, Outcome.INVALID, "revoked")
        if problem == AdESIndeterminate.SIG_CONSTRAINTS_FAILURE:
            return _result(base, Outcome.INVALID, "key_usage")
        return _result(base, Outcome.UNKNOWN_SIGNER, "untrusted")
    if status.timestamp_validity is not None and not status.timestamp_validity.trusted:
        return _result(base, Outcome.INVALID, "timestamp")
    if base["covers_whole_document"]:
        return _result(base, Outcome.VALID, "whole")
    return _result(base, Outcome.VALID, "later_signatures")


DETAILS = {
    "whole": (
        "Chữ ký hợp lệ và bao trùm toàn bộ văn bản.",
        "The signature is valid and covers the whole document.",
    ),
    "later_signatures": (
        "Chữ ký hợp lệ; sau đó văn bản chỉ được bổ sung chữ ký khác hoặc điền biểu mẫu.",
        "The signature is valid; since then the document only received further signatures "
        "or form filling.",
    ),
    "digest": (
        "Nội dung văn bản đã bị thay đổi sau khi ký (mã băm không khớp).",
        "The document's content was changed after signing (the digest does not match).",
    ),
    "coverage": (
        "Chữ ký không bao trùm phiên bản văn bản đã ký theo cách chuẩn.",
        "The signature does not cover its revision of the document in the standard way.",
    ),
    "changes": (
        "Sau khi ký, văn bản đã bị sửa đổi (nội dung trang hoặc đối tượng khác), không chỉ "
        "bổ sung chữ ký.",
        "After signing, the document was modified (page content or other objects), not only "
        "given further signatures.",
    ),
    "crypto": (
        "Giá trị chữ ký số không đúng: chữ ký bị hỏng hoặc giả mạo.",
        "The signature value does not verify: the signature is broken or forged.",
    ),
    "unreadable": (
        "Không đọc được chữ ký số (dữ liệu chữ ký bị hỏng).",
        "The signature cannot be read (its data is damaged).",
    ),
    "expired": (
        "Chứng thư số của người ký đã hết hạn tại thời điểm kiểm tra.",
        "The signer's certificate had expired at the time of validation.",
    ),
    "not_yet_valid": (
        "Chứng thư số của người ký chưa có hiệu lực tại thời điểm kiểm tra.",
        "The signer's certificate was not yet valid at the time of validation.",
    ),
    "revoked": (
        "Chứng thư số của người ký đã bị thu hồi.",
        "The signer's certificate has been revoked.",
    ),
    "key_usage": (
        "Chứng thư số của người ký không được phép dùng để ký văn bản.",
        "The signer's certificate may not be used to sign documents.",
    ),
    "untrusted": (
        "Chứng thư số không thuộc tổ chức cung cấp dịch vụ chứng thực được tin cậy.",
        "The certificate does not chain to a trusted certification authority.",
    ),
    "timestamp": (
        "Dấu thời gian của chữ ký không được tin cậy.",
        "The signature's timestamp is not trusted.",
    ),
}


def _result(base: dict, outcome: Outcome, reason: str, extra: str = "") -> SignatureResult:
    vi, en = DETAILS[reason]
    if extra:  # pyHanko's own words, for the record; English only
        en = f"{en} ({extra[:200]})"
    return SignatureResult(outcome=outcome, detail_vi=vi, detail_en=en, **base)
