"""Subject results, result summaries and health records, vectorised per block of like pupils.

Pupils with the same subject list (a primary grade band, lower secondary, an upper-secondary
elective combination) form a block: their results are a dense pupils × subjects × periods
array, so ratings can follow the rules (DOMAIN.md §5) with array reductions, then be flattened.

- Secondary (Circular 22/2021): scored subjects 0–10 with one decimal for term 1 and term 2, the
  year score (term I + 2 × term II) / 3; comment subjects Đạt/Chưa đạt. Learning ratings per
  period by the Tốt/Khá/Đạt/Chưa đạt table, including the one-subject relief rule.
- Primary (Circular 27/2020): ratings T/H/C for every subject at the end of term I and of the
  year (periods ``term1`` and ``year``), whole-number test scores for tested subjects. The
  summary's learning rating maps the year-end levels onto the shared scale: T = hoàn thành xuất
  sắc, K = hoàn thành tốt, D = hoàn thành, CD = chưa hoàn thành; conduct carries qualities and
  competences (Tốt → T, Đạt → D, Cần cố gắng → CD). The mapping is a convention of this
  generator, to be replaced when the standard fixes the primary summary levels.
"""

from dataclasses import dataclass

import numpy as np
import polars as pl

from .pupils import DROPPED_OUT, GROUP_GRADE, school_year_dates

RATINGS = pl.Series(["D", "CD", "T", "H", "C", None], dtype=pl.String)
R_D, R_CD, R_T, R_H, R_C, R_NONE = range(6)
SUMMARY_RATINGS = pl.Series(["T", "K", "D", "CD", None], dtype=pl.String)
OUTCOMES = pl.Series(["promoted", "reassess", "repeat", "completed_level", None], dtype=pl.String)
PERIODS = pl.Series(["term1", "term2", "year"])

# Subject difficulty (points added to the mean score): maths and languages are hardest.
SUBJECT_OFFSET = {
    "TOAN": -0.4, "VAN": -0.1, "NN": -0.3, "LY": -0.2, "HOA": -0.3, "SINH": 0.0, "SU": 0.2,
    "DIA": 0.3, "KTPL": 0.6, "GDQP": 1.0, "CN": 0.5, "TIN": 0.4, "LSDL": 0.1, "KHTN": -0.2,
    "GDCD": 0.8, "TV": 0.0, "KH": 0.2,
}  # fmt: skip
PRIMARY_12 = ["TV", "TOAN", "DDUC", "TNXH", "GDTC", "NT", "HDTN"]
PRIMARY_3 = ["TV", "TOAN", "NN", "TIN", "CN", "DDUC", "TNXH", "GDTC", "NT", "HDTN"]
PRIMARY_45 = ["TV", "TOAN", "NN", "LSDL", "KH", "TIN", "CN", "DDUC", "GDTC", "NT", "HDTN"]
PRIMARY_TESTED = {"TV", "TOAN", "NN", "LSDL", "KH", "TIN", "CN"}
LOWER = ["TOAN", "VAN", "NN", "LSDL", "KHTN", "GDCD", "CN", "TIN", "GDTC", "NT", "HDTN", "GDDP"]
UPPER_CORE = ["TOAN", "VAN", "NN", "SU", "GDQP"]
UPPER_TAIL = ["GDTC", "HDTN", "GDDP"]
# Elective combinations schools offer in upper secondary (four subjects chosen per class).
UPPER_COMBOS = [
    ["LY", "HOA", "SINH", "TIN"],
    ["LY", "HOA", "TIN", "CN"],
    ["LY", "HOA", "DIA", "KTPL"],
    ["HOA", "SINH", "DIA", "KTPL"],
    ["DIA", "KTPL", "LY", "TIN"],
    ["DIA", "KTPL", "SINH", "CN"],
]
UPPER_COMBO_SHARES = np.array([0.22, 0.12, 0.18, 0.12, 0.22, 0.14])
COMMENT = {"DDUC", "TNXH", "GDTC", "NT", "HDTN", "GDDP"}


@dataclass
class Block:
    subjects: list[str]
    rows: np.ndarray  # cohort rows in this block
    primary: bool


def _blocks(rng: np.random.Generator, cohort, n_classes: int) -> list[Block]:
    grade = GROUP_GRADE[cohort.group]
    combo_of_class = rng.choice(len(UPPER_COMBOS), size=n_classes, p=UPPER_COMBO_SHARES)
    combo = combo_of_class[cohort.class_idx]
    blocks = [
        Block(PRIMARY_12, np.flatnonzero((grade >= 1) & (grade <= 2)), True),
        Block(PRIMARY_3, np.flatnonzero(grade == 3), True),
        Block(PRIMARY_45, np.flatnonzero((grade >= 4) & (grade <= 5)), True),
        Block(LOWER, np.flatnonzero((grade >= 6) & (grade <= 9)), False),
    ]
    for c, electives in enumerate(UPPER_COMBOS):
        rows = np.flatnonzero((grade >= 10) & (combo == c))
        blocks.append(Block(UPPER_CORE + electives + UPPER_TAIL, rows, False))
    return [b for b in blocks if len(b.rows)]


def _learning_rating(scores: np.ndarray, comment_cd: np.ndarray) -> np.ndarray:
    """Circular 22 rating (0 T, 1 K, 2 D, 3 CD) from scores (pupils × scored subjects)."""
    n_cd = comment_cd.sum(axis=1)
    low = scores.min(axis=1)
    good = (n_cd == 0) & (low >= 6.5) & ((scores >= 8.0).sum(axis=1) >= 6)
    fair = (n_cd == 0) & (low >= 5.0) & ((scores >= 6.5).sum(axis=1) >= 6)
    passed = (n_cd <= 1) & ((scores >= 5.0).sum(axis=1) >= 6) & (low >= 3.5)
    return np.select([good, fair, passed], [0, 1, 2], 3)


def _secondary(rng, cohort, block: Block, upper: bool):
    p, subjects = len(block.rows), block.subjects
    scored = np.array([s not in COMMENT for s in subjects])
    offset = np.array([SUBJECT_OFFSET.get(s, 0.0) for s in subjects])[scored]
    a = cohort.ability[block.rows][:, None]
    base = (7.15 if upper else 7.4) + offset[None, :] + 0.85 * a
    base = base + 0.55 * rng.standard_normal((p, scored.sum()))
    t1 = np.clip(np.round(base + 0.35 * rng.standard_normal(base.shape), 1), 0, 10)
    t2 = np.clip(np.round(base + 0.15 + 0.35 * rng.standard_normal(base.shape), 1), 0, 10)
    yr = np.round((t1 + 2 * t2) / 3 + 1e-9, 1)
    n_comment = int((~scored).sum())
    latent = 0.5 * a + rng.standard_normal((p, n_comment))
    c1 = latent + 0.3 * rng.standard_normal((p, n_comment)) < -2.9
    c2 = latent + 0.3 * rng.standard_normal((p, n_comment)) < -3.0
    scores = np.stack([t1, t2, yr], axis=2)  # pupils × scored × periods
    comment = np.stack([c1, c2, c2], axis=2)
    learning = np.empty((p, 3), dtype=np.int64)
    for k in range(3):
        r = _learning_rating(scores[:, :, k], comment[:, :, k])
        # Relief: if the weakest subject alone drags the rating down two levels, raise it by one.
        lifted = scores[:, :, k].copy()
        lifted[np.arange(p), lifted.argmin(axis=1)] = 10.0
        r_alt = _learning_rating(lifted, comment[:, :, k])
        learning[:, k] = np.where(r - r_alt >= 2, r - 1, r)
    # Results per subject, in the block's subject order: scores or Đ/CĐ ratings.
    value = np.full((p, len(subjects), 3), np.nan)
    rating = np.full((p, len(subjects), 3), R_NONE, dtype=np.int64)
    value[:, scored, :] = scores
    rating[:, ~scored, :] = np.where(comment, R_CD, R_D)
    return value, rating, learning


def _primary(rng, cohort, block: Block):
    p, subjects = len(block.rows), block.subjects
    offset = np.array([SUBJECT_OFFSET.get(s, 0.3) for s in subjects])
    a = cohort.ability[block.rows][:, None]
    base = 0.9 * a + 0.45 * offset[None, :] + 0.6 * rng.standard_normal((p, len(subjects)))
    per = [base + 0.35 * rng.standard_normal(base.shape) + shift for shift in (0.0, 0.1)]
    latent = np.stack(per, axis=2)  # pupils × subjects × (term1, year)
    rating = np.select([latent > 0.1, latent < -3.3], [R_T, R_C], R_H)
    tested = np.array([s in PRIMARY_TESTED for s in subjects])
    score = np.clip(np.rint(8.0 + 1.3 * latent + 0.5 * rng.standard_normal(latent.shape)), 0, 10)
    value = np.where(tested[None, :, None], score, np.nan)
    # Year-end level mapped onto T/K/D/CD (see the module docstring).
    share_t = (rating == R_T).mean(axis=1)
    any_c = (rating == R_C).any(axis=1)
    n_tested = max(int(tested.sum()), 1)
    test_mean = np.where(tested[None, :, None], score, 0).sum(axis=1) / n_tested
    learning = np.select(
        [any_c, (share_t >= 0.85) & (test_mean >= 8.5), share_t >= 0.5], [3, 0, 1], 2
    )
    return value, rating, learning


def build_results(rng: np.random.Generator, *, cohort, plan, n_classes: int, year: int):
    """Subject results and result summaries (exchange format) for a chunk's cohort."""
    dates = school_year_dates(year)
    school_codes = plan["school_code"].gather(cohort.school_idx)
    pupil_codes = cohort.frame["pupil_code"]
    dropped = cohort.status == DROPPED_OUT
    # A pupil who left during term I has no results; one who left in term II only term I's.
    has_t1 = ~dropped | (cohort.ended > dates["term1_end"])
    grade = GROUP_GRADE[cohort.group]
    result_frames, summary_frames = [], []
    for block in _blocks(rng, cohort, n_classes):
        rows = block.rows
        upper = bool(grade[rows[0]] >= 10)
        if block.primary:
            value, rating, learning = _primary(rng, cohort, block)
            period_ids = np.array([0, 2])
        else:
            value, rating, learning = _secondary(rng, cohort, block, upper)
            period_ids = np.array([0, 1, 2])
        p, s, t = value.shape
        present = np.stack([has_t1[rows]] + [~dropped[rows]] * (t - 1), axis=1)  # p × t
        keep = np.broadcast_to(present[:, None, :], (p, s, t)).ravel()
        pupil_rows = np.repeat(rows, s * t)[keep]
        subj = np.tile(np.repeat(np.arange(s), t), p)[keep]
        per = np.tile(period_ids, p * s)[keep]
        result_frames.append(
            pl.DataFrame(
                {
                    "school_code": school_codes.gather(pupil_rows),
                    "pupil_code": pupil_codes.gather(pupil_rows),
                    "subject_code": pl.Series(block.subjects).gather(subj),
                    "period": PERIODS.gather(per),
                    "score": pl.Series(value.ravel()[keep]).fill_nan(None),
                    "rating": RATINGS.gather(rating.ravel()[keep]),
                }
            )
        )
        summary_frames.append(
            _summaries(
                rng,
                cohort,
                rows,
                learning,
                present,
                period_ids,
                school_codes,
                pupil_codes,
                block.primary,
            )
        )
    school_year = f"{year}-{year + 1}"
    order = [
        "school_code",
        "school_year",
        "pupil_code",
        "subject_code",
        "period",
        "score",
        "rating",
    ]
    results = (
        pl.concat(result_frames).with_columns(school_year=pl.lit(school_year)).select(order)
        if result_frames
        else None
    )
    summaries = (
        pl.concat(summary_frames)
        .with_columns(school_year=pl.lit(school_year))
        .select(
            [
                "school_code",
                "school_year",
                "pupil_code",
                "period",
                "learning_rating",
                "conduct_rating",
                "outcome",
            ]
        )
        if summary_frames
        else None
    )
    return results, summaries


def _summaries(
    rng, cohort, rows, learning, present, period_ids, school_codes, pupil_codes, primary
):
    p, t = learning.shape
    a = cohort.ability[rows]
    base = 0.3 * a[:, None] + rng.standard_normal((p, 1)) + 0.3 * rng.standard_normal((p, t))
    if primary:
        conduct = np.select([base < -3.0, base < -0.6], [3, 2], 0)  # T / D / CD (no K)
    else:
        conduct = np.select([base < -3.1, base < -2.3, base < -1.2], [3, 2, 1], 0)
    conduct[:, -1] = conduct[:, -2] if t == 3 else conduct[:, -1]
    grade = GROUP_GRADE[cohort.group[rows]]
    final = np.isin(grade, (5, 9, 12))
    failed = (learning[:, -1] == 3) | (conduct[:, -1] == 3)
    outcome = np.where(failed, np.where(rng.random(p) < 0.3, 2, 1), np.where(final, 3, 0))
    outcomes = np.full((p, t), 4)
    outcomes[:, -1] = outcome
    keep = present.ravel()
    pupil_rows = np.repeat(rows, t)[keep]
    return pl.DataFrame(
        {
            "school_code": school_codes.gather(pupil_rows),
            "pupil_code": pupil_codes.gather(pupil_rows),
            "period": PERIODS.gather(np.tile(period_ids, p)[keep]),
            "learning_rating": SUMMARY_RATINGS.gather(learning.ravel()[keep]),
            "conduct_rating": SUMMARY_RATINGS.gather(conduct.ravel()[keep]),
            "outcome": OUTCOMES.gather(outcomes.ravel()[keep]),
        }
    )


# Median height (cm) by age 2–18, boys and girls (Vietnamese children, recent surveys, rounded).
HEIGHT_M = np.array(
    [87, 95, 102, 109, 115, 121, 127, 132, 137, 142, 148, 155, 161, 165, 167, 168, 168.5]
)
HEIGHT_F = np.array(
    [86, 94, 101, 108, 114, 120, 126, 132, 138, 144, 149, 153, 155, 156, 157, 157.5, 158]
)
BMI_MEDIAN = np.array(
    [
        16.2,
        15.7,
        15.4,
        15.2,
        15.2,
        15.4,
        15.7,
        16.1,
        16.6,
        17.1,
        17.7,
        18.3,
        18.9,
        19.4,
        19.9,
        20.3,
        20.6,
    ]
)


def build_health(rng: np.random.Generator, *, cohort, plan, year: int) -> pl.DataFrame:
    """One start-of-year measurement for most pupils: height, weight, eyesight by age and sex."""
    n = len(cohort.person)
    measured = rng.random(n) < 0.9
    rows = np.flatnonzero(measured)
    m = len(rows)
    on = np.datetime64(f"{year}-09-15") + rng.integers(0, 46, m).astype("timedelta64[D]")
    age = (on - cohort.birth[rows]).astype(np.float64) / 365.25
    x = np.clip(age - 2, 0, 16)
    male = cohort.sex[rows] == "M"
    median_h = np.where(
        male, np.interp(x, np.arange(17), HEIGHT_M), np.interp(x, np.arange(17), HEIGHT_F)
    )
    height = np.round(median_h * (1 + 0.042 * rng.standard_normal(m)), 1)
    bmi = np.interp(x, np.arange(17), BMI_MEDIAN) * np.exp(0.13 * rng.standard_normal(m))
    weight = np.round(bmi * (height / 100) ** 2, 1)
    ward = plan["is_ward"].to_numpy()[cohort.school_idx[rows]]
    # Short sight grows with age and with city life.
    p_low = np.clip(0.02 + 0.028 * (age - 5), 0.02, 0.45) * np.where(ward, 1.25, 0.8)
    left_low = rng.random(m) < p_low
    right_low = np.where(rng.random(m) < 0.75, left_low, rng.random(m) < p_low)
    left = np.where(left_low, rng.integers(1, 10, m), 10)
    right = np.where(right_low, np.clip(left + rng.integers(-2, 3, m), 1, 9), 10)
    right = np.where(right_low & ~left_low, rng.integers(3, 10, m), right)
    young = age < 3.5  # toddlers' eyesight is not measured with a chart
    return pl.DataFrame(
        {
            "school_code": plan["school_code"].gather(cohort.school_idx[rows]),
            "pupil_code": cohort.frame["pupil_code"].gather(rows),
            "measured_on": pl.Series(on, dtype=pl.Date),
            "height_cm": height,
            "weight_kg": weight,
            "eyesight_left": pl.Series(left.astype(np.int32)).zip_with(
                pl.Series(~young), pl.repeat(None, m, dtype=pl.Int32, eager=True)
            ),
            "eyesight_right": pl.Series(right.astype(np.int32)).zip_with(
                pl.Series(~young), pl.repeat(None, m, dtype=pl.Int32, eager=True)
            ),
        }
    )
