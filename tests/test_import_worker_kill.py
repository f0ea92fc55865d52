"""Kill the worker in the middle of an import: the registry holds whole chunks only, and the job
resumes on a new worker and ends with exactly the file's rows, none twice.

Everything runs in real processes against a database of its own (a temporary SQLite file, or a
fresh PostgreSQL database when the suite runs on PostgreSQL): ``vnemis migrate``, a set-up
script, the ``vnemis worker`` (django-tasks' database worker) which is SIGKILLed mid-apply,
``vnemis import --resume-stale`` and a second worker. The test reads the job and the registry
with plain SQL, as an operator would, so nothing in this process shares state with them.
"""

import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROWS = 12_000
CHUNK = 400
STALE_SECONDS = 3

SETUP = """
import csv, sys
from datetime import date
from vnemis.geo.models import Commune, Province
from vnemis.orgs.actions import organisation_create
from vnemis.orgs.models import User
from vnemis.registry import actions as ra
from vnemis.registry.models import SchoolYear
from vnemis.exchange.imports import import_create

hn = Province.objects.create(code="01", name="Thành phố Hà Nội", division_type="thành phố trung ương")
ward = Commune.objects.create(code="00004", name="Phường Ba Đình", kind="phuong", province=hn)
moet = organisation_create(code="BGDDT", name="Bộ Giáo dục và Đào tạo", kind="ministry")
so = organisation_create(code="SGD01", name="Sở GD&ĐT Hà Nội", kind="department", parent=moet, province=hn)
school = organisation_create(
    code="01000101", name="Trường Tiểu học Ba Đình", kind="school", level="primary",
    ownership="public", opened_on=date(1990, 9, 1), parent=so, province=hn, commune=ward,
)
year = SchoolYear.objects.create(
    code="2025-2026", start_year=2025, starts_on=date(2025, 9, 5), ends_on=date(2026, 5, 31),
    is_current=True,
)
for name in ("3A", "3B", "3C", "3D"):
    ra.school_class_get_or_create(school=school, school_year=year, grade=3, name=name)
user = User.objects.create_user("truong_a", password="pw", role="school", scope=school)
path = sys.argv[1]
family = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi"]
given = ["An", "Bình", "Chi", "Dũng", "Giang", "Hà", "Khoa", "Lan", "Minh", "Ngọc"]
with open(path, "w", newline="", encoding="utf-8") as fh:
    w = csv.writer(fh)
    w.writerow(["school_code", "pupil_code", "full_name", "birth_date", "sex", "ethnicity_code",
                "nationality", "school_year", "class_name", "status", "started_on"])
    for i in range(int(sys.argv[2])):
        w.writerow(["01000101", f"HS{i:06d}", f"{family[i % 8]} Văn {given[(i // 8) % 10]}",
                    f"2017-{1 + i % 8:02d}-{1 + i % 28:02d}", "MF"[i % 2], "01", "VN",
                    "2025-2026", "3" + "ABCD"[i % 4], "studying", "2025-09-05"])
job = import_create(actor=user, source=path, source_name="roster.csv", origin="cli")
print("JOB", job.pk)
"""


class Database:
    """The test's own database, reached by plain SQL (sqlite3 or psycopg)."""

    def __init__(self, tmp: Path) -> None:
        url = os.environ.get("DATABASE_URL", "")
        self.pg = url.startswith("postgres")
        self.env = {}
        if self.pg:
            import psycopg

            base, _, _name = url.rpartition("/")
            self.name = f"vnemis_kill_{uuid.uuid4().hex[:8]}"
            self.admin_url = f"{base}/postgres"
            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.name}"')
            self.url = f"{base}/{self.name}"
            self.env["DATABASE_URL"] = self.url
        else:
            self.path = tmp / "kill.sqlite3"
            self.env["VNEMIS_SQLITE_PATH"] = str(self.path)

    def query(self, sql: str) -> list[tuple]:
        if self.pg:
            import psycopg

            with psycopg.connect(self.url) as conn:
                return conn.execute(sql).fetchall()
        conn = sqlite3.connect(self.path, timeout=30)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    def drop(self) -> None:
        if self.pg:
            import psycopg

            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


@pytest.fixture
def world(tmp_path):
    db = Database(tmp_path)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "VNEMIS_SQLITE_PATH", "DJANGO_SETTINGS_MODULE")
    }
    env.update(db.env)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "vnemis.config.settings.dev",
            "VNEMIS_VAR_DIR": str(tmp_path / "var"),
            "VNEMIS_IMPORT_CHUNK_ROWS": str(CHUNK),
            "VNEMIS_IMPORT_STALE_SECONDS": str(STALE_SECONDS),
            "VNEMIS_DEBUG": "0",
        }
    )
    procs: list[subprocess.Popen] = []
    yield db, env, procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    db.drop()


def vnemis(env, *args, timeout=300) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "vnemis.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def start_worker(env, procs, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "vnemis.cli", "worker", "--interval", "0.1", "--no-startup-delay"],
        env=env,
        stdout=open(log, "ab"),  # noqa: SIM115 - the child owns the handle
        stderr=subprocess.STDOUT,
    )
    procs.append(proc)
    return proc


def job_state(db) -> dict:
    status, done, total, chunks, attempts, inserted, result = db.query(
        "SELECT status, done, total, chunks_done, attempts, inserted, result "
        "FROM exchange_importjob"
    )[0]
    if isinstance(chunks, str):
        chunks = json.loads(chunks)
    return {
        "status": status,
        "done": done,
        "total": total,
        "chunks": chunks or {},
        "attempts": attempts,
        "inserted": inserted,
        "result": json.loads(result) if isinstance(result, str) else result,
    }


def registry_counts(db) -> tuple[int, int]:
    persons = db.query("SELECT COUNT(*) FROM registry_person")[0][0]
    enrolments = db.query("SELECT COUNT(*) FROM registry_enrolment")[0][0]
    return persons, enrolments


def chunk_ends(tmp_path: Path) -> tuple[list[int], set[int]]:
    """Rows committed after 0, 1, 2… whole chunks: pupils (the engine's chunks of the job's
    canonical file) and the possible counts of enrolments (chunks of their own file, or the
    enrolments of the same file rows as each pupils chunk, when a roster loads in pairs)."""
    import polars as pl

    (workdir,) = (tmp_path / "var" / "imports").iterdir()
    manifest = json.loads((workdir / "intake" / "manifest.json").read_text())
    scan = {
        e: pl.scan_parquet(workdir / "intake" / manifest["files"][e]) for e in manifest["files"]
    }
    batches = list(scan["pupils"].collect_batches(chunk_size=CHUNK))
    pupils = list(itertools.accumulate((b.height for b in batches), initial=0))
    enrolment_rows = scan["enrolments"].select("_row").collect()["_row"]
    own = itertools.accumulate(
        (b.height for b in scan["enrolments"].collect_batches(chunk_size=CHUNK)), initial=0
    )
    paired = [int((enrolment_rows <= b["_row"].cast(pl.Int64).max()).sum()) for b in batches]
    return pupils, {*own, 0, *paired}


def test_killed_worker_leaves_whole_chunks_and_the_job_resumes(world, tmp_path):
    db, env, procs = world
    vnemis(env, "migrate", "--no-input")
    script = tmp_path / "setup.py"
    script.write_text(SETUP)
    out = subprocess.run(
        [sys.executable, "-c",
         "import django, runpy, sys; django.setup(); "
         "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')",
         str(script), str(tmp_path / "roster.csv"), str(ROWS)],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert "JOB" in out.stdout
    assert registry_counts(db) == (0, 0)

    log = tmp_path / "worker.log"
    worker = start_worker(env, procs, log)
    deadline = time.monotonic() + 180
    state = job_state(db)
    # Kill once some chunks are in and well before the end.
    while time.monotonic() < deadline:
        state = job_state(db)
        if state["status"] == "applying" and CHUNK * 3 <= state["done"] < state["total"] // 2:
            break
        assert state["status"] not in ("succeeded", "failed", "rejected"), (state, log.read_text())
        assert worker.poll() is None, log.read_text()[-3000:]
        time.sleep(0.01)
    else:
        pytest.fail(f"the import never reached the middle of applying: {state}")
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)

    # Whole chunks only, exactly the ones the job says are done.
    state = job_state(db)
    persons, enrolments = registry_counts(db)
    assert state["status"] == "applying"
    assert 0 < state["done"] < state["total"]
    pupils_at, enrolments_at = chunk_ends(tmp_path)
    assert len(pupils_at) > 5  # several chunks
    assert persons == pupils_at[state["chunks"].get("pupils", 0)]
    assert enrolments in enrolments_at
    committed = state["result"]["progress"]
    assert persons == committed["pupils"]["inserted"]
    assert enrolments == committed.get("enrolments", {}).get("inserted", 0)
    assert state["done"] == persons + enrolments

    # A new claim only after the heartbeat went stale; then a new worker finishes the job.
    time.sleep(STALE_SECONDS + 0.5)
    assert "1" in vnemis(env, "import", "--resume-stale")
    start_worker(env, procs, log)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        state = job_state(db)
        if state["status"] in ("succeeded", "failed", "rejected", "cancelled"):
            break
        time.sleep(0.2)
    assert state["status"] == "succeeded", (state, log.read_text()[-3000:])
    assert state["attempts"] == 2
    assert state["inserted"] == 2 * ROWS, json.dumps(state, default=str)
    assert registry_counts(db) == (ROWS, ROWS)
    distinct = db.query("SELECT COUNT(DISTINCT pupil_code) FROM registry_enrolment")[0][0]
    assert distinct == ROWS
    people = db.query("SELECT COUNT(DISTINCT pupil_id) FROM registry_enrolment")[0][0]
    assert people == ROWS  # every pupil is one person, none created twice
