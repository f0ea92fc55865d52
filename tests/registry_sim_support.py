"""Start the population-registry simulator as its own process for a test, and write its data.

``running_simulator(path, token_ttl=1, client=["a:pw:verify"])`` runs
``python -m vnemis.identity.simulator --citizens PATH --port 0 --token-ttl 1 --client a:pw:verify``
(keyword options become ``--dashed-options``; a list repeats the option, True is a bare flag),
waits for its "listening on" line and stops it at exit. The handle holds the URL, the admin key
and the first client's credentials.
"""

import contextlib
import itertools
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import polars as pl
from sim_process import options_to_arguments, simulator_process

from vnemis.registry.generate.citizens import CITIZEN_SCHEMA


@dataclass
class SimHandle:
    url: str
    admin_key: str
    client_id: str
    client_secret: str
    process: subprocess.Popen
    log: Path | None = None  # the simulator's stderr (its request log)

    def _admin(self) -> dict:
        return {"X-Admin-Key": self.admin_key}

    def configure(self, **settings) -> dict:
        """Change latency and fault settings (``POST /_sim/config``); returns them all."""
        response = httpx.post(f"{self.url}/_sim/config", json=settings, headers=self._admin())
        response.raise_for_status()
        return response.json()["config"]

    def calm(self) -> dict:
        """No latency and no faults (the seed is kept)."""
        return self.configure(
            fail_next=[], latency_ms=0, jitter_ms=0, slow_rate=0, error_500_rate=0,
            error_429_rate=0, timeout_rate=0, drop_rate=0,
        )  # fmt: skip

    def stats(self) -> dict:
        """``GET /_sim/stats``: requests, items_verified, by_status, by_fault, per_client, ..."""
        response = httpx.get(f"{self.url}/_sim/stats", headers=self._admin())
        response.raise_for_status()
        return response.json()

    def reset_stats(self) -> None:
        httpx.post(f"{self.url}/_sim/reset", headers=self._admin()).raise_for_status()

    def token(self, scope: str | None = None) -> str:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }
        if scope:
            form["scope"] = scope
        response = httpx.post(f"{self.url}/oauth/token", data=form)
        response.raise_for_status()
        return response.json()["access_token"]

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8") if self.log else ""


def write_citizens(path: Path, rows: list[dict]) -> Path:
    """A small ``citizens.parquet`` from dicts; missing columns are null."""
    frame = pl.DataFrame(
        [{k: r.get(k) for k in CITIZEN_SCHEMA} for r in rows], schema=CITIZEN_SCHEMA
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(path)
    return path


def citizen(citizen_id: str, full_name: str, born: date, sex: str, **more) -> dict:
    return {
        "citizen_id": citizen_id,
        "full_name": full_name,
        "birth_date": born,
        "sex": sex,
        **more,
    }


@contextlib.contextmanager
def running_simulator(
    citizens: Path, *args: str, log: Path | None = None, command: list[str] | None = None, **options
):
    """The simulator on a free port; yields a ``SimHandle`` and stops the process at exit.

    ``args`` are raw command-line arguments, ``options`` keyword ones (see the module doc);
    ``command`` replaces ``python -m vnemis.identity.simulator`` (e.g. with ``vnemis sim registry``).
    """
    argv = [*(command or [sys.executable, "-m", "vnemis.identity.simulator"]),
            "--citizens", str(citizens), "--port", "0", *args, *options_to_arguments(options)]  # fmt: skip
    clients = options.get("client") or []
    clients = [clients] if isinstance(clients, str) else list(clients)
    clients += [a for prev, a in itertools.pairwise(args) if prev == "--client"]
    client_id, secret = (*clients[0].split(":"), "")[:2] if clients else ("vnemis", "dev-secret")
    admin_key = options.get("admin_key", "sim-admin")
    with simulator_process(argv, "registry-sim-", log) as (url, process, log):
        yield SimHandle(url, admin_key, client_id, secret, process, log)
