"""``python -m vnemis.identity.simulator --citizens PATH --port N``: run the simulator."""

import argparse
import signal
import sys
import time
from pathlib import Path

from .access import Quota, Tokens, parse_client
from .citizens import Citizens
from .faults import FaultConfig, Faults
from .server import Registry, make_server


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    p = parser or argparse.ArgumentParser(description="Population-registry simulator")
    p.add_argument("--citizens", required=True, help="registry/citizens.parquet of a dataset")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    p.add_argument(
        "--client",
        action="append",
        help="ID:SECRET[:scopes] (repeatable; default vnemis:dev-secret:verify,extract)",
    )
    p.add_argument("--token-ttl", type=float, default=3600)
    p.add_argument("--quota", type=int, default=100_000, help="requests per window and client")
    p.add_argument("--quota-window", type=float, default=60)
    p.add_argument("--admin-key", default="sim-admin")
    p.add_argument("--quiet", action="store_true", help="no request log")
    for name, kind, default in (
        ("latency-ms", float, 0.0),
        ("jitter-ms", float, 0.0),
        ("slow-rate", float, 0.0),
        ("slow-ms", float, 2000.0),
        ("error-500-rate", float, 0.0),
        ("error-429-rate", float, 0.0),
        ("timeout-rate", float, 0.0),
        ("hang-s", float, 30.0),
        ("drop-rate", float, 0.0),
        ("seed", int, 0),
    ):
        p.add_argument(f"--{name}", type=kind, default=default)
    return p


def serve(opts) -> None:
    started = time.perf_counter()
    citizens = Citizens.load(Path(opts.citizens))
    clients = [parse_client(c) for c in (opts.client or ["vnemis:dev-secret:verify,extract"])]
    faults = Faults(
        FaultConfig(
            latency_ms=opts.latency_ms,
            jitter_ms=opts.jitter_ms,
            slow_rate=opts.slow_rate,
            slow_ms=opts.slow_ms,
            error_500_rate=opts.error_500_rate,
            error_429_rate=opts.error_429_rate,
            timeout_rate=opts.timeout_rate,
            hang_s=opts.hang_s,
            drop_rate=opts.drop_rate,
            seed=opts.seed,
        )
    )
    registry = Registry(
        citizens,
        Tokens(clients, opts.token_ttl),
        Quota(opts.quota, opts.quota_window),
        faults,
        opts.admin_key,
    )
    server = make_server(registry, opts.host, opts.port, quiet=opts.quiet)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    host, port = server.server_address[:2]
    print(
        f"registry simulator listening on http://{host}:{port} ({len(citizens):,} citizens, "
        f"loaded in {time.perf_counter() - started:.1f} s)",
        flush=True,
    )
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> None:
    serve(build_parser().parse_args(argv))


if __name__ == "__main__":
    main()
