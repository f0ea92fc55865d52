"""Dashboard pages (national, provincial, school), their table downloads, and the indicator
catalogue with one definition page per indicator.

The views only translate: the node comes from ``selectors`` (scoped to the viewer), the filters
and figures from ``dashboards`` (computed on the analytics snapshot, cached).
"""

import csv
import io
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from .cube import snapshot_version
from .dashboards import (
    CHOICES,
    FILTER_LABELS,
    LEVEL_LABELS,
    FilterError,
    dashboard_build,
    filters_parse,
    indicator_detail,
    snapshot_levels,
    snapshot_reader,
    snapshot_years,
)
from .indicators.catalogue import GPI_PREFIX, INDICATORS, indicator_get
from .selectors import province_names, stats_home_node, stats_node_get
from .table_xlsx import table_xlsx

FORMATS = ("csv", "xlsx")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _filter_fields(selected) -> list[dict]:
    """The sex, ethnic group and area selects, with the value chosen in ``selected``."""
    return [
        {
            "name": name,
            "label": FILTER_LABELS[name],
            "options": [
                (value, str(label), selected.get(name) == value) for value, label in options.items()
            ],
        }
        for name, options in CHOICES.items()
    ]


def _base_context(node, years, levels, selected=None) -> dict:
    return {
        "node": node,
        "years": years,
        "levels": [(code, str(LEVEL_LABELS.get(code, code))) for code in levels],
        "filter_fields": _filter_fields(selected or {}),
        "indicators": INDICATORS,
        "provinces": sorted(province_names().items()) if node.kind == "nation" else [],
    }


@login_required
@require_safe
def stats_home(request):
    """The dashboard of the viewer's own node (the nation, their province, their school)."""
    node = stats_home_node(viewer=request.user)
    url = reverse("stats_dashboard", args=[node.code])
    query = request.GET.urlencode()
    return redirect(f"{url}?{query}" if query else url)


def _dashboard_or_error(request, node_code: str):
    """(node, years, levels, dashboard or None, error or None)."""
    node = stats_node_get(viewer=request.user, node=node_code)
    reader = snapshot_reader()
    years, levels = snapshot_years(reader), snapshot_levels(reader)
    if not years:
        return node, years, levels, None, None
    try:
        filters = filters_parse(request.GET, node=node, years=years, levels=levels)
    except FilterError as exc:
        return node, years, levels, None, exc
    return (
        node,
        years,
        levels,
        dashboard_build(node=node, filters=filters, years=years, levels=levels),
        None,
    )


@login_required
@require_safe
def stats_dashboard(request, node: str):
    """A node's dashboard: key figures, a time series, bars and (national) the province map."""
    node, years, levels, dashboard, error = _dashboard_or_error(request, node)
    selected = dashboard.filters.query() if dashboard is not None else request.GET
    context = _base_context(node, years, levels, selected)
    if error is not None:
        context["error"] = error
        return render(request, "stats/dashboard.html", context, status=400)
    if dashboard is not None:
        panels = list(dashboard.panels.values())
        context.update(
            {
                "dashboard": dashboard,
                "filters": dashboard.filters,
                "querystring": urlencode(dashboard.filters.query()),
                "panels": panels,
                "charts": [
                    {"id": p.id, "title": str(p.title), **p.chart_data()}
                    for p in panels
                    if p.chart and p.rows
                ],
                "map": dashboard.map,
            }
        )
    return render(request, "stats/dashboard.html", context)


@login_required
@require_safe
def stats_table_download(request, node: str, panel: str, fmt: str):
    """One panel's table as CSV or XLSX, with the page's filters."""
    if fmt not in FORMATS:
        raise Http404(_("Định dạng tải về không được hỗ trợ (csv, xlsx)."))
    node, _years, _levels, dashboard, error = _dashboard_or_error(request, node)
    if error is not None:
        return HttpResponse(error.vi, status=400, content_type="text/plain; charset=utf-8")
    if dashboard is None or panel not in dashboard.panels:
        raise Http404(_("Không có bảng số liệu này."))
    table = dashboard.panels[panel]
    header, rows = table.table()
    name = f"{node.code}-{panel}-{dashboard.filters.year}-{dashboard.filters.level}.{fmt}"
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(["" if v is None else v for v in line] for line in rows)
        # A BOM so that Excel opens the Vietnamese text as UTF-8.
        response = HttpResponse(
            "\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8"
        )
    else:
        response = HttpResponse(_xlsx(node, dashboard, table, header, rows), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _xlsx(node, dashboard, table, header, rows) -> bytes:
    filters = dashboard.filters
    lines = [
        (_("Bảng"), str(table.title)),
        (_("Đơn vị"), node.name),
        (_("Năm học"), f"{filters.year}-{filters.year + 1}"),
        (_("Cấp học"), str(LEVEL_LABELS.get(filters.level, filters.level))),
        *((str(FILTER_LABELS[name]), str(CHOICES[name][value])) for name, value in filters.pairs),
        (_("Nguồn"), _("Bản sao thống kê của CSDL ngành Giáo dục")),
        (_("Phiên bản số liệu"), snapshot_version()),
    ]
    if filters.province:
        lines.insert(4, (str(FILTER_LABELS["province"]), filters.province))
    return table_xlsx(header, rows, lines)


@login_required
@require_safe
def stats_indicators(request):
    """The indicator catalogue: every indicator with its formula and unit."""
    return render(request, "stats/indicators.html", {"indicators": INDICATORS})


@login_required
@require_safe
def stats_indicator(request, code: str):
    """An indicator's definition, and its value for the chosen node and year."""
    indicator = indicator_get(code)
    if indicator is None or code.upper().startswith(GPI_PREFIX):
        raise Http404(_("Không có chỉ số này trong danh mục."))
    raw_node = (request.GET.get("node") or "").strip()
    if raw_node:
        node = stats_node_get(viewer=request.user, node=raw_node)
    else:
        node = stats_home_node(viewer=request.user)
    reader = snapshot_reader()
    years, levels = snapshot_years(reader), snapshot_levels(reader)
    context = {**_base_context(node, years, levels), "indicator": indicator}
    status = 200
    if years:
        params = {"year": request.GET.get("year", ""), "level": request.GET.get("level", "")}
        try:
            filters = filters_parse(params, node=node, years=years, levels=levels)
        except FilterError as exc:
            context["error"] = exc
            status = 400
        else:
            context.update(
                {
                    "filters": filters,
                    "detail": indicator_detail(
                        code=indicator.code,
                        node=node,
                        year=filters.year,
                        level=filters.level,
                        years=years,
                        reader=reader,
                    ),
                    "dashboard_query": urlencode(
                        {"year": filters.year, "level": filters.level, "indicator": indicator.code}
                    ),
                }
            )
    return render(request, "stats/indicator.html", context, status=status)
