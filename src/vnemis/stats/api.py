"""Statistics API: the indicator catalogue and indicator values (logged-in users, by scope).

Values are scoped like the pages: ``node`` is ``national``, a province code or a school code
(default: the caller's own node), and a node outside the caller's scope is refused.
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from ninja import Router, Schema

from vnemis.core.api_errors import ERROR_RESPONSES, ApiError, out_of_scope

from .dashboards import (
    FilterError,
    filters_parse,
    indicator_values,
    snapshot_levels,
    snapshot_reader,
    snapshot_years,
)
from .indicators.catalogue import GPI_PREFIX, INDICATORS, indicator_get
from .indicators.compute import IndicatorError, Request
from .selectors import stats_home_node, stats_node_get

router = Router(tags=["stats"])
MAX_BY = 3


class IndicatorOut(Schema):
    code: str
    name: str
    formula: str
    numerator: str
    denominator: str
    unit: str
    dimensions: list[str]
    sources: list[str]
    caveats: str
    by_grade: bool
    by_sex: bool
    url: str


class ValuesOut(Schema):
    indicator: str
    year: int
    level: str
    node: str
    filters: dict[str, str]
    by: list[str]
    rows: list[dict]


def _out(indicator) -> dict:
    return {
        "code": indicator.code,
        "name": str(indicator.name),
        "formula": str(indicator.formula),
        "numerator": str(indicator.numerator),
        "denominator": str(indicator.denominator),
        "unit": str(indicator.unit),
        "dimensions": list(indicator.dimensions),
        "sources": list(indicator.sources),
        "caveats": str(indicator.caveats),
        "by_grade": indicator.by_grade,
        "by_sex": indicator.by_sex,
        "url": f"/stats/indicators/{indicator.url_code}/",
    }


@router.get("/indicators", response={200: list[IndicatorOut], **ERROR_RESPONSES})
def indicators_list(request: HttpRequest):
    """The indicator catalogue: formula, numerator, denominator, unit, disaggregations, caveats."""
    return [_out(i) for i in INDICATORS]


def _node(viewer, node: str):
    try:
        if node:
            return stats_node_get(viewer=viewer, node=node)
        return stats_home_node(viewer=viewer)
    except PermissionDenied:
        raise out_of_scope("node", node or "-") from None
    except Http404:
        raise ApiError(
            404,
            "unknown_node",
            f"Không có đơn vị '{node}': hãy dùng 'national', mã tỉnh 2 số hoặc mã trường.",
            f"There is no node '{node}': use 'national', a 2-digit province code or a school code.",
        ) from None


@router.get("/indicators/{code}", response={200: ValuesOut, **ERROR_RESPONSES})
def indicator_values_get(
    request: HttpRequest,
    code: str,
    year: str = "",
    level: str = "",
    node: str = "",
    by: str = "",
    sex: str = "",
    ethnic_group: str = "",
    urban_rural: str = "",
    province: str = "",
):
    """One indicator (or ``GPI_<code>``) for a node, a year and a level, one row per group of
    ``by`` (comma-separated: sex, grade, province, school_id, ...), with the filters given."""
    indicator = indicator_get(code)
    if indicator is None:
        raise ApiError(
            404,
            "unknown_indicator",
            f"Không có chỉ số '{code}' trong danh mục.",
            f"There is no indicator '{code}' in the catalogue.",
        )
    target = _node(request.auth, node.strip())
    reader = snapshot_reader()
    years, levels = snapshot_years(reader), snapshot_levels(reader)
    if not years:
        raise ApiError(
            404,
            "no_snapshot",
            "Chưa có số liệu thống kê: bản sao thống kê chưa được tạo.",
            "There are no statistics yet: the analytics snapshot has not been written.",
        )
    params = {
        "year": year,
        "level": level,
        "sex": sex,
        "ethnic_group": ethnic_group,
        "urban_rural": urban_rural,
        "province": province,
    }
    try:
        filters = filters_parse(params, node=target, years=years, levels=levels)
    except FilterError as exc:
        raise ApiError(
            422,
            "invalid_filter",
            exc.vi,
            exc.en,
            errors=[{"field": exc.field, "type": "invalid", "message": exc.en}],
        ) from None
    groups = tuple(dict.fromkeys(b.strip() for b in by.split(",") if b.strip()))
    if len(groups) > MAX_BY:
        raise ApiError(
            422,
            "too_many_groups",
            f"Tham số 'by' nhận tối đa {MAX_BY} chiều phân tổ.",
            f"The parameter 'by' takes at most {MAX_BY} dimensions.",
        )
    if "school_id" in groups and target.kind == "nation" and not filters.province:
        raise ApiError(
            422,
            "too_many_groups",
            "Phân tổ theo trường chỉ dùng cho một tỉnh, thành phố hoặc một trường.",
            "Grouping by school is for one province or one school only.",
        )
    scoped = [*target.filters]
    if filters.province:
        scoped.append(("province", filters.province))
    scoped += filters.pairs
    request_code = code.upper() if code.upper().startswith(GPI_PREFIX) else indicator.code
    try:
        rows = indicator_values(
            Request(request_code, filters.year, filters.level, tuple(scoped), groups), reader
        )
    except IndicatorError as exc:
        raise ApiError(422, exc.code, exc.vi, exc.en) from None
    return {
        "indicator": request_code,
        "year": filters.year,
        "level": filters.level,
        "node": target.code,
        "filters": {k: str(v) for k, v in scoped},
        "by": list(groups),
        "rows": rows,
    }
