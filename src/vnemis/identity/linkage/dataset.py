"""Records, registry extract and ground truth from a dataset written by ``vnemis generate``.

For the benchmark, the tests and ``evaluate``. Records are the noisy pupil rows
(``pupils.parquet``; ``record_id`` is the row number); the truth of each row is its ground-truth
row (same school and pupil code): the person, the damage done, and which row it duplicates.
The extract is the population registry's citizens of the records' birth years
(``registry/citizens.parquet``), or — for a dataset written before the generator wrote that
file — one made from the ground truth plus citizens not in school (``source="ground_truth"``).
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from vnemis.registry.generate.citizens import CITIZEN_FIELDS

from .prepare import RECORD_COLUMNS, derive_extract_columns

CITIZENS_FILE = Path("registry") / "citizens.parquet"
SOURCES = ("auto", "registry", "ground_truth")


@dataclass(frozen=True)
class GeneratedData:
    """``records``: ``record_id`` + ``prepare.RECORD_COLUMNS`` + school_code, pupil_code,
    citizen_id (as the school has it). ``truth``: record_id, person_id, noise, is_copy (a
    planted duplicate), duplicate_of (record_id of the original), true_citizen_id (the
    person's citizen in ``extract``, null if absent). ``extract``: ``prepare.EXTRACT_COLUMNS``
    + person_id. ``source``: where the extract came from."""

    records: pl.DataFrame
    truth: pl.DataFrame
    extract: pl.DataFrame
    source: str


def load_generated(
    data_dir: Path, *, source: str = "auto", extra_ratio: float = 1.0, seed: int = 7
) -> GeneratedData:
    """Load a generated dataset for linkage (``source``: auto, registry or ground_truth)."""
    data_dir = Path(data_dir)
    if source not in SOURCES:
        raise ValueError(f"Unknown extract source '{source}'; choose one of {', '.join(SOURCES)}.")
    pupils = pl.read_parquet(data_dir / "pupils.parquet").with_row_index("record_id")
    truth = pl.read_parquet(data_dir / "ground_truth" / "pupils.parquet")
    joined = pupils.with_columns(pl.col("record_id").cast(pl.Int64)).join(
        truth, on=["school_code", "pupil_code"], how="left"
    )
    keys = joined.select("record_id", "school_code", "pupil_code")
    originals = keys.rename(
        {
            "record_id": "duplicate_of",
            "school_code": "duplicate_of_school_code",
            "pupil_code": "duplicate_of_pupil_code",
        }
    )
    joined = joined.join(
        originals, on=["duplicate_of_school_code", "duplicate_of_pupil_code"], how="left"
    )
    records = joined.with_columns(
        pl.lit(None, dtype=pl.String).alias("father_name"),
        pl.lit(None, dtype=pl.String).alias("mother_name"),
    ).select(*RECORD_COLUMNS, "school_code", "pupil_code", "citizen_id")
    years = records["birth_date"].dt.year().unique().drop_nulls()

    if source == "auto":
        source = "registry" if (data_dir / CITIZENS_FILE).exists() else "ground_truth"
    if source == "registry":
        citizens = pl.scan_parquet(data_dir / CITIZENS_FILE).filter(
            pl.col("birth_date").dt.year().is_in(years.implode())
        )
        citizens = citizens.collect()
    else:
        citizens = citizens_from_ground_truth(joined, extra_ratio=extra_ratio, seed=seed)
    extract = derive_extract_columns(citizens).with_columns(citizens["person_id"])

    person_citizen = extract.filter(pl.col("person_id").is_not_null()).select(
        "person_id", pl.col("citizen_id").alias("true_citizen_id")
    )
    truth_frame = joined.select(
        "record_id",
        "person_id",
        "noise",
        pl.col("noise").fill_null("").str.contains("duplicate").alias("is_copy"),
        "duplicate_of",
    ).join(person_citizen, on="person_id", how="left")
    return GeneratedData(records=records, truth=truth_frame, extract=extract, source=source)


def citizens_from_ground_truth(
    joined: pl.DataFrame, *, extra_ratio: float = 1.0, seed: int = 7
) -> pl.DataFrame:
    """Registry citizens made from the ground truth, for datasets without a citizens file: each
    true person once, with true name, date and ID (one made up where the school had none), plus
    ``extra_ratio`` citizens not in school per person, with names recombined from the persons'
    family, middle and given names and dates in the same birth years."""
    persons = (
        joined.filter(~pl.col("noise").fill_null("").str.contains("duplicate"))
        .unique("person_id", keep="first", maintain_order=True)
        .select(
            pl.col("true_citizen_id").alias("citizen_id"),
            pl.col("true_full_name").alias("full_name"),
            pl.col("true_birth_date").alias("birth_date"),
            "sex",
            "birth_province_code",
            "person_id",
        )
    )
    made_up = "9" + pl.int_range(pl.len(), dtype=pl.Int64).cast(pl.String).str.zfill(11)
    persons = persons.with_columns(pl.col("citizen_id").fill_null(made_up))
    rng = np.random.default_rng(seed)
    n = round(extra_ratio * len(persons))
    if n == 0:
        return _with_parents(persons)
    words = pl.col("full_name").str.split(" ")
    parts = persons.select(
        family=words.list.first(),
        middle=words.list.slice(1, words.list.len() - 2).list.join(" "),
        given=words.list.last(),
    )
    family, middle, given = parts["family"], parts["middle"], parts["given"]
    donor = rng.integers(0, len(persons), n)
    same_sex = persons["sex"].gather(donor)
    # Middle and given names from donors of the same sex, as names are gendered.
    by_sex = {s: np.flatnonzero((persons["sex"] == s).to_numpy()) for s in ("M", "F")}
    pick = np.empty(n, dtype=np.int64)
    pick2 = np.empty(n, dtype=np.int64)
    for s, rows in by_sex.items():
        mask = (same_sex == s).to_numpy()
        if len(rows) and mask.any():
            pick[mask] = rows[rng.integers(0, len(rows), mask.sum())]
            pick2[mask] = rows[rng.integers(0, len(rows), mask.sum())]
    other = ~np.isin(same_sex.to_numpy(), list(by_sex))
    pick[other] = donor[other]
    pick2[other] = donor[other]
    years = persons["birth_date"].dt.year().gather(rng.integers(0, len(persons), n))
    extras = pl.DataFrame(
        {
            "citizen_id": "8"
            + pl.Series(np.arange(n, dtype=np.int64)).cast(pl.String).str.zfill(11),
            "family": family.gather(rng.integers(0, len(persons), n)),
            "middle": middle.gather(pick),
            "given": given.gather(pick2),
            "year": years,
            "day": pl.Series(rng.integers(0, 365, n)),
            "sex": same_sex,
            "birth_province_code": persons["birth_province_code"].gather(donor),
            "person_id": pl.repeat(None, n, dtype=pl.String, eager=True),
        }
    ).with_columns(
        full_name=pl.concat_str(["family", "middle", "given"], separator=" ").str.replace_all(
            r"\s+", " "
        ),
        birth_date=pl.date("year", 1, 1) + pl.duration(days="day"),
    )
    extras = extras.drop("family", "middle", "given", "year", "day")
    citizens = pl.concat([persons, extras], how="diagonal_relaxed")
    return _with_parents(citizens)


def _with_parents(citizens: pl.DataFrame) -> pl.DataFrame:
    return citizens.with_columns(
        pl.lit(None, dtype=pl.String).alias("father_name"),
        pl.lit(None, dtype=pl.String).alias("mother_name"),
    ).select(*CITIZEN_FIELDS, "person_id")
