"""What the signing tests share: PDFs made with fpdf2, ways to tamper with a signed one, and a
reader of the text a signature stamp shows (through its font's ToUnicode map)."""

import io
import re
from datetime import UTC, datetime, timedelta

from fpdf import FPDF
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

from vnemis.office.signing.credentials import credential_load
from vnemis.office.signing.dev_ca import certificate_issue, pkcs12_bytes

BODY = "QUYET DINH ve viec ban hanh quy che thi tot nghiep"


def make_pdf(pages: int = 1, text: str = BODY) -> bytes:
    """An uncompressed A4 PDF, so a test can find and edit its text."""
    pdf = FPDF(unit="pt", format="A4")
    pdf.set_compression(False)
    pdf.set_font("helvetica", size=12)
    for number in range(1, pages + 1):
        pdf.add_page()
        pdf.cell(0, 20, f"{text} - trang {number}")
    return bytes(pdf.output())


def issue(ca, *, name="Trần Thị Bình", unlock="mật-khẩu-1", **kwargs):
    """A credential (and its PKCS#12 bytes) issued by ``ca``; loaded as of its own validity."""
    issued = certificate_issue(ca=ca, name=name, organisation="Sở GD&ĐT Hà Nội", **kwargs)
    data = pkcs12_bytes(issued=issued, ca=ca, password=unlock)
    moment = issued.certificate.not_valid_before_utc + timedelta(minutes=10)
    return credential_load(data=data, password=unlock, at=moment), data


def expired_window():
    now = datetime.now(UTC)
    return {"not_before": now - timedelta(days=400), "not_after": now - timedelta(days=1)}


def append_page_content(
    pdf: bytes, content: bytes = b"BT /F1 30 Tf 100 500 Td (FORGED) Tj ET"
) -> bytes:
    """An incremental update that draws more on page 1: what a forger appends after signing."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    writer.add_stream_to_page(0, writer.add_object(generic.StreamObject(stream_data=content)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def signature_value_hex(pdf: bytes, index: int = 0) -> str:
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    signature = reader.embedded_regular_signatures[index]
    return signature.signer_info["signature"].native.hex()


def corrupt_signature_value(pdf: bytes, index: int = 0) -> bytes:
    """The same file with one hex digit of a signature value changed (its DER stays sound)."""
    value = signature_value_hex(pdf, index)
    for candidate in (value, value.upper()):
        at = pdf.find(candidate.encode())
        if at >= 0:
            position = at + 14  # inside r, past the SEQUENCE and INTEGER headers
            digit = pdf[position : position + 1]
            replacement = b"1" if digit not in (b"1",) else b"2"
            return pdf[:position] + replacement + pdf[position + 1 :]
    raise AssertionError("signature value not found in the file")


def stamp_texts(pdf: bytes) -> list[str]:
    """The text of every signature widget's appearance, decoded through its font's ToUnicode."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    texts = []
    for signature in reader.embedded_regular_signatures:
        widget = signature.sig_field
        appearance = widget["/AP"]["/N"]
        texts.append(_decode_xobject(appearance))
    return texts


def _decode_xobject(stream) -> str:
    resources = stream.get("/Resources", generic.DictionaryObject())
    parts = []
    fonts = resources.get("/Font", {})
    mapping: dict[str, str] = {}
    for name in fonts:
        cmap = fonts[name].get_object().get("/ToUnicode")
        if cmap is not None:
            data = cmap.get_object().data
            for gid, text in re.findall(rb"<([0-9A-F]{4})> <([0-9A-F]+)>", data):
                mapping[gid.decode().lower()] = bytes.fromhex(text.decode()).decode("utf-16-be")
    data = stream.data
    for hexstring in re.findall(rb"<([0-9a-f]+)> Tj", data):
        chunk = hexstring.decode()
        parts.append(
            "".join(mapping.get(chunk[i : i + 4], "\ufffd") for i in range(0, len(chunk), 4))
        )
    for name in resources.get("/XObject", {}):
        parts.append(_decode_xobject(resources["/XObject"][name]))
    return "\n".join(p for p in parts if p)
