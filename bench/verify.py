"""Benchmark: verification of N persons against the population-registry simulator (its own process).

Creates a fresh PostgreSQL database ``vnemis_bench_verify``, generates N pupils with
``vnemis generate`` (realistic noise: 2% mistyped citizen IDs, 3% missing, 2% name typos, 1%
day/month swaps) and the registry's citizens (every true person once plus as many who are not in
school: about 2 N), loads the pupils' person records straight into ``registry_person`` with
``COPY`` (citizen IDs encrypted as the application stores them; not timed), starts the simulator
as a separate process on a free port, then times:

(a) a national verification run (``identity.verification.run_execute``: keyset reads, batches of
1,000, 8 requests in flight, set-wise saves), end to end; (b) the same run again, when nothing
changed (every record must be skipped, none sent); and, as the reference in the same run, (c) the
naive way on a sample: one request per person, in sequence, each answer saved on its own.

    .venv/bin/python bench/verify.py [--persons 1000000] [--database-url postgres://...]

The last line is one JSON object: persons, seconds, persons_per_s, network_wait_share (time the
run waited on the registry's answers / its seconds), rerun_seconds, naive_persons_per_s,
ratio_vs_naive, network_seconds (the requests' own time, summed over the threads), sim_load_seconds,
peak_rss_mb and the run's counts.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

DB_NAME = "vnemis_bench_verify"
NAIVE_SAMPLE = 2_000


def peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def setup_database(server: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    os.environ["DATABASE_URL"] = f"{server}/{DB_NAME}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vnemis.config.settings.dev")
    os.environ.setdefault("VNEMIS_VAR_DIR", str(ROOT / "var"))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("geo", "load", verbosity=0)
    call_command("orgs", "seed", verbosity=0)


def generate_data(work: Path, persons: int, seed: int) -> Path:
    from vnemis.registry.generate import GenerateConfig, NoiseConfig, generate

    noise = NoiseConfig(wrong_citizen_id=0.02, missing_citizen_id=0.03, typo=0.02, date_swap=0.01)
    generate(GenerateConfig(out=work, students=persons, seed=seed, noise=noise))
    return work


def load_persons(data: Path, persons: int) -> int:
    """The school records' persons into registry_person by COPY (what an import leaves)."""
    import polars as pl
    from django.db import connection

    from vnemis.core.crypto import blind_index, encrypt_identifier
    from vnemis.registry.models import Ethnicity

    kinh = Ethnicity.objects.get(code="01").pk
    pupils = pl.read_parquet(data / "pupils.parquet").head(persons)
    ids = pupils["citizen_id"].to_list()
    names = pupils.select(
        words=pl.col("full_name").str.split(" "),
    ).select(
        family=pl.col("words").list.first(),
        middle=pl.col("words").list.slice(1, pl.col("words").list.len() - 2).list.join(" "),
        given=pl.col("words").list.last(),
    )
    frame = pl.DataFrame(
        {
            "education_id": pl.Series(range(1, len(pupils) + 1)).cast(pl.String).str.zfill(12),
            "full_name": pupils["full_name"],
            "family_name": names["family"],
            "middle_name": names["middle"],
            "given_name": names["given"],
            "name_search": pupils["full_name"].str.to_lowercase(),
            "birth_date": pupils["birth_date"],
            "sex": pupils["sex"],
            "ethnicity_id": pl.repeat(kinh, len(pupils), eager=True),
            "citizen_id_ciphertext": [
                ("\\x" + encrypt_identifier(c).hex()) if c else None for c in ids
            ],
            "citizen_id_index": [blind_index(c) if c else "" for c in ids],
            "citizen_id_last3": [c[-3:] if c else "" for c in ids],
            "province_code": pupils["school_code"].str.slice(0, 2),
        }
    )
    frame = frame.with_columns(
        nationality=pl.lit("VN"),
        birth_place=pl.lit(""),
        permanent_address=pl.lit(""),
        policy_categories=pl.lit("[]"),
        disability=pl.lit(""),
        version=pl.lit(1),
        created_at=pl.lit("now"),
        updated_at=pl.lit("now"),
        change_seq=pl.lit(0),
    )
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=False, null_value="\\N", date_format="%Y-%m-%d")
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")  # no per-row triggers here
        with cursor.copy(
            f"COPY registry_person ({', '.join(frame.columns)}) "
            "FROM STDIN WITH (FORMAT csv, NULL '\\N')"
        ) as copy:
            copy.write(buffer.getvalue())
        cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute("ANALYZE registry_person")
    return len(frame)


def start_simulator(citizens: Path):
    process = subprocess.Popen(
        [sys.executable, "-m", "vnemis.identity.simulator", "--citizens", str(citizens),
         "--port", "0", "--quiet"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    started = time.perf_counter()
    line = process.stdout.readline()
    found = re.search(r"listening on (http://\S+) \(([\d,]+) citizens", line)
    if not found:
        process.kill()
        raise SystemExit(f"simulator did not start: {line!r}")
    return (
        process,
        found.group(1),
        int(found.group(2).replace(",", "")),
        time.perf_counter() - started,
    )


def naive_reference(url: str, sample: int) -> float:
    """One request per person, in order, each answer saved alone: persons per second."""
    from django.db import transaction

    from vnemis.core.crypto import decrypt_identifier
    from vnemis.identity.registry_client import ClientConfig, RegistryClient
    from vnemis.identity.verification import Candidate, fingerprint, outcome_of, outcomes_save
    from vnemis.registry.models import Person

    people = list(Person.objects.exclude(citizen_id_ciphertext=None).order_by("-id")[:sample])
    config = ClientConfig.from_settings(base_url=url)
    started = time.perf_counter()
    with RegistryClient(config) as client:
        for p in people:
            answer = client.verify_one(
                {
                    "citizen_id": decrypt_identifier(p.citizen_id_ciphertext),
                    "full_name": p.full_name,
                    "birth_date": p.birth_date.isoformat(),
                    "sex": p.sex,
                }
            )
            status, fields = outcome_of(answer)
            with transaction.atomic():
                outcomes_save(
                    [
                        Candidate(
                            p.pk,
                            status,
                            fields,
                            fingerprint(p.citizen_id_index, p.full_name, p.birth_date, p.sex),
                        )
                    ],
                    method="id_check",
                    run_id=None,
                )
    return len(people) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    server = args.database_url.rstrip("/")
    if server.count("/") > 2:
        server = server.rsplit("/", 1)[0]

    setup_database(server)
    work = Path(tempfile.mkdtemp(prefix="bench_verify_"))
    t = time.perf_counter()
    data = generate_data(work / "data", args.persons, args.seed)
    print(
        f"generated {args.persons:,} pupils and the registry's citizens in {time.perf_counter() - t:.1f} s"
    )
    t = time.perf_counter()
    loaded = load_persons(data, args.persons)
    print(f"loaded {loaded:,} persons in {time.perf_counter() - t:.1f} s")
    process, url, citizens, sim_load = start_simulator(data / "registry" / "citizens.parquet")
    print(f"simulator up with {citizens:,} citizens in {sim_load:.1f} s at {url}")
    os.environ["VNEMIS_REGISTRY_URL"] = url
    try:
        from django.conf import settings

        settings.VNEMIS_REGISTRY_URL = url
        from vnemis.identity.rates import rates_refresh  # noqa: F401  (imported before timing)
        from vnemis.identity.verification import run_create, run_execute
        from vnemis.orgs.models import Organisation

        nation = Organisation.objects.get(parent__isnull=True)
        run = run_create(actor=None, scope=nation, enqueue=False)
        started = time.perf_counter()
        run = run_execute(run.pk)
        seconds = time.perf_counter() - started
        counts = run.counts
        print(f"first run: {seconds:.1f} s, {loaded / seconds:,.0f} persons/s, counts {counts}")

        again = run_create(actor=None, scope=nation, enqueue=False)
        started = time.perf_counter()
        again = run_execute(again.pk)
        rerun = time.perf_counter() - started
        print(f"unchanged re-run: {rerun:.1f} s, sent {again.counts['sent']:,}")

        naive = naive_reference(url, NAIVE_SAMPLE)
        print(f"naive one-by-one reference: {naive:,.0f} persons/s on {NAIVE_SAMPLE:,}")
    finally:
        process.terminate()
        process.wait(timeout=30)

    result = {
        "persons": loaded,
        "seconds": round(seconds, 2),
        "persons_per_s": round(loaded / seconds),
        "network_wait_share": round(counts["wait_seconds"] / counts["seconds"], 3),
        # Requests' own time summed over the threads, per second of run: how busy the pool was.
        "network_seconds": counts["network_seconds"],
        "rerun_seconds": round(rerun, 2),
        "rerun_sent": again.counts["sent"],
        "naive_persons_per_s": round(naive),
        "ratio_vs_naive": round((loaded / seconds) / naive, 1),
        "sim_citizens": citizens,
        "sim_load_seconds": round(sim_load, 1),
        "peak_rss_mb": round(peak_rss_mb()),
        "counts": {k: counts[k] for k in ("sent", "verified", "mismatch", "not_found", "no_id")},
        "goals": {"seconds<120": seconds < 120},
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
