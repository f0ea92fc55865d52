"""The graduation score and pass decision (Circular 24/2024, DOMAIN.md §6), over arrays.

    graduation = [(Σ exam scores + incentive) / n + three-year average] / 2 + priority
    three-year average = (year 10 + 2 × year 11 + 3 × year 12) / 6
    n = papers taken: 4, or 3 when the language is exempted by certificate
    pass = every paper taken > 1.0 and graduation ≥ 5.0

Every value is a whole number of hundredths (7.25 → 725) in int64 arrays, and the formula is
rearranged over one common denominator, so the result is exact: one division, rounded half up
to two decimals (x.xx5 → up). Nothing is rounded on the way: not the three-year average, not
the quotient by n. Yearly averages arrive already rounded (two decimals, half up: see
``year_average``), as they stand in the record book.

No ORM here: ``actions_results`` feeds chunks of a session in and writes the outputs back.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np

PASS_MIN_TOTAL = 500  # 5.00
PAPER_FLOOR = 100  # a paper at or below 1.00 (điểm liệt) fails the candidate

PASSED, FAILED, INCOMPLETE = "passed", "failed", "incomplete"
# Why a result is what it is (shown translated on the pages; stable codes for the API).
MISSING_SCORE = "missing_score"
MISSING_AVERAGE = "missing_average"
PAPER_AT_FLOOR = "paper_at_floor"
TOTAL_TOO_LOW = "total_too_low"

_RESULT_CODES = np.array(["", PASSED, FAILED, INCOMPLETE], dtype=object)
_REASON_CODES = np.array(["", MISSING_SCORE, MISSING_AVERAGE, PAPER_AT_FLOOR, TOTAL_TOO_LOW])


def hundredths(value: Decimal | str | int) -> int:
    """7.25 → 725; refuses more than two decimals rather than rounding silently."""
    d = Decimal(str(value))
    scaled = d * 100
    if scaled != scaled.to_integral_value():
        raise ValueError(f"more than two decimals: {value}")
    return int(scaled)


def from_hundredths(value: int) -> Decimal:
    return (Decimal(int(value)) / 100).quantize(Decimal("0.01"))


def year_average(total_hundredths: int, subjects: int) -> int:
    """A yearly average of ``subjects`` scored subjects from their summed year scores, in
    hundredths, rounded half up to two decimals (the record book's value)."""
    if subjects <= 0:
        raise ValueError("a yearly average needs at least one scored subject")
    return (2 * total_hundredths + subjects) // (2 * subjects)


@dataclass(frozen=True)
class GraduationInput:
    """One row per candidate; all arrays of the same length."""

    exam_sum: np.ndarray  # Σ of the recorded scores of the papers taken (hundredths)
    papers: np.ndarray  # papers taken: registered and not exempted (4 or 3)
    scored: np.ndarray  # of those, how many have a score
    lowest: np.ndarray  # lowest recorded score of a paper taken (hundredths; any if none)
    incentive: np.ndarray  # incentive points (hundredths)
    priority: np.ndarray  # priority points (hundredths)
    year10: np.ndarray  # yearly averages (hundredths; anything where missing)
    year11: np.ndarray
    year12: np.ndarray
    years_present: np.ndarray  # bool: all three yearly averages are known


@dataclass(frozen=True)
class GraduationOutput:
    score: np.ndarray  # graduation score in hundredths; -1 where it cannot be computed
    three_year: np.ndarray  # three-year average rounded half up (hundredths; -1 if missing)
    result: np.ndarray  # PASSED / FAILED / INCOMPLETE (object array of str)
    reason: np.ndarray  # "" or one of the reason codes


def _round_half_up(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator to the nearest integer, halves up (both non-negative)."""
    return (2 * numerator + denominator) // (2 * denominator)


def graduation_compute(data: GraduationInput) -> GraduationOutput:
    """Graduation score, result and reason for every row, exactly (see the module docstring)."""
    n = np.asarray(data.papers, dtype=np.int64)
    exam = np.asarray(data.exam_sum, dtype=np.int64)
    bonus = np.asarray(data.incentive, dtype=np.int64)
    priority = np.asarray(data.priority, dtype=np.int64)
    weighted = (
        np.asarray(data.year10, dtype=np.int64)
        + 2 * np.asarray(data.year11, dtype=np.int64)
        + 3 * np.asarray(data.year12, dtype=np.int64)
    )
    present = np.asarray(data.years_present, dtype=bool)
    complete = (np.asarray(data.scored) == n) & (n > 0)
    computable = complete & present

    # [(S + I)/n + W/6] / 2 + P  =  (6(S + I) + nW + 12nP) / 12n, all in hundredths.
    safe_n = np.where(n > 0, n, 1)
    numerator = 6 * (exam + bonus) + safe_n * weighted + 12 * safe_n * priority
    score = np.where(computable, _round_half_up(numerator, 12 * safe_n), -1)
    three_year = np.where(present, _round_half_up(weighted, np.full_like(weighted, 6)), -1)

    # Any recorded paper at the floor fails the candidate, whatever else is still missing.
    floor_hit = (np.asarray(data.scored) > 0) & (
        np.asarray(data.lowest, dtype=np.int64) <= PAPER_FLOOR
    )
    too_low = computable & (score < PASS_MIN_TOTAL)
    # Reason index into _REASON_CODES; the first that applies wins.
    reason = np.select([~complete, ~present, floor_hit, too_low], [1, 2, 3, 4], default=0).astype(
        np.int64
    )
    result = np.select([floor_hit, ~computable, too_low], [2, 3, 2], default=1).astype(np.int64)
    reason = np.where(floor_hit, 3, reason)
    return GraduationOutput(
        score=score,
        three_year=three_year,
        result=_RESULT_CODES[result],
        reason=_REASON_CODES[reason],
    )


def graduation_one(
    *,
    scores: list,
    years: tuple,
    incentive="0",
    priority="0",
    papers: int | None = None,
) -> tuple[Decimal | None, str, str]:
    """One candidate by hand: (graduation score, result, reason). ``scores`` are the papers
    taken (None for a missing one); ``papers`` defaults to their number."""
    taken = papers if papers is not None else len(scores)
    recorded = [hundredths(s) for s in scores if s is not None]
    present = all(y is not None for y in years)
    y10, y11, y12 = (hundredths(y) if y is not None else 0 for y in years)
    out = graduation_compute(
        GraduationInput(
            exam_sum=np.array([sum(recorded)]),
            papers=np.array([taken]),
            scored=np.array([len(recorded)]),
            lowest=np.array([min(recorded) if recorded else 0]),
            incentive=np.array([hundredths(incentive)]),
            priority=np.array([hundredths(priority)]),
            year10=np.array([y10]),
            year11=np.array([y11]),
            year12=np.array([y12]),
            years_present=np.array([present]),
        )
    )
    value = int(out.score[0])
    return (from_hundredths(value) if value >= 0 else None), out.result[0], out.reason[0]
