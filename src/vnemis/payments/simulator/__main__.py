"""``python -m vnemis.payments.simulator --port N``: run the payment-gateway simulator.

Prints one line, ``payment gateway simulator listening on http://HOST:PORT (N merchants)``, on
stdout once it accepts requests (``--port 0`` picks a free port and prints it); the request
log goes to stderr. SIGTERM and SIGINT stop it.
"""

import argparse
import sys

from vnemis.core.simserver import serve_until_stopped

from .faults import FaultConfig, Faults
from .merchants import DEFAULT_MERCHANT, parse_merchant
from .server import Gateway, make_server
from .transactions import Store

# Fault settings as options: (option, type, help); defaults are those of ``FaultConfig``.
# A type of ``bool`` makes a bare flag.
FAULT_OPTIONS = (
    ("ipn-url", str, "where notifications (IPN) go"),
    ("ipn-delay-s", float, "wait before the first notification attempt"),
    ("ipn-copies", int, "send each notification this many times"),
    ("ipn-concurrent", bool, "send the copies at the same moment"),
    ("ipn-never", bool, "never send notifications"),
    ("ipn-hold", bool, "hold notifications until POST /_sim/ipn/release"),
    ("ipn-attempts", int, "attempts per copy until the merchant answers 00 or 02"),
    ("ipn-retry-s", float, "seconds between attempts"),
    ("ipn-timeout-s", float, "seconds per attempt"),
    ("return-lost", bool, "do not send the payer back to the return URL"),
    ("amount-delta", int, "VND added to the amount reported back"),
    ("query-down", bool, "the query API answers 503"),
)


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    p = parser or argparse.ArgumentParser(
        prog="python -m vnemis.payments.simulator", description="Payment-gateway simulator"
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8766, help="0 picks a free port")
    p.add_argument(
        "--merchant",
        action="append",
        help=f"CODE:SECRET, repeatable (default {DEFAULT_MERCHANT})",
    )
    p.add_argument("--admin-key", default="sim-admin", help="X-Admin-Key for /_sim/*")
    p.add_argument("--quiet", action="store_true", help="no request log on stderr")
    defaults = FaultConfig()
    for option, kind, text in FAULT_OPTIONS:
        default = getattr(defaults, option.replace("-", "_"))
        if kind is bool:
            p.add_argument(f"--{option}", action="store_true", help=text)
        else:
            p.add_argument(f"--{option}", type=kind, default=default, help=f"{text} ({default})")
    return p


def serve(opts: argparse.Namespace) -> None:
    try:
        merchants = [parse_merchant(m) for m in (opts.merchant or [DEFAULT_MERCHANT])]
        faults = Faults(FaultConfig())
        faults.update(
            {o.replace("-", "_"): getattr(opts, o.replace("-", "_")) for o, *_ in FAULT_OPTIONS}
        )
    except ValueError as exc:
        sys.exit(f"payment gateway simulator: {exc}")
    gateway = Gateway(
        store=Store({m.code: m for m in merchants}),
        faults=faults,
        admin_key=opts.admin_key,
        log=None if opts.quiet else sys.stderr,
    )
    server = make_server(gateway, opts.host, opts.port)
    merchant_count = f"{len(merchants)} merchant{'s' if len(merchants) > 1 else ''}"
    serve_until_stopped(server, "payment gateway simulator", merchant_count)


def main(argv: list[str] | None = None) -> None:
    serve(build_parser().parse_args(argv))


if __name__ == "__main__":
    main()
