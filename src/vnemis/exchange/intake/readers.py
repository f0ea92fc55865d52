"""Reading a source file in chunks of rows, every value as text, with the row number people see.

Each reader yields Polars frames with columns ``c0 … cN`` (the file's columns in order, all
String), ``_row`` (Int64: the spreadsheet row, header = 1, first data row = 2, after any title
rows; JSON Lines: the line number) and ``_extra`` (values beyond the header's width: a ragged
row). Memory stays bounded by the chunk size, except for XLSX, which calamine loads one sheet at
a time (its cells are still converted and handed on in chunks).
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from .headers import HEADER_SEARCH_ROWS, entity_get, header_key, header_row_find
from .refused import IntakeRefused

ROW = "_row"
EXTRA = "_extra"
# Excel's own limit on a cell; longer values are cut by Excel anyway, so longer ones in a CSV
# are a broken file (an unbalanced quote swallowing the rest), not data.
MAX_CELL_CHARS = 32_767


@dataclass
class Source:
    """A readable file: its header texts and a chunk iterator."""

    headers: list[str]
    header_row: int  # 1-based row of the (last) header row
    chunks: Iterator[pl.DataFrame]
    # (row, column position) of formula cells without a cached value or with an Excel error.
    formula_problems: list[tuple[int, int, str]] = field(default_factory=list)
    rows_expected: int = 0  # for progress; an estimate for text files


def _names(n: int) -> list[str]:
    return [f"c{i}" for i in range(n)]


# -- CSV ---------------------------------------------------------------------------------------


def _separator(first_line: str) -> str:
    counts = {sep: first_line.count(sep) for sep in (",", ";", "\t", "|")}
    return max(counts, key=lambda s: counts[s]) if max(counts.values()) else ","


def csv_source(path: Path, *, chunk_rows: int) -> Source:
    """CSV/TSV in UTF-8 (already converted). The header may sit below a few title lines."""
    with open(path, encoding="utf-8", newline="") as f:
        head = f.read(256 * 1024)
    head = head.lstrip("\ufeff")
    first_line = head.split("\n", 1)[0]
    sep = _separator(first_line)
    rows: list[list[str]] = []
    try:
        for i, rec in enumerate(csv.reader(io.StringIO(head), delimiter=sep)):
            rows.append(rec)
            if i + 1 >= HEADER_SEARCH_ROWS:
                break
    except csv.Error as e:
        # A huge or broken cell below the header is the data reader's business; only a
        # header that can't be parsed refuses the file here.
        if not rows:
            raise _malformed(1) from e
    if not rows or not any(any(c.strip() for c in r) for r in rows):
        raise IntakeRefused(
            "empty_file", "Tệp không có dữ liệu.", "The file holds no data.", rows=0
        )
    index, span, headers = header_row_find(rows, [])
    width = len(headers)
    schema = dict.fromkeys(_names(width), pl.String)
    schema[EXTRA] = pl.String
    skip = index + span
    lf = pl.scan_csv(
        path,
        has_header=False,
        separator=sep,
        skip_rows=skip,
        schema=schema,
        truncate_ragged_lines=True,
        missing_columns="insert",
        empty_string_is_null=False,
        row_index_name=ROW,
        row_index_offset=skip + 1,
        encoding="utf8",
    ).with_columns(pl.col(ROW).cast(pl.Int64))

    def chunks() -> Iterator[pl.DataFrame]:
        try:
            yield from lf.collect_batches(chunk_size=chunk_rows)
        except pl.exceptions.PolarsError as e:
            raise _malformed(_bad_line(path, sep)) from e

    return Source(headers, skip, chunks())


def _bad_line(path: Path, sep: str) -> int | None:
    """The line where a strict CSV parse fails (only run once Polars has refused the file, so
    the slow parser never touches a good file). Polars' own message quotes the data, which may
    be personal; a line number does not."""
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter=sep, strict=True)
        started = 1
        try:
            for _ in reader:
                started = reader.line_num + 1  # where the next record begins
        except csv.Error:
            return started
    return None


def _malformed(line: int | None) -> IntakeRefused:
    where_vi = f" ở dòng {line}" if line else ""
    where_en = f" at line {line}" if line else ""
    return IntakeRefused(
        "malformed_csv",
        f'Tệp CSV sai cấu trúc{where_vi}: dấu ngoặc kép (") không đóng hoặc đặt sai chỗ. Hãy '
        "mở tệp, sửa ô đó rồi lưu lại dạng CSV UTF-8.",
        f'The CSV file is malformed{where_en}: a double quote (") is not closed or is misplaced. '
        "Fix that cell and save the file again as CSV UTF-8.",
        line=line,
    )


# -- Parquet -----------------------------------------------------------------------------------


def _as_text(name: str, dtype: pl.DataType) -> pl.Expr:
    col = pl.col(name)
    if dtype == pl.String:
        return col
    if dtype == pl.Date:
        return col.dt.strftime("%Y-%m-%d")
    if isinstance(dtype, pl.Datetime):
        return col.dt.strftime("%Y-%m-%d %H:%M:%S")
    if dtype == pl.Boolean:
        return col.cast(pl.String).str.to_lowercase()
    if isinstance(dtype, pl.List | pl.Array):
        return col.cast(pl.List(pl.String)).list.join(";")
    if isinstance(dtype, pl.Struct):
        return col.struct.json_encode()
    if dtype.is_float():
        return col.cast(pl.String).str.replace(r"\.0$", "")  # 7.0 → "7", like a typed number
    return col.cast(pl.String)


def parquet_source(path: Path, *, chunk_rows: int) -> Source:
    try:
        lf = pl.scan_parquet(path)
        schema = lf.collect_schema()
    except pl.exceptions.PolarsError as e:
        raise IntakeRefused(
            "parquet_unreadable",
            "Tệp Parquet bị hỏng, không đọc được.",
            "The Parquet file is damaged and cannot be read.",
        ) from e
    headers = list(schema.names())
    exprs = [_as_text(n, schema[n]).alias(f"c{i}") for i, n in enumerate(headers)]
    lf = (
        lf.select(exprs)
        .with_row_index(ROW, offset=2)
        .with_columns(pl.col(ROW).cast(pl.Int64), pl.lit(None, pl.String).alias(EXTRA))
    )

    def chunks() -> Iterator[pl.DataFrame]:
        try:
            yield from lf.collect_batches(chunk_size=chunk_rows)
        except pl.exceptions.PolarsError as e:
            raise IntakeRefused(
                "parquet_unreadable",
                "Tệp Parquet bị hỏng, không đọc được.",
                "The Parquet file is damaged and cannot be read.",
            ) from e

    rows = pq.ParquetFile(path).metadata.num_rows
    return Source(headers, 1, chunks(), rows_expected=rows)


# -- JSON Lines --------------------------------------------------------------------------------

BAD_JSON = "bad_json"


def _json_text(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    if isinstance(v, list):
        return ";".join("" if x is None else str(x) for x in v)
    if isinstance(v, dict):
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def jsonl_source(path: Path, *, chunk_rows: int) -> Source:
    """One object per line; a line that is not a JSON object is an error row (``bad_json``),
    reported through a frame with ``_bad`` set."""
    f = open(path, encoding="utf-8")  # noqa: SIM115 (closed by the generator)

    def batches() -> Iterator[tuple[list[int], list[str]]]:
        lines, numbers = [], []
        with f:
            for n, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                lines.append(line)
                numbers.append(n)
                if len(lines) >= chunk_rows:
                    yield numbers, lines
                    lines, numbers = [], []
        if lines:
            yield numbers, lines

    def parse(numbers: list[int], lines: list[str]) -> tuple[list[dict], list[int], list[int]]:
        objs, good, bad = [], [], []
        for n, line in zip(numbers, lines, strict=True):
            try:
                obj = json.loads(line)
            except ValueError:
                obj = None
            if isinstance(obj, dict):
                objs.append(obj)
                good.append(n)
            else:
                bad.append(n)
        return objs, good, bad

    it = batches()
    first = next(it, None)
    if first is None:
        raise IntakeRefused("empty_file", "Tệp không có dữ liệu.", "The file holds no data.")
    objs, good, bad = parse(*first)
    headers: list[str] = []
    seen: set[str] = set()
    for obj in objs[:1000]:
        for k in obj:
            if k not in seen:
                seen.add(k)
                headers.append(k)
    positions = {k: i for i, k in enumerate(headers)}

    def frame(objs, good, bad) -> pl.DataFrame:
        cols: list[list] = [[] for _ in headers]
        extra: list[str | None] = []
        for obj in objs:
            row = [None] * len(headers)
            unknown = None
            for k, v in obj.items():
                i = positions.get(k)
                if i is None:
                    unknown = k
                else:
                    row[i] = _json_text(v)
            for i, v in enumerate(row):
                cols[i].append(v)
            extra.append(unknown)
        data = {f"c{i}": pl.Series(c, dtype=pl.String) for i, c in enumerate(cols)}
        df = pl.DataFrame(data).with_columns(
            pl.Series(ROW, good, dtype=pl.Int64), pl.Series(EXTRA, extra, dtype=pl.String)
        )
        if bad:
            df = df.with_columns(pl.lit(False).alias("_bad"))
            broken = pl.DataFrame({ROW: pl.Series(bad, dtype=pl.Int64)}).with_columns(
                pl.lit(True).alias("_bad")
            )
            df = pl.concat([df, broken], how="diagonal").sort(ROW)
        return df

    def chunks() -> Iterator[pl.DataFrame]:
        yield frame(objs, good, bad)
        for numbers, lines in it:
            yield frame(*parse(numbers, lines))

    return Source(headers, 0, chunks())


# -- XLSX --------------------------------------------------------------------------------------


def cell_text(v) -> str:
    """A calamine cell as text: whole floats without '.0', dates ISO, midnight datetimes as
    dates, booleans true/false, empty as ''."""
    t = type(v)
    if t is str:
        return v
    if t is float:
        if v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        return repr(v)
    if t is int:
        return str(v)
    if t is bool:
        return "true" if v else "false"
    if t is date:
        return v.isoformat()
    if t is datetime:
        if v.time() == time(0, 0):
            return v.date().isoformat()
        return v.isoformat(sep=" ")
    if t is time:
        return v.isoformat()
    if t is timedelta:
        return str(v)
    return "" if v is None else str(v)


def _sheet_pick(workbook, entity: str | None):
    """A sheet named like the entity, else the first sheet holding data."""
    names = workbook.sheet_names
    if entity:
        wanted = {header_key(entity), header_key(entity.rstrip("s"))}
        layout = entity_get(entity)
        wanted |= {
            header_key(t)
            for t in (getattr(layout, "title_vi", ""), getattr(layout, "title_en", ""))
            if t
        }
        for name in names:
            if header_key(name) in wanted:
                return names.index(name), workbook.get_sheet_by_name(name)
    for i, name in enumerate(names):
        sheet = workbook.get_sheet_by_name(name)
        if sheet.height:
            return i, sheet
    raise IntakeRefused(
        "empty_file",
        "Tệp XLSX không có trang tính nào chứa dữ liệu.",
        "The XLSX file has no sheet holding data.",
    )


def xlsx_source(
    path: Path, *, chunk_rows: int, entity: str | None, scan_formulas: bool = True
) -> Source:
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_path(str(path))
        index, sheet = _sheet_pick(workbook, entity)
        rows_iter = sheet.iter_rows()
    except IntakeRefused:
        raise
    except Exception as e:  # calamine raises several types for damaged or encrypted files
        raise IntakeRefused(
            "xlsx_unreadable",
            "Tệp Excel bị hỏng hoặc có mật khẩu, không đọc được.",
            "The Excel file is damaged or password-protected and cannot be read.",
        ) from e
    col0 = sheet.start[1] if sheet.start else 0
    head: list[list] = []
    for row in rows_iter:
        head.append(row)
        if len(head) >= HEADER_SEARCH_ROWS:
            break
    merged = [
        ((r0, c0 - col0), (r1, c1 - col0)) for (r0, c0), (r1, c1) in sheet.merged_cell_ranges or []
    ]
    index_h, span, headers = header_row_find([[cell_text(v) for v in r] for r in head], merged)
    width = len(headers)
    first_data = index_h + span  # 0-based index into the rows iter_rows yields (from row 1)
    problems = _formula_problems(path, index, col0) if scan_formulas else []

    def chunks() -> Iterator[pl.DataFrame]:
        buffered = head[first_data:]
        start = first_data
        pending = buffered
        for row in rows_iter:
            pending.append(row)
            if len(pending) >= chunk_rows:
                yield _xlsx_frame(pending, start, width)
                start += len(pending)
                pending = []
        if pending:
            yield _xlsx_frame(pending, start, width)

    expected = (sheet.end[0] + 1 - first_data) if sheet.end else 0
    return Source(headers, first_data, chunks(), problems, rows_expected=expected)


def _xlsx_frame(rows: list[list], start: int, width: int) -> pl.DataFrame:
    cols = []
    for i in range(width):
        cols.append([cell_text(r[i]) if i < len(r) else "" for r in rows])
    extra = [
        next((cell_text(v) for v in r[width:] if cell_text(v).strip()), None)
        if len(r) > width
        else None
        for r in rows
    ]
    data = {f"c{i}": pl.Series(c, dtype=pl.String) for i, c in enumerate(cols)}
    return pl.DataFrame(data).with_columns(
        pl.int_range(start + 1, start + 1 + len(rows), dtype=pl.Int64).alias(ROW),
        pl.Series(EXTRA, extra, dtype=pl.String),
    )


_SHEET = re.compile(r'<sheet\b[^>]*?name="([^"]*)"[^>]*?r:id="([^"]+)"')
_REL = re.compile(r'<Relationship\b[^>]*?Id="([^"]+)"[^>]*?Target="([^"]+)"')
_REL2 = re.compile(r'<Relationship\b[^>]*?Target="([^"]+)"[^>]*?Id="([^"]+)"')
# A formula cell with no cached <v>, or any cell holding an Excel error (t="e").
_CELL = re.compile(
    rb'<c r="([A-Z]+)(\d+)"([^>]*)>(?:<f[^>]*/>|<f[^>]*>[^<]*</f>)?(?:<v>([^<]*)</v>)?(?:<is>.*?</is>)?</c>'
)
MAX_FORMULA_PROBLEMS = 100_000


def _col_index(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ch - 64)
    return n - 1


def _formula_problems(path: Path, sheet_index: int, col0: int) -> list[tuple[int, int, str]]:
    """Cells whose formula has no cached value (the file was written by a program that does
    not compute formulas) or whose value is an Excel error such as #DIV/0!. Calamine shows both
    as empty, so the sheet's XML is scanned (streamed, bounded memory)."""
    try:
        with zipfile.ZipFile(path) as z:
            wb = z.read("xl/workbook.xml").decode("utf-8", "replace")
            rels = z.read("xl/_rels/workbook.xml.rels").decode("utf-8", "replace")
            sheets = _SHEET.findall(wb)
            targets = dict(_REL.findall(rels)) | {i: t for t, i in _REL2.findall(rels)}
            target = targets.get(sheets[sheet_index][1], "").lstrip("/")
            member = target if target.startswith("xl/") else f"xl/{target}"
            out: list[tuple[int, int, str]] = []
            tail = b""
            with z.open(member) as f:
                while len(out) < MAX_FORMULA_PROBLEMS:
                    block = f.read(1 << 20)
                    data = tail + block
                    cut = data.rfind(b"</c>") + 4 if block else len(data)
                    if cut < 4:
                        tail = data
                        if not block:
                            break
                        continue
                    for m in _CELL.finditer(data, 0, cut):
                        attrs, value, whole = m.group(3), m.group(4), m.group(0)
                        if b't="e"' in attrs:
                            kind = "formula_error"
                        elif b"<f" in whole and value is None:
                            kind = "formula_no_value"
                        else:
                            continue
                        out.append((int(m.group(2)), _col_index(m.group(1)) - col0, kind))
                    tail = data[cut:]
                    if not block:
                        break
            return out
    except (KeyError, IndexError, zipfile.BadZipFile):
        return []
