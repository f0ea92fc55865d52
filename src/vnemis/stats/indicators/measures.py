# ruff: noqa: S608 -- SQL from constant table names, catalogue dimensions and quoted literals.
"""The building blocks of indicator SQL: measures (signed counts from one cube table) and ratios.

Every indicator is a ratio of two sums of measures over the aggregate cube (docs/stats.md):
the cube tables ``enrolment``, ``repeaters``, ``new_entrants``, ``graduates``, ``population``,
``teachers`` (each with a ``count`` and dimension columns) and ``levels``. The SQL written
here is plain, portable SQL (DuckDB's dialect, which SQLGlot transpiles for Spark): one
definition, two engines.
"""

from dataclasses import dataclass, field

# Columns an indicator may be grouped or filtered by, where the cube tables carry them.
DIMENSIONS = (
    "sex",
    "grade",
    "age",
    "province",
    "school_id",
    "ethnicity",
    "ethnic_group",
    "urban_rural",
    "ownership",
    "subject",
)


class DisaggregationUnavailable(ValueError):
    """A requested dimension is not carried by a table the indicator reads."""

    def __init__(self, column: str, table: str):
        super().__init__(column, table)
        self.column, self.table = column, table


def literal(value) -> str:
    """An SQL literal for a filter value (ints as numbers, anything else as a quoted string)."""
    if isinstance(value, bool):
        raise TypeError("booleans are not filter values")
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


@dataclass(frozen=True)
class Measure:
    """Rows of one cube table under a condition, counted with a sign.

    ``columns`` overrides how a dimension is read (for example ``grade - 1`` to line up next
    year's grade with this year's, or a literal grade for a table without one).
    """

    table: str
    where: str
    sign: float = 1  # a weight: -1 subtracts, 1.5 counts each row one and a half times
    columns: dict[str, str] = field(default_factory=dict)

    def sql(self, needed: list[str], available: set[str]) -> str:
        select = []
        for column in needed:
            if column in self.columns:
                select.append(f"{self.columns[column]} AS {column}")
            elif column in available:
                select.append(column)
            else:
                raise DisaggregationUnavailable(column, self.table)
        count = "count" if self.sign == 1 else f"{self.sign} * count"
        return (
            f"SELECT {', '.join([*select, f'{count} AS v'])} FROM {self.table} WHERE {self.where}"
        )


@dataclass(frozen=True)
class Ratio:
    """``scale × Σ numerator measures / Σ denominator measures``, by any group of dimensions."""

    numerator: tuple[Measure, ...]
    denominator: tuple[Measure, ...]  # empty: the indicator is the numerator's sum itself
    scale: float = 100.0

    def tables(self) -> set[str]:
        return {m.table for m in (*self.numerator, *self.denominator)}

    def sql(
        self, *, group_by: list[str], filters: dict[str, object], columns: dict[str, set[str]]
    ) -> str:
        needed = list(dict.fromkeys([*group_by, *filters]))
        where = " AND ".join(f"{c} = {literal(v)}" for c, v in filters.items()) or "1 = 1"

        def side(measures: tuple[Measure, ...]) -> str:
            union = " UNION ALL ".join(m.sql(needed, columns[m.table]) for m in measures)
            keys = ", ".join(group_by)
            head = f"SELECT {keys + ', ' if keys else ''}SUM(v) AS v"
            tail = f" GROUP BY {keys}" if keys else ""
            return f"{head} FROM ({union}) AS t WHERE {where}{tail}"

        if not self.denominator:
            return (
                f"SELECT * FROM (SELECT {', '.join(group_by) + ', ' if group_by else ''}"
                f"CAST(SUM(v) AS DOUBLE) AS numerator, CAST(NULL AS BIGINT) AS denominator, "
                f"{self.scale!r} * CAST(SUM(v) AS DOUBLE) AS value FROM ("
                + " UNION ALL ".join(m.sql(needed, columns[m.table]) for m in self.numerator)
                + f") AS t WHERE {where}"
                + (
                    f" GROUP BY {', '.join(group_by)}) AS r ORDER BY {', '.join(group_by)}"
                    if group_by
                    else ") AS r"
                )
            )
        if group_by:
            keys = ", ".join(f"d.{c} AS {c}" for c in group_by)
            join = "LEFT JOIN n ON " + " AND ".join(f"n.{c} = d.{c}" for c in group_by)
            order = " ORDER BY " + ", ".join(group_by)
        else:
            keys, join, order = "", "LEFT JOIN n ON 1 = 1", ""
        return (
            f"WITH n AS ({side(self.numerator)}), d AS ({side(self.denominator)}) "
            f"SELECT {keys + ', ' if keys else ''}"
            "CAST(COALESCE(n.v, 0) AS BIGINT) AS numerator, CAST(d.v AS BIGINT) AS denominator, "
            f"CASE WHEN d.v <> 0 THEN {self.scale!r} * CAST(COALESCE(n.v, 0) AS DOUBLE) / "
            f"CAST(d.v AS DOUBLE) END AS value FROM d {join}{order}"
        )
