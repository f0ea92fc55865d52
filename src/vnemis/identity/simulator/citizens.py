"""The simulator's citizens: a compact index by citizen ID, and cohort extracts from the file.

Verification needs four facts per citizen, so only those are held in memory, as arrays sorted
by the ID (an ``int64``; 12 digits fit): the comparable form of the name, the birth date as a
day number and the sex. A batch is answered with one ``searchsorted`` and array comparisons,
not a loop of dictionary look-ups over Python objects (2 M citizens take about 100 MB). Cohort
extracts are rare and large, so they are read from the Parquet file when asked for.
"""

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from vnemis.registry.generate.citizens import CITIZEN_FIELDS

EXTRACT_COLUMNS = (
    "citizen_id",
    "full_name",
    "full_name_ascii",
    "family_name",
    "given_name",
    "birth_date",
    "sex",
    "birth_province_code",
    "father_name",
    "mother_name",
)


class CitizensFileError(ValueError):
    """The citizens file cannot serve as a registry; the message says what is wrong."""


def name_key(names: pl.Expr) -> pl.Expr:
    """How the registry compares names: NFC, lower case, spacing collapsed; otherwise exact."""
    return (
        names.str.normalize("NFC").str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()
    )


def name_keys(names: list[str]) -> pl.Series:
    """``name_key`` of the names a caller sent, applied exactly as to the registry's own."""
    return pl.select(name_key(pl.Series(names, dtype=pl.String))).to_series()


def ascii_name(names: pl.Expr) -> pl.Expr:
    """A name without diacritics, in lower case, đ as d (from NFC or NFD input alike)."""
    return (
        name_key(names)
        .str.normalize("NFD")
        .str.replace_all(r"\p{Mn}", "")
        .str.replace_all("đ", "d", literal=True)
    )


@dataclass(frozen=True)
class Comparison:
    """Per queried person: known to the registry, and which of the fields match (arrays)."""

    found: np.ndarray
    full_name: np.ndarray
    birth_date: np.ndarray
    sex: np.ndarray


@dataclass(frozen=True)
class Citizens:
    path: Path
    ids: np.ndarray  # int64, ascending
    keys: pl.Series  # name_key(full_name), in the order of ``ids``
    days: np.ndarray  # int32 days since 1970-01-01
    female: np.ndarray  # bool

    @classmethod
    def load(cls, path: Path) -> "Citizens":
        """Read and index a citizens file; refuses one with malformed or repeated IDs."""
        try:
            frame = pl.read_parquet(path, columns=["citizen_id", "full_name", "birth_date", "sex"])
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise CitizensFileError(f"Cannot read the citizens file '{path}': {exc}") from exc
        bad = frame.filter(~pl.col("citizen_id").str.contains(r"^[0-9]{12}$").fill_null(False))
        if len(bad):
            raise CitizensFileError(
                f"{len(bad):,} citizen(s) in '{path}' have no 12-digit citizen ID."
            )
        frame = frame.select(
            pl.col("citizen_id").cast(pl.Int64).alias("id"),
            name_key(pl.col("full_name")).alias("key"),
            pl.col("birth_date").cast(pl.Int32).alias("day"),
            (pl.col("sex") == "F").fill_null(False).alias("female"),
        ).sort("id")
        ids = frame["id"].to_numpy()
        if len(ids) > 1 and (np.diff(ids) == 0).any():
            raise CitizensFileError(f"Some citizen IDs appear twice in '{path}'.")
        return cls(
            path=path,
            ids=ids,
            keys=frame["key"],
            days=frame["day"].fill_null(np.iinfo(np.int32).min).to_numpy(),
            female=frame["female"].to_numpy(),
        )

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def nbytes(self) -> int:
        return self.ids.nbytes + self.keys.estimated_size() + self.days.nbytes + self.female.nbytes

    def compare(
        self, *, ids: np.ndarray, names: list[str], days: np.ndarray, female: np.ndarray
    ) -> Comparison:
        """Compare what callers sent (aligned arrays) with the registry, all at once."""
        n = len(ids)
        if n == 0 or len(self.ids) == 0:
            none = np.zeros(n, dtype=bool)
            return Comparison(none, none, none, none)
        at = np.minimum(np.searchsorted(self.ids, ids), len(self.ids) - 1)
        found = self.ids[at] == ids
        same_name = (self.keys.gather(at) == name_keys(names)).fill_null(False).to_numpy()
        return Comparison(
            found=found,
            full_name=found & same_name,
            birth_date=found & (self.days[at] == days),
            sex=found & (self.female[at] == female),
        )

    def cohort_parquet(self, *, years: list[int], provinces: list[str] | None) -> bytes:
        """The citizens born in ``years`` (and ``provinces``), with the columns linkage uses."""
        query = pl.scan_parquet(self.path).select(CITIZEN_FIELDS)
        query = query.filter(pl.col("birth_date").dt.year().is_in(years))
        if provinces:
            query = query.filter(pl.col("birth_province_code").is_in(provinces))
        words = (
            pl.col("full_name")
            .str.normalize("NFC")
            .str.replace_all(r"\s+", " ")
            .str.strip_chars()
            .str.split(" ")
        )
        frame = (
            query.with_columns(
                full_name_ascii=ascii_name(pl.col("full_name")),
                family_name=words.list.first(),
                given_name=words.list.last(),
            )
            .select(EXTRACT_COLUMNS)
            .sort("citizen_id")
            .collect()
        )
        out = io.BytesIO()
        frame.write_parquet(out)
        return out.getvalue()
