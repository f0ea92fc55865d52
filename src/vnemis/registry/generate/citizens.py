"""The population registry's own citizens, for the registry simulator (``registry/citizens.parquet``).

Every true pupil (once, however many schools enrolled them) and every member of staff with true
values, plus citizens who are not in school: names recombined from the chunk's own pupils, birth
dates in the same years, fresh citizen IDs from the same issuer (so every ID stays unique), and
a share of look-alikes who carry a pupil's exact name and birth date under another ID, the hard
case for linkage. Pupils whose school record has no ID still have one here, as every child
registered at birth does. Parents' names are made for pupils and the others (the father keeps
the family name). Built per chunk, column-wise.
"""

import numpy as np
import polars as pl

from .pupils import CitizenIdIssuer, birth_prefixes

CITIZEN_SCHEMA = {
    "citizen_id": pl.String,
    "full_name": pl.String,
    "birth_date": pl.Date,
    "sex": pl.String,
    "birth_province_code": pl.String,
    "father_name": pl.String,
    "mother_name": pl.String,
    "person_id": pl.String,
}
LOOKALIKE_SHARE = 0.005


def _ids(issuer: CitizenIdIssuer, rng, province: pl.Series, born: pl.Series, sex: pl.Series):
    codes = province.fill_null("01").to_numpy().astype(str)
    prefix = birth_prefixes(rng, codes)
    years = born.dt.year().to_numpy().astype(np.int64)
    return (
        pl.Series(issuer.issue(prefix, years, sex.to_numpy() == "F")).cast(pl.String).str.zfill(12)
    )


def _parents(rng, names: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
    """Father: the child's family name, a middle and a male given name; mother: another family
    name, "Thị" and a female given name (drawn from the chunk's own names)."""
    words = names["full_name"].str.split(" ")
    family = words.list.first()
    given = words.list.last()
    male = given.filter(names["sex"] == "M")
    female = given.filter(names["sex"] == "F")
    n = len(names)
    if len(male) == 0 or len(female) == 0:
        empty = pl.repeat(None, n, dtype=pl.String, eager=True)
        return empty, empty
    middles = np.array(["Văn", "Đức", "Minh", "Quang", "Hữu", "Ngọc", "Xuân", "Công"])
    father = (
        family
        + " "
        + pl.Series(middles[rng.integers(0, len(middles), n)])
        + " "
        + male.gather(rng.integers(0, len(male), n))
    )
    mother = (
        family.gather(rng.integers(0, n, n))
        + " Thị "
        + female.gather(rng.integers(0, len(female), n))
    )
    return father, mother


def build_citizens(
    rng: np.random.Generator,
    *,
    pupils: pl.DataFrame,
    person_ids: pl.Series,
    staff: pl.DataFrame,
    issuer: CitizenIdIssuer,
    extra_ratio: float,
) -> pl.DataFrame:
    """Citizens of one chunk: ``pupils`` are the true pupil rows (duplicates removed)."""
    missing = pupils["citizen_id"].is_null()
    ids = pupils["citizen_id"]
    if missing.any():
        fresh = _ids(
            issuer,
            rng,
            pupils["birth_province_code"].filter(missing),
            pupils["birth_date"].filter(missing),
            pupils["sex"].filter(missing),
        )
        ids = ids.scatter(np.flatnonzero(missing.to_numpy()), fresh)
    father, mother = _parents(rng, pupils)
    in_school = pl.DataFrame(
        {
            "citizen_id": ids,
            "full_name": pupils["full_name"],
            "birth_date": pupils["birth_date"],
            "sex": pupils["sex"],
            "birth_province_code": pupils["birth_province_code"],
            "father_name": father,
            "mother_name": mother,
            "person_id": person_ids,
        }
    )
    with_id = staff.filter(pl.col("citizen_id").is_not_null())
    teachers = pl.DataFrame(
        {
            "citizen_id": with_id["citizen_id"],
            "full_name": with_id["full_name"],
            "birth_date": with_id["birth_date"],
            "sex": with_id["sex"],
            "birth_province_code": with_id["birth_province_code"]
            if "birth_province_code" in with_id.columns
            else pl.repeat(None, len(with_id), dtype=pl.String, eager=True),
            "father_name": pl.repeat(None, len(with_id), dtype=pl.String, eager=True),
            "mother_name": pl.repeat(None, len(with_id), dtype=pl.String, eager=True),
            "person_id": ("S" + with_id["school_code"] + "-" + with_id["staff_code"]),
        }
    )
    frames = [in_school, teachers]
    n_extra = round(extra_ratio * (len(in_school) + len(teachers)))
    if n_extra and len(pupils):
        frames.append(_extras(rng, pupils, issuer, n_extra))
    return pl.concat([f.select(CITIZEN_SCHEMA.keys()).cast(CITIZEN_SCHEMA) for f in frames])


def _extras(rng, pupils: pl.DataFrame, issuer: CitizenIdIssuer, n: int) -> pl.DataFrame:
    """Citizens not in school: a family name from one pupil, middle and given names (and sex)
    from another, a birth date in the same years; a few exact look-alikes of a pupil."""
    m = len(pupils)
    words = pupils["full_name"].str.split(" ")
    family = words.list.first().gather(rng.integers(0, m, n))
    donor = rng.integers(0, m, n)
    rest = words.list.slice(1).list.join(" ").gather(donor)
    sex = pupils["sex"].gather(donor)
    province = pupils["birth_province_code"].gather(donor)
    days = pupils["birth_date"].cast(pl.Int32).gather(rng.integers(0, m, n))
    born = (days + pl.Series(rng.integers(-400, 400, n), dtype=pl.Int32)).cast(pl.Date)
    full_name = family + " " + rest
    look = rng.random(n) < LOOKALIKE_SHARE
    if look.any():
        twin = rng.integers(0, m, int(look.sum()))
        idx = np.flatnonzero(look)
        full_name = full_name.scatter(idx, pupils["full_name"].gather(twin))
        born = born.scatter(idx, pupils["birth_date"].gather(twin))
        sex = sex.scatter(idx, pupils["sex"].gather(twin))
    frame = pl.DataFrame(
        {"full_name": full_name, "sex": sex, "birth_province_code": province, "birth_date": born}
    )
    father, mother = _parents(rng, frame)
    return frame.with_columns(
        citizen_id=_ids(
            issuer, rng, frame["birth_province_code"], frame["birth_date"], frame["sex"]
        ),
        father_name=father,
        mother_name=mother,
        person_id=pl.repeat(None, n, dtype=pl.String, eager=True),
    )
