"""Pages of the published data standard: the list of entities, one entity's columns, downloads.

The standard is public (schools and software vendors read it before they have an account), so
these pages need no log-in. Everything shown comes from ``registry.exchange_format`` and
``registry.code_lists`` through ``exchange.standard``; the downloads are the same bytes as the
files committed under ``docs/standard/v1/``.
"""

from functools import lru_cache

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils.translation import get_language
from django.views.decorators.http import require_GET

from vnemis.registry.code_lists import (
    CODE_LIST_TITLES,
    CODE_LISTS,
    REFERENCE_LISTS,
    province_codes,
)
from vnemis.registry.exchange_format import ENTITIES, FORMAT_VERSION, LAYOUTS, LAYOUTS_BY_NAME

from .standard import CONTENT_TYPES, DTYPE_LABEL, artefact_bytes, csv_template

KINDS = tuple(CONTENT_TYPES)
# Code lists shown in full in the column table; longer ones fold into a details element.
INLINE_CODES = 12


@lru_cache(maxsize=64)
def _artefact(name: str, kind: str) -> bytes:
    # Pure and deterministic: built once per process.
    return artefact_bytes(LAYOUTS_BY_NAME[name], kind)


def _layout_or_404(name: str):
    try:
        return LAYOUTS_BY_NAME[name]
    except KeyError:
        raise Http404("unknown entity") from None


@require_GET
def standard_index(request):
    """The data standard: entities in load order, composite layouts, downloads."""
    english = (get_language() or "vi").startswith("en")
    rows = [
        {
            "entity": e,
            "title": e.title_en if english else e.title_vi,
            "description": e.description_en if english else e.description_vi,
            "order": n,
        }
        for n, e in enumerate(ENTITIES, start=1)
    ]
    composites = [
        {
            "entity": e,
            "title": e.title_en if english else e.title_vi,
            "description": e.description_en if english else e.description_vi,
        }
        for e in LAYOUTS
        if e.parts
    ]
    return render(
        request,
        "exchange/standard.html",
        {"rows": rows, "composites": composites, "version": FORMAT_VERSION},
    )


@require_GET
def standard_entity(request, entity: str):
    """One entity's columns: headers, type, required, description, codes with labels."""
    layout = _layout_or_404(entity)
    english = (get_language() or "vi").startswith("en")
    columns = []
    for c in layout.columns:
        codes = None
        if c.codes in CODE_LISTS:
            codes = [
                {"code": code, "label": en if english else vi}
                for code, vi, en in CODE_LISTS[c.codes]
            ]
        reference = None
        if c.codes == "province":
            # The current provinces, when the geo reference data is loaded.
            provinces = province_codes()
            if provinces:
                codes = [{"code": code, "label": name} for code, name, _en in provinces]
        if c.codes in REFERENCE_LISTS:
            _pattern, vi, en = REFERENCE_LISTS[c.codes]
            reference = en if english else vi
        columns.append(
            {
                "column": c,
                "type": DTYPE_LABEL[c.dtype][1 if english else 0],
                "description": c.description_en if english else c.description_vi,
                "codes": codes,
                "codes_inline": codes is not None and len(codes) <= INLINE_CODES,
                "codes_title": (CODE_LIST_TITLES.get(c.codes) or ("", ""))[1 if english else 0],
                "reference": reference,
                "range": _range_text(c, english),
                "example": _example_text(c, english),
            }
        )
    return render(
        request,
        "exchange/standard_entity.html",
        {
            "entity": layout,
            "title": layout.title_en if english else layout.title_vi,
            "description": layout.description_en if english else layout.description_vi,
            "columns": columns,
            "parts": layout.parts,
            "version": FORMAT_VERSION,
        },
    )


def _as_shown(column, value) -> str:
    """A bound or example as a school writes it: dates dd/mm/yyyy (the files' own form)."""
    if column.dtype == "date" and value:
        year, month, day = str(value).split("-")
        return f"{day}/{month}/{year}"
    return str(value)


def _range_text(column, english: bool) -> str:
    low, high = getattr(column, "min", None), getattr(column, "max", None)
    if low is None and high is None:
        return ""
    low = _as_shown(column, low) if low is not None else None
    high = _as_shown(column, high) if high is not None else None
    if low is not None and high is not None:
        return f"{'Range' if english else 'Khoảng'}: {low} – {high}"
    if low is not None:
        return f"{'From' if english else 'Từ'} {low}"
    return f"{'Up to' if english else 'Đến'} {high}"


def _example_text(column, english: bool) -> str:
    example = getattr(column, "example", None)
    if not example:
        return ""
    if column.dtype == "date":
        also = "or" if english else "hoặc"
        return f"{_as_shown(column, example)} ({also} {example})"
    return str(example)


@require_GET
def standard_download(request, entity: str, kind: str):
    """A template or schema file; CSV takes ?headers=vi|en|canonical (default vi)."""
    layout = _layout_or_404(entity)
    if kind not in KINDS:
        raise Http404("unknown file kind")
    headers = request.GET.get("headers", "vi")
    if kind == "csv" and headers != "vi":
        if headers not in ("en", "canonical"):
            raise Http404("unknown header style")
        body = csv_template(layout, headers=headers)
        filename = f"{layout.name}-{headers}.csv"
    else:
        body = _artefact(layout.name, kind)
        filename = f"{layout.name}.{kind}"
    response = HttpResponse(body, content_type=CONTENT_TYPES[kind])
    disposition = "inline" if kind == "schema.json" else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    return response
