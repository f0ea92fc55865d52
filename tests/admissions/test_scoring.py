"""The admission score: weights, the best combination, priority with the reduction from 22.5,
the bonus cap, thresholds, and the set-wise scoring equal to the rule for one wish."""

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from vnemis.admissions.catalogue import COMBINATIONS
from vnemis.admissions.models import WishScore
from vnemis.admissions.scoring import (
    admission_score,
    priority_points,
    weighted_score,
    wish_scores_refresh,
)
from vnemis.admissions.wishes import profile_set, wishes_set


def test_weighted_score_on_the_30_scale_rounds_half_up():
    scores = {"TOAN": 900, "LY": 850, "HOA": 800}
    assert weighted_score(scores, ("TOAN", "LY", "HOA"), {}) == 2550
    # (2 × 9 + 8.5 + 8) × 3 / 4 = 25.875 → 25.88
    assert weighted_score(scores, ("TOAN", "LY", "HOA"), {"TOAN": 2}) == 2588


def test_priority_shrinks_from_22_5_and_vanishes_at_30():
    assert priority_points(2249, 75) == 75
    assert priority_points(2250, 75) == 75  # (30 − 22.5) / 7.5 = 1
    assert priority_points(2400, 175) == 140  # 0.8 × 1.75
    assert priority_points(3000, 275) == 0
    assert priority_points(3200, 275) == 0


def test_best_combination_bonus_cap_and_reasons():
    combos = [("A00", ("TOAN", "LY", "HOA"), {}), ("A01", ("TOAN", "LY", "N1"), {})]
    scores = {"TOAN": 1000, "LY": 950, "HOA": 950, "N1": 1000}
    best = admission_score(scores=scores, combinations=combos, region="KV1", group="UT1", bonus=500)
    # A01 = 29.5; bonus capped at 3 → 32.5: no priority, and never above 30.
    assert (best.combination, best.raw, best.bonus, best.priority, best.score) == (
        "A01",
        2950,
        300,
        0,
        3000,
    )
    low = admission_score(
        scores={"TOAN": 500, "LY": 500, "HOA": 500}, combinations=combos, region="KV1"
    )
    assert (low.combination, low.score, low.reason) == ("A00", 1575, "")
    assert admission_score(scores={"TOAN": 500}, combinations=combos).reason == "no_combination"
    assert (
        admission_score(scores=scores, combinations=combos, threshold=3000).reason
        == "below_threshold"
    )
    assert (
        admission_score(scores=scores, combinations=combos, graduated=False).reason
        == "not_graduated"
    )
    # Equal scores: the lower code counts, whatever the order given.
    even = {"TOAN": 800, "LY": 800, "HOA": 700, "N1": 700}
    assert admission_score(scores=even, combinations=list(reversed(combos))).combination == "A00"


pytestmark = pytest.mark.django_db


def _scores(round_):
    return {
        (s.wish.candidate_id, s.wish.programme.code): (s.combination and s.combination.code, s.score, s.reason)
        for s in WishScore.objects.select_related("wish__programme", "combination").filter(wish__round=round_)
    }  # fmt: skip


def test_wishes_are_scored_as_they_are_set(admission_round, programmes, candidates):
    c = candidates
    wishes_set(actor=None, round_=admission_round, candidate=c["an"], codes=["BKA-IT1", "qhi-cn1"])
    wishes_set(actor=None, round_=admission_round, candidate=c["chi"], codes=["BKA-IT1", "QHI-CN1"])
    wishes_set(actor=None, round_=admission_round, candidate=c["dung"], codes=["QHI-CN1"])
    wishes_set(actor=None, round_=admission_round, candidate=c["em"], codes=["BKA-EE1"])
    got = _scores(admission_round)
    assert got[(c["an"].pk, "BKA-IT1")] == ("A01", 2700, "")
    assert got[(c["an"].pk, "QHI-CN1")] == ("A01", 2700, "")
    assert got[(c["chi"].pk, "BKA-IT1")] == ("A01", 1800, "below_threshold")
    assert got[(c["chi"].pk, "QHI-CN1")] == ("D01", 2200, "")
    assert got[(c["dung"].pk, "QHI-CN1")] == (None, None, "no_combination")
    assert got[(c["em"].pk, "BKA-EE1")] == ("A00", 800, "not_graduated")


def test_priority_profile_rescores_at_once(admission_round, programmes, candidates):
    binh = candidates["binh"]
    wishes_set(actor=None, round_=admission_round, candidate=binh, codes=["BKA-IT1"])
    assert _scores(admission_round)[(binh.pk, "BKA-IT1")] == ("A00", 2400, "")
    profile_set(
        actor=None, candidate=binh, region="KV1", priority_group="UT2", evidence="Sổ hộ khẩu"
    )
    assert _scores(admission_round)[(binh.pk, "BKA-IT1")] == ("A00", 2540, "")


@hsettings(max_examples=60, deadline=None)
@given(
    data=st.lists(
        st.tuples(
            st.dictionaries(st.sampled_from(["TOAN", "VAN", "LY", "HOA", "N1", "SINH", "SU", "DIA"]),
                            st.integers(0, 1000), max_size=8),
            st.sampled_from(["KV1", "KV2NT", "KV2", "KV3"]),
            st.sampled_from(["", "UT1", "UT2"]),
            st.integers(0, 300),
        ), min_size=1, max_size=6),
    programme_combos=st.lists(st.sampled_from([c[0] for c in COMBINATIONS]), min_size=1, max_size=4, unique=True),
    weights=st.dictionaries(st.sampled_from(["TOAN", "VAN", "N1", "LY"]), st.integers(1, 3), max_size=2),
    threshold=st.integers(0, 3000),
)  # fmt: skip
def test_set_wise_scoring_equals_the_rule_for_one_wish(data, programme_combos, weights, threshold):
    """Polars over many candidates gives exactly what ``admission_score`` gives for each."""
    import polars as pl

    from vnemis.admissions.scoring import _scored

    subjects = {code: subj for code, subj, _n in COMBINATIONS}
    accepted = pl.DataFrame(
        [(1, threshold, i, code, s, weights.get(s, 1)) for i, code in enumerate(programme_combos) for s in subjects[code]],
        schema={"programme_id": pl.Int64, "threshold": pl.Int64, "combination_id": pl.Int64,
                "code": pl.Utf8, "subject": pl.Utf8, "weight": pl.Int64}, orient="row",
    )  # fmt: skip
    wishes = pl.DataFrame({"wish_id": list(range(len(data))), "candidate_id": list(range(len(data))),
                           "programme_id": [1] * len(data)})  # fmt: skip
    scores = pl.DataFrame(
        [(i, s, v) for i, (sc, *_r) in enumerate(data) for s, v in sc.items()],
        schema={"candidate_id": pl.Int64, "subject": pl.Utf8, "score": pl.Int64}, orient="row",
    )  # fmt: skip
    people = pl.DataFrame(
        [(i, 1, region, group, bonus) for i, (_s, region, group, bonus) in enumerate(data)],
        schema={"candidate_id": pl.Int64, "graduated": pl.Int8, "region": pl.Utf8,
                "priority_group": pl.Utf8, "bonus": pl.Int64}, orient="row",
    )  # fmt: skip
    got = {r["wish_id"]: r for r in _scored(wishes, accepted, scores, people).iter_rows(named=True)}
    for i, (sc, region, group, bonus) in enumerate(data):
        want = admission_score(
            scores=sc, combinations=[(c, subjects[c], weights) for c in programme_combos],
            region=region, group=group, bonus=bonus, threshold=threshold,
        )  # fmt: skip
        row = got[i]
        code = (
            programme_combos[row["combination_id"]] if row["combination_id"] is not None else None
        )
        assert (code, row["score"], row["reason"]) == (want.combination, want.score, want.reason)
        if want.score is not None:
            assert (row["raw"], row["priority"], row["bonus"]) == (
                want.raw,
                want.priority,
                want.bonus,
            )


def test_refresh_of_a_whole_round_walks_in_chunks(
    admission_round, programmes, candidates, monkeypatch
):
    import vnemis.admissions.scoring as scoring

    for key in ("an", "binh", "chi"):
        wishes_set(
            actor=None,
            round_=admission_round,
            candidate=candidates[key],
            codes=["QHI-CN1", "BKA-IT1"],
        )
    before = _scores(admission_round)
    WishScore.objects.all().delete()
    monkeypatch.setattr(scoring, "CANDIDATE_CHUNK", 2)
    assert wish_scores_refresh(admission_round) == 6
    assert _scores(admission_round) == before
    monkeypatch.setattr(scoring, "IDS_PER_LIST", 2)
    ids = [candidates[k].pk for k in ("an", "binh", "chi")]
    assert wish_scores_refresh(admission_round, ids) == 6
    assert _scores(admission_round) == before
