"""Open data pages (no log-in): the catalogue, one dataset's table, and its downloads.

The views only translate: the figures come published and cached from ``opendata``; this
module lays them out (a pivot for the page; long rows for CSV, XLSX and JSON).
"""

import csv
import io
import itertools

from django.http import Http404, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from .opendata import (
    LICENCE_URL,
    MAX_YEAR,
    MIN_YEAR,
    SOURCE_EN,
    SOURCE_VI,
    UnknownDataset,
    YearUnavailable,
    catalogue,
    dataset_get,
    dataset_published,
    dataset_years,
)
from .suppression import TOTAL
from .table_xlsx import table_xlsx

MAX_AGE = 300
HIDDEN = "…"
FORMATS = ("csv", "xlsx", "json")


def _public(response: HttpResponse, *, page: bool = False) -> HttpResponse:
    response["Cache-Control"] = f"public, max-age={MAX_AGE}"
    if page:
        # The language comes from the cookie (VietnameseFirstMiddleware): one copy per language.
        patch_vary_headers(response, ("Cookie",))
    return response


def _english(request) -> bool:
    return (getattr(request, "LANGUAGE_CODE", "vi") or "vi").startswith("en")


def _dataset_or_404(code: str):
    try:
        return dataset_get(code)
    except UnknownDataset:
        raise Http404(_("Không có bộ dữ liệu mở này.")) from None


def _year_arg(raw: str | None, years: list[int]) -> int | None:
    """The year asked for; None when absent. Raises ValueError when it is not a year."""
    if raw is None or raw == "":
        return years[0] if years else None
    if not (raw.isascii() and raw.isdigit() and len(raw) == 4):
        raise ValueError(raw)
    year = int(raw)
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(raw)
    return year


def _labels(published: dict, english: bool) -> list[dict]:
    """Per dimension: value code → label, with the total."""
    key = "label_en" if english else "label_vi"
    total = _("Tổng")
    out = []
    for dim in published["dimensions"]:
        values = {v["code"]: v[key] for v in dim["values"]}
        values[TOTAL] = total
        out.append({"code": dim["code"], "label": dim[key], "values": values})
    return out


@require_safe
def catalogue_page(request):
    """Every open dataset with its description, licence and the years it has."""
    english = _english(request)
    items = [
        {
            **d,
            "title": d["title_en" if english else "title_vi"],
            "description": d["description_en" if english else "description_vi"],
            "unit": d["unit_en" if english else "unit_vi"],
            "frequency": d["frequency_en" if english else "frequency_vi"],
            "dimension_labels": [x["label_en" if english else "label_vi"] for x in d["dimensions"]],
        }
        for d in catalogue()
    ]
    response = render(
        request,
        "stats/opendata_catalogue.html",
        {"datasets": items, "source": SOURCE_EN if english else SOURCE_VI},
    )
    return _public(response, page=True)


def _pivot(published: dict, labels: list[dict]):
    """Rows: the first dimension's members; columns: every combination of the others."""
    dims = published["dimensions"]
    members = [[v["code"] for v in d["values"]] + [TOTAL] for d in dims]
    by_key = {tuple(row["dims"][d["code"]] for d in dims): row for row in published["rows"]}
    columns = list(itertools.product(*members[1:]))
    header_rows = []
    for level in range(1, len(dims)):
        span = 1
        for later in members[level + 1 :]:
            span *= len(later)
        repeat = len(columns) // (span * len(members[level]))
        header_rows.append(
            [
                {"label": labels[level]["values"][m], "span": span, "total": m == TOTAL}
                for _ in range(repeat)
                for m in members[level]
            ]
        )
    body = []
    for first in members[0]:
        cells = []
        for column in columns:
            key = (first, *column)
            row = by_key[key]
            cells.append(
                {
                    "key": "|".join(key),
                    "value": row["value"],
                    "suppressed": row["suppressed"],
                    "total": TOTAL in key,
                }
            )
        body.append({"label": labels[0]["values"][first], "total": first == TOTAL, "cells": cells})
    return header_rows, body


def _published_or_error(request, dataset, raw_year):
    """(published, years, None) or (None, years, an error response)."""
    years = dataset_years(dataset)
    try:
        year = _year_arg(raw_year, years)
    except ValueError:
        return (
            None,
            years,
            HttpResponseBadRequest(
                _("Năm học không hợp lệ: hãy chọn năm bắt đầu năm học, 4 chữ số (ví dụ 2025).")
            ),
        )
    if year is None:
        return None, years, None
    try:
        return dataset_published(dataset.code, year), years, None
    except YearUnavailable:
        raise Http404(_("Bộ dữ liệu này chưa có số liệu của năm học đã chọn.")) from None


@require_safe
def dataset_page(request, code: str):
    """One dataset: the year selector, the table (hidden cells shown as …), the downloads."""
    dataset = _dataset_or_404(code)
    published, years, error = _published_or_error(request, dataset, request.GET.get("year"))
    if error is not None:
        return error
    english = _english(request)
    context = {
        "dataset": dataset,
        "years": years,
        "published": published,
        "source": SOURCE_EN if english else SOURCE_VI,
        "licence_url": LICENCE_URL,
        "hidden": HIDDEN,
    }
    if published is not None:
        labels = _labels(published, english)
        header_rows, body = _pivot(published, labels)
        context.update(
            {
                "year": published["year"],
                "labels": labels,
                "header_rows": header_rows,
                "body": body,
                "column_count": len(body[0]["cells"]) if body else 0,
                "hidden_count": sum(1 for r in published["rows"] if r["suppressed"]),
            }
        )
    response = render(request, "stats/opendata_dataset.html", context)
    return _public(response, page=True)


def _long_rows(published: dict, labels: list[dict]):
    """Header and rows of the long format: each dimension's code and label, value, percent."""
    header = []
    for d in labels:
        header += [d["code"], f"{d['code']}_label"]
    header += ["value", "percent", "suppressed"]
    rows = []
    for row in published["rows"]:
        line = []
        for d in labels:
            code = row["dims"][d["code"]]
            line += [code, d["values"][code]]
        line += [row["value"], row["percent"], row["suppressed"] or ""]
        rows.append(line)
    return header, rows


@require_safe
def dataset_download(request, code: str, year: int, fmt: str):
    """The published table as CSV, XLSX or JSON (long format: one line per cell or margin)."""
    dataset = _dataset_or_404(code)
    if fmt not in FORMATS:
        raise Http404(_("Định dạng tải về không được hỗ trợ (csv, xlsx, json)."))
    published, _years, error = _published_or_error(request, dataset, str(year))
    if error is not None:
        return error
    english = _english(request)
    labels = _labels(published, english)
    name = f"{dataset.code}-{published['year']}.{fmt}"
    if fmt == "json":
        response = JsonResponse(
            {**published, "total_code": TOTAL}, json_dumps_params={"ensure_ascii": False}
        )
    elif fmt == "csv":
        header, rows = _long_rows(published, labels)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(["" if v is None else v for v in line] for line in rows)
        # A BOM so that Excel opens the Vietnamese text as UTF-8.
        response = HttpResponse(
            "\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8"
        )
    else:
        response = HttpResponse(
            _xlsx(dataset, published, labels, english),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return _public(response)


def _xlsx(dataset, published: dict, labels: list[dict], english: bool) -> bytes:
    header, rows = _long_rows(published, labels)
    lines = [
        (_("Bộ dữ liệu"), dataset.title_en if english else dataset.title_vi),
        (_("Mã"), dataset.code),
        (_("Năm học"), f"{published['year']}-{published['year'] + 1}"),
        (_("Đơn vị"), dataset.unit_en if english else dataset.unit_vi),
        (_("Nguồn"), SOURCE_EN if english else SOURCE_VI),
        (_("Giấy phép"), f"{published['licence']} ({LICENCE_URL})"),
        (_("Phiên bản số liệu"), published["version"]),
        (
            _("Ô bị ẩn"),
            _(
                "Ô trống với cột suppressed = primary: số nhỏ hơn %(n)s bị ẩn; secondary: ô bị "
                "ẩn thêm để không suy ra được ô đã ẩn từ các tổng."
            )
            % {"n": published["threshold"]},
        ),
        (_("Mã tổng"), TOTAL),
    ]
    return table_xlsx(header, rows, lines)
