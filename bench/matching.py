"""Benchmark: virtual filtering (lọc ảo) of a national admission round.

Generates a synthetic round (not timed as matching): candidates with an ability that makes
their scores correlated across wishes (30-point scale in steps of 0.05, so ties abound),
programmes with a prestige and a popularity (heavy-tailed, so some are swamped), wish lists
of 1 to 2 × --wishes - 1 programmes drawn by popularity and ordered by prestige with noise,
quotas following popularity and summing to 70% of the candidates. Then, in one run:

(a) **seconds**: ``match`` from the wish arrays (laying out the market included);
(b) **rerun_seconds**: ``match_rerun`` after 1% of the quotas change (half up, half down),
    checked against a fresh run on the changed quotas (``rerun_same_as_full``); and
    **rerun_cut_seconds**: a rerun where the same programmes only lose places (the engine
    then continues from the previous state);
(c) **reference_seconds**: a plain pure-Python deferred acceptance with a heap per programme
    (below, written for reading), same tie rules, on Python lists built beforehand (not
    timed); ``same_as_reference`` compares every placement; speedup = reference / engine.

    .venv/bin/python bench/matching.py [--candidates 1000000] [--wishes 6] [--programmes 5000]

The last line is one JSON object: candidates, wishes, programmes, seconds, rerun_seconds,
rerun_cut_seconds, reference_seconds, speedup, same_as_reference, rerun_same_as_full,
peak_rss_mb, build_seconds, rounds, and the goals.
"""

from __future__ import annotations

import argparse
import heapq
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from vnemis.admissions.matching import match, match_market, match_rerun  # noqa: E402

GOALS = {"seconds": 10.0, "rerun_seconds": 3.0, "peak_rss_mb": 4000.0}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate_round(candidates: int, wishes: int, programmes: int, seed: int):
    """quotas [P]; and per wish, sorted by candidate then rank: candidate, rank, programme,
    score in hundredths."""
    rng = np.random.default_rng(seed)
    prestige = rng.normal(0, 1, programmes)
    popularity = np.exp(0.9 * prestige + rng.normal(0, 0.6, programmes))
    popularity /= popularity.sum()
    counts = rng.integers(1, 2 * wishes, candidates)
    candidate = np.repeat(np.arange(candidates, dtype=np.int64), counts)
    programme = rng.choice(programmes, size=len(candidate), p=popularity)
    for _ in range(8):  # redraw a programme a candidate already listed
        pair = candidate * programmes + programme
        order = np.argsort(pair, kind="stable")
        repeated = np.zeros(len(pair), dtype=bool)
        repeated[order[1:]] = pair[order[1:]] == pair[order[:-1]]
        if not repeated.any():
            break
        programme[repeated] = rng.choice(programmes, size=int(repeated.sum()), p=popularity)
    pair = candidate * programmes + programme
    _, first = np.unique(pair, return_index=True)
    candidate, programme = candidate[np.sort(first)], programme[np.sort(first)]
    # ambitious first: by prestige, with noise
    preference = prestige[programme] + rng.normal(0, 0.7, len(programme))
    order = np.lexsort((-preference, candidate))
    candidate, programme = candidate[order], programme[order]
    starts = np.flatnonzero(np.r_[True, candidate[1:] != candidate[:-1]])
    lengths = np.diff(np.r_[starts, len(candidate)])
    rank = np.arange(len(candidate)) - np.repeat(starts, lengths) + 1
    ability = rng.normal(20, 3.5, candidates)
    points = np.clip(ability[candidate] + rng.normal(0, 1.0, len(candidate)), 5, 30)
    score = (np.round(points * 20) * 5).astype(np.int64)  # steps of 0.05 point
    weight = popularity**0.7
    quotas = np.maximum(1, np.round(weight / weight.sum() * 0.7 * candidates)).astype(np.int64)
    return quotas, candidate, rank, programme, score


def reference_deferred_acceptance(quotas, ties_all, starts, wish_programme, wish_key):
    """Candidate-proposing deferred acceptance, plainly: a min-heap of (key, candidate) per
    programme holds its admitted applicants; ``floor`` is the lowest key it may still take.
    Returns each candidate's index in their list (their length when unplaced)."""
    push, pop = heapq.heappush, heapq.heappop
    heaps = [[] for _ in quotas]
    floor = [2**62 if quota == 0 else -1 for quota in quotas]
    position = [0] * (len(starts) - 1)
    free = list(range(len(starts) - 2, -1, -1))
    while free:
        c = free.pop()
        end = starts[c + 1]
        w = starts[c] + position[c]
        while w < end and wish_key[w] < floor[wish_programme[w]]:
            w += 1
        position[c] = w - starts[c]
        if w == end:
            continue
        p = wish_programme[w]
        heap, quota = heaps[p], quotas[p]
        push(heap, (wish_key[w], c))
        while len(heap) > quota:
            lowest = heap[0][0]
            group = [pop(heap)]
            while heap and heap[0][0] == lowest:
                group.append(pop(heap))
            if ties_all[p] and len(heap) < quota:
                for entry in group:  # under `all` a tied group needed to fill the quota stays
                    push(heap, entry)
                break
            floor[p] = lowest + 1  # refused: `none` refuses a group that overflows the quota
            for _, d in group:
                position[d] += 1
                free.append(d)
    return position


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--candidates", type=int, default=1_000_000)
    parser.add_argument("--wishes", type=int, default=6, help="mean wishes per candidate")
    parser.add_argument("--programmes", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--no-reference", action="store_true", help="skip the pure-Python run")
    args = parser.parse_args()

    started = time.perf_counter()
    quotas, candidate, rank, programme, score = generate_round(
        args.candidates, args.wishes, args.programmes, args.seed
    )
    build_seconds = time.perf_counter() - started
    wishes = len(candidate)
    ties_all = np.random.default_rng(args.seed + 1).random(args.programmes) < 0.8
    ties = ["all" if rule else "none" for rule in ties_all]
    print(
        f"round: {args.candidates:,} candidates, {wishes:,} wishes, {args.programmes:,} "
        f"programmes, {int(quotas.sum()):,} places ({(~ties_all).sum()} programmes with "
        f"ties=none); generated in {build_seconds:.1f} s"
    )

    started = time.perf_counter()
    result = match(
        quotas=quotas, ties=ties, candidates=candidate, ranks=rank, programmes=programme,
        scores=score,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    placed = int((result.placement >= 0).sum())
    print(
        f"engine: {seconds:.2f} s, {result.outcome.rounds} rounds, {placed:,} placed, "
        f"{int((result.admitted > result.quotas).sum())} programmes over quota by ties"
    )

    rng = np.random.default_rng(args.seed + 2)
    changed = rng.choice(args.programmes, size=max(1, args.programmes // 100), replace=False)
    new_quotas = quotas.copy()
    half = len(changed) // 2
    new_quotas[changed[:half]] += rng.integers(1, 30, half)
    new_quotas[changed[half:]] = np.maximum(
        0, new_quotas[changed[half:]] - rng.integers(1, 30, len(changed) - half)
    )
    started = time.perf_counter()
    rerun = match_rerun(result, quotas=new_quotas)
    rerun_seconds = time.perf_counter() - started
    full = match_market(result.market, quotas=new_quotas, ties=ties)
    rerun_same = bool((rerun.position == full.position).all())
    cut_quotas = quotas.copy()
    cut_quotas[changed] = np.maximum(0, quotas[changed] - rng.integers(1, 30, len(changed)))
    started = time.perf_counter()
    cut = match_rerun(result, quotas=cut_quotas)
    rerun_cut_seconds = time.perf_counter() - started
    cut_same = bool(
        (cut.position == match_market(result.market, quotas=cut_quotas, ties=ties).position).all()
    )
    print(
        f"rerun after {len(changed)} quotas changed: {rerun_seconds:.2f} s ({rerun.mode}), "
        f"same as a full run: {rerun_same}; after {len(changed)} cuts: {rerun_cut_seconds:.2f} s "
        f"({cut.mode}), same: {cut_same}"
    )

    reference_seconds = same = None
    if not args.no_reference:
        market = result.market
        lists = (
            quotas.tolist(), ties_all.tolist(), market.start.tolist(),
            market.wish_programme.tolist(), market.wish_key.tolist(),
        )  # fmt: skip
        started = time.perf_counter()
        position = reference_deferred_acceptance(*lists)
        reference_seconds = time.perf_counter() - started
        same = bool((np.array(position) == result.position).all())
        del lists, position
        print(
            f"reference (pure Python, heap per programme): {reference_seconds:.2f} s, same: {same}"
        )

    peak = peak_rss_mb()
    summary = {
        "candidates": args.candidates,
        "wishes": wishes,
        "programmes": args.programmes,
        "seconds": round(seconds, 3),
        "rerun_seconds": round(rerun_seconds, 3),
        "rerun_mode": rerun.mode,
        "rerun_cut_seconds": round(rerun_cut_seconds, 3),
        "reference_seconds": None if reference_seconds is None else round(reference_seconds, 3),
        "speedup": None if reference_seconds is None else round(reference_seconds / seconds, 2),
        "same_as_reference": same,
        "rerun_same_as_full": rerun_same and cut_same,
        "peak_rss_mb": round(peak),
        "build_seconds": round(build_seconds, 2),
        "rounds": result.outcome.rounds,
        "goal_seconds<10": seconds < GOALS["seconds"],
        "goal_rerun_seconds<3": rerun_seconds < GOALS["rerun_seconds"],
        "goal_peak_rss_mb<4000": peak < GOALS["peak_rss_mb"],
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
