"""Row checks shared by the exam imports, as Polars expressions over text columns.

An error row has the exchange's error schema (``row, entity, column, value, code, severity``),
so the exchange's grouping by cause (``causes_group``) reads our files as it reads its own. The
codes of the exchange are reused where they mean the same (``missing``, ``bad_value`` — which
the grouping turns into ``decimal_comma`` when the value is "7,5" — ``out_of_range``); the
exam's own codes have their messages in ``MESSAGES``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from .files import ROW

ERROR_SCHEMA = {
    "row": pl.Int64,
    "entity": pl.String,
    "column": pl.String,
    "value": pl.String,
    "code": pl.String,
    "severity": pl.String,
}

# The exam's codes: (Vietnamese, English), naming the column when it ends with "ở cột".
MESSAGES: dict[str, tuple[str, str]] = {
    "unknown_candidate": (
        "số báo danh (hoặc mã định danh) không thuộc thí sinh nào của kỳ thi",
        "the candidate number (or education ID) is not a candidate of this session",
    ),
    "out_of_scope": (
        "thí sinh thuộc đơn vị hoặc hội đồng thi ngoài phạm vi của bạn",
        "the candidate belongs to a unit or exam council outside your scope",
    ),
    "unknown_subject": (
        "mã môn không có trong danh mục môn thi tốt nghiệp",
        "the subject code is not a subject of the graduation exam",
    ),
    "wrong_subject": (
        "mã môn khác với môn đã chọn cho lần nhập này",
        "the subject code differs from the subject chosen for this import",
    ),
    "subject_not_registered": (
        "thí sinh không đăng ký dự thi môn này",
        "the candidate did not register for this subject",
    ),
    "subject_exempt": (
        "thí sinh được miễn thi môn này (chứng chỉ ngoại ngữ) nên không có điểm thi",
        "the candidate is exempted from this paper (language certificate), so it has no score",
    ),
    "duplicate_row": (
        "cùng một thí sinh và môn xuất hiện nhiều lần trong tệp; không dòng nào của cặp này được "
        "ghi",
        "the same candidate and subject appear more than once in the file; none of those rows "
        "was written",
    ),
    "too_many_decimals": (
        "điểm có quá hai chữ số thập phân ở cột",
        "the score has more than two decimals in column",
    ),
    "bad_grade": (
        "khối lớp phải là 10, 11 hoặc 12 ở cột",
        "the grade must be 10, 11 or 12 in column",
    ),
    "registry_has_average": (
        "CSDL học bạ đã có điểm trung bình năm học này; điểm của CSDL được dùng, dòng không được "
        "ghi",
        "the registry already holds this year's average; the registry's value is used and the row "
        "was not written",
    ),
    "exempt_subject": (
        "thí sinh đang được miễn thi môn ngoại ngữ cũ; hãy huỷ miễn thi trước khi đổi môn",
        "the candidate is exempted from the previous language; withdraw the exemption first",
    ),
    "electives_count": (
        "số môn tự chọn không đúng quy định",
        "the number of electives is not the required one",
    ),
    "elective_duplicate": ("hai môn tự chọn trùng nhau", "the two electives are the same"),
    "elective_unknown": (
        "môn tự chọn không có trong danh mục môn thi ở cột",
        "the elective is not a subject of the exam in column",
    ),
    "elective_compulsory": (
        "môn bắt buộc (Toán, Ngữ văn) không được chọn làm môn tự chọn",
        "a compulsory subject (Mathematics, Literature) cannot be an elective",
    ),
    "languages_two": (
        "chỉ được chọn một môn ngoại ngữ",
        "only one foreign language may be chosen",
    ),
}


@dataclass
class Checked:
    """What a layout's check found: the rows to apply and every error row."""

    good: pl.DataFrame
    errors: list[pl.DataFrame] = field(default_factory=list)

    def error_frame(self) -> pl.DataFrame:
        if not self.errors:
            return pl.DataFrame(schema=ERROR_SCHEMA)
        return pl.concat(
            [e.select([pl.col(c).cast(t) for c, t in ERROR_SCHEMA.items()]) for e in self.errors]
        ).sort(["row", "column", "code"], nulls_last=True)


def errors_where(frame: pl.DataFrame, condition: pl.Expr, *, entity: str, column: str | None,
                 code: str) -> pl.DataFrame:  # fmt: skip
    """Error rows for the rows matching ``condition``, quoting ``column``'s value."""
    value = pl.col(column) if column else pl.lit(None, pl.String)
    return frame.filter(condition).select(
        pl.col(ROW).alias("row"),
        pl.lit(entity).alias("entity"),
        pl.lit(column, pl.String).alias("column"),
        value.cast(pl.String).alias("value"),
        pl.lit(code).alias("code"),
        pl.lit("error").alias("severity"),
    )


def blank(column: str) -> pl.Expr:
    return pl.col(column).is_null() | (pl.col(column) == "")


_NUMBER = r"^[+-]?\d+(\.\d+)?$"


def hundredths_expr(column: str) -> pl.Expr:
    """A two-decimal number as whole hundredths, from the text alone (no binary float)."""
    text = pl.col(column)
    whole = text.str.extract(r"^[+-]?(\d+)", 1).cast(pl.Int64, strict=False)
    fraction = text.str.extract(r"\.(\d+)$", 1).fill_null("")
    cents = (fraction + "00").str.slice(0, 2).cast(pl.Int64, strict=False)
    sign = pl.when(text.str.starts_with("-")).then(-1).otherwise(1)
    return sign * (whole * 100 + cents)


def score_checks(frame: pl.DataFrame, column: str, *, entity: str) -> tuple[pl.DataFrame, list]:
    """Parse a 0–10, two-decimal column into ``<column>_x100``; errors: ``bad_value`` (not a
    number, incl. a decimal comma), ``too_many_decimals``, ``out_of_range``."""
    text = pl.col(column)
    is_number = text.str.contains(_NUMBER)
    decimals = text.str.extract(r"\.(\d+)$", 1).str.len_chars().fill_null(0)
    frame = frame.with_columns(
        pl.when(is_number).then(hundredths_expr(column)).otherwise(None).alias(f"{column}_x100"),
        decimals.alias(f"_{column}_decimals"),
    )
    value = pl.col(f"{column}_x100")
    present = ~blank(column)
    errors = [
        errors_where(frame, present & ~is_number, entity=entity, column=column, code="bad_value"),
        errors_where(
            frame,
            present & is_number & (pl.col(f"_{column}_decimals") > 2),
            entity=entity,
            column=column,
            code="too_many_decimals",
        ),
        errors_where(
            frame,
            present
            & is_number
            & (pl.col(f"_{column}_decimals") <= 2)
            & ((value < 0) | (value > 1000)),
            entity=entity,
            column=column,
            code="out_of_range",
        ),
    ]
    return frame.drop(f"_{column}_decimals"), errors


def missing_checks(frame: pl.DataFrame, columns: list[str], *, entity: str) -> list:
    return [errors_where(frame, blank(c), entity=entity, column=c, code="missing") for c in columns]


def duplicate_checks(frame: pl.DataFrame, key: list[str], *, entity: str) -> list:
    """Every row of a key that appears twice or more (keys with a blank part are left to the
    missing check)."""
    complete = pl.all_horizontal([~blank(c) for c in key])
    repeated = complete & (pl.len().over(key) > 1)
    return [errors_where(frame, repeated, entity=entity, column=key[-1], code="duplicate_row")]


def rows_with_errors(errors: list[pl.DataFrame]) -> pl.Series:
    frames = [e.select("row") for e in errors if e.height]
    if not frames:
        return pl.Series("row", [], dtype=pl.Int64)
    return pl.concat(frames)["row"].unique()
