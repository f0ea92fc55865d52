"""Classes, pupils and enrolments for one chunk of schools, as whole numpy arrays.

Pupils are drawn per class: grade and age group fix the birth year (age 6 in the calendar year a
child enters grade 1; school year from 5 September), a few are older (late start, earlier
repetition), sex ratio about 51.5% boys, ethnicity from the province's mix, names by sex and
region, citizen IDs built as the population registry builds them.
"""

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from .geography import CCCD_PREDECESSORS, ETHNIC_CODES, PROVINCE_POPULATION, ethnic_shares
from .names import sample_names
from .schools import LEVELS

# Age groups: 0–3 are preschool classes (grade 0), then grades 1–12.
GROUP_LABELS = ["Nhà trẻ 24-36 tháng", "Mẫu giáo 3 tuổi", "Mẫu giáo 4 tuổi", "Mẫu giáo 5 tuổi"]
N_GROUPS = 16
GROUP_GRADE = np.array([0, 0, 0, 0, *range(1, 13)])
# Birth year = school year start − offset (grade 1: born six years earlier).
GROUP_BIRTH_OFFSET = np.array([2, 3, 4, 5, *range(6, 18)])


def _weights(pairs: dict[int, float]) -> np.ndarray:
    w = np.zeros(N_GROUPS)
    for g, v in pairs.items():
        w[g] = v
    return w / w.sum()


def _grades(first: int, last: int, start: float, step: float) -> dict[int, float]:
    return {g + 3: start - step * (g - first) for g in range(first, last + 1)}


# Pupils per age group or grade, by school level (slightly fewer in higher grades: dropout).
LEVEL_GROUP_WEIGHTS = np.stack(
    [
        _weights({0: 0.15, 1: 0.25, 2: 0.28, 3: 0.32}),
        _weights(_grades(1, 5, 1.0, 0.01)),
        _weights(_grades(6, 9, 1.0, 0.03)),
        _weights(_grades(10, 12, 1.0, 0.04)),
        _weights(
            {**_grades(1, 5, 1.0, 0.0), **_grades(6, 9, 0.9, 0.0), **_grades(10, 12, 0.75, 0)}
        ),
        _weights(_grades(10, 12, 1.0, 0.06)),
    ]
)
# Target class size (rural commune, urban ward) per group: the legal maxima are 35 in primary,
# 45 in secondary; cities run fuller classes.
GROUP_CLASS_SIZE = np.array(
    [(18, 22)] + [(26, 32)] * 3 + [(28, 36)] * 5 + [(36, 42)] * 4 + [(38, 44)] * 3, dtype=float
)

STATUSES = ("studying", "transferred_in", "repeating", "dropped_out")
STUDYING, TRANSFERRED_IN, REPEATING, DROPPED_OUT = range(4)
# Yearly rates by group: repeating, transferred in, dropped out.
_PRE, _PRI, _LOW, _UPP = (
    (0.0, 0.02, 0.008),
    (0.006, 0.012, 0.002),
    (0.012, 0.01, 0.012),
    (
        0.008,
        0.008,
        0.015,
    ),
)
GROUP_STATUS_RATES = np.array([_PRE] * 4 + [_PRI] * 5 + [_LOW] * 4 + [_UPP] * 3)
# Share of pupils older than their grade (late start or an earlier repeated year).
GROUP_OVERAGE = np.array([0.0] * 4 + [0.015] * 5 + [0.035] * 4 + [0.03] * 3)

DISABILITIES = (
    "intellectual",
    "physical",
    "hearing",
    "vision",
    "autism",
    "mental",
    "multiple",
    "other",
)
DISABILITY_SHARES = np.array([0.30, 0.18, 0.12, 0.10, 0.12, 0.05, 0.08, 0.05])

LETTERS = list("ABCDEGHIKLMN")  # Vietnamese class letters skip F, J (not in the alphabet)
LETTER_SUFFIX = pl.Series(LETTERS + [f"A{i}" for i in range(len(LETTERS) + 1, 100)])
NUMBER_SUFFIX = pl.Series([f"A{i}" for i in range(1, 100)])


def school_year_dates(year: int) -> dict[str, np.datetime64]:
    return {
        "start": np.datetime64(date(year, 9, 5)),
        "term1_end": np.datetime64(date(year + 1, 1, 15)),
        "end": np.datetime64(date(year + 1, 5, 31)),
    }


def random_dates(rng: np.random.Generator, years: np.ndarray) -> np.ndarray:
    """A uniformly random day within each given calendar year."""
    leap = ((years % 4 == 0) & (years % 100 != 0)) | (years % 400 == 0)
    days = np.floor(rng.random(len(years)) * (365 + leap)).astype("timedelta64[D]")
    return (years - 1970).astype("datetime64[Y]").astype("datetime64[D]") + days


class CitizenIdIssuer:
    """Issues structurally valid, nationally unique CCCD numbers across chunks, deterministically.

    The six serial digits come from a per-(province, century/sex, year) counter passed through a
    fixed bijection of 0..999,999, so they look random yet never repeat within a prefix.
    """

    def __init__(self) -> None:
        self.counters = np.zeros(1_000_000, dtype=np.int64)

    def issue(self, prov3: np.ndarray, birth_year: np.ndarray, female: np.ndarray) -> np.ndarray:
        digit = ((birth_year // 100 - 19) % 5) * 2 + female.astype(np.int64)
        key = prov3.astype(np.int64) * 1000 + digit * 100 + birth_year % 100
        order = np.argsort(key, kind="stable")
        sorted_keys = key[order]
        starts = np.r_[0, np.flatnonzero(np.diff(sorted_keys)) + 1]
        group_start = np.repeat(starts, np.diff(np.r_[starts, len(key)]))
        rank = np.empty(len(key), dtype=np.int64)
        rank[order] = np.arange(len(key)) - group_start
        counter = self.counters[key] + rank
        uniq, counts = np.unique(key, return_counts=True)
        self.counters[uniq] += counts
        serial = (counter * 387_419 + key * 7_919) % 1_000_000
        return key * 1_000_000 + serial  # as a number; zero-padded to 12 digits when written


def birth_prefixes(rng: np.random.Generator, birth_province: np.ndarray) -> np.ndarray:
    """Three-digit CCCD prefix: an old province inside each (current) birth province."""
    out = np.zeros(len(birth_province), dtype=np.int64)
    for code in np.unique(birth_province):
        rows = np.flatnonzero(birth_province == code)
        old = CCCD_PREDECESSORS[str(code)]
        w = np.array(list(old.values()))
        out[rows] = np.array([int(c) for c in old])[
            rng.choice(len(old), size=len(rows), p=w / w.sum())
        ]
    return out


def birth_provinces(
    rng: np.random.Generator, province: str, n: int, *, movers: float
) -> np.ndarray:
    """Most people were born where they live; a share were born elsewhere (migration)."""
    codes = np.array(sorted(PROVINCE_POPULATION))
    w = np.array([PROVINCE_POPULATION[c] for c in codes])
    out = np.full(n, province, dtype="U2")
    moved = np.flatnonzero(rng.random(n) < movers)
    out[moved] = codes[rng.choice(len(codes), size=len(moved), p=w / w.sum())]
    return out


MOVERS = {"79": 0.2, "01": 0.12, "75": 0.12, "24": 0.1, "48": 0.08}


@dataclass
class Classes:
    school_idx: np.ndarray
    group: np.ndarray
    number: np.ndarray  # 0-based position among the school's classes of the same group
    size: np.ndarray
    frame: pl.DataFrame  # exchange-format columns (homeroom filled in by the staff step)


def build_classes(rng: np.random.Generator, plan: pl.DataFrame, year: int) -> Classes:
    level_idx = plan["level"].map_elements(LEVELS.index, return_dtype=pl.Int64).to_numpy()
    pupils = plan["pupils"].to_numpy()
    ward = plan["is_ward"].to_numpy()
    counts = rng.multinomial(pupils, LEVEL_GROUP_WEIGHTS[level_idx])  # schools × groups
    target = (
        GROUP_CLASS_SIZE[:, 1][None, :] * ward[:, None]
        + GROUP_CLASS_SIZE[:, 0][None, :] * ~ward[:, None]
    )
    n_classes = np.where(counts > 0, np.maximum(1, np.rint(counts / target)), 0).astype(np.int64)
    sc, gr = np.nonzero(n_classes)  # row-major: school, then group
    k = n_classes[sc, gr]
    school_idx = np.repeat(sc, k)
    group = np.repeat(gr, k)
    number = np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k)
    total = np.repeat(counts[sc, gr], k)
    # Even split: the first (total mod k) classes take one pupil more.
    kk = np.repeat(k, k)
    size = total // kk + (number < total % kk)
    grade = GROUP_GRADE[group]
    level = level_idx[school_idx]
    upper_style = (grade >= 10) & (level != LEVELS.index("primary"))
    numbered = np.where(upper_style, NUMBER_SUFFIX.len() + number, number)
    suffix = pl.concat([LETTER_SUFFIX, NUMBER_SUFFIX]).gather(numbered)
    labels = pl.Series(GROUP_LABELS + [str(g) for g in range(1, 13)]).gather(group)
    name = (
        pl.DataFrame({"label": labels, "suffix": suffix, "pre": grade == 0})
        .select(
            pl.when(pl.col("pre"))
            .then(pl.concat_str(["label", "suffix"], separator=" "))
            .otherwise(pl.concat_str(["label", "suffix"]))
        )
        .to_series()
    )
    # Primary classes mostly run two sessions a day; combined-grade classes survive in small
    # rural primary schools only.
    two_sessions = np.where(
        grade == 0,
        True,
        np.where(grade <= 5, rng.random(len(grade)) < 0.8, rng.random(len(grade)) < 0.1),
    )
    combined = (grade >= 1) & (grade <= 5) & (size < 15) & ~ward[school_idx]
    frame = pl.DataFrame(
        {
            "school_code": plan["school_code"].gather(school_idx),
            "school_year": pl.repeat(f"{year}-{year + 1}", len(grade), eager=True),
            "class_name": name,
            "grade": grade.astype(np.int32),
            "homeroom_staff_code": pl.repeat(None, len(grade), dtype=pl.String, eager=True),
            "two_sessions": two_sessions,
            "combined_grades": combined,
        }
    )
    return Classes(school_idx=school_idx, group=group, number=number, size=size, frame=frame)


@dataclass
class Cohort:
    """The pupils of a chunk; one row per enrolment (a duplicated person has two rows)."""

    person: np.ndarray  # true person number (ground truth)
    school_idx: np.ndarray
    class_idx: np.ndarray
    group: np.ndarray
    sex: np.ndarray  # "M" / "F"
    birth: np.ndarray  # datetime64[D]
    ethnicity: np.ndarray  # "01".."54"
    ability: np.ndarray  # latent learning ability, standard normal
    status: np.ndarray
    started: np.ndarray
    ended: np.ndarray  # NaT when still enrolled
    duplicate_of: np.ndarray  # row index of the original for a duplicate, else -1
    frame: pl.DataFrame  # pupils in exchange format (clean, before noise)


def build_pupils(
    rng: np.random.Generator,
    *,
    plan: pl.DataFrame,
    classes: Classes,
    province: str,
    region: int,
    year: int,
    issuer: CitizenIdIssuer,
    first_person: int,
    duplicate_rate: float,
) -> Cohort:
    dates = school_year_dates(year)
    class_idx = np.repeat(np.arange(len(classes.size)), classes.size)
    n = len(class_idx)
    school_idx = classes.school_idx[class_idx]
    group = classes.group[class_idx]
    continuing = (plan["level"] == "continuing").to_numpy()[school_idx]
    ward = plan["is_ward"].to_numpy()[school_idx]

    sex = np.where(rng.random(n) < 0.515, "M", "F")
    ethnicity = np.array(ETHNIC_CODES)[
        rng.choice(len(ETHNIC_CODES), size=n, p=ethnic_shares(province))
    ]
    minority = ethnicity != "01"

    rates = GROUP_STATUS_RATES[group].copy()
    rates[continuing, 2] *= 3  # continuing-education centres lose far more learners
    u = rng.random(n)
    status = np.full(n, STUDYING, dtype=np.int8)
    status[u < rates[:, 0] + rates[:, 1] + rates[:, 2]] = DROPPED_OUT
    status[u < rates[:, 0] + rates[:, 1]] = TRANSFERRED_IN
    status[u < rates[:, 0]] = REPEATING

    overage_p = GROUP_OVERAGE[group] * np.where(minority, 2.0, 1.0) + np.where(continuing, 0.3, 0.0)
    extra = (rng.random(n) < overage_p).astype(np.int64)
    extra[status == REPEATING] = 1
    extra += (extra == 1) & (rng.random(n) < 0.12)
    birth_year = year - GROUP_BIRTH_OFFSET[group] - extra
    birth = random_dates(rng, birth_year)

    started = np.full(n, dates["start"])
    ended = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    moved_in = status == TRANSFERRED_IN
    started[moved_in] += rng.integers(10, 200, moved_in.sum()).astype("timedelta64[D]")
    dropped = status == DROPPED_OUT
    ended[dropped] = dates["start"] + rng.integers(30, 230, dropped.sum()).astype("timedelta64[D]")

    # Ability drives results; minority pupils in remote schools score a little lower on average.
    ability = (rng.standard_normal(n) - 0.25 * minority - 0.3 * extra).astype(np.float32)
    duplicate_of = np.full(n, -1, dtype=np.int64)
    person = first_person + np.arange(n, dtype=np.int64)

    arrays = {
        "school_idx": school_idx, "class_idx": class_idx, "group": group, "sex": sex,
        "birth": birth, "ethnicity": ethnicity, "ability": ability, "status": status,
        "started": started, "ended": ended, "duplicate_of": duplicate_of, "person": person,
    }  # fmt: skip
    if duplicate_rate > 0:
        arrays = _add_duplicates(rng, arrays, classes, duplicate_rate, dates)
    n = len(arrays["person"])
    school_idx, sex, birth = arrays["school_idx"], arrays["sex"], arrays["birth"]
    ethnicity, group = arrays["ethnicity"], arrays["group"]
    ward = plan["is_ward"].to_numpy()[school_idx]
    minority = ethnicity != "01"
    original = arrays["duplicate_of"] < 0
    src = np.where(original, np.arange(n), arrays["duplicate_of"])

    # Person-level attributes are drawn for every row, then copied from the original onto its
    # duplicates, so both records describe the same human being.
    names = sample_names(rng, sex=sex, ethnicity=ethnicity, region=region).select(
        pl.all().gather(src)
    )
    birth_province = birth_provinces(rng, province, n, movers=MOVERS.get(province, 0.05))[src]
    prefix = birth_prefixes(rng, birth_province)[src]
    birth_year = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    has_cccd = (rng.random(n) < np.where(group < 4, 0.93, 0.97))[src]
    cccd_num = np.zeros(n, dtype=np.int64)
    orig_rows = np.flatnonzero(original & has_cccd)
    cccd_num[orig_rows] = issuer.issue(
        prefix[orig_rows], birth_year[orig_rows], sex[orig_rows] == "F"
    )
    cccd_num = cccd_num[src]

    communes = plan["commune_code"].to_numpy()
    home = communes[school_idx].copy()
    elsewhere = rng.random(n) < 0.15
    home[elsewhere] = communes[rng.integers(0, len(communes), elsewhere.sum())]
    home = home[src]

    disabled = rng.random(n) < 0.012
    disability = np.where(
        disabled, np.array(DISABILITIES)[rng.choice(len(DISABILITIES), n, p=DISABILITY_SHARES)], ""
    )[src]
    u = rng.random((n, 6))
    flags = {
        "ethnic_minority": minority,
        "poor_household": u[:, 0] < np.where(minority, 0.15, 0.03),
        "near_poor_household": u[:, 1] < np.where(minority, 0.08, 0.03),
        "disadvantaged_area": minority & ~ward & (u[:, 2] < 0.3),
        "martyr_child": u[:, 3] < 0.0002,
        "war_invalid_child": u[:, 4] < 0.003,
        "orphan": u[:, 5] < 0.004,
        "disabled": disability != "",
    }
    policy = pl.DataFrame({k: v[src] for k, v in flags.items()}).select(
        pl.concat_str(
            [pl.when(pl.col(k)).then(pl.lit(k)) for k in flags], separator=";", ignore_nulls=True
        ).alias("policy")
    )["policy"]

    # Pupil codes: school code + five digits, in random order within the school.
    school_codes = plan["school_code"]
    order = np.lexsort((rng.random(n), school_idx))
    rank = np.empty(n, dtype=np.int64)
    first = np.r_[0, np.flatnonzero(np.diff(school_idx[order])) + 1]
    rank[order] = np.arange(n) - np.repeat(first, np.diff(np.r_[first, n]))
    code_df = pl.DataFrame({"school": school_codes.gather(school_idx), "seq": rank + 1})

    frame = pl.DataFrame(
        {
            "school_code": code_df["school"],
            "pupil_code": code_df.select(
                pl.concat_str(["school", pl.col("seq").cast(pl.String).str.zfill(5)])
            ).to_series(),
            "education_id": pl.repeat(None, n, dtype=pl.String, eager=True),
            "full_name": names["full_name"],
            "birth_date": pl.Series(birth, dtype=pl.Date),
            "sex": sex,
            "ethnicity_code": ethnicity,
            "nationality": pl.repeat("VN", n, eager=True),
            "birth_province_code": birth_province,
            "permanent_commune_code": home,
            "policy_categories": policy.replace("", None),
            "disability": pl.Series(disability).replace("", None),
            "citizen_id": pl.Series(cccd_num)
            .cast(pl.String)
            .str.zfill(12)
            .zip_with(pl.Series(cccd_num > 0), pl.repeat(None, n, dtype=pl.String, eager=True)),
        }
    )
    return Cohort(frame=frame, **arrays)


def _add_duplicates(
    rng: np.random.Generator,
    a: dict[str, np.ndarray],
    classes: Classes,
    rate: float,
    dates: dict[str, np.datetime64],
) -> dict[str, np.ndarray]:
    """The same pupil enrolled again in another school of the chunk (a transfer never closed)."""
    n = len(a["person"])
    picked = np.flatnonzero((rng.random(n) < rate) & (a["status"] != DROPPED_OUT))
    # Classes by (group, school): where a pupil of that grade could also be enrolled.
    first_class: dict[tuple[int, int], tuple[int, int]] = {}
    for ci in range(len(classes.size)):
        key = (int(classes.group[ci]), int(classes.school_idx[ci]))
        start, count = first_class.get(key, (ci, 0))
        first_class[key] = (start, count + 1)
    schools_by_group: dict[int, list[int]] = {}
    for g, s in first_class:
        schools_by_group.setdefault(g, []).append(s)
    rows, targets = [], []
    pick_u = rng.random((len(picked), 2))
    for k, row in enumerate(picked):
        g, s = int(a["group"][row]), int(a["school_idx"][row])
        others = [x for x in schools_by_group[g] if x != s]
        if not others:
            continue
        target = others[int(pick_u[k, 0] * len(others))]
        start, count = first_class[(g, target)]
        rows.append(row)
        targets.append(start + int(pick_u[k, 1] * count))
    if not rows:
        return a
    rows_arr, cls = np.array(rows), np.array(targets)
    dup = {k: v[rows_arr].copy() for k, v in a.items()}
    dup["class_idx"] = cls
    dup["school_idx"] = classes.school_idx[cls]
    dup["duplicate_of"] = rows_arr
    dup["status"] = np.full(len(rows_arr), TRANSFERRED_IN, dtype=np.int8)
    dup["started"] = dates["start"] + rng.integers(10, 200, len(rows_arr)).astype("timedelta64[D]")
    return {k: np.concatenate([a[k], dup[k]]) for k in a}
