"""Benchmark: bulk import of a class roster (pupil + enrolment per row) into PostgreSQL.

Creates a fresh database ``vnemis_bench_import`` (dropped and made again each run), migrates
it, loads geography and the organisation tree, generates N pupils with ``vnemis generate``
(realistic Vietnamese names, dates, citizen IDs for most pupils), loads their schools and
classes (not timed), writes one roster CSV of N rows (the pupil's details and their enrolment
on one row), then times:

(a) the first import of the roster, (b) the same file again (nothing may change), (c) the file
with 1% of the rows changed;

and, on the same rows in the same run, two references: raw ``COPY`` of the CSV into a table of
the same columns with only a primary key (the practical limit), and Django ``bulk_create`` of
Person + Enrolment objects (what a typical Django system does; on a subset of the rows when N
is large: its rate is extrapolated, never its time). Finally the first import into a fresh
SQLite database (a child process) gives ``sqlite_rows_per_s``.

The import path is the real pipeline ``vnemis.exchange.imports.import_file`` (intake + engine)
when it is importable and ``--path engine`` is not given; otherwise the roster is split into
canonical pupils and enrolments files (timed) and handed to the engine
(``registry.loaders.dataset_load``). The JSON names the path taken.

    .venv/bin/python bench/import.py [--rows 1000000] [--database-url postgres://...]

The last line is one JSON object: rows, first_rows_per_s, ratio_vs_copy, ratio_vs_bulk_create,
reimport_speedup, changed_1pct_seconds, peak_rss_mb, sqlite_rows_per_s and the raw seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

DB_NAME = "vnemis_bench_import"
BULK_CREATE_MAX = 50_000  # bulk_create above this is timed on a subset and extrapolated


def peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def _django(database_url: str | None, sqlite_path: str | None = None) -> None:
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    else:
        os.environ.pop("DATABASE_URL", None)
        os.environ["VNEMIS_SQLITE_PATH"] = sqlite_path
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vnemis.config.settings.dev")
    os.environ.setdefault("VNEMIS_VAR_DIR", str(ROOT / "var"))
    import django

    django.setup()


def _setup_registry() -> object:
    """Migrate, load geography and the organisation tree; return an unrestricted actor."""
    from django.core.management import call_command

    from vnemis.geo.models import Province
    from vnemis.orgs.models import Organisation, User

    call_command("migrate", verbosity=0)
    if not Province.objects.exists():
        call_command("geo", "load", verbosity=0)
    if not Organisation.objects.filter(kind="ministry").exists():
        call_command("orgs", "seed", verbosity=0)
    ministry = Organisation.objects.get(kind="ministry")
    actor, _ = User.objects.get_or_create(
        username="bench_import", defaults={"role": "ministry", "scope": ministry}
    )
    return actor


# -- data ---------------------------------------------------------------------------------------


def make_data(work: Path, rows: int, seed: int) -> dict[str, Path]:
    """Generated schools and classes (canonical files) and the roster CSV of ``rows`` rows."""
    import polars as pl

    from vnemis.registry import exchange_format as xf
    from vnemis.registry.generate import GenerateConfig, generate

    gen = work / "generated"
    generate(GenerateConfig(out=gen, students=rows, seed=seed))
    pupils = pl.read_parquet(gen / "pupils.parquet")
    enrolments = pl.read_parquet(gen / "enrolments.parquet")
    roster = pupils.join(enrolments, on=["school_code", "pupil_code"], how="inner").head(rows)
    roster = roster.select(xf.ROSTER.column_names)
    out = {
        "schools": gen / "schools.parquet",
        "classes": gen / "classes.parquet",
        "roster": work / "roster.csv",
        "changed": work / "roster_changed.csv",
    }
    roster.write_csv(out["roster"], date_format="%Y-%m-%d")
    # 1% of the rows changed: every hundredth pupil gets a corrected name spelling.
    changed = roster.with_row_index("_i").with_columns(
        pl.when(pl.col("_i") % 100 == 7)
        .then(pl.col("full_name") + pl.lit(" Anh"))
        .otherwise(pl.col("full_name"))
        .alias("full_name")
    )
    changed.drop("_i").write_csv(out["changed"], date_format="%Y-%m-%d")
    for name in ("staff", "subject_results", "result_summaries", "health_records"):
        (gen / f"{name}.parquet").unlink(missing_ok=True)
    return out


def roster_split(roster: Path, out: Path) -> dict[str, Path]:
    """The engine's canonical files from a roster CSV (what intake does, minus its checks)."""
    import polars as pl

    from vnemis.registry import exchange_format as xf

    out.mkdir(parents=True, exist_ok=True)
    lf = pl.scan_csv(roster, infer_schema=False).with_row_index("_row", offset=2)
    files = {}
    for entity, columns in xf.layout_split(xf.ROSTER).items():
        path = out / f"{entity}.parquet"
        lf.select("_row", *columns).sink_parquet(path)
        files[entity] = path
    return files


# -- timed imports -----------------------------------------------------------------------------


def _counts(result_or_job) -> dict:
    if hasattr(result_or_job, "entities"):
        e = result_or_job.entities
        keys = ("rows", "inserted", "updated", "unchanged", "rejected")
        return {k: sum(getattr(e[n], k) for n in ("pupils", "enrolments") if n in e) for k in keys}
    job = result_or_job
    return {
        "status": job.status,
        "inserted": job.inserted,
        "updated": job.updated,
        "unchanged": job.unchanged,
        "rejected": job.rows_rejected,
        "error": (job.error or "")[:300] if hasattr(job, "error") else "",
    }


def import_roster(path: Path, *, actor, how: str, work: Path, label: str) -> tuple[float, dict]:
    started = time.perf_counter()
    if how == "pipeline":
        from vnemis.exchange.imports import import_file

        job = import_file(path, actor=actor, school=None, entity="roster", origin="cli")
        seconds = time.perf_counter() - started
        return seconds, _counts(job)
    from vnemis.registry.loaders import dataset_load

    files = roster_split(path, work / f"canonical_{label}")
    result = dataset_load(files=files, actor=actor, source=f"bench:{label}")
    seconds = time.perf_counter() - started
    return seconds, _counts(result)


# -- references -------------------------------------------------------------------------------


def reference_copy(roster: Path) -> float:
    """Raw COPY of the CSV into a table of the same columns with only a primary key."""
    from django.db import connection

    from vnemis.registry import exchange_format as xf

    cols = xf.ROSTER.column_names
    with connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_copy_roster")
        cur.execute(
            "CREATE TABLE bench_copy_roster (id bigserial PRIMARY KEY, "
            + ", ".join(f"{c} text" for c in cols)
            + ")"
        )
    raw = connection.connection
    started = time.perf_counter()
    with (
        raw.cursor() as cur,
        cur.copy(
            f"COPY bench_copy_roster ({', '.join(cols)}) FROM STDIN (FORMAT csv, HEADER true)"
        ) as copy,
        open(roster, "rb") as fh,
    ):
        while block := fh.read(1 << 20):
            copy.write(block)
    raw.commit()
    seconds = time.perf_counter() - started
    with connection.cursor() as cur:
        cur.execute("DROP TABLE bench_copy_roster")
    return seconds


def reference_bulk_create(roster: Path, rows: int) -> tuple[float, int]:
    """Django bulk_create of Person + Enrolment objects for (a subset of) the rows, into fresh
    copies of nothing: the persons get new education IDs so they never collide."""
    from datetime import date

    import polars as pl
    from django.db import transaction

    from vnemis.orgs.models import Organisation
    from vnemis.registry.models import Enrolment, Ethnicity, Person, SchoolClass, SchoolYear

    n = min(rows, BULK_CREATE_MAX)
    df = pl.read_csv(roster, infer_schema=False, n_rows=n)
    year = SchoolYear.objects.get(code=df["school_year"][0])
    schools = dict(Organisation.objects.values_list("code", "id"))
    ethnicities = dict(Ethnicity.objects.values_list("code", "id"))
    classes = {
        (s, name): cid
        for s, name, cid in SchoolClass.objects.filter(school_year=year).values_list(
            "school__code", "name", "id"
        )
    }
    started = time.perf_counter()
    with transaction.atomic():
        persons = []
        for i, r in enumerate(df.iter_rows(named=True)):
            persons.append(
                Person(
                    education_id=f"9{i:011d}",
                    full_name=r["full_name"],
                    given_name=r["full_name"].split(" ")[-1],
                    birth_date=date.fromisoformat(r["birth_date"]),
                    sex=r["sex"],
                    ethnicity_id=ethnicities[r["ethnicity_code"]],
                    nationality="VN",
                    province_code=r["school_code"][:2],
                )
            )
        Person.objects.bulk_create(persons, batch_size=5000)
        enrolments = [
            Enrolment(
                pupil=p,
                school_id=schools[r["school_code"]],
                school_year=year,
                school_class_id=classes.get((r["school_code"], r["class_name"])),
                pupil_code=f"B{r['pupil_code']}",
                status="studying",
                started_on=date.fromisoformat(r["started_on"]),
                province_code=r["school_code"][:2],
            )
            for p, r in zip(persons, df.iter_rows(named=True), strict=True)
        ]
        Enrolment.objects.bulk_create(enrolments, batch_size=5000)
        seconds = time.perf_counter() - started
        transaction.set_rollback(True)
    return seconds, n


# -- SQLite -------------------------------------------------------------------------------------


def sqlite_child(args) -> None:
    """Child process: fresh SQLite registry, schools + classes, then the timed first import."""
    _django(None, args.sqlite_child)
    actor = _setup_registry()
    from vnemis.registry.loaders import dataset_load

    work = Path(args.work)
    dataset_load(files={"schools": work / "schools.parquet", "classes": work / "classes.parquet"})
    seconds, counts = import_roster(
        work / "roster.csv", actor=actor, how=args.path, work=work, label="sqlite"
    )
    print(json.dumps({"seconds": seconds, "counts": counts}))


def run_sqlite(work: Path, data: dict[str, Path], how: str) -> tuple[float, dict]:
    child = work / "sqlite"
    child.mkdir(exist_ok=True)
    for name in ("schools", "classes"):
        shutil.copy(data[name], child / f"{name}.parquet")
    shutil.copy(data["roster"], child / "roster.csv")
    db = child / "bench.sqlite3"
    cmd = [sys.executable, __file__, "--sqlite-child", str(db), "--work", str(child), "--path", how]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"SQLite run failed:\n{out.stderr[-3000:]}")
    last = json.loads(out.stdout.strip().splitlines()[-1])
    return last["seconds"], last["counts"]


# -- main ---------------------------------------------------------------------------------------


def _pipeline_available() -> bool:
    try:
        from vnemis.exchange.imports import import_file  # noqa: F401
    except Exception:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--path", choices=["auto", "pipeline", "engine"], default="auto")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--sqlite-child", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sqlite_child:
        sqlite_child(args)
        return

    import psycopg

    server = args.database_url.rstrip("/")
    if server.count("/") > 2:  # a URL naming a database: use its server
        server = server.rsplit("/", 1)[0]
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    _django(f"{server}/{DB_NAME}")
    actor = _setup_registry()
    how = args.path
    if how == "auto":
        how = "pipeline" if _pipeline_available() else "engine"

    from django.db import connection

    from vnemis.registry.loaders import dataset_load

    work = Path(tempfile.mkdtemp(prefix="vnemis-bench-import-"))
    try:
        started = time.perf_counter()
        data = make_data(work, args.rows, args.seed)
        gen_seconds = time.perf_counter() - started
        base = dataset_load(files={"schools": data["schools"], "classes": data["classes"]})
        with connection.cursor() as cur:
            cur.execute("VACUUM ANALYZE")
        print(
            f"data generated in {gen_seconds:.1f} s; schools + classes loaded in "
            f"{base.seconds:.1f} s ({base.rows:,} rows)",
            flush=True,
        )
        first_s, first = import_roster(data["roster"], actor=actor, how=how, work=work, label="a")
        print(f"(a) first import      {first_s:8.2f} s  {first}", flush=True)
        again_s, again = import_roster(data["roster"], actor=actor, how=how, work=work, label="b")
        print(f"(b) re-import         {again_s:8.2f} s  {again}", flush=True)
        changed_s, changed = import_roster(
            data["changed"], actor=actor, how=how, work=work, label="c"
        )
        print(f"(c) 1% changed        {changed_s:8.2f} s  {changed}", flush=True)
        copy_s = reference_copy(data["roster"])
        print(f"reference COPY        {copy_s:8.2f} s", flush=True)
        bulk_s, bulk_n = reference_bulk_create(data["roster"], args.rows)
        bulk_rate = bulk_n / bulk_s
        print(
            f"reference bulk_create {bulk_s:8.2f} s for {bulk_n:,} rows ({bulk_rate:,.0f} rows/s"
            + (", subset: rate extrapolated)" if bulk_n < args.rows else ")"),
            flush=True,
        )
        sqlite_s, sqlite_counts = (0.0, {})
        if not args.skip_sqlite:
            sqlite_s, sqlite_counts = run_sqlite(work, data, how)
            print(f"SQLite first import   {sqlite_s:8.2f} s  {sqlite_counts}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    rows = args.rows
    first_rate = rows / first_s
    copy_rate = rows / copy_s
    summary = {
        "rows": rows,
        "path": how,
        "first_rows_per_s": round(first_rate),
        "ratio_vs_copy": round(first_rate / copy_rate, 3),
        "ratio_vs_bulk_create": round(first_rate / bulk_rate, 2),
        "reimport_speedup": round(first_s / again_s, 2),
        "changed_1pct_seconds": round(changed_s, 2),
        "peak_rss_mb": round(peak_rss_mb()),
        "sqlite_rows_per_s": round(rows / sqlite_s) if sqlite_s else None,
        "first_seconds": round(first_s, 2),
        "reimport_seconds": round(again_s, 2),
        "copy_seconds": round(copy_s, 2),
        "copy_rows_per_s": round(copy_rate),
        "bulk_create_seconds": round(bulk_s, 2),
        "bulk_create_rows": bulk_n,
        "bulk_create_rows_per_s": round(bulk_rate),
        "sqlite_seconds": round(sqlite_s, 2),
        "first_counts": first,
        "reimport_counts": again,
        "changed_counts": changed,
        "goals": {
            "first_rows_per_s>=100000": first_rate >= 100_000,
            "ratio_vs_copy>=0.3": first_rate / copy_rate >= 0.3,
            "ratio_vs_bulk_create>=5": first_rate / bulk_rate >= 5,
            "reimport_speedup>=3": first_s / again_s >= 3,
            "peak_rss_mb<1500": peak_rss_mb() < 1500,
            "sqlite_rows_per_s>=50000": bool(sqlite_s) and rows / sqlite_s >= 50_000,
        },
    }
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
