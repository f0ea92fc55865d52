"""Obviously correct (and slow) versions of the admission rules, to check the engine against.

Plain Python over small instances, written from the rules' wording and nothing else:
a programme's choice from a set of applicants, stability, every assignment enumerated.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from hypothesis import strategies as st


@dataclass(frozen=True)
class Instance:
    quotas: tuple[int, ...]
    ties: tuple[str, ...]  # "all" or "none" per programme
    # per candidate, their wishes best first: (programme, score in hundredths, rank)
    lists: tuple[tuple[tuple[int, int, int], ...], ...]

    def arrays(self):
        """The wishes as the four columns ``match`` takes (candidate ids 100, 101, ...)."""
        rows = [
            (100 + c, rank, programme, score)
            for c, wishes in enumerate(self.lists)
            for programme, score, rank in wishes
        ]
        columns = list(zip(*rows, strict=True)) if rows else [(), (), (), ()]
        return {
            "candidates": list(columns[0]),
            "ranks": list(columns[1]),
            "programmes": list(columns[2]),
            "scores": list(columns[3]),
        }


def choose(quota: int, rule: str, applicants: dict[int, tuple[int, int]]) -> set[int]:
    """Whom a programme admits from its applicants ({candidate: (score, rank)}): best score,
    then best (lowest) wish rank; at the quota boundary a still-tied group is admitted whole
    under `all` and refused whole under `none`."""
    if quota == 0:
        return set()
    if len(applicants) <= quota:
        return set(applicants)
    ordered = sorted(applicants.items(), key=lambda item: (-item[1][0], item[1][1]))
    worth = [(score, -rank) for _, (score, rank) in ordered]
    if rule == "all":
        last = worth[quota - 1]  # the quota-th best, and everyone as good
        return {c for c, (score, rank) in ordered if (score, -rank) >= last}
    first_out = worth[quota]  # the (quota + 1)-th best, and everyone as good, stay out
    return {c for c, (score, rank) in ordered if (score, -rank) > first_out}


def pools(instance: Instance, reach: list[int]) -> list[dict[int, tuple[int, int]]]:
    """Each programme's applicants when candidate c has gone down to index reach[c] of their
    list: everyone who ranks it at or above where they stand."""
    result: list[dict[int, tuple[int, int]]] = [{} for _ in instance.quotas]
    for c, wishes in enumerate(instance.lists):
        for index, (programme, score, rank) in enumerate(wishes):
            if index <= reach[c]:
                result[programme][c] = (score, rank)
    return result


def is_stable(instance: Instance, reach: list[int]) -> bool:
    """Every programme admits, from all who want it at least as much as their placement,
    exactly those placed there (reach[c] == len(list) means unplaced)."""
    applicants = pools(instance, reach)
    for programme, (quota, rule) in enumerate(zip(instance.quotas, instance.ties, strict=True)):
        placed_here = {
            c
            for c, wishes in enumerate(instance.lists)
            if reach[c] < len(wishes) and wishes[reach[c]][0] == programme
        }
        if choose(quota, rule, applicants[programme]) != placed_here:
            return False
    return True


def stable_assignments(instance: Instance) -> list[list[int]]:
    """Every stable assignment, by enumerating each candidate's wish (or none)."""
    options = [range(len(wishes) + 1) for wishes in instance.lists]
    return [
        list(reach) for reach in itertools.product(*options) if is_stable(instance, list(reach))
    ]


def fixed_point(instance: Instance) -> list[int]:
    """Start everyone at their first wish; repeatedly send every candidate to the first wish
    whose programme would admit them from its current applicants; stop when nothing moves."""
    reach = [0] * len(instance.lists)
    while True:
        applicants = pools(instance, reach)
        moved = []
        for c, wishes in enumerate(instance.lists):
            target = len(wishes)
            for index, (programme, score, rank) in enumerate(wishes):
                pool = dict(applicants[programme])
                pool[c] = (score, rank)
                quota, rule = instance.quotas[programme], instance.ties[programme]
                if c in choose(quota, rule, pool):
                    target = index
                    break
            moved.append(target)
        if moved == reach:
            return reach
        reach = moved


@st.composite
def instances(draw, max_candidates=6, max_programmes=4, max_wishes=3, scores=(2000, 2100, 2200)):
    """Small rounds with many ties: few distinct scores, ranks with occasional gaps."""
    programme_count = draw(st.integers(1, max_programmes))
    quotas = tuple(
        draw(st.lists(st.integers(0, 3), min_size=programme_count, max_size=programme_count))
    )
    ties = tuple(
        draw(
            st.lists(
                st.sampled_from(["all", "none"]), min_size=programme_count, max_size=programme_count
            )
        )
    )
    lists = []
    for _ in range(draw(st.integers(1, max_candidates))):
        chosen = draw(
            st.lists(
                st.integers(0, programme_count - 1),
                unique=True,
                min_size=1,
                max_size=min(max_wishes, programme_count),
            )
        )
        rank = 0
        wishes = []
        for programme in chosen:
            rank += draw(st.sampled_from([1, 1, 1, 2]))
            wishes.append((programme, draw(st.sampled_from(scores)), rank))
        lists.append(tuple(wishes))
    return Instance(quotas=quotas, ties=ties, lists=tuple(lists))
