"""One side of the exchange tests and bench run as its own processes: the test settings, but
tasks are queued in the database and run by the instance's worker, as in production."""

from .test import *  # noqa: F403

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
