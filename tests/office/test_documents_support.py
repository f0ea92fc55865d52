"""What the document, register, workflow, search and page tests share (no tests of its own).

``office_setup`` sets up the e-office of the Ministry and the Hanoi Department on the shared ``tree``
(abbreviations, units, members: a leader, a clerk and specialists), plus a member of the Da Nang
Department to be the outsider. PDFs are made with fpdf2 in a Vietnamese-capable font, so their
text (extracted by PDFium) carries diacritics; ``sign`` adds a real PAdES signature with
pyHanko and a throw-away key, the way a leader's signing tool appends one.
"""

import functools
import importlib
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.utils import timezone
from fpdf import FPDF

from vnemis.office import actions
from vnemis.office.actions_files import pdf_check
from vnemis.office.models import DocumentType
from vnemis.orgs.models import User

FONT = next(
    (
        p
        for p in (
            Path(__file__).resolve().parents[2] / "src/vnemis/static/vendor/fonts/DejaVuSans.ttf",
            Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
        )
        if p.exists()
    ),
    None,
)


@functools.lru_cache(maxsize=256)
def pdf_bytes(text: str = "Quyết định về việc tuyển sinh", pages: int = 1) -> bytes:
    """A small PDF whose pages hold ``text`` (in DejaVu when installed, to keep diacritics)."""
    pdf = FPDF()
    if FONT is not None:
        pdf.add_font("DejaVu", "", str(FONT))
        pdf.set_font("DejaVu", "", 12)
    else:  # pragma: no cover - every machine of ours has DejaVu
        pdf.set_font("helvetica", "", 12)
    for page in range(pages):
        pdf.add_page()
        pdf.multi_cell(0, 8, f"{text} ({page + 1})")
    return bytes(pdf.output())


def checked(text: str = "Quyết định về việc tuyển sinh", name: str = "van-ban.pdf"):
    return pdf_check(name=name, data=pdf_bytes(text))


class Upload(io.BytesIO):
    """An uploaded file as views and ``uploads_check`` see it (name, size, read)."""

    def __init__(self, data: bytes, name: str = "van-ban.pdf"):
        super().__init__(data)
        self.name, self.size = name, len(data)


_KEY = None


def sign(data: bytes, field: str = "LanhDao") -> bytes:
    """``data`` with one more PAdES signature appended (incremental update), by a fresh
    self-signed ECDSA key: what a leader's signing tool returns."""
    global _KEY
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    if _KEY is None:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Lãnh đạo thử nghiệm")])
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .sign(key, hashes.SHA256())
        )
        der_key = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _KEY = signers.SimpleSigner(
            signing_cert=asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
            signing_key=asn1_keys.PrivateKeyInfo.load(der_key),
            cert_registry=None,
        )
    out = io.BytesIO()
    signers.sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(data)),
        signers.PdfSignatureMetadata(field_name=field),
        signer=_KEY,
        output=out,
    )
    return out.getvalue()


@dataclass
class Office:
    tree: dict
    moet_vp: object
    moet_gdth: object
    so_vp: object
    so_gdtrh: object
    leader: User  # the Ministry's
    clerk: User
    staff: User  # GDTH specialist
    staff2: User  # another GDTH specialist
    staff_vp: User  # of the Office (VP)
    so_leader: User
    so_clerk: User
    so_staff: User
    outsider: User  # a member of the Da Nang Department

    @property
    def moet(self):
        return self.tree["moet"]

    @property
    def so_hn(self):
        return self.tree["so_hn"]


def doc_type(code: str) -> DocumentType:
    return DocumentType.objects.get(code=code)


def document_types_ensure() -> None:
    """The type table of migration 0002: a transactional test's flush (anywhere in the suite)
    empties it, so it is loaded again when missing."""
    if DocumentType.objects.filter(code="QD").exists():
        return
    from django.apps import apps

    migration = importlib.import_module("vnemis.office.migrations.0002_document_types")
    migration.forwards(apps, None)


def office_setup(tree) -> Office:
    """The e-office of the Ministry and the Hanoi Department (each test module's ``office``
    fixture calls this on the shared ``tree``)."""
    document_types_ensure()
    moet, so_hn, so_dn = tree["moet"], tree["so_hn"], tree["so_dn"]
    actions.office_organisation_set(
        actor=None, organisation=moet, abbreviation="BGDĐT", place="Hà Nội",
        organ_id="000.00.00.G09",
    )  # fmt: skip
    actions.office_organisation_set(
        actor=None, organisation=so_hn, abbreviation="SGDĐT", place="Hà Nội",
        organ_id="000.00.01.H26",
    )  # fmt: skip
    actions.office_organisation_set(actor=None, organisation=so_dn, abbreviation="SGDĐT")
    unit = actions.office_unit_create
    moet_vp = unit(actor=None, organisation=moet, name="Văn phòng", abbreviation="VP")
    moet_gdth = unit(
        actor=None, organisation=moet, name="Vụ Giáo dục Tiểu học", abbreviation="GDTH"
    )
    so_vp = unit(actor=None, organisation=so_hn, name="Văn phòng Sở", abbreviation="VP")
    so_gdtrh = unit(
        actor=None, organisation=so_hn, name="Phòng Giáo dục Trung học", abbreviation="GDTrH"
    )

    def member(username, org, role, unit=None, **flags):
        user = User.objects.create_user(
            username, password="pw", role=role, scope=org, first_name=username
        )
        actions.office_member_set(actor=None, user=user, organisation=org, unit=unit, **flags)
        return user

    return Office(
        tree=tree,
        moet_vp=moet_vp,
        moet_gdth=moet_gdth,
        so_vp=so_vp,
        so_gdtrh=so_gdtrh,
        leader=member(
            "bo_lanhdao", moet, "ministry", moet_vp, is_leader=True, position="Thứ trưởng"
        ),
        clerk=member("bo_vanthu", moet, "ministry", moet_vp, is_clerk=True),
        staff=member("bo_cv1", moet, "ministry", moet_gdth),
        staff2=member("bo_cv2", moet, "ministry", moet_gdth),
        staff_vp=member("bo_cv3", moet, "ministry", moet_vp),
        so_leader=member("so_lanhdao", so_hn, "department", so_vp, is_leader=True),
        so_clerk=member("so_vanthu", so_hn, "department", so_vp, is_clerk=True),
        so_staff=member("so_cv1", so_hn, "department", so_gdtrh),
        outsider=member("dn_cv1", so_dn, "department", None, is_leader=True, is_clerk=True),
    )


def register_incoming(office: Office, *, number=123, notation="QĐ-UBND", text=None, **kwargs):
    """An incoming document registered by the Ministry's clerk (defaults for every field)."""
    fields = {
        "actor": office.clerk,
        "organisation": office.moet,
        "doc_type": doc_type("QD"),
        "subject": "Quyết định về việc phê duyệt kế hoạch tuyển sinh năm học 2026-2027",
        "issued_on": timezone.localdate() - timedelta(days=2),
        "issuer_name": "Ủy ban nhân dân Thành phố Hà Nội",
        "issuer_organ_id": "000.00.00.H26",
        "number": number,
        "notation": notation,
        "signer_name": "Nguyễn Văn Phong",
        "signer_position": "Phó Chủ tịch",
    }
    if text is not None:
        fields["main"] = checked(text)
    fields.update(kwargs)
    return actions.incoming_register(**fields)


def draft_outgoing(office: Office, *, actor=None, text="Dự thảo công văn hướng dẫn", **kwargs):
    """An outgoing draft of the Ministry by a GDTH specialist, with a main PDF."""
    fields = {
        "actor": actor or office.staff,
        "doc_type": doc_type("CV"),
        "subject": "Hướng dẫn thực hiện nhiệm vụ năm học 2026-2027",
        "recipients": actions.recipients_parse("SGD01\nSGD48\nVăn phòng Chính phủ | 000.00.00.G01"),
        "signer_name": "Phạm Ngọc Thưởng",
        "signer_position": "Thứ trưởng",
        "signer_competence": "KT. BỘ TRƯỞNG",
    }
    if text is not None:
        fields["main"] = checked(text)
    fields.update(kwargs)
    return actions.outgoing_draft_create(**fields)
