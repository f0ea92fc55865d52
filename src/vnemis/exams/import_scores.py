"""Scores from the marking system: one row per candidate and paper (docs/exams.md has the format).

Checked set-wise with Polars against the session in a few queries per 5,000 candidate numbers:
malformed scores, unknown candidates and subjects, papers not registered or exempted, rows of
another council, and the same candidate and paper twice. Applied as inserts of new scores and
updates of changed ones (each update keeps the old score in ``ScoreChange``); a score already
recorded with the same value is "unchanged", so the same file twice changes nothing.
"""

from __future__ import annotations

import polars as pl

from . import import_checks as ic
from .files import Column, FileLayout, Table
from .graduation import from_hundredths
from .import_context import Counts, ImportContext, in_chunks
from .models import Candidate, CandidateSubject, ExamImport, ExamSubject, Score, ScoreChange
from .sql import rows_insert, rows_update, timestamp, uuid_value

ENTITY = "scores"
LAYOUT = FileLayout(
    ENTITY,
    (
        Column(
            "candidate_number", "Số báo danh", "Candidate number", ("SBD", "so_bao_danh", "sbd")
        ),
        Column("subject_code", "Mã môn", "Subject code", ("Môn", "Môn thi", "subject", "ma_mon")),
        Column("score", "Điểm", "Score", ("Điểm thi", "diem", "diem_thi")),
    ),
)


def _candidates(numbers: list[str], ctx: ImportContext) -> pl.DataFrame:
    rows = []
    for chunk in in_chunks(numbers):
        rows += Candidate.objects.filter(
            session=ctx.session, candidate_number__in=chunk
        ).values_list("candidate_number", "id", "province_code")
    return pl.DataFrame(
        rows,
        schema={"candidate_number": pl.String, "candidate_id": pl.Int64, "_province": pl.String},
        orient="row",
    )


def _registrations(ids: list[int]) -> pl.DataFrame:
    rows = []
    for chunk in in_chunks(ids):
        rows += CandidateSubject.objects.filter(candidate_id__in=chunk).values_list(
            "candidate_id", "subject__code", "exempt"
        )
    return pl.DataFrame(
        rows,
        schema={"candidate_id": pl.Int64, "subject_code": pl.String, "_exempt": pl.Boolean},
        orient="row",
    )


def check(table: Table, ctx: ImportContext) -> ic.Checked:
    """Every row's problems; the rows without any are ``good`` (with ids and hundredths)."""
    df = table.frame.with_columns(pl.col("subject_code").str.to_uppercase())
    errors = ic.missing_checks(df, ["candidate_number", "subject_code", "score"], entity=ENTITY)
    df, score_errors = ic.score_checks(df, "score", entity=ENTITY)
    errors += score_errors
    subjects = dict(ExamSubject.objects.filter(active=True).values_list("code", "id"))
    df = df.with_columns(
        pl.col("subject_code").replace_strict(subjects, default=None, return_dtype=pl.Int64)
        .alias("subject_id")
    )  # fmt: skip
    has_subject = ~ic.blank("subject_code")
    errors.append(
        ic.errors_where(df, has_subject & pl.col("subject_id").is_null(), entity=ENTITY,
                        column="subject_code", code="unknown_subject")
    )  # fmt: skip
    if ctx.job.subject_id:
        errors.append(
            ic.errors_where(df, has_subject & (pl.col("subject_code") != ctx.job.subject.code),
                            entity=ENTITY, column="subject_code", code="wrong_subject")
        )  # fmt: skip
    numbers = df.filter(~ic.blank("candidate_number"))["candidate_number"].unique().to_list()
    df = df.join(_candidates(numbers, ctx), on="candidate_number", how="left")
    known = pl.col("candidate_id").is_not_null()
    errors.append(
        ic.errors_where(df, ~ic.blank("candidate_number") & ~known, entity=ENTITY,
                        column="candidate_number", code="unknown_candidate")
    )  # fmt: skip
    if ctx.province is not None:
        errors.append(
            ic.errors_where(df, known & (pl.col("_province") != ctx.province), entity=ENTITY,
                            column="candidate_number", code="out_of_scope")
        )  # fmt: skip
    ids = df.filter(known)["candidate_id"].unique().to_list()
    df = df.join(_registrations(ids), on=["candidate_id", "subject_code"], how="left")
    checkable = known & pl.col("subject_id").is_not_null()
    errors += [
        ic.errors_where(df, checkable & pl.col("_exempt").is_null(), entity=ENTITY,
                        column="subject_code", code="subject_not_registered"),
        ic.errors_where(df, checkable & pl.col("_exempt").fill_null(False), entity=ENTITY,
                        column="subject_code", code="subject_exempt"),
    ]  # fmt: skip
    errors += ic.duplicate_checks(df, ["candidate_number", "subject_code"], entity=ENTITY)
    bad = ic.rows_with_errors(errors)
    good = df.filter(~pl.col(ic.ROW).is_in(bad.implode()))
    return ic.Checked(good.select(ic.ROW, "candidate_id", "subject_id", "score_x100"), errors)


def _existing(ids: list[int]) -> pl.DataFrame:
    rows = []
    for chunk in in_chunks(ids):
        rows += Score.objects.filter(candidate_id__in=chunk).values_list(
            "id", "candidate_id", "subject_id", "score"
        )
    return pl.DataFrame(
        [(i, c, s, int(v * 100)) for i, c, s, v in rows],
        schema={"score_id": pl.Int64, "candidate_id": pl.Int64, "subject_id": pl.Int64,
                "old_x100": pl.Int64},
        orient="row",
    )  # fmt: skip


def apply(checked: ic.Checked, ctx: ImportContext, *, dry_run: bool) -> Counts:
    """Insert new scores and update changed ones (history kept); nothing when ``dry_run``."""
    good = checked.good
    ids = good["candidate_id"].unique().to_list()
    merged = good.join(_existing(ids), on=["candidate_id", "subject_id"], how="left")
    new = merged.filter(pl.col("score_id").is_null())
    changed = merged.filter(
        pl.col("score_id").is_not_null() & (pl.col("old_x100") != pl.col("score_x100"))
    )
    counts = Counts(
        inserted=new.height,
        updated=changed.height,
        unchanged=merged.height - new.height - changed.height,
    )
    if dry_run or not (new.height or changed.height):
        return counts
    stamp = timestamp(ctx.now)
    job_ref = uuid_value(ExamImport, ctx.job.pk)
    rows_insert(
        Score,
        ("candidate", "subject", "score", "source_import", "updated_at"),
        (
            (c, s, from_hundredths(v), job_ref, stamp)
            for c, s, v in new.select("candidate_id", "subject_id", "score_x100").iter_rows()
        ),
    )
    updates = [
        (from_hundredths(v), job_ref, stamp, sid)
        for sid, v in changed.select("score_id", "score_x100").iter_rows()
    ]
    rows_update(Score, ["score", "source_import", "updated_at"], updates)
    reason = f"{ctx.job.source_name}"[:500]
    ScoreChange.objects.bulk_create(
        (
            ScoreChange(
                candidate_id=c, subject_id=s, old_score=from_hundredths(old),
                new_score=from_hundredths(v), kind=ScoreChange.Kind.IMPORT, reason=reason,
                source_import=ctx.job, changed_by=ctx.actor_user, changed_at=ctx.now,
            )
            for c, s, old, v in changed.select(
                "candidate_id", "subject_id", "old_x100", "score_x100"
            ).iter_rows()
        ),
        batch_size=5000,
    )  # fmt: skip
    ctx.inputs_changed()
    return counts
