"""Vectorised (Polars) preparation of exchange-format rows: types, names, codes, identifiers.

Everything here works on whole columns; the only per-row Python is the encryption of citizen IDs
(AES-GCM needs a fresh nonce per value) and it touches only rows that carry one. The name
functions reproduce ``vnemis.core.text`` exactly (the tests compare them on awkward input).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from vnemis.core.crypto import blind_index, encrypt_identifier

from .education_id import SEQUENCE_DIGITS
from .exchange_format import Entity

PROBLEM = "_problem"
ROW = "_row"

# Python's str.isspace() also counts the ASCII separators \x1c-\x1f; Rust's \s does not.
_SPACE_RUN = r"[\s\x1c-\x1f]+"


# -- reading -----------------------------------------------------------------------------------


def scan_strings(path) -> pl.LazyFrame:
    """A lazy frame of the file with every column as text (one parsing path for CSV and Parquet)."""
    if str(path).endswith(".parquet"):
        lf = pl.scan_parquet(path)
        schema = lf.collect_schema()
        casts = []
        for name, dtype in schema.items():
            if dtype == pl.Date:
                casts.append(pl.col(name).dt.strftime("%Y-%m-%d"))
            elif dtype == pl.Boolean:
                casts.append(pl.col(name).cast(pl.String).str.to_lowercase())
            elif dtype != pl.String:
                casts.append(pl.col(name).cast(pl.String))
        return lf.with_columns(casts) if casts else lf
    return pl.scan_csv(path, infer_schema=False, encoding="utf8")


def prepare(df: pl.DataFrame, entity: Entity) -> pl.DataFrame:
    """Trim text, turn blanks into nulls, add missing optional columns, parse typed columns.

    A value that does not parse, or a required value that is missing, sets ``_problem`` (the
    first problem of the row wins).
    """
    df = df.with_columns(
        pl.col(c.name).cast(pl.String).str.strip_chars().replace("", None)
        for c in entity.columns
        if c.name in df.columns
    ).with_columns(
        pl.lit(None, pl.String).alias(c.name) for c in entity.columns if c.name not in df.columns
    )
    df = df.with_columns(pl.lit(None, pl.String).alias(PROBLEM))
    for c in entity.columns:
        if c.required:
            df = flag(df, pl.col(c.name).is_null(), f"missing:{c.name}")
    parsed = []
    for c in entity.columns:
        raw = pl.col(c.name)
        if c.dtype == "date":
            parsed.append(raw.str.strptime(pl.Date, "%Y-%m-%d", strict=False).alias(c.name))
        elif c.dtype == "int":
            parsed.append(raw.cast(pl.Int64, strict=False).alias(c.name))
        elif c.dtype == "float":
            parsed.append(raw.cast(pl.Float64, strict=False).alias(c.name))
        elif c.dtype == "bool":
            parsed.append(
                raw.str.to_lowercase()
                .replace_strict(
                    {"true": True, "1": True, "false": False, "0": False},
                    default=None,
                    return_dtype=pl.Boolean,
                )
                .alias(c.name)
            )
    if parsed:
        typed = df.select(parsed)
        for name in typed.columns:
            df = flag(df, df[name].is_not_null() & typed[name].is_null(), f"bad_value:{name}")
        df = df.with_columns(typed)
    return df


def flag(df: pl.DataFrame, condition, code: str) -> pl.DataFrame:
    """Record ``code`` as the row's problem where ``condition`` holds and no problem is set yet."""
    cond = condition if isinstance(condition, pl.Expr) else pl.lit(condition)
    return df.with_columns(
        pl.when(pl.col(PROBLEM).is_null() & cond.fill_null(False))
        .then(pl.lit(code))
        .otherwise(pl.col(PROBLEM))
        .alias(PROBLEM)
    )


def flag_too_long(df: pl.DataFrame, limits: dict[str, int]) -> pl.DataFrame:
    for name, limit in limits.items():
        df = flag(df, pl.col(name).str.len_chars() > limit, f"too_long:{name}")
    return df


def flag_duplicates(df: pl.DataFrame, key: list[str]) -> pl.DataFrame:
    """Within a chunk the last row of a key wins; earlier ones are reported as duplicates."""
    ok = pl.col(PROBLEM).is_null()
    last = df.filter(ok).group_by(key).agg(pl.col(ROW).max().alias("_last")).select([*key, "_last"])
    df = df.join(last, on=key, how="left", nulls_equal=True)
    df = flag(df, pl.col("_last").is_not_null() & (pl.col(ROW) != pl.col("_last")), "duplicate_key")
    return df.drop("_last")


def lookup(df: pl.DataFrame, table: pl.DataFrame, *, left: str, right: str) -> pl.DataFrame:
    """Left-join a small reference frame on a code column."""
    return df.join(table, left_on=left, right_on=right, how="left", coalesce=True)


# -- names -------------------------------------------------------------------------------------


def clean_text_expr(expr: pl.Expr) -> pl.Expr:
    """``vnemis.core.text.clean_text``: NFC, single spaces, trimmed; '' for null."""
    return (
        expr.fill_null("")
        .str.normalize("NFC")
        .str.replace_all(_SPACE_RUN, " ")
        .str.strip_chars(" ")
    )


def person_name_expr(expr: pl.Expr) -> pl.Expr:
    """``vnemis.core.text.person_name``: each space-separated word capitalised."""
    word = pl.element()
    return (
        clean_text_expr(expr)
        .str.split(" ")
        .list.eval(word.str.slice(0, 1).str.to_uppercase() + word.str.slice(1).str.to_lowercase())
        .list.join(" ")
    )


def search_key_expr(expr: pl.Expr) -> pl.Expr:
    """``vnemis.core.text.search_key``: lower case, no diacritics, đ → d."""
    return (
        clean_text_expr(expr)
        .str.replace_all("[đĐ]", "d")
        .str.normalize("NFD")
        .str.replace_all(r"\p{Mn}", "")
        .str.to_lowercase()
    )


def with_name_columns(df: pl.DataFrame, source: str = "full_name") -> pl.DataFrame:
    """Add full/family/middle/given name and the search key, as the registry actions store them."""
    df = df.with_columns(person_name_expr(pl.col(source)).alias("_name"))
    words = pl.col("_name").str.split(" ")
    n = words.list.len()
    single = n == 1
    df = df.with_columns(
        pl.when(single).then(pl.lit("")).otherwise(words.list.first()).alias("family_name"),
        pl.when(single)
        .then(pl.lit(""))
        .otherwise(words.list.slice(1, n - 2).list.join(" "))
        .alias("middle_name"),
        words.list.last().alias("given_name"),
        search_key_expr(pl.col("_name")).alias("name_search"),
    )
    return df.with_columns(pl.col("_name").alias("full_name")).drop("_name")


# -- identifiers -------------------------------------------------------------------------------


def luhn_digits(bodies: list[str]) -> np.ndarray:
    """Luhn check digits of equal-length digit strings, as in ``education_id.luhn_digit``."""
    if not bodies:
        return np.zeros(0, dtype=np.int64)
    width = len(bodies[0])
    d = (np.frombuffer("".join(bodies).encode(), dtype=np.uint8).reshape(-1, width) - 48).astype(
        np.int64
    )
    # Doubling starts at the right-most digit of the body.
    doubled = (np.arange(width)[::-1] % 2) == 0
    v = d.copy()
    v[:, doubled] *= 2
    v[v > 9] -= 9
    return (10 - v.sum(axis=1) % 10) % 10


def education_ids_valid(values: pl.Series) -> pl.Series:
    """True where a (non-null) education ID has 12 digits and a correct check digit."""
    shaped = values.str.contains(r"^\d{12}$").fill_null(False)
    out = np.zeros(len(values), dtype=bool)
    idx = np.flatnonzero(shaped.to_numpy())
    if idx.size:
        ids = values.gather(idx).to_list()
        check = luhn_digits([i[:11] for i in ids])
        out[idx] = check == np.array([int(i[11]) for i in ids])
    return pl.Series(out)


def education_ids_format(province_code: str, year: int, sequences: range) -> list[str]:
    """``format_education_id`` for a whole reserved range at once."""
    prefix = f"{province_code}{year % 100:02d}"
    bodies = [f"{prefix}{s:0{SEQUENCE_DIGITS}d}" for s in sequences]
    return [b + str(c) for b, c in zip(bodies, luhn_digits(bodies), strict=True)]


def with_citizen_id_columns(df: pl.DataFrame) -> pl.DataFrame:
    """Ciphertext, blind index and last three digits of each (valid) citizen ID; drops the clear
    value. A malformed CCCD (not 12 digits) rejects the row."""
    df = flag(df, ~pl.col("citizen_id").str.contains(r"^\d{12}$"), "bad_citizen_id")
    present = df["citizen_id"].is_not_null() & df[PROBLEM].is_null()
    idx = np.flatnonzero(present.to_numpy())
    cipher: list[bytes | None] = [None] * df.height
    index: list[str] = [""] * df.height
    if idx.size:
        values = df["citizen_id"].gather(idx).to_list()
        for i, v in zip(idx.tolist(), values, strict=True):
            cipher[i] = encrypt_identifier(v)
            index[i] = blind_index(v)
    return df.with_columns(
        pl.Series("citizen_id_ciphertext", cipher, dtype=pl.Binary),
        pl.Series("citizen_id_index", index, dtype=pl.String),
        pl.when(present)
        .then(pl.col("citizen_id").str.slice(9, 3))
        .otherwise(pl.lit(""))
        .alias("citizen_id_last3"),
    ).drop("citizen_id")


def with_citizen_id_index(df: pl.DataFrame) -> pl.DataFrame:
    """Blind index and last three digits of each (valid) citizen ID; the clear value stays in
    ``_cid_clear`` for the merge, which encrypts only the IDs it writes. A malformed CCCD (not
    12 digits) rejects the row."""
    import hashlib
    import hmac

    from vnemis.core.crypto import _blind_index_key

    df = flag(df, ~pl.col("citizen_id").str.contains(r"^\d{12}$"), "bad_citizen_id")
    present = df["citizen_id"].is_not_null() & df[PROBLEM].is_null()
    idx = np.flatnonzero(present.to_numpy())
    index: list[str] = [""] * df.height
    if idx.size:
        # ``crypto.blind_index`` with the keyed HMAC state built once (the same digest).
        base = hmac.new(_blind_index_key(), digestmod=hashlib.sha256)
        for i, v in zip(idx.tolist(), df["citizen_id"].gather(idx).to_list(), strict=True):
            h = base.copy()
            h.update(v.encode())
            index[i] = h.digest()[:16].hex()
    return df.with_columns(
        pl.Series("citizen_id_index", index, dtype=pl.String),
        pl.when(present)
        .then(pl.col("citizen_id").str.slice(9, 3))
        .otherwise(pl.lit(""))
        .alias("citizen_id_last3"),
        pl.when(present).then(pl.col("citizen_id")).otherwise(None).alias("_cid_clear"),
    ).drop("citizen_id")


def json_list_expr(expr: pl.Expr) -> pl.Expr:
    """A ';'-separated list of codes as the JSON text Django's JSONField writes ('[]' if empty)."""
    items = (
        expr.fill_null("")
        .str.split(";")
        .list.eval(pl.element().str.strip_chars().filter(pl.element().str.strip_chars() != ""))
    )
    return (
        pl.when(items.list.len() == 0)
        .then(pl.lit("[]"))
        .otherwise(pl.lit('["') + items.list.join('", "') + pl.lit('"]'))
    )


def list_items_expr(expr: pl.Expr) -> pl.Expr:
    return (
        expr.fill_null("")
        .str.split(";")
        .list.eval(pl.element().str.strip_chars().filter(pl.element().str.strip_chars() != ""))
    )
