"""The entry points: one run of a round from wishes, and a rerun after quotas change."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from .engine import deferred_acceptance
from .errors import MatchInputError
from .market import Market, market_build
from .result import TIE_ALL, TIE_NONE, MatchResult


def match(
    *,
    quotas: Sequence[int],
    ties: str | Sequence[str] = TIE_ALL,
    candidates: Sequence[int],
    ranks: Sequence[int],
    programmes: Sequence[int],
    scores: Sequence[int],
) -> MatchResult:
    """Place every candidate by deferred acceptance.

    One entry per programme in ``quotas`` (and in ``ties`` when it is a list); one entry per
    wish in the other four: the candidate's id (any integer), the wish rank (1 = first
    wish), the programme's index in ``quotas``, the admission score in hundredths of a point.
    """
    started = time.perf_counter()
    quota_array, ties_all = _settings(quotas, ties)
    market = market_build(
        candidates=candidates,
        ranks=ranks,
        programmes=programmes,
        scores=scores,
        programme_count=len(quota_array),
    )
    return _run(market, quota_array, ties_all, None, "fresh", started)


def match_market(
    market: Market, *, quotas: Sequence[int], ties: str | Sequence[str] = TIE_ALL
) -> MatchResult:
    """Run an already built market (``market_build``) with these quotas and tie rules."""
    started = time.perf_counter()
    quota_array, ties_all = _settings(quotas, ties, market.programme_count)
    return _run(market, quota_array, ties_all, None, "fresh", started)


def match_rerun(
    previous: MatchResult,
    *,
    quotas: Sequence[int] | None = None,
    ties: str | Sequence[str] | None = None,
) -> MatchResult:
    """The same round with new quotas (and tie rules); always equal to a fresh run on them.

    When no programme became more open (no quota up, no rule from ``none`` to ``all``), every
    candidate is weakly worse off than before, and deferred acceptance goes on from the
    previous placements: only the chains of refusals the cuts start are recomputed. Any
    opening can move candidates up through vacancy chains and improvement cycles that the
    previous state cannot see, so the run starts afresh, on the market already laid out.
    """
    started = time.perf_counter()
    market = previous.market
    quota_array, ties_all = _settings(
        previous.quotas if quotas is None else quotas,
        previous.ties() if ties is None else ties,
        market.programme_count,
    )
    opened = (quota_array > previous.quotas) | (ties_all & ~previous.ties_all)
    if opened.any():
        return _run(market, quota_array, ties_all, None, "fresh", started)
    return _run(market, quota_array, ties_all, previous.position, "continued", started)


def _run(market, quotas, ties_all, start, mode, started) -> MatchResult:
    outcome = deferred_acceptance(market, quotas=quotas, ties_all=ties_all, start=start)
    return MatchResult(
        market=market,
        quotas=quotas,
        ties_all=ties_all,
        outcome=outcome,
        mode=mode,
        seconds=time.perf_counter() - started,
    )


def _settings(quotas, ties, programme_count: int | None = None):
    quota_array = np.asarray(quotas, dtype=np.int64).reshape(-1)
    if programme_count is not None and len(quota_array) != programme_count:
        raise MatchInputError(
            f"cần {programme_count} chỉ tiêu, có {len(quota_array)}",
            f"expected {programme_count} quotas, got {len(quota_array)}",
        )
    if (quota_array < 0).any():
        first = int(np.argmax(quota_array < 0))
        raise MatchInputError(
            f"chỉ tiêu của ngành thứ {first + 1} âm",
            f"the quota of programme #{first + 1} is negative",
        )
    if isinstance(ties, str):
        rules = [ties] * len(quota_array)
    else:
        rules = list(ties)
        if len(rules) != len(quota_array):
            raise MatchInputError(
                "số quy tắc xét bằng điểm khác số ngành",
                "there must be one tie rule per programme",
            )
    unknown = sorted({rule for rule in rules if rule not in (TIE_ALL, TIE_NONE)})
    if unknown:
        raise MatchInputError(
            f"quy tắc xét bằng điểm không hợp lệ: {unknown[0]!r} (dùng 'all' hoặc 'none')",
            f"unknown tie rule {unknown[0]!r} (use 'all' or 'none')",
        )
    ties_all = np.array([rule == TIE_ALL for rule in rules], dtype=bool)
    return quota_array, ties_all
