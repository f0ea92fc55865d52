"""What a matching run gives: placements, cut-offs, and the reasons for missed wishes.

A result also keeps what a rerun needs (the market and the final positions), so the next run
of the same round starts from it (``match_rerun``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .engine import Outcome
from .market import Market
from .reasons import reasons_classify

TIE_ALL, TIE_NONE = "all", "none"


@dataclass(frozen=True, eq=False)
class MissedWishes:
    """The wishes ranked above each candidate's placement, each with why it refused them;
    in candidate then rank order. ``wish`` indexes the arrays given to ``match``."""

    candidate: np.ndarray  # int64 candidate ids (as given)
    rank: np.ndarray
    programme: np.ndarray  # programme index
    score: np.ndarray  # hundredths
    reason: np.ndarray  # int8 Reason
    wish: np.ndarray

    def __len__(self) -> int:
        return len(self.reason)


@dataclass(frozen=True, eq=False)
class MatchResult:
    market: Market
    quotas: np.ndarray  # int64 [P]
    ties_all: np.ndarray  # bool [P]: True for the `all` rule, False for `none`
    outcome: Outcome
    mode: str = "fresh"  # how it was computed: "fresh", or "continued" from a previous run
    seconds: float = 0.0

    @property
    def candidate_ids(self) -> np.ndarray:
        return self.market.candidate_ids

    @property
    def position(self) -> np.ndarray:
        return self.outcome.position

    @cached_property
    def placed_wish(self) -> np.ndarray:
        """Index (in the market's rank order) of each candidate's placed wish, -1 if none."""
        market = self.market
        placed = self.position < market.lengths
        return np.where(placed, market.start[:-1] + self.position, -1)

    @cached_property
    def placement(self) -> np.ndarray:
        """Each candidate's programme index, or -1 when no wish admitted them."""
        wish = self.placed_wish
        return np.where(wish >= 0, self.market.wish_programme[np.maximum(wish, 0)], -1)

    @cached_property
    def placed_rank(self) -> np.ndarray:
        wish = self.placed_wish
        return np.where(wish >= 0, self.market.wish_rank[np.maximum(wish, 0)], 0)

    @cached_property
    def admitted(self) -> np.ndarray:
        placed = self.placement[self.placement >= 0]
        return np.bincount(placed, minlength=self.market.programme_count).astype(np.int64)

    @cached_property
    def cutoff_key(self) -> np.ndarray:
        """Key of each programme's last admitted applicant, -1 when it admitted no one."""
        wish = self.placed_wish[self.placed_wish >= 0]
        cutoff = np.full(self.market.programme_count, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(cutoff, self.market.wish_programme[wish], self.market.wish_key[wish])
        cutoff[self.admitted == 0] = -1
        return cutoff

    @property
    def cutoff_score(self) -> np.ndarray:
        """Hundredths; -1 when the programme admitted no one."""
        key = self.cutoff_key
        return np.where(key >= 0, self.market.key_score(key), -1)

    @property
    def cutoff_rank(self) -> np.ndarray:
        """The wish rank of the last admitted applicant; 0 when it admitted no one."""
        key = self.cutoff_key
        return np.where(key >= 0, self.market.key_rank(key), 0)

    @cached_property
    def boundary_key(self) -> np.ndarray:
        """Under the `none` rule, the key of the tie group left out at the boundary; else -1."""
        market, boundary = self.market, self.outcome.boundary
        full = (boundary < market.segment[1:]) & ~self.ties_all & (self.quotas > 0)
        key = np.full(market.programme_count, -1, dtype=np.int64)
        key[full] = market.sorted_key[boundary[full]]
        return key

    def ties(self) -> list[str]:
        return [TIE_ALL if rule else TIE_NONE for rule in self.ties_all]

    def missed(self) -> MissedWishes:
        """Every wish above a candidate's placement (every wish, when unplaced), with why."""
        market = self.market
        candidate = market.wish_candidate()
        position = np.arange(market.wish_count, dtype=np.int64) - market.start[candidate]
        refused = np.flatnonzero(position < self.position[candidate])
        programme = market.wish_programme[refused]
        key = market.wish_key[refused]
        reason = reasons_classify(
            programme=programme,
            key=key,
            quotas=self.quotas,
            ties_all=self.ties_all,
            admitted=self.admitted,
            cutoff_key=self.cutoff_key,
            boundary_key=self.boundary_key,
            rank_span=market.rank_span,
        )
        return MissedWishes(
            candidate=market.candidate_ids[candidate[refused]],
            rank=market.wish_rank[refused],
            programme=programme,
            score=market.wish_score[refused],
            reason=reason,
            wish=market.wish_source[refused],
        )
