"""Digital signatures in the e-office: users' credentials, approval by signing on the server,
the organisation's seal, and the validation of every signature of a stored file.

- ``credential_import`` checks a PKCS#12 with ``signing.credentials.credential_load`` (wrong
  password, damaged, expired, not for signing: each its own message) and stores it encrypted
  (``core.crypto``); the personal password is never stored.
- ``submission_sign_and_approve`` signs the submitted main file with the leader's credential
  (visible stamp: the document's signer position and competence) and hands the signed bytes to
  ``workflow.approve_by_signing``, which runs the check registered here (``approval_check``).
- ``document_seal`` adds the organisation's signature (its seal credential) to an issued
  document, as a new signed version.
- ``attachment_signatures_store`` validates a stored file's signatures against the trusted roots
  (``VNEMIS_OFFICE_TRUSTED_CA_FILES``) and records the result; ``step_saved`` runs it when a
  step records that files were attached.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
from contextlib import contextmanager
from contextvars import ContextVar

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from vnemis.core.crypto import decrypt_identifier, encrypt_identifier

from .actions import _rights_ensure, document_lock, step_record, version_create
from .actions_errors import OfficeError
from .actions_files import pdf_check
from .models import Attachment, Blob, Document, OfficeMember, Submission, WorkflowStep
from .models_signing import AttachmentSignatures, SigningCredential
from .signing.credentials import Credential, credential_load
from .signing.errors import SigningError
from .signing.verify import OUTCOME_TEXT, Outcome, Report, pdf_verify, trust_roots_load_files

logger = logging.getLogger(__name__)
Kind = SigningCredential.Kind
VN_FORMAT = "%d/%m/%Y %H:%M:%S"


def _office_error(exc: SigningError, field: str | None = None) -> OfficeError:
    return OfficeError(exc.code, exc.message_vi, exc.message_en, field=field)


# -- trust -------------------------------------------------------------------------------------


def trusted_roots() -> list:
    """The roots of ``VNEMIS_OFFICE_TRUSTED_CA_FILES`` (PEM paths); empty when unset."""
    paths = getattr(settings, "VNEMIS_OFFICE_TRUSTED_CA_FILES", None) or []
    if isinstance(paths, str):
        paths = [paths]
    try:
        return trust_roots_load_files(paths)
    except SigningError as exc:
        raise _office_error(exc) from exc


# -- credentials -------------------------------------------------------------------------------


def _key_type(certificate: x509.Certificate) -> str:
    key = certificate.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}"
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    return type(key).__name__[:20]


def _member(actor) -> OfficeMember:
    member = OfficeMember.objects.filter(user_id=getattr(actor, "pk", None)).first()
    if member is None:
        raise PermissionDenied(_("Bạn chưa là thành viên văn phòng điện tử của cơ quan nào."))
    return member


def credential_import(*, actor, p12_bytes: bytes, password: str, kind: str = Kind.PERSONAL):
    """Store ``actor``'s PKCS#12 (or, for ``kind="seal"``, their organisation's seal) after
    checking it opens with ``password`` and can sign now. The previous active credential of the
    same holder is deactivated (kept as history)."""
    if kind not in Kind.values:
        raise OfficeError(
            "kind_invalid", "Loại chứng thư không hợp lệ.", "Invalid credential kind.",
            field="kind",
        )  # fmt: skip
    member = _member(actor)
    if kind == Kind.SEAL and not (member.is_leader or member.is_clerk):
        raise PermissionDenied(
            _("Chỉ văn thư hoặc lãnh đạo cơ quan được nhập chứng thư số của cơ quan.")
        )
    try:
        loaded = credential_load(data=p12_bytes, password=password or "")
    except SigningError as exc:
        field = "password" if exc.code == "p12_password" else "p12_file"
        raise _office_error(exc, field) from exc
    certificate = x509.load_der_x509_certificate(loaded.certificate.dump())
    taken = (
        SigningCredential.objects.filter(fingerprint=loaded.fingerprint, active=True)
        .exclude(user_id=actor.pk, kind=kind)
        .exists()
    )
    if taken:
        raise OfficeError(
            "credential_taken",
            "Chứng thư số này đang được đăng ký cho người dùng khác (hoặc loại khác); mỗi chứng"
            " thư chỉ thuộc về một người.",
            "This certificate is registered to another user (or as another kind); a certificate"
            " belongs to one holder only.",
            field="p12_file",
        )
    now = timezone.now()
    with transaction.atomic():
        previous = SigningCredential.objects.select_for_update().filter(active=True, kind=kind)
        if kind == Kind.SEAL:
            previous = previous.filter(organisation_id=member.organisation_id)
        else:
            previous = previous.filter(user_id=actor.pk)
        previous.update(active=False, deactivated_at=now, deactivated_by=actor)
        return SigningCredential.objects.create(
            user=actor,
            organisation_id=member.organisation_id,
            kind=kind,
            subject_name=loaded.name[:255],
            subject=certificate.subject.rfc4514_string(),
            issuer=certificate.issuer.rfc4514_string(),
            serial=format(certificate.serial_number, "x"),
            not_before=loaded.not_before,
            not_after=loaded.not_after,
            fingerprint=loaded.fingerprint,
            key_type=_key_type(certificate),
            p12_encrypted=encrypt_identifier(base64.b64encode(p12_bytes).decode("ascii")),
            password_encrypted=encrypt_identifier(password or "") if kind == Kind.SEAL else None,
            created_by=actor,
            created_at=now,
        )


def credential_deactivate(*, actor, credential: SigningCredential) -> SigningCredential:
    """Revoke a credential for signing here; the row stays (history)."""
    member = _member(actor)
    own = credential.user_id == actor.pk
    seal_keeper = (
        credential.kind == Kind.SEAL
        and credential.organisation_id == member.organisation_id
        and (member.is_leader or member.is_clerk)
    )
    if not (own or seal_keeper):
        raise PermissionDenied(_("Bạn không được thu hồi chứng thư số này."))
    with transaction.atomic():
        credential = SigningCredential.objects.select_for_update().get(pk=credential.pk)
        if credential.active:
            credential.active = False
            credential.deactivated_at, credential.deactivated_by = timezone.now(), actor
            credential.save(update_fields=["active", "deactivated_at", "deactivated_by"])
    return credential


def _credential_open(stored: SigningCredential | None, password: str | None, *, what_vi, what_en):
    if stored is None:
        raise OfficeError(
            "no_credential",
            f"Chưa có {what_vi} đang hiệu lực: hãy nhập tệp PKCS#12 ở trang “Chứng thư số của tôi”.",
            f"There is no active {what_en}: import a PKCS#12 file on the “My certificates” page.",
            field="password",
        )
    data = base64.b64decode(decrypt_identifier(stored.p12_encrypted))
    if password is None:
        password = decrypt_identifier(stored.password_encrypted or b"")
    try:
        return credential_load(data=data, password=password)
    except SigningError as exc:
        raise _office_error(exc, "password") from exc


# -- approval by signing -----------------------------------------------------------------------


def _position(document: Document, actor) -> str:
    parts = [document.signer_competence, document.signer_position]
    text = " ".join(p for p in parts if p)
    if not text:
        member = OfficeMember.objects.filter(user_id=actor.pk).first()
        text = member.position if member else ""
    return text


def _pdf_sign(pdf: bytes, credential: Credential, *, kind: str, position: str, reason: str):
    from .signing.sign import Kind as SignKind
    from .signing.sign import SignRequest, pdf_sign

    try:
        return pdf_sign(
            pdf=pdf,
            request=SignRequest(
                credential=credential, kind=SignKind(kind), position=position, reason=reason
            ),
        )
    except SigningError as exc:
        raise _office_error(exc) from exc


def submission_sign_and_approve(*, actor, submission: Submission, password: str, comment=""):
    """The leader signs the submitted document on the server with their own credential and
    thereby approves it (``workflow.approve_by_signing``)."""
    from . import workflow

    if actor is None or actor.pk != submission.leader_id:
        raise PermissionDenied(_("Chỉ lãnh đạo được trình mới duyệt hoặc trả lại văn bản này."))
    document = submission.document
    _rights_ensure(actor, document.organisation_id, leader=True)
    if submission.status != Submission.Status.PENDING:
        raise OfficeError(
            "already_decided",
            "Tờ trình này đã được xử lý.",
            "This submission has been decided already.",
        )
    if not password:
        raise OfficeError(
            "password_required",
            "Hãy nhập mật khẩu chứng thư số để ký.",
            "Enter the password of your certificate to sign.",
            field="password",
        )
    stored = SigningCredential.objects.filter(
        user_id=actor.pk, kind=Kind.PERSONAL, active=True
    ).first()
    credential = _credential_open(
        stored, password, what_vi="chứng thư số cá nhân", what_en="personal certificate"
    )
    main = submission.version.files.select_related("blob").filter(is_main=True).first()
    if main is None:
        raise OfficeError(
            "no_main_file", "Tờ trình không có tệp văn bản.", "The submission has no file."
        )
    signed = _pdf_sign(
        bytes(main.blob.data),
        credential,
        kind="signature",
        position=_position(document, actor),
        reason="Phê duyệt",
    )
    return workflow.approve_by_signing(
        actor=actor, submission=submission, signed_pdf=signed, file_name=main.name, comment=comment
    )


def document_seal(*, actor, document: Document):
    """The organisation's digital signature (in place of the red seal) on an issued document,
    with the organisation's seal credential, as a new signed version."""
    _rights_ensure(actor, document.organisation_id, leader=True, clerk=True)
    if document.status != Document.Status.ISSUED:
        raise OfficeError(
            "not_issued",
            "Chỉ đóng dấu số văn bản đã cấp số, phát hành.",
            "Only an issued document can be sealed.",
        )
    stored = SigningCredential.objects.filter(
        organisation_id=document.organisation_id, kind=Kind.SEAL, active=True
    ).first()
    credential = _credential_open(
        stored, None, what_vi="chứng thư số của cơ quan", what_en="organisation seal certificate"
    )
    with transaction.atomic():
        document = document_lock(document)
        if WorkflowStep.objects.filter(document=document, detail__seal=True).exists():
            raise OfficeError(
                "already_sealed",
                "Văn bản đã được đóng dấu số.",
                "The document is sealed already.",
            )
        version = document.versions.order_by("-number").first()
        main = (
            version.files.select_related("blob").filter(is_main=True).first() if version else None
        )
        if main is None:
            raise OfficeError(
                "no_main_file", "Văn bản không có tệp để đóng dấu.", "The document has no file."
            )
        signed = _pdf_sign(bytes(main.blob.data), credential, kind="seal", position="", reason="")
        checked = pdf_check(name=main.name, data=signed)
        new = version_create(
            document=document,
            actor=actor,
            main=checked,
            keep_from=version,
            note=_("Bản đã đóng dấu số của cơ quan"),
            signed=True,
        )
        step_record(
            document=document,
            kind=WorkflowStep.Kind.VERSION_ADDED,
            actor=actor,
            detail={"version": new.number, "seal": True, "sha256": checked.sha256},
        )
    return new


# -- the approval check (registered by the app) ------------------------------------------------


def _newest_signer_fingerprint(pdf: bytes) -> str:
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    newest, end = None, -1
    for signature in reader.embedded_regular_signatures:
        ranges = signature.sig_object["/ByteRange"]
        if int(ranges[2]) + int(ranges[3]) > end:
            newest, end = signature, int(ranges[2]) + int(ranges[3])
    if newest is None:
        return ""
    return hashlib.sha256(newest.signer_cert.dump()).hexdigest()


def approval_check(*, submitted: bytes, signed: bytes, signer, submission) -> None:
    """The submitted file with the leader's signature appended, and that signature valid
    against the trusted roots and made with the leader's active personal certificate.

    Without ``VNEMIS_OFFICE_TRUSTED_CA_FILES`` only the structural check is made (development;
    the system check office.W001 warns)."""
    from .workflow import default_signature_check

    default_signature_check(
        submitted=submitted, signed=signed, signer=signer, submission=submission
    )
    roots = trusted_roots()
    if not roots:
        return
    try:
        report = pdf_verify(pdf=signed, trust=roots)
    except SigningError as exc:
        raise _office_error(exc, "signed_file") from exc
    newest = report.signatures[-1] if report.signatures else None
    if newest is None or newest.outcome != Outcome.VALID:
        label_vi, label_en = OUTCOME_TEXT[newest.outcome] if newest else ("—", "—")
        raise OfficeError(
            "signature_not_valid",
            f"Chữ ký số mới nhất không hợp lệ ({label_vi}): {newest.detail_vi if newest else ''}",
            f"The newest digital signature is not valid ({label_en}): "
            f"{newest.detail_en if newest else ''}",
            field="signed_file",
        )
    fingerprint = _newest_signer_fingerprint(signed)
    mine = SigningCredential.objects.filter(
        user_id=signer.pk, kind=Kind.PERSONAL, active=True, fingerprint=fingerprint
    ).exists()
    if not mine:
        raise OfficeError(
            "not_your_certificate",
            "Văn bản không được ký bằng chứng thư số đang hiệu lực của lãnh đạo duyệt (hãy nhập"
            " chứng thư của mình ở trang “Chứng thư số của tôi”).",
            "The document was not signed with the approving leader's active certificate (import"
            " yours on the “My certificates” page).",
            field="signed_file",
        )


# -- validation of stored files ----------------------------------------------------------------


def _result_row(result) -> dict:
    when = result.signing_time
    return {
        "index": result.index,
        "field": result.field_name,
        "outcome": str(result.outcome),
        "signer": result.signer_name,
        "organisation": result.organisation,
        "signing_time": when.isoformat() if when else "",
        "signing_time_vn": when.strftime(VN_FORMAT) if when else "",
        "whole": result.covers_whole_document,
        "detail_vi": result.detail_vi,
        "detail_en": result.detail_en,
    }


# Reports already made for these files' bytes (sha256 → Report), e.g. by the exchange inbox,
# which validates before it registers: the step hook records them instead of validating again.
_known_reports: ContextVar[dict | None] = ContextVar("office_known_reports", default=None)


@contextmanager
def reports_known(reports: dict):
    token = _known_reports.set(reports)
    try:
        yield
    finally:
        _known_reports.reset(token)


def _report(blob: Blob, roots) -> Report:
    known = (_known_reports.get() or {}).get(blob.sha256)
    if known is not None:
        return known
    if blob.signature_count == 0:  # counted when the file was checked: nothing to validate
        return Report()
    data = bytes(Blob.objects.only("data").get(pk=blob.pk).data)
    return pdf_verify(pdf=data, trust=trusted_roots() if roots is None else roots)


def attachment_signatures_store(
    attachment: Attachment, *, roots=None, new: bool = False
) -> AttachmentSignatures:
    """Validate every signature of ``attachment``'s file and record the result (replacing an
    earlier one; ``new``: there is none). The attachment's blob may come with it, loaded with
    ``sha256`` and ``signature_count``."""
    if Attachment.blob.is_cached(attachment):
        blob = attachment.blob
    else:
        blob = Blob.objects.only("sha256", "signature_count").get(pk=attachment.blob_id)
    fields = {"results": [], "all_valid": False, "error_vi": "", "error_en": ""}
    try:
        report = _report(blob, roots)
    except (SigningError, OfficeError) as exc:
        fields.update(status="error", error_vi=exc.message_vi, error_en=exc.message_en)
    else:
        fields.update(
            status="checked" if report.signatures else "none",
            results=[_result_row(r) for r in report.signatures],
            all_valid=report.all_valid,
        )
    fields["checked_at"] = timezone.now()
    if new:
        return AttachmentSignatures.objects.create(attachment=attachment, **fields)
    row, _created = AttachmentSignatures.objects.update_or_create(
        attachment=attachment, defaults=fields
    )
    return row


CHECKED_STEPS = {
    WorkflowStep.Kind.REGISTERED,
    WorkflowStep.Kind.VERSION_ADDED,
    WorkflowStep.Kind.APPROVED,
}


def step_saved(step: WorkflowStep) -> None:
    """A step hook: when a step records that files were attached to an incoming document (or
    a signed version was made), validate the new files' signatures."""
    if step.kind not in CHECKED_STEPS:
        return
    document = step.document
    files = getattr(step, "files_added", None)
    if files is None:
        version = document.versions.order_by("-number").first()
        if version is None:
            return
        files = (
            version.files.filter(signature_check__isnull=True)
            .select_related("blob")
            .only("id", "version_id", "blob_id", "blob__sha256", "blob__signature_count")
        )
    else:
        version = files[0].version if files else None
    if not files or not (document.direction == Document.Direction.INCOMING or version.signed):
        return
    try:
        roots = trusted_roots()
    except OfficeError:
        logger.warning("office signing: trusted roots unreadable; signatures not checked")
        return
    known = _known_reports.get() or {}
    for attachment in files:
        if Attachment.blob.is_cached(attachment) and attachment.blob.sha256 in known:
            # validated already, before the registration: nothing here can fail but the insert
            attachment_signatures_store(attachment, roots=roots, new=True)
            continue
        try:
            with transaction.atomic():
                attachment_signatures_store(attachment, roots=roots, new=True)
        except Exception:  # never let a validation problem undo the registration
            logger.exception("office signing: validation of attachment %s failed", attachment.pk)
