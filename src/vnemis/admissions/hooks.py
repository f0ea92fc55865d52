"""What admissions does when something below it changes (registered in ``AppConfig.ready``)."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from .models import AdmissionRound
from .scoring import wish_scores_refresh


def exam_scores_changed(candidate_ids: list[int]) -> None:
    """After a re-marking appeal: rescore those candidates' wishes and mark the round's last
    run out of date (the Ministry reruns when it decides to)."""
    from vnemis.exams.models import Candidate

    sessions = Candidate.objects.filter(id__in=candidate_ids).values("session_id")
    for round_ in AdmissionRound.objects.filter(exam_session_id__in=sessions):
        wish_scores_refresh(round_, candidate_ids)
        AdmissionRound.objects.filter(pk=round_.pk).update(inputs_changed_at=timezone.now())


def fee_next_url(order) -> str:
    """Where the payment return page sends the candidate: back to their wishes."""
    year = order.reference.partition(":")[0]
    return reverse("admissions:wishes", kwargs={"year": int(year)}) if year.isdigit() else "/"
