"""Assessment rules (Circular 22/2021, 27/2020): worked examples and properties."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vnemis.registry import assessment as a

D = Decimal

scores = st.integers(min_value=0, max_value=100).map(lambda i: D(i) / 10)


# --- worked examples ----------------------------------------------------------------------------


def test_rounding_is_half_up():
    assert a.round_score("6.25") == D("6.3")
    assert a.round_score("6.249") == D("6.2")
    assert a.round_score(6.35) == D("6.4")  # a float goes through str, so no 6.3499...
    assert a.round_score("4.05") == D("4.1")


@pytest.mark.parametrize(
    ("periods", "count"), [(0, 2), (35, 2), (36, 3), (70, 3), (71, 4), (105, 4)]
)
def test_regular_assessment_count(periods, count):
    assert a.regular_assessment_count(periods) == count


def test_term_average_worked_example():
    # (7 + 8 + 9 + 2×8 + 3×9) / (3 + 5) = 67 / 8 = 8.375 → 8.4 (half up)
    assert a.term_average([7, 8, 9], 8, 9) == D("8.4")
    # (7 + 8 + 9 + 2×6 + 3×7) / 8 = 57 / 8 = 7.125 → 7.1
    assert a.term_average([7, 8, 9], 6, 7) == D("7.1")
    # (8 + 6 + 2×7 + 3×5.5) / 7 = 44.5 / 7 = 6.357… → 6.4
    assert a.term_average(["8", "6"], "7", "5.5") == D("6.4")


def test_term_average_rejects_bad_input():
    with pytest.raises(ValueError):
        a.term_average([], 5, 5)
    with pytest.raises(ValueError):
        a.term_average([11], 5, 5)


def test_year_average_worked_example():
    # (6.5 + 2×8.0) / 3 = 7.5
    assert a.year_average("6.5", "8.0") == D("7.5")
    # (7.0 + 2×7.1) / 3 = 7.0666… → 7.1
    assert a.year_average("7.0", "7.1") == D("7.1")
    # (5.2 + 2×5.0) / 3 = 5.0666… → 5.1; (5.1 + 2×5.0)/3 = 5.0333 → 5.0
    assert a.year_average("5.1", "5.0") == D("5.0")


EIGHT_SUBJECTS = ["toan", "van", "anh", "ly", "hoa", "sinh", "su", "dia"]
COMMENTS_OK = {"td": "D", "nt": "D", "hdtn": "D", "gddp": "D"}


def _scores(*values):
    return dict(zip(EIGHT_SUBJECTS, values, strict=True))


def test_learning_rating_table():
    good = _scores(8, 8, 8, 8, 8, 8, 6.5, 7)
    assert a.learning_rating(good, COMMENTS_OK) == "T"
    # Only five subjects ≥ 8.0: Khá (needs ≥ 6.5 in all and six ≥ 6.5).
    assert a.learning_rating(_scores(8, 8, 8, 8, 8, 7.9, 6.5, 7), COMMENTS_OK) == "K"
    # One subject at 6.4 breaks "every subject ≥ 6.5": Khá (one level down only).
    assert a.learning_rating(_scores(8, 8, 8, 8, 8, 8, 6.4, 7), COMMENTS_OK) == "K"
    # A comment subject Chưa đạt rules out Tốt and Khá.
    failed_pe = {**COMMENTS_OK, "td": "CD"}
    fair = _scores(7, 7, 7, 7, 7, 7, 5, 5)
    assert a.learning_rating(fair, COMMENTS_OK) == "K"
    assert a.learning_rating(fair, failed_pe) == "D"
    # Two comment subjects Chưa đạt: Chưa đạt (not one subject alone).
    assert a.learning_rating(fair, {**failed_pe, "nt": "CD"}) == "CD"
    # Pass: six ≥ 5.0 and none below 3.5.
    assert a.learning_rating(_scores(5, 5, 5, 5, 5, 5, 3.5, 4), COMMENTS_OK) == "D"
    assert a.learning_rating(_scores(5, 5, 5, 5, 5, 4.9, 3.5, 4), COMMENTS_OK) == "CD"


def test_one_subject_pulling_down_two_levels_is_raised_one():
    # All ≥ 8.0 except Mathematics 3.4: the table says Chưa đạt (a score < 3.5), but without
    # that subject the pupil is Tốt — three levels lower because of one subject: raised to Đạt.
    assert a.learning_rating(_scores(3.4, 8, 8, 8, 8, 8, 8, 8), COMMENTS_OK) == "D"
    # All ≥ 8.0 except one subject at 4.0: table gives Đạt, without it Tốt → raised to Khá.
    assert a.learning_rating(_scores(4.0, 8, 8, 8, 8, 8, 8, 8), COMMENTS_OK) == "K"
    # One comment subject Chưa đạt, scores all excellent: table Đạt, without it Tốt → Khá.
    assert a.learning_rating(_scores(9, 9, 9, 9, 9, 9, 9, 9), {**COMMENTS_OK, "td": "CD"}) == "K"
    # Two weak subjects: no single subject is to blame, so no adjustment.
    assert a.learning_rating(_scores(3.4, 3.4, 8, 8, 8, 8, 8, 8), COMMENTS_OK) == "CD"


def test_year_outcome():
    assert a.year_outcome("K", "T") == "promoted"
    assert a.year_outcome("D", "D") == "promoted"
    assert a.year_outcome("CD", "T") == "reassess"
    assert a.year_outcome("T", "CD") == "reassess"  # summer training for conduct
    assert a.year_outcome("CD", "T", after_summer=True) == "repeat"
    assert a.year_outcome("D", "CD", after_summer=True) == "repeat"
    assert a.year_outcome("D", "D", after_summer=True) == "promoted"
    assert a.year_outcome("T", "T", absences=46) == "repeat"
    assert a.year_outcome("T", "T", absences=46, rules=a.OutcomeRules(max_absences=None)) == (
        "promoted"
    )
    strict = a.OutcomeRules(repeat_if_both_fail=True)
    assert a.year_outcome("CD", "CD", rules=strict) == "repeat"
    assert a.year_outcome("CD", "CD") == "reassess"
    with pytest.raises(ValueError):
        a.year_outcome("X", "T")


def test_subjects_to_reassess():
    assert a.subjects_to_reassess({"toan": "4.9", "van": "5.0"}, {"td": "CD", "nt": "D"}) == [
        "toan",
        "td",
    ]


def test_primary_summary_and_outcome():
    subjects = {"tv": "T", "toan": "T", "tn": "T"}
    assert a.primary_year_summary(subjects, ["T"] * 10, [9, 10, 9]).code == "HTXS"
    assert a.primary_year_summary(subjects, ["T"] * 10, [9, 8, 9]).code == "HTT"
    assert a.primary_year_summary({**subjects, "tn": "H"}, ["T"] * 10, [9]).code == "HT"
    assert a.primary_year_summary(subjects, ["T", "CCG"], [9]).code == "CHT"
    assert a.primary_year_summary({"tv": "C"}, ["T"], [10]).code == "CHT"
    # A Department's own table: a stricter "Hoàn thành" needs a 6 in the tests.
    custom = (a.PrimaryLevel("HT", "Hoàn thành", "H", "D", 6),)
    assert a.primary_year_summary({"tv": "H"}, ["D"], [5], levels=custom).code == "CHT"
    ht = a.DEFAULT_PRIMARY_LEVELS[2]
    assert a.primary_year_outcome(ht, grade=3) == "promoted"
    assert a.primary_year_outcome(ht, grade=5) == "completed_level"
    assert a.primary_year_outcome(a.PRIMARY_NOT_COMPLETED, grade=3) == "reassess"
    assert a.primary_year_outcome(a.PRIMARY_NOT_COMPLETED, grade=3, after_support=True) == "repeat"


# --- properties ---------------------------------------------------------------------------------


@given(st.lists(scores, min_size=1, max_size=4), scores, scores)
def test_term_average_lies_between_min_and_max(regular, mid, end):
    avg = a.term_average(regular, mid, end)
    values = [*regular, mid, end]
    assert min(values) <= avg <= max(values)
    assert avg == avg.quantize(D("0.1"))


@given(st.lists(scores, min_size=1, max_size=4), scores, scores, scores)
def test_term_average_is_monotone_in_the_end_of_term_score(regular, mid, end, other):
    low, high = sorted([end, other])
    assert a.term_average(regular, mid, low) <= a.term_average(regular, mid, high)


@given(scores, scores)
def test_year_average_weights_term_two_double(t1, t2):
    y = a.year_average(t1, t2)
    assert min(t1, t2) <= y <= max(t1, t2)
    # Closer to term II than to term I (within rounding).
    assert abs(y - t2) <= abs(y - t1) + D("0.05")


@given(st.lists(scores, min_size=6, max_size=10))
def test_identical_scores_give_expected_rating(values):
    subjects = {f"s{i}": v for i, v in enumerate(values)}
    rating = a.learning_rating(subjects, COMMENTS_OK)
    assert rating in a.RATING_ORDER


@given(st.lists(scores, min_size=6, max_size=10), st.integers(0, 9), scores)
def test_learning_rating_is_monotone(values, index, better):
    subjects = {f"s{i}": v for i, v in enumerate(values)}
    key = f"s{index % len(values)}"
    improved = {**subjects, key: max(subjects[key], better)}
    before = a.RATING_ORDER[a.learning_rating(subjects, COMMENTS_OK)]
    after = a.RATING_ORDER[a.learning_rating(improved, COMMENTS_OK)]
    assert after >= before


@given(st.lists(scores, min_size=6, max_size=10))
def test_adjustment_never_lifts_more_than_one_level(values):
    subjects = {f"s{i}": v for i, v in enumerate(values)}
    base = a._base_rating(list(subjects.values()), list(COMMENTS_OK.values()), a.DEFAULT_RULES)
    final = a.learning_rating(subjects, COMMENTS_OK)
    assert 0 <= a.RATING_ORDER[final] - a.RATING_ORDER[base] <= 1


@given(st.sampled_from(list(a.RATING_ORDER)), st.sampled_from(list(a.RATING_ORDER)))
def test_outcome_after_summer_is_final(learning, conduct):
    final = a.year_outcome(learning, conduct, after_summer=True)
    assert final in ("promoted", "repeat")
    before = a.year_outcome(learning, conduct)
    assert (before == "promoted") == (final == "promoted")
