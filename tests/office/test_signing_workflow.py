"""Digital signatures in the e-office: importing credentials, approval by signing on the server
(with the test CA as the trusted root), the seal, and the validation of incoming files."""

import shutil
import subprocess

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction

from vnemis.core.crypto import decrypt_identifier
from vnemis.office import actions, actions_signing, workflow
from vnemis.office.actions_errors import OfficeError
from vnemis.office.actions_files import pdf_check
from vnemis.office.models import Blob, Document, Submission
from vnemis.office.models_signing import AttachmentSignatures, SigningCredential
from vnemis.office.signing.dev_ca import certificate_issue, pkcs12_bytes
from vnemis.office.signing.sign import Kind as SignKind
from vnemis.office.signing.sign import SignRequest, pdf_sign

from .helpers import append_page_content, expired_window
from .test_documents_support import draft_outgoing, office_setup, pdf_bytes, register_incoming

PASSWORD = "mật-khẩu-ký-1"


@pytest.fixture
def office(tree):
    return office_setup(tree)


@pytest.fixture
def trusted(ca, tmp_path, settings):
    path = tmp_path / "ca.pem"
    path.write_bytes(ca.certificate_pem())
    settings.VNEMIS_OFFICE_TRUSTED_CA_FILES = [str(path)]
    return path


def p12(ca, name="Trần Thị Bình", password=PASSWORD, **kwargs) -> bytes:
    issued = certificate_issue(ca=ca, name=name, organisation="Bộ Giáo dục và Đào tạo", **kwargs)
    return pkcs12_bytes(issued=issued, ca=ca, password=password)


def submitted(office):
    doc = draft_outgoing(office, text="Công văn hướng dẫn tuyển sinh lớp 10")
    return workflow.submission_create(actor=office.staff, document=doc, leader=office.leader)


def main_bytes(document) -> bytes:
    version = document.versions.order_by("-number").first()
    return bytes(Blob.objects.get(pk=version.files.get(is_main=True).blob_id).data)


# -- import ------------------------------------------------------------------------------------


def test_import_stores_the_certificate_encrypted_and_never_the_password(office, ca):
    data = p12(ca)
    cred = actions_signing.credential_import(actor=office.leader, p12_bytes=data, password=PASSWORD)
    cred.refresh_from_db()
    assert cred.active and cred.kind == "personal" and cred.subject_name == "Trần Thị Bình"
    assert cred.key_type.startswith("EC") and len(cred.fingerprint) == 64
    assert "Root" in cred.issuer or cred.issuer
    assert cred.password_encrypted is None
    assert data not in bytes(cred.p12_encrypted) and PASSWORD.encode() not in bytes(
        cred.p12_encrypted
    )
    import base64

    assert base64.b64decode(decrypt_identifier(cred.p12_encrypted)) == data


@pytest.mark.parametrize(
    ("make", "password", "code", "field"),
    [
        (lambda ca: p12(ca), "sai-mật-khẩu", "p12_password", "password"),
        (lambda ca: b"0\x82\x01\x00not a pkcs12 at all", PASSWORD, "p12_corrupt", "p12_file"),
        (lambda ca: p12(ca, **expired_window()), PASSWORD, "certificate_expired", "p12_file"),
    ],
)
def test_import_refusals_are_specific_and_store_nothing(office, ca, make, password, code, field):
    with pytest.raises(OfficeError) as refused:
        actions_signing.credential_import(
            actor=office.leader, p12_bytes=make(ca), password=password
        )
    assert refused.value.code == code and refused.value.field == field
    assert refused.value.message_vi and refused.value.message_en
    assert not SigningCredential.objects.exists()


def test_a_new_import_deactivates_the_old_one_and_keeps_it(office, ca):
    first = actions_signing.credential_import(
        actor=office.leader, p12_bytes=p12(ca), password=PASSWORD
    )
    second = actions_signing.credential_import(
        actor=office.leader, p12_bytes=p12(ca), password=PASSWORD
    )
    first.refresh_from_db()
    assert not first.active and first.deactivated_at and second.active
    actions_signing.credential_deactivate(actor=office.leader, credential=second)
    assert SigningCredential.objects.filter(user=office.leader, active=False).count() == 2
    with pytest.raises(IntegrityError), transaction.atomic():  # the database holds the rule
        SigningCredential.objects.filter(pk__in=[first.pk, second.pk]).update(active=True)


def test_seal_is_for_clerks_and_leaders_and_its_password_is_encrypted(office, ca):
    with pytest.raises(PermissionDenied):
        actions_signing.credential_import(
            actor=office.staff, p12_bytes=p12(ca, name="Bộ GDĐT"), password=PASSWORD, kind="seal"
        )
    seal = actions_signing.credential_import(
        actor=office.clerk, p12_bytes=p12(ca, name="Bộ GDĐT"), password=PASSWORD, kind="seal"
    )
    assert decrypt_identifier(seal.password_encrypted) == PASSWORD
    assert PASSWORD.encode() not in bytes(seal.password_encrypted)


def test_someone_elses_certificate_cannot_be_imported_twice(office, ca):
    data = p12(ca)
    actions_signing.credential_import(actor=office.leader, p12_bytes=data, password=PASSWORD)
    with pytest.raises(OfficeError) as refused:
        actions_signing.credential_import(actor=office.staff, p12_bytes=data, password=PASSWORD)
    assert refused.value.code == "credential_taken"


# -- approval by signing -----------------------------------------------------------------------


def test_sign_and_approve_end_to_end(office, ca, trusted, trust):
    actions_signing.credential_import(actor=office.leader, p12_bytes=p12(ca), password=PASSWORD)
    submission = submitted(office)
    before = main_bytes(submission.document)
    version = actions_signing.submission_sign_and_approve(
        actor=office.leader, submission=submission, password=PASSWORD, comment="Đồng ý"
    )
    submission.refresh_from_db()
    doc = Document.objects.get(pk=submission.document_id)
    assert submission.status == "approved" and doc.status == "approved" and version.signed
    signed = main_bytes(doc)
    assert signed.startswith(before) and len(signed) > len(before)
    from vnemis.office.signing.verify import pdf_verify

    report = pdf_verify(pdf=signed, trust=trust)
    assert report.all_valid and report.signatures[-1].signer_name == "Trần Thị Bình"
    # The stamp carries the document's competence and position.
    text = subprocess.run(
        ["pdftotext", "-", "-"], input=signed, capture_output=True, check=True
    ).stdout.decode()
    assert "KT. BỘ TRƯỞNG Thứ trưởng" in text
    # the signed version was validated on the way in
    check = AttachmentSignatures.objects.get(attachment__version=version, attachment__is_main=True)
    assert check.all_valid and check.results[0]["outcome"] == "valid"
    if shutil.which("pdfsig"):
        path = trusted.parent / "signed.pdf"
        path.write_bytes(signed)
        out = subprocess.run(["pdfsig", "-nocert", str(path)], capture_output=True, text=True)
        assert "Signature is Valid" in out.stdout, out.stdout + out.stderr


def test_wrong_password_changes_nothing(office, ca, trusted):
    actions_signing.credential_import(actor=office.leader, p12_bytes=p12(ca), password=PASSWORD)
    submission = submitted(office)
    versions = submission.document.versions.count()
    with pytest.raises(OfficeError) as refused:
        actions_signing.submission_sign_and_approve(
            actor=office.leader, submission=submission, password="không đúng"
        )
    assert refused.value.code == "p12_password" and refused.value.field == "password"
    submission.refresh_from_db()
    assert submission.status == "pending"
    assert submission.document.versions.count() == versions
    assert Document.objects.get(pk=submission.document_id).status == "submitted"


def test_no_credential_is_refused(office, trusted):
    submission = submitted(office)
    with pytest.raises(OfficeError) as refused:
        actions_signing.submission_sign_and_approve(
            actor=office.leader, submission=submission, password=PASSWORD
        )
    assert refused.value.code == "no_credential"


def test_a_pdf_signed_with_another_users_certificate_is_refused(office, ca, trusted):
    """The upload path goes through the same check: valid, trusted, but not the leader's."""
    actions_signing.credential_import(actor=office.leader, p12_bytes=p12(ca), password=PASSWORD)
    from vnemis.office.signing.credentials import credential_load

    other = credential_load(data=p12(ca, name="Lê Văn Khác"), password=PASSWORD)
    submission = submitted(office)
    signed = pdf_sign(pdf=main_bytes(submission.document), request=SignRequest(credential=other))
    with pytest.raises(OfficeError) as refused:
        workflow.approve_by_signing(actor=office.leader, submission=submission, signed_pdf=signed)
    assert refused.value.code == "not_your_certificate"
    submission.refresh_from_db()
    assert submission.status == "pending"


def test_an_untrusted_signature_is_refused(office, ca, other_ca, trusted):
    from vnemis.office.signing.credentials import credential_load

    data = p12(other_ca)
    actions_signing.credential_import(actor=office.leader, p12_bytes=data, password=PASSWORD)
    submission = submitted(office)
    with pytest.raises(OfficeError) as refused:
        actions_signing.submission_sign_and_approve(
            actor=office.leader, submission=submission, password=PASSWORD
        )
    assert refused.value.code == "signature_not_valid"
    assert "Không xác định được người ký" in refused.value.message_vi
    assert credential_load(data=data, password=PASSWORD)  # the credential itself is fine
    assert Submission.objects.get(pk=submission.pk).status == "pending"


def test_another_organisations_leader_cannot_sign(office, ca, trusted):
    actions_signing.credential_import(
        actor=office.so_leader, p12_bytes=p12(ca, name="Lãnh đạo Sở"), password=PASSWORD
    )
    submission = submitted(office)
    with pytest.raises(PermissionDenied):
        actions_signing.submission_sign_and_approve(
            actor=office.so_leader, submission=submission, password=PASSWORD
        )
    assert Submission.objects.get(pk=submission.pk).status == "pending"


def test_seal_after_issue(office, ca, trusted, trust):
    actions_signing.credential_import(actor=office.leader, p12_bytes=p12(ca), password=PASSWORD)
    actions_signing.credential_import(
        actor=office.clerk, p12_bytes=p12(ca, name="Bộ GDĐT"), password=PASSWORD, kind="seal"
    )
    submission = submitted(office)
    actions_signing.submission_sign_and_approve(
        actor=office.leader, submission=submission, password=PASSWORD
    )
    doc = actions.outgoing_issue(actor=office.clerk, document=submission.document)
    with pytest.raises(PermissionDenied):
        actions_signing.document_seal(actor=office.staff, document=doc)
    version = actions_signing.document_seal(actor=office.clerk, document=doc)
    from vnemis.office.signing.verify import pdf_verify

    report = pdf_verify(pdf=main_bytes(doc), trust=trust)
    assert version.signed and report.all_valid and len(report.signatures) == 2
    assert report.signatures[-1].signer_name == "Bộ GDĐT"
    with pytest.raises(OfficeError) as again:
        actions_signing.document_seal(actor=office.clerk, document=doc)
    assert again.value.code == "already_sealed"


# -- incoming files ----------------------------------------------------------------------------


def _signed_by_ca(ca, data: bytes) -> bytes:
    from vnemis.office.signing.credentials import credential_load

    cred = credential_load(data=p12(ca, name="Nguyễn Văn Phong"), password=PASSWORD)
    return pdf_sign(pdf=data, request=SignRequest(credential=cred, kind=SignKind.SIGNATURE))


def _incoming_with(office, data: bytes, number: int):
    doc = register_incoming(
        office, text=None, number=number, main=pdf_check(name="den.pdf", data=data)
    )
    attachment = doc.versions.get().files.get(is_main=True)
    return doc, AttachmentSignatures.objects.get(attachment=attachment)


def test_incoming_files_are_validated_when_attached(office, ca, trusted):
    valid = _signed_by_ca(ca, pdf_bytes("Quyết định số 1"))
    _doc, check = _incoming_with(office, valid, 1)
    assert check.status == "checked" and check.all_valid
    assert check.results[0]["signer"] == "Nguyễn Văn Phong" and check.results[0]["signing_time_vn"]

    modified = append_page_content(_signed_by_ca(ca, pdf_bytes("Quyết định số 2")))
    _doc, check = _incoming_with(office, modified, 2)
    assert check.status == "checked" and not check.all_valid
    assert check.results[0]["outcome"] == "modified"

    _doc, check = _incoming_with(office, pdf_bytes("Công văn không ký"), 3)
    assert check.status == "none" and check.results == []


def test_incoming_signature_results_on_the_page_and_scope(client, office, ca, trusted):
    doc, _check = _incoming_with(office, _signed_by_ca(ca, pdf_bytes("Quyết định số 7")), 7)
    unsigned, _check = _incoming_with(office, pdf_bytes("Không ký"), 8)
    client.force_login(office.clerk)
    page = client.get(f"/office/documents/{doc.pk}/").content.decode()
    assert "Hợp lệ" in page and "Nguyễn Văn Phong" in page
    page = client.get(f"/office/documents/{unsigned.pk}/").content.decode()
    assert "không có chữ ký số" in page
    client.force_login(office.so_staff)
    assert client.get(f"/office/documents/{doc.pk}/").status_code == 404


# -- pages -------------------------------------------------------------------------------------


def test_credentials_page_import_list_and_deactivate(client, office, ca):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(office.leader)
    page = client.get("/office/credentials/")
    assert page.status_code == 200 and "Chứng thư số của tôi" in page.content.decode()
    bad = client.post(
        "/office/credentials/",
        {"p12_file": SimpleUploadedFile("a.p12", p12(ca)), "password": "sai", "kind": "personal"},
    )
    assert (
        bad.status_code == 400 and "Mật khẩu của tệp chứng thư không đúng" in bad.content.decode()
    )
    ok = client.post(
        "/office/credentials/",
        {
            "p12_file": SimpleUploadedFile("a.p12", p12(ca)),
            "password": PASSWORD,
            "kind": "personal",
        },
    )
    assert ok.status_code == 302
    cred = SigningCredential.objects.get(user=office.leader)
    assert "Trần Thị Bình" in client.get("/office/credentials/").content.decode()
    # another user can neither see nor revoke it
    client.force_login(office.so_leader)
    assert "Trần Thị Bình" not in client.get("/office/credentials/").content.decode()
    assert client.post(f"/office/credentials/{cred.pk}/deactivate/").status_code == 403
    client.force_login(office.leader)
    assert client.post(f"/office/credentials/{cred.pk}/deactivate/").status_code == 302
    cred.refresh_from_db()
    assert not cred.active


def test_sign_and_approve_page(client, office, ca, trusted):
    actions_signing.credential_import(actor=office.leader, p12_bytes=p12(ca), password=PASSWORD)
    submission = submitted(office)
    doc = submission.document
    client.force_login(office.leader)
    page = client.get(f"/office/documents/{doc.pk}/").content.decode()
    assert "Ký số và phê duyệt" in page and 'id="sign-form"' in page
    wrong = client.post(f"/office/submissions/{submission.pk}/sign/", {"password": "sai"})
    assert wrong.status_code == 400
    assert "Mật khẩu của tệp chứng thư không đúng" in wrong.content.decode()
    client.force_login(office.outsider)
    assert (
        client.post(
            f"/office/submissions/{submission.pk}/sign/", {"password": PASSWORD}
        ).status_code
        == 404
    )
    client.force_login(office.leader)
    done = client.post(f"/office/submissions/{submission.pk}/sign/", {"password": PASSWORD})
    assert done.status_code == 302
    assert Document.objects.get(pk=doc.pk).status == "approved"
