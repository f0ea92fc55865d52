"""edXML signatures: signed messages verify and name their signer; tampering, strangers,
expired certificates, unsigned messages and odd signature shapes are each refused."""

import base64
from datetime import UTC, datetime, timedelta

import pytest
import signxml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from lxml import etree

from vnemis.office.edxml import (
    NAMESPACE,
    EdxmlError,
    message_build,
    message_parse,
    message_sign,
    message_verify,
    status_build,
    status_parse,
    trusted_load,
)

from .test_edxml import ATT, BILLION_LAUGHS, MH, H, find, mutate, sample_message, sample_status

DS = "{http://www.w3.org/2000/09/xmldsig#}"
NOW = datetime.now(UTC)


def _name(common_name: str, organization: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_usage(**set_bits) -> x509.KeyUsage:
    bits = dict.fromkeys(
        (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    bits.update(set_bits)
    return x509.KeyUsage(**bits)


class CA:
    """A tiny certificate authority: one self-signed root that issues signing certificates."""

    def __init__(self, common_name: str, organization: str = "Cơ quan chứng thực thử nghiệm"):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = _name(common_name, organization)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(self.name)
            .issuer_name(self.name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - timedelta(days=3650))
            .not_valid_after(NOW + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )

    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def issue(
        self,
        common_name: str,
        *,
        key=None,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        usage: x509.KeyUsage | None = None,
    ):
        key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name, "Bộ Giáo dục và Đào tạo"))
            .issuer_name(self.name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or NOW - timedelta(days=30))
            .not_valid_after(not_after or NOW + timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                usage or _key_usage(digital_signature=True, content_commitment=True), critical=True
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        return key, certificate


@pytest.fixture(scope="module")
def ca():
    return CA("Root CA thử nghiệm vnemis")


@pytest.fixture(scope="module")
def stranger_ca():
    return CA("Some Other Root CA", "Không phải của chúng ta")


@pytest.fixture(scope="module")
def rsa_signer(ca):
    return ca.issue("Nguyễn Thị Kim Chi")


@pytest.fixture(scope="module")
def ec_signer(ca):
    return ca.issue("Văn thư Bộ GD&ĐT", key=ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture(scope="module")
def signed(rsa_signer):
    key, certificate = rsa_signer
    return message_sign(message_build(sample_message()), key=key, certificate=certificate)


def refused(code: str, data: bytes, trusted, **kwargs) -> EdxmlError:
    with pytest.raises(EdxmlError) as info:
        message_verify(data, trusted=trusted, **kwargs)
    assert info.value.code == code, info.value.bilingual()
    assert info.value.message_vi and info.value.message_en
    return info.value


def _sign_raw(data: bytes, key, certificate, signer: signxml.XMLSigner, **sign_kwargs) -> bytes:
    """Sign with a hand-configured signxml signer, placing the signature where edXML puts it."""
    root = etree.fromstring(data)
    header = find(root, H)
    etree.SubElement(header, f"{DS}Signature", {"Id": "placeholder"}, nsmap={"ds": DS[1:-1]})
    cert = [certificate] if certificate is not None else None
    signed = signer.sign(root, key=key, cert=cert, **sign_kwargs)
    return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")


# ---------------------------------------------------------------------------------------------
# Valid signatures


def test_rsa_signature_verifies_and_names_the_signer(ca, rsa_signer, signed):
    signer = message_verify(signed, trusted=trusted_load(ca.pem()))
    assert signer.common_name == "Nguyễn Thị Kim Chi"
    assert signer.organization == "Bộ Giáo dục và Đào tạo"
    assert signer.signature_method == "rsa-sha256"
    assert signer.serial_number == rsa_signer[1].serial_number
    assert signer.fingerprint_sha256 == rsa_signer[1].fingerprint(hashes.SHA256()).hex()
    assert "Root CA thử nghiệm vnemis" in signer.issuer


def test_signature_sits_in_the_header_over_the_whole_message(signed):
    root = etree.fromstring(signed)
    signature = root.find(f".//{DS}Signature")
    assert etree.QName(signature.getparent()).localname == "edXMLHeader"
    assert signature.getparent().getparent().tag == f"{{{NAMESPACE}}}edXMLEnvelope"
    reference = signature.find(f"{DS}SignedInfo/{DS}Reference")
    assert reference.get("URI") == ""
    algorithms = [t.get("Algorithm") for t in reference.iter(f"{DS}Transform")]
    assert algorithms[0] == "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
    assert signature.find(f"{DS}SignedInfo/{DS}CanonicalizationMethod").get("Algorithm") == (
        "http://www.w3.org/2001/10/xml-exc-c14n#"
    )
    assert reference.find(f"{DS}DigestMethod").get("Algorithm").endswith("#sha256")
    assert signature.find(f"{DS}KeyInfo/{DS}X509Data/{DS}X509Certificate").text


def test_signed_message_still_parses_to_the_same_message(signed):
    assert message_parse(signed) == sample_message()


def test_ecdsa_signature(ca, ec_signer):
    key, certificate = ec_signer
    pem_key = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"mat-khau"),
    )
    data = message_sign(
        message_build(sample_message()),
        key=pem_key,
        password=b"mat-khau",
        certificate=certificate.public_bytes(serialization.Encoding.PEM),
    )
    signer = message_verify(data, trusted=trusted_load(ca.pem().decode()))
    assert (signer.common_name, signer.signature_method) == ("Văn thư Bộ GD&ĐT", "ecdsa-sha256")


def test_rsa_sha1_accepted_on_input(ca, rsa_signer):
    """The standard's samples sign with RSA-SHA1; signxml refuses it unless configured."""

    class Sha1Signer(signxml.XMLSigner):
        def check_deprecated_methods(self):  # the samples' algorithm, for this test only
            pass

    key, certificate = rsa_signer
    data = _sign_raw(
        message_build(sample_message()),
        key,
        certificate,
        Sha1Signer(
            signature_algorithm=signxml.SignatureMethod.RSA_SHA1,
            digest_algorithm=signxml.DigestAlgorithm.SHA1,
            c14n_algorithm=signxml.CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
        ),
    )
    assert b"xmldsig#rsa-sha1" in data and b"xmldsig#sha1" in data
    assert message_verify(data, trusted=[ca.certificate]).signature_method == "rsa-sha1"
    # signxml's defaults would have refused this signature
    with pytest.raises(signxml.InvalidInput):
        signxml.XMLVerifier().verify(data, x509_cert=certificate)


def test_intermediate_ca_in_the_signature(ca):
    intermediate_key = ec.generate_private_key(ec.SECP256R1())
    intermediate_name = _name("Sub CA thử nghiệm", "Cơ quan chứng thực thử nghiệm")
    intermediate = (
        x509.CertificateBuilder()
        .subject_name(intermediate_name)
        .issuer_name(ca.name)
        .public_key(intermediate_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=10))
        .not_valid_after(NOW + timedelta(days=1000))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(intermediate_key.public_key()),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
        .sign(ca.key, hashes.SHA256())
    )
    sub = CA.__new__(CA)
    sub.key, sub.name, sub.certificate = intermediate_key, intermediate_name, intermediate
    key, certificate = sub.issue("Trần Văn Bình", key=ec.generate_private_key(ec.SECP256R1()))
    data = message_sign(
        message_build(sample_message()), key=key, certificate=certificate, chain=[intermediate]
    )
    assert message_verify(data, trusted=[ca.certificate]).common_name == "Trần Văn Bình"
    unchained = message_sign(message_build(sample_message()), key=key, certificate=certificate)
    refused("edxml_signer_untrusted", unchained, [ca.certificate])


def test_status_message_signed_and_verified(ca, ec_signer):
    key, certificate = ec_signer
    data = message_sign(status_build(sample_status("02")), key=key, certificate=certificate)
    root = etree.fromstring(data)
    assert root[-1].tag == f"{DS}Signature"
    assert message_verify(data, trusted=[ca.certificate]).common_name == "Văn thư Bộ GD&ĐT"
    assert status_parse(data) == sample_status("02")
    tampered = data.replace(b">02<", b">03<")
    refused("edxml_signature_invalid", tampered, [ca.certificate])


# ---------------------------------------------------------------------------------------------
# Refusals


def test_unsigned(ca):
    refused("edxml_unsigned", message_build(sample_message()), [ca.certificate])
    refused("edxml_unsigned", status_build(sample_status()), [ca.certificate])


def test_tampered_header(ca, signed):
    tampered = signed.replace("Về việc ban hành".encode(), "Về việc hủy bỏ".encode())
    assert tampered != signed
    message_parse(tampered)  # still a well-formed message, only the signature tells
    error = refused("edxml_signature_invalid", tampered, [ca.certificate])
    assert "changed after signing" in error.message_en


def test_tampered_recipient_added(ca, signed):
    def change(root):
        to = find(root, f"{MH}/e:To[1]")
        extra = etree.fromstring(etree.tostring(to))
        find(extra, "e:OrganId").text = "000.00.99.H99"
        to.addnext(extra)

    refused("edxml_signature_invalid", mutate(signed, change), [ca.certificate])


def test_tampered_attachment(ca, signed):
    def change(root):
        encoded = find(root, f"{ATT}[1]/e:ContentTransferEncoded")
        data = bytearray(base64.b64decode(encoded.text))
        data[10] ^= 0x01  # one bit of the signed PDF
        encoded.text = base64.b64encode(bytes(data)).decode()

    tampered = mutate(signed, change)
    assert message_parse(tampered).attachments[0].data != sample_message().attachments[0].data
    refused("edxml_signature_invalid", tampered, [ca.certificate])


def test_attachment_swapped_for_another(ca, signed):
    def change(root):
        first = find(root, f"{ATT}[1]/e:ContentTransferEncoded")
        first.text = base64.b64encode(b"%PDF-1.7 a different decision").decode()

    refused("edxml_signature_invalid", mutate(signed, change), [ca.certificate])


def test_signature_value_tampered(ca, signed):
    def change(root):
        value = root.find(f".//{DS}SignatureValue")
        raw = bytearray(base64.b64decode(value.text))
        raw[0] ^= 0xFF
        value.text = base64.b64encode(bytes(raw)).decode()

    error = refused("edxml_signature_invalid", mutate(signed, change), [ca.certificate])
    assert "signature value" in error.message_en


def test_wrong_ca(stranger_ca, signed):
    error = refused("edxml_signer_untrusted", signed, trusted_load(stranger_ca.pem()))
    assert "Nguyễn Thị Kim Chi" in error.message_vi
    refused("edxml_signer_untrusted", signed, [])


def test_certificate_swapped_for_a_strangers(ca, stranger_ca, signed):
    """A stranger re-signs a copy with their own certificate: trusted chain or nothing."""
    _, stranger_certificate = stranger_ca.issue("Phạm Văn Giả")

    def change(root):
        cert = root.find(f".//{DS}X509Certificate")
        der = stranger_certificate.public_bytes(serialization.Encoding.DER)
        cert.text = base64.b64encode(der).decode()

    refused("edxml_signer_untrusted", mutate(signed, change), [ca.certificate])


def test_certificate_swapped_for_another_trusted_one(ca, ec_signer, signed):
    """Someone else's trusted certificate in front of the original signature: value mismatch."""

    def change(root):
        cert = root.find(f".//{DS}X509Certificate")
        der = ec_signer[1].public_bytes(serialization.Encoding.DER)
        cert.text = base64.b64encode(der).decode()

    refused("edxml_signature_invalid", mutate(signed, change), [ca.certificate])


def test_expired_certificate(ca):
    key, certificate = ca.issue(
        "Cán bộ đã nghỉ hưu",
        not_before=NOW - timedelta(days=800),
        not_after=NOW - timedelta(days=2),
    )
    data = message_sign(message_build(sample_message()), key=key, certificate=certificate)
    error = refused("edxml_certificate_expired", data, [ca.certificate])
    assert (NOW - timedelta(days=2)).strftime("%Y") in error.message_en
    # Verified at a moment inside its validity (e.g. the message's arrival time), it is fine.
    at = NOW - timedelta(days=100)
    assert message_verify(data, trusted=[ca.certificate], at=at).common_name == (
        "Cán bộ đã nghỉ hưu"
    )


def test_certificate_not_yet_valid(ca):
    key, certificate = ca.issue(
        "Cán bộ mới", not_before=NOW + timedelta(days=5), not_after=NOW + timedelta(days=400)
    )
    data = message_sign(message_build(sample_message()), key=key, certificate=certificate)
    refused("edxml_certificate_not_yet_valid", data, [ca.certificate])


def test_certificate_not_for_signing(ca):
    key, certificate = ca.issue("Máy chủ", usage=_key_usage(key_encipherment=True))
    data = message_sign(message_build(sample_message()), key=key, certificate=certificate)
    assert "Máy chủ" in refused("edxml_certificate_usage", data, [ca.certificate]).message_vi


def test_signature_over_part_of_the_message_refused(ca, rsa_signer):
    """Signing only the envelope (by Id) would leave the attachments open to substitution."""
    key, certificate = rsa_signer

    def add_id(root):
        find(root, "/e:edXML/e:edXMLEnvelope").set("Id", "envelope")

    data = _sign_raw(
        mutate(message_build(sample_message()), add_id),
        key,
        certificate,
        signxml.XMLSigner(
            c14n_algorithm=signxml.CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0
        ),
        reference_uri="#envelope",
    )
    error = refused("edxml_signature_invalid", data, [ca.certificate])
    assert "whole message" in error.message_en


def test_signature_moved_out_of_the_header(ca, signed):
    def change(root):
        signature = root.find(f".//{DS}Signature")
        root.append(signature)

    error = refused("edxml_signature_invalid", mutate(signed, change), [ca.certificate])
    assert "edXMLHeader" in error.message_en


def test_two_signatures_refused(ca, signed):
    def change(root):
        signature = root.find(f".//{DS}Signature")
        signature.addnext(etree.fromstring(etree.tostring(signature)))

    error = refused("edxml_signature_invalid", mutate(signed, change), [ca.certificate])
    assert "more than one" in error.message_en


def test_hmac_signature_refused(ca):
    data = _sign_raw(
        message_build(sample_message()),
        b"a shared secret",
        None,
        signxml.XMLSigner(signature_algorithm=signxml.SignatureMethod.HMAC_SHA256),
    )
    refused("edxml_signature_algorithm", data, [ca.certificate])


def test_signature_without_certificate_refused(ca, signed):
    def change(root):
        key_info = root.find(f".//{DS}KeyInfo")
        key_info.getparent().remove(key_info)

    refused("edxml_signature_invalid", mutate(signed, change), [ca.certificate])


def test_sign_refuses_what_is_not_edxml(rsa_signer):
    key, certificate = rsa_signer
    with pytest.raises(EdxmlError) as info:
        message_sign(b"<invoice/>", key=key, certificate=certificate)
    assert info.value.code == "edxml_wrong_root"
    with pytest.raises(EdxmlError) as info:
        message_sign(b"<!DOCTYPE x []><x/>", key=key, certificate=certificate)
    assert info.value.code == "edxml_dtd_forbidden"
    signed_once = message_sign(message_build(sample_message()), key=key, certificate=certificate)
    with pytest.raises(ValueError, match="already signed"):
        message_sign(signed_once, key=key, certificate=certificate)


def test_verify_refuses_hostile_xml(ca):
    refused("edxml_dtd_forbidden", BILLION_LAUGHS, [ca.certificate])
    refused("edxml_not_xml", b"<edXML", [ca.certificate])
    refused("edxml_wrong_root", b"<invoice/>", [ca.certificate])
    refused("edxml_too_large", message_build(sample_message()), [ca.certificate], max_bytes=10)
