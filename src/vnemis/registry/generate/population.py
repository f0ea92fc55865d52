"""``population.csv`` for a generated dataset: population by province, age 3–22 and sex.

Consistent with the generated pupils: for each province, age and sex, the population is the
number of pupils of that age divided by a plausible enrolment ratio (0.98 at primary ages, 0.93
at lower-secondary ages, 0.75 at upper-secondary ages, small outside school ages), rounded up,
and never below the pupils of that age. Ages with no pupils, or too few to tell (ratio under
0.5), take the province's average cohort (the mean over the ages that can be told), since a
cohort does not vanish because no school of the sample teaches it.

Age is the age reached in the calendar year the school year starts (``year - birth year``), the
convention the enrolment-ratio indicators use. Pupil records are counted as the dataset
delivers them (duplicates included), so no indicator computed on the loaded registry ever
finds more pupils of an age than people of that age.

Called once after the dataset is written: ``population_write(out)``.
"""

import math
from pathlib import Path

import polars as pl

AGES = range(3, 23)
SEXES = ("M", "F")


def enrolment_ratio(age: int) -> float:
    """The share of an age in school assumed when deriving population from pupils."""
    if 6 <= age <= 10:
        return 0.98
    if 11 <= age <= 14:
        return 0.93
    if 15 <= age <= 17:
        return 0.75
    if 3 <= age <= 5:
        return 0.90
    return {18: 0.10, 19: 0.03}.get(age, 0.01)


def population_from_pupils(pupils: pl.DataFrame | pl.LazyFrame, *, year: int) -> pl.DataFrame:
    """``pupils``: columns province, birth_year, sex (one row per pupil record)."""
    counts = (
        pupils.lazy()
        .with_columns(age=(year - pl.col("birth_year")).cast(pl.Int32))
        .group_by("province", "age", "sex")
        .len()
        .collect()
    )
    seen: dict[tuple[str, int, str], int] = {
        (p, a, s): n for p, a, s, n in counts.iter_rows() if p is not None
    }
    rows = []
    for province in sorted({k[0] for k in seen}):
        for sex in SEXES:
            told = [
                seen.get((province, age, sex), 0) / enrolment_ratio(age)
                for age in AGES
                if seen.get((province, age, sex), 0) and enrolment_ratio(age) >= 0.5
            ]
            cohort = math.ceil(sum(told) / len(told)) if told else 0
            for age in AGES:
                n = seen.get((province, age, sex), 0)
                ratio = enrolment_ratio(age)
                estimate = math.ceil(n / ratio) if n and ratio >= 0.5 else max(cohort, n)
                rows.append((year, province, age, sex, max(estimate, n)))
    return pl.DataFrame(
        rows,
        schema={
            "year": pl.Int32,
            "province": pl.String,
            "age": pl.Int32,
            "sex": pl.String,
            "count": pl.Int64,
        },
        orient="row",
    )


def _scan(path: Path) -> pl.LazyFrame:
    if path.suffix == ".parquet":
        return pl.scan_parquet(path)
    return pl.scan_csv(path, infer_schema=False)


def population_write(out: Path, *, year: int | None = None) -> int:
    """Write ``out/population.csv`` from the dataset's pupils and schools; returns its rows.

    XLSX datasets are skipped (0): small samples, and reading XLSX back needs extra packages.
    """
    import json

    out = Path(out)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    files = manifest["files"]
    if manifest.get("format") == "xlsx":
        return 0
    if year is None:
        year = int(str(manifest["school_year"])[:4])
    schools = _scan(out / files["schools"]).select("school_code", "province_code")
    pupils = (
        _scan(out / files["pupils"])
        .select("school_code", pl.col("birth_date").cast(pl.String), "sex")
        .join(schools, on="school_code", how="left")
        .select(
            pl.col("province_code").alias("province"),
            pl.col("birth_date").str.slice(0, 4).cast(pl.Int32).alias("birth_year"),
            "sex",
        )
    )
    frame = population_from_pupils(pupils, year=year)
    frame.write_csv(out / "population.csv")
    return frame.height
