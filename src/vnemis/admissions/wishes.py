"""A candidate's wishes: the ordered list, the fee per wish, the admission profile, and the
confirmation of enrolment.

The list is replaced whole (``wishes_set``): the pages' add, remove, up and down all send the
new order, checked against the deadline and the programmes of the round, then written in one
transaction under a lock on the candidate's ``WishList`` row (two tabs cannot interleave) and
scored at once. The fee is per wish (``fee_order_start`` asks only for the wishes not yet paid
for); a settled order raises the paid count, recomputed from the paid orders each time, so a
duplicate or late notification never counts twice.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from vnemis.core.audit import audit_record
from vnemis.exams.access import unit_writer_ensure
from vnemis.payments.actions import payment_order_create
from vnemis.payments.models import PaymentOrder

from .catalogue import BONUS_CAP, GROUPS, REGIONS
from .errors import AdmissionError
from .models import (
    AdmissionProfile,
    AdmissionRound,
    Confirmation,
    MatchRun,
    Placement,
    Programme,
    Wish,
    WishList,
)
from .scoring import wish_scores_refresh

FEE_PURPOSE = "admission_wish_fee"
MAX_WISHES = 200  # no fixed maximum in the rules; a bound only against abuse


def _window_ensure(round_: AdmissionRound, now=None) -> None:
    now = now or timezone.now()
    if now < round_.wishes_open_at:
        raise AdmissionError(
            "not_open",
            "Chưa đến thời gian đăng ký nguyện vọng.",
            "Wish registration has not opened yet.",
        )
    if now >= round_.wishes_close_at:
        raise AdmissionError(
            "closed",
            "Đã hết hạn đăng ký và điều chỉnh nguyện vọng.",
            "The deadline to register and reorder wishes has passed.",
        )


def _list_lock(round_: AdmissionRound, candidate) -> WishList:
    WishList.objects.get_or_create(round=round_, candidate=candidate)
    return WishList.objects.select_for_update().get(round=round_, candidate=candidate)


def wishes_set(*, actor, round_: AdmissionRound, candidate, codes: list[str]) -> list[Wish]:
    """Replace the candidate's list with these programme codes, first wish first."""
    _window_ensure(round_)
    codes = [c.strip().upper() for c in codes if c and c.strip()]
    if len(codes) > MAX_WISHES:
        raise AdmissionError(
            "too_many",
            f"Tối đa {MAX_WISHES} nguyện vọng.",
            f"At most {MAX_WISHES} wishes.",
        )
    repeated = sorted({c for c in codes if codes.count(c) > 1})
    if repeated:
        raise AdmissionError(
            "repeated",
            f"Mỗi ngành chỉ đăng ký một lần: {', '.join(repeated)} bị lặp.",
            f"Each programme can be listed once: {', '.join(repeated)} repeats.",
        )
    programmes = dict(
        Programme.objects.filter(round=round_, code__in=codes).values_list("code", "id")
    )
    unknown = [c for c in codes if c not in programmes]
    if unknown:
        raise AdmissionError(
            "unknown_programme",
            f"Không có ngành mã {', '.join(unknown)} trong đợt xét tuyển này.",
            f"No programme with code {', '.join(unknown)} in this round.",
        )
    with transaction.atomic():
        wish_list = _list_lock(round_, candidate)
        Wish.objects.filter(round=round_, candidate=candidate).delete()
        wishes = Wish.objects.bulk_create(
            Wish(round=round_, candidate=candidate, programme_id=programmes[code], rank=rank)
            for rank, code in enumerate(codes, start=1)
        )
        wish_list.changed_at = timezone.now()
        wish_list.save(update_fields=["changed_at"])
        wish_scores_refresh(round_, [candidate.pk])
        audit_record(
            actor=actor, action="update", object_type="admission_wishes",
            object_id=candidate.pk, detail={"programmes": codes},
        )  # fmt: skip
    return wishes


def wish_list_codes(round_: AdmissionRound, candidate) -> list[str]:
    return list(
        Wish.objects.filter(round=round_, candidate=candidate)
        .order_by("rank")
        .values_list("programme__code", flat=True)
    )


def wish_move(*, actor, round_, candidate, code: str, step: int) -> list[Wish]:
    """Move one wish up (step −1) or down (+1)."""
    codes = wish_list_codes(round_, candidate)
    if code not in codes:
        raise AdmissionError(
            "not_in_list", "Ngành này không có trong danh sách.", "Not in your list."
        )
    i = codes.index(code)
    j = min(max(i + step, 0), len(codes) - 1)
    codes[i], codes[j] = codes[j], codes[i]
    return wishes_set(actor=actor, round_=round_, candidate=candidate, codes=codes)


# --- fees ----------------------------------------------------------------------------------


def fee_reference(round_: AdmissionRound, candidate) -> str:
    return f"{round_.year}:{candidate.pk}"


def fee_due(round_: AdmissionRound, candidate) -> tuple[int, int, int]:
    """(wishes listed, wishes paid for, amount still due in đồng)."""
    listed = Wish.objects.filter(round=round_, candidate=candidate).count()
    paid = (
        WishList.objects.filter(round=round_, candidate=candidate)
        .values_list("paid_wishes", flat=True)
        .first()
        or 0
    )
    if round_.fee_per_wish == 0:
        return listed, listed, 0
    return listed, paid, max(listed - paid, 0) * round_.fee_per_wish


def fee_order_start(*, actor, round_: AdmissionRound, candidate) -> PaymentOrder:
    """A payment order for the wishes not yet paid for (a pending one is reused)."""
    _window_ensure(round_)
    listed, paid, due = fee_due(round_, candidate)
    if due == 0:
        raise AdmissionError(
            "nothing_due",
            "Không còn nguyện vọng nào cần nộp lệ phí.",
            "No wish is waiting for its fee.",
        )
    reference = fee_reference(round_, candidate)
    now = timezone.now()
    pending = PaymentOrder.objects.filter(
        purpose=FEE_PURPOSE, reference=reference, status="pending", amount=due,
        expires_at__gt=now + timedelta(minutes=2),
    ).first()  # fmt: skip
    if pending is not None:
        return pending
    return payment_order_create(
        purpose=FEE_PURPOSE,
        reference=reference,
        amount=due,
        description=f"Le phi {listed - paid} nguyen vong xet tuyen dai hoc {round_.year}",
        payer=actor,
        expires_in=min(timedelta(minutes=15), round_.wishes_close_at - now),
    )


def fee_settled(order_id: int) -> None:
    """The payments hook: recount the candidate's paid wishes from every paid order."""
    order = PaymentOrder.objects.filter(pk=order_id, purpose=FEE_PURPOSE).first()
    if order is None:
        return
    year, _, candidate_id = order.reference.partition(":")
    round_ = AdmissionRound.objects.filter(year=int(year)).first()
    if round_ is None or not candidate_id.isdigit():
        return
    with transaction.atomic():
        wish_list, _new = WishList.objects.get_or_create(
            round=round_, candidate_id=int(candidate_id)
        )
        wish_list = WishList.objects.select_for_update().get(pk=wish_list.pk)
        total = (
            PaymentOrder.objects.filter(
                purpose=FEE_PURPOSE, reference=order.reference, status="paid"
            ).aggregate(total=Sum("paid_amount"))["total"]
            or 0
        )
        wish_list.paid_amount = total
        wish_list.paid_wishes = total // round_.fee_per_wish if round_.fee_per_wish else 0
        wish_list.save(update_fields=["paid_amount", "paid_wishes"])


# --- profile --------------------------------------------------------------------------------


def profile_set(
    *, actor, candidate, region: str, priority_group: str = "", bonus: int = 0, evidence: str = ""
) -> AdmissionProfile:
    """Region, priority group and bonus points, recorded by the candidate's school or
    Department (or the Ministry) with the evidence they saw."""
    unit_writer_ensure(actor, candidate.unit)
    if region not in REGIONS or priority_group not in GROUPS:
        raise AdmissionError(
            "bad_priority",
            "Khu vực hoặc nhóm ưu tiên không hợp lệ.",
            "Unknown priority region or group.",
        )
    if not isinstance(bonus, int) or not 0 <= bonus <= BONUS_CAP:
        raise AdmissionError(
            "bad_bonus",
            "Điểm cộng từ 0 đến 3,00 (10% thang điểm).",
            "Bonus points are from 0 to 3.00 (10% of the scale).",
        )
    with transaction.atomic():
        profile, _new = AdmissionProfile.objects.update_or_create(
            candidate=candidate,
            defaults={"region": region, "priority_group": priority_group, "bonus": bonus,
                      "evidence": evidence[:255], "updated_by": actor if actor and actor.pk else None},
        )  # fmt: skip
        for round_ in AdmissionRound.objects.filter(exam_session_id=candidate.session_id):
            wish_scores_refresh(round_, [candidate.pk])
        audit_record(
            actor=actor, action="update", object_type="admission_profile",
            object_id=candidate.pk, detail={"region": region, "group": priority_group, "bonus": bonus},
        )  # fmt: skip
    return profile


# --- placement and confirmation --------------------------------------------------------------


def placement_published(round_: AdmissionRound, candidate) -> Placement | None:
    if round_.published_run_id is None:
        return None
    return (
        Placement.objects.select_related("programme__institution")
        .filter(run_id=round_.published_run_id, candidate=candidate)
        .first()
    )


def enrolment_confirm(*, actor, round_: AdmissionRound, candidate) -> Confirmation:
    """The candidate confirms enrolment at their published placement, by the deadline."""
    placement = placement_published(round_, candidate)
    if placement is None or placement.programme_id is None:
        raise AdmissionError(
            "not_placed",
            "Bạn không có kết quả trúng tuyển để xác nhận.",
            "You have no placement to confirm.",
        )
    if round_.confirm_by is not None and timezone.now() >= round_.confirm_by:
        raise AdmissionError(
            "confirm_closed",
            "Đã hết hạn xác nhận nhập học.",
            "The deadline to confirm enrolment has passed.",
        )
    with transaction.atomic():
        confirmation, created = Confirmation.objects.get_or_create(
            round=round_,
            candidate=candidate,
            defaults={
                "programme_id": placement.programme_id,
                "run": MatchRun(pk=round_.published_run_id),
                "confirmed_by": actor if actor and actor.pk else None,
                "confirmed_at": timezone.now(),
            },
        )
        if created:
            audit_record(
                actor=actor, action="create", object_type="admission_confirmation",
                object_id=candidate.pk, detail={"programme": placement.programme.code},
            )  # fmt: skip
    return confirmation
