"""Assessment rules: Circular 22/2021 (lower and upper secondary) and 27/2020 (primary).

Pure functions over plain values, no ORM, so the same rules serve imports, pages, the API and
bulk recomputation. Scores are ``Decimal`` (0–10); averages are rounded to one decimal, half up
(6.25 → 6.3, 6.249 → 6.2), the way school record books round by hand. Floats are accepted and
converted through ``str`` so 6.25 stays 6.25.

Ratings use the codes stored in ``ResultSummary.Rating``: ``T`` Tốt, ``K`` Khá, ``D`` Đạt,
``CD`` Chưa đạt. Outcomes use ``ResultSummary.Outcome`` values. Details the Circulars leave to
schools or that public sources state differently are parameters with the common default.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

GOOD, FAIR, PASS, FAIL = "T", "K", "D", "CD"
# Higher is better; used to compare ratings and move them up or down by levels.
RATING_ORDER = {FAIL: 0, PASS: 1, FAIR: 2, GOOD: 3}
RATINGS_BY_LEVEL = {v: k for k, v in RATING_ORDER.items()}

# Comment-only subjects are rated Đạt / Chưa đạt.
COMMENT_PASS, COMMENT_FAIL = "D", "CD"

PROMOTED, REASSESS, REPEAT, COMPLETED_LEVEL = "promoted", "reassess", "repeat", "completed_level"

ONE_DECIMAL = Decimal("0.1")

Number = Decimal | float | int | str


def to_decimal(value: Number) -> Decimal:
    """A score as an exact Decimal (floats through ``str``, so 6.25 is not 6.2499...)."""
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value))


def round_score(value: Number, places: Decimal = ONE_DECIMAL) -> Decimal:
    """Round half up to one decimal (6.25 → 6.3), as the record books do."""
    return to_decimal(value).quantize(places, rounding=ROUND_HALF_UP)


def _check_score(value: Number) -> Decimal:
    d = to_decimal(value)
    if not Decimal(0) <= d <= Decimal(10):
        raise ValueError(f"Điểm phải từ 0 đến 10 / A score must be between 0 and 10: {value}")
    return d


# --- Circular 22/2021: scores -------------------------------------------------------------


def regular_assessment_count(periods_per_year: int) -> int:
    """Number of regular assessments per term: ≤35 periods → 2, 36–70 → 3, over 70 → 4."""
    if periods_per_year < 0:
        raise ValueError("periods_per_year must not be negative")
    if periods_per_year <= 35:
        return 2
    if periods_per_year <= 70:
        return 3
    return 4


def term_average(regular: Sequence[Number], mid: Number, end: Number) -> Decimal:
    """Term average = (Σ regular + 2 × mid-term + 3 × end-of-term) / (count of regular + 5)."""
    if not regular:
        raise ValueError("At least one regular assessment is needed / Cần ít nhất một điểm ĐGtx")
    regs = [_check_score(v) for v in regular]
    total = sum(regs, Decimal(0)) + 2 * _check_score(mid) + 3 * _check_score(end)
    return round_score(total / (len(regs) + 5))


def year_average(term1: Number, term2: Number) -> Decimal:
    """Year average = (term I + 2 × term II) / 3, from the (already rounded) term averages."""
    return round_score((_check_score(term1) + 2 * _check_score(term2)) / 3)


# --- Circular 22/2021: learning rating ------------------------------------------------------


@dataclass(frozen=True)
class RatingRules:
    """Thresholds of the learning-rating table (Circular 22/2021, Article 9)."""

    good_floor: Decimal = Decimal("6.5")
    good_high: Decimal = Decimal("8.0")
    fair_floor: Decimal = Decimal("5.0")
    fair_high: Decimal = Decimal("6.5")
    pass_high: Decimal = Decimal("5.0")
    pass_floor: Decimal = Decimal("3.5")
    # "At least 6 subjects": a programme with fewer scored subjects would never reach the top
    # ratings, so the count is capped at the number of scored subjects the pupil has.
    required_count: int = 6
    comment_fails_allowed_for_pass: int = 1


DEFAULT_RULES = RatingRules()


def _base_rating(scores: Sequence[Decimal], comments: Sequence[str], rules: RatingRules) -> str:
    need = min(rules.required_count, len(scores))
    comments_all_pass = all(c == COMMENT_PASS for c in comments)
    comment_fails = sum(1 for c in comments if c != COMMENT_PASS)
    if (
        comments_all_pass
        and all(s >= rules.good_floor for s in scores)
        and sum(1 for s in scores if s >= rules.good_high) >= need
    ):
        return GOOD
    if (
        comments_all_pass
        and all(s >= rules.fair_floor for s in scores)
        and sum(1 for s in scores if s >= rules.fair_high) >= need
    ):
        return FAIR
    if (
        comment_fails <= rules.comment_fails_allowed_for_pass
        and sum(1 for s in scores if s >= rules.pass_high) >= need
        and all(s >= rules.pass_floor for s in scores)
    ):
        return PASS
    return FAIL


def learning_rating(
    scores: Mapping[str, Number],
    comments: Mapping[str, str] | None = None,
    *,
    rules: RatingRules = DEFAULT_RULES,
) -> str:
    """The term or year learning rating from subject averages and comment-subject ratings.

    ``scores`` maps scored subjects to their term (or year) average; ``comments`` maps
    comment-only subjects to ``D``/``CD``. Article 9(3): if the rating is two or more levels
    lower than it would be but for one single subject, it is raised by one level. "But for that
    subject" is read as: that subject at its best (10.0, or Đạt) with all others unchanged.
    """
    comments = dict(comments or {})
    for code, value in comments.items():
        if value not in (COMMENT_PASS, COMMENT_FAIL):
            raise ValueError(f"Comment subject {code} must be rated D or CD, not {value!r}")
    score_values = {k: _check_score(v) for k, v in scores.items()}
    base = _base_rating(list(score_values.values()), list(comments.values()), rules)
    base_level = RATING_ORDER[base]
    best = base_level
    for code in score_values:
        others = [v for k, v in score_values.items() if k != code] + [Decimal(10)]
        best = max(best, RATING_ORDER[_base_rating(others, list(comments.values()), rules)])
    for code in comments:
        others = [v for k, v in comments.items() if k != code] + [COMMENT_PASS]
        best = max(best, RATING_ORDER[_base_rating(list(score_values.values()), others, rules)])
    if best - base_level >= 2:
        return RATINGS_BY_LEVEL[base_level + 1]
    return base


def subjects_to_reassess(
    year_scores: Mapping[str, Number],
    year_comments: Mapping[str, str] | None = None,
    *,
    threshold: Number = "5.0",
) -> list[str]:
    """Subjects a pupil re-sits in summer: year average below 5.0 or comment subject Chưa đạt."""
    limit = to_decimal(threshold)
    low = [k for k, v in year_scores.items() if to_decimal(v) < limit]
    failed = [k for k, v in (year_comments or {}).items() if v != COMMENT_PASS]
    return sorted(low) + sorted(failed)


# --- Circular 22/2021: year outcome ---------------------------------------------------------


@dataclass(frozen=True)
class OutcomeRules:
    """School-level details of Article 12 as parameters.

    ``max_absences``: sessions a pupil may miss in a year (45 in the Circular; None disables the
    check). ``repeat_if_both_fail``: some Departments read Article 12 as sending a pupil whose
    learning *and* conduct are both Chưa đạt straight to repeating, without the summer; the
    default gives every pupil the summer chance.
    """

    max_absences: int | None = 45
    repeat_if_both_fail: bool = False


DEFAULT_OUTCOME_RULES = OutcomeRules()


def year_outcome(
    learning: str,
    conduct: str,
    *,
    absences: int = 0,
    after_summer: bool = False,
    rules: OutcomeRules = DEFAULT_OUTCOME_RULES,
) -> str:
    """Promoted, re-assessed in summer, or repeating (Circular 22/2021, Articles 12–14).

    Before the summer (``after_summer=False``): promoted when learning and conduct are both Đạt
    or better; otherwise the pupil re-sits the failed subjects (learning Chưa đạt) or trains in
    the summer (conduct Chưa đạt), i.e. ``reassess``. With the ratings re-given after the summer
    (``after_summer=True``): repeat if learning or conduct is still Chưa đạt, else promoted.
    Too many absences means repeating whatever the ratings.
    """
    for value in (learning, conduct):
        if value not in RATING_ORDER:
            raise ValueError(f"Unknown rating {value!r}; expected one of T, K, D, CD")
    if rules.max_absences is not None and absences > rules.max_absences:
        return REPEAT
    failing = learning == FAIL or conduct == FAIL
    if not failing:
        return PROMOTED
    if after_summer:
        return REPEAT
    if rules.repeat_if_both_fail and learning == FAIL and conduct == FAIL:
        return REPEAT
    return REASSESS


# --- Circular 27/2020: primary ---------------------------------------------------------------

# Subject ratings: Hoàn thành tốt, Hoàn thành, Chưa hoàn thành.
SUBJECT_ORDER = {"C": 0, "H": 1, "T": 2}
# Qualities and competences: Tốt, Đạt, Cần cố gắng.
QUALITY_ORDER = {"CCG": 0, "D": 1, "T": 2}


@dataclass(frozen=True)
class PrimaryLevel:
    """One year-end summary level: the lowest subject rating, quality/competence rating and
    periodic test score a pupil needs for it."""

    code: str
    label: str
    min_subject: str
    min_quality: str
    min_test_score: int


# The levels in force (Circular 27/2020, Article 14), best first. Departments have published
# variants (e.g. the score thresholds for "excellent"), so callers may pass their own table.
DEFAULT_PRIMARY_LEVELS: tuple[PrimaryLevel, ...] = (
    PrimaryLevel("HTXS", "Hoàn thành xuất sắc", "T", "T", 9),
    PrimaryLevel("HTT", "Hoàn thành tốt", "T", "T", 7),
    PrimaryLevel("HT", "Hoàn thành", "H", "D", 5),
)
PRIMARY_NOT_COMPLETED = PrimaryLevel("CHT", "Chưa hoàn thành", "C", "CCG", 0)


def primary_year_summary(
    subjects: Mapping[str, str],
    qualities: Iterable[str],
    test_scores: Iterable[int] = (),
    *,
    levels: Sequence[PrimaryLevel] = DEFAULT_PRIMARY_LEVELS,
) -> PrimaryLevel:
    """The best configured level whose every threshold the pupil meets; else Chưa hoàn thành.

    ``subjects`` maps subjects to T/H/C, ``qualities`` are the ratings (T/D/CCG) of the
    qualities and competences, ``test_scores`` the year-end periodic test scores (whole 0–10).
    """
    subj = list(subjects.values())
    quals = list(qualities)
    tests = list(test_scores)
    for v in subj:
        if v not in SUBJECT_ORDER:
            raise ValueError(f"Subject rating must be T, H or C, not {v!r}")
    for v in quals:
        if v not in QUALITY_ORDER:
            raise ValueError(f"Quality rating must be T, D or CCG, not {v!r}")
    for v in tests:
        if not (isinstance(v, int) and 0 <= v <= 10):
            raise ValueError(f"Periodic test scores are whole numbers 0–10, not {v!r}")
    for level in levels:
        if (
            all(SUBJECT_ORDER[v] >= SUBJECT_ORDER[level.min_subject] for v in subj)
            and all(QUALITY_ORDER[v] >= QUALITY_ORDER[level.min_quality] for v in quals)
            and all(v >= level.min_test_score for v in tests)
        ):
            return level
    return PRIMARY_NOT_COMPLETED


def primary_year_outcome(
    level: PrimaryLevel, *, grade: int, last_grade: int = 5, after_support: bool = False
) -> str:
    """Primary outcome (Article 15): completed → promoted (or completed the level in the last
    grade); not completed → re-assessed after summer support, then repeat if still not."""
    if level.code != PRIMARY_NOT_COMPLETED.code:
        return COMPLETED_LEVEL if grade >= last_grade else PROMOTED
    return REPEAT if after_support else REASSESS
