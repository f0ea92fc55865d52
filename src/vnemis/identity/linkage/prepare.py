"""Comparable forms of the fields linkage compares, computed column-wise with Polars.

Both sides (our records and the registry's extract) go through the same expressions, so a name
typed in NFD, in capitals, with doubled spaces or without diacritics meets its registry form:

- ``name_key``: NFC, lower case, single spaces, and each word's tone mark moved to the word's
  end — equal when only case, spacing, the Unicode form (NFC/NFD) or the old and new placement
  of the tone mark (hoà/hòa, thuỷ/thủy) differ;
- ``name_ascii``: the same without diacritics, đ as d — equal when diacritics are missing or
  differ;
- ``family_ascii`` (first word), ``middle_ascii`` (the words between), ``given_ascii`` (last word:
  people are addressed by it);
- ``name_sorted``: the ASCII words in alphabetical order — equal when middle names are swapped;
- birth date parts (``birth_year``, ``birth_ym`` as YYYYMM) and ``birth_date_swapped``, the date
  with day and month exchanged (null where that is no other valid date).

The result is what the Splink model reads (``MODEL_COLUMNS``); ``unique_id`` is ours for records
and a row number for the extract (whose ``citizen_id`` is kept beside, and joined back after
prediction).
"""

import unicodedata

import polars as pl

RECORD_COLUMNS = {
    "record_id": pl.Int64,
    "full_name": pl.String,
    "birth_date": pl.Date,
    "sex": pl.String,
    "birth_province_code": pl.String,
    "father_name": pl.String,
    "mother_name": pl.String,
}
# The registry's cohort extract (``POST /api/v1/extracts/cohort``), as served.
EXTRACT_COLUMNS = {
    "citizen_id": pl.String,
    "full_name": pl.String,
    "full_name_ascii": pl.String,
    "family_name": pl.String,
    "given_name": pl.String,
    "birth_date": pl.Date,
    "sex": pl.String,
    "birth_province_code": pl.String,
    "father_name": pl.String,
    "mother_name": pl.String,
}
MODEL_COLUMNS = (
    "unique_id",
    "name_key",
    "name_ascii",
    "name_sorted",
    "family_ascii",
    "middle_ascii",
    "given_ascii",
    "birth_date",
    "birth_date_swapped",
    "birth_year",
    "birth_ym",
    "sex",
    "birth_province_code",
    "father_ascii",
    "mother_ascii",
)


def name_nfc(names: pl.Expr) -> pl.Expr:
    """NFC, lower case, whitespace collapsed and trimmed; null for a blank name."""
    cleaned = (
        names.str.normalize("NFC").str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()
    )
    return pl.when(cleaned.str.len_chars() > 0).then(cleaned)


# The five tone marks (decomposed); the marks of ă â ê ô ơ ư are part of the letter and stay.
_TONES = "\u0300\u0301\u0303\u0309\u0323"


def name_key(names: pl.Expr) -> pl.Expr:
    """``name_nfc`` with each word's tone mark moved to the end of the word (decomposed): the
    old (hoà, thuý) and new (hòa, thúy) placements give one key."""
    return _tone_last(name_nfc(names))


def _tone_last(nfc_lower: pl.Expr) -> pl.Expr:
    return nfc_lower.str.normalize("NFD").str.replace_all(
        f"([^\\s{_TONES}]*)([{_TONES}])(\\S*)", "${1}${3}${2}"
    )


def name_ascii(names: pl.Expr) -> pl.Expr:
    """``name_nfc`` without diacritics, đ as d (from NFC or NFD input alike)."""
    return _strip_marks(name_nfc(names))


def _ascii_of(ch: str) -> str:
    if ch == "đ":
        return "d"
    return "".join(c for c in unicodedata.normalize("NFD", ch) if unicodedata.category(c) != "Mn")


# Every precomposed lower-case Latin letter with marks (all of Vietnamese's), and its base
# letter: one multi-pattern replacement is three times faster than NFD and a regular expression.
_MARKED = {
    ch: _ascii_of(ch)
    for ch in map(chr, range(0x00C0, 0x1F00))
    if ch.islower() and ch.isalpha() and _ascii_of(ch) != ch and _ascii_of(ch).isascii()
} | {"đ": "d"}


def _strip_marks(nfc_lower: pl.Expr) -> pl.Expr:
    # Marks NFC could not compose with their letter are left as combining characters: drop them.
    return nfc_lower.str.replace_many(list(_MARKED), list(_MARKED.values())).str.replace_all(
        r"\p{Mn}", ""
    )


def _name_parts(ascii_name: str) -> list[pl.Expr]:
    words = pl.col(ascii_name).str.split(" ")
    n = words.list.len()
    return [
        words.list.sort().list.join(" ").alias("name_sorted"),
        words.list.first().alias("family_ascii"),
        # A one-word name is a given name only (some ethnic-minority names).
        pl.when(n > 2).then(words.list.slice(1, n - 2).list.join(" ")).alias("middle_ascii"),
        words.list.last().alias("given_ascii"),
    ]


def _date_parts(col: str = "birth_date") -> list[pl.Expr]:
    date = pl.col(col)
    day, month, year = date.dt.day(), date.dt.month(), date.dt.year()
    # Built only from valid parts (the old month is always a valid day), then blanked where the
    # exchange gives no other date.
    swapped = pl.date(year, pl.when(day <= 12).then(day).otherwise(1), month)
    return [
        pl.when((day <= 12) & (day != month)).then(swapped).alias("birth_date_swapped"),
        year.cast(pl.Int32).alias("birth_year"),
        (year.cast(pl.Int32) * 100 + month.cast(pl.Int32)).alias("birth_ym"),
    ]


def _prepare(frame: pl.DataFrame, unique_id: pl.Expr, keep: tuple[str, ...] = ()) -> pl.DataFrame:
    return (
        frame.lazy()
        .select(
            unique_id.cast(pl.Int64).alias("unique_id"),
            *keep,
            name_nfc(pl.col("full_name")).alias("_nfc"),
            pl.col("birth_date").cast(pl.Date),
            pl.col("sex").str.strip_chars().str.to_uppercase().alias("sex"),
            pl.col("birth_province_code").str.strip_chars().alias("birth_province_code"),
            name_ascii(pl.col("father_name")).alias("father_ascii"),
            name_ascii(pl.col("mother_name")).alias("mother_ascii"),
        )
        .with_columns(
            _tone_last(pl.col("_nfc")).alias("name_key"),
            _strip_marks(pl.col("_nfc")).alias("name_ascii"),
        )
        .with_columns(*_name_parts("name_ascii"), *_date_parts())
        .select(*MODEL_COLUMNS, *keep)
        .collect()
    )


def _with_optional(frame: pl.DataFrame, columns: dict) -> pl.DataFrame:
    """Adds the nullable columns a frame may lack (parents' names, often) as nulls."""
    missing = [pl.lit(None, dtype=t).alias(c) for c, t in columns.items() if c not in frame.columns]
    return frame.with_columns(missing) if missing else frame


def prepare_records(records: pl.DataFrame) -> pl.DataFrame:
    """Our records in the model's comparable form; ``unique_id`` is the ``record_id``."""
    frame = _with_optional(records, RECORD_COLUMNS)
    return _prepare(frame, pl.col("record_id"))


def prepare_extract(extract: pl.DataFrame) -> pl.DataFrame:
    """The registry extract in the model's comparable form, with ``citizen_id`` kept beside;
    ``unique_id`` is the row number.

    The comparable forms are recomputed from ``full_name``, exactly as for our records, whatever
    derived columns the extract carries.
    """
    frame = _with_optional(extract, EXTRACT_COLUMNS)
    return _prepare(frame, pl.int_range(pl.len(), dtype=pl.Int64), keep=("citizen_id",))


def derive_extract_columns(citizens: pl.DataFrame) -> pl.DataFrame:
    """The cohort extract's derived columns from the registry's raw ones (as the registry serves
    them): ``full_name_ascii``, ``family_name`` (first word) and ``given_name`` (last word)."""
    words = (
        pl.col("full_name")
        .str.normalize("NFC")
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
        .str.split(" ")
    )
    frame = _with_optional(citizens, {"father_name": pl.String, "mother_name": pl.String})
    return frame.with_columns(
        full_name_ascii=name_ascii(pl.col("full_name")),
        family_name=words.list.first(),
        given_name=words.list.last(),
    ).select(EXTRACT_COLUMNS.keys())
