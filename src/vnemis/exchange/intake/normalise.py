"""Normalising a chunk of text columns into the canonical exchange format, set-wise.

Every value is NFC-normalised and its whitespace trimmed and collapsed; then by column type:
personal names in Title Case per word, dates from dd/mm/yyyy, d/m/yyyy, dd-mm-yyyy, ISO,
midnight datetimes or Excel serial numbers to ISO, sex, booleans and coded values from any
label of their code list to the code, numbers from Excel's "6.0". Values that cannot be
normalised are not guessed: they produce a check (column, problem code, condition) that the
validator turns into error rows, with the value as the user wrote it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import polars as pl

from vnemis.registry import exchange_format as xf
from vnemis.registry.loaders_frames import search_key_expr

RAW = "__raw_"  # prefix of the untouched value kept beside each normalised column
_SPACE_RUN = r"[\s\x1c-\x1f\u00a0\u200b\ufeff]+"
_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
_NAME = r"^\p{L}[\p{L}\p{M} '’.-]*$"
# Excel serial day numbers accepted in a date column: 1927-05-18 … 2119-01-10. Narrow on purpose:
# a bare year such as "2014" must stay an error, not become 1905-07-06.
EXCEL_EPOCH_SERIALS = (10_000, 80_000)

# Problem code when a coded value is not in its list (the engine's codes where it has one).
CODE_ERRORS = {
    "sex": "bad_sex",
    "ethnicity": "unknown_ethnicity",
    "enrolment_status": "bad_status",
    "disability": "bad_disability",
    "policy_category": "bad_policy_category",
    "period": "bad_period",
    "subject_rating": "bad_rating",
    "summary_rating": "bad_rating",
    "outcome": "bad_outcome",
    "staff_role": "bad_role",
    "qualification": "bad_qualification",
    "contract_type": "bad_contract",
    "school_kind": "bad_kind",
    "school_level": "bad_level",
    "ownership": "bad_ownership",
    "subject": "unknown_subject",
    "org_status": "unsupported_status",
}
# Problem code when a value does not match the column's pattern.
PATTERN_ERRORS = {
    "citizen_id": "bad_citizen_id",
    "education_id": "bad_education_id",
    "school_year": "bad_school_year",
    "nationality": "bad_nationality",
}
PERSON_NAMES = {"full_name"}
_TRUE = ("true", "1", "x", "co", "c", "yes", "y", "dung", "t", "on")
_FALSE = ("false", "0", "khong", "k", "no", "n", "sai", "f", "off")
_SEX_EXTRA = {"trai": "M", "boy": "M", "nu gioi": "F", "nam gioi": "M", "gai": "F", "girl": "F"}
_NATIONALITY = {"viet nam": "VN", "vietnam": "VN", "vnm": "VN", "vn": "VN"}


@dataclass(frozen=True)
class Check:
    """A problem: ``condition`` true on a row means error ``code`` in ``column``."""

    column: str | None
    code: str
    condition: pl.Expr
    severity: str = "error"


def clean_expr(expr: pl.Expr) -> pl.Expr:
    """NFC, one space for any run of whitespace (also NBSP, zero-width), trimmed; '' → null."""
    return (
        expr.str.normalize("NFC")
        .str.replace_all(_SPACE_RUN, " ")
        .str.strip_chars(" ")
        .replace("", None)
    )


def name_expr(expr: pl.Expr) -> pl.Expr:
    """Title Case per word, Vietnamese-aware (Unicode upper/lower): 'nguyễn văn AN' → 'Nguyễn
    Văn An'. Hyphenated parts keep their own capital ('Khơ-me' stays)."""
    word = pl.element()
    return (
        expr.str.split(" ")
        .list.eval(word.str.slice(0, 1).str.to_uppercase() + word.str.slice(1).str.to_lowercase())
        .list.join(" ")
    )


def date_exprs(expr: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(ISO date text or null, looks-like-mm/dd flag) of a cleaned text column.

    Day first unless the year comes first; a second field over 12 with a first field of at most
    12 is read as nothing and flagged: the column is probably mm/dd/yyyy, and swapping silently
    would turn 03/04 into the wrong day for every ambiguous row.
    """
    time_zero = r"(?:[ T]00:00(?::00(?:\.0+)?)?)?"
    ymd = expr.str.extract_groups(rf"^(\d{{4}})[-/.](\d{{1,2}})[-/.](\d{{1,2}}){time_zero}$")
    dmy = expr.str.extract_groups(rf"^(\d{{1,2}})[-/.](\d{{1,2}})[-/.](\d{{4}}){time_zero}$")
    serial = expr.str.extract(r"^(\d{5})(?:\.0+)?$", 1).cast(pl.Int64, strict=False)
    d1 = dmy.struct.field("1").cast(pl.Int32, strict=False)
    d2 = dmy.struct.field("2").cast(pl.Int32, strict=False)
    mmdd = d1.is_not_null() & (d2 > 12) & (d1 <= 12)

    def iso(y, m, d):
        return pl.concat_str([y, m.str.zfill(2), d.str.zfill(2)], separator="-")

    text = (
        pl.when(ymd.struct.field("1").is_not_null())
        .then(iso(ymd.struct.field("1"), ymd.struct.field("2"), ymd.struct.field("3")))
        .when(dmy.struct.field("1").is_not_null() & ~mmdd)
        .then(iso(dmy.struct.field("3"), dmy.struct.field("2"), dmy.struct.field("1")))
        .when(serial.is_between(*EXCEL_EPOCH_SERIALS))
        .then((pl.date(1899, 12, 30) + pl.duration(days=serial)).dt.strftime("%Y-%m-%d"))
        .otherwise(None)
    )
    # Round-trip through a real date: 31/02/2015 and month 13 become null.
    valid = text.str.strptime(pl.Date, "%Y-%m-%d", strict=False).dt.strftime("%Y-%m-%d")
    return valid, mmdd.fill_null(False)


def date_order_exprs(expr: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(day-first evidence: first field over 12, ambiguous: both fields 12 or less and unequal)
    of a cleaned text column, for deciding afterwards which way round a whole column is."""
    dmy = expr.str.extract_groups(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})")
    d1 = dmy.struct.field("1").cast(pl.Int32, strict=False)
    d2 = dmy.struct.field("2").cast(pl.Int32, strict=False)
    day_first = (d1 > 12) & (d2 <= 12)
    ambiguous = (d1 <= 12) & (d2 <= 12) & (d1 != d2)
    return day_first.fill_null(False), ambiguous.fill_null(False)


@lru_cache(maxsize=64)
def code_map(list_name: str) -> tuple[dict[str, str], int | None]:
    """search key → code for one code list, and the width of all-digit codes (for '1' → '01')."""
    from vnemis.registry import code_lists

    mapping = dict(code_lists.code_aliases(list_name))
    codes = code_lists.codes(list_name)
    width = None
    if codes and all(c.isdigit() for c in codes) and len({len(c) for c in codes}) == 1:
        width = len(codes[0])
    if list_name == "sex":
        mapping.update(_SEX_EXTRA)
    return mapping, width


def _mapped(key: pl.Expr, mapping: dict[str, str]) -> pl.Expr:
    return key.replace_strict(mapping, default=None, return_dtype=pl.String)


def clean_series(s: pl.Series) -> pl.Series:
    """``clean_expr`` for a column of mostly distinct values: NFC and whitespace runs are fixed
    only on the rows that need them (NFC over a million names costs a second; finding the few
    with combining marks costs a tenth of that)."""
    marks = s.str.contains(r"[\u0300-\u036f\u2126\u212a\u212b]").fill_null(False)
    if marks.any():
        idx = marks.arg_true()
        s = s.scatter(idx, s.gather(idx).str.normalize("NFC"))
    spaces = s.str.contains(
        r"[\s\u00a0\u200b\ufeff\x1c-\x1f]{2,}|[\t\n\r\x0b\x0c\x1c-\x1f\u00a0\u200b\ufeff]"
    )
    spaces = spaces.fill_null(False)
    if spaces.any():
        idx = spaces.arg_true()
        s = s.scatter(idx, s.gather(idx).str.replace_all(_SPACE_RUN, " "))
    return s.str.strip_chars(" ").replace("", None)


def name_series(s: pl.Series) -> pl.Series:
    """``name_expr`` fast: Unicode title case gives the same result unless a word holds a
    hyphen, apostrophe, dot or digit ('Khơ-me' must not become 'Khơ-Me'); those few rows go
    the word-by-word way."""
    out = s.str.to_titlecase()
    odd = s.str.contains(r"[^\p{L}\p{M} ]").fill_null(False)
    if odd.any():
        idx = odd.arg_true()
        fixed = pl.select(name_expr(pl.lit(s.gather(idx)))).to_series()
        out = out.scatter(idx, fixed)
    return out


def column_normalise(
    column: xf.Column, raw: pl.Expr, *, cleaned: pl.Expr | None = None, named: pl.Expr | None = None
) -> tuple[pl.Expr, list[Check]]:
    """The normalised value of one column and the checks its normalisation implies.

    ``cleaned`` (and for personal names ``named``) may be given when computed beforehand with
    the Series fast paths."""
    name = column.name
    cleaned = clean_expr(raw) if cleaned is None else cleaned
    present = cleaned.is_not_null()
    checks = [Check(name, "control_character", raw.str.contains(_CONTROL))]
    if column.required:
        checks.append(Check(name, "missing", cleaned.is_null()))
    codes = getattr(column, "codes", None)
    if column.dtype == "date":
        out, mmdd = date_exprs(cleaned)
        checks.append(Check(name, "date_mmdd", present & mmdd))
        checks.append(Check(name, "bad_date", present & out.is_null() & ~mmdd))
    elif column.dtype == "int":
        out = cleaned.str.replace(r"^([+-]?\d+)\.0+$", "$1")
        checks.append(Check(name, "bad_value", present & ~out.str.contains(r"^[+-]?\d+$")))
    elif column.dtype == "float":
        out = cleaned
        checks.append(
            Check(name, "bad_value", present & ~out.str.contains(r"^[+-]?(\d+\.?\d*|\.\d+)$"))
        )
    elif column.dtype == "bool":
        key = search_key_expr(cleaned)
        out = pl.when(key.is_in(_TRUE)).then(pl.lit("true"))
        out = out.when(key.is_in(_FALSE)).then(pl.lit("false")).otherwise(None)
        checks.append(Check(name, "bad_value", present & out.is_null()))
    elif codes and _is_code_list(codes):
        mapping, width = code_map(codes)
        if getattr(column, "multiple", False):
            items = cleaned.str.split(";").list.eval(
                pl.element().str.strip_chars().filter(pl.element().str.strip_chars() != "")
            )
            keys = items.list.eval(search_key_expr(pl.element()))
            mapped = keys.list.eval(_mapped(pl.element(), mapping))
            out = mapped.list.join(";").replace("", None)
            bad = mapped.list.eval(pl.element().is_null()).list.any()
        else:
            value = cleaned
            if width:
                value = pl.when(value.str.contains(r"^\d+$")).then(value.str.zfill(width))
                value = value.otherwise(cleaned)
            out = _mapped(search_key_expr(value), mapping)
            bad = out.is_null()
        checks.append(Check(name, CODE_ERRORS.get(codes, "bad_code"), present & bad))
    elif name in PERSON_NAMES:
        out = name_expr(cleaned) if named is None else named
        # Letters, combining marks, spaces, and the apostrophe, hyphen and dot of names such as
        # H'Hen Niê or Y-Moan; also what keeps "=HYPERLINK(…)" out of the registry.
        odd = ~cleaned.str.contains(_NAME) & ~raw.str.contains(_CONTROL)  # those: their own
        checks.append(Check(name, "bad_name", present & odd))
    elif name == "school_year":
        out = cleaned.str.replace_all(r"\s*[/–—-]\s*", "-")
        years = out.str.extract_groups(r"^(\d{4})-(\d{4})$")
        y1 = years.struct.field("1").cast(pl.Int32, strict=False)
        y2 = years.struct.field("2").cast(pl.Int32, strict=False)
        checks.append(Check(name, "bad_school_year", present & ((y2 - y1) != 1).fill_null(True)))
    elif name == "nationality":
        key = search_key_expr(cleaned)
        out = pl.when(key.is_in(list(_NATIONALITY))).then(
            key.replace_strict(_NATIONALITY, default=None, return_dtype=pl.String)
        )
        out = out.otherwise(cleaned.str.to_uppercase())
    else:
        out = cleaned
    pattern = getattr(column, "pattern", None)
    if pattern and name != "school_year":
        digits = _fixed_digits(pattern)
        if digits:
            # One or two zeros dropped by Excel (province codes start 0 or 00); a shorter
            # number is simply wrong, and a 9-digit citizen ID is an old identity card.
            length = out.str.len_chars()
            lost = out.str.contains(r"^\d+$") & (length < digits) & (length >= digits - 2)
            lost = lost.fill_null(False)
            old = pl.lit(False)
            if name == "citizen_id":
                old = out.str.contains(r"^\d{9}$").fill_null(False)
                checks.append(Check(name, "old_id_card", present & old))
            checks.append(Check(name, "leading_zeros_lost", present & lost & ~old))
            mismatch = present & ~lost & ~old & ~out.str.contains(pattern)
        else:
            mismatch = present & ~out.str.contains(pattern)
        checks.append(Check(name, PATTERN_ERRORS.get(name, "bad_value"), mismatch))
    return out, checks


def _is_code_list(name: str) -> bool:
    from vnemis.registry import code_lists

    return name in code_lists.CODE_LISTS


def _fixed_digits(pattern: str) -> int | None:
    """12 for '^\\d{12}$': columns of fixed-width digit codes, where Excel drops leading zeros."""
    import re

    m = re.fullmatch(r"\^\\d\{(\d+)\}\$", pattern)
    return int(m.group(1)) if m else None
