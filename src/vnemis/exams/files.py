"""Reading an exam file (CSV or XLSX) into a frame of text columns named by their meaning.

The exchange's intake does the hostile-file work: the format is recognised by content (a PDF
renamed .csv is refused), zip bombs are refused before XLSX is opened, and any text encoding is
converted to UTF-8 with a clear error at the first bad byte. What is ours is the header: an exam
file's columns (candidate number, subject code, score...) are matched by name, Vietnamese or
English, ignoring case, diacritics and spaces. Every value stays text; the layouts validate.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from vnemis.exchange.intake import IntakeRefused
from vnemis.exchange.intake.headers import header_key
from vnemis.exchange.intake.readers import cell_text
from vnemis.exchange.intake.sniff import format_sniff, text_to_utf8

ROW = "_row"
MAX_BYTES = 200 * 1024 * 1024
HEADER_SEARCH_ROWS = 10


@dataclass(frozen=True)
class Column:
    name: str
    header_vi: str
    header_en: str
    aliases: tuple[str, ...] = ()
    required: bool = True


@dataclass(frozen=True)
class FileLayout:
    name: str
    columns: tuple[Column, ...]

    def alias_table(self) -> dict[str, str]:
        table = {}
        for c in self.columns:
            for text in (c.name, c.header_vi, c.header_en, *c.aliases):
                table.setdefault(header_key(text), c.name)
        return table

    def header_of(self, name: str) -> str:
        return next(c.header_vi for c in self.columns if c.name == name)


@dataclass
class Table:
    frame: pl.DataFrame  # the layout's columns (String) and _row (the spreadsheet row)
    headers: dict[str, str]  # column name → the header as the file wrote it


def _refuse_format(fmt: str) -> IntakeRefused:
    return IntakeRefused(
        "unsupported_format",
        f"Tệp điểm/đăng ký của kỳ thi phải là CSV hoặc XLSX (tệp gửi lên là {fmt.upper()}).",
        f"An exam file must be CSV or XLSX (the file sent is {fmt.upper()}).",
    )


def _separator(line: str) -> str:
    counts = {sep: line.count(sep) for sep in (",", ";", "\t")}
    return max(counts, key=lambda s: counts[s]) if max(counts.values()) else ","


def _csv_rows(path: Path, encoding: str) -> tuple[list[str], pl.DataFrame]:
    with tempfile.TemporaryDirectory() as tmp:
        text, _lines = text_to_utf8(path, encoding, Path(tmp) / "utf8.csv")
        with open(text, encoding="utf-8", newline="") as f:
            first = f.readline().lstrip("\ufeff")
        sep = _separator(first)
        try:
            frame = pl.read_csv(
                text,
                separator=sep,
                has_header=False,
                infer_schema=False,
                truncate_ragged_lines=True,
                encoding="utf8",
            )
        except pl.exceptions.PolarsError as e:
            raise IntakeRefused(
                "malformed_csv",
                'Tệp CSV sai cấu trúc: dấu ngoặc kép (") không đóng hoặc đặt sai chỗ. Hãy lưu lại '
                "tệp dạng CSV UTF-8.",
                'The CSV file is malformed: a double quote (") is not closed or is misplaced. '
                "Save the file again as CSV UTF-8.",
            ) from e
    if frame.height == 0:
        raise _empty()
    first_cells = [str(v or "") for v in frame.row(0)]
    first_cells[0] = first_cells[0].lstrip("\ufeff")
    return first_cells, frame.slice(1).with_columns(
        pl.int_range(2, frame.height + 1, dtype=pl.Int64).alias(ROW)
    )


def _xlsx_rows(path: Path) -> tuple[list[str], pl.DataFrame]:
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_path(str(path))
        sheet = next(
            (s for s in map(workbook.get_sheet_by_name, workbook.sheet_names) if s.height),
            None,
        )
        rows = [[cell_text(v) for v in r] for r in sheet.iter_rows()] if sheet else []
    except Exception as e:  # calamine raises several types for damaged or encrypted files
        raise IntakeRefused(
            "xlsx_unreadable",
            "Tệp Excel bị hỏng hoặc có mật khẩu, không đọc được.",
            "The Excel file is damaged or password-protected and cannot be read.",
        ) from e
    if not rows:
        raise _empty()
    width = max(len(r) for r in rows)
    data = {
        f"column_{i + 1}": pl.Series(
            [r[i] if i < len(r) else "" for r in rows[1:]], dtype=pl.String
        )
        for i in range(width)
    }
    frame = pl.DataFrame(data).with_columns(
        pl.int_range(2, len(rows) + 1, dtype=pl.Int64).alias(ROW)
    )
    return rows[0], frame


def _empty() -> IntakeRefused:
    return IntakeRefused("empty_file", "Tệp không có dữ liệu.", "The file holds no data.")


def table_read(path: Path, layout: FileLayout, *, max_bytes: int = MAX_BYTES) -> Table:
    """The file's rows as text columns of ``layout``; ``IntakeRefused`` when the file as a
    whole cannot be read or lacks a required column."""
    sniffed = format_sniff(Path(path), max_bytes=max_bytes)
    if sniffed.format == "csv":
        header, frame = _csv_rows(Path(path), sniffed.encoding or "utf-8")
    elif sniffed.format == "xlsx":
        header, frame = _xlsx_rows(Path(path))
    else:
        raise _refuse_format(sniffed.format)
    table = layout.alias_table()
    positions: dict[str, int] = {}
    headers: dict[str, str] = {}
    for i, text in enumerate(header):
        name = table.get(header_key(text))
        if name and name not in positions:
            positions[name] = i
            headers[name] = str(text).strip()
    missing = [c for c in layout.columns if c.required and c.name not in positions]
    if missing:
        raise IntakeRefused(
            "missing_columns",
            "Tệp thiếu cột bắt buộc: " + ", ".join(f"'{c.header_vi}'" for c in missing)
            + ". Dòng đầu tiên của tệp phải là tên cột (xem docs/exams.md).",
            "The file lacks required columns: " + ", ".join(f"'{c.header_en}'" for c in missing)
            + ". The first row of the file must name the columns (see docs/exams.md).",
            columns=[c.name for c in missing],
        )  # fmt: skip
    source = frame.columns
    out = frame.select(
        ROW,
        *[
            (pl.col(source[positions[c.name]]) if c.name in positions else pl.lit(None))
            .cast(pl.String)
            .str.strip_chars()
            .alias(c.name)
            for c in layout.columns
        ],
    )
    # Rows with every cell empty are spacing, not data.
    names = [c.name for c in layout.columns]
    blank = pl.all_horizontal([pl.col(n).is_null() | (pl.col(n) == "") for n in names])
    out = out.filter(~blank)
    if out.height == 0:
        raise IntakeRefused(
            "no_rows", "Tệp chỉ có dòng tiêu đề.", "The file has only a header row.", rows=0
        )
    return Table(out, headers)
