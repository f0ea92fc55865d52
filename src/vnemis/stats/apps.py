import logging

from django.apps import AppConfig
from django.db import transaction
from django.db.models.signals import post_save

logger = logging.getLogger(__name__)


def _submission_event_saved(sender, instance, created, **kwargs) -> None:
    """An approval (a new SubmissionEvent to "approved"): refresh the school's province's
    snapshot for that school year, after the approval commits (``actions_snapshot``)."""
    if not created or instance.to_status != "approved":
        return
    from .actions_snapshot import snapshot_refresh_after_approval

    submission = instance.submission
    # A savepoint: a failure to queue the refresh must never undo the approval.
    try:
        with transaction.atomic():
            snapshot_refresh_after_approval(
                school_id=submission.school_id,
                school_year=submission.period.school_year.start_year,
            )
    except Exception:
        logger.exception(
            "snapshot refresh after approval of submission %s not queued", submission.pk
        )


class StatsConfig(AppConfig):
    name = "vnemis.stats"
    label = "stats"
    verbose_name = "Statistics"

    def ready(self) -> None:
        # The exchange app sends no signal of its own on approval; every transition writes a
        # SubmissionEvent in the approving transaction, so its post_save is the hook.
        post_save.connect(
            _submission_event_saved,
            sender="exchange.SubmissionEvent",
            dispatch_uid="vnemis.stats.snapshot_after_approval",
        )
