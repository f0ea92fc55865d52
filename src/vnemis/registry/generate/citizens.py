"""The population registry's own citizens, for the registry simulator (``registry/citizens.parquet``).

Per chunk: every true pupil once (however many schools enrolled them) and every member of
staff, with true values, plus citizens who are not in school, drawn as the pupils are (sex,
ethnicity and place of birth of a pupil of the chunk, a birth date in a pupil's birth year,
names from ``names.py``). Among those, on purpose, the hard cases of linkage: look-alikes, who
carry a pupil's exact name, birth date and sex under another ID, and twins of pupils (same
parents, birth date, family name and place of birth; another given name). Everyone has a
citizen ID, even a person whose school or personnel record lacks one: the registry issued it at
birth registration. IDs the schools never saw come from the registry's own issuer. Parents'
names are made for pupils and the others (the father passes on the family name; the mother
keeps hers); the registry's copy of staff records has none. Rows are shuffled within the chunk
so the order does not tell who is in school.
"""

import numpy as np
import polars as pl

from .geography import CCCD_PREDECESSORS
from .names import sample_names
from .pupils import CitizenIdIssuer, birth_prefixes, random_dates

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
# What the registry itself holds of a citizen (``person_id`` is the generator's ground truth).
CITIZEN_FIELDS = tuple(c for c in CITIZEN_SCHEMA if c != "person_id")
# Shares of the citizens not in school who are hard cases.
LOOKALIKE_SHARE = 0.005
TWIN_SHARE = 0.005
CITIZEN_KINDS = ("pupils", "staff", "extras", "lookalikes", "twins")
# The current (2-digit) province of each old 3-digit CCCD prefix: every old province lies
# wholly inside one current province.
_PROVINCE_OF_PREFIX = {old: new for new, olds in CCCD_PREDECESSORS.items() for old in olds}


def _nulls(n: int) -> pl.Series:
    return pl.repeat(None, n, dtype=pl.String, eager=True)


def _issue(
    issuer: CitizenIdIssuer,
    rng: np.random.Generator,
    province: np.ndarray,
    born: pl.Series,
    sex: np.ndarray,
) -> pl.Series:
    """Fresh IDs: an old province inside the birth province, century and sex, year, serial."""
    prefix = birth_prefixes(rng, province.astype("U2"))
    years = born.dt.year().to_numpy().astype(np.int64)
    return pl.Series(issuer.issue(prefix, years, sex == "F")).cast(pl.String).str.zfill(12)


def _fill_ids(issuer, rng, ids: pl.Series, province: np.ndarray, born, sex) -> pl.Series:
    missing = ids.is_null().to_numpy()
    if not missing.any():
        return ids
    fresh = _issue(issuer, rng, province[missing], born.filter(missing), sex[missing])
    return ids.scatter(np.flatnonzero(missing), fresh)


def _family(full_name: pl.Series) -> pl.Series:
    return full_name.str.split(" ").list.first()


def _parents(
    rng: np.random.Generator, *, family: pl.Series, ethnicity: np.ndarray, region: int
) -> tuple[pl.Series, pl.Series]:
    """Father: the child's family name with a man's middle and given names; mother: a woman's
    full name of her own. Both of the parents' generation (more Văn and Thị)."""
    n = len(family)
    fathers = sample_names(
        rng, sex=np.full(n, "M"), ethnicity=ethnicity, region=region, old_fashioned=True
    )
    mothers = sample_names(
        rng, sex=np.full(n, "F"), ethnicity=ethnicity, region=region, old_fashioned=True
    )
    father = family + " " + fathers["middle_name"] + " " + fathers["given_name"]
    return father, mothers["full_name"]


def _in_school(rng, issuer, pupils: pl.DataFrame, person_ids: pl.Series, region: int):
    province = pupils["birth_province_code"].to_numpy().astype("U2")
    sex = pupils["sex"].to_numpy().astype("U1")
    father, mother = _parents(
        rng,
        family=_family(pupils["full_name"]),
        ethnicity=pupils["ethnicity_code"].to_numpy().astype("U2"),
        region=region,
    )
    return pl.DataFrame(
        {
            "citizen_id": _fill_ids(
                issuer, rng, pupils["citizen_id"], province, pupils["birth_date"], sex
            ),
            "full_name": pupils["full_name"],
            "birth_date": pupils["birth_date"],
            "sex": pupils["sex"],
            "birth_province_code": pupils["birth_province_code"],
            "father_name": father,
            "mother_name": mother,
            "person_id": person_ids,
        }
    )


def _staff(rng, issuer, staff: pl.DataFrame, province: str) -> pl.DataFrame:
    """Staff as the personnel files have them (true values); place of birth from the ID, or
    the province they work in when their record has no ID."""
    ids = staff["citizen_id"]
    born_in = ids.str.slice(0, 3).replace_strict(
        _PROVINCE_OF_PREFIX, default=None, return_dtype=pl.String
    )
    born_in = born_in.fill_null(province)
    sex = staff["sex"].to_numpy().astype("U1")
    n = len(staff)
    return pl.DataFrame(
        {
            "citizen_id": _fill_ids(
                issuer, rng, ids, born_in.to_numpy().astype("U2"), staff["birth_date"], sex
            ),
            "full_name": staff["full_name"],
            "birth_date": staff["birth_date"],
            "sex": staff["sex"],
            "birth_province_code": born_in,
            "father_name": _nulls(n),
            "mother_name": _nulls(n),
            "person_id": "S" + staff["school_code"] + "-" + staff["staff_code"],
        }
    )


def _extras(rng, issuer, pupils: pl.DataFrame, school: pl.DataFrame, n: int, region: int):
    """Citizens not in school, with a share of look-alikes and twins of pupils."""
    m = len(pupils)
    donor = rng.integers(0, m, n)  # sex, ethnicity and place of birth go together
    sex = pupils["sex"].to_numpy().astype("U1")[donor]
    ethnicity = pupils["ethnicity_code"].to_numpy().astype("U2")[donor]
    province = pupils["birth_province_code"].to_numpy().astype("U2")[donor]
    years = pupils["birth_date"].dt.year().to_numpy().astype(np.int64)[rng.integers(0, m, n)]
    born = pl.Series(random_dates(rng, years), dtype=pl.Date)
    names = sample_names(rng, sex=sex, ethnicity=ethnicity, region=region)
    full_name = names["full_name"]
    father, mother = _parents(rng, family=names["family_name"], ethnicity=ethnicity, region=region)

    u = rng.random(n)
    look = np.flatnonzero(u < LOOKALIKE_SHARE)
    twin = np.flatnonzero((u >= LOOKALIKE_SHARE) & (u < LOOKALIKE_SHARE + TWIN_SHARE))
    if len(look):
        of = rng.integers(0, m, len(look))
        full_name = full_name.scatter(look, pupils["full_name"].gather(of))
        born = born.scatter(look, pupils["birth_date"].gather(of))
        sex[look] = pupils["sex"].to_numpy().astype("U1")[of]
    if len(twin):
        of = rng.integers(0, m, len(twin))
        sex[twin] = np.where(rng.random(len(twin)) < 0.515, "M", "F")
        own = sample_names(
            rng,
            sex=sex[twin],
            ethnicity=pupils["ethnicity_code"].to_numpy().astype("U2")[of],
            region=region,
        )
        sibling = pupils["full_name"].gather(of)
        named = _family(sibling) + " " + own["middle_name"] + " " + own["given_name"]
        # A twin never bears the sibling's very name: take another twin's given name then.
        for shift in range(1, 5):
            same = (named == sibling).to_numpy()
            if not same.any():
                break
            other = np.roll(np.arange(len(twin)), shift)[same]
            named = named.scatter(
                np.flatnonzero(same),
                _family(sibling.filter(same))
                + " "
                + own["middle_name"].filter(same)
                + " "
                + own["given_name"].gather(other),
            )
        full_name = full_name.scatter(twin, named)
        born = born.scatter(twin, pupils["birth_date"].gather(of))
        province[twin] = pupils["birth_province_code"].to_numpy().astype("U2")[of]
        father = father.scatter(twin, school["father_name"].gather(of))
        mother = mother.scatter(twin, school["mother_name"].gather(of))
    frame = pl.DataFrame(
        {
            "citizen_id": _issue(issuer, rng, province, born, sex),
            "full_name": full_name,
            "birth_date": born,
            "sex": sex,
            "birth_province_code": province,
            "father_name": father,
            "mother_name": mother,
            "person_id": _nulls(n),
        }
    )
    return frame, len(look), len(twin)


def build_citizens(
    rng: np.random.Generator,
    *,
    pupils: pl.DataFrame,
    person_ids: pl.Series,
    staff: pl.DataFrame,
    province: str,
    region: int,
    issuer: CitizenIdIssuer,
    extra_ratio: float,
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Citizens of one chunk and their counts by kind. ``pupils`` are the true pupil rows, one
    per person (duplicates removed); ``staff`` the chunk's personnel rows."""
    school = _in_school(rng, issuer, pupils, person_ids, region)
    frames = [school, _staff(rng, issuer, staff, province)]
    counts = dict.fromkeys(CITIZEN_KINDS, 0)
    counts["pupils"], counts["staff"] = len(school), len(staff)
    n_extra = round(extra_ratio * (len(school) + len(staff)))
    if n_extra and len(pupils):
        extras, counts["lookalikes"], counts["twins"] = _extras(
            rng, issuer, pupils, school, n_extra, region
        )
        frames.append(extras)
        counts["extras"] = n_extra
    citizens = pl.concat([f.select(CITIZEN_SCHEMA.keys()).cast(CITIZEN_SCHEMA) for f in frames])
    order = rng.permutation(len(citizens))
    return citizens[order], counts
