"""A development certificate authority: a root CA, signing certificates for people and for an
organisation's seal, and PKCS#12 files for them, made with ``cryptography``.

For development and tests only: production certificates come from a licensed CA (a
``.p12``/``.pfx`` the user imports, see docs/office-signing.md). Keys are ECDSA P-256 by default
(DESIGN.md §8: about four times faster to sign with than RSA-2048); RSA-2048 is available for
interoperability checks. ``dev_ca_write`` lays out a directory the CLI and the tests use:

    ca.pem             the root certificate (trust it to validate)
    ca-key.pem         the root's private key, encrypted with the passphrase in ca-password.txt
    user.p12           a person's key and certificate (with the root), password in password.txt
    seal.p12           the organisation's seal, password in seal-password.txt

Secrets are written with mode 0600.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .errors import SigningError

KEY_TYPES = ("ec", "rsa")
# Document signing (Adobe's id-kp-documentSigning is 1.2.840.113583.1.1.5; RFC 9336's is
# 1.3.6.1.5.5.7.3.36); validators accept a certificate with email protection too.
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")


@dataclass(frozen=True)
class Issued:
    """A certificate with its private key."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


def _new_key(key_type: str):
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise SigningError(
        "key_type",
        f"Loại khoá không hỗ trợ: {key_type} (chọn một trong {', '.join(KEY_TYPES)}).",
        f"Unsupported key type: {key_type} (choose one of {', '.join(KEY_TYPES)}).",
    )


def _name(*, common_name: str, organisation: str = "", email: str = "", title: str = ""):
    attributes = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
    ]
    if organisation:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
    if title:
        attributes.append(x509.NameAttribute(NameOID.TITLE, title))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    if email:
        attributes.append(x509.NameAttribute(NameOID.EMAIL_ADDRESS, email))
    return x509.Name(attributes)


def ca_create(
    *,
    common_name: str = "vnemis Development Root CA",
    organisation: str = "vnemis (phát triển / development)",
    key_type: str = "ec",
    valid_days: int = 3650,
    now: datetime | None = None,
) -> Issued:
    """A self-signed root CA (a CA with path length 0: it issues end-entity certificates only)."""
    now = now or datetime.now(UTC)
    key = _new_key(key_type)
    name = _name(common_name=common_name, organisation=organisation)
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(certificate, key)


def certificate_issue(
    *,
    ca: Issued,
    name: str,
    organisation: str = "",
    email: str = "",
    title: str = "",
    key_type: str = "ec",
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    signing_usage: bool = True,
    time_stamping: bool = False,
) -> Issued:
    """An end-entity certificate for a person (or, with the organisation as ``name``, a seal).

    Key usage digitalSignature + nonRepudiation (contentCommitment), as PAdES validators expect;
    ``signing_usage=False`` gives key encipherment only (to test the refusal);
    ``time_stamping=True`` makes a time-stamping authority's certificate (RFC 3161: the
    timeStamping extended key usage, critical)."""
    now = datetime.now(UTC)
    not_before = not_before or now - timedelta(minutes=5)
    not_after = not_after or now + timedelta(days=730)
    key = _new_key(key_type)
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name=name, organisation=organisation, email=email, title=title))
        .issuer_name(ca.certificate.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=signing_usage,
                content_commitment=signing_usage,
                key_encipherment=not signing_usage,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.certificate.public_key()),
            critical=False,
        )
    )
    if time_stamping:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
        )
    elif signing_usage:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING]),
            critical=False,
        )
    if email:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False
        )
    return Issued(builder.sign(ca.key, hashes.SHA256()), key)


def pkcs12_bytes(*, issued: Issued, ca: Issued | x509.Certificate, password: str) -> bytes:
    """A PKCS#12 file with the key, its certificate and the root, encrypted with ``password``
    (AES-256 with PBKDF2, cryptography's best available)."""
    root = ca.certificate if isinstance(ca, Issued) else ca
    friendly = issued.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    label = str(friendly[0].value) if friendly else "vnemis"
    return pkcs12.serialize_key_and_certificates(
        label.encode("utf-8"),
        issued.key,
        issued.certificate,
        [root],
        serialization.BestAvailableEncryption(password.encode("utf-8")),
    )


def new_password() -> str:
    """A random password for a development PKCS#12 (24 URL-safe characters)."""
    return secrets.token_urlsafe(18)


@dataclass(frozen=True)
class DevCaFiles:
    directory: Path
    ca_pem: Path
    ca_key: Path
    ca_password: Path
    user_p12: Path
    user_password: Path
    seal_p12: Path
    seal_password: Path

    def all(self) -> list[Path]:
        return [
            self.ca_pem, self.ca_key, self.ca_password, self.user_p12, self.user_password,
            self.seal_p12, self.seal_password,
        ]  # fmt: skip


def dev_ca_files(directory: Path) -> DevCaFiles:
    d = Path(directory)
    return DevCaFiles(
        d, d / "ca.pem", d / "ca-key.pem", d / "ca-password.txt", d / "user.p12",
        d / "password.txt", d / "seal.p12", d / "seal-password.txt",
    )  # fmt: skip


def file_write(path: Path, data: bytes, *, secret: bool) -> None:
    """Written to a temporary name and renamed, so a file is there whole or not at all."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    descriptor = os.open(temporary, flags, 0o600 if secret else 0o644)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def dev_ca_write(
    *,
    out: Path,
    name: str = "Nguyễn Văn An",
    organisation: str = "Bộ Giáo dục và Đào tạo",
    email: str = "nvan@example.edu.vn",
    title: str = "Chuyên viên",
    key_type: str = "ec",
    force: bool = False,
) -> DevCaFiles:
    """A new development CA, a person's PKCS#12 and the organisation's seal in ``out``.

    Refuses to replace an existing CA unless ``force``: documents signed under it would stop
    validating against the new root."""
    files = dev_ca_files(out)
    existing = [p.name for p in files.all() if p.exists()]
    if existing and not force:
        raise SigningError(
            "dev_ca_exists",
            f"Thư mục {out} đã có CA phát triển ({', '.join(existing)}); dùng --force để "
            "tạo lại (các văn bản đã ký bằng CA cũ sẽ không còn được tin cậy).",
            f"{out} already holds a development CA ({', '.join(existing)}); use --force to "
            "replace it (documents signed under the old CA will no longer be trusted).",
        )
    if out.exists() and not out.is_dir():
        raise SigningError(
            "dev_ca_out",
            f"{out} không phải là thư mục.",
            f"{out} is not a directory.",
        )
    out.mkdir(parents=True, exist_ok=True)
    ca = ca_create(organisation=organisation, key_type=key_type)
    user = certificate_issue(
        ca=ca, name=name, organisation=organisation, email=email, title=title, key_type=key_type
    )
    seal = certificate_issue(ca=ca, name=organisation, organisation=organisation, key_type=key_type)
    ca_password, user_password, seal_password = new_password(), new_password(), new_password()
    ca_key = ca.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(ca_password.encode()),
    )
    file_write(files.ca_pem, ca.certificate_pem(), secret=False)
    file_write(files.ca_key, ca_key, secret=True)
    file_write(files.ca_password, (ca_password + "\n").encode(), secret=True)
    file_write(
        files.user_p12, pkcs12_bytes(issued=user, ca=ca, password=user_password), secret=True
    )
    file_write(files.user_password, (user_password + "\n").encode(), secret=True)
    file_write(
        files.seal_p12, pkcs12_bytes(issued=seal, ca=ca, password=seal_password), secret=True
    )
    file_write(files.seal_password, (seal_password + "\n").encode(), secret=True)
    return files


def dev_ca_load(directory: Path) -> Issued:
    """The CA written by ``dev_ca_write`` (to issue more certificates under it)."""
    files = dev_ca_files(directory)
    certificate = x509.load_pem_x509_certificate(files.ca_pem.read_bytes())
    password = files.ca_password.read_text(encoding="utf-8").strip().encode()
    key = serialization.load_pem_private_key(files.ca_key.read_bytes(), password=password)
    return Issued(certificate, key)
