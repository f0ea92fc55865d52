"""Reads of the admission pages, scoped in the query: a candidate their own list, an
institution its programmes and admitted lists, the Ministry everything. Reads of candidates'
personal data (admitted lists) are audited."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from vnemis.core.audit import audit_record

from .access import institutions_managed, is_ministry
from .matching import Reason
from .models import (
    AdmissionRound,
    Confirmation,
    Cutoff,
    MatchRun,
    MissedWish,
    Placement,
    Programme,
    Wish,
    WishList,
    WishScore,
)


def rounds_all() -> QuerySet[AdmissionRound]:
    return AdmissionRound.objects.select_related("exam_session", "published_run")


def round_get(*, year: int) -> AdmissionRound:
    round_ = rounds_all().filter(year=year).first()
    if round_ is None:
        raise Http404
    return round_


def programmes_visible(*, viewer, round_: AdmissionRound, query: str = "") -> QuerySet[Programme]:
    """Everyone may browse the programmes (they are public); the query narrows them."""
    programmes = Programme.objects.filter(round=round_).select_related("institution")
    if query:
        programmes = programmes.filter(
            Q(code__icontains=query.strip()) | Q(name__icontains=query.strip())
            | Q(institution__name__icontains=query.strip())
        )  # fmt: skip
    return programmes.prefetch_related("quotas", "combinations__combination").order_by("code")


def programme_get(*, round_: AdmissionRound, code: str) -> Programme:
    programme = (
        Programme.objects.filter(round=round_, code=code.upper())
        .select_related("institution")
        .prefetch_related("quotas", "combinations__combination")
        .first()
    )
    if programme is None:
        raise Http404
    return programme


def programmes_of_viewer(*, viewer, round_: AdmissionRound) -> QuerySet[Programme]:
    return programmes_visible(viewer=viewer, round_=round_).filter(
        institution__in=institutions_managed(viewer)
    )


def round_figures(round_: AdmissionRound) -> dict:
    wishes = Wish.objects.filter(round=round_)
    return {
        "programmes": Programme.objects.filter(round=round_).count(),
        "candidates": wishes.values("candidate_id").distinct().count(),
        "wishes": wishes.count(),
        "paid_wishes": sum(
            WishList.objects.filter(round=round_).values_list("paid_wishes", flat=True)
        ),
        "eligible": WishScore.objects.filter(wish__round=round_, reason="").count(),
        "confirmed": Confirmation.objects.filter(round=round_).count(),
    }


def runs_of(round_: AdmissionRound) -> QuerySet[MatchRun]:
    return round_.runs.select_related("requested_by").order_by("-number")


def run_get(*, round_: AdmissionRound, number: int) -> MatchRun:
    run = round_.runs.filter(number=number).first()
    if run is None:
        raise Http404
    return run


def cutoffs_of(run: MatchRun, *, programmes: QuerySet[Programme] | None = None):
    cutoffs = Cutoff.objects.filter(run=run).select_related("programme__institution")
    if programmes is not None:
        cutoffs = cutoffs.filter(programme__in=programmes)
    return cutoffs.order_by("programme__code")


@dataclass
class WishRow:
    rank: int
    programme: Programme
    combination: str | None
    score: int | None
    reason: str
    paid: bool
    outcome: str = ""  # admitted, missed, not_considered (below the placement), or ""
    outcome_text: str = ""


def wish_rows(round_: AdmissionRound, candidate) -> list[WishRow]:
    """The candidate's list with each wish's score, and after publication what happened."""
    paid = (
        WishList.objects.filter(round=round_, candidate=candidate)
        .values_list("paid_wishes", flat=True)
        .first()
        or 0
    )
    rows = []
    for wish in (
        Wish.objects.filter(round=round_, candidate=candidate)
        .select_related("programme__institution", "score__combination")
        .order_by("rank")
    ):
        score = getattr(wish, "score", None)
        rows.append(
            WishRow(
                rank=wish.rank,
                programme=wish.programme,
                combination=score.combination.code if score and score.combination else None,
                score=score.score if score else None,
                reason=score.reason if score else "",
                paid=round_.fee_per_wish == 0 or wish.rank <= paid,
            )
        )
    if round_.published_run_id:
        _outcomes(round_, candidate, rows)
    return rows


def _outcomes(round_, candidate, rows: list[WishRow]) -> None:
    from .wishes import placement_published

    placement = placement_published(round_, candidate)
    placed_rank = placement.rank if placement and placement.programme_id else None
    missed = {
        m.programme_id: Reason(m.reason)
        for m in MissedWish.objects.filter(run_id=round_.published_run_id, candidate=candidate)
    }
    for row in rows:
        if placed_rank is not None and row.rank == placed_rank:
            row.outcome = "admitted"
        elif placed_rank is not None and row.rank > placed_rank:
            row.outcome = "not_considered"
        elif row.programme.pk in missed:
            row.outcome, row.outcome_text = "missed", missed[row.programme.pk].vi
        else:
            row.outcome = "missed"
            row.outcome_text = WishScore.Reason(row.reason).label if row.reason else ""
            if not row.paid:
                row.outcome_text = "chưa nộp lệ phí nguyện vọng này"


def admitted_list(*, viewer, round_: AdmissionRound, programme: Programme) -> list[dict]:
    """The published run's admitted candidates of a programme, best first (audited)."""
    if not (
        is_ministry(viewer)
        or institutions_managed(viewer).filter(pk=programme.institution_id).exists()
    ):
        raise Http404
    if round_.published_run_id is None:
        return []
    confirmed = set(
        Confirmation.objects.filter(round=round_, programme=programme).values_list(
            "candidate_id", flat=True
        )
    )
    rows = [
        {
            "candidate_number": number,
            "full_name": name,
            "birth_date": born,
            "score": score,
            "rank": rank,
            "confirmed": cid in confirmed,
        }
        for cid, number, name, born, score, rank in Placement.objects.filter(
            run_id=round_.published_run_id, programme=programme
        )
        .order_by("-score", "rank", "candidate__candidate_number")
        .values_list(
            "candidate_id",
            "candidate__candidate_number",
            "candidate__person__full_name",
            "candidate__person__birth_date",
            "score",
            "rank",
        )
    ]
    audit_record(
        actor=viewer, action="read", object_type="admitted_list", object_id=programme.pk,
        detail={"rows": len(rows)},
    )  # fmt: skip
    return rows


def placement_counts(run: MatchRun) -> dict:
    return Placement.objects.filter(run=run).aggregate(
        placed=Count("id", filter=Q(programme__isnull=False)),
        unplaced=Count("id", filter=Q(programme__isnull=True)),
    )
