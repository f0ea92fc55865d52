"""``intake_file``: a source file in, canonical exchange-format files and an error file out.

Two passes with bounded memory. Pass 1 reads the file chunk by chunk, maps headers, normalises
and validates each chunk, appends error rows to ``errors.parquet`` and valid rows to working
part files, and keeps only a hash of each natural key and the row numbers of dates that read
both ways (a few bytes a row). Between the passes, duplicate keys (confirmed on the real keys)
and, in a column that turned out to be mm/dd/yyyy, its ambiguous dates become errors. Pass 2
streams the parts into the canonical files without those rows — split into pupils and
enrolments for a roster. If the file is refused, nothing is left behind in ``out_dir``.
"""

from __future__ import annotations

import shutil
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from django.utils import timezone

from vnemis.registry import exchange_format as xf

from . import headers as hd
from .readers import EXTRA, ROW, csv_source, jsonl_source, parquet_source, xlsx_source
from .refused import IntakeRefused
from .sniff import format_sniff, text_to_utf8
from .validate import BAD, ERROR_SCHEMA, VALUE_CHARS, chunk_validate, duplicates_flag

CANONICAL_DIR = "canonical"
ERRORS_FILE = "errors.parquet"
_WORK_DIR = "_intake_work"
_WORK_TEXT = "_intake_source.utf8"


@dataclass
class IntakeResult:
    entity: str  # declared or detected layout ("roster" = pupils + enrolments on one row)
    files: dict[str, Path]  # canonical entity files in load order
    rows_total: int
    rows_valid: int  # rows that passed intake (the engine may still reject some)
    errors_path: Path
    error_count: int  # error rows of severity "error" (warnings are in the file too)
    headers: dict[str, str]  # canonical column → header as written in the file
    warning_count: int = 0
    # Rows refused by intake, their values as given (canonical column names, ``_row``): the
    # "rows to fix" file hands them back with their errors.
    rejected_path: Path | None = None
    format: str = ""
    encoding: str | None = None
    unknown_headers: list[str] = field(default_factory=list)


def _arrow_schema() -> pa.Schema:
    return pa.schema(
        [
            (name, pa.int64() if dtype == pl.Int64 else pa.large_string())
            for name, dtype in ERROR_SCHEMA.items()
        ]
    )


class _ErrorSink:
    """Appends error frames to errors.parquet as they come (a row group per write)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.writer = pq.ParquetWriter(path, _arrow_schema(), compression="zstd")
        self.errors = 0
        self.warnings = 0
        self.closed = False

    def write(self, df: pl.DataFrame) -> None:
        if not df.height:
            return
        df = df.select([pl.col(n).cast(t) for n, t in ERROR_SCHEMA.items()])
        warnings = int((df["severity"] == "warning").sum())
        self.warnings += warnings
        self.errors += df.height - warnings
        self.writer.write_table(df.to_arrow())

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.writer.close()


def _source_open(
    path: Path, fmt: str, encoding: str | None, out_dir: Path, chunk_rows: int, entity
):
    if fmt in ("csv", "jsonl"):
        text, lines = text_to_utf8(path, encoding or "utf-8", out_dir / _WORK_TEXT)
        if fmt == "csv":
            source = csv_source(text, chunk_rows=chunk_rows)
        else:
            source = jsonl_source(text, chunk_rows=chunk_rows)
        source.rows_expected = max(lines - source.header_row, 0)
        return source
    if fmt == "parquet":
        return parquet_source(path, chunk_rows=chunk_rows)
    return xlsx_source(path, chunk_rows=chunk_rows, entity=entity, scan_formulas=fmt == "xlsx")


def _missing_columns_refuse(layout, missing: list[str]) -> None:
    labels_vi = [getattr(layout.column(m), "header_vi", "") or m for m in missing]
    labels_en = [getattr(layout.column(m), "header_en", "") or m for m in missing]
    raise IntakeRefused(
        "missing_columns",
        "Tệp thiếu cột bắt buộc: " + ", ".join(f"'{x}'" for x in labels_vi) + ". Hãy thêm các "
        "cột này (xem mẫu tệp của chuẩn dữ liệu).",
        "The file lacks required columns: " + ", ".join(f"'{x}'" for x in labels_en) + ". Add "
        "them (see the data standard's template).",
        columns=missing,
    )


def intake_file(
    path: Path,
    *,
    out_dir: Path,
    entity: str | None = None,
    school_code: str | None = None,
    chunk_rows: int = 50_000,
    max_bytes: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    today: date | None = None,
) -> IntakeResult:
    """Read, normalise and validate ``path`` into ``out_dir/canonical/<entity>.parquet`` and
    ``out_dir/errors.parquet``. Raises ``IntakeRefused`` when the file as a whole can't be
    taken in; then nothing is written. ``on_progress(rows_read, rows_expected)`` after each
    chunk (the expectation is an estimate from the bytes read for text files)."""
    path, out_dir = Path(path), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    canonical = out_dir / CANONICAL_DIR
    errors_path = out_dir / ERRORS_FILE
    created: list[Path | _ErrorSink] = []
    try:
        return _intake(
            path, out_dir, canonical, errors_path, created, entity=entity,
            school_code=school_code, chunk_rows=chunk_rows, max_bytes=max_bytes,
            on_progress=on_progress, today=today or timezone.localdate(),
        )  # fmt: skip
    except BaseException:
        # Refused, or the worker is being stopped: leave nothing half-written behind.
        for p in created:
            if isinstance(p, _ErrorSink):
                p.close()
            elif p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(out_dir / _WORK_DIR, ignore_errors=True)
        (out_dir / _WORK_TEXT).unlink(missing_ok=True)


def _intake(path, out_dir, canonical, errors_path, created, *, entity, school_code, chunk_rows,
            max_bytes, on_progress, today) -> IntakeResult:  # fmt: skip
    sniffed = format_sniff(path, max_bytes=max_bytes)
    source = _source_open(path, sniffed.format, sniffed.encoding, out_dir, chunk_rows, entity)
    assumed = frozenset({"school_code"}) if school_code else frozenset()
    name = entity or hd.entity_detect(source.headers, assumed=assumed)
    layout = hd.entity_get(name)
    mapped, unknown = hd.header_map(source.headers, name)
    missing = [
        c.name
        for c in layout.columns
        if c.required and c.name not in mapped.values() and c.name not in assumed
    ]
    if missing:
        _missing_columns_refuse(layout, missing)
    header_text = {col: _header_text(source.headers[i]) for i, col in mapped.items()}

    created.append(errors_path)
    sink = _ErrorSink(errors_path)
    created.insert(0, sink)  # closed first if anything below fails
    work = out_dir / _WORK_DIR
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    parts: list[Path] = []
    rejected_parts: list[Path] = []
    layout_names = set(layout.column_names)
    key_cols = list(layout.natural_key)
    hashes: list[pl.DataFrame] = []
    # date column → [rows only mm/dd explains, rows only dd/mm explains, ambiguous valid rows]
    date_orders: dict[str, list] = {}
    rows_total = 0
    written = 0
    renames = {f"c{i}": col for i, col in mapped.items()}
    formula_by_row: dict[int, list[tuple[int, str]]] = {}
    for row, col, kind in source.formula_problems:
        formula_by_row.setdefault(row, []).append((col, kind))
    for u in unknown:
        sink.write(_warning_row(source.header_row or 1, name, source.headers[u], "unknown_column"))
    for chunk in source.chunks:
        keep = [c for c in renames if c in chunk.columns]
        extra = [x for x in (EXTRA, BAD) if x in chunk.columns]
        df = chunk.select(pl.col(ROW), *extra, *[pl.col(c).alias(renames[c]) for c in keep])
        df = _drop_blank(df, [renames[c] for c in keep])
        if not df.height:
            continue
        rows_total += df.height
        if BAD in df.columns:
            # Lines that are not JSON objects: one error each, no column checks.
            bad = df.filter(pl.col(BAD).fill_null(False))
            sink.write(_row_errors(bad[ROW], name, "bad_json"))
            df = df.filter(~pl.col(BAD).fill_null(False)).drop(BAD)
            if not df.height:
                continue
        valid, errors, orders = chunk_validate(
            df, layout=layout, school_code=school_code, today=today
        )
        for col, order in orders.items():
            seen = date_orders.setdefault(col, [0, 0, []])
            seen[0] += order.month_first
            seen[1] += order.day_first
            if order.ambiguous_rows.len():
                seen[2].append(order.ambiguous_rows)
        if formula_by_row:
            errors = _with_formula_errors(errors, df, formula_by_row, mapped, name)
            bad_rows = errors.filter(pl.col("severity") == "error")["row"].unique()
            valid = valid.filter(~pl.col(ROW).is_in(bad_rows.implode()))
        sink.write(errors)
        refused = errors.filter(pl.col("severity") == "error")["row"].unique()
        if refused.len():
            own = [c for c in df.columns if c in layout_names]
            rejected_parts.append(work / f"rejected-{len(rejected_parts):06d}.parquet")
            df.filter(pl.col(ROW).is_in(refused.implode())).select(ROW, *own).write_parquet(
                rejected_parts[-1], compression="lz4", statistics=False
            )
        if valid.height:
            # Only a hash of the natural key stays in memory (8 bytes a row) to find
            # duplicates across chunks; candidates are confirmed on the real keys below.
            hashes.append(valid.select(pl.struct(key_cols).hash().alias("_hash"), pl.col(ROW)))
            part = work / f"part-{len(parts):06d}.parquet"
            valid.write_parquet(part, compression="lz4", statistics=False)
            parts.append(part)
            written += valid.height
        if on_progress is not None:
            on_progress(rows_total, max(rows_total, source.rows_expected))

    if rows_total == 0:
        sink.close()
        raise IntakeRefused(
            "no_rows",
            "Tệp chỉ có dòng tiêu đề, không có dòng dữ liệu nào.",
            "The file has a header row but no data rows.",
        )
    excluded = _ambiguous_dates(date_orders, sink, name)
    duplicates = pl.DataFrame(schema={"row": pl.Int64})
    if hashes:
        all_hashes = pl.concat(hashes)
        if excluded.height:
            all_hashes = all_hashes.join(excluded, left_on=ROW, right_on="row", how="anti")
        candidates = all_hashes.filter(pl.col("_hash").is_duplicated())[ROW]
        if candidates.len():
            keys = (
                pl.scan_parquet(parts)
                .filter(pl.col(ROW).is_in(candidates.implode()))
                .select(
                    pl.concat_str(
                        [pl.col(k).fill_null("") for k in key_cols], separator=" | "
                    ).alias("_key"),
                    pl.col(ROW),
                )
                .collect()
            )
            dup_errors = duplicates_flag(keys, entity=name, key_label=key_cols[-1])
            sink.write(dup_errors)
            duplicates = dup_errors.select("row")
        del all_hashes, hashes
    duplicates = pl.concat([duplicates, excluded])
    sink.close()

    files: dict[str, Path] = {}
    sinks: list[pl.LazyFrame] = []
    created.append(canonical)
    canonical.mkdir(parents=True, exist_ok=True)
    for part_name, columns in hd.entity_parts(layout).items():
        target = canonical / f"{part_name}.parquet"
        if not parts:
            frame = pl.DataFrame(schema={c: pl.String for c in columns} | {ROW: pl.Int64})
            frame.select(*columns, ROW).write_parquet(target)
        else:
            drop = duplicates
            part_key = list(getattr(xf.BY_NAME.get(part_name), "natural_key", ()))
            if part_key and part_key != key_cols:
                # A roster lists a pupil once per school year; the pupil file needs them once
                # (the last row, as for duplicates).
                drop = pl.concat([drop, _earlier_rows_of_key(parts, part_key, drop)])
            lf = pl.scan_parquet(parts)
            if drop.height:
                lf = lf.join(drop.lazy(), left_on=ROW, right_on="row", how="anti")
            sinks.append(
                lf.select(*[pl.col(c) for c in columns], pl.col(ROW)).sink_parquet(
                    target, compression="lz4", statistics=False, lazy=True
                )
            )
        files[part_name] = target
    if sinks:
        pl.collect_all(sinks)  # one pass over the parts for all canonical files
    rejected_path = _rejected_write(out_dir, layout, rejected_parts, parts, duplicates, created)
    rows_valid = written - duplicates.height  # both only count rows that passed pass 1
    if on_progress is not None:
        on_progress(rows_total, rows_total)
    return IntakeResult(
        entity=name,
        files=files,
        rows_total=rows_total,
        rows_valid=rows_valid,
        errors_path=errors_path,
        error_count=sink.errors,
        headers=header_text,
        warning_count=sink.warnings,
        format=sniffed.format,
        encoding=sniffed.encoding,
        unknown_headers=[str(source.headers[u]) for u in unknown],
        rejected_path=rejected_path,
    )


REJECTED_FILE = "rejected.parquet"


def _rejected_write(out_dir, layout, rejected_parts, parts, dropped, created) -> Path:
    """One file of every row intake refused: as given when refused in pass 1, as normalised
    when refused between the passes (duplicate keys, ambiguous dates). Bounded by the refused
    rows, never the whole file."""
    schema = {ROW: pl.Int64} | {c: pl.String for c in layout.column_names}
    frames = [pl.scan_parquet(p) for p in rejected_parts]
    if parts and dropped.height:
        later = pl.scan_parquet(parts).join(dropped.lazy(), left_on=ROW, right_on="row", how="semi")
        frames.append(later)
    target = out_dir / REJECTED_FILE
    created.append(target)
    columns = [pl.col(ROW).cast(pl.Int64)]
    if frames:
        df = pl.concat(frames, how="diagonal_relaxed").collect()
        columns += [
            (pl.col(c).cast(pl.String) if c in df.columns else pl.lit(None, pl.String)).alias(c)
            for c in layout.column_names
        ]
        df.select(columns).unique(ROW, keep="first").sort(ROW).write_parquet(target)
    else:
        pl.DataFrame(schema=schema).write_parquet(target)
    return target


def _header_text(text) -> str:
    """The header as the user wrote it, for messages: NFC, one space between words."""
    return " ".join(unicodedata.normalize("NFC", str(text)).split())


def _drop_blank(df: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Rows with nothing in any column (blank lines, empty spreadsheet rows) are not data."""
    if not columns:
        return df.clear()
    # Whitespace-only cells count as filled: such a row is reported, not silently dropped.
    filled = [pl.col(c).str.len_bytes().fill_null(0) > 0 for c in columns]
    if EXTRA in df.columns:
        filled.append(pl.col(EXTRA).str.len_bytes().fill_null(0) > 0)
    if BAD in df.columns:
        filled.append(pl.col(BAD).fill_null(False))
    return df.filter(pl.any_horizontal(filled))


def _earlier_rows_of_key(parts: list[Path], key: list[str], dropped: pl.DataFrame) -> pl.DataFrame:
    """Rows of the part files whose ``key`` appears again later (narrow scan: a hash and the row
    number, then the real keys of the few candidates)."""
    kept = pl.scan_parquet(parts).join(dropped.lazy(), left_on=ROW, right_on="row", how="anti")
    hashed = kept.select(pl.struct(key).hash().alias("_hash"), pl.col(ROW)).collect()
    candidates = hashed.filter(pl.col("_hash").is_duplicated())[ROW]
    if not candidates.len():
        return pl.DataFrame(schema={"row": pl.Int64})
    keys = kept.filter(pl.col(ROW).is_in(candidates.implode())).select(*key, pl.col(ROW)).collect()
    last = keys.group_by(key).agg(pl.col(ROW).max().alias("_last"))
    earlier = keys.join(last, on=key, nulls_equal=True).filter(pl.col(ROW) != pl.col("_last"))
    return earlier.select(pl.col(ROW).alias("row"))


def _ambiguous_dates(date_orders: dict[str, list], sink: _ErrorSink, entity: str) -> pl.DataFrame:
    """A date column that more rows read as mm/dd than as dd/mm is month-first: its rows that
    read either way (03/04/2014) can't be trusted and become errors too, rather than being
    loaded with day and month swapped. Returns the rows to leave out of the canonical files."""
    out = [pl.DataFrame(schema={"row": pl.Int64})]
    for col, (month_first, day_first, rows) in date_orders.items():
        if month_first > day_first and rows:
            ambiguous = pl.concat(rows).alias("row").to_frame()
            errors = _row_errors(ambiguous["row"], entity, "date_ambiguous")
            sink.write(errors.with_columns(pl.lit(col).alias("column")))
            out.append(ambiguous)
    return pl.concat(out).unique()


def _row_errors(rows: pl.Series, entity: str, code: str) -> pl.DataFrame:
    return pl.DataFrame({"row": rows}).select(
        pl.col("row").cast(pl.Int64),
        pl.lit(entity).alias("entity"),
        pl.lit(None, pl.String).alias("column"),
        pl.lit(None, pl.String).alias("value"),
        pl.lit(code).alias("code"),
        pl.lit("error").alias("severity"),
    )


def _warning_row(
    row, entity: str, value: str, code: str, column: str | None = None
) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "row": [row],
            "entity": [entity],
            "column": [column],
            "value": [str(value)[:VALUE_CHARS]],
            "code": [code],
            "severity": ["warning"],
        },
        schema=ERROR_SCHEMA,
    )


def _with_formula_errors(errors, df, formula_by_row, mapped, entity) -> pl.DataFrame:
    rows = []
    for r in df[ROW].to_list():
        for col, kind in formula_by_row.get(r, ()):
            if col in mapped:
                rows.append((r, entity, mapped[col], None, kind, "error"))
    if not rows:
        return errors
    extra = pl.DataFrame(rows, schema=ERROR_SCHEMA, orient="row")
    # The formula is the cause; "missing value" in the same cell would only repeat it.
    covered = extra.select("row", "column").with_columns(pl.lit("missing").alias("code"))
    errors = errors.join(covered, on=["row", "column", "code"], how="anti")
    return pl.concat([errors, extra])
