"""Errors grouped by cause, so a school fixes causes, not rows.

``causes_group`` reads an error file (schema in docs/exchange-pipeline.md) lazily and groups it
by (code, column): "column 'Ngày sinh' looks like mm/dd/yyyy in 4,212 rows" instead of 4,212
messages. Pattern detectors give some groups a sharper message: dates written mm/dd/yyyy, a
column empty on every row, a decimal comma in a number column ("7,5"), codes that lost their
leading zeros on the way through Excel ("1000101" for "01000101"). A million error rows group
in well under a second (one Polars group-by over the Parquet file).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from .messages import message

_DECIMAL_COMMA = r"^[+-]?\d+,\d+$"
# Personal identifiers are never quoted in a cause (causes are stored on the import job).
_PRIVATE = {"citizen_id", "education_id", "full_name", "birth_date"}


def _vi_count(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def _label(column: str | None, headers: dict[str, str]) -> str | None:
    if column is None:
        return None
    return headers.get(column) or column


def _cause_text(code: str, label: str | None, count: int, sample: str | None) -> tuple[str, str]:
    """The cause sentence: the detectors' own, else the code's message with the row count."""
    n_vi, n_en = _vi_count(count), f"{count:,}"
    rows_en = "row" if count == 1 else "rows"
    if code == "date_mmdd" and label:
        return (
            f"Cột '{label}' có vẻ dùng định dạng tháng/ngày/năm (mm/dd/yyyy) ở {n_vi} dòng",
            f"Column '{label}' looks like mm/dd/yyyy in {n_en} {rows_en}",
        )
    if code == "date_ambiguous" and label:
        return (
            f"Cột '{label}' có vẻ dùng tháng/ngày/năm: {n_vi} dòng có ngày và tháng đều không quá "
            "12 (như 03/04) không được nạp vì không biết đâu là ngày, đâu là tháng",
            f"Column '{label}' looks like mm/dd/yyyy: {n_en} {rows_en} whose day and month are "
            "both 12 or less (like 03/04) were not loaded, as it is unclear which is which",
        )
    if code == "column_empty" and label:
        return (
            f"Mọi giá trị của cột '{label}' đều trống",
            f"All values of column '{label}' are empty",
        )
    if code == "decimal_comma" and label:
        return (
            f"Cột '{label}' dùng dấu phẩy làm dấu thập phân (ví dụ '{sample}') ở {n_vi} dòng; "
            "hãy dùng dấu chấm (7.5)",
            f"Column '{label}' uses a decimal comma (e.g. '{sample}') in {n_en} {rows_en}; use "
            "a decimal point (7.5)",
        )
    if code == "leading_zeros_lost" and label:
        example_vi = example_en = ""
        if sample and sample.isdigit():
            example_vi = f" (ví dụ '{sample}' thay vì '0{sample}')"
            example_en = f" (e.g. '{sample}' for '0{sample}')"
        return (
            f"Cột '{label}' bị mất số 0 ở đầu ở {n_vi} dòng{example_vi}: tệp có lẽ đã được mở và "
            "lưu bằng Excel, Excel đổi mã thành số. Hãy định dạng cột là Văn bản (Text) rồi nhập "
            "lại mã",
            f"Column '{label}' lost its leading zeros in {n_en} {rows_en}{example_en}: the file "
            "probably went through Excel, which turned the codes into numbers. Format the column "
            "as Text and enter the codes again",
        )
    if code == "unknown_column":
        return (
            f"Cột '{sample}' không có trong chuẩn dữ liệu nên được bỏ qua",
            f"Column '{sample}' is not in the data standard and was ignored",
        )
    vi, en = message(code, label)
    return _sentence(vi), _sentence(en)  # the count has a column of its own


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def causes_group(errors_path: Path, headers: dict[str, str], *, samples: int = 5) -> list[dict]:
    """Causes, largest first (errors before warnings): dicts with ``code``, ``column``,
    ``header`` (as the user wrote it), ``severity``, ``count``, ``sample_rows``, ``sample_value``,
    ``message_vi``, ``message_en``."""
    lf = pl.scan_parquet(errors_path)
    # Detector: a malformed number that is a decimal comma is its own cause.
    code = (
        pl.when((pl.col("code") == "bad_value") & pl.col("value").str.contains(_DECIMAL_COMMA))
        .then(pl.lit("decimal_comma"))
        .otherwise(pl.col("code"))
    )
    groups = (
        lf.with_columns(code.alias("code"))
        .group_by("code", "column", "severity")
        .agg(
            pl.len().alias("count"),
            pl.col("row").drop_nulls().sort().head(samples).alias("sample_rows"),
            pl.col("value").drop_nulls().first().alias("sample_value"),
        )
        .with_columns((pl.col("severity") == "warning").alias("_w"))
        .sort(["_w", "count", "code", "column"], descending=[False, True, False, False])
        .drop("_w")
        .collect()
    )
    out = []
    for g in groups.iter_rows(named=True):
        label = _label(g["column"], headers)
        if g["column"] in _PRIVATE:
            g["sample_value"] = None
        vi, en = _cause_text(g["code"], label, g["count"], g["sample_value"])
        out.append(
            {
                "code": g["code"],
                "column": g["column"],
                "header": label,
                "severity": g["severity"],
                "count": g["count"],
                "sample_rows": g["sample_rows"],
                "sample_value": g["sample_value"],
                "message_vi": vi,
                "message_en": en,
            }
        )
    return out
