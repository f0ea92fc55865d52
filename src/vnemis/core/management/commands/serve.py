"""Run the web application under granian (WSGI), the production application server.

The application is imported here, in granian's main process, before it forks its workers: they
start with it loaded (a restart serves again after one import instead of one a worker, which on
a busy host is most of the restart) and share its memory pages until they write to them. Safe
to fork: importing it opens no database connection and starts no thread (any connection is
closed before the fork all the same). A SIGHUP reload re-forks workers from this process, so
it serves the code loaded at start: restart the service to deploy new code.
"""

import os

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Start the web server (granian). / Chạy máy chủ web."
    # The system checks import every URL module, as the server itself does; `vnemis check
    # --deploy` runs them at deployment.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("VNEMIS_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("VNEMIS_PORT", "8000")))
        parser.add_argument(
            "--workers", type=int, default=int(os.environ.get("VNEMIS_WORKERS", "2"))
        )
        # Requests a worker takes at once (granian's default when unset). 1 suits a server
        # that mainly receives edXML over fresh connections: a busy worker then leaves new ones
        # to an idle one (the exchange bench). The result look-up (keep-alive, cached) served
        # 2,361 requests/s with it against about 3,000 without.
        parser.add_argument(
            "--backpressure",
            type=int,
            default=int(os.environ.get("VNEMIS_BACKPRESSURE", "0")) or None,
        )

    def handle(self, *args, host, port, workers, backpressure, **options):
        settings_module = os.environ.get("DJANGO_SETTINGS_MODULE", "vnemis.config.settings.dev")
        os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
        granian = [
            "--interface",
            "wsgi",
            "--host",
            host,
            "--port",
            str(port),
            "--workers",
            str(workers),
            *(["--backpressure", str(backpressure)] if backpressure else []),
            "vnemis.config.wsgi:application",
        ]
        from django.core.cache import caches
        from django.db import connections
        from granian.cli import cli

        import vnemis.config.wsgi  # noqa: F401 - the workers are forked with it loaded

        connections.close_all()  # nothing opened while importing may be shared by the workers
        caches.close_all()

        # granian's own command line, in this process (its GRANIAN_* variables apply too)
        cli.main(args=granian, prog_name="granian", auto_envvar_prefix="GRANIAN")
