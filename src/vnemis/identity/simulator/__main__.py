"""``python -m vnemis.identity.simulator --citizens PATH --port N``: run the simulator.

Prints one line, ``registry simulator listening on http://HOST:PORT (N citizens)``, on stdout
once it accepts requests (``--port 0`` picks a free port and prints it); the request log goes
to stderr. SIGTERM and SIGINT stop it.
"""

import argparse
import resource
import sys
import time
from pathlib import Path

from vnemis.core.simserver import serve_until_stopped

from .auth import DEFAULT_CLIENT, Tokens, parse_client
from .citizens import Citizens, CitizensFileError
from .faults import FaultConfig, Faults
from .quota import Quota
from .server import Simulator, make_server

# Fault settings as options: (option, type, help); defaults are those of ``FaultConfig``.
FAULT_OPTIONS = (
    ("latency-ms", float, "added to every answer of /oauth and /api"),
    ("jitter-ms", float, "plus a uniform random 0..jitter"),
    ("slow-rate", float, "share of API requests answered slow_ms late"),
    ("slow-ms", float, "delay of a slow answer"),
    ("error-500-rate", float, "share of API requests answered 500"),
    ("error-429-rate", float, "share of API requests answered 429 (Retry-After: 1)"),
    ("timeout-rate", float, "share of API requests that hang hang_s, then close unanswered"),
    ("hang-s", float, "how long a timeout fault hangs"),
    ("drop-rate", float, "share of API requests whose connection is closed unanswered"),
    ("seed", int, "seed of the random faults and jitter"),
)


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    p = parser or argparse.ArgumentParser(
        prog="python -m vnemis.identity.simulator", description="Population-registry simulator"
    )
    p.add_argument("--citizens", required=True, help="registry/citizens.parquet of a dataset")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    p.add_argument(
        "--client",
        action="append",
        help=f"ID:SECRET[:scopes], repeatable; scopes verify,extract (default {DEFAULT_CLIENT})",
    )
    p.add_argument("--token-ttl", type=float, default=3600, help="token lifetime, seconds")
    p.add_argument("--quota", type=int, default=100_000, help="requests per window and client")
    p.add_argument("--quota-window", type=float, default=60, help="seconds")
    p.add_argument("--admin-key", default="sim-admin", help="X-Admin-Key for /_sim/*")
    p.add_argument("--quiet", action="store_true", help="no request log on stderr")
    defaults = FaultConfig()
    for option, kind, text in FAULT_OPTIONS:
        default = getattr(defaults, option.replace("-", "_"))
        p.add_argument(f"--{option}", type=kind, default=default, help=f"{text} ({default})")
    p.add_argument(
        "--fail-next",
        default="",
        help="comma-separated faults for the first requests, e.g. 500,drop,429",
    )
    return p


def serve(opts: argparse.Namespace) -> None:
    started = time.perf_counter()
    try:
        clients = [parse_client(c) for c in (opts.client or [DEFAULT_CLIENT])]
        settings = {
            o.replace("-", "_"): getattr(opts, o.replace("-", "_")) for o, *_ in FAULT_OPTIONS
        }
        fail_next = [f for f in opts.fail_next.split(",") if f]
        faults = Faults(FaultConfig())
        faults.update({**settings, "fail_next": fail_next})
        citizens = Citizens.load(Path(opts.citizens))
    except (ValueError, CitizensFileError) as exc:
        sys.exit(f"registry simulator: {exc}")
    loaded = time.perf_counter() - started
    sim = Simulator(
        citizens=citizens,
        tokens=Tokens(clients, opts.token_ttl),
        quota=Quota(opts.quota, opts.quota_window),
        faults=faults,
        admin_key=opts.admin_key,
        log=None if opts.quiet else sys.stderr,
    )
    server = make_server(sim, opts.host, opts.port)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    loaded_note = (
        f"loaded {len(citizens)} citizens in {loaded:.1f} s "
        f"(index {citizens.nbytes / 2**20:.0f} MB, peak RSS {peak_mb:.0f} MB)"
    )
    serve_until_stopped(
        server, "registry simulator", f"{len(citizens)} citizens", notes=[loaded_note]
    )


def main(argv: list[str] | None = None) -> None:
    serve(build_parser().parse_args(argv))


if __name__ == "__main__":
    main()
