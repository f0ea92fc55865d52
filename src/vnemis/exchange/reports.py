"""Error reports a school downloads (CSV and XLSX), and formula-injection neutralising for every
exported file of the project.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is taken as a
formula by Excel and LibreOffice ("=HYPERLINK(...)", "+cmd|..."), so every exported text cell
that starts with one gets a leading apostrophe (OWASP's advice). Canonical files keep values as
given: there they are data, not cells someone opens.

Reports are built from the error file lazily: messages are joined per (code, column) — a few
dozen pairs — not computed per row; the XLSX is written in xlsxwriter's constant-memory mode and
capped at Excel's 1,048,576 rows (the sheet says so, and the CSV has everything).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from .causes import causes_group
from .messages import message

_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
_DANGEROUS_RE = r"^[=+\-@\t\r]"
EXCEL_MAX_ROWS = 1_048_576

REPORT_COLUMNS = ["Dòng / Row", "Cột / Column", "Giá trị / Value", "Lỗi", "Error"]
CAUSE_COLUMNS = [
    "Số dòng / Rows",
    "Cột / Column",
    "Nguyên nhân",
    "Cause",
    "Mức độ / Severity",
    "Dòng ví dụ / Sample rows",
]


def neutralise(value):
    """A text cell safe to open in a spreadsheet: a leading apostrophe before = + - @ tab CR."""
    if isinstance(value, str) and value.startswith(_DANGEROUS):
        return "'" + value
    return value


def neutralise_expr(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr.str.contains(_DANGEROUS_RE)).then(pl.lit("'") + expr).otherwise(expr)


def neutralise_frame(df: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame | pl.LazyFrame:
    """Every String column neutralised (other types cannot start a formula)."""
    schema = df.collect_schema() if isinstance(df, pl.LazyFrame) else df.schema
    strings = [n for n, t in schema.items() if t == pl.String]
    if not strings:
        return df
    return df.with_columns(neutralise_expr(pl.col(n)).alias(n) for n in strings)


def _report_frame(errors_path: Path, headers: dict[str, str]) -> pl.LazyFrame:
    """One row per error with its header label and messages, in row order, neutralised."""
    lf = pl.scan_parquet(errors_path)
    pairs = lf.select("code", "column").unique().collect()
    labels, vis, ens = [], [], []
    for code, column in pairs.iter_rows():
        label = headers.get(column, column) if column else None
        vi, en = message(code, label)
        labels.append(label)
        vis.append(vi)
        ens.append(en)
    texts = pairs.with_columns(
        pl.Series("label", labels, dtype=pl.String),
        pl.Series("vi", vis, dtype=pl.String),
        pl.Series("en", ens, dtype=pl.String),
    ).lazy()
    out = (
        lf.join(texts, on=["code", "column"], how="left", nulls_equal=True)
        .sort(["row", "label", "code"], nulls_last=False)  # the same order every time
        .select(
            pl.col("row").alias(REPORT_COLUMNS[0]),
            pl.col("label").alias(REPORT_COLUMNS[1]),
            pl.col("value").alias(REPORT_COLUMNS[2]),
            pl.col("vi").alias(REPORT_COLUMNS[3]),
            pl.col("en").alias(REPORT_COLUMNS[4]),
        )
    )
    return neutralise_frame(out)


def error_report_csv(errors_path: Path, out_path: Path, headers: dict[str, str]) -> Path:
    """UTF-8 CSV with a BOM (so Excel shows Vietnamese correctly), every error row."""
    _report_frame(Path(errors_path), headers).sink_csv(out_path, include_bom=True)
    return Path(out_path)


def error_report_xlsx(
    errors_path: Path, out_path: Path, headers: dict[str, str], *, max_rows: int | None = None
) -> Path:
    """XLSX: sheet "Lỗi" (one row per error, capped at Excel's limit with a note saying so) and
    sheet "Nguyên nhân" (the causes)."""
    import xlsxwriter

    limit = min(max_rows or EXCEL_MAX_ROWS, EXCEL_MAX_ROWS) - 2  # header + the cap note
    workbook = xlsxwriter.Workbook(
        str(out_path),
        {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False},
    )
    bold = workbook.add_format({"bold": True})
    sheet = workbook.add_worksheet("Lỗi")
    sheet.write_row(0, 0, REPORT_COLUMNS, bold)
    sheet.set_column(0, 0, 8)
    sheet.set_column(1, 2, 22)
    sheet.set_column(3, 4, 60)
    frame = _report_frame(Path(errors_path), headers)
    total = pl.scan_parquet(errors_path).select(pl.len()).collect().item()
    r = 1
    for batch in frame.head(limit).collect_batches(chunk_size=50_000):
        for values in batch.iter_rows():
            sheet.write_row(r, 0, ["" if v is None else v for v in values])
            r += 1
    if total > limit:
        sheet.write_string(
            r,
            0,
            f"Chỉ hiển thị {limit:,} trong {total:,} lỗi (giới hạn số dòng của Excel); tải tệp "
            f"CSV để xem tất cả. / Showing {limit:,} of {total:,} errors (Excel's row limit); "
            "download the CSV for all of them.",
            bold,
        )

    causes = workbook.add_worksheet("Nguyên nhân")
    causes.write_row(0, 0, CAUSE_COLUMNS, bold)
    causes.set_column(0, 1, 18)
    causes.set_column(2, 3, 80)
    for i, c in enumerate(causes_group(Path(errors_path), headers), start=1):
        causes.write_row(
            i,
            0,
            [
                c["count"],
                neutralise(c["header"] or ""),
                neutralise(c["message_vi"]),
                neutralise(c["message_en"]),
                c["severity"],
                ", ".join(str(x) for x in c["sample_rows"]),
            ],
        )
    workbook.close()
    return Path(out_path)


# -- rows to fix -------------------------------------------------------------------------------

FIX_ROW, FIX_VI, FIX_EN = "Dòng gốc / Row", "Lỗi cần sửa", "Error to fix"  # intake skips these


def rows_to_fix_xlsx(
    *,
    rejected_path: Path,
    canonical: dict[str, Path],
    errors_path: Path,
    headers: dict[str, str],
    columns: list[str],
    out_path: Path,
) -> Path:
    """Every refused row of the file with its data and its errors, the cells at fault shaded:
    the school fixes the cells and uploads this very file again (the two error columns and the
    row number are skipped on import). Rows refused by intake come as the file gave them; rows
    the registry refused (unknown class, locked year...) as they were read."""
    import xlsxwriter

    errors = pl.scan_parquet(errors_path).filter(
        (pl.col("severity") == "error") & pl.col("row").is_not_null()
    )
    pairs = errors.select("code", "column").unique().collect()
    said = [
        message(code, headers.get(col, col) if col else None) for code, col in pairs.iter_rows()
    ]
    texts = pairs.with_columns(
        pl.Series("vi", [vi for vi, _en in said], dtype=pl.String),
        pl.Series("en", [en for _vi, en in said], dtype=pl.String),
    ).lazy()
    per_row = (
        errors.join(texts, on=["code", "column"], how="left", nulls_equal=True)
        .group_by("row")
        .agg(
            pl.col("vi").unique(maintain_order=True).str.join("; ").alias(FIX_VI),
            pl.col("en").unique(maintain_order=True).str.join("; ").alias(FIX_EN),
            pl.col("column").drop_nulls().unique().alias("_bad"),
        )
        .collect()
    )
    rows = pl.read_parquet(rejected_path)
    missing = per_row.filter(~pl.col("row").is_in(rows["_row"].implode()))["row"]
    if missing.len():
        rows = pl.concat([rows, _canonical_rows(canonical, missing, columns)], how="diagonal")
    shown = [c for c in columns if c in headers]
    data = (
        rows.rename({"_row": "row"})
        .join(per_row, on="row", how="inner")
        .sort("row")
        .select(
            "row",
            *[pl.col(c) if c in rows.columns else pl.lit(None, pl.String).alias(c) for c in shown],
            FIX_VI,
            FIX_EN,
            "_bad",
        )
    )
    workbook = xlsxwriter.Workbook(
        str(out_path),
        {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False},
    )
    bold = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    bad = workbook.add_format({"bg_color": "#F8CBAD"})
    text = workbook.add_format({"num_format": "@"})  # codes stay text (leading zeros)
    sheet = workbook.add_worksheet("Dòng cần sửa")
    sheet.write_row(0, 0, [FIX_ROW, *[headers[c] for c in shown], FIX_VI, FIX_EN], bold)
    sheet.freeze_panes(1, 1)
    sheet.set_column(1, len(shown), 16, text)
    sheet.set_column(len(shown) + 1, len(shown) + 2, 60)
    limit = EXCEL_MAX_ROWS - 1
    for r, values in enumerate(data.head(limit).iter_rows(), start=1):
        row_no, *cells, vi, en, faulty = values
        sheet.write_number(r, 0, row_no)
        for i, (name, value) in enumerate(zip(shown, cells, strict=True), start=1):
            cell = "" if value is None else neutralise(str(value))
            sheet.write_string(r, i, cell, bad if name in faulty else text)
        sheet.write_string(r, len(shown) + 1, neutralise(vi or ""))
        sheet.write_string(r, len(shown) + 2, neutralise(en or ""))
    workbook.close()
    return Path(out_path)


def _canonical_rows(canonical: dict[str, Path], rows: pl.Series, columns: list[str]):
    """The rows as intake passed them to the engine, the parts of a roster joined again."""
    frame = None
    for path in canonical.values():
        part = pl.scan_parquet(path).filter(pl.col("_row").is_in(rows.implode())).collect()
        if frame is None:
            frame = part
        else:
            shared = [c for c in part.columns if c in frame.columns and c != "_row"]
            frame = frame.join(part.drop(shared), on="_row", how="full", coalesce=True)
    wanted = [c for c in columns if frame is not None and c in frame.columns]
    return frame.select("_row", *wanted) if frame is not None else pl.DataFrame()
