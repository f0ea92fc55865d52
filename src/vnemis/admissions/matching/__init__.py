"""Virtual filtering (lọc ảo): the national admission round's matching engine.

Pure functions over integer arrays, no ORM: the admissions job feeds it from the database,
``vnemis admissions match`` from CSV files (``files``), and the bench from a generator.

    result = match(quotas=[2, 1], ties="all", candidates=[7, 7, 9], ranks=[1, 2, 1],
                   programmes=[0, 1, 0], scores=[2550, 2400, 2600])
    result.placement          # programme index per candidate (result.candidate_ids), -1 if none
    result.cutoff_score       # hundredths, per programme
    result.missed()           # each missed higher wish with its Reason
    match_rerun(result, quotas=[1, 1])   # equal to a fresh run, reusing the layout

docs/admissions-matching.md describes the algorithm, the tie rules and the proofs.
"""

from .errors import MatchInputError
from .market import Market, market_build
from .reasons import Reason
from .result import TIE_ALL, TIE_NONE, MatchResult, MissedWishes
from .run import match, match_market, match_rerun

__all__ = [
    "TIE_ALL",
    "TIE_NONE",
    "Market",
    "MatchInputError",
    "MatchResult",
    "MissedWishes",
    "Reason",
    "market_build",
    "match",
    "match_market",
    "match_rerun",
]
