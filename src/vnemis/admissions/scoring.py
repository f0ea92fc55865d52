"""The admission score of every wish (điểm xét tuyển), DOMAIN.md §7.

For a wish, each combination the programme accepts whose three exam scores the candidate has
gives a weighted score on the 30 scale; bonus points (capped at 3.0) are added, then the
priority points of region and group, reduced linearly from a total of 22.5 on (since 2025);
no final score exceeds 30. The best combination counts (on equal final scores, the higher
weighted score, then the lower code). A
wish below the programme's threshold, without a usable combination, or of a candidate who has
not graduated is ineligible and never enters the run.

All arithmetic is on integer hundredths with half-up rounding at each division, so results
are exact and the same everywhere. ``admission_score`` is the rule for one wish (the pages and
the tests use it); ``wish_scores_refresh`` applies the same rule set-wise with Polars, a chunk
of candidates at a time, for a national round (7.6 M wishes).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import polars as pl
from django.db import connection, transaction
from django.utils import timezone

from vnemis.exams.sql import frame_insert

from .catalogue import BONUS_CAP, GROUPS, HIGH_SCORE_FROM, HIGH_SCORE_SPAN, REGIONS, SCALE
from .models import AdmissionRound, WishScore

CANDIDATE_CHUNK = 20_000  # candidates scored and written per transaction
IDS_PER_LIST = 1_000  # given candidate ids per IN (...) list
ELIGIBLE, NO_COMBINATION, BELOW_THRESHOLD, NOT_GRADUATED = (
    "",
    "no_combination",
    "below_threshold",
    "not_graduated",
)


def _half_up(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


def weighted_score(scores: Mapping[str, int], subjects: Sequence[str], weights: Mapping) -> int:
    """Σ weight × score over the three subjects, brought to the 30 scale (hundredths)."""
    total_weight = sum(int(weights.get(s, 1)) for s in subjects)
    weighted = sum(int(weights.get(s, 1)) * scores[s] for s in subjects)
    return _half_up(weighted * len(subjects), total_weight)


def priority_standard(region: str, group: str) -> int:
    """Region and group priority add; only the highest group applies (one group per person)."""
    return REGIONS[region][0] + GROUPS[group][0]


def priority_points(total: int, standard: int) -> int:
    """Full priority below 22.5; from 22.5 on, ((30 − total) / 7.5) × the standard priority."""
    if total < HIGH_SCORE_FROM:
        return standard
    return _half_up(max(SCALE - total, 0) * standard, HIGH_SCORE_SPAN)


@dataclass(frozen=True)
class AdmissionScore:
    combination: str | None
    raw: int | None
    bonus: int
    priority: int
    score: int | None
    reason: str


def admission_score(
    *,
    scores: Mapping[str, int],
    combinations: Iterable[tuple[str, Sequence[str], Mapping]],
    region: str = "KV3",
    group: str = "",
    bonus: int = 0,
    threshold: int = 0,
    graduated: bool = True,
) -> AdmissionScore:
    """The score of one wish: ``combinations`` are (code, subjects, weights) the programme
    accepts; ``scores`` the candidate's exam scores by subject code (hundredths)."""
    bonus = min(bonus, BONUS_CAP)
    standard = priority_standard(region, group)
    best: tuple[int, str, int, int] | None = None
    for code, subjects, weights in combinations:
        if not all(s in scores for s in subjects):
            continue
        raw = weighted_score(scores, subjects, weights)
        total = raw + bonus
        priority = priority_points(total, standard)
        final = min(SCALE, total + priority)
        if best is None or (-final, -raw, code) < (-best[0], -best[2], best[1]):
            best = (final, code, raw, priority)
    if best is None:
        return AdmissionScore(None, None, bonus, 0, None, NO_COMBINATION)
    final, code, raw, priority = best
    reason = ELIGIBLE
    if not graduated:
        reason = NOT_GRADUATED
    elif final < threshold:
        reason = BELOW_THRESHOLD
    return AdmissionScore(code, raw, bonus, priority, final, reason)


# --- set-wise ------------------------------------------------------------------------------


def _frame(sql: str, params: Sequence, schema: dict) -> pl.DataFrame:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return pl.DataFrame(cursor.fetchall(), schema=schema, orient="row")


def _accepted(round_: AdmissionRound) -> pl.DataFrame:
    """One row per (programme, accepted combination, subject) with its weight and threshold."""
    rows = []
    for programme_id, threshold, combination_id, code, subjects, weights in (
        round_.programmes.filter(combinations__isnull=False)
        .values_list(
            "id",
            "threshold",
            "combinations__combination_id",
            "combinations__combination__code",
            "combinations__combination__subjects",
            "combinations__weights",
        )
        .iterator()
    ):
        for subject in subjects:
            weight = int((weights or {}).get(subject, 1))
            rows.append((programme_id, threshold, combination_id, code, subject, weight))
    return pl.DataFrame(
        rows,
        schema={
            "programme_id": pl.Int64,
            "threshold": pl.Int64,
            "combination_id": pl.Int64,
            "code": pl.Utf8,
            "subject": pl.Utf8,
            "weight": pl.Int64,
        },
        orient="row",
    )


def _scored(wishes: pl.DataFrame, accepted: pl.DataFrame, scores, people) -> pl.DataFrame:
    """The best combination per wish, with priority, final score and reason (the same rule
    as ``admission_score``, as column expressions)."""
    region = pl.col("region").replace_strict({k: v[0] for k, v in REGIONS.items()}, default=0)
    group = pl.col("priority_group").replace_strict({k: v[0] for k, v in GROUPS.items()}, default=0)
    per_combination = (
        wishes.join(accepted, on="programme_id")
        .join(scores, on=["candidate_id", "subject"])
        .group_by("wish_id", "combination_id", "code")
        .agg(
            n=pl.len(),
            weighted=(pl.col("weight") * pl.col("score")).sum(),
            weights=pl.col("weight").sum(),
        )
    )
    # Only combinations with all three subjects scored count.
    needed = accepted.group_by("programme_id", "combination_id").agg(need=pl.len())
    per_combination = (
        per_combination.join(wishes.select("wish_id", "programme_id"), on="wish_id")
        .join(needed, on=["programme_id", "combination_id"])
        .filter(pl.col("n") == pl.col("need"))
        .join(wishes.select("wish_id", "candidate_id"), on="wish_id")
        .join(people, on="candidate_id", how="left")
        .with_columns(
            raw=(2 * pl.col("weighted") * pl.col("need") + pl.col("weights"))
            // (2 * pl.col("weights")),
            bonus=pl.col("bonus").fill_null(0).clip(0, BONUS_CAP),
            standard=region.fill_null(0) + group.fill_null(0),
        )
        .with_columns(total=pl.col("raw") + pl.col("bonus"))
        .with_columns(
            priority=pl.when(pl.col("total") < HIGH_SCORE_FROM)
            .then(pl.col("standard"))
            .otherwise(
                (2 * (SCALE - pl.col("total")).clip(0) * pl.col("standard") + HIGH_SCORE_SPAN)
                // (2 * HIGH_SCORE_SPAN)
            )
        )
        .with_columns(score=pl.min_horizontal(pl.col("total") + pl.col("priority"), pl.lit(SCALE)))
    )
    best = (
        per_combination.sort(
            ["wish_id", "score", "raw", "code"], descending=[False, True, True, False]
        )
        .group_by("wish_id", maintain_order=True)
        .first()
        .select("wish_id", "combination_id", "raw", "bonus", "priority", "score")
    )
    thresholds = accepted.select("programme_id", "threshold").unique("programme_id")
    return (
        wishes.join(best, on="wish_id", how="left")
        .join(thresholds, on="programme_id", how="left")
        .join(
            people.select("candidate_id", graduated=pl.col("graduated") == 1),
            on="candidate_id",
            how="left",
        )
        .with_columns(
            reason=pl.when(pl.col("score").is_null())
            .then(pl.lit(NO_COMBINATION))
            .when(~pl.col("graduated").fill_null(False))
            .then(pl.lit(NOT_GRADUATED))
            .when(pl.col("score") < pl.col("threshold"))
            .then(pl.lit(BELOW_THRESHOLD))
            .otherwise(pl.lit(ELIGIBLE)),
            bonus=pl.col("bonus").fill_null(0),
            priority=pl.col("priority").fill_null(0),
        )
    )


def wish_scores_refresh(round_: AdmissionRound, candidate_ids: Iterable[int] | None = None) -> int:
    """Recompute the ``WishScore`` of every wish in the round (or of these candidates).

    Each chunk of candidates is replaced in one transaction: its old scores deleted, the new
    ones written by ``frame_insert`` (CSV through COPY on PostgreSQL). Returns the number of
    wishes scored.
    """
    accepted = _accepted(round_)
    session_id = round_.exam_session_id
    table = connection.ops.quote_name(WishScore._meta.db_table)
    written = 0
    for where, params in _candidate_chunks(round_, candidate_ids):
        wishes = _frame(
            f"SELECT id, candidate_id, programme_id FROM admissions_wish "  # noqa: S608
            f"WHERE round_id = %s AND candidate_id {where}",
            [round_.pk, *params],
            {"wish_id": pl.Int64, "candidate_id": pl.Int64, "programme_id": pl.Int64},
        )
        scores = _frame(
            f"SELECT s.candidate_id, subject.code, CAST(ROUND(s.score * 100) AS INTEGER) "  # noqa: S608
            f"FROM exams_score s JOIN exams_examsubject subject ON subject.id = s.subject_id "
            f"WHERE s.candidate_id {where}",
            params,
            {"candidate_id": pl.Int64, "subject": pl.Utf8, "score": pl.Int64},
        )
        people = _frame(
            f"SELECT c.id, CASE WHEN c.result = 'passed' THEN 1 ELSE 0 END, p.region, "  # noqa: S608
            f"p.priority_group, p.bonus FROM exams_candidate c LEFT JOIN "
            f"admissions_admissionprofile p ON p.candidate_id = c.id "
            f"WHERE c.session_id = %s AND c.id {where}",
            [session_id, *params],
            {
                "candidate_id": pl.Int64,
                "graduated": pl.Int8,
                "region": pl.Utf8,
                "priority_group": pl.Utf8,
                "bonus": pl.Int64,
            },
        )
        with transaction.atomic():
            _scores_delete(table, wishes["wish_id"].to_list(), round_.pk, where, params)
            if len(wishes):
                scored = _scored(wishes, accepted, scores, people).select(
                    pl.col("wish_id").alias("wish"),
                    pl.col("combination_id").alias("combination"),
                    "raw",
                    "priority",
                    "bonus",
                    "score",
                    "reason",
                )
                written += frame_insert(
                    WishScore, scored, constants={"computed_at": timezone.now()}
                )
    return written


def _scores_delete(table: str, wish_ids: list[int], round_id: int, where: str, params) -> None:
    """Delete the chunk's old scores. On PostgreSQL by the wish ids as one array, an index
    look-up each: with a sub-query the planner hashes the whole score table (measured 5 s a
    chunk of 20,000 candidates against 6 M scores). A deleted wish takes its score with it
    (the model's cascade), so the chunk's current wishes are all there is to delete."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"DELETE FROM {table} WHERE wish_id = ANY(%s)", [wish_ids])  # noqa: S608
        else:
            cursor.execute(
                f"DELETE FROM {table} WHERE wish_id IN (SELECT id FROM admissions_wish "  # noqa: S608
                f"WHERE round_id = %s AND candidate_id {where})",
                [round_id, *params],
            )


def _candidate_chunks(round_: AdmissionRound, candidate_ids):
    """(SQL condition on a candidate id, its parameters) per chunk of candidates: given ids as
    IN lists, or the round's candidates as id ranges from a keyset walk (no OFFSET, and no
    thousands of parameters per statement)."""
    if candidate_ids is not None:
        ids = sorted({int(i) for i in candidate_ids})
        for start in range(0, len(ids), IDS_PER_LIST):
            chunk = ids[start : start + IDS_PER_LIST]
            yield f"IN ({', '.join(['%s'] * len(chunk))})", chunk
        return
    after = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT max(candidate_id) FROM (SELECT DISTINCT candidate_id FROM admissions_wish "
                "WHERE round_id = %s AND candidate_id > %s ORDER BY candidate_id LIMIT %s) AS page",
                [round_.pk, after, CANDIDATE_CHUNK],
            )
            last = cursor.fetchone()[0]
        if last is None:
            return
        yield "BETWEEN %s AND %s", [after + 1, last]
        after = last
