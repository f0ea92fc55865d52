"""What an exam import's checks and writes share: the job, who runs it and where they may write."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from .models import ExamImport, ExamSession

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
