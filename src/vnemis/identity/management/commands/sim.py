"""``vnemis sim registry --citizens PATH --port N``: the population-registry simulator.

Another agency's system, so it runs as its own service without our database; the options are
those of ``python -m vnemis.identity.simulator`` (``--help`` lists latency and fault settings).
"""

from django.core.management.base import BaseCommand

from vnemis.identity.simulator.__main__ import build_parser, serve


class Command(BaseCommand):
    help = "Simulators of external national systems: `registry` (population registry)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="system", required=True)
        build_parser(sub.add_parser("registry", help="national population registry"))

    def handle(self, *args, **opts):
        import argparse

        serve(argparse.Namespace(**opts))
