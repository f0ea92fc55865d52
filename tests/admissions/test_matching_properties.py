"""Properties of the matching engine on random rounds (hypothesis), against plain oracles."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vnemis.admissions.matching import Reason, match, match_rerun

from .matching_oracle import (
    choose,
    fixed_point,
    instances,
    is_stable,
    pools,
    stable_assignments,
)

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run(instance, quotas=None, ties=None):
    return match(
        quotas=list(instance.quotas if quotas is None else quotas),
        ties=list(instance.ties if ties is None else ties),
        **instance.arrays(),
    )


def reach_of(result) -> list[int]:
    """The engine's placements as the oracle's "index in each list" (candidates 100, 101, ...)."""
    assert list(result.candidate_ids) == list(range(100, 100 + len(result.candidate_ids)))
    return [int(p) for p in result.position]


medium = instances(max_candidates=25, max_programmes=6, max_wishes=5, scores=(2000, 2050, 2100))


@SETTINGS
@given(instances())
def test_candidate_optimal_stable_assignment_as_brute_force_finds(instance):
    stable = stable_assignments(instance)
    assert stable, "a stable assignment always exists (the least fixed point)"
    reach = reach_of(run(instance))
    assert reach in stable
    for other in stable:  # every candidate likes the engine's placement at least as well
        assert all(mine <= theirs for mine, theirs in zip(reach, other, strict=True))


@SETTINGS
@given(medium)
def test_same_as_naive_fixed_point_iteration(instance):
    assert reach_of(run(instance)) == fixed_point(instance)


@SETTINGS
@given(medium)
def test_stable_under_each_programmes_choice_rule(instance):
    assert is_stable(instance, reach_of(run(instance)))


@SETTINGS
@given(medium)
def test_quotas_hold_except_for_ties_at_the_boundary_under_all(instance):
    result = run(instance)
    keys_by_programme = {p: [] for p in range(len(instance.quotas))}
    for c, index in enumerate(result.position):
        wishes = instance.lists[c]
        if index < len(wishes):
            programme, score, rank = wishes[index]
            keys_by_programme[programme].append((score, -rank))
    for programme, keys in keys_by_programme.items():
        quota, rule = instance.quotas[programme], instance.ties[programme]
        assert result.admitted[programme] == len(keys)
        if len(keys) > quota:
            assert rule == "all"
            keys.sort(reverse=True)
            assert quota > 0 and all(key == keys[quota - 1] for key in keys[quota - 1 :])
        if keys:
            score, minus_rank = min(keys)
            assert result.cutoff_score[programme] == score
            assert result.cutoff_rank[programme] == -minus_rank
        else:
            assert result.cutoff_score[programme] == -1


@SETTINGS
@given(medium)
def test_each_candidate_is_at_the_highest_wish_that_accepts_them(instance):
    result = run(instance)
    reach = reach_of(result)
    applicants = pools(instance, reach)
    for c, wishes in enumerate(instance.lists):
        for index, (programme, _, _) in enumerate(wishes[: reach[c] + 1]):
            admitted = choose(
                instance.quotas[programme], instance.ties[programme], applicants[programme]
            )
            assert (c in admitted) == (index == reach[c])


@SETTINGS
@given(medium)
def test_every_missed_wish_has_the_reason_the_cut_off_gives(instance):
    result = run(instance)
    missed = result.missed()
    expected = sum(
        min(int(p), len(w)) for p, w in zip(result.position, instance.lists, strict=True)
    )
    assert len(missed) == expected
    for candidate, rank, programme, score, reason in zip(
        missed.candidate, missed.rank, missed.programme, missed.score, missed.reason, strict=True
    ):
        assert rank < result.placed_rank[candidate - 100] or result.placement[candidate - 100] < 0
        quota, rule = instance.quotas[programme], instance.ties[programme]
        cut_score, cut_rank = result.cutoff_score[programme], result.cutoff_rank[programme]
        if quota == 0:
            assert reason == Reason.NO_PLACES
        elif reason == Reason.TIED_AT_BOUNDARY:
            assert rule == "none" and result.admitted[programme] < quota
            assert cut_score < 0 or (score, -rank) < (cut_score, -cut_rank)
        elif reason == Reason.LOST_ON_WISH_ORDER:
            if cut_score >= 0:
                assert score == cut_score and rank > cut_rank
        else:
            assert reason == Reason.BELOW_CUTOFF
            if cut_score >= 0:
                assert score < cut_score


@SETTINGS
@given(medium, st.randoms(use_true_random=False))
def test_row_order_does_not_change_the_result(instance, random):
    arrays = instance.arrays()
    rows = list(zip(*arrays.values(), strict=True))
    random.shuffle(rows)
    shuffled = dict(zip(arrays, map(list, zip(*rows, strict=True)), strict=True))
    first = run(instance)
    second = match(quotas=list(instance.quotas), ties=list(instance.ties), **shuffled)
    assert (first.placement == second.placement).all()
    assert (first.placed_rank == second.placed_rank).all()
    assert (first.cutoff_key == second.cutoff_key).all()


changes = st.lists(st.tuples(st.integers(0, 5), st.integers(-3, 3), st.booleans()), max_size=6)


def changed(instance, quotas, ties, edits):
    quotas, ties = list(quotas), list(ties)
    for programme, delta, flip in edits:
        if programme < len(quotas):
            quotas[programme] = max(0, quotas[programme] + delta)
            if flip:
                ties[programme] = "none" if ties[programme] == "all" else "all"
    return quotas, ties


@SETTINGS
@given(medium, st.lists(changes, min_size=1, max_size=4))
def test_rerun_equals_a_fresh_run_on_the_new_quotas(instance, rounds):
    result = run(instance)
    quotas, ties = list(instance.quotas), list(instance.ties)
    for edits in rounds:
        quotas, ties = changed(instance, quotas, ties, edits)
        result = match_rerun(result, quotas=quotas, ties=ties)
        fresh = run(instance, quotas, ties)
        assert (result.position == fresh.position).all()
        assert (result.cutoff_key == fresh.cutoff_key).all()


cuts = st.lists(st.tuples(st.integers(0, 3), st.booleans()), min_size=6, max_size=6)


@SETTINGS
@given(medium, cuts)
def test_rerun_after_cuts_continues_from_the_previous_state(instance, cuts):
    result = run(instance)
    quotas = [max(0, q - cut) for q, (cut, _) in zip(instance.quotas, cuts, strict=False)]
    ties = [
        "none" if to_none else rule for rule, (_, to_none) in zip(instance.ties, cuts, strict=False)
    ]
    rerun = match_rerun(result, quotas=quotas, ties=ties)
    assert rerun.mode == "continued"
    assert (rerun.position == run(instance, quotas, ties).position).all()
    assert (rerun.position >= result.position).all()  # cuts never help anyone


@SETTINGS
@given(medium, st.lists(st.integers(0, 3), min_size=6, max_size=6))
def test_raising_quotas_leaves_everyone_weakly_better_off(instance, raises):
    quotas = [q + r for q, r in zip(instance.quotas, raises, strict=False)]
    before, after = run(instance), run(instance, quotas)
    assert (after.position <= before.position).all()


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_larger_random_rounds_match_the_fixed_point(seed):
    rng = np.random.default_rng(seed)
    from .matching_oracle import Instance

    programmes = int(rng.integers(2, 12))
    lists = []
    for _ in range(int(rng.integers(20, 120))):
        count = int(rng.integers(1, min(programmes, 6) + 1))
        chosen = rng.choice(programmes, size=count, replace=False)
        ability = int(rng.integers(1500, 2800))
        lists.append(
            tuple(
                (int(p), int(ability + rng.integers(-2, 3) * 25), index + 1)
                for index, p in enumerate(chosen)
            )
        )
    instance = Instance(
        quotas=tuple(int(q) for q in rng.integers(0, 15, programmes)),
        ties=tuple(str(t) for t in rng.choice(["all", "none"], programmes)),
        lists=tuple(lists),
    )
    result = run(instance)
    assert reach_of(result) == fixed_point(instance)
    assert is_stable(instance, reach_of(result))
