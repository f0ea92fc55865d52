"""``vnemis sim registry --citizens PATH --port N``: the population-registry simulator.

Another agency's system, so it runs as its own service without our database; the options are
those of ``python -m vnemis.identity.simulator`` (``vnemis sim registry --help`` lists them).
"""

import argparse

from django.core.management.base import BaseCommand

from vnemis.identity.simulator.__main__ import build_parser, serve


class Command(BaseCommand):
    help = "Simulators of external national systems: `registry` (the population registry)."
    requires_system_checks: list[str] = []  # needs neither our models nor the database
    requires_migrations_checks = False

    def add_arguments(self, parser):
        systems = parser.add_subparsers(dest="system", required=True)
        build_parser(systems.add_parser("registry", help="the national population registry"))

    def handle(self, *args, **opts):
        serve(argparse.Namespace(**opts))
