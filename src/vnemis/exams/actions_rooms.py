"""Venues, rooms, candidate numbers and seats, per province council.

``seating_assign`` numbers a province's candidates and fills its rooms in one transaction, in
the deterministic order of ``assignment``; rerunning it gives the same seats, and it refuses
(changing nothing) when the rooms are too few. Numbers once given are kept: new candidates get
the next numbers, unless the council renumbers before any score exists. A single candidate can
be moved to another room that still has a free seat.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils.translation import gettext as _

from vnemis.core.audit import audit_record
from vnemis.orgs.models import Organisation

from .access import province_ensure
from .assignment import CapacityShort, candidate_numbers, rooms_needed, seats_fill, sequence_of
from .models import Candidate, ExamSession, Room, Score, Venue
from .sql import rows_update

# The stable numbering order within a province (see ``assignment``).
NUMBER_ORDER = (
    "unit__code",
    "person__given_name",
    "person__family_name",
    "person__middle_name",
    "person__birth_date",
    "id",
)


def _scores_exist(session: ExamSession, province_code: str) -> bool:
    return Score.objects.filter(
        candidate__session=session, candidate__province_code=province_code
    ).exists()


def _frozen_ensure(session: ExamSession, province_code: str) -> None:
    if _scores_exist(session, province_code):
        raise ValidationError(
            _("Đã có điểm thi của tỉnh %(province)s; không thể xếp lại số báo danh hay phòng thi.")
            % {"province": province_code},
            code="scores_exist",
        )


@transaction.atomic
def venue_create(
    *,
    actor,
    session: ExamSession,
    province_code: str,
    code: str,
    name: str,
    rooms: int,
    capacity: int | None = None,
    host: Organisation | None = None,
    address: str = "",
) -> Venue:
    """A venue of a province with ``rooms`` rooms numbered from 1, each of ``capacity`` seats
    (the session's default, 24, if not given)."""
    province_ensure(actor, province_code)
    capacity = capacity or session.room_capacity
    if rooms < 1 or not 1 <= capacity <= 100:
        raise ValidationError(_("Điểm thi cần ít nhất một phòng, mỗi phòng từ 1 đến 100 chỗ."))
    code = code.strip()
    if not code or Venue.objects.filter(session=session, code=code).exists():
        raise ValidationError(_("Mã điểm thi '%(code)s' trống hoặc đã có.") % {"code": code})
    venue = Venue.objects.create(
        session=session,
        province_code=province_code,
        code=code,
        name=name.strip() or code,
        address=address.strip(),
        host=host,
    )
    Room.objects.bulk_create(
        Room(venue=venue, number=n, capacity=capacity) for n in range(1, rooms + 1)
    )
    audit_record(
        actor=actor,
        action="create",
        object_type="exam_venue",
        object_id=venue.pk,
        detail={"province": province_code, "rooms": rooms, "capacity": capacity},
    )
    return venue


@transaction.atomic
def venues_from_units(*, actor, session: ExamSession, province_code: str) -> list[Venue]:
    """One venue per registration unit of the province that has none yet, hosted there, with
    the rooms its candidates need at the default capacity (a starting plan to adjust)."""
    province_ensure(actor, province_code)
    hosted = set(
        Venue.objects.filter(session=session, province_code=province_code).values_list(
            "host_id", flat=True
        )
    )
    counts = (
        Candidate.objects.filter(session=session, province_code=province_code)
        .values("unit_id")
        .annotate(n=Count("id"))
        .order_by("unit_id")
    )
    units = Organisation.objects.in_bulk([c["unit_id"] for c in counts])
    created = []
    for row in counts:
        unit = units[row["unit_id"]]
        if unit.pk in hosted:
            continue
        rooms = rooms_needed(row["n"], session.room_capacity)
        created.append(
            venue_create(
                actor=actor,
                session=session,
                province_code=province_code,
                code=unit.code,
                name=unit.name,
                rooms=rooms,
                host=unit,
                address=unit.address,
            )
        )
    return created


@dataclass
class Seating:
    numbered: int = 0  # candidates given a (new) number
    seated: int = 0  # candidates whose room changed
    candidates: int = 0
    seats: int = 0


def _in_number_order(
    session: ExamSession, province_code: str, *, renumber: bool
) -> tuple[list[tuple[int, str, int | None]], int]:
    """Every candidate of the province as (id, number, current room) in number order, the
    unnumbered ones given the next numbers (not yet written); and how many those are."""
    candidates = Candidate.objects.filter(session=session, province_code=province_code)
    if renumber:
        candidates.exclude(candidate_number="").update(candidate_number="")
    numbered = list(
        candidates.exclude(candidate_number="")
        .order_by("candidate_number")
        .values_list("id", "candidate_number", "room_id")
    )
    start = sequence_of(numbered[-1][1]) if numbered else 0
    waiting = list(
        candidates.filter(candidate_number="").order_by(*NUMBER_ORDER).values_list("id", "room_id")
    )
    numbers = candidate_numbers(council=province_code, start=start, count=len(waiting))
    fresh = [(cid, number, room) for (cid, room), number in zip(waiting, numbers, strict=True)]
    return numbered + fresh, len(fresh)


@transaction.atomic
def seating_assign(
    *, actor, session: ExamSession, province_code: str, renumber: bool = False
) -> Seating:
    """Number the province's candidates who have no number yet (all of them with ``renumber``)
    and fill its rooms in number order, never beyond a room's capacity."""
    province_ensure(actor, province_code)
    _frozen_ensure(session, province_code)
    rooms = list(
        Room.objects.select_for_update()
        .filter(venue__session=session, venue__province_code=province_code)
        .order_by("venue__code", "number")
        .values_list("id", "capacity")
    )
    total = Candidate.objects.filter(session=session, province_code=province_code).count()
    capacities = [c for _id, c in rooms]
    if total > sum(capacities):
        raise _short(
            CapacityShort(province=province_code, candidates=total, seats=sum(capacities)), session
        )
    result = Seating(candidates=total, seats=sum(capacities))
    everyone, result.numbered = _in_number_order(session, province_code, renumber=renumber)
    first_new = len(everyone) - result.numbered
    seats = seats_fill(capacities=capacities, candidates=len(everyone), province=province_code)
    # One write per candidate whose number or room changes, both columns at once.
    changes = []
    for i, ((cid, number, old_room), seat) in enumerate(zip(everyone, seats.tolist(), strict=True)):
        room_id = rooms[seat][0]
        result.seated += old_room != room_id
        if i >= first_new or old_room != room_id:
            changes.append((number, room_id, cid))
    rows_update(Candidate, ["candidate_number", "room"], changes)
    audit_record(
        actor=actor,
        action="update",
        object_type="exam_seating",
        object_id=f"{session.year}-{province_code}",
        detail={"numbered": result.numbered, "seated": result.seated, "renumber": renumber},
    )
    return result


def _short(exc: CapacityShort, session: ExamSession) -> ValidationError:
    missing = exc.candidates - exc.seats
    return ValidationError(
        _(
            "Tỉnh %(province)s có %(candidates)s thí sinh nhưng các phòng thi chỉ có %(seats)s chỗ; "
            "cần thêm ít nhất %(rooms)s phòng %(capacity)s chỗ. Chưa xếp phòng nào."
        )
        % {
            "province": exc.province,
            "candidates": exc.candidates,
            "seats": exc.seats,
            "rooms": rooms_needed(missing, session.room_capacity),
            "capacity": session.room_capacity,
        },
        code="capacity_short",
    )


@transaction.atomic
def candidate_move(*, actor, candidate: Candidate, room: Room) -> Candidate:
    """Move one candidate to another room of their council that still has a free seat."""
    province_ensure(actor, candidate.province_code)
    locked_room = Room.objects.select_for_update().select_related("venue").get(pk=room.pk)
    venue = locked_room.venue
    if venue.session_id != candidate.session_id or venue.province_code != candidate.province_code:
        raise ValidationError(_("Phòng thi không thuộc hội đồng thi của thí sinh."))
    taken = Candidate.objects.filter(room=locked_room).exclude(pk=candidate.pk).count()
    if taken >= locked_room.capacity:
        raise ValidationError(
            _("Phòng %(room)s đã đủ %(capacity)s thí sinh.")
            % {"room": str(locked_room), "capacity": locked_room.capacity},
            code="room_full",
        )
    Candidate.objects.filter(pk=candidate.pk).update(room=locked_room)
    audit_record(
        actor=actor,
        action="update",
        object_type="exam_candidate",
        object_id=candidate.pk,
        detail={"fields": ["room"]},
    )
    candidate.refresh_from_db()
    return candidate
