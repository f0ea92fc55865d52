"""Run the web application under granian (WSGI), the production application server."""

import os
import sys

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Start the web server (granian). / Chạy máy chủ web."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("VNEMIS_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("VNEMIS_PORT", "8000")))
        parser.add_argument(
            "--workers", type=int, default=int(os.environ.get("VNEMIS_WORKERS", "2"))
        )
        # Requests a worker takes at once. One, as a WSGI worker runs one at a time: a busy
        # worker then leaves new connections to an idle one instead of queueing them itself.
        parser.add_argument(
            "--backpressure", type=int, default=int(os.environ.get("VNEMIS_BACKPRESSURE", "1"))
        )

    def handle(self, *args, host, port, workers, backpressure, **options):
        settings_module = os.environ.get("DJANGO_SETTINGS_MODULE", "vnemis.config.settings.dev")
        os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
        granian = [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "wsgi",
            "--host",
            host,
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--backpressure",
            str(backpressure),
            "vnemis.config.wsgi:application",
        ]
        os.execvp(granian[0], granian)  # noqa: S606 - replaces this process with the server
