"""Claims with evidence: priority categories, prizes (incentive points), language exemptions.

A claim records what is claimed and the evidence for it (document kind, number, issuer, date,
and optionally a scan). Points follow the claims: of each kind only the highest active claim
counts, and a language is exempted while an active certificate claim names it. Anything that
changes the graduation score marks the session's inputs as changed.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from vnemis.core.audit import audit_record

from . import catalogue, rules
from .access import results_published, unit_writer_ensure
from .models import Candidate, CandidateSubject, Claim, ExamSession

EVIDENCE_MAX_BYTES = 5 * 1024 * 1024
# Scans people send: PDF or a photo, recognised by content, not by name.
EVIDENCE_MAGIC = {b"%PDF": "pdf", b"\x89PNG": "png", b"\xff\xd8\xff": "jpg"}
POINT_KINDS = (Claim.Kind.PRIORITY, Claim.Kind.INCENTIVE, Claim.Kind.EXEMPTION)


def evidence_dir() -> Path:
    return Path(settings.VAR_DIR) / "exams" / "evidence"


def _evidence_store(upload, *, candidate: Candidate) -> tuple[str, str]:
    """Keep a scan (≤ 5 MB, PDF/PNG/JPEG by content); (path under evidence_dir, sha256)."""
    size = getattr(upload, "size", None)
    if size is not None and size > EVIDENCE_MAX_BYTES:
        raise ValidationError(_("Tệp minh chứng quá lớn: tối đa 5 MB."), code="evidence_size")
    data = b"".join(upload.chunks()) if hasattr(upload, "chunks") else upload.read()
    if len(data) > EVIDENCE_MAX_BYTES:
        raise ValidationError(_("Tệp minh chứng quá lớn: tối đa 5 MB."), code="evidence_size")
    ext = next((e for magic, e in EVIDENCE_MAGIC.items() if data.startswith(magic)), None)
    if ext is None:
        raise ValidationError(
            _("Tệp minh chứng phải là PDF, PNG hoặc JPEG."), code="evidence_format"
        )
    digest = hashlib.sha256(data).hexdigest()
    relative = Path(str(candidate.session.year)) / str(candidate.pk) / f"{digest}.{ext}"
    target = evidence_dir() / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return str(relative), digest


def _evidence_check(*, document_number: str, issuer: str, issued_on: date | None) -> None:
    errors = {}
    if not document_number.strip():
        errors["document_number"] = _("Hãy nhập số hiệu của giấy tờ minh chứng.")
    if not issuer.strip():
        errors["issuer"] = _("Hãy nhập nơi cấp giấy tờ minh chứng.")
    if issued_on is None:
        errors["issued_on"] = _("Hãy nhập ngày cấp giấy tờ minh chứng.")
    elif issued_on > timezone.localdate():
        errors["issued_on"] = _("Ngày cấp không được sau hôm nay.")
    if errors:
        raise ValidationError(errors)


def _points_for(candidate: Candidate, *, kind: str, code: str, subject_code: str | None):
    """(points, exempted subject) of a claim, after checking its code against the catalogue."""
    if kind == Claim.Kind.PRIORITY:
        points = rules.priority_points_of(code)
        if points is None:
            raise ValidationError(
                _("Đối tượng ưu tiên '%(code)s' không có trong danh mục.") % {"code": code}
            )
        return points, None
    if kind == Claim.Kind.INCENTIVE:
        points = rules.prize_points_of(code)
        if points is None:
            raise ValidationError(
                _("Giải thưởng '%(code)s' không có trong danh mục.") % {"code": code}
            )
        return points, None
    if kind != Claim.Kind.EXEMPTION:
        raise ValidationError(_("Loại minh chứng không hợp lệ."))
    registered = (
        CandidateSubject.objects.filter(
            candidate=candidate,
            subject__code=(subject_code or "").strip().upper(),
            subject__category=catalogue.LANGUAGE,
        )
        .select_related("subject")
        .first()
    )
    if registered is None:
        raise ValidationError(
            _("Chỉ được miễn thi môn ngoại ngữ mà thí sinh đã đăng ký làm môn tự chọn."),
            code="exemption_subject",
        )
    if not rules.certificate_accepted(language=registered.subject.code, certificate=code):
        raise ValidationError(
            _("Chứng chỉ %(cert)s không dùng để miễn thi %(subject)s.")
            % {"cert": code, "subject": registered.subject.name_vi},
            code="exemption_certificate",
        )
    return Decimal("0"), registered


def _editable_ensure(session: ExamSession, now: datetime) -> None:
    if results_published(session, now=now):
        raise ValidationError(
            _("Kết quả đã công bố; không thể thay đổi điểm ưu tiên, khuyến khích hay miễn thi."),
            code="published",
        )


def points_refresh(candidate: Candidate) -> Candidate:
    """Recompute the candidate's priority and incentive points (only the highest of each) and
    the exempted language from the active claims."""
    active = Claim.objects.filter(candidate=candidate, withdrawn_at__isnull=True)
    candidate.priority_points = rules.highest_points(
        active.filter(kind=Claim.Kind.PRIORITY).values_list("points", flat=True)
    )
    candidate.incentive_points = rules.highest_points(
        active.filter(kind=Claim.Kind.INCENTIVE).values_list("points", flat=True)
    )
    candidate.save(update_fields=["priority_points", "incentive_points", "updated_at"])
    exempted = set(active.filter(kind=Claim.Kind.EXEMPTION).values_list("subject_id", flat=True))
    subjects = CandidateSubject.objects.filter(candidate=candidate)
    subjects.filter(subject_id__in=exempted).update(exempt=True)
    subjects.exclude(subject_id__in=exempted).update(exempt=False)
    return candidate


def _inputs_changed(session: ExamSession, now: datetime) -> None:
    ExamSession.objects.filter(pk=session.pk).update(inputs_changed_at=now)


@transaction.atomic
def claim_add(
    *,
    actor,
    candidate: Candidate,
    kind: str,
    code: str,
    document_number: str,
    issuer: str,
    issued_on: date | None,
    subject_code: str | None = None,
    note: str = "",
    upload=None,
    now: datetime | None = None,
) -> Claim:
    """Record a priority category, a prize or a language certificate with its evidence."""
    now = now or timezone.now()
    unit_writer_ensure(actor, candidate.unit)
    locked = Candidate.objects.select_for_update().select_related("session").get(pk=candidate.pk)
    _editable_ensure(locked.session, now)
    code = code.strip()
    if kind == Claim.Kind.EXEMPTION:
        code = code.upper()
    _evidence_check(document_number=document_number, issuer=issuer, issued_on=issued_on)
    points, exempted = _points_for(locked, kind=kind, code=code, subject_code=subject_code)
    path, digest = ("", "")
    if upload is not None:
        path, digest = _evidence_store(upload, candidate=locked)
    claim = Claim.objects.create(
        candidate=locked,
        kind=kind,
        code=code,
        points=points,
        subject=exempted.subject if exempted else None,
        document_number=document_number.strip()[:60],
        issuer=issuer.strip()[:200],
        issued_on=issued_on,
        file_path=path,
        file_sha256=digest,
        note=note.strip()[:255],
        recorded_by=actor if getattr(actor, "pk", None) else None,
    )
    points_refresh(locked)
    _inputs_changed(locked.session, now)
    audit_record(
        actor=actor,
        action="create",
        object_type="exam_claim",
        object_id=claim.pk,
        detail={"candidate": locked.pk, "kind": kind, "code": code},
    )
    return claim


@transaction.atomic
def claim_withdraw(*, actor, claim: Claim, now: datetime | None = None) -> Claim:
    """Withdraw a claim (kept for the record); points and exemption follow at once."""
    now = now or timezone.now()
    candidate = (
        Candidate.objects.select_for_update()
        .select_related("session", "unit")
        .get(pk=claim.candidate_id)
    )
    unit_writer_ensure(actor, candidate.unit)
    _editable_ensure(candidate.session, now)
    Claim.objects.filter(pk=claim.pk, withdrawn_at__isnull=True).update(withdrawn_at=now)
    points_refresh(candidate)
    _inputs_changed(candidate.session, now)
    audit_record(
        actor=actor,
        action="update",
        object_type="exam_claim",
        object_id=claim.pk,
        detail={"withdrawn": True},
    )
    claim.refresh_from_db()
    return claim
