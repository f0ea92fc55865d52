"""Validation: one outcome per signature for each way a signed document can be good or bad."""

import io
import random
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from pyhanko.keys import load_private_key_from_pemder_data
from pyhanko.keys.internal import translate_pyca_cryptography_cert_to_asn1
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields
from pyhanko.sign.timestamps import DummyTimeStamper

from vnemis.office.signing.dev_ca import certificate_issue
from vnemis.office.signing.errors import DocumentError, SigningError
from vnemis.office.signing.sign import Kind, SignRequest, pdf_sign, pdf_sign_all
from vnemis.office.signing.verify import (
    OUTCOME_TEXT,
    Outcome,
    pdf_verify,
    trust_roots_load,
)

from .helpers import BODY, append_page_content, corrupt_signature_value


@pytest.fixture
def signed(pdf, leader):
    return pdf_sign(pdf=pdf, request=SignRequest(credential=leader))


def only(report):
    (result,) = report.signatures
    return result


def test_valid(signed, trust):
    result = only(pdf_verify(pdf=signed, trust=trust))
    assert result.outcome == Outcome.VALID
    assert result.covers_whole_document
    assert result.signer_name == "Trần Thị Bình" and result.organisation == "Sở GD&ĐT Hà Nội"
    assert abs(result.signing_time - datetime.now(UTC)) < timedelta(minutes=1)
    assert result.signing_time.utcoffset() == timedelta(hours=7)
    assert result.detail_vi and result.detail_en
    assert pdf_verify(pdf=signed, trust=trust).all_valid


def test_invalid_signature_bytes(signed, trust):
    broken = corrupt_signature_value(signed)
    assert len(broken) == len(signed) and broken != signed
    result = only(pdf_verify(pdf=broken, trust=trust))
    assert result.outcome == Outcome.INVALID
    assert "giả mạo" in result.detail_vi and "does not verify" in result.detail_en


def test_unreadable_signature_container(signed, trust):
    start = signed.index(b"/Contents <") + len(b"/Contents <")
    broken = signed[:start] + b"00" * 40 + signed[start + 80 :]
    result = only(pdf_verify(pdf=broken, trust=trust))
    assert result.outcome == Outcome.INVALID
    assert "không đọc được" in result.detail_vi.lower()


def test_unknown_signer_from_another_ca(pdf, stranger, trust, other_ca):
    signed = pdf_sign(pdf=pdf, request=SignRequest(credential=stranger))
    result = only(pdf_verify(pdf=signed, trust=trust))
    assert result.outcome == Outcome.UNKNOWN_SIGNER
    assert result.signer_name == "Phạm Văn Giả"
    # the same file is valid for whoever trusts that other CA, and unknown with no roots
    assert only(pdf_verify(pdf=signed, trust=trust_roots_load(other_ca.certificate_pem()))).valid
    assert only(pdf_verify(pdf=signed, trust=[])).outcome == Outcome.UNKNOWN_SIGNER


def test_modified_by_an_incremental_update_that_changes_the_page(signed, trust):
    forged = append_page_content(signed)
    assert forged.startswith(signed)
    result = only(pdf_verify(pdf=forged, trust=trust))
    assert result.outcome == Outcome.MODIFIED
    assert not result.covers_whole_document
    assert "sửa đổi" in result.detail_vi and "modified" in result.detail_en


def test_modified_by_editing_the_signed_bytes(signed, trust):
    assert BODY.encode() in signed
    edited = signed.replace(b"ban hanh", b"bai bo  ", 1)  # same length: only the digest tells
    assert len(edited) == len(signed)
    result = only(pdf_verify(pdf=edited, trust=trust))
    assert result.outcome == Outcome.MODIFIED
    assert "mã băm" in result.detail_vi


def test_in_a_chain_of_signatures_only_the_one_before_the_forgery_is_modified(
    pdf, drafter, leader, trust
):
    first = pdf_sign(pdf=pdf, request=SignRequest(credential=drafter, kind=Kind.INITIAL))
    forged = append_page_content(first)
    second = pdf_sign(pdf=forged, request=SignRequest(credential=leader))
    results = pdf_verify(pdf=second, trust=trust).signatures
    assert [r.outcome for r in results] == [Outcome.MODIFIED, Outcome.VALID]
    assert not pdf_verify(pdf=second, trust=trust).all_valid


def test_a_later_signature_field_only_is_not_a_modification(pdf, drafter, leader, seal, trust):
    signed = pdf_sign_all(
        pdf=pdf,
        requests=[SignRequest(credential=drafter, kind=Kind.INITIAL),
                  SignRequest(credential=leader), SignRequest(credential=seal, kind=Kind.SEAL)],
    )  # fmt: skip
    # an empty signature field added afterwards (a place for another signer) is allowed too
    writer = IncrementalPdfFileWriter(io.BytesIO(signed), strict=False)
    fields.append_signature_field(
        writer, fields.SigFieldSpec(sig_field_name="ky-them", on_page=0, box=(10, 10, 90, 40))
    )
    out = io.BytesIO()
    writer.write(out)
    assert pdf_verify(pdf=out.getvalue(), trust=trust).all_valid


def test_expired_by_the_time_of_validation(signed, trust):
    later = datetime.now(UTC) + timedelta(days=800)  # past the certificate's two years
    result = only(pdf_verify(pdf=signed, trust=trust, at=later))
    assert result.outcome == Outcome.INVALID
    assert "hết hạn" in result.detail_vi and "expired" in result.detail_en


def test_a_document_without_signatures(pdf, trust):
    report = pdf_verify(pdf=pdf, trust=trust)
    assert report.signatures == [] and not report.all_valid


@pytest.mark.parametrize(
    "data, code",
    [(b"", "pdf_empty"), (b"\x89PNG\r\n\x1a\n not a pdf", "not_pdf"),
     (b"%PDF-1.7\ngarbage garbage", "pdf_damaged")],
    ids=["empty", "png", "garbage"],
)  # fmt: skip
def test_not_a_readable_pdf_is_a_clear_error(data, code, trust):
    with pytest.raises(DocumentError) as refused:
        pdf_verify(pdf=data, trust=trust)
    assert refused.value.code == code


def test_a_truncated_signed_pdf_is_a_clear_error_or_a_bad_outcome(signed, trust):
    for cut in (len(signed) // 4, len(signed) // 2, len(signed) - 40):
        try:
            report = pdf_verify(pdf=signed[:cut], trust=trust)
        except DocumentError as refused:
            assert refused.code == "pdf_damaged"
        else:
            assert not report.all_valid


def test_bad_trust_files_are_refused():
    with pytest.raises(SigningError) as refused:
        trust_roots_load(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    assert refused.value.code == "trust_invalid"
    with pytest.raises(SigningError):
        trust_roots_load(b"\x30\x03\x02\x01\x01")


def test_several_roots_in_one_pem(ca, other_ca, signed):
    roots = trust_roots_load(other_ca.certificate_pem() + ca.certificate_pem())
    assert len(roots) == 2
    assert only(pdf_verify(pdf=signed, trust=roots)).valid


def test_a_timestamp_makes_it_pades_b_t(ca, pdf, leader, trust):
    tsa = certificate_issue(ca=ca, name="vnemis TSA (phát triển)", time_stamping=True,
                           key_type="rsa")  # fmt: skip  # pyHanko's test TSA signs with RSA
    key_pem = tsa.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )  # fmt: skip
    timestamper = DummyTimeStamper(
        tsa_cert=translate_pyca_cryptography_cert_to_asn1(tsa.certificate),
        tsa_key=load_private_key_from_pemder_data(key_pem, passphrase=None),
    )
    signed = pdf_sign(pdf=pdf, request=SignRequest(credential=leader), timestamper=timestamper)
    result = only(pdf_verify(pdf=signed, trust=trust))
    assert result.outcome == Outcome.VALID
    assert result.timestamp is not None
    assert abs(result.timestamp - datetime.now(UTC)) < timedelta(minutes=1)


def test_every_outcome_has_both_languages():
    assert set(OUTCOME_TEXT) == set(Outcome)
    for vi, en in OUTCOME_TEXT.values():
        assert vi and en and vi != en


def test_mangled_files_give_an_outcome_or_a_clear_error_never_a_crash(signed, trust, leader):
    """Seeded random damage (bytes changed, cut out, inserted, the file cut short)."""
    rng = random.Random(7)
    for round_number in range(80):
        data = bytearray(signed)
        at = rng.randrange(len(data))
        if round_number % 4 == 0:
            data[at] = rng.randrange(256)
        elif round_number % 4 == 1:
            del data[at : at + rng.randint(1, 200)]
        elif round_number % 4 == 2:
            data = data[:at]
        else:
            data[at:at] = rng.randbytes(rng.randint(1, 50))
        for attempt in (
            lambda d=bytes(data): pdf_verify(pdf=d, trust=trust),
            lambda d=bytes(data): pdf_sign(pdf=d, request=SignRequest(credential=leader)),
        ):
            try:
                attempt()
            except SigningError as refused:
                assert refused.message_vi and refused.message_en
