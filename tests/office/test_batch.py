"""Batches on a process pool: every document signed and validated, errors kept in place."""

import pytest

from vnemis.office.signing.batch import SignOptions, pdf_sign_many, pdf_verify_many
from vnemis.office.signing.dev_ca import certificate_issue, pkcs12_bytes
from vnemis.office.signing.errors import CredentialError, SigningError
from vnemis.office.signing.sign import Kind

from .helpers import make_pdf


@pytest.fixture(scope="module")
def p12(ca):
    issued = certificate_issue(ca=ca, name="Hoàng Văn Lô", organisation="Sở GD&ĐT Hà Nội")
    return pkcs12_bytes(issued=issued, ca=ca, password="lo-1")


def test_sign_and_verify_many_on_two_processes(ca, p12):
    documents = [make_pdf(text=f"Van ban so {i}") for i in range(6)]
    documents.insert(3, b"this is not a pdf")
    signed = pdf_sign_many(pdfs=documents, p12=p12, password="lo-1", processes=2, chunksize=2,
                           options=SignOptions(kind=Kind.SEAL, position="Văn thư"))  # fmt: skip
    assert len(signed) == 7
    assert isinstance(signed[3], SigningError) and signed[3].code == "not_pdf"
    good = [s for i, s in enumerate(signed) if i != 3]
    assert all(isinstance(s, bytes) and s.startswith(d) for s, d in
               zip(good, [d for i, d in enumerate(documents) if i != 3], strict=True))  # fmt: skip
    reports = pdf_verify_many(pdfs=[*good, b"junk"], trust_pem=ca.certificate_pem(), processes=2)
    assert all(r.all_valid for r in reports[:-1])
    assert isinstance(reports[-1], SigningError)
    assert {r.signatures[0].field_name for r in reports[:-1]} == {"seal-1"}


def test_a_wrong_password_fails_once_before_any_work(p12):
    with pytest.raises(CredentialError) as refused:
        pdf_sign_many(pdfs=[make_pdf()], p12=p12, password="sai", processes=2)
    assert refused.value.code == "p12_password"


def test_one_process_runs_inline(ca, p12):
    (signed,) = pdf_sign_many(pdfs=[make_pdf()], p12=p12, password="lo-1", processes=1)
    (report,) = pdf_verify_many(pdfs=[signed], trust_pem=ca.certificate_pem(), processes=1)
    assert report.all_valid


def test_forkserver_for_callers_with_threads(ca, p12):
    documents = [make_pdf(text=f"So {i}") for i in range(3)]
    signed = pdf_sign_many(pdfs=documents, p12=p12, password="lo-1", processes=2,
                           start_method="forkserver")  # fmt: skip
    reports = pdf_verify_many(pdfs=signed, trust_pem=ca.certificate_pem(), processes=2,
                              start_method="forkserver")  # fmt: skip
    assert all(r.all_valid for r in reports)
