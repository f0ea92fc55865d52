"""Signing an edXML message (or status message) with XML-DSig, and verifying who signed it.

The signature is enveloped: a ``ds:Signature`` placed as the last child of
``edXMLEnvelope/edXMLHeader`` (of the root for a status message) with one ``Reference URI=""``
over the whole document, so the header, the manifest and every attachment's bytes are covered;
the enveloped-signature transform leaves the signature itself out. Canonicalisation is exclusive
C14N, the digest SHA-256, the signature RSA-SHA256 or ECDSA-SHA256 by the key's type, and the
signer's certificate (and any intermediates) is embedded in ``KeyInfo/X509Data``.

Verification takes the trusted CA certificates and refuses, each with its own code: a message
with no signature; a signature elsewhere or over less than the whole document; one whose
digest or value does not verify (tampered); an algorithm outside the accepted set; a
certificate outside its validity period or whose key usage does not allow signing; a signer
whose chain does not reach a trusted CA. The public samples of the standard sign with
RSA-SHA1, so RSA-SHA1 and SHA-1 digests are accepted on input (signxml refuses them unless
told); nothing vnemis writes uses SHA-1. Revocation (CRL/OCSP) is not checked: no network.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import signxml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)
from lxml import etree
from signxml import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureConfiguration,
    SignatureMethod,
    XMLSigner,
    XMLVerifier,
)

from .codes import DEFAULT_MAX_MESSAGE_BYTES, DSIG_NAMESPACE, NAMESPACE, VN
from .model import EdxmlError
from .parse import safe_parser, status_element, xml_load

ACCEPTED_SIGNATURE_METHODS = frozenset(
    {
        SignatureMethod.RSA_SHA1,  # the standard's samples
        SignatureMethod.RSA_SHA256,
        SignatureMethod.RSA_SHA384,
        SignatureMethod.RSA_SHA512,
        SignatureMethod.ECDSA_SHA256,
        SignatureMethod.ECDSA_SHA384,
        SignatureMethod.ECDSA_SHA512,
    }
)
ACCEPTED_DIGESTS = frozenset(
    {DigestAlgorithm.SHA1, DigestAlgorithm.SHA256, DigestAlgorithm.SHA384, DigestAlgorithm.SHA512}
)
C14N = CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0
DS = f"{{{DSIG_NAMESPACE}}}"


@dataclass(frozen=True)
class Signer:
    """Who signed a verified message, from their certificate."""

    common_name: str
    organization: str
    subject: str  # RFC 4514
    issuer: str
    serial_number: int
    not_valid_before: datetime
    not_valid_after: datetime
    fingerprint_sha256: str  # hex
    signature_method: str  # e.g. "rsa-sha256"
    certificate: x509.Certificate = field(repr=False, compare=False)


def _invalid(detail_vi: str, detail_en: str) -> EdxmlError:
    return EdxmlError.of("edxml_signature_invalid", detail_vi=detail_vi, detail_en=detail_en)


def _signature_parent(root: etree._Element) -> etree._Element:
    """Where the signature goes: ``edXMLEnvelope/edXMLHeader``, or the ``Status`` element."""
    if root.tag == f"{{{NAMESPACE}}}edXML":
        header = root.find(f"{{{NAMESPACE}}}edXMLEnvelope/{{{NAMESPACE}}}edXMLHeader")
        if header is None:
            raise EdxmlError.of("edxml_missing_element", element="edXMLEnvelope/edXMLHeader")
        return header
    return status_element(root)


def _location(root: etree._Element, parent: etree._Element) -> str:
    """The signxml ``location`` (an ElementPath prefix) of ``parent`` below ``root``."""
    steps = []
    node = parent
    while node is not root:
        steps.append(node.tag)
        node = node.getparent()
    return "./" + "".join(f"{tag}/" for tag in reversed(steps))


def _load_certificate(value: x509.Certificate | bytes | str) -> x509.Certificate:
    if isinstance(value, x509.Certificate):
        return value
    return x509.load_pem_x509_certificate(value.encode() if isinstance(value, str) else value)


def trusted_load(*pems: bytes | str | x509.Certificate) -> tuple[x509.Certificate, ...]:
    """CA certificates from PEM bundles (each may hold several) or certificate objects."""
    certificates: list[x509.Certificate] = []
    for pem in pems:
        if isinstance(pem, x509.Certificate):
            certificates.append(pem)
        else:
            certificates.extend(
                x509.load_pem_x509_certificates(pem.encode() if isinstance(pem, str) else pem)
            )
    return tuple(certificates)


def message_sign(
    data: bytes,
    *,
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | bytes,
    certificate: x509.Certificate | bytes,
    chain: Sequence[x509.Certificate | bytes] = (),
    password: bytes | None = None,
) -> bytes:
    """The message (or status message) bytes with an enveloped signature by ``key``."""
    root = xml_load(data, max_bytes=DEFAULT_MAX_MESSAGE_BYTES)
    if root.tag != f"{{{NAMESPACE}}}edXML":
        status_element(root)  # refuses anything that is neither a message nor a status
    if next(root.iter(f"{DS}Signature"), None) is not None:
        raise ValueError("the message is already signed")
    if isinstance(key, bytes):
        key = serialization.load_pem_private_key(key, password=password)
    if isinstance(key, rsa.RSAPrivateKey):
        method = SignatureMethod.RSA_SHA256
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        method = SignatureMethod.ECDSA_SHA256
    else:
        raise ValueError("edXML is signed with an RSA or ECDSA key")
    certificates = [_load_certificate(certificate), *(_load_certificate(c) for c in chain)]
    etree.SubElement(
        _signature_parent(root),
        f"{DS}Signature",
        {"Id": "placeholder"},
        nsmap={"ds": DSIG_NAMESPACE},
    )
    signer = XMLSigner(
        method=signxml.methods.enveloped,
        signature_algorithm=method,
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=C14N,
    )
    signed = signer.sign(root, key=key, cert=certificates)
    return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")


def _name(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else ""


def _key_usage(policy, certificate, key_usage: x509.KeyUsage | None) -> None:
    if key_usage is None or not (key_usage.digital_signature or key_usage.content_commitment):
        raise ValueError("the certificate's key usage does not allow signing")


def _check_period(certificate: x509.Certificate, at: datetime) -> None:
    subject = (
        _name(certificate.subject, NameOID.COMMON_NAME) or certificate.subject.rfc4514_string()
    )
    if at > certificate.not_valid_after_utc:
        day = certificate.not_valid_after_utc.astimezone(VN).strftime("%d/%m/%Y")
        raise EdxmlError.of("edxml_certificate_expired", subject=subject, date=day)
    if at < certificate.not_valid_before_utc:
        day = certificate.not_valid_before_utc.astimezone(VN).strftime("%d/%m/%Y")
        raise EdxmlError.of("edxml_certificate_not_yet_valid", subject=subject, date=day)


def _signature(root: etree._Element) -> tuple[etree._Element, SignatureMethod]:
    """The one signature, checked for place, coverage and algorithms (not yet cryptography)."""
    expected = _signature_parent(root)  # refuses what is neither a message nor a status
    signatures = list(root.iter(f"{DS}Signature"))
    if not signatures:
        raise EdxmlError.of("edxml_unsigned")
    if len(signatures) > 1:
        raise _invalid("gói tin có nhiều hơn một chữ ký", "the message has more than one signature")
    signature = signatures[0]
    parent = signature.getparent()
    if parent is not expected:
        raise _invalid(
            "chữ ký không nằm ở vị trí quy định (edXMLHeader)",
            "the signature is not where the format puts it (edXMLHeader)",
        )
    references = signature.findall(f"{DS}SignedInfo/{DS}Reference")
    if len(references) != 1 or references[0].get("URI") != "":
        raise _invalid(
            "chữ ký không bao trùm toàn bộ gói tin",
            "the signature does not cover the whole message",
        )
    method_el = signature.find(f"{DS}SignedInfo/{DS}SignatureMethod")
    algorithm = method_el.get("Algorithm", "") if method_el is not None else ""
    try:
        method = SignatureMethod(algorithm)
    except ValueError:
        method = None
    if method not in ACCEPTED_SIGNATURE_METHODS:
        raise EdxmlError.of("edxml_signature_algorithm", algorithm=algorithm or "?")
    digest_el = references[0].find(f"{DS}DigestMethod")
    digest = digest_el.get("Algorithm", "") if digest_el is not None else ""
    try:
        accepted = DigestAlgorithm(digest) in ACCEPTED_DIGESTS
    except ValueError:
        accepted = False
    if not accepted:
        raise EdxmlError.of("edxml_signature_algorithm", algorithm=digest or "?")
    return signature, method


def _certificates(signature: etree._Element) -> tuple[x509.Certificate, list[x509.Certificate]]:
    """The signing certificate and the intermediates the signature carries."""
    texts = [
        "".join(el.itertext())
        for el in signature.findall(f"{DS}KeyInfo/{DS}X509Data/{DS}X509Certificate")
    ]
    if not texts:
        raise _invalid(
            "chữ ký không kèm chứng thư số", "the signature carries no X.509 certificate"
        )
    try:
        certificates = [
            x509.load_der_x509_certificate(base64.b64decode("".join(t.split()), validate=True))
            for t in texts
        ]
    except ValueError:
        raise _invalid("không đọc được chứng thư số", "a certificate cannot be read") from None

    def is_ca(c: x509.Certificate) -> bool:
        try:
            return c.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            return False

    leaf = next((c for c in certificates if not is_ca(c)), certificates[0])
    return leaf, [c for c in certificates if c is not leaf]


def message_verify(
    data: bytes,
    *,
    trusted: Iterable[x509.Certificate],
    at: datetime | None = None,
    max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
) -> Signer:
    """Who signed the message, once its signature and certificate chain check out.

    ``trusted`` are the CA certificates (``trusted_load`` reads PEM); ``at`` is the moment the
    certificates must be valid at (now by default).
    """
    at = (at or datetime.now(UTC)).astimezone(UTC)
    root = xml_load(data, max_bytes=max_bytes)
    signature, method = _signature(root)
    leaf, intermediates = _certificates(signature)
    subject = _name(leaf.subject, NameOID.COMMON_NAME) or leaf.subject.rfc4514_string()
    for certificate in (leaf, *intermediates):
        _check_period(certificate, at)
    try:
        _key_usage(None, leaf, leaf.extensions.get_extension_for_class(x509.KeyUsage).value)
    except (x509.ExtensionNotFound, ValueError):
        raise EdxmlError.of("edxml_certificate_usage", subject=subject) from None
    anchors = list(trusted)
    if not anchors:
        raise EdxmlError.of("edxml_signer_untrusted", subject=subject)
    verifier = (
        PolicyBuilder()
        .store(Store(anchors))
        .time(at)
        .extension_policies(
            ee_policy=ExtensionPolicy.permit_all().require_present(
                x509.KeyUsage, Criticality.AGNOSTIC, _key_usage
            ),
            ca_policy=ExtensionPolicy.webpki_defaults_ca(),
        )
        .build_client_verifier()
    )
    try:
        verifier.verify(leaf, intermediates)
    except VerificationError:
        raise EdxmlError.of("edxml_signer_untrusted", subject=subject) from None
    config = SignatureConfiguration(
        require_x509=True,
        location=_location(root, signature.getparent()),
        expect_references=1,
        signature_methods=ACCEPTED_SIGNATURE_METHODS,
        digest_algorithms=ACCEPTED_DIGESTS,
        verification_time=at,
    )
    try:
        XMLVerifier().verify(
            bytes(data), x509_cert=leaf, parser=safe_parser(), expect_config=config
        )
    except signxml.InvalidDigest:
        raise _invalid(
            "nội dung gói tin đã bị thay đổi sau khi ký", "the message was changed after signing"
        ) from None
    except signxml.InvalidCertificate as exc:
        raise _invalid(
            "chứng thư số không dùng được", f"the certificate is not usable: {exc}"
        ) from None
    except signxml.InvalidSignature:
        raise _invalid(
            "giá trị chữ ký không khớp với chứng thư số",
            "the signature value does not match the certificate",
        ) from None
    except (signxml.InvalidInput, ValueError, etree.LxmlError) as exc:
        raise _invalid("chữ ký không đúng cấu trúc", f"the signature is malformed: {exc}") from None
    return Signer(
        common_name=_name(leaf.subject, NameOID.COMMON_NAME),
        organization=_name(leaf.subject, NameOID.ORGANIZATION_NAME),
        subject=leaf.subject.rfc4514_string(),
        issuer=leaf.issuer.rfc4514_string(),
        serial_number=leaf.serial_number,
        not_valid_before=leaf.not_valid_before_utc,
        not_valid_after=leaf.not_valid_after_utc,
        fingerprint_sha256=leaf.fingerprint(hashes.SHA256()).hex(),
        signature_method=method.value.rsplit("#", 1)[-1],
        certificate=leaf,
    )
