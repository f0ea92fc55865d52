"""Who may do what in admissions.

The Ministry runs the round (dates, fee, runs, publication) and sees every programme; an
institution's accounts (scope: the institution's organisation) keep its programmes and
download its lists; a candidate (a citizen account whose person is the candidate) keeps their
own wishes and confirms their own placement. ``actor=None`` is the operator at the console.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from vnemis.exams.access import is_ministry, ministry_ensure
from vnemis.orgs.models import OrgClosure, User

from .errors import AdmissionError
from .models import AdmissionRound, Institution, Programme

__all__ = ["is_ministry", "ministry_ensure"]


def institutions_managed(actor) -> QuerySet[Institution]:
    """The institutions whose programmes this account keeps."""
    if is_ministry(actor):
        return Institution.objects.all()
    if not actor.is_authenticated or actor.scope_id is None or actor.role == User.Role.CITIZEN:
        return Institution.objects.none()
    reached = OrgClosure.objects.filter(ancestor_id=actor.scope_id).values("descendant_id")
    return Institution.objects.filter(Q(organisation_id__in=reached))


def is_institution_staff(actor) -> bool:
    return actor is not None and not is_ministry(actor) and institutions_managed(actor).exists()


def programmes_managed(actor, round_: AdmissionRound) -> QuerySet[Programme]:
    return Programme.objects.filter(round=round_, institution__in=institutions_managed(actor))


def programme_manage_ensure(actor, programme: Programme) -> None:
    if not institutions_managed(actor).filter(pk=programme.institution_id).exists():
        raise AdmissionError(
            "not_your_programme",
            "Bạn không quản lý ngành này.",
            "You do not manage this programme.",
        )


def candidate_of(actor, round_: AdmissionRound):
    """The candidacy in the round's exam session of the person this account belongs to."""
    from vnemis.exams.models import Candidate

    if actor is None or not actor.is_authenticated or actor.person_id is None:
        return None
    return Candidate.objects.filter(
        session_id=round_.exam_session_id, person_id=actor.person_id
    ).first()
