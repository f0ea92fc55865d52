"""Small-cell suppression of a table of counts with its margins (open data, docs/open-data.md).

Pure functions, no Django, no I/O: a table is a list of cells (one value per dimension, and a
count); :func:`table_publish` returns the published table: every cell, every margin (row and
column totals, subtotals of groups, the grand total), each either shown or hidden with the
reason.

Rules, in order:

1. **Primary suppression.** A count from 1 to ``threshold - 1`` (default 5) is hidden, margins
   included: a row total of 3 identifies as surely as a cell of 3. Zeros are shown: a zero
   points at nobody, and hiding zeros would blank most of a sparse table without protecting
   anyone (a hidden zero next to published totals is as easy to recover as a shown one).
2. **Complementary (secondary) suppression**, to a fixed point. Every additive relation of the
   table (a total equals the sum of its parts: along every dimension, for every margin, and for
   hierarchies: groups sum to their total, provinces to the nation) is a *line*. A line with
   exactly one hidden cell would give it away by subtraction, so a second cell of that line is
   hidden: the smallest non-zero shown one (ties: a detail cell before a total, then table
   order, so the result is deterministic). Hiding it may leave another line with one hidden
   cell; the pass repeats until no line has exactly one.
3. **Audit.** The line rule is necessary, not sufficient (two blocks of hidden cells joined by
   a single hidden cell leave that cell determined although every line holds two). So the
   hidden cells are checked as an attacker would: all published equalities form a linear
   system in the hidden cells, and a hidden cell is *determined* when its unit vector lies in
   the row space of that system (``numpy``; per connected block of hidden cells). A determined
   cell gets one more complementary cell from one of its lines, rule 2 runs again, and so on.
   It ends: at worst every non-zero cell is hidden, and then the true table scaled by any
   factor near 1 satisfies every published equality, so no hidden cell is determined.

Hidden cells are never zero, so each can move both ways: a hidden cell is never pinned down
by non-negativity alone either (the true values are all ≥ 1; moving along an undetermined
direction by a small step keeps them non-negative).

Rates (shares, percentages) derived from counts are hidden whenever their numerator or their
denominator is (:func:`rate`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

TOTAL = "_total"
PRIMARY = "primary"
SECONDARY = "secondary"
DEFAULT_THRESHOLD = 5

Key = tuple[str, ...]


@dataclass(frozen=True)
class Dimension:
    """One dimension of a table: its detail values in display order and optional subtotals.

    ``groups``: ``(group code, detail values)`` pairs, each a subtotal published beside the
    details (e.g. the grades of a school level). Groups that cover every value exactly once
    also add the relation "the groups sum to the total".
    """

    code: str
    values: tuple[str, ...]
    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def members(self) -> tuple[str, ...]:
        """Details, then subtotals, then the total: every coordinate a published cell can take."""
        return (*self.values, *(g for g, _ in self.groups), TOTAL)

    def covers(self, member: str) -> tuple[str, ...]:
        """The detail values a member adds up."""
        if member == TOTAL:
            return self.values
        for group, parts in self.groups:
            if group == member:
                return parts
        return (member,)

    def partitioned(self) -> bool:
        if not self.groups:
            return False
        seen = [v for _, parts in self.groups for v in parts]
        return sorted(seen) == sorted(self.values) and len(seen) == len(set(seen))

    def relations(self) -> list[tuple[str, tuple[str, ...]]]:
        """(aggregate member, its parts) along this dimension."""
        out: list[tuple[str, tuple[str, ...]]] = [(TOTAL, self.values)]
        out += [(group, parts) for group, parts in self.groups]
        if self.partitioned():
            out.append((TOTAL, tuple(g for g, _ in self.groups)))
        return out


@dataclass(frozen=True)
class Relation:
    """``total = sum(parts)``: one line of the table."""

    total: Key
    parts: tuple[Key, ...]

    def cells(self) -> tuple[Key, ...]:
        return (self.total, *self.parts)


@dataclass(frozen=True)
class PublishedCell:
    key: Key
    value: int | None  # None when hidden
    suppressed: str | None  # None, PRIMARY or SECONDARY
    is_margin: bool


@dataclass
class PublishedTable:
    """A table as published: every cell and margin, hidden ones with ``value=None``."""

    dimensions: tuple[Dimension, ...]
    threshold: int
    cells: dict[Key, PublishedCell]
    relations: list[Relation] = field(repr=False)

    def value(self, *key: str) -> int | None:
        return self.cells[tuple(key)].value

    def flag(self, *key: str) -> str | None:
        return self.cells[tuple(key)].suppressed

    def hidden(self) -> list[PublishedCell]:
        return [c for c in self.cells.values() if c.suppressed]


def rate(numerator: int | None, denominator: int | None, *, scale: float = 100.0) -> float | None:
    """``numerator / denominator × scale``; None when either is hidden or the denominator is 0."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return round(numerator * scale / denominator, 1)


# --- building the full table ---------------------------------------------------------------------


def table_values(dimensions: Sequence[Dimension], counts: Iterable[tuple[Key, int]]) -> dict:
    """Every cell and margin of the table with its true value, in display order."""
    detail: dict[Key, int] = {}
    positions = [{v: i for i, v in enumerate(d.values)} for d in dimensions]
    for key, count in counts:
        key = tuple(str(k) for k in key)
        if len(key) != len(dimensions):
            raise ValueError(f"cell {key!r} has {len(key)} values for {len(dimensions)} dimensions")
        for d, (value, pos) in enumerate(zip(key, positions, strict=True)):
            if value not in pos:
                raise ValueError(
                    f"value {value!r} is not a value of dimension {dimensions[d].code}"
                )
        if count < 0:
            raise ValueError(f"cell {key!r} has a negative count")
        detail[key] = detail.get(key, 0) + int(count)
    values: dict[Key, int] = {}
    for key in itertools.product(*(d.members() for d in dimensions)):
        if all(m in pos for m, pos in zip(key, positions, strict=True)):
            values[key] = detail.get(key, 0)
        else:
            spans = [d.covers(m) for d, m in zip(dimensions, key, strict=True)]
            values[key] = sum(detail.get(k, 0) for k in itertools.product(*spans))
    return values


def table_relations(dimensions: Sequence[Dimension]) -> list[Relation]:
    """Every additive relation between published cells: for each cell, along each dimension."""
    relations = []
    per_dimension = [d.relations() for d in dimensions]
    for key in itertools.product(*(d.members() for d in dimensions)):
        for d, rels in enumerate(per_dimension):
            for total, parts in rels:
                if key[d] != total:
                    continue
                relations.append(Relation(key, tuple((*key[:d], p, *key[d + 1 :]) for p in parts)))
    return relations


# --- the rules -----------------------------------------------------------------------------------


def primary_suppress(values: dict[Key, int], threshold: int) -> dict[Key, str]:
    """Rule 1: counts from 1 to ``threshold - 1``."""
    if threshold < 1:
        raise ValueError("the suppression threshold must be at least 1")
    return {k: PRIMARY for k, v in values.items() if 0 < v < threshold}


def _order(values: dict[Key, int]):
    index = {k: i for i, k in enumerate(values)}

    def order(key: Key):
        return (values[key], sum(1 for part in key if part == TOTAL), index[key])

    return order


def complementary_suppress(
    values: dict[Key, int], relations: Sequence[Relation], flags: dict[Key, str]
) -> dict[Key, str]:
    """Rule 2: until no line has exactly one hidden cell, hide the smallest shown non-zero one."""
    flags = dict(flags)
    order = _order(values)
    changed = True
    while changed:
        changed = False
        for relation in relations:
            cells = relation.cells()
            hidden = sum(1 for c in cells if c in flags)
            if hidden != 1:
                continue
            candidates = [c for c in cells if c not in flags and values[c] > 0]
            if not candidates:  # cannot happen for a true table: a hidden cell is never 0
                continue
            flags[min(candidates, key=order)] = SECONDARY
            changed = True
    return flags


def determined_cells(
    values: dict[Key, int], relations: Sequence[Relation], hidden: Iterable[Key]
) -> list[Key]:
    """Hidden cells an attacker can compute exactly from the published cells and relations.

    Per connected block of hidden cells (two hidden cells are connected when a relation holds
    both), the relations restricted to the hidden cells form a matrix ``A``; a cell is
    determined when every vector of the null space of ``A`` is zero at it (its unit vector is
    in the row space of ``A``).
    """
    hidden = set(hidden)
    order = {k: i for i, k in enumerate(values)}
    parent = {k: k for k in hidden}

    def find(k):
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    rows: list[dict[Key, float]] = []
    for relation in relations:
        coeffs: dict[Key, float] = {}
        for sign, cell in ((1.0, relation.total), *((-1.0, p) for p in relation.parts)):
            if cell in hidden:
                coeffs[cell] = coeffs.get(cell, 0.0) + sign
        if not coeffs:
            continue
        rows.append(coeffs)
        first, *rest = coeffs
        for other in rest:
            a, b = find(first), find(other)
            if a != b:
                parent[b] = a
    blocks: dict[Key, list[Key]] = {}
    for k in sorted(hidden, key=order.__getitem__):
        blocks.setdefault(find(k), []).append(k)
    block_rows: dict[Key, list[dict[Key, float]]] = {}
    for coeffs in rows:
        block_rows.setdefault(find(next(iter(coeffs))), []).append(coeffs)
    determined = []
    for root, cells in blocks.items():
        column = {k: i for i, k in enumerate(cells)}
        matrix = np.zeros((len(block_rows.get(root, [])), len(cells)))
        for r, coeffs in enumerate(block_rows.get(root, [])):
            for k, c in coeffs.items():
                matrix[r, column[k]] = c
        null = _null_space(matrix)
        determined += [k for k, i in column.items() if not np.any(np.abs(null[i]) > 1e-9)]
    return sorted(determined, key=order.__getitem__)


def _null_space(matrix: np.ndarray) -> np.ndarray:
    """An orthonormal basis of the null space (one column per direction).

    A cell's row of the basis is zero exactly when its unit vector is in the row space. The null
    space of ``A`` is that of the Gram matrix ``AᵀA`` (columns × columns, small), whose
    eigen-decomposition is much cheaper than an SVD of the tall ``A``; the entries are small
    integers, so the zero eigenvalues stand well apart from the others."""
    columns = matrix.shape[1]
    if matrix.shape[0] == 0:
        return np.eye(columns)
    gram = matrix.T @ matrix
    eigenvalues, vectors = np.linalg.eigh(gram)
    tolerance = max(1.0, float(eigenvalues[-1])) * columns * 1e-10
    return vectors[:, eigenvalues <= tolerance]


def _protect(values, relations, flags) -> dict[Key, str]:
    """Rules 2 and 3 until no hidden cell is determined."""
    flags = complementary_suppress(values, relations, flags)
    order = _order(values)
    while True:
        determined = determined_cells(values, relations, flags)
        if not determined:
            return flags
        cell = determined[0]
        lines = [r for r in relations if cell in r.cells()]
        candidates = [c for r in lines for c in r.cells() if c not in flags and values[c] > 0]
        if not candidates:
            candidates = [
                c
                for r in relations
                if any(x in flags for x in r.cells())
                for c in r.cells()
                if c not in flags and values[c] > 0
            ]
        if not candidates:  # every non-zero cell is hidden: nothing is determined (docstring)
            return flags
        flags[min(candidates, key=order)] = SECONDARY
        flags = complementary_suppress(values, relations, flags)


def table_publish(
    dimensions: Sequence[Dimension],
    counts: Iterable[tuple[Key, int]],
    *,
    threshold: int = DEFAULT_THRESHOLD,
) -> PublishedTable:
    """The published table: margins added, small cells and their complements hidden."""
    dimensions = tuple(dimensions)
    if not dimensions:
        raise ValueError("a table needs at least one dimension")
    values = table_values(dimensions, counts)
    relations = table_relations(dimensions)
    flags = _protect(values, relations, primary_suppress(values, threshold))
    cells = {
        key: PublishedCell(
            key=key,
            value=None if key in flags else value,
            suppressed=flags.get(key),
            is_margin=any(
                part == TOTAL or part not in d.values
                for part, d in zip(key, dimensions, strict=True)
            ),
        )
        for key, value in values.items()
    }
    return PublishedTable(dimensions, threshold, cells, relations)
