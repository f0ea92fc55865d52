"""Compute an indicator on an engine: one total, or one value per group of any dimensions."""

from dataclasses import dataclass, replace

from .catalogue import GPI_PREFIX, Indicator, indicator_get
from .definitions import Level, next_level, promotion, repetition
from .engines import Engine, levels_of
from .measures import DisaggregationUnavailable


class IndicatorError(ValueError):
    """A request that cannot be computed, with a stable code and a Vietnamese + English text."""

    def __init__(self, code: str, vi: str, en: str):
        super().__init__(f"{vi} / {en}")
        self.code, self.vi, self.en = code, vi, en


@dataclass(frozen=True)
class Request:
    code: str  # e.g. GER or GPI_GER
    year: int
    level: str | None = None
    filters: tuple[tuple[str, object], ...] = ()
    by: tuple[str, ...] = ()


def _indicator(code: str) -> Indicator:
    indicator = indicator_get(code)
    if indicator is None:
        raise IndicatorError(
            "unknown_indicator",
            f"Không có chỉ số '{code}'",
            f"There is no indicator '{code}'",
        )
    if code.upper().startswith(GPI_PREFIX) and not indicator.by_sex:
        raise IndicatorError(
            "no_gpi",
            f"Chỉ số {indicator.code} không có chỉ số bình đẳng giới",
            f"{indicator.code} has no gender parity index",
        )
    return indicator


def _level(levels: tuple[Level, ...], code: str | None) -> Level:
    if not levels:
        raise IndicatorError(
            "no_levels", "Chưa có bảng cấp học (levels)", "The levels table is missing or empty"
        )
    if code is None:
        return levels[0]
    for level in levels:
        if level.code == code:
            return level
    known = ", ".join(lv.code for lv in levels)
    raise IndicatorError(
        "unknown_level",
        f"Cấp học '{code}' không có trong bảng cấp học ({known})",
        f"Level '{code}' is not in the levels table ({known})",
    )


def _check_dimensions(indicator: Indicator, names) -> None:
    allowed = set(indicator.dimensions) | ({"grade"} if indicator.by_grade else set())
    for name in names:
        if name not in allowed:
            raise IndicatorError(
                "dimension_not_available",
                f"Chỉ số {indicator.code} không phân tổ theo '{name}'",
                f"{indicator.code} cannot be disaggregated by '{name}'",
            )


ROLLUP = "__p"  # the engine's province-level copy of a cube table, where it has one


def _on_rollups(engine: Engine, ratio, needed: set[str]):
    """The same ratio reading each table's province-level copy where it has every needed column."""

    def rolled(m):
        columns = engine.columns(m.table + ROLLUP)
        if columns is None or not needed <= (columns | set(m.columns)):
            return m
        return replace(m, table=m.table + ROLLUP)

    return replace(
        ratio,
        numerator=tuple(rolled(m) for m in ratio.numerator),
        denominator=tuple(rolled(m) for m in ratio.denominator),
    )


def _ratio_rows(engine: Engine, ratio, by: list[str], filters: dict) -> list[dict]:
    ratio = _on_rollups(engine, ratio, {*by, *filters})
    columns = {}
    for table in ratio.tables():
        found = engine.columns(table)
        if found is None:
            raise IndicatorError(
                "missing_table",
                f"Thiếu bảng số liệu '{table}'",
                f"The data table '{table}' is missing",
            )
        columns[table] = found
    try:
        sql = ratio.sql(group_by=by, filters=filters, columns=columns)
    except DisaggregationUnavailable as exc:
        raise IndicatorError(
            "dimension_not_in_data",
            f"Bảng '{exc.table}' không có cột '{exc.column}' để phân tổ",
            f"Table '{exc.table}' has no column '{exc.column}' to disaggregate by",
        ) from None
    return engine.rows(sql)


def _survival_rows(engine, year, level, levels, by, filters) -> list[dict]:
    """Survival to each grade of the level, per group: Π p(g) / (1 − r(g)) over earlier grades."""
    keyed = [*by, "grade"]
    p_rows = _ratio_rows(engine, promotion(year, level, levels), keyed, filters)
    r_rows = _ratio_rows(engine, repetition(year, level, levels), keyed, filters)
    r = {tuple(row[c] for c in keyed): row["value"] for row in r_rows}
    groups: dict[tuple, dict[int, float | None]] = {}
    for row in p_rows:
        group = tuple(row[c] for c in by)
        groups.setdefault(group, {})[int(row["grade"])] = row["value"]
    out = []
    for group, promotion_by_grade in sorted(groups.items(), key=lambda kv: str(kv[0])):
        survival: float | None = 100.0
        for grade in range(level.first_grade, level.last_grade + 1):
            out.append({**dict(zip(by, group, strict=True)), "grade": grade, "value": survival})
            if grade == level.last_grade or survival is None:
                continue
            p = promotion_by_grade.get(grade)
            rep = r.get((*group, grade))
            if p is None or rep is None or rep >= 100:
                survival = None
            else:
                survival = survival * p / (100 - rep)
    return out


def indicator_rows(engine: Engine, request: Request) -> list[dict]:
    """Values of the request's indicator, one row per combination of ``request.by``."""
    indicator = _indicator(request.code)
    levels = levels_of(engine)
    level = _level(levels, request.level)
    filters = dict(request.filters)
    gpi = request.code.upper().startswith(GPI_PREFIX)
    by = [c for c in request.by if c != "sex"] if gpi else list(request.by)
    _check_dimensions(indicator, [*by, *filters, *(["sex"] if gpi else [])])
    if gpi and "sex" in filters:
        raise IndicatorError(
            "gpi_by_sex", "Chỉ số bình đẳng giới không lọc theo giới", "A GPI takes no sex filter"
        )
    if indicator.code == "TRANSITION_RATE" and next_level(levels, level) is None:
        raise IndicatorError(
            "no_next_level",
            f"Không có cấp học sau cấp {level.code}",
            f"No level follows {level.code}",
        )
    if indicator.needs_next_year:
        _require_next_year(engine, request.year, level)
    keyed = [*by, "sex"] if gpi else by
    if indicator.build is None:
        keyed = [c for c in keyed if c != "grade"]
        rows = _survival_rows(engine, request.year, level, levels, keyed, filters)
        if "grade" not in request.by:
            rows = [
                {k: v for k, v in row.items() if k != "grade"}
                for row in rows
                if row["grade"] == level.last_grade
            ]
    else:
        rows = _ratio_rows(engine, indicator.build(request.year, level, levels), keyed, filters)
    if gpi:
        rows = _parity(rows, by)
    return rows


def _require_next_year(engine: Engine, year: int, level: Level) -> None:
    """Flow rates need the next year's enrolment: without it every pupil would look a dropout."""
    if engine.columns("enrolment") is None:
        return  # reported as a missing table by the ratio itself
    # An integer and a level code read from the levels table.
    sql = f"SELECT COUNT(*) AS n FROM enrolment WHERE year = {int(year) + 1} AND level = '{level.code}'"  # noqa: S608
    found = engine.rows(sql)
    if not found[0]["n"]:
        raise IndicatorError(
            "no_next_year",
            f"Chưa có số liệu năm học {year + 1}-{year + 2} để tính tỷ lệ dòng học sinh của năm "
            f"{year}-{year + 1}",
            f"Flow rates of {year}-{year + 1} need the enrolment of {year + 1}-{year + 2}, "
            "which is not there yet",
        )


def _parity(rows: list[dict], by: list[str]) -> list[dict]:
    pairs: dict[tuple, dict[str, float | None]] = {}
    for row in rows:
        pairs.setdefault(tuple(row[c] for c in by), {})[row["sex"]] = row["value"]
    out = []
    for group, values in pairs.items():
        female, male = values.get("F"), values.get("M")
        value = female / male if female is not None and male else None
        out.append({**dict(zip(by, group, strict=True)), "value": value})
    return out


def indicator_summary(engine: Engine, request: Request) -> dict:
    """The CLI's and API's answer: the value, and ``by_sex`` / ``by_grade`` where they apply."""
    indicator = _indicator(request.code)
    levels = levels_of(engine)
    level = _level(levels, request.level)
    gpi = request.code.upper().startswith(GPI_PREFIX)
    base = Request(request.code, request.year, level.code, request.filters)
    total = indicator_rows(engine, base)
    value = total[0]["value"] if total else None
    if value is None:
        raise IndicatorError(
            "no_data",
            f"Không đủ số liệu năm {request.year} để tính {request.code} ({level.code}): "
            f"mẫu số bằng 0 hoặc thiếu ({', '.join(indicator.sources)})",
            f"Not enough data for {request.code} ({level.code}) in {request.year}: the "
            f"denominator is zero or missing ({', '.join(indicator.sources)})",
        )
    out = {"indicator": request.code.upper(), "year": request.year, "level": level.code}
    out["value"] = value
    if indicator.build is not None and not gpi:
        out["numerator"], out["denominator"] = total[0]["numerator"], total[0]["denominator"]
    filters = dict(request.filters)
    if indicator.by_sex and not gpi and "sex" not in filters:
        rows = indicator_rows(engine, replace(base, by=("sex",)))
        out["by_sex"] = {r["sex"]: r["value"] for r in rows}
    if indicator.by_grade and not gpi and "grade" not in filters:
        rows = indicator_rows(engine, replace(base, by=("grade",)))
        out["by_grade"] = {str(r["grade"]): r["value"] for r in rows}
    out["unit"] = "ratio" if gpi else ("pupils_per_teacher" if indicator.code == "PTR" else "%")
    return out
