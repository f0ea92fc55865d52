"""The graduation formula and pass rule by hand, and the engine against an exact reference."""

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vnemis.exams import graduation as g


def test_plain_candidate_by_hand():
    # Σ = 7 + 8 + 6.5 + 7.5 = 29; 29/4 = 7.25; three-year (7 + 2·7.5 + 3·8)/6 = 46/6 = 7.6667
    # [7.25 + 7.6667]/2 = 7.4583 → 7.46
    score, result, reason = g.graduation_one(
        scores=["7", "8", "6.5", "7.5"], years=("7.0", "7.5", "8.0")
    )
    assert score == Decimal("7.46")
    assert (result, reason) == ("passed", "")


def test_priority_and_incentive_by_hand():
    # (29 + 2.0)/4 = 7.75; (7.75 + 7.6667)/2 = 7.7083; + 0.5 = 8.2083 → 8.21
    score, *_ = g.graduation_one(
        scores=["7", "8", "6.5", "7.5"], years=("7.0", "7.5", "8.0"), incentive="2.0",
        priority="0.5",
    )  # fmt: skip
    assert score == Decimal("8.21")


def test_language_exemption_divides_by_three():
    # Three papers: (7 + 8 + 6.5)/3 = 7.1667; (7.1667 + 7.6667)/2 = 7.4167 → 7.42
    score, result, _ = g.graduation_one(
        scores=["7", "8", "6.5"], years=("7.0", "7.5", "8.0"), papers=3
    )
    assert score == Decimal("7.42")
    assert result == "passed"


def test_exemption_with_incentive_divides_the_bonus_by_three_too():
    # (21.5 + 1.5)/3 = 7.6667; (7.6667 + 7.6667)/2 = 7.6667 → 7.67
    score, *_ = g.graduation_one(
        scores=["7", "8", "6.5"], years=("7.0", "7.5", "8.0"), papers=3, incentive="1.5"
    )
    assert score == Decimal("7.67")


def test_half_rounds_up_exactly():
    # Σ = 20.02, /4 = 5.005; years all 5.00; (5.005 + 5)/2 = 5.0025 → 5.00 (below half)
    assert g.graduation_one(scores=["5", "5", "5", "5.02"], years=("5", "5", "5"))[0] == Decimal(
        "5.00"
    )
    # Σ = 20.04, /4 = 5.01; (5.01 + 5)/2 = 5.005 exactly → 5.01 (half up, not half even)
    assert g.graduation_one(scores=["5", "5", "5", "5.04"], years=("5", "5", "5"))[0] == Decimal(
        "5.01"
    )
    # 4.995 exactly → 5.00 and passes: a float would give 4.99499... and fail the candidate.
    score, result, _ = g.graduation_one(scores=["5", "5", "5", "4.98"], years=("5", "5", "5"))
    assert (score, result) == (Decimal("5.00"), "passed")


def test_pass_needs_every_paper_above_one():
    # 1.0 exactly is the floor (điểm liệt): fails even with a high total.
    score, result, reason = g.graduation_one(
        scores=["10", "10", "10", "1.0"], years=("9", "9", "9")
    )
    assert score > Decimal("5")
    assert (result, reason) == ("failed", "paper_at_floor")
    _score, result, _ = g.graduation_one(scores=["10", "10", "10", "1.01"], years=("9", "9", "9"))
    assert result == "passed"


def test_pass_needs_five_exactly_or_more():
    # Σ = 20, /4 = 5; years 5 → 5.00 exactly: passes.
    assert g.graduation_one(scores=["5", "5", "5", "5"], years=("5", "5", "5"))[1] == "passed"
    # Σ = 19.92, /4 = 4.98; (4.98 + 5)/2 = 4.99: fails.
    score, result, reason = g.graduation_one(scores=["5", "5", "5", "4.92"], years=("5", "5", "5"))
    assert score == Decimal("4.99")
    assert (result, reason) == ("failed", "total_too_low")


def test_missing_score_or_average_is_incomplete():
    assert g.graduation_one(scores=["7", "7", "7", None], years=("7", "7", "7"))[1:] == (
        "incomplete",
        "missing_score",
    )
    assert g.graduation_one(scores=["7", "7", "7", "7"], years=("7", None, "7")) == (
        None,
        "incomplete",
        "missing_average",
    )
    # A paper at the floor fails whatever is still missing.
    assert g.graduation_one(scores=["0.5", "7", "7", None], years=("7", "7", "7"))[1] == "failed"


def test_year_average_rounds_half_up_to_two_decimals():
    assert g.year_average(2000 + 1250, 4) == 813  # 32.50 / 4 = 8.125 → 8.13
    assert g.year_average(3 * 700 + 701, 4) == 700  # 7.0025 → 7.00
    with pytest.raises(ValueError):
        g.year_average(0, 0)


def test_hundredths_refuses_hidden_rounding():
    assert g.hundredths("7.25") == 725
    with pytest.raises(ValueError):
        g.hundredths("7.255")


def _reference(scores, years, incentive, priority):
    """The circular's formula in exact fractions, rounded half up once at the end."""
    n = len(scores)
    three = Fraction(years[0] + 2 * years[1] + 3 * years[2], 6)
    total = (Fraction(sum(scores) + incentive, n) + three) / 2 + priority
    return Decimal(total.numerator) / Decimal(total.denominator)


cents = st.integers(min_value=0, max_value=1000)


@settings(max_examples=300, deadline=None)
@given(
    scores=st.lists(cents, min_size=3, max_size=4),
    years=st.tuples(cents, cents, cents),
    incentive=st.sampled_from([0, 100, 150, 200]),
    priority=st.sampled_from([0, 25, 50]),
)
def test_engine_matches_exact_reference(scores, years, incentive, priority):
    n = len(scores)
    out = g.graduation_compute(
        g.GraduationInput(
            exam_sum=np.array([sum(scores)]), papers=np.array([n]), scored=np.array([n]),
            lowest=np.array([min(scores)]), incentive=np.array([incentive]),
            priority=np.array([priority]), year10=np.array([years[0]]),
            year11=np.array([years[1]]), year12=np.array([years[2]]),
            years_present=np.array([True]),
        )
    )  # fmt: skip
    exact = _reference(scores, years, incentive, priority) / 100
    expected = exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert g.from_hundredths(out.score[0]) == expected
    passed = min(scores) > 100 and expected >= Decimal("5.00")
    assert (out.result[0] == "passed") == passed
