"""Candidate numbers and seats: pure, deterministic functions (no ORM).

A candidate number (số báo danh) is the council's two-digit province code and a six-digit
sequence: ``01000123``. Within a province, candidates are numbered in one stable order (their
registration unit's code, then the Vietnamese name order: given name, family name, middle name,
then birth date and the internal id as the last tie-break), so the same registrations always
give the same numbers. Rooms are filled in candidate-number order, venue by venue (venue code)
and room by room (room number), each up to its capacity and never beyond.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SEQUENCE_DIGITS = 6
MAX_SEQUENCE = 10**SEQUENCE_DIGITS - 1


class CapacityShort(Exception):
    """The rooms of a province seat fewer candidates than it has."""

    def __init__(self, *, province: str, candidates: int, seats: int) -> None:
        super().__init__(f"province {province}: {candidates} candidates, {seats} seats")
        self.province = province
        self.candidates = candidates
        self.seats = seats


class SequenceExhausted(Exception):
    """A council would need more than 999,999 candidate numbers."""


def candidate_numbers(*, council: str, start: int, count: int) -> list[str]:
    """``count`` numbers after sequence ``start`` (the council's highest so far)."""
    if len(council) != 2 or not council.isdigit():
        raise ValueError(f"a council code is two digits, not {council!r}")
    if start + count > MAX_SEQUENCE:
        raise SequenceExhausted(council)
    return [f"{council}{n:0{SEQUENCE_DIGITS}d}" for n in range(start + 1, start + count + 1)]


def sequence_of(number: str) -> int:
    """01000123 → 123."""
    return int(number[2:])


def seats_fill(*, capacities: Sequence[int], candidates: int, province: str = "") -> np.ndarray:
    """The room index (into ``capacities``, already in venue and room order) of each of
    ``candidates`` candidates taken in number order. Raises ``CapacityShort`` if they do not fit.
    """
    caps = np.asarray(capacities, dtype=np.int64)
    if (caps < 1).any():
        raise ValueError("every room seats at least one candidate")
    seats = int(caps.sum())
    if candidates > seats:
        raise CapacityShort(province=province, candidates=candidates, seats=seats)
    # Room i takes the candidates whose position falls before the cumulative capacity of i.
    ends = np.cumsum(caps)
    return np.searchsorted(ends, np.arange(candidates), side="right")


def rooms_needed(candidates: int, capacity: int) -> int:
    """Rooms of ``capacity`` seats that ``candidates`` need."""
    return -(-candidates // capacity) if candidates else 0
