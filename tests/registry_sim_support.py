"""Start the population-registry simulator as its own process for a test, and write its data."""

import contextlib
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import polars as pl

from vnemis.registry.generate.citizens import CITIZEN_SCHEMA


@dataclass
class SimHandle:
    url: str
    admin_key: str
    client_id: str
    client_secret: str
    process: subprocess.Popen

    def configure(self, **settings) -> dict:
        response = httpx.post(
            f"{self.url}/_sim/config", json=settings, headers={"X-Admin-Key": self.admin_key}
        )
        response.raise_for_status()
        return response.json()["config"]

    def stats(self) -> dict:
        response = httpx.get(f"{self.url}/_sim/stats", headers={"X-Admin-Key": self.admin_key})
        response.raise_for_status()
        return response.json()["counts"]

    def token(self) -> str:
        response = httpx.post(
            f"{self.url}/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
            },
        )
        response.raise_for_status()
        return response.json()["access_token"]


def write_citizens(path: Path, rows: list[dict]) -> Path:
    """A small ``citizens.parquet``; missing columns are null."""
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
def running_simulator(citizens: Path, *args: str, log: Path | None = None):
    """The simulator on a free port; yields a ``SimHandle`` and stops the process at exit."""
    err = log.open("w") if log else subprocess.DEVNULL
    process = subprocess.Popen(
        [sys.executable, "-m", "vnemis.identity.simulator", "--citizens", str(citizens),
         "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=err,
        text=True,
    )  # fmt: skip
    try:
        line = process.stdout.readline()
        found = re.search(r"listening on (http://\S+)", line)
        if not found:
            raise RuntimeError(f"the simulator did not start: {line!r}")
        yield SimHandle(found.group(1), "sim-admin", "vnemis", "dev-secret", process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        if log:
            err.close()
