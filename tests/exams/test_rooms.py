"""Candidate numbers and rooms: deterministic, per province, never beyond a room's capacity."""

from collections import Counter
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from hypothesis import given
from hypothesis import strategies as st

from vnemis.exams import actions_rooms
from vnemis.exams.assignment import CapacityShort, candidate_numbers, seats_fill
from vnemis.exams.models import Candidate, Room, Score, Venue


@given(
    capacities=st.lists(st.integers(min_value=1, max_value=30), min_size=1, max_size=40),
    data=st.data(),
)
def test_seats_fill_never_exceeds_capacity(capacities, data):
    n = data.draw(st.integers(min_value=0, max_value=sum(capacities)))
    rooms = seats_fill(capacities=capacities, candidates=n).tolist()
    taken = Counter(rooms)
    assert all(taken[i] <= cap for i, cap in enumerate(capacities))
    assert rooms == sorted(rooms)  # filled in order: room k before room k+1
    assert len(rooms) == n


def test_seats_fill_refuses_when_short():
    with pytest.raises(CapacityShort) as exc:
        seats_fill(capacities=[24, 24], candidates=49, province="01")
    assert (exc.value.candidates, exc.value.seats) == (49, 48)


def test_candidate_numbers_format():
    assert candidate_numbers(council="01", start=0, count=3) == ["01000001", "01000002", "01000003"]
    assert candidate_numbers(council="48", start=123, count=1) == ["48000124"]
    with pytest.raises(ValueError):
        candidate_numbers(council="1", start=0, count=1)


def _numbers(session, province):
    return dict(
        Candidate.objects.filter(session=session, province_code=province).values_list(
            "person__full_name", "candidate_number"
        )
    )


def test_seating_is_deterministic_and_within_capacity(exam_session, registered):
    venue = actions_rooms.venue_create(
        actor=None, session=exam_session, province_code="01", code="V01", name="Điểm thi 1",
        rooms=2, capacity=2,
    )  # fmt: skip
    seating = actions_rooms.seating_assign(actor=None, session=exam_session, province_code="01")
    assert (seating.candidates, seating.seats, seating.numbered) == (4, 4, 4)
    numbers = _numbers(exam_session, "01")
    # School 01000201 first, then by given name: An, Bình, Chi; then school 01000202: Dũng.
    assert numbers == {
        "Nguyễn Văn An": "01000001",
        "Trần Thị Bình": "01000002",
        "Lê Thị Chi": "01000003",
        "Phạm Văn Dũng": "01000004",
    }
    occupancy = Counter(
        Candidate.objects.filter(session=exam_session, province_code="01").values_list(
            "room__number", flat=True
        )
    )
    assert occupancy == {1: 2, 2: 2}
    assert all(c <= 2 for c in occupancy.values())
    again = actions_rooms.seating_assign(actor=None, session=exam_session, province_code="01")
    assert (again.numbered, again.seated) == (0, 0)
    assert _numbers(exam_session, "01") == numbers
    # Đà Nẵng is a council of its own; nothing was numbered there.
    assert _numbers(exam_session, "48") == {"Hoàng Văn Em": ""}
    assert venue.rooms.count() == 2


def test_seating_refused_when_rooms_are_short(exam_session, registered):
    actions_rooms.venue_create(
        actor=None, session=exam_session, province_code="01", code="V01", name="Điểm thi 1",
        rooms=1, capacity=3,
    )  # fmt: skip
    with pytest.raises(ValidationError) as exc:
        actions_rooms.seating_assign(actor=None, session=exam_session, province_code="01")
    assert exc.value.code == "capacity_short"
    assert "cần thêm ít nhất 1 phòng" in exc.value.messages[0]
    assert not Candidate.objects.exclude(candidate_number="").exists()  # nothing half-done


def test_auto_venues_seat_everyone(exam_session, registered):
    created = actions_rooms.venues_from_units(actor=None, session=exam_session, province_code="01")
    assert sorted(v.code for v in created) == ["01000201", "01000202"]
    assert Room.objects.filter(venue__session=exam_session).count() == 2
    actions_rooms.seating_assign(actor=None, session=exam_session, province_code="01")
    assert not Candidate.objects.filter(province_code="01", room__isnull=True).exists()


def test_new_candidates_get_the_next_numbers(exam_session, registered):
    actions_rooms.venues_from_units(actor=None, session=exam_session, province_code="01")
    actions_rooms.seating_assign(actor=None, session=exam_session, province_code="01")
    first = _numbers(exam_session, "01")
    Candidate.objects.filter(person__full_name="Nguyễn Văn An").update(candidate_number="")
    actions_rooms.seating_assign(actor=None, session=exam_session, province_code="01")
    assert _numbers(exam_session, "01")["Nguyễn Văn An"] == "01000005"
    actions_rooms.seating_assign(
        actor=None, session=exam_session, province_code="01", renumber=True
    )
    assert _numbers(exam_session, "01") == first


def test_move_respects_capacity_and_scope(exam_session, registered, exam_users):
    actions_rooms.venue_create(
        actor=None, session=exam_session, province_code="01", code="V01", name="Điểm thi 1",
        rooms=2, capacity=2,
    )  # fmt: skip
    actions_rooms.seating_assign(actor=None, session=exam_session, province_code="01")
    room1, room2 = Room.objects.filter(venue__code="V01").order_by("number")
    an = Candidate.objects.get(person__full_name="Nguyễn Văn An")  # in room 1
    with pytest.raises(ValidationError) as exc:
        actions_rooms.candidate_move(actor=exam_users["so_hn"], candidate=an, room=room2)
    assert exc.value.code == "room_full"
    with pytest.raises(PermissionDenied):
        actions_rooms.candidate_move(actor=exam_users["so_dn"], candidate=an, room=room1)
    Candidate.objects.filter(person__full_name="Lê Thị Chi").update(room=None)
    moved = actions_rooms.candidate_move(actor=exam_users["so_hn"], candidate=an, room=room2)
    assert moved.room_id == room2.pk


def test_only_the_council_assigns_rooms(exam_session, registered, exam_users):
    with pytest.raises(PermissionDenied):
        actions_rooms.venue_create(
            actor=exam_users["so_dn"], session=exam_session, province_code="01", code="X",
            name="X", rooms=1,
        )  # fmt: skip
    with pytest.raises(PermissionDenied):
        actions_rooms.seating_assign(
            actor=exam_users["hn1"], session=exam_session, province_code="01"
        )
    assert not Venue.objects.exists()


def test_no_reseating_once_scores_exist(exam_session, registered):
    actions_rooms.venues_from_units(actor=None, session=exam_session, province_code="01")
    actions_rooms.seating_assign(actor=None, session=exam_session, province_code="01")
    an = registered["an"]
    Score.objects.create(candidate=an, subject=an.subjects.first().subject, score=Decimal("7"))
    with pytest.raises(ValidationError) as exc:
        actions_rooms.seating_assign(actor=None, session=exam_session, province_code="01")
    assert exc.value.code == "scores_exist"
