"""Pages of the periodic report forms: choose a form, read it, download it, drill into a figure.

Thin: parameters go to ``forms.reports`` (scope, checks, figures) and come back as pages, XLSX or
PDF. A request it cannot answer gets the status and message of its ``ReportError`` (400, 403,
404), never a server error.
"""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from vnemis.orgs.models import Organisation
from vnemis.orgs.scope import organisations_visible

from .forms.catalogue import FORMS, form_for
from .forms.compute import available_years
from .forms.display import header, number_vi
from .forms.reports import (
    ReportError,
    drill_get,
    level_check,
    period_check,
    report_get,
    unit_get,
    viewer_check,
)
from .forms.spec import COLUMNS, LEVELS, PERIODS

FORMATS = ("", "html", "xlsx", "pdf")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _error(request, exc: ReportError):
    return render(
        request,
        "stats/report_error.html",
        {"status": exc.status, "code": exc.code, "message": exc.message},
        status=exc.status,
    )


def _param(request, name: str) -> str:
    return request.GET.get(name, "").strip()[:64]


def _query(**params) -> str:
    return urlencode({k: v for k, v in params.items() if v not in ("", None)})


@login_required
@require_GET
def reports_index(request):
    """Choose a form (level and period), a school year and a unit."""
    try:
        viewer_check(request.user)
        level, period = _param(request, "level"), _param(request, "period")
        if "level" in request.GET or "period" in request.GET:
            form = form_for(level_check(level), period_check(period))
            query = _query(year=_param(request, "year"), unit=_param(request, "unit"))
            return redirect(
                reverse("stats_report", args=[form.code]) + (f"?{query}" if query else "")
            )
        unit = unit_get(viewer=request.user, code=_param(request, "unit"))
    except ReportError as exc:
        return _error(request, exc)
    # Nodes a Ministry user may pick at once (the Departments); schools by code.
    departments = []
    if unit.kind == "nation":
        departments = list(
            organisations_visible(request.user)
            .filter(kind=Organisation.Kind.DEPARTMENT)
            .order_by("code")
            .values("code", "name")[:100]
        )
    return render(
        request,
        "stats/report_index.html",
        {
            "forms": list(FORMS.values()),
            "levels": LEVELS,
            "periods": {k: p.label for k, p in PERIODS.items()},
            "years": available_years(),
            "unit": unit,
            "departments": departments,
        },
    )


def _cells(report, query_base: dict) -> list[dict]:
    drill = reverse("stats_report_drill", args=[report.form.code])
    lines = []
    for row, values in report.lines:
        cells = []
        if values is not None:
            for column in COLUMNS:
                value = values[column.code]
                query = _query(**query_base, row=row.key, col=column.code)
                cells.append(
                    {"text": number_vi(value, ratio=bool(row.ratio)), "url": f"{drill}?{query}",
                     "column": column.code}
                )  # fmt: skip
        lines.append({"row": row, "cells": cells})
    return lines


@login_required
@require_GET
def report_page(request, form: str):
    """The report as an HTML table; ``?format=xlsx|pdf`` downloads it."""
    fmt = _param(request, "format").lower()
    try:
        if fmt not in FORMATS:
            raise ReportError(
                400,
                "bad_format",
                _("Định dạng “%(value)s” không được hỗ trợ; chọn xlsx hoặc pdf.")
                % {"value": fmt[:20]},
            )
        report = report_get(
            viewer=request.user,
            form_code=form,
            year=_param(request, "year"),
            unit=_param(request, "unit"),
        )
    except ReportError as exc:
        return _error(request, exc)
    filename = f"{report.form.code}_{report.unit.code}_{report.year_label.replace('–', '-')}"
    if fmt == "xlsx":
        from .render_xlsx import report_xlsx

        response = HttpResponse(report_xlsx(report), content_type=XLSX)
        response["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
        return response
    if fmt == "pdf":
        from .render_pdf import FontsMissing, report_pdf

        try:
            body = report_pdf(report)
        except FontsMissing as exc:
            return _error(request, ReportError(503, "fonts_missing", str(exc)))
        response = HttpResponse(body, content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{filename}.pdf"'
        return response
    base = {"year": report.year, "unit": report.unit.code}
    return render(
        request,
        "stats/report.html",
        {
            "report": report,
            "h": header(report),
            "columns": COLUMNS,
            "lines": _cells(report, base),
            "query": _query(**base),
        },
    )


@login_required
@require_GET
def report_drill(request, form: str):
    """The units behind one figure (aggregates only: no pupil is named)."""
    try:
        row, col = _param(request, "row"), _param(request, "col") or "total"
        if not row:
            raise ReportError(400, "missing_row", _("Thiếu tham số “row”: chọn một ô số liệu."))
        drill = drill_get(
            viewer=request.user,
            form_code=form,
            row=row,
            column=col,
            year=_param(request, "year"),
            unit=_param(request, "unit"),
        )
    except ReportError as exc:
        return _error(request, exc)
    report = drill.report
    ratio = bool(drill.row.ratio)
    items = []
    for item in drill.items:
        links = {}
        if item.unit_code:
            links["drill"] = reverse("stats_report_drill", args=[report.form.code]) + "?" + _query(
                year=report.year, unit=item.unit_code, row=drill.row.key, col=drill.column
            )  # fmt: skip
            links["report"] = reverse("stats_report", args=[report.form.code]) + "?" + _query(
                year=report.year, unit=item.unit_code
            )  # fmt: skip
        items.append(
            {
                "label": item.label,
                "value": number_vi(item.value, ratio=ratio),
                "numerator": number_vi(item.numerator) if ratio else "",
                "denominator": number_vi(item.denominator) if ratio else "",
                **links,
            }
        )
    total = number_vi(drill.total, ratio=ratio)
    return render(
        request,
        "stats/report_drill.html",
        {
            "drill": drill,
            "report": report,
            "h": header(report),
            "items": items,
            "ratio": ratio,
            "total": total,
            "back": reverse("stats_report", args=[report.form.code])
            + "?"
            + _query(year=report.year, unit=report.unit.code),
        },
    )
