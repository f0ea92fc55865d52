"""Open data API: aggregated, suppressed figures for anyone, no log-in (docs/open-data.md).

Mounted at ``/api/v1/open-data``. The API's default authentication (token or session) is
switched off per operation with ``auth=None``: these figures are public, and a client needs no
account to read them. Tables come from the cache (``opendata.dataset_published``) and leave
with ``Cache-Control: public`` so proxies can serve them too.
"""

from django.http import HttpResponse
from ninja import Query, Router, Schema

from vnemis.core.api_errors import ApiError, ErrorOut

from .opendata import (
    MAX_YEAR,
    MIN_YEAR,
    UnknownDataset,
    YearUnavailable,
    catalogue,
    dataset_get,
    dataset_published,
    dataset_years,
)
from .suppression import TOTAL

router = Router(tags=["open data"])

MAX_AGE = 300


class DimensionOut(Schema):
    code: str
    label_vi: str
    label_en: str


class ValueOut(Schema):
    code: str
    label_vi: str
    label_en: str


class TableDimensionOut(DimensionOut):
    values: list[ValueOut]


class DatasetOut(Schema):
    code: str
    title_vi: str
    title_en: str
    description_vi: str
    description_en: str
    dimensions: list[DimensionOut]
    unit_vi: str
    unit_en: str
    source_vi: str
    source_en: str
    frequency_vi: str
    frequency_en: str
    licence: str
    licence_url: str
    years: list[int]
    url: str


class CatalogueOut(Schema):
    datasets: list[DatasetOut]


class RowOut(Schema):
    dims: dict[str, str]
    value: int | None
    percent: float | None
    suppressed: str | None
    margin: bool


class TableOut(Schema):
    code: str
    year: int
    threshold: int
    version: str
    licence: str
    total_code: str
    dimensions: list[TableDimensionOut]
    rows: list[RowOut]


class YearQuery(Schema):
    year: int | None = None


def _public(response: HttpResponse) -> None:
    response["Cache-Control"] = f"public, max-age={MAX_AGE}"


def unknown_dataset(code: str) -> ApiError:
    return ApiError(
        404,
        "unknown_dataset",
        f"Không có bộ dữ liệu mở mã '{code}'; xem danh mục tại /api/v1/open-data/datasets.",
        f"There is no open dataset '{code}'; see the catalogue at /api/v1/open-data/datasets.",
    )


def year_unavailable(code: str, year: int | None, years: list[int]) -> ApiError:
    have = ", ".join(str(y) for y in years) or "—"
    return ApiError(
        404,
        "year_unavailable",
        f"Bộ dữ liệu '{code}' chưa có số liệu năm học {year}; các năm có số liệu: {have}.",
        f"The dataset '{code}' has no figures for the school year {year}; years available: {have}.",
    )


def bad_year(value: int) -> ApiError:
    return ApiError(
        400,
        "invalid_year",
        f"Năm học '{value}' không hợp lệ: hãy ghi năm bắt đầu năm học, 4 chữ số "
        f"(từ {MIN_YEAR} đến {MAX_YEAR}), ví dụ year=2025 cho năm học 2025-2026.",
        f"The school year '{value}' is invalid: give the year it starts, four digits "
        f"({MIN_YEAR} to {MAX_YEAR}), e.g. year=2025 for the school year 2025-2026.",
        errors=[{"field": "year", "type": "invalid_year", "message": str(value)}],
    )


@router.get("/datasets", response={200: CatalogueOut}, auth=None, url_name="opendata_datasets")
def datasets_list(request, response: HttpResponse):
    """The open data catalogue: every dataset, its dimensions, licence and the years it has."""
    _public(response)
    return {
        "datasets": [{**d, "url": f"/api/v1/open-data/datasets/{d['code']}"} for d in catalogue()]
    }


@router.get(
    "/datasets/{code}",
    response={200: TableOut, 400: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    auth=None,
    url_name="opendata_dataset_api",
)
def dataset_table(request, code: str, response: HttpResponse, query: Query[YearQuery]):
    """One dataset for one school year (default: the newest): every cell and margin, hidden
    cells with ``value: null`` and ``suppressed`` set to ``primary`` or ``secondary``."""
    try:
        dataset = dataset_get(code)
    except UnknownDataset:
        raise unknown_dataset(code) from None
    year = query.year
    if year is not None and not MIN_YEAR <= year <= MAX_YEAR:
        raise bad_year(year)
    years = dataset_years(dataset)
    if year is None:
        if not years:
            raise year_unavailable(code, None, years)
        year = years[0]
    try:
        published = dataset_published(code, year)
    except YearUnavailable:
        raise year_unavailable(code, year, years) from None
    _public(response)
    return {**published, "total_code": TOTAL}
