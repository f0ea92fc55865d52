"""``vnemis sim registry|payment``: simulators of external national systems, as own services.

``vnemis sim registry --citizens PATH --port N`` is the population registry, ``vnemis sim
payment --port N`` the payment gateway. Other parties' systems, so each runs without our
database; the options are those of ``python -m vnemis.identity.simulator`` and
``python -m vnemis.payments.simulator`` (``vnemis sim registry --help`` lists them).
"""

import argparse

from django.core.management.base import BaseCommand

from vnemis.identity.simulator import __main__ as registry
from vnemis.payments.simulator import __main__ as payment


class Command(BaseCommand):
    help = (
        "Simulators of external national systems: `registry` (the population registry), "
        "`payment` (the payment gateway)."
    )
    requires_system_checks: list[str] = []  # needs neither our models nor the database
    requires_migrations_checks = False

    def add_arguments(self, parser):
        systems = parser.add_subparsers(dest="system", required=True)
        registry.build_parser(
            systems.add_parser("registry", help="the national population registry")
        )
        payment.build_parser(
            systems.add_parser("payment", help="the payment gateway (VNPay-style)")
        )

    def handle(self, *args, **opts):
        serve = payment.serve if opts["system"] == "payment" else registry.serve
        serve(argparse.Namespace(**opts))
