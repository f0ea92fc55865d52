"""Signing: one signature and the stamp it shows, three in order, placement, and refusals."""

import io
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fpdf import FPDF
from pyhanko.pdf_utils.reader import PdfFileReader

from vnemis.office.signing import sign as signing
from vnemis.office.signing.errors import CredentialError, DocumentError, SigningError
from vnemis.office.signing.sign import Kind, SignRequest, box_parse, pdf_sign, pdf_sign_all
from vnemis.office.signing.verify import Outcome, pdf_verify

from .helpers import expired_window, issue, make_pdf, stamp_texts


def _fields(pdf: bytes) -> list[str]:
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    return [s.field_name for s in reader.embedded_regular_signatures]


def test_one_signature_is_pades_and_valid(pdf, leader, trust):
    signed = pdf_sign(pdf=pdf, request=SignRequest(credential=leader, reason="Phê duyệt"))
    assert signed.startswith(pdf)  # an incremental update: the original bytes are untouched
    reader = PdfFileReader(io.BytesIO(signed), strict=False)
    (embedded,) = reader.embedded_regular_signatures
    assert embedded.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    assert embedded.sig_object["/Reason"] == "Phê duyệt"
    assert embedded.signer_info["digest_algorithm"]["algorithm"].native == "sha256"
    assert embedded.signer_info["signature_algorithm"]["algorithm"].native == "sha256_ecdsa"
    attributes = {a["type"].native for a in embedded.signer_info["signed_attrs"]}
    assert "signing_certificate_v2" in attributes  # PAdES B-B binds the certificate
    (result,) = pdf_verify(pdf=signed, trust=trust).signatures
    assert result.outcome == Outcome.VALID and result.covers_whole_document
    assert result.signer_name == "Trần Thị Bình"


def test_the_stamp_shows_signer_position_and_time_in_vietnamese(pdf, leader):
    moment = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=7)
    shown = moment.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%d/%m/%Y %H:%M:%S")
    signed = pdf_sign(
        pdf=pdf, signing_time=moment,
        request=SignRequest(credential=leader, position="Phó Giám đốc Sở"),
    )  # fmt: skip
    (text,) = stamp_texts(signed)
    assert text.splitlines() == [
        "Ký bởi: Trần Thị Bình",
        "Chức vụ: Phó Giám đốc Sở",
        "Cơ quan: Sở GD&ĐT Hà Nội",
        f"Thời gian ký: {shown} (GMT+7)",
    ]
    reader = PdfFileReader(io.BytesIO(signed), strict=False)
    (embedded,) = reader.embedded_regular_signatures
    # PAdES keeps the claimed time in the signature dictionary (/M), not in the CMS
    attributes = {a["type"].native for a in embedded.signer_info["signed_attrs"]}
    assert "signing_time" not in attributes
    assert embedded.self_reported_timestamp == moment  # the very time the stamp shows
    font = embedded.sig_field["/AP"]["/N"]["/Resources"]["/Font"]["/F1"].get_object()
    assert font["/Subtype"] == "/Type0" and font["/Encoding"] == "/Identity-H"
    descendant = font["/DescendantFonts"][0].get_object()
    assert "/FontFile2" in descendant["/FontDescriptor"]  # embedded, not left to the reader
    assert str(font["/BaseFont"]).endswith("+DejaVuSans")


def test_the_position_defaults_to_the_certificate_title_and_odd_characters_are_kept(ca, pdf):
    credential = issue(ca, name="Nguyễn Thị Ánh Tuyết\nỶ", title="Trưởng phòng Khảo thí")[0]
    signed = pdf_sign(pdf=pdf, request=SignRequest(credential=credential))
    lines = stamp_texts(signed)[0].splitlines()
    assert lines[0] == "Ký bởi: Nguyễn Thị Ánh Tuyết Ỷ"  # a newline in a name stays one line
    assert lines[1] == "Chức vụ: Trưởng phòng Khảo thí"


def test_a_character_outside_the_usual_set_gets_a_subset_of_its_own(ca, pdf):
    credential = issue(ca, name="Ŵilliam Ǆ Ω")[0]
    signed = pdf_sign(pdf=pdf, request=SignRequest(credential=credential, kind=Kind.INITIAL))
    assert stamp_texts(signed)[0].splitlines()[0] == "Ký nháy: Ŵilliam Ǆ Ω"


def test_three_signatures_in_order_all_valid(pdf, drafter, leader, seal, trust):
    signed = pdf_sign_all(
        pdf=pdf,
        requests=[
            SignRequest(credential=drafter, kind=Kind.INITIAL),
            SignRequest(credential=leader, kind=Kind.SIGNATURE, position="Giám đốc"),
            SignRequest(credential=seal, kind=Kind.SEAL),
        ],
    )
    assert _fields(signed) == ["initial-1", "signature-2", "seal-3"]
    results = pdf_verify(pdf=signed, trust=trust).signatures
    assert [r.outcome for r in results] == [Outcome.VALID] * 3
    assert [r.signer_name for r in results] == ["Lê Văn Cường", "Trần Thị Bình", "Sở GD&ĐT Hà Nội"]
    assert [r.covers_whole_document for r in results] == [False, False, True]
    texts = stamp_texts(signed)
    assert texts[0].startswith("Ký nháy: Lê Văn Cường")
    assert texts[1].startswith("Ký bởi: Trần Thị Bình\nChức vụ: Giám đốc")
    assert texts[2].startswith("Cơ quan: Sở GD&ĐT Hà Nội")
    times = [r.signing_time for r in results]
    assert times == sorted(times)


def test_page_and_box_place_the_stamp(leader):
    pdf = make_pdf(pages=3)
    signed = pdf_sign(
        pdf=pdf, request=SignRequest(credential=leader, page=2, box=(100, 200, 300, 260))
    )
    reader = PdfFileReader(io.BytesIO(signed), strict=False)
    (embedded,) = reader.embedded_regular_signatures
    widget = embedded.sig_field
    assert [float(v) for v in widget["/Rect"]] == [100, 200, 300, 260]
    page_two = reader.root["/Pages"]["/Kids"][1].get_object()
    assert any(a.get_object() is widget or a.get_object() == widget for a in page_two["/Annots"])
    assert "/Annots" not in reader.root["/Pages"]["/Kids"][0].get_object()


def test_a_signature_can_be_invisible(pdf, leader, trust):
    signed = pdf_sign(pdf=pdf, request=SignRequest(credential=leader, visible=False))
    reader = PdfFileReader(io.BytesIO(signed), strict=False)
    widget = reader.embedded_regular_signatures[0].sig_field
    assert [float(v) for v in widget["/Rect"]] == [0, 0, 0, 0]
    assert pdf_verify(pdf=signed, trust=trust).all_valid


def test_the_signature_size_is_reserved_so_the_key_signs_once(ca, pdf):
    credential = issue(ca, name="Đếm Số Lần")[0]
    pdf_sign(pdf=pdf, request=SignRequest(credential=credential))  # measures the size once
    calls = []
    original = credential.signer.sign_raw

    def counting(data, digest_algorithm):
        calls.append(digest_algorithm)
        return original(data, digest_algorithm)

    object.__setattr__(credential.signer, "sign_raw", counting)
    for _ in range(3):
        pdf_sign(pdf=pdf, request=SignRequest(credential=credential))
    assert calls == ["sha256"] * 3  # pyHanko's default would sign a dummy first each time


def test_the_page_must_exist_and_the_box_must_be_sound(pdf, leader):
    with pytest.raises(DocumentError) as refused:
        pdf_sign(pdf=pdf, request=SignRequest(credential=leader, page=2))
    assert refused.value.code == "page_out_of_range"
    with pytest.raises(DocumentError):
        pdf_sign(pdf=pdf, request=SignRequest(credential=leader, page=0))
    with pytest.raises(SigningError) as refused:
        pdf_sign(pdf=pdf, request=SignRequest(credential=leader, box=(300, 100, 200, 150)))
    assert refused.value.code == "box_invalid"
    assert box_parse("330, 96,560,168") == (330, 96, 560, 168)
    for bad in ("1,2,3", "a,b,c,d", "1,2,3,4,5", "-1,2,3,4", ""):
        with pytest.raises(SigningError) as refused:
            box_parse(bad)
        assert refused.value.code == "box_format"


def test_a_field_name_cannot_be_signed_twice(pdf, leader):
    signed = pdf_sign(pdf=pdf, request=SignRequest(credential=leader, field_name="duyet"))
    with pytest.raises(SigningError):
        pdf_sign(pdf=signed, request=SignRequest(credential=leader, field_name="duyet"))


@pytest.mark.parametrize(
    "data, code",
    [(b"", "pdf_empty"), (b"PK\x03\x04 a zip file", "not_pdf"),
     (b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF", "pdf_damaged")],
    ids=["empty", "zip", "no-pages"],
)  # fmt: skip
def test_what_is_not_a_readable_pdf_is_refused(leader, data, code):
    with pytest.raises(DocumentError) as refused:
        pdf_sign(pdf=data, request=SignRequest(credential=leader))
    assert refused.value.code == code
    assert refused.value.message_vi and refused.value.message_en


def test_a_truncated_pdf_is_refused(pdf, leader):
    with pytest.raises(DocumentError) as refused:
        pdf_sign(pdf=pdf[: len(pdf) // 3], request=SignRequest(credential=leader))
    assert refused.value.code == "pdf_damaged"


def test_an_encrypted_pdf_is_refused(leader):
    document = FPDF()
    document.add_page()
    document.set_font("helvetica", size=12)
    document.cell(0, 10, "secret")
    document.set_encryption(owner_password="chu-so-huu", user_password="nguoi-doc")
    with pytest.raises(DocumentError) as refused:
        pdf_sign(pdf=bytes(document.output()), request=SignRequest(credential=leader))
    assert refused.value.code == "pdf_encrypted"


def test_a_certificate_that_expired_since_it_was_loaded_cannot_sign(ca, pdf):
    credential = issue(ca, name="Hết Hạn Giữa Chừng", **expired_window())[0]
    with pytest.raises(CredentialError) as refused:
        pdf_sign(pdf=pdf, request=SignRequest(credential=credential))
    assert refused.value.code == "certificate_expired"


def test_signed_with_rsa_too(ca, pdf, trust):
    credential = issue(ca, name="Khoá RSA", key_type="rsa")[0]
    signed = pdf_sign(pdf=pdf, request=SignRequest(credential=credential))
    assert pdf_verify(pdf=signed, trust=trust).all_valid


def test_the_stamp_renders(pdf, leader, tmp_path):
    """poppler draws the page with the stamp (a smoke test of the embedded font program)."""
    if not Path("/usr/bin/pdftoppm").exists():
        pytest.skip("poppler's pdftoppm is not installed (make setup installs poppler-utils)")
    signed = pdf_sign(pdf=pdf, request=SignRequest(credential=leader))
    (tmp_path / "s.pdf").write_bytes(signed)
    run = subprocess.run(
        ["/usr/bin/pdftoppm", "-r", "30", "-png", str(tmp_path / "s.pdf"), str(tmp_path / "p")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "rror" not in run.stderr
    assert (tmp_path / "p-1.png").stat().st_size > 1000


def test_default_boxes_sit_inside_the_page():
    for kind in Kind:
        x1, y1, x2, y2 = signing.default_box(kind, 595, 842)
        assert 0 <= x1 < x2 <= 595 and 0 <= y1 < y2 <= 842
