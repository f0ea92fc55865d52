"""Worked examples of virtual filtering: the tie rules, wish order, cut-offs and reasons."""

import pytest

from vnemis.admissions.matching import MatchInputError, Reason, match, match_rerun


def placed(result):
    """{candidate id: programme index or None}"""
    return {
        int(c): (int(p) if p >= 0 else None)
        for c, p in zip(result.candidate_ids, result.placement, strict=True)
    }


def wishes(*rows):
    """rows of (candidate, rank, programme, score in hundredths)"""
    columns = list(zip(*rows, strict=True))
    return dict(candidates=columns[0], ranks=columns[1], programmes=columns[2], scores=columns[3])


def test_a_second_wish_competes_equally_with_first_wishes():
    # 1 is refused by programme 0 and takes 2's place at programme 1 with a better score.
    result = match(
        quotas=[1, 1], **wishes((1, 1, 0, 2500), (1, 2, 1, 2700), (2, 1, 1, 2600), (3, 1, 0, 2800))
    )
    assert placed(result) == {1: 1, 2: None, 3: 0}
    assert list(result.cutoff_score) == [2800, 2700]
    assert list(result.cutoff_rank) == [1, 2]


def test_equal_scores_are_split_by_wish_order():
    result = match(quotas=[1], **wishes((1, 2, 0, 2500), (2, 1, 0, 2500)))
    assert placed(result) == {1: None, 2: 0}
    missed = result.missed()
    assert list(missed.candidate) == [1] and missed.reason[0] == Reason.LOST_ON_WISH_ORDER


def test_rule_all_admits_the_whole_tied_group_beyond_the_quota():
    result = match(
        quotas=[2],
        ties="all",
        **wishes((1, 1, 0, 2600), (2, 1, 0, 2500), (3, 1, 0, 2500), (4, 1, 0, 2400)),
    )
    assert placed(result) == {1: 0, 2: 0, 3: 0, 4: None}
    assert result.admitted[0] == 3 and result.cutoff_score[0] == 2500
    assert result.missed().reason[0] == Reason.BELOW_CUTOFF


def test_rule_none_admits_no_one_of_a_group_straddling_the_quota():
    rows = ((1, 1, 0, 2600), (2, 1, 0, 2500), (3, 1, 0, 2500), (4, 1, 0, 2400), (2, 2, 1, 1000))
    result = match(quotas=[2, 5], ties="none", **wishes(*rows))
    assert placed(result) == {1: 0, 2: 1, 3: None, 4: None}
    assert result.admitted[0] == 1 and result.cutoff_score[0] == 2600
    reasons = dict(zip(result.missed().candidate, result.missed().reason, strict=True))
    assert reasons == {
        2: Reason.TIED_AT_BOUNDARY,
        3: Reason.TIED_AT_BOUNDARY,
        4: Reason.BELOW_CUTOFF,
    }


def test_rule_none_admits_no_one_when_the_tie_fills_the_quota_from_the_top():
    result = match(quotas=[1], ties="none", **wishes((1, 1, 0, 2500), (2, 1, 0, 2500)))
    assert placed(result) == {1: None, 2: None}
    assert result.admitted[0] == 0 and result.cutoff_score[0] == -1
    assert set(result.missed().reason) == {Reason.TIED_AT_BOUNDARY}


def test_tie_rule_is_a_programme_setting():
    rows = ((1, 1, 0, 2500), (2, 1, 0, 2500), (3, 1, 1, 2500), (4, 1, 1, 2500))
    result = match(quotas=[1, 1], ties=["all", "none"], **wishes(*rows))
    assert placed(result) == {1: 0, 2: 0, 3: None, 4: None}


def test_a_closed_programme_refuses_everyone():
    result = match(quotas=[0, 1], **wishes((1, 1, 0, 3000), (1, 2, 1, 1000)))
    assert placed(result) == {1: 1}
    assert result.missed().reason[0] == Reason.NO_PLACES


def test_scores_compare_exactly_in_hundredths():
    # 0.1 + 0.2 != 0.3 in floats; in hundredths 2530 == 2530.
    result = match(quotas=[1], **wishes((1, 1, 0, 10 + 20 + 2500), (2, 2, 0, 2530)))
    assert placed(result) == {1: 0, 2: None}
    assert result.missed().reason[0] == Reason.LOST_ON_WISH_ORDER


def test_raising_a_quota_can_turn_a_stable_placement_around():
    # a prefers P, b prefers Q; P ranks b first, Q ranks a first. With P closed, a takes Q
    # and b is unplaced; opening P puts both at their first wish, which no vacancy chain
    # from the old placement finds: the rerun must start afresh.
    rows = ((1, 1, 0, 2000), (1, 2, 1, 2900), (2, 1, 1, 2000), (2, 2, 0, 2900))
    before = match(quotas=[0, 1], **wishes(*rows))
    assert placed(before) == {1: 1, 2: None}
    after = match_rerun(before, quotas=[1, 1])
    assert after.mode == "fresh" and placed(after) == {1: 0, 2: 1}
    cut = match_rerun(after, quotas=[1, 0])
    assert cut.mode == "continued" and placed(cut) == placed(match(quotas=[1, 0], **wishes(*rows)))


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (((1, 1, 0, 2500), (1, 1, 1, 2500)), "same rank"),
        (((1, 1, 0, 2500), (1, 2, 0, 2500)), "same programme"),
        (((1, 1, 2, 2500),), "not in the programme list"),
        (((1, 0, 0, 2500),), "wish rank"),
        (((1, 1, 0, -5),), "between 0 and"),
    ],
)
def test_malformed_wishes_are_refused_naming_the_wish(rows, message):
    with pytest.raises(MatchInputError) as refused:
        match(quotas=[1, 1], **wishes(*rows))
    assert message in str(refused.value) and refused.value.wish is not None
    assert " / " in str(refused.value)  # Vietnamese / English


@pytest.mark.parametrize(
    ("quotas", "ties", "message"),
    [
        ([-1], "all", "negative"),
        ([1], "some", "unknown tie rule"),
        ([1], ["all", "none"], "one tie rule"),
    ],
)
def test_malformed_settings_are_refused(quotas, ties, message):
    with pytest.raises(MatchInputError, match=message):
        match(quotas=quotas, ties=ties, **wishes((1, 1, 0, 2500)))
