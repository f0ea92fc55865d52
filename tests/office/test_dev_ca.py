"""The development CA: what it writes, how its certificates are made, and its refusals."""

import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtensionOID, NameOID

from vnemis.office.signing.credentials import credential_load_file
from vnemis.office.signing.dev_ca import (
    ca_create,
    certificate_issue,
    dev_ca_files,
    dev_ca_load,
    dev_ca_write,
)
from vnemis.office.signing.errors import SigningError


def test_dev_ca_writes_the_ca_a_user_and_a_seal_with_secrets_private(dev_dir):
    files = dev_ca_files(dev_dir)
    for path in files.all():
        assert path.is_file(), path
    for secret in (files.ca_key, files.ca_password, files.user_p12, files.user_password,
                   files.seal_p12, files.seal_password):  # fmt: skip
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600, secret
    assert stat.S_IMODE(files.ca_pem.stat().st_mode) == 0o644
    assert not list(dev_dir.glob(".*.tmp"))


def test_the_root_is_a_ca_and_issues_the_user_certificate(dev_dir):
    files = dev_ca_files(dev_dir)
    root = x509.load_pem_x509_certificate(files.ca_pem.read_bytes())
    constraints = root.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value
    assert constraints.ca and constraints.path_length == 0
    assert root.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE).value.key_cert_sign
    password = files.user_password.read_text().strip().encode()
    key, cert, chain = pkcs12.load_key_and_certificates(files.user_p12.read_bytes(), password)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    cert.verify_directly_issued_by(root)
    assert [c.subject for c in chain] == [root.subject]
    usage = cert.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE).value
    assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign
    subject = cert.subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Nguyễn Văn An"
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == (
        "Bộ Giáo dục và Đào tạo"
    )
    assert subject.get_attributes_for_oid(NameOID.EMAIL_ADDRESS)[0].value == "nvan@example.edu.vn"


def test_the_ca_key_is_encrypted_and_opens_with_its_password(dev_dir):
    files = dev_ca_files(dev_dir)
    pem = files.ca_key.read_bytes()
    assert b"ENCRYPTED PRIVATE KEY" in pem
    with pytest.raises(TypeError):  # a password is required
        serialization.load_pem_private_key(pem, password=None)
    with pytest.raises(ValueError):
        serialization.load_pem_private_key(pem, password=b"wrong")
    ca = dev_ca_load(dev_dir)
    more = certificate_issue(ca=ca, name="Người thứ hai")
    more.certificate.verify_directly_issued_by(ca.certificate)


def test_the_seal_and_user_files_load_as_credentials(dev_dir):
    files = dev_ca_files(dev_dir)
    user = credential_load_file(path=files.user_p12, password_file=files.user_password)
    seal = credential_load_file(path=files.seal_p12, password_file=files.seal_password)
    assert (user.name, user.title) == ("Nguyễn Văn An", "Chuyên viên")
    assert seal.name == seal.organisation == "Bộ Giáo dục và Đào tạo"
    assert user.fingerprint != seal.fingerprint


def test_an_existing_ca_is_not_replaced_without_force(tmp_path):
    out = tmp_path / "ca"
    dev_ca_write(out=out)
    before = (out / "ca.pem").read_bytes()
    with pytest.raises(SigningError) as refused:
        dev_ca_write(out=out)
    assert refused.value.code == "dev_ca_exists"
    assert "--force" in refused.value.message_vi and "--force" in refused.value.message_en
    assert (out / "ca.pem").read_bytes() == before
    dev_ca_write(out=out, force=True)
    assert (out / "ca.pem").read_bytes() != before


def test_rsa_keys_on_request_and_an_unknown_key_type_refused():
    ca = ca_create(key_type="rsa")
    assert isinstance(ca.key, rsa.RSAPrivateKey) and ca.key.key_size == 2048
    with pytest.raises(SigningError) as refused:
        ca_create(key_type="dsa")
    assert refused.value.code == "key_type"
