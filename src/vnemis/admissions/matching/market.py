"""The wishes of one admission round, laid out once for the matching engine (NumPy, no ORM).

A market holds what stays the same between reruns of a round: who wished for which programme,
at which rank, with which score. Quotas and tie rules are given to each run instead, so the
10–15 reruns of a national round reuse the sorting done here (the costly part of a run).

Two orders are kept: each candidate's wishes by rank (how candidates propose), and each
programme's applicants best first (how programmes choose). A programme prefers the higher
score, then the lower wish rank (the wish-order criterion); both are folded into one integer
``key`` so that comparing applicants is comparing integers: no floats, no rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import MatchInputError

# Scores are integer hundredths of a point; no admission scale comes near a million points.
MAX_SCORE_HUNDREDTHS = 100_000_000
MAX_RANK = 2**31 - 1


@dataclass(frozen=True, eq=False)
class Market:
    candidate_ids: np.ndarray  # int64, sorted and unique; a candidate's index is its position
    programme_count: int
    start: np.ndarray  # int64 [C + 1]: candidate c's wishes are start[c]:start[c + 1], by rank
    wish_programme: np.ndarray  # int32 [W]
    wish_rank: np.ndarray  # int64 [W], as given (gaps allowed)
    wish_score: np.ndarray  # int64 [W], hundredths
    wish_key: np.ndarray  # int64 [W]: the higher, the more a programme wants this applicant
    wish_source: np.ndarray  # int64 [W]: index of the wish in the arrays given to market_build
    order: np.ndarray  # int64 [W]: wishes by programme, best applicant first
    inverse: np.ndarray  # int64 [W]: where each wish stands in that order
    sorted_key: np.ndarray  # int64 [W]: wish_key in that order
    sorted_candidate: np.ndarray  # int32 [W]
    sorted_position: np.ndarray  # int32 [W]: where the wish stands in its candidate's list
    segment: (
        np.ndarray
    )  # int64 [P + 1]: programme p's applicants are order[segment[p]:segment[p + 1]]
    sorted_group: np.ndarray  # int64 [W], non-decreasing: equal within a tie group (same
    # programme, score and rank), the unit the tie rules admit or refuse whole
    rank_span: int  # key = score * rank_span + (rank_span - 1 - rank)

    @property
    def candidate_count(self) -> int:
        return len(self.candidate_ids)

    @property
    def wish_count(self) -> int:
        return len(self.wish_key)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.start)

    def wish_candidate(self) -> np.ndarray:
        """The candidate (index) of every wish, in rank order."""
        return np.repeat(np.arange(self.candidate_count, dtype=np.int32), self.lengths)

    def key_score(self, key: np.ndarray) -> np.ndarray:
        return key // self.rank_span

    def key_rank(self, key: np.ndarray) -> np.ndarray:
        return self.rank_span - 1 - key % self.rank_span


def market_build(*, candidates, ranks, programmes, scores, programme_count: int) -> Market:
    """Validate the wishes (one per row: candidate id, rank, programme index, score in
    hundredths) and lay them out for matching; raises MatchInputError naming the wish."""
    candidates = np.asarray(candidates, dtype=np.int64)
    ranks = np.asarray(ranks, dtype=np.int64)
    programmes = np.asarray(programmes, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.int64)
    if not (len(candidates) == len(ranks) == len(programmes) == len(scores)):
        raise MatchInputError(
            "các mảng nguyện vọng không cùng độ dài",
            "the wish arrays are not all the same length",
        )
    _refuse_first(
        (programmes < 0) | (programmes >= programme_count),
        "nguyện vọng vào ngành không có trong danh sách ngành",
        "a wish names a programme that is not in the programme list",
        column="programme_code",
    )
    _refuse_first(
        (ranks < 1) | (ranks > MAX_RANK),
        f"thứ tự nguyện vọng phải là số nguyên từ 1 đến {MAX_RANK}",
        f"the wish rank must be a whole number from 1 to {MAX_RANK}",
        column="rank",
    )
    _refuse_first(
        (scores < 0) | (scores > MAX_SCORE_HUNDREDTHS),
        "điểm xét tuyển phải từ 0 đến 1.000.000",
        "the admission score must be between 0 and 1,000,000",
        column="score",
    )
    source = _rank_order(candidates, ranks)
    if source is not None:
        candidates, ranks = candidates[source], ranks[source]
        programmes, scores = programmes[source], scores[source]
    else:
        source = np.arange(len(candidates), dtype=np.int64)
    new_candidate = np.ones(len(candidates), dtype=bool)
    new_candidate[1:] = candidates[1:] != candidates[:-1]
    same_rank = ~new_candidate & np.r_[False, ranks[1:] == ranks[:-1]]
    _refuse_first(
        same_rank,
        "thí sinh có hai nguyện vọng cùng thứ tự",
        "the candidate has two wishes with the same rank",
        source=source,
        column="rank",
        duplicate=True,
    )
    firsts = np.flatnonzero(new_candidate)
    start = np.append(firsts, len(candidates)).astype(np.int64)
    candidate_ids = candidates[firsts]
    lengths = np.diff(start)
    position = np.arange(len(candidates), dtype=np.int64) - np.repeat(start[:-1], lengths)
    programmes32 = programmes.astype(np.int32)
    dense = np.repeat(np.arange(len(candidate_ids), dtype=np.int32), lengths)
    _refuse_repeated_programme(programmes32, dense, lengths, position, source)

    rank_span = 1 << int(ranks.max(initial=0) + 1).bit_length()
    key = scores * rank_span + (rank_span - 1 - ranks)
    order, sorted_group = _programme_order(programmes32, key, programme_count)
    sorted_programme = programmes32[order]
    sorted_key = key[order]
    segment = np.searchsorted(sorted_programme, np.arange(programme_count + 1)).astype(np.int64)
    if sorted_group is None:
        sorted_group = _tie_groups(sorted_programme, sorted_key)
    return Market(
        candidate_ids=candidate_ids,
        programme_count=programme_count,
        start=start,
        wish_programme=programmes32,
        wish_rank=ranks,
        wish_score=scores,
        wish_key=key,
        wish_source=source,
        order=order,
        inverse=_inverse(order),
        sorted_key=sorted_key,
        sorted_candidate=dense[order],
        sorted_position=position.astype(np.int32)[order],
        segment=segment,
        sorted_group=sorted_group,
        rank_span=rank_span,
    )


def _refuse_first(
    bad: np.ndarray, vi: str, en: str, *, column: str, source=None, duplicate=False
) -> None:
    """Refuse the first offending wish (``source`` maps positions back to the caller's)."""
    if bad.any():
        first = int(np.argmax(bad))
        wish = int(source[first]) if source is not None else first
        raise MatchInputError(vi, en, wish=wish, column=column, duplicate=duplicate)


def _rank_order(candidates: np.ndarray, ranks: np.ndarray) -> np.ndarray | None:
    """The permutation putting wishes by candidate then rank, or None when they already are
    (the file reader sorts them, so the common case costs one pass)."""
    if len(candidates) < 2:
        return None
    steps = np.diff(candidates)
    if (steps >= 0).all() and ((steps > 0) | (np.diff(ranks) > 0)).all():
        return None
    low, high = int(candidates.min()), int(candidates.max())
    span = int(ranks.max()) + 1
    if (high - low + 1) * span < 2**62:  # one integer sort instead of a two-key lexsort
        return np.argsort((candidates - low) * span + ranks, kind="stable")
    return np.lexsort((ranks, candidates))


def _refuse_repeated_programme(programmes, dense, lengths, position, source) -> None:
    """The same programme twice in one candidate's list is refused: which rank would count?"""
    pairs = np.sort(dense.astype(np.int64) * (int(programmes.max(initial=0)) + 1) + programmes)
    if not (pairs[1:] == pairs[:-1]).any():
        return
    # Found one: compare each wish with the wish d places further down the same list, for
    # d = 1, 2, ..., to name the first offending row (lists are short).
    after = np.repeat(lengths, lengths) - position - 1  # wishes below this one in its list
    active = np.flatnonzero(after >= 1)
    distance = 1
    while len(active):
        clash = programmes[active] == programmes[active + distance]
        if clash.any():
            second = int(active[np.argmax(clash)] + distance)
            raise MatchInputError(
                "thí sinh đăng ký cùng một ngành ở hai nguyện vọng",
                "the candidate lists the same programme in two wishes",
                wish=int(source[second]),
                column="programme_code",
                duplicate=True,
            )
        distance += 1
        active = active[after[active] >= distance]


def _programme_order(programmes: np.ndarray, key: np.ndarray, programme_count: int):
    """Wishes by programme, then best key first, and the sorted tie-group values when one
    integer sort could do it (else None: two-key lexsort, groups numbered afterwards)."""
    if not len(key):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    low, high = int(key.min()), int(key.max())
    span = high - low + 1
    if programme_count * span < 2**62:
        composite = programmes.astype(np.int64) * span + (high - key)
        # Not a stable sort: the order inside a tie group never changes a result.
        order = np.argsort(composite)
        return order, composite[order]
    return np.lexsort((-key, programmes)).astype(np.int64), None


def _inverse(order: np.ndarray) -> np.ndarray:
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order), dtype=order.dtype)
    return inverse


def _tie_groups(sorted_programme: np.ndarray, sorted_key: np.ndarray) -> np.ndarray:
    """Tie groups numbered 0, 1, ... along the programme order."""
    new_group = np.ones(len(sorted_key), dtype=bool)
    new_group[1:] = (sorted_programme[1:] != sorted_programme[:-1]) | (
        sorted_key[1:] != sorted_key[:-1]
    )
    return np.cumsum(new_group) - 1
