"""The figures of a dashboard: for a node, a year, a level and filters, a set of panels.

Panels: the key figures (GER, NER, PTR, repeaters, dropout, transition, survival, GPI), the
chosen indicator over the snapshot's years, the same indicator by province (national page,
also drawn as a tile map) or by school (provincial page, top N). Every value comes from
``indicator_rows`` over the analytics snapshot, cached in Django's cache under the snapshot's
version, so a page never reads the registry and a refreshed snapshot is never served stale.

Each panel is a table (columns and rows); the chart, the table below it and the CSV/XLSX
downloads all read that one table.
"""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from django.core.cache import cache
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from .cube import snapshot_engine, snapshot_root, snapshot_version
from .curriculum import teaching_subject_labels
from .indicators.catalogue import BY_CODE, GPI_PREFIX, PERCENT, indicator_get
from .indicators.compute import IndicatorError, Request, indicator_rows
from .indicators.engines import DuckDBEngine, levels_of
from .province_grid import COLUMNS, GRID, ROWS
from .selectors import Node, province_names, schools_named

CACHE_SECONDS = 3600
TOP_SCHOOLS = 20
KEY_FIGURES = (
    "GER",
    "NER",
    "PTR",
    "REPEATERS_PCT",
    "DROPOUT_RATE",
    "TRANSITION_RATE",
    "SURVIVAL_RATE",
    "GPI_GER",
)
# Flow rates read year t + 1: without it their numerators would be missing, not zero.
NEEDS_NEXT_YEAR = {
    "PROMOTION_RATE",
    "REPETITION_RATE",
    "DROPOUT_RATE",
    "SURVIVAL_RATE",
    "TRANSITION_RATE",
}
# The province page's default compares its schools, so it needs an indicator with a school value.
DEFAULT_INDICATOR = {"nation": "NER", "province": "REPEATERS_PCT", "school": "REPEATERS_PCT"}
DIMENSION_LABELS = {
    "sex": gettext_lazy("giới tính"),
    "ethnic_group": gettext_lazy("dân tộc (Kinh, dân tộc thiểu số)"),
    "urban_rural": gettext_lazy("khu vực thành thị, nông thôn"),
    "school_id": gettext_lazy("từng trường"),
    "province": gettext_lazy("tỉnh, thành phố"),
    "grade": gettext_lazy("lớp"),
    "subject": gettext_lazy("môn dạy"),
}
LEVEL_LABELS = {
    "primary": gettext_lazy("Tiểu học"),
    "lower_secondary": gettext_lazy("Trung học cơ sở"),
    "upper_secondary": gettext_lazy("Trung học phổ thông"),
}
CHOICES = {
    "sex": {"F": gettext_lazy("Nữ"), "M": gettext_lazy("Nam")},
    "ethnic_group": {"kinh": gettext_lazy("Kinh"), "minority": gettext_lazy("Dân tộc thiểu số")},
    "urban_rural": {"urban": gettext_lazy("Thành thị"), "rural": gettext_lazy("Nông thôn")},
}
FILTER_LABELS = {
    "sex": gettext_lazy("Giới tính"),
    "ethnic_group": gettext_lazy("Dân tộc"),
    "urban_rural": gettext_lazy("Khu vực"),
    "province": gettext_lazy("Tỉnh, thành phố"),
}
# Five classes of a sequential blue scale (ColorBrewer Blues), light → dark, and no data.
MAP_COLOURS = ("#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c")
MAP_TEXT = ("#000000", "#000000", "#000000", "#ffffff", "#ffffff")
NO_DATA = "#d9d9d9"
TILE, GAP = 38, 4


class FilterError(ValueError):
    """A malformed or unknown filter value, with the parameter and a Vietnamese + English text."""

    def __init__(self, field: str, vi: str, en: str):
        super().__init__(f"{vi} / {en}")
        self.field, self.vi, self.en = field, vi, en


@dataclass(frozen=True)
class Filters:
    year: int
    level: str
    indicator: str
    sex: str | None = None
    ethnic_group: str | None = None
    urban_rural: str | None = None
    province: str | None = None  # national page only

    @property
    def pairs(self) -> tuple[tuple[str, str], ...]:
        """The disaggregation filters (not the node's, not the province)."""
        return tuple(
            (name, value)
            for name in ("sex", "ethnic_group", "urban_rural")
            if (value := getattr(self, name))
        )

    def query(self) -> dict[str, str]:
        """The filters as GET parameters (for links and downloads)."""
        out = {"year": str(self.year), "level": self.level, "indicator": self.indicator}
        for name in ("sex", "ethnic_group", "urban_rural", "province"):
            if value := getattr(self, name):
                out[name] = value
        return out


# --------------------------------------------------------------------------- cached reads


@dataclass
class Reader:
    """The snapshot as one request reads it: its version looked up once (a directory walk),
    the engine opened only on a cache miss."""

    root: Path
    version: str
    _engine: DuckDBEngine | None = None

    def key(self, *parts) -> str:
        raw = "|".join([str(self.root), self.version, *map(repr, parts)])
        return "vnemis:stats:" + hashlib.sha256(raw.encode()).hexdigest()

    def engine(self) -> DuckDBEngine:
        if self._engine is None:
            self._engine = snapshot_engine(self.root)
        return self._engine


def snapshot_reader() -> Reader:
    root = snapshot_root()
    return Reader(root, snapshot_version(root))


def _cached(reader: Reader | None, key: tuple, compute):
    reader = reader or snapshot_reader()
    name = reader.key(*key)
    found = cache.get(name)
    if found is None:
        found = compute(reader.engine())
        cache.set(name, found, CACHE_SECONDS)
    return found


def indicator_values(request: Request, reader: Reader | None = None) -> list[dict]:
    """``indicator_rows`` on the snapshot, cached under the snapshot's version."""
    return _cached(reader, ("rows", request), lambda engine: indicator_rows(engine, request))


def snapshot_years(reader: Reader | None = None) -> list[int]:
    """The school years the snapshot holds enrolments of, oldest first."""

    def compute(engine):
        rows = engine.rows("SELECT DISTINCT year FROM enrolment ORDER BY year")
        return [int(r["year"]) for r in rows if r["year"] is not None]

    return _cached(reader, ("years",), compute)


def snapshot_levels(reader: Reader | None = None) -> list[str]:
    """The levels of the snapshot's levels table, youngest first."""
    return _cached(reader, ("levels",), lambda e: [lv.code for lv in levels_of(e)])


# --------------------------------------------------------------------------- filters


def _choice(params: Mapping, name: str) -> str | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    if raw not in CHOICES[name]:
        allowed = ", ".join(CHOICES[name])
        raise FilterError(
            name,
            _(
                "Giá trị '%(value)s' của bộ lọc %(name)s không hợp lệ; hãy chọn một trong: %(allowed)s."
            )
            % {"value": raw[:40], "name": FILTER_LABELS[name], "allowed": allowed},
            f"The value '{raw[:40]}' of filter '{name}' is invalid; choose one of: {allowed}.",
        )
    return raw


def filters_parse(params: Mapping, *, node: Node, years: list[int], levels: list[str]) -> Filters:
    """The page's GET parameters checked against the snapshot: FilterError when malformed."""
    raw_year = (params.get("year") or "").strip()
    if not raw_year:
        year = years[-1]
    elif not (raw_year.isascii() and raw_year.isdigit() and len(raw_year) == 4):
        raise FilterError(
            "year",
            _("Năm học không hợp lệ: hãy chọn năm bắt đầu năm học, 4 chữ số (ví dụ 2025)."),
            "Invalid school year: give the year it starts, 4 digits (e.g. 2025).",
        )
    elif int(raw_year) not in years:
        shown = ", ".join(map(str, years))
        raise FilterError(
            "year",
            _("Chưa có số liệu năm học %(year)s; các năm có số liệu: %(years)s.")
            % {"year": raw_year, "years": shown},
            f"There are no figures for the school year {raw_year}; years available: {shown}.",
        )
    else:
        year = int(raw_year)
    level = (params.get("level") or "").strip() or (levels[0] if levels else "primary")
    if level not in levels:
        shown = ", ".join(levels)
        raise FilterError(
            "level",
            _("Cấp học '%(level)s' không hợp lệ; hãy chọn một trong: %(levels)s.")
            % {"level": level[:40], "levels": shown},
            f"The level '{level[:40]}' is invalid; choose one of: {shown}.",
        )
    indicator = (params.get("indicator") or "").strip().upper() or DEFAULT_INDICATOR[node.kind]
    if indicator not in BY_CODE:
        raise FilterError(
            "indicator",
            _("Không có chỉ số '%(code)s' trong danh mục chỉ số.") % {"code": indicator[:40]},
            f"There is no indicator '{indicator[:40]}' in the catalogue.",
        )
    province = (params.get("province") or "").strip() or None
    if province is not None:
        if node.kind != "nation":
            raise FilterError(
                "province",
                _("Bộ lọc tỉnh, thành phố chỉ dùng ở trang toàn quốc."),
                "The province filter is for the national page only.",
            )
        if province not in province_names():
            raise FilterError(
                "province",
                _("Không có tỉnh, thành phố mã '%(code)s'.") % {"code": province[:40]},
                f"There is no province with the code '{province[:40]}'.",
            )
    return Filters(
        year=year,
        level=level,
        indicator=indicator,
        sex=_choice(params, "sex"),
        ethnic_group=_choice(params, "ethnic_group"),
        urban_rural=_choice(params, "urban_rural"),
        province=province,
    )


# --------------------------------------------------------------------------- figures


@dataclass
class Figure:
    code: str
    name: str
    value: float | None = None
    numerator: int | None = None
    denominator: int | None = None
    reason: str = ""  # why there is no value

    @property
    def decimals(self) -> int:
        return 2 if self.code.startswith(GPI_PREFIX) else 1

    @property
    def unit(self) -> str:
        """The sign shown after the value: % for percentages, nothing for ratios and counts."""
        indicator = indicator_get(self.code)
        if self.code.startswith(GPI_PREFIX) or indicator is None:
            return ""
        return "%" if str(indicator.unit) == str(PERCENT) else ""


def figure_name(code: str) -> str:
    indicator = indicator_get(code)
    if indicator is None:
        return code
    if code.upper().startswith(GPI_PREFIX):
        return _("Chỉ số bình đẳng giới, %(name)s") % {"name": indicator.name}
    return str(indicator.name)


def _unavailable(code: str, node: Node, year: int, years: list[int], columns) -> str:
    """Why an indicator has no value for this node, these filters and groups ("" when it may)."""
    indicator = indicator_get(code)
    if "population" in indicator.sources and not node.has_population:
        return _("Chỉ số dựa trên dân số chỉ tính cho toàn quốc và tỉnh, thành phố.")
    if indicator.code in NEEDS_NEXT_YEAR and year + 1 not in years:
        return _("Cần số liệu năm học sau (%(year)s) để tính.") % {"year": year + 1}
    allowed = set(indicator.dimensions) | ({"grade"} if indicator.by_grade else set())
    gpi = code.upper().startswith(GPI_PREFIX)
    for column in columns:
        if column not in allowed or (gpi and column == "sex"):
            return _(
                "Chỉ số này không tính theo %(dimension)s; hãy bỏ bộ lọc đó hoặc chọn chỉ số khác."
            ) % {"dimension": DIMENSION_LABELS.get(column, column)}
    return ""


def figure_compute(
    code: str,
    *,
    node: Node,
    year: int,
    level: str,
    filters,
    years: list[int],
    by=(),
    reader: Reader | None = None,
) -> tuple[Figure, list[dict]]:
    """One indicator's value (and rows by ``by``) with the reason when it has none."""
    figure = Figure(code, figure_name(code))
    columns = [*(c for c, _v in filters), *by]
    figure.reason = _unavailable(code, node, year, years, columns)
    if figure.reason:
        return figure, []
    try:
        total = indicator_values(Request(code, year, level, tuple(filters)), reader)
        rows = (
            indicator_values(Request(code, year, level, tuple(filters), tuple(by)), reader)
            if by
            else []
        )
    except IndicatorError as exc:
        figure.reason = exc.en if (get_language() or "vi").startswith("en") else exc.vi
        return figure, []
    if total:
        figure.value = total[0]["value"]
        figure.numerator = total[0].get("numerator")
        figure.denominator = total[0].get("denominator")
    if figure.value is None:
        figure.reason = _("Không đủ số liệu: mẫu số bằng 0 hoặc thiếu.")
    return figure, rows


# --------------------------------------------------------------------------- panels


@dataclass
class Panel:
    id: str
    title: str
    columns: list[tuple[str, str]]  # (key, label)
    rows: list[dict] = field(default_factory=list)
    chart: str = ""  # "line", "bar" or ""
    label_key: str = ""  # the column that labels a chart's points
    reason: str = ""  # why the panel is empty
    decimals: int = 1

    def table(self) -> tuple[list[str], list[list]]:
        """Header and rows as downloaded: the panel's columns in order."""
        return [str(label) for _key, label in self.columns], [
            [row.get(key) for key, _label in self.columns] for row in self.rows
        ]

    def chart_data(self) -> dict:
        return {
            "type": self.chart,
            "labels": [str(r.get(self.label_key)) for r in self.rows],
            "values": [r.get("value") for r in self.rows],
        }


def _value_columns(unit_label: str) -> list[tuple[str, str]]:
    return [
        ("value", unit_label),
        ("numerator", _("Tử số")),
        ("denominator", _("Mẫu số")),
    ]


def _unit_label(code: str) -> str:
    indicator = indicator_get(code)
    return _("Giá trị (%(unit)s)") % {"unit": indicator.unit}


@dataclass
class Dashboard:
    node: Node
    filters: Filters
    years: list[int]
    levels: list[str]
    figures: list[Figure]
    indicator: Figure
    panels: dict[str, Panel]
    map: dict | None = None


def _node_filters(node: Node, filters: Filters) -> tuple:
    province = (("province", filters.province),) if filters.province else ()
    return (*node.filters, *province, *filters.pairs)


def dashboard_build(
    *, node: Node, filters: Filters, years: list[int], levels: list[str], reader=None
) -> Dashboard:
    """Every panel of the node's dashboard for these filters."""
    scoped = _node_filters(node, filters)
    common = {
        "node": node,
        "year": filters.year,
        "level": filters.level,
        "years": years,
        "reader": reader or snapshot_reader(),
    }
    figures = []
    for code in KEY_FIGURES:
        figure, _rows = figure_compute(code, filters=scoped, **common)
        figures.append(figure)
    key = Panel(
        "key",
        _("Chỉ số chính"),
        [("code", _("Mã")), ("name", _("Chỉ số")), *_value_columns(_("Giá trị"))],
        [
            {
                "code": f.code,
                "name": f.name,
                "value": f.value,
                "numerator": f.numerator,
                "denominator": f.denominator,
            }
            for f in figures
        ],
    )
    code = filters.indicator
    chosen, _rows = figure_compute(code, filters=scoped, **common)
    unit = _unit_label(code)
    series = Panel(
        "series",
        _("%(name)s qua các năm học") % {"name": chosen.name},
        [("year", _("Năm học")), *_value_columns(unit)],
        chart="line",
        label_key="year",
    )
    for year in years:
        figure, _rows = figure_compute(code, filters=scoped, **{**common, "year": year})
        series.rows.append(
            {
                "year": f"{year}-{year + 1}",
                "value": figure.value,
                "numerator": figure.numerator,
                "denominator": figure.denominator,
            }
        )
    panels = {"key": key, "series": series}
    dashboard = Dashboard(node, filters, years, levels, figures, chosen, panels)
    if node.kind == "nation":
        panels["provinces"] = _provinces_panel(code, node, filters, common)
        dashboard.map = map_build(panels["provinces"], filters)
    elif node.kind == "province":
        panels["schools"] = _schools_panel(code, node, filters, common)
    return dashboard


def _provinces_panel(code: str, node: Node, filters: Filters, common: dict) -> Panel:
    names = province_names()
    panel = Panel(
        "provinces",
        _("%(name)s theo tỉnh, thành phố") % {"name": figure_name(code)},
        [
            ("province", _("Mã tỉnh")),
            ("name", _("Tỉnh, thành phố")),
            *_value_columns(_unit_label(code)),
        ],
        chart="bar",
        label_key="name",
    )
    figure, rows = figure_compute(code, filters=filters.pairs, by=("province",), **common)
    panel.reason = figure.reason if not rows else ""
    found = {r["province"]: r for r in rows}
    for province in sorted(names):
        row = found.get(province, {})
        panel.rows.append(
            {
                "province": province,
                "name": names[province],
                "value": row.get("value"),
                "numerator": row.get("numerator"),
                "denominator": row.get("denominator"),
            }
        )
    panel.rows.sort(key=lambda r: (r["value"] is None, -(r["value"] or 0), r["province"]))
    return panel


def _schools_panel(code: str, node: Node, filters: Filters, common: dict) -> Panel:
    panel = Panel(
        "schools",
        _("%(name)s: %(n)s trường cao nhất") % {"name": figure_name(code), "n": TOP_SCHOOLS},
        [("school", _("Mã trường")), ("name", _("Trường")), *_value_columns(_unit_label(code))],
        chart="bar",
        label_key="name",
    )
    scoped = _node_filters(node, filters)
    figure, rows = figure_compute(code, filters=scoped, by=("school_id",), **common)
    if not rows:
        panel.reason = figure.reason or _("Chưa có số liệu của trường nào.")
        return panel
    ranked = sorted(
        (r for r in rows if r["value"] is not None),
        key=lambda r: (-r["value"], r["school_id"]),
    )[:TOP_SCHOOLS]
    named = schools_named(ids=[r["school_id"] for r in ranked])
    for r in ranked:
        school_code, name = named.get(r["school_id"], (str(r["school_id"]), str(r["school_id"])))
        panel.rows.append(
            {
                "school": school_code,
                "name": name,
                "value": r["value"],
                "numerator": r.get("numerator"),
                "denominator": r.get("denominator"),
            }
        )
    return panel


# --------------------------------------------------------------------------- the tile map


def _classes(values: list[float]) -> list[tuple[float, float]]:
    """Five equal-width classes between the smallest and the largest value."""
    low, high = min(values), max(values)
    if high == low:
        return [(low, high)]
    step = (high - low) / len(MAP_COLOURS)
    return [(low + i * step, low + (i + 1) * step) for i in range(len(MAP_COLOURS))]


def _class_of(value: float, classes) -> int:
    for i, (_low, high) in enumerate(classes):
        if value <= high or i == len(classes) - 1:
            return i
    return len(classes) - 1


def map_build(panel: Panel, filters: Filters) -> dict:
    """The tile grid: one square per province, coloured by the panel's value, with a legend."""
    values = [r["value"] for r in panel.rows if r["value"] is not None]
    classes = _classes(values) if values else []
    # With one class (all values equal) use the middle colour.
    colour_of = (lambda i: MAP_COLOURS[2], lambda i: MAP_TEXT[2])
    if len(classes) > 1:
        colour_of = (lambda i: MAP_COLOURS[i], lambda i: MAP_TEXT[i])
    tiles = []
    for row in panel.rows:
        place = GRID.get(row["province"])
        if place is None:
            continue
        column, line, label = place
        value = row["value"]
        if value is None:
            fill, text = NO_DATA, "#000000"
        else:
            i = _class_of(value, classes)
            fill, text = colour_of[0](i), colour_of[1](i)
        tiles.append(
            {
                "code": row["province"],
                "name": row["name"],
                "label": label,
                "value": value,
                "x": column * (TILE + GAP),
                "y": line * (TILE + GAP),
                "fill": fill,
                "text": text,
            }
        )
    legend = []
    if len(classes) > 1:
        legend = [
            {"fill": MAP_COLOURS[i], "low": low, "high": high}
            for i, (low, high) in enumerate(classes)
        ]
    elif classes:
        legend = [{"fill": MAP_COLOURS[2], "low": classes[0][0], "high": classes[0][1]}]
    return {
        "tiles": tiles,
        "legend": legend,
        "no_data": NO_DATA,
        "tile": TILE,
        "width": COLUMNS * (TILE + GAP) - GAP,
        "height": ROWS * (TILE + GAP) - GAP,
        "decimals": panel.decimals,
    }


# --------------------------------------------------------------------------- definition page


def indicator_detail(
    *, code: str, node: Node, year: int, level: str, years: list[int], reader=None
) -> dict:
    """The definition page's figures: the value and its disaggregations by sex, grade, province."""
    indicator = indicator_get(code)
    common = {
        "node": node,
        "year": year,
        "level": level,
        "years": years,
        "reader": reader or snapshot_reader(),
    }
    figure, _rows = figure_compute(indicator.code, filters=node.filters, **common)
    breakdowns = []
    wanted = []
    if "subject" in indicator.dimensions:
        wanted.append(("subject", _("Theo môn dạy")))
    if indicator.by_sex:
        wanted.append(("sex", _("Theo giới tính")))
    if indicator.by_grade:
        wanted.append(("grade", _("Theo lớp")))
    if node.kind == "nation" and "province" in indicator.dimensions:
        wanted.append(("province", _("Theo tỉnh, thành phố")))
    names = province_names()
    labels = {"sex": CHOICES["sex"], "subject": teaching_subject_labels()}
    for dim, title in wanted:
        if figure.reason:
            break
        _f, rows = figure_compute(indicator.code, filters=node.filters, by=(dim,), **common)
        shown = []
        for r in rows:
            key = r[dim]
            if dim == "province":
                label = names.get(key, key)
            elif dim == "grade":
                label = _("Lớp %(grade)s") % {"grade": key}
            else:
                label = str(labels.get(dim, {}).get(key, key))
            shown.append({"key": key, "label": label, **r})
        breakdowns.append({"dim": dim, "title": title, "rows": shown})
    return {"indicator": indicator, "figure": figure, "breakdowns": breakdowns}
