"""Small-cell suppression: hand cases, and an attacker who holds every published figure.

The attacker test builds, from the published table alone, the linear system of every published
equality (each total equals the sum of its parts, with the shown values moved to the right-hand
side) and checks that no hidden cell is determined: its unit vector is not in the row space of
the system restricted to the hidden cells (numpy matrix rank). Where scipy is installed, linear
programs also bound each hidden cell given non-negativity, and the bounds must differ by ≥ 1.
"""

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vnemis.stats.suppression import (
    PRIMARY,
    SECONDARY,
    TOTAL,
    Dimension,
    complementary_suppress,
    determined_cells,
    primary_suppress,
    rate,
    table_publish,
    table_relations,
    table_values,
)


def dims(*sizes, names="abc"):
    return [
        Dimension(names[i], tuple(f"{names[i]}{j}" for j in range(n))) for i, n in enumerate(sizes)
    ]


def counts_of(dimensions, values):
    keys = itertools.product(*(d.values for d in dimensions))
    return list(zip(keys, values, strict=True))


# --- hand cases ------------------------------------------------------------------------------------


def test_one_dimension_small_cell_and_its_complement():
    d = [Dimension("sex", ("M", "F", "X"))]
    t = table_publish(d, [(("M",), 3), (("F",), 10), (("X",), 20)])
    assert t.flag("M") == PRIMARY and t.value("M") is None
    assert t.flag("F") == SECONDARY and t.value("F") is None  # smallest shown non-zero
    assert t.value("X") == 20 and t.value(TOTAL) == 33


def test_zeros_are_shown_and_never_chosen_as_complement():
    d = [Dimension("g", ("a", "b", "c", "d"))]
    t = table_publish(d, [(("a",), 0), (("b",), 2), (("c",), 0), (("d",), 40)])
    assert t.value("a") == 0 and t.value("c") == 0
    assert t.flag("b") == PRIMARY
    # The only non-zero shown cell of the line is 40, then the total.
    assert t.flag("d") == SECONDARY
    assert t.value(TOTAL) == 42


def test_no_small_cell_nothing_hidden():
    t = table_publish(dims(2, 2), counts_of(dims(2, 2), [5, 6, 7, 8]))
    assert not t.hidden()
    assert t.value(TOTAL, TOTAL) == 26 and t.value("a0", TOTAL) == 11 and t.value(TOTAL, "b1") == 14


def test_two_by_three_rectangle():
    d = [Dimension("r", ("a", "b", "c")), Dimension("s", ("M", "F"))]
    t = table_publish(d, counts_of(d, [3, 10, 20, 30, 7, 8]))
    assert {c.key: c.suppressed for c in t.hidden()} == {
        ("a", "M"): PRIMARY,
        ("a", "F"): SECONDARY,
        ("c", "M"): SECONDARY,
        ("c", "F"): SECONDARY,
    }
    assert t.value("a", TOTAL) == 13 and t.value(TOTAL, "M") == 30 and t.value(TOTAL, TOTAL) == 78


def test_a_small_total_is_hidden_and_protected():
    # Row a sums to 4: the total is small itself, and its line (the column of totals) needs a
    # complement too.
    d = [Dimension("r", ("a", "b", "c")), Dimension("s", ("M", "F"))]
    t = table_publish(d, counts_of(d, [2, 2, 10, 12, 11, 13]))
    assert t.flag("a", TOTAL) == PRIMARY
    assert t.flag("a", "M") == PRIMARY and t.flag("a", "F") == PRIMARY
    hidden_totals = [k for k in (("b", TOTAL), ("c", TOTAL), (TOTAL, TOTAL)) if t.flag(*k)]
    assert hidden_totals, "a hidden row total alone in the column of totals gives itself away"
    assert not determined_cells(
        table_values(d, counts_of(d, [2, 2, 10, 12, 11, 13])),
        t.relations,
        [c.key for c in t.hidden()],
    )


def test_hierarchy_groups_sum_to_their_total_and_are_protected():
    grades = Dimension(
        "grade",
        ("1", "2", "3", "6", "7"),
        groups=(("primary", ("1", "2", "3")), ("lower", ("6", "7"))),
    )
    t = table_publish(
        [grades], [(("1",), 10), (("2",), 11), (("3",), 12), (("6",), 3), (("7",), 1)]
    )
    # lower = 4: hidden with both its grades; then the line total = primary + lower has one
    # hidden cell, so primary (or the total) goes too.
    assert t.flag("lower") == PRIMARY and t.flag("6") == PRIMARY and t.flag("7") == PRIMARY
    assert t.value("primary") is None or t.value(TOTAL) is None
    relations = t.relations
    assert any(r.total == (TOTAL,) and r.parts == (("primary",), ("lower",)) for r in relations)
    truth = table_values(
        [grades], [(("1",), 10), (("2",), 11), (("3",), 12), (("6",), 3), (("7",), 1)]
    )
    assert truth[("primary",)] == 33 and truth[(TOTAL,)] == 37
    assert not determined_cells(truth, relations, [c.key for c in t.hidden()])


def test_the_line_rule_alone_can_leave_a_cell_determined_and_the_audit_repairs_it():
    """Two blocks of hidden cells joined by one hidden cell: every line holds two or three hidden
    cells, yet the joining cell is determined (a bridge); the audit hides one more."""
    d = dims(4, 4)
    big = 10
    grid = [
        [1, 2, big, big],
        [2, 1, 3, big],
        [big, big, 1, 2],
        [big, big, 2, 1],
    ]
    counts = counts_of(d, [v for row in grid for v in row])
    values = table_values(d, counts)
    relations = table_relations(d)
    flags = complementary_suppress(values, relations, primary_suppress(values, 5))
    assert flags == primary_suppress(values, 5)  # the line rule adds nothing
    assert determined_cells(values, relations, flags) == [("a1", "b2")]
    t = table_publish(d, counts)
    assert len(t.hidden()) > len(flags)
    assert not determined_cells(values, relations, [c.key for c in t.hidden()])


def test_deterministic_tie_break():
    d = [Dimension("r", ("a", "b", "c", "d"))]
    counts = [(("a",), 2), (("b",), 9), (("c",), 9), (("d",), 9)]
    first = table_publish(d, counts)
    assert first.flag("b") == SECONDARY and first.value("c") == 9  # table order among equals
    for _ in range(3):
        assert [c.key for c in table_publish(d, counts).hidden()] == [("a",), ("b",)]


def test_threshold_one_hides_nothing_and_the_threshold_is_used():
    d = [Dimension("r", ("a", "b"))]
    assert not table_publish(d, [(("a",), 1), (("b",), 9)], threshold=1).hidden()
    t = table_publish(d, [(("a",), 9), (("b",), 12)], threshold=10)
    assert t.flag("a") == PRIMARY and t.flag("b") == SECONDARY


@pytest.mark.parametrize(
    ("dimensions", "counts", "message"),
    [
        ([Dimension("r", ("a",))], [(("z",), 3)], "not a value"),
        ([Dimension("r", ("a",))], [(("a", "b"), 3)], "dimensions"),
        ([Dimension("r", ("a",))], [(("a",), -1)], "negative"),
        ([], [], "at least one dimension"),
    ],
)
def test_malformed_input_is_refused(dimensions, counts, message):
    with pytest.raises(ValueError, match=message):
        table_publish(dimensions, counts)


def test_bad_threshold_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        table_publish([Dimension("r", ("a",))], [(("a",), 3)], threshold=0)


def test_a_one_value_dimension_has_a_true_total():
    t = table_publish([Dimension("r", ("a",)), Dimension("s", ("M", "F"))], [(("a", "M"), 9)])
    assert t.value(TOTAL, TOTAL) == 9 and t.value("a", TOTAL) == 9 and t.value(TOTAL, "M") == 9


def test_duplicate_cells_add_up():
    t = table_publish([Dimension("r", ("a", "b"))], [(("a",), 5), (("a",), 6), (("b",), 7)])
    assert t.value("a") == 11 and t.value(TOTAL) == 18


def test_rates_follow_their_counts():
    assert rate(1, 4) == 25.0
    assert rate(None, 4) is None and rate(4, None) is None and rate(3, 0) is None
    assert rate(2, 3, scale=1000) == 666.7


# --- the attacker ----------------------------------------------------------------------------------


def attacker_system(table):
    """(matrix over the hidden cells, hidden keys): every published equality, from the output."""
    members = [(*d.values, TOTAL) for d in table.dimensions]
    hidden = [k for k, c in table.cells.items() if c.value is None]
    index = {k: i for i, k in enumerate(hidden)}
    rows = []
    if not hidden:
        return np.zeros((0, 0)), hidden
    for key in table.cells:
        for d, value in enumerate(key):
            if value != TOTAL:
                continue
            parts = [(*key[:d], m, *key[d + 1 :]) for m in members[d][:-1]]
            row = np.zeros(len(hidden))
            for sign, cell in ((1, key), *((-1, p) for p in parts)):
                if cell in index:
                    row[index[cell]] += sign
            if row.any():
                rows.append(row)
    return np.array(rows).reshape(-1, len(hidden)), hidden


def assert_protected(table, truth):
    for key, cell in table.cells.items():
        if cell.value is not None:
            assert cell.value == truth[key], "a published figure differs from the true count"
        else:
            assert truth[key] > 0, "a hidden zero"
        if 0 < truth[key] < table.threshold:
            assert cell.value is None, "a small count was published"
    matrix, hidden = attacker_system(table)
    if not hidden:
        return
    rank = np.linalg.matrix_rank(matrix) if matrix.size else 0
    for i, key in enumerate(hidden):
        unit = np.zeros((1, len(hidden)))
        unit[0, i] = 1
        assert np.linalg.matrix_rank(np.vstack([matrix, unit])) == rank + 1, (
            f"hidden cell {key} can be computed from the published figures"
        )


# Counts skewed to small values, so tables have many small cells.
small_counts = st.one_of(st.integers(0, 6), st.integers(0, 40))


@st.composite
def tables(draw):
    n_dims = draw(st.sampled_from([1, 2, 2, 3]))
    sizes = [draw(st.integers(1, 5 if n_dims < 3 else 3)) for _ in range(n_dims)]
    d = dims(*sizes)
    n = int(np.prod(sizes))
    values = draw(st.lists(small_counts, min_size=n, max_size=n))
    threshold = draw(st.integers(2, 6))
    return d, counts_of(d, values), threshold


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_attacker_cannot_recover_any_hidden_cell(case):
    d, counts, threshold = case
    table = table_publish(d, counts, threshold=threshold)
    assert_protected(table, table_values(d, counts))


@st.composite
def hierarchical(draw):
    """A province dimension with regions (groups) summing to the nation, by sex."""
    n = draw(st.integers(2, 6))
    provinces = tuple(f"p{i}" for i in range(n))
    cut = draw(st.integers(1, n - 1))
    region = Dimension(
        "province", provinces, groups=(("north", provinces[:cut]), ("south", provinces[cut:]))
    )
    d = [region, Dimension("sex", ("M", "F"))]
    values = draw(st.lists(small_counts, min_size=2 * n, max_size=2 * n))
    return d, counts_of(d, values)


def hierarchical_system(table):
    """The attacker's equalities from the relations the structure implies (groups included)."""
    hidden = [k for k, c in table.cells.items() if c.value is None]
    index = {k: i for i, k in enumerate(hidden)}
    rows = []
    if not hidden:
        return np.zeros((0, 0)), hidden
    for relation in table_relations(table.dimensions):
        row = np.zeros(len(hidden))
        for sign, cell in ((1, relation.total), *((-1, p) for p in relation.parts)):
            if cell in index:
                row[index[cell]] += sign
        if row.any():
            rows.append(row)
    return np.array(rows).reshape(-1, len(hidden)), hidden


@settings(max_examples=150, deadline=None)
@given(hierarchical())
def test_attacker_cannot_recover_hidden_cells_through_a_hierarchy(case):
    d, counts = case
    table = table_publish(d, counts)
    truth = table_values(d, counts)
    for key, cell in table.cells.items():
        assert cell.value is None or cell.value == truth[key]
    matrix, hidden = hierarchical_system(table)
    if not hidden:
        return
    rank = np.linalg.matrix_rank(matrix)
    for i, key in enumerate(hidden):
        unit = np.zeros((1, len(hidden)))
        unit[0, i] = 1
        assert np.linalg.matrix_rank(np.vstack([matrix, unit])) == rank + 1, key


@settings(max_examples=100, deadline=None)
@given(tables())
def test_interval_of_each_hidden_cell_is_at_least_one_wide(case):
    """Given the published figures and non-negativity, the smallest and largest value a hidden
    cell can take (linear programs) differ by at least 1."""
    optimize = pytest.importorskip("scipy.optimize")
    d, counts, threshold = case
    table = table_publish(d, counts, threshold=threshold)
    truth = table_values(d, counts)
    hidden = [k for k, c in table.cells.items() if c.value is None]
    if not hidden:
        return
    index = {k: i for i, k in enumerate(hidden)}
    a_eq, b_eq = [], []
    for relation in table.relations:
        row, rhs = np.zeros(len(hidden)), 0.0
        for sign, cell in ((1, relation.total), *((-1, p) for p in relation.parts)):
            if cell in index:
                row[index[cell]] += sign
            else:
                rhs -= sign * table.cells[cell].value
        if row.any():
            a_eq.append(row)
            b_eq.append(rhs)
    for key, i in index.items():
        c = np.zeros(len(hidden))
        c[i] = 1
        low = optimize.linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=(0, None))
        high = optimize.linprog(-c, A_eq=a_eq, b_eq=b_eq, bounds=(0, None))
        assert low.status == 0 and high.status in (0, 3)
        upper = np.inf if high.status == 3 else -high.fun
        assert low.fun <= truth[key] <= upper + 1e-6
        assert upper - low.fun >= 1 - 1e-6, (key, low.fun, upper)


@st.composite
def two_way(draw):
    rows, cols = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    d = dims(rows, cols)
    values = draw(st.lists(small_counts, min_size=rows * cols, max_size=rows * cols))
    return d, counts_of(d, values), draw(st.integers(2, 6))


def _cycle_through(edges: set, edge) -> list | None:
    """A cycle of the bipartite graph (row members – column members) through ``edge``: the
    path between its ends avoiding it, as a list of edges, or None (a bridge)."""
    (r, c) = edge
    adjacent: dict = {}
    for a, b in edges - {edge}:
        adjacent.setdefault(("r", a), []).append((("c", b), (a, b)))
        adjacent.setdefault(("c", b), []).append((("r", a), (a, b)))
    start, goal = ("r", r), ("c", c)
    came: dict = {start: None}
    queue = [start]
    while queue:
        node = queue.pop(0)
        if node == goal:
            path = []
            while came[node] is not None:
                node, via = came[node]
                path.append(via)
            return [edge, *reversed(path)]
        for nxt, via in adjacent.get(node, []):
            if nxt not in came:
                came[nxt] = (node, via)
                queue.append(nxt)
    return None


@settings(max_examples=200, deadline=None)
@given(two_way())
def test_two_way_hidden_cells_move_by_whole_units(case):
    """Without scipy, the interval check for two-way tables by certificate: every hidden cell
    lies on a cycle of hidden cells, and moving ±1 around it (signs found and then checked
    against every published equality) keeps the table non-negative, so each hidden cell can
    take at least three integer values consistent with everything published."""
    d, counts, threshold = case
    table = table_publish(d, counts, threshold=threshold)
    truth = table_values(d, counts)
    hidden = {c.key for c in table.hidden()}
    matrix, order = attacker_system(table)
    index = {k: i for i, k in enumerate(order)}
    for cell in hidden:
        cycle = _cycle_through(hidden, cell)
        assert cycle is not None, f"hidden cell {cell} is a bridge: it is determined"
        direction = np.zeros(len(order))
        for i, edge in enumerate(cycle):
            # Alternate around the cycle; a detail cell or the grand total enters its two
            # equations as a part (or twice as a total), a margin once of each: hence the flip.
            is_margin = (edge[0] == TOTAL) != (edge[1] == TOTAL)
            direction[index[edge]] = (-1) ** i * (1 if is_margin else -1)
        assert np.allclose(matrix @ direction, 0), (cell, cycle)
        for step in (1, -1):
            moved = {k: truth[k] + step * direction[index[k]] for k in hidden}
            assert min(moved.values()) >= 0
