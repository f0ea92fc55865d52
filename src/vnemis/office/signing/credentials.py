"""Loading a signing credential (PKCS#12: key, certificate, chain) into a reusable signer.

pyHanko's ``SimpleSigner`` keeps the key as DER and parses it again for every signature;
``KeyedSigner`` parses it once (DESIGN.md §8: that and reserving the signature size are what
take ECDSA P-256 from ~28 to ~50 signatures/s). One ``Credential`` signs any number of
documents; it is not shared between processes (each worker of ``batch`` loads its own).

Every refusal is a ``CredentialError`` with a code and a Vietnamese and English message: a wrong
password, a file that is not PKCS#12, a certificate not yet valid or expired, a certificate whose
key usage does not allow signing, a key type we cannot sign with.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from asn1crypto import pkcs12 as asn1_pkcs12
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.ec import ECDSA
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, pkcs12
from cryptography.x509.oid import ExtensionOID, NameOID
from pyhanko.keys.internal import (
    translate_pyca_cryptography_cert_to_asn1,
    translate_pyca_cryptography_key_to_asn1,
)
from pyhanko.sign.general import get_pyca_cryptography_hash
from pyhanko.sign.signers.pdf_cms import SimpleSigner
from pyhanko_certvalidator.registry import SimpleCertificateStore

from .errors import CredentialError

MAX_P12_BYTES = 1_000_000  # a PKCS#12 with a chain is a few KB


class KeyedSigner(SimpleSigner):
    """A ``SimpleSigner`` holding the parsed private key, so each signature skips the parse."""

    def __init__(self, *, private_key, **kwargs):
        super().__init__(**kwargs)
        self._private_key = private_key

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        key = self._private_key
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm).signature_algo
        if mechanism == "ecdsa" and isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(data, ECDSA(get_pyca_cryptography_hash(digest_algorithm)))
        if mechanism == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPrivateKey):
            return key.sign(data, PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm))
        return super().sign_raw(data, digest_algorithm)  # PSS, EdDSA, ...: pyHanko's path


@dataclass(frozen=True)
class Credential:
    """A loaded PKCS#12: the signer and what the stamp and the checks need from the certificate."""

    signer: KeyedSigner
    certificate: asn1_x509.Certificate
    name: str
    organisation: str
    email: str
    title: str
    not_before: datetime
    not_after: datetime
    fingerprint: str  # SHA-256 of the certificate, hex

    def check_valid_at(self, at: datetime) -> None:
        """Refuses a certificate outside its validity period at ``at``."""
        if at < self.not_before:
            raise CredentialError(
                "certificate_not_yet_valid",
                f"Chứng thư số chưa có hiệu lực: hiệu lực từ {_vn(self.not_before)}.",
                f"The certificate is not valid yet: it is valid from {_en(self.not_before)}.",
            )
        if at > self.not_after:
            raise CredentialError(
                "certificate_expired",
                f"Chứng thư số đã hết hạn ngày {_vn(self.not_after)}: hãy gia hạn hoặc nhập "
                "chứng thư mới.",
                f"The certificate expired on {_en(self.not_after)}: renew it or import a new one.",
            )


def _vn(moment: datetime) -> str:
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%d/%m/%Y %H:%M")


def _en(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _attribute(name: x509.Name, oid) -> str:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else ""


def _corrupt() -> CredentialError:
    return CredentialError(
        "p12_corrupt",
        "Tệp chứng thư không phải tệp PKCS#12 (.p12/.pfx) hợp lệ hoặc đã bị hỏng.",
        "The credential file is not a valid PKCS#12 (.p12/.pfx) file, or it is damaged.",
    )


def credential_load(
    *, data: bytes, password: str | bytes | None, at: datetime | None = None
) -> Credential:
    """The credential in PKCS#12 ``data``, checked to be usable for signing at ``at`` (now)."""
    if not data or len(data) > MAX_P12_BYTES:
        raise _corrupt()
    try:  # the structure first, so a damaged file is not reported as a wrong password
        asn1_pkcs12.Pfx.load(data)["auth_safe"]["content"].native  # noqa: B018
    except (ValueError, TypeError, KeyError) as exc:
        raise _corrupt() from exc
    secret = password.encode("utf-8") if isinstance(password, str) else password
    try:
        key, certificate, chain = pkcs12.load_key_and_certificates(data, secret or None)
    except ValueError as exc:
        if "deserialize" in str(exc).lower():
            raise _corrupt() from exc
        raise CredentialError(
            "p12_password",
            "Mật khẩu của tệp chứng thư không đúng (hoặc tệp đã bị thay đổi).",
            "The password of the credential file is wrong (or the file was altered).",
        ) from exc
    except Exception as exc:  # cryptography raises others on unsupported contents
        raise _corrupt() from exc
    if key is None or certificate is None:
        raise CredentialError(
            "p12_incomplete",
            "Tệp chứng thư không chứa cả khoá bí mật và chứng thư số của người ký.",
            "The credential file does not hold both the signer's private key and certificate.",
        )
    if not isinstance(
        key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    ):
        raise CredentialError(
            "key_unsupported",
            "Loại khoá trong tệp chứng thư không được hỗ trợ để ký (chỉ RSA, ECDSA, Ed25519).",
            "The key type in the credential file cannot be used to sign (RSA, ECDSA, Ed25519 only).",
        )
    if _public_der(key.public_key()) != _public_der(certificate.public_key()):
        raise CredentialError(
            "key_mismatch",
            "Khoá bí mật trong tệp không khớp với chứng thư số.",
            "The private key in the file does not match the certificate.",
        )
    _check_key_usage(certificate)
    subject = certificate.subject
    credential = Credential(
        signer=KeyedSigner(
            private_key=key,
            signing_cert=translate_pyca_cryptography_cert_to_asn1(certificate),
            signing_key=translate_pyca_cryptography_key_to_asn1(key),
            cert_registry=SimpleCertificateStore.from_certs(
                [translate_pyca_cryptography_cert_to_asn1(c) for c in chain or []]
            ),
        ),
        certificate=translate_pyca_cryptography_cert_to_asn1(certificate),
        name=_attribute(subject, NameOID.COMMON_NAME),
        organisation=_attribute(subject, NameOID.ORGANIZATION_NAME),
        email=_attribute(subject, NameOID.EMAIL_ADDRESS),
        title=_attribute(subject, NameOID.TITLE),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        fingerprint=hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest(),
    )
    credential.check_valid_at(at or datetime.now(UTC))
    return credential


def _public_der(public_key) -> bytes:
    return public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _check_key_usage(certificate: x509.Certificate) -> None:
    try:
        usage = certificate.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE).value
    except x509.ExtensionNotFound:
        return  # no restriction stated: any use is allowed (RFC 5280 §4.2.1.3)
    if not (usage.digital_signature or usage.content_commitment):
        raise CredentialError(
            "key_usage",
            "Chứng thư số này không được phép dùng để ký (thiếu mục đích sử dụng "
            "digitalSignature/nonRepudiation).",
            "This certificate may not be used for signing (its key usage lacks "
            "digitalSignature/nonRepudiation).",
        )


def credential_load_file(
    *, path: Path, password_file: Path | None = None, password: str | None = None
) -> Credential:
    """The credential in the file at ``path``; the password from ``password_file`` (first line)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise CredentialError(
            "p12_unreadable",
            f"Không đọc được tệp chứng thư {path}: {exc.strerror}.",
            f"Cannot read the credential file {path}: {exc.strerror}.",
        ) from exc
    if password_file is not None:
        try:
            lines = Path(password_file).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise CredentialError(
                "password_unreadable",
                f"Không đọc được tệp mật khẩu {password_file}.",
                f"Cannot read the password file {password_file}.",
            ) from exc
        password = lines[0].rstrip("\r\n") if lines else ""
    return credential_load(data=data, password=password)
