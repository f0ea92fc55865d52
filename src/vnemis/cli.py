"""The ``vnemis`` command: Django's management commands under one name.

``vnemis serve`` runs the web server (granian), ``vnemis worker`` the job worker, and every other
sub-command is a management command (``vnemis generate``, ``vnemis audit verify``, ...).
"""

import os
import sys


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vnemis.config.settings.dev")
    if len(argv) > 1 and argv[1] == "serve":
        import gc

        gc.disable()  # until the application is loaded and frozen (config/wsgi.py)
    if len(argv) > 1 and argv[1] == "worker":
        argv[1] = "db_worker"
        if "--skip-checks" not in argv:
            # As the web server does not: the system checks import every URL module (seconds
            # of CPU at each start); `vnemis check --deploy` runs them at deployment.
            argv.append("--skip-checks")
        _resume_stale_imports()
    from django.core.management import execute_from_command_line

    execute_from_command_line(argv)


def _resume_stale_imports() -> None:
    """A starting worker first re-queues imports whose previous worker died mid-job."""
    import django
    from django.db import DatabaseError

    django.setup()
    from vnemis.exchange.imports import import_resume_stale

    try:
        resumed = import_resume_stale()
    except DatabaseError:  # not migrated yet: nothing to resume
        return
    if resumed:
        print(f"Re-queued {len(resumed)} interrupted import job(s).", file=sys.stderr)


if __name__ == "__main__":
    main()
