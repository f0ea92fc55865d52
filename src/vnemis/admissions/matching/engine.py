"""Candidate-proposing deferred acceptance with per-programme tie rules, over NumPy arrays.

The state of a run is one integer per candidate: how far down their list they have gone
(``position``; their length when every wish refused them). Every wish at or above that
position has been made, so each programme has a growing *pool* of applicants, and it
admits from its pool by a threshold on the applicant key (score, then wish rank):

- tie rule ``all``: admit every applicant at least as good as the quota-th best (the whole
  tie group at the boundary gets in, so the quota may be exceeded);
- tie rule ``none``: admit every applicant strictly better than the (quota + 1)-th best (the
  tie group straddling the boundary stays out, so fewer than the quota may get in);
- quota 0: admit no one.

Both thresholds only rise as the pool grows, which is what makes the outcome well defined:
the result is the least fixed point of "move every refused candidate to their next wish"
(Tarski), the candidate-optimal stable matching, and any order of moves reaches it. So the
engine moves candidates in vectorised rounds (all refused candidates at once, skipping
wishes already below their programme's threshold), and a rerun with lower quotas may go
on from the previous state (docs/admissions-matching.md has the proofs).

Each programme keeps the position (in its best-first order) of its boundary applicant, the
need-th best of its pool (need = quota, or quota + 1 under ``none``); that boundary only
moves up, so a round recounts each programme only from its first applicant down to its old
boundary, and only for programmes that received an applicant above it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .market import Market

NEVER = np.iinfo(np.int64).max  # the threshold of a closed programme: no key reaches it
ANYONE = np.iinfo(np.int64).min  # the threshold of a programme not yet full


@dataclass(frozen=True, eq=False)
class Outcome:
    position: np.ndarray  # int64 [C]: index of the placed wish in the candidate's list
    boundary: np.ndarray  # int64 [P]: position of the need-th best applicant, or segment end
    threshold: np.ndarray  # int64 [P]: the lowest key admitted
    rounds: int


def deferred_acceptance(
    market: Market, *, quotas: np.ndarray, ties_all: np.ndarray, start: np.ndarray | None = None
) -> Outcome:
    """The candidate-optimal stable placement, from the first wishes or from ``start`` (a
    state below the result: the previous run's positions when quotas only went down)."""
    lengths = market.lengths
    if start is None:
        position = np.zeros(market.candidate_count, dtype=np.int64)
    else:
        position = np.array(start, dtype=np.int64)
    quotas = np.asarray(quotas, dtype=np.int64)
    ties_all = np.asarray(ties_all, dtype=bool)
    need = quotas + ~ties_all
    closed = quotas == 0
    pool = market.sorted_position <= position[market.sorted_candidate]
    segment_end = market.segment[1:]

    open_programmes = np.flatnonzero(~closed)
    boundary = segment_end.copy()
    boundary[open_programmes] = _boundaries(
        market, pool, open_programmes, segment_end[open_programmes], need
    )
    threshold = _thresholds(market, boundary, ties_all, closed, segment_end)

    waiting = np.flatnonzero(position < lengths)
    current = market.start[waiting] + position[waiting]
    refused = waiting[market.wish_key[current] < threshold[market.wish_programme[current]]]
    rounds = 0
    while len(refused):
        rounds += 1
        entered = _advance(market, position, lengths, threshold, refused)
        at = market.inverse[entered]
        pool[at] = True
        programme = market.wish_programme[entered]
        above = (at < boundary[programme]) & ~closed[programme]
        touched = np.unique(programme[above])
        if not len(touched):
            break
        ends = segment_end[touched]
        old_boundary = boundary[touched]
        old_end = _admitted_end(market, old_boundary, ties_all[touched], ends)
        window_end = np.where(old_boundary < ends, old_boundary + 1, ends)
        new_boundary = _boundaries(market, pool, touched, window_end, need)
        boundary[touched] = new_boundary
        threshold[touched] = _thresholds(
            market, new_boundary, ties_all[touched], closed[touched], ends
        )
        new_end = _admitted_end(market, new_boundary, ties_all[touched], ends)
        # Applicants between the new and the old end of the admitted range lose their place;
        # every one of them is at their current wish (an earlier wish was refused below an
        # older, lower threshold).
        dropped = _ranges(new_end, old_end)
        refused = market.sorted_candidate[dropped[pool[dropped]]].astype(np.int64)
    return Outcome(position=position, boundary=boundary, threshold=threshold, rounds=rounds)


def _advance(market, position, lengths, threshold, refused) -> np.ndarray:
    """Move refused candidates down their lists, past wishes already below their programme's
    threshold (thresholds never fall, so those would refuse them too). Returns every wish
    made on the way: all of them join their programmes' pools."""
    entered = []
    movers = refused
    while len(movers):
        position[movers] += 1
        movers = movers[position[movers] < lengths[movers]]
        wish = market.start[movers] + position[movers]
        entered.append(wish)
        movers = movers[market.wish_key[wish] < threshold[market.wish_programme[wish]]]
    return np.concatenate(entered) if entered else np.zeros(0, dtype=np.int64)


def _ranges(begins: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The concatenation of ``range(b, e)`` for each pair, as one array."""
    sizes = np.maximum(ends - begins, 0)
    total = int(sizes.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    offsets = np.cumsum(sizes) - sizes
    return np.arange(total, dtype=np.int64) + np.repeat(begins - offsets, sizes)


def _boundaries(market, pool, programmes, window_end, need) -> np.ndarray:
    """For each programme: the position of its need-th pool member, looking from its first
    applicant up to ``window_end``; the segment end when it has fewer."""
    begins = market.segment[programmes]
    flat = _ranges(begins, window_end)
    result = market.segment[programmes + 1].copy()
    if not len(flat):
        return result
    counts = np.cumsum(pool[flat], dtype=np.int64)
    sizes = np.maximum(window_end - begins, 0)
    stops = np.cumsum(sizes)
    starts = stops - sizes
    before = np.zeros(len(programmes), dtype=np.int64)
    inner = starts > 0
    before[inner] = counts[starts[inner] - 1]
    hit = np.searchsorted(counts, before + need[programmes], side="left")
    found = hit < stops
    result[found] = flat[hit[found]]
    return result


def _thresholds(market, boundary, ties_all, closed, ends) -> np.ndarray:
    threshold = np.full(len(boundary), ANYONE, dtype=np.int64)
    full = boundary < ends
    threshold[full] = market.sorted_key[boundary[full]] + ~ties_all[full]
    threshold[closed] = NEVER
    return threshold


def _admitted_end(market, boundary, ties_all, ends) -> np.ndarray:
    """The first position, in a programme's best-first order, past its admitted applicants."""
    end = ends.copy()
    full = boundary < ends
    at = boundary[full]
    group = market.sorted_group[at]
    past_group = np.searchsorted(market.sorted_group, group, side="right")
    group_start = np.searchsorted(market.sorted_group, group, side="left")
    end[full] = np.where(ties_all[full], past_group, group_start)
    return end
