"""An independent validator: poppler's ``pdfsig`` must find our signatures sound, and must see
the forgeries too. ``-nocert`` checks the cryptography without a certificate database (our
development root is in none); the chain itself is checked by ``verify`` tests."""

import shutil
import subprocess

import pytest

from vnemis.office.signing.sign import Kind, SignRequest, pdf_sign, pdf_sign_all

from .helpers import corrupt_signature_value

PDFSIG = shutil.which("pdfsig") or "/usr/bin/pdfsig"

pytestmark = pytest.mark.skipif(
    not shutil.which("pdfsig"),
    reason="poppler's pdfsig is not installed (make setup installs poppler-utils)",
)


def pdfsig(path) -> str:
    run = subprocess.run([PDFSIG, "-nocert", str(path)], capture_output=True, text=True, timeout=60)
    return run.stdout + run.stderr


def test_pdfsig_finds_three_signatures_in_order_all_valid(tmp_path, pdf, drafter, leader, seal):
    signed = pdf_sign_all(
        pdf=pdf,
        requests=[SignRequest(credential=drafter, kind=Kind.INITIAL),
                  SignRequest(credential=leader, position="Giám đốc"),
                  SignRequest(credential=seal, kind=Kind.SEAL)],
    )  # fmt: skip
    path = tmp_path / "ba-chu-ky.pdf"
    path.write_bytes(signed)
    report = pdfsig(path)
    assert report.count("Signature is Valid") == 3, report
    assert report.index("initial-1") < report.index("signature-2") < report.index("seal-3")
    assert "Lê Văn Cường" in report and "Trần Thị Bình" in report
    assert "ETSI.CAdES.detached" in report
    assert report.count("Total document signed") == 1  # the seal, last


def test_pdfsig_sees_a_broken_signature(tmp_path, pdf, leader):
    signed = pdf_sign(pdf=pdf, request=SignRequest(credential=leader))
    path = tmp_path / "hong.pdf"
    path.write_bytes(corrupt_signature_value(signed))
    report = pdfsig(path)
    assert "Signature is Valid" not in report
    assert "Invalid" in report or "invalid" in report, report


def test_pdfsig_sees_edited_bytes(tmp_path, pdf, leader):
    signed = pdf_sign(pdf=pdf, request=SignRequest(credential=leader))
    path = tmp_path / "sua.pdf"
    path.write_bytes(signed.replace(b"ban hanh", b"bai bo  ", 1))
    report = pdfsig(path)
    assert "Signature is Valid" not in report
    assert "Digest Mismatch" in report, report
