"""Benchmark: the incremental snapshot refresh of one province, from the registry on PostgreSQL.

Creates (or reuses, for the same N) the PostgreSQL database ``vnemis_bench_snapshot`` holding
one generated province of N pupils (``vnemis generate`` + the import engine; not timed), writes
a full snapshot (timed, as ``full_s``), then changes one pupil's enrolment status and times the
incremental refresh that follows (``incremental_s``: finding the dirty partitions from change
numbers, rewriting that province's partitions and its aggregate cube). Run by bench/stats.py
with N = 24 M / 34 (an average province), or alone:

    .venv/bin/python bench/snapshot_refresh.py [--pupils 700000] [--database-url postgres://...]

The last line is one JSON object: pupils, full_s, full_rows, incremental_s, partitions,
rows_per_s, peak_rss_mb.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
DB_NAME = "vnemis_bench_snapshot"
PROVINCE = "01"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pupils", type=int, default=700_000)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    import psycopg

    server = args.database_url.rstrip("/")
    work = ROOT / "var" / "bench" / f"snapshot-{args.pupils}"
    marker = work / "LOADED"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone()
        if not (exists and marker.exists()):
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
            shutil.rmtree(work, ignore_errors=True)
    os.environ["DATABASE_URL"] = f"{server}/{DB_NAME}"
    os.environ["VNEMIS_SNAPSHOT_DIR"] = str(work / "snapshot")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vnemis.config.settings.dev")
    os.environ.setdefault("VNEMIS_VAR_DIR", str(ROOT / "var"))
    os.environ["VNEMIS_LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    from django.core.management import call_command

    from vnemis.registry.generate import GenerateConfig, generate
    from vnemis.registry.loaders import dataset_load
    from vnemis.registry.models import Enrolment
    from vnemis.stats.snapshot import snapshot_refresh

    if not marker.exists():
        start = time.perf_counter()
        call_command("migrate", verbosity=0)
        call_command("geo", "load", verbosity=0)
        call_command("orgs", "seed", verbosity=0)
        data = work / "dataset"
        generate(GenerateConfig(out=data, students=args.pupils, provinces=(PROVINCE,), seed=5))
        result = dataset_load(directory=data)
        print(f"generated and loaded {args.pupils:,} pupils in {time.perf_counter() - start:.0f} s")
        print("\n".join(result.summary_lines()))
        marker.write_text(str(args.pupils))
    shutil.rmtree(work / "snapshot", ignore_errors=True)
    from vnemis.stats.models import SnapshotMark, SnapshotPartition

    SnapshotMark.objects.all().delete()
    SnapshotPartition.objects.all().delete()
    start = time.perf_counter()
    full = snapshot_refresh(full=True)
    full_s = time.perf_counter() - start
    print(f"full snapshot: {full['rows']:,} rows in {full_s:.1f} s")

    enrolment = Enrolment.objects.filter(status="studying").order_by("id").first()
    enrolment.status = "dropped_out"
    enrolment.save(update_fields=["status"])
    start = time.perf_counter()
    again = snapshot_refresh()
    incremental_s = time.perf_counter() - start
    enrolment.status = "studying"
    enrolment.save(update_fields=["status"])
    print(
        f"one pupil changed: {len(again['partitions'])} partitions rewritten in {incremental_s:.2f} s"
    )
    print(
        json.dumps(
            {
                "pupils": args.pupils,
                "full_s": round(full_s, 2),
                "full_rows": full["rows"],
                "incremental_s": round(incremental_s, 3),
                "partitions": again["partitions"],
                "rows_per_s": round(full["rows"] / full_s),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            }
        )
    )


if __name__ == "__main__":
    main()
