"""Models of the exchange: import jobs, sync-API idempotency, reporting periods and submissions.

Split by purpose into ``models_imports`` and ``models_submissions``; this module re-exports
them so Django finds every model of the app here.
"""

from .models_imports import IdempotencyRecord, ImportJob
from .models_submissions import Reminder, ReportingPeriod, Submission, SubmissionEvent

__all__ = [
    "IdempotencyRecord",
    "ImportJob",
    "Reminder",
    "ReportingPeriod",
    "Submission",
    "SubmissionEvent",
]
