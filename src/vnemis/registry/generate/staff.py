"""Staff of each school: a principal, vice principals, teachers per class by level, other staff.

Teachers per class follow the staffing norms (primary about 1.5, lower secondary 1.9, upper
secondary 2.25, preschool 2 per class); about 70% of teachers are women (almost all in
preschool). Each class gets a homeroom teacher from its school's teachers.
"""

import numpy as np
import polars as pl

from .geography import ETHNIC_CODES, ethnic_shares
from .names import sample_names
from .pupils import GROUP_GRADE, CitizenIdIssuer, birth_prefixes, birth_provinces, random_dates
from .schools import LEVELS

# Teachers per class, by the class's grade (0 = preschool).
GRADE_TEACHERS_PER_CLASS = np.array([2.0] + [1.5] * 5 + [1.9] * 4 + [2.25] * 3)
FEMALE_TEACHERS = np.array([0.98] + [0.72] * 5 + [0.62] * 4 + [0.55] * 3)

# Subjects a teacher of a level is trained for, weighted by weekly periods.
LEVEL_SUBJECTS = {
    "primary": {"NN": 3, "TIN": 1, "GDTC": 2, "NT": 2, "CN": 0.5},
    "lower_secondary": {
        "TOAN": 4, "VAN": 4, "NN": 3, "KHTN": 4, "LSDL": 3, "GDCD": 1, "CN": 1.5, "TIN": 1,
        "GDTC": 2, "NT": 2, "HDTN": 1, "GDDP": 0.5,
    },
    "upper_secondary": {
        "TOAN": 3, "VAN": 3, "NN": 3, "LY": 2, "HOA": 2, "SINH": 1.5, "SU": 1.5, "DIA": 1.5,
        "KTPL": 1, "CN": 1, "TIN": 1, "GDQP": 1, "GDTC": 2, "NT": 0.5,
    },
}  # fmt: skip
PRIMARY_GENERALIST = "TV;TOAN;DDUC;TNXH;HDTN"
QUALIFICATIONS = ("doctorate", "master", "bachelor", "college", "intermediate", "other")
QUALIFICATION_MIX = {
    "preschool": (0.0, 0.01, 0.62, 0.27, 0.1, 0.0),
    "primary": (0.0, 0.03, 0.86, 0.09, 0.02, 0.0),
    "lower_secondary": (0.001, 0.08, 0.88, 0.04, 0.0, 0.0),
    "upper_secondary": (0.004, 0.22, 0.776, 0.0, 0.0, 0.0),
    "leader": (0.01, 0.35, 0.64, 0.0, 0.0, 0.0),
    "staff": (0.0, 0.01, 0.35, 0.3, 0.3, 0.04),
}
CONTRACTS = ("permanent", "fixed_term", "labour", "visiting")
CONTRACT_MIX = {"public": (0.85, 0.05, 0.08, 0.02), "private": (0.0, 0.15, 0.8, 0.05)}
ROLES = ("principal", "vice_principal", "teacher", "staff")


def _level_of_grade(grade: np.ndarray) -> np.ndarray:
    return np.select(
        [grade == 0, grade <= 5, grade <= 9],
        ["preschool", "primary", "lower_secondary"],
        "upper_secondary",
    )


def build_staff(
    rng: np.random.Generator,
    *,
    plan: pl.DataFrame,
    classes,
    province: str,
    region: int,
    year: int,
    issuer: CitizenIdIssuer,
) -> tuple[pl.DataFrame, pl.Series]:
    """Staff rows in exchange format, and each class's homeroom staff code."""
    n_schools = len(plan)
    grade = GROUP_GRADE[classes.group]
    n_classes = np.bincount(classes.school_idx, minlength=n_schools)
    teachers = np.rint(
        np.bincount(classes.school_idx, GRADE_TEACHERS_PER_CLASS[grade], minlength=n_schools)
    ).astype(np.int64)
    teachers = np.maximum(teachers, n_classes)
    vice = np.select([n_classes <= 18, n_classes <= 36], [1, 2], 3)
    others = np.minimum(2 + n_classes // 10, 8)
    per_role = np.stack([np.ones(n_schools, dtype=np.int64), vice, teachers, others], axis=1)
    school_idx = np.repeat(np.repeat(np.arange(n_schools), 4), per_role.ravel())
    role = np.repeat(np.tile(np.arange(4), n_schools), per_role.ravel())
    n = len(role)
    seq = np.arange(n) - np.repeat(np.cumsum(per_role.sum(1)) - per_role.sum(1), per_role.sum(1))
    # Teacher k of a school is homeroom teacher of the school's class k (teachers ≥ classes).
    teacher_no = seq - (1 + vice)[school_idx]

    # A teacher's level: the level of the class they lead, else drawn from the school's classes.
    class_first = np.r_[0, np.cumsum(n_classes)[:-1]]
    lead = np.where(
        (role == 2) & (teacher_no < n_classes[school_idx]), class_first[school_idx] + teacher_no, -1
    )
    any_class = class_first[school_idx] + (
        rng.random(n) * np.maximum(n_classes[school_idx], 1)
    ).astype(np.int64)
    own_class = np.where(lead >= 0, lead, np.minimum(any_class, len(grade) - 1))
    t_grade = grade[own_class]
    t_level = _level_of_grade(t_grade)

    female_p = np.select([role == 2, role == 3], [FEMALE_TEACHERS[t_grade], 0.65], 0.5)
    sex = np.where(rng.random(n) < female_p, "F", "M")
    age = np.select(
        [role == 0, role == 1],
        [rng.integers(42, 59, n), rng.integers(36, 58, n)],
        np.clip(rng.triangular(22, 38, 60, n), 22, 60).astype(np.int64),
    )
    birth_year = year - age
    birth = random_dates(rng, birth_year)
    ethnicity = np.array(ETHNIC_CODES)[
        rng.choice(len(ETHNIC_CODES), size=n, p=0.5 * ethnic_shares(province) + 0.5 * np.eye(54)[0])
    ]
    old = birth_year < 1990
    names = sample_names(rng, sex=sex, ethnicity=ethnicity, region=region, old_fashioned=True)
    young = sample_names(rng, sex=sex, ethnicity=ethnicity, region=region)
    full_name = pl.Series(
        np.where(old, names["full_name"].to_numpy(), young["full_name"].to_numpy())
    )

    subjects = np.full(n, "", dtype="U40")
    for level, weights in LEVEL_SUBJECTS.items():
        rows = np.flatnonzero(
            ((role == 2) | (role <= 1) & (rng.random(n) < 0.5)) & (t_level == level)
        )
        codes = np.array(list(weights))
        w = np.array(list(weights.values()))
        first = codes[rng.choice(len(codes), len(rows), p=w / w.sum())]
        second = codes[rng.choice(len(codes), len(rows), p=w / w.sum())]
        two = (rng.random(len(rows)) < 0.15) & (first != second)
        subjects[rows] = np.where(two, np.char.add(np.char.add(first, ";"), second), first)
    generalist = (t_level == "primary") & (role == 2) & (lead >= 0)
    subjects[generalist] = PRIMARY_GENERALIST

    qual = np.full(n, "other", dtype="U12")
    kind = np.where(role <= 1, "leader", np.where(role == 3, "staff", t_level))
    for k, mix in QUALIFICATION_MIX.items():
        rows = np.flatnonzero(kind == k)
        qual[rows] = np.array(QUALIFICATIONS)[rng.choice(6, len(rows), p=np.array(mix) / sum(mix))]
    public = (plan["ownership"] == "public").to_numpy()[school_idx]
    contract = np.where(
        public,
        np.array(CONTRACTS)[rng.choice(4, n, p=CONTRACT_MIX["public"])],
        np.array(CONTRACTS)[rng.choice(4, n, p=CONTRACT_MIX["private"])],
    )
    opened = plan["opened_on"].dt.year().to_numpy()[school_idx]
    first_year = np.minimum(np.maximum(birth_year + 22, opened), year)
    start_year = first_year + (rng.random(n) * (year - first_year + 1)).astype(np.int64)
    starts = random_dates(rng, start_year)
    starts = np.minimum(starts, np.datetime64(f"{year}-09-05"))

    birth_province = birth_provinces(rng, province, n, movers=0.1)
    prefix = birth_prefixes(rng, birth_province)
    has = rng.random(n) < 0.98
    cccd = np.zeros(n, dtype=np.int64)
    cccd[has] = issuer.issue(prefix[has], birth_year[has], sex[has] == "F")

    codes = plan["school_code"].gather(school_idx)
    staff_code = pl.DataFrame({"s": codes, "q": seq + 1}).select(
        pl.concat_str(["s", pl.lit("NS"), pl.col("q").cast(pl.String).str.zfill(4)])
    )["s"]
    frame = pl.DataFrame(
        {
            "school_code": codes,
            "staff_code": staff_code,
            "education_id": pl.repeat(None, n, dtype=pl.String, eager=True),
            "full_name": full_name,
            "birth_date": pl.Series(birth, dtype=pl.Date),
            "sex": sex,
            "ethnicity_code": ethnicity,
            "citizen_id": pl.Series(cccd)
            .cast(pl.String)
            .str.zfill(12)
            .zip_with(pl.Series(cccd > 0), pl.repeat(None, n, dtype=pl.String, eager=True)),
            "role": np.array(ROLES)[role],
            "subjects": pl.Series(subjects).replace("", None),
            "qualification": qual,
            "contract_type": contract,
            "starts_on": pl.Series(starts, dtype=pl.Date),
        }
    )
    # Homeroom: class k of a school ↔ teacher k; teacher rows are contiguous per school.
    lead_rows = np.flatnonzero(lead >= 0)
    homeroom = np.empty(len(grade), dtype=np.int64)
    homeroom[lead[lead_rows]] = lead_rows
    return frame, staff_code.gather(homeroom)


__all__ = ["LEVELS", "build_staff"]
