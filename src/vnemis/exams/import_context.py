"""What an exam import's checks and writes share: the job, who runs it and where they may write."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from .models import Candidate, ExamImport, ExamSession

CHUNK = 5000  # values per IN (...) list: well under SQLite's and PostgreSQL's parameter limits


def in_chunks(values: Sequence, size: int = CHUNK) -> Iterator[list]:
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start : start + size]


@dataclass
class Counts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class ImportContext:
    job: ExamImport
    session: ExamSession
    actor: object  # the user the job runs as; None for the operator
    now: datetime
    province: str | None  # a Department's council: rows of other provinces are refused
    units: set[int] | None  # registration units the actor reaches (None: all)

    @property
    def actor_user(self):
        return self.actor if getattr(self.actor, "pk", None) else None

    def inputs_changed(self) -> None:
        """Graduation results are stale from now on (publication refuses them)."""
        ExamSession.objects.filter(pk=self.session.pk).update(inputs_changed_at=self.now)


def candidates_join(df: pl.DataFrame, ctx: ImportContext, *, entity: str):
    """Join each row's candidate (by education ID) and check it exists and is in the actor's
    reach: (the joined frame, the "known candidate" expression, the errors)."""
    from . import import_checks as ic

    ids = df.filter(~ic.blank("education_id"))["education_id"].unique().to_list()
    rows = []
    for chunk in in_chunks(ids):
        rows += Candidate.objects.filter(
            session=ctx.session, person__education_id__in=chunk
        ).values_list("person__education_id", "id", "unit_id")
    found = pl.DataFrame(
        rows,
        schema={"education_id": pl.String, "candidate_id": pl.Int64, "_unit": pl.Int64},
        orient="row",
    )
    df = df.join(found, on="education_id", how="left")
    known = pl.col("candidate_id").is_not_null()
    errors = [
        ic.errors_where(df, ~ic.blank("education_id") & ~known, entity=entity,
                        column="education_id", code="unknown_candidate")
    ]  # fmt: skip
    if ctx.units is not None:
        errors.append(
            ic.errors_where(df, known & ~pl.col("_unit").is_in(list(ctx.units)), entity=entity,
                            column="education_id", code="out_of_scope")
        )  # fmt: skip
    return df, known, errors
