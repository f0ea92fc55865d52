"""Benchmark: the public exam-result look-up on publication day, served by the real server.

Sets up (or reuses, for the same N) the PostgreSQL database ``vnemis_bench_lookup``: migrated,
one session (2026) published an hour ago and N candidates in its look-up table, written
set-wise with COPY (``exams.sql.rows_insert``, the path ``lookup_refresh`` uses; the candidates
themselves are not built, the served path only reads this table). Then:

(a) starts ``vnemis serve`` (granian, WSGI, 2 workers, DEBUG off) with REDIS_URL on Redis
    database 8 (flushed first: the run starts with a cold cache, as publication day does) and
    the rate limit raised for the bench client (it still counts every request), waits until it
    answers, and checks a few answers (a number, a missing number, a malformed one);
(b) loads ``GET /exams/results/api/2026/<number>`` with wrk for ``--duration`` s: a Lua script
    draws a random existing number, or one of no candidate (``--missing`` of the requests,
    expected 404), and counts the answers by status; p50/p99 come from wrk's ``--latency``
    distribution; ``errors`` = socket errors + answers other than 200 and 404;
(c) restarts the server with the answer cache off (``VNEMIS_LOOKUP_CACHE_SECONDS=0``: one
    query per request, the rate limiter still on Redis) and loads it the same way for
    ``--reference-duration`` s: ``reference_rps_no_cache`` and ``speedup`` = rps / reference.

    .venv/bin/python bench/lookup.py [--candidates 100000] [--duration 60] [--connections 32]

The last line is one JSON object: rps, p50_ms, p99_ms, errors, seconds, candidates,
peak_rss_mb (the two server workers' peak resident memory, summed), reference_rps_no_cache,
speedup, and the details (not_found_share, cache_hit_share from Redis' counters, goals).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
DB_NAME = "vnemis_bench_lookup"
YEAR = 2026
WRK = "/usr/bin/wrk"
GOALS = {"rps": 3000, "p99_ms": 50.0, "errors": 0}
# The 34 provinces' codes since 2025: each province's council numbers its own candidates.
COUNCILS = ("01", "04", "08", "11", "12", "14", "15", "19", "20", "22", "24", "25", "31", "33",
            "37", "38", "40", "42", "44", "46", "48", "51", "52", "56", "66", "68", "75", "79",
            "80", "82", "86", "91", "92", "96")  # fmt: skip
MISSING_BASE = 900_000  # sequences from here are nobody's (a council numbers < 100,000 here)
FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi",
          "Đỗ", "Hồ", "Ngô", "Dương", "Lý")  # fmt: skip
MIDDLE = ("Văn", "Thị", "Minh", "Ngọc", "Thanh", "Đức", "Thu", "Quốc", "Hoài", "Gia")
GIVEN = ("An", "Bình", "Chi", "Dũng", "Em", "Giang", "Hà", "Hải", "Hương", "Khánh", "Lan", "Linh",
         "Long", "Mai", "Nam", "Ngân", "Phúc", "Quân", "Sơn", "Tâm", "Thảo", "Trang", "Tú", "Vy")  # fmt: skip

LUA = r"""
-- Random candidate numbers on the look-up API; counts the answers by status per thread.
local numbers, councils = {}, {}
local missing_share, prefix = 0.1, "/"
ok, not_found, other = 0, 0, 0  -- globals: done() reads them with thread:get
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  prefix = args[1]
  missing_share = tonumber(args[2])
  for line in io.lines(args[3]) do numbers[#numbers + 1] = line end
  for code in string.gmatch(args[4], "%d+") do councils[#councils + 1] = code end
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
end

function request()
  local number
  if math.random() < missing_share then
    number = councils[math.random(#councils)] .. string.format("%06d", math.random(900000, 999999))
  else
    number = numbers[math.random(#numbers)]
  end
  return wrk.format("GET", prefix .. number)
end

function response(status, headers, body)
  if status == 200 then ok = ok + 1
  elseif status == 404 then not_found = not_found + 1
  else other = other + 1 end
end

function done(summary, latency, requests)
  local t_ok, t_nf, t_other = 0, 0, 0
  for _, thread in ipairs(threads) do
    t_ok = t_ok + thread:get("ok")
    t_nf = t_nf + thread:get("not_found")
    t_other = t_other + thread:get("other")
  end
  io.write(string.format('LOOKUP_COUNTS {"ok": %d, "not_found": %d, "other": %d}\n',
    t_ok, t_nf, t_other))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def numbers_for(candidates: int) -> list[str]:
    """N candidate numbers spread over the 34 councils, each numbered from 000001."""
    per, extra = divmod(candidates, len(COUNCILS))
    out = []
    for i, council in enumerate(COUNCILS):
        count = per + (1 if i < extra else 0)
        out.extend(f"{council}{seq:06d}" for seq in range(1, count + 1))
    return out


def database_prepare(server: str, candidates: int) -> tuple[str, list[str]]:
    """The bench database with the published session and N look-up rows (reused if it has)."""
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone():
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    url = f"{server}/{DB_NAME}"
    os.environ["DATABASE_URL"] = url
    import django

    django.setup()
    from datetime import date, timedelta
    from decimal import Decimal

    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from vnemis.exams.lookup import LOOKUP_COLUMNS, citizen_key
    from vnemis.exams.models import ExamResultLookup, ExamSession
    from vnemis.exams.sql import rows_insert
    from vnemis.registry.citizen_id import make_citizen_id
    from vnemis.registry.models import SchoolYear

    start = time.perf_counter()
    call_command("migrate", verbosity=0)
    now = timezone.now()
    school_year, _ = SchoolYear.objects.get_or_create(
        code="2025-2026",
        defaults={"start_year": 2025, "starts_on": date(2025, 9, 5), "ends_on": date(2026, 5, 31)},
    )
    session, _ = ExamSession.objects.update_or_create(
        year=YEAR,
        defaults={
            "name": "Kỳ thi tốt nghiệp THPT năm 2026 (bench)",
            "school_year": school_year,
            "registration_opens_at": now - timedelta(days=90),
            "registration_closes_at": now - timedelta(days=60),
            "results_publish_at": now - timedelta(hours=1),
        },
    )
    numbers = numbers_for(candidates)
    have = ExamResultLookup.objects.filter(session=session).count()
    if have != candidates:
        rng = random.Random(2026)
        stamp = now
        rows = []
        for i, number in enumerate(numbers, start=1):
            born = date(2008, 1, 1) + timedelta(days=rng.randrange(366))
            sex = rng.choice("MF")
            cid = make_citizen_id(province3="001", birth_date=born, sex=sex, serial=i)
            electives = rng.sample(("LY", "HOA", "SINH", "SU", "DIA", "KTPL", "N1"), 2)
            scores = {c: f"{rng.randrange(100, 1001, 25) / 100:.2f}" for c in ("TOAN", "VAN")}
            scores.update({c: f"{rng.randrange(100, 1001, 25) / 100:.2f}" for c in electives})
            total = Decimal(sum(float(v) for v in scores.values()) / 4).quantize(Decimal("0.01"))
            name = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"
            rows.append(
                (session.pk, i, number, citizen_key(year=YEAR, citizen_id=cid), name, born,
                 json.dumps(scores, ensure_ascii=False, sort_keys=True), total,
                 "passed" if total >= 5 else "failed", stamp)
            )  # fmt: skip
        with transaction.atomic():
            ExamResultLookup.objects.filter(session=session).delete()
            rows_insert(ExamResultLookup, LOOKUP_COLUMNS, rows)
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {ExamResultLookup._meta.db_table}")
        print(f"look-up table: {candidates:,} rows written in {time.perf_counter() - start:.1f} s")
    else:
        print(
            f"look-up table: {candidates:,} rows already there ({time.perf_counter() - start:.1f} s)"
        )
    return url, numbers


def redis_flush(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def redis_counters(url: str) -> tuple[int, int]:
    import redis

    stats = redis.Redis.from_url(url).info("stats")
    return int(stats["keyspace_hits"]), int(stats["keyspace_misses"])


class Server:
    """``vnemis serve`` in its own process group, stopped with SIGTERM then SIGKILL."""

    def __init__(self, *, port: int, env: dict[str, str], log: Path) -> None:
        self.port = port
        self.log = log.open("wb")
        self.proc = subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "vnemis"),
                "serve",
                "--port",
                str(port),
                "--workers",
                "2",
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait(self, path: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"the server exited ({self.proc.returncode}); see {self.log.name}")
            try:
                with urllib.request.urlopen(self.url(path), timeout=2) as r:  # noqa: S310
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.3)
        self.stop()
        sys.exit(f"the server did not answer within {timeout:.0f} s; see {self.log.name}")

    def workers(self) -> list[int]:
        """The granian worker processes (children of the server process)."""
        pid = self.proc.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            return []
        return [int(c) for c in children]

    def cpu_seconds(self) -> float:
        """User + system CPU time of the workers so far."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.workers():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / tick

    def peak_rss_mb(self) -> float:
        total = 0
        for pid in self.workers():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
            total += int(found.group(1)) if found else 0
        return round(total / 1024, 1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def answers_check(server: Server, numbers: list[str]) -> None:
    """The served answers are the table's: a number, one of nobody, a malformed one."""
    for path, status in (
        (f"/exams/results/api/{YEAR}/{numbers[0]}", 200),
        (f"/exams/results/api/{YEAR}/{numbers[-1]}", 200),
        (f"/exams/results/api/{YEAR}/{COUNCILS[0]}{MISSING_BASE:06d}", 404),
        (f"/exams/results/api/{YEAR}/0100012", 422),
    ):
        try:
            with urllib.request.urlopen(server.url(path), timeout=5) as r:  # noqa: S310
                got, body = r.status, json.loads(r.read())
        except urllib.error.HTTPError as exc:
            got, body = exc.code, json.loads(exc.read())
        if got != status:
            server.stop()
            sys.exit(f"{path}: status {got}, expected {status}: {body}")
        if status == 200 and not (body["full_name"] and len(body["scores"]) == 4):
            server.stop()
            sys.exit(f"{path}: unexpected answer {body}")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk_parse(out: str) -> dict:
    def ms(text: str) -> float:
        value = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
        return float(value.group(1)) * _UNITS[value.group(2)]

    percentiles = {int(p): ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M)}
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    socket_errors = 0
    found = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if found:
        socket_errors = sum(int(x) for x in found.groups())
    counts = json.loads(re.search(r"LOOKUP_COUNTS (\{.*\})", out).group(1))
    return {
        "rps": round(rps),
        "p50_ms": round(percentiles[50], 2),
        "p99_ms": round(percentiles[99], 2),
        "requests": total,
        "socket_errors": socket_errors,
        **counts,
    }


def wrk_run(server: Server, *, seconds: int, args, numbers_file: Path, lua: Path) -> dict:
    command = [
        WRK, f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s", "--latency",
        "--timeout", "5s", "-s", str(lua), server.url("/"),
        "--", f"/exams/results/api/{YEAR}/", str(args.missing), str(numbers_file),
        ",".join(COUNCILS),
    ]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu = server.cpu_seconds()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0 or "LOOKUP_COUNTS" not in done.stdout:
        server.stop()
        sys.exit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    result = wrk_parse(done.stdout)
    result["errors"] = result["socket_errors"] + result["other"]
    result["wrk_cpu_s"] = round(
        after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, 1
    )
    result["server_cpu_s"] = round(server.cpu_seconds() - server_cpu, 1)
    result["raw"] = done.stdout
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--candidates", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--reference-duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--floor-duration", type=int, default=10, help="0: skip the floor run")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--missing", type=float, default=0.1, help="share of unknown numbers")
    parser.add_argument(
        "--no-warm",
        action="store_true",
        help="start the measured run on a cold cache (default: warmed by lookup_cache_warm)",
    )
    parser.add_argument(
        "--blocking-threads",
        type=int,
        default=4,
        help="granian's Python threads per worker (GRANIAN_BLOCKING_THREADS; 0: granian's "
        "default, which allows 128 and loses to GIL hand-offs)",
    )
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/8")
    args = parser.parse_args()
    if not Path(WRK).exists():
        sys.exit(f"{WRK} is missing: run scripts/install_chromium.sh (it installs wrk)")
    if not 1 <= args.candidates <= len(COUNCILS) * (MISSING_BASE - 1):
        sys.exit("--candidates: from 1 to 30 million")

    work = ROOT / "var" / "bench" / "lookup"
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vnemis.config.settings.dev")
    os.environ.setdefault("VNEMIS_VAR_DIR", str(ROOT / "var"))
    os.environ["VNEMIS_LOG_LEVEL"] = "WARNING"
    os.environ["REDIS_URL"] = args.redis  # the same cache as the server (the warm-up writes it)
    url, numbers = database_prepare(args.pg.rstrip("/"), args.candidates)
    numbers_file = work / "numbers.txt"
    numbers_file.write_text("\n".join(numbers) + "\n")
    lua = work / "lookup.lua"
    lua.write_text(LUA)

    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": args.redis,
        # The look-up tier: the base settings without session, log-in and page middleware.
        "DJANGO_SETTINGS_MODULE": "vnemis.config.settings.lookup",
        "VNEMIS_LOOKUP_BASE_SETTINGS": "vnemis.config.settings.dev",
        "VNEMIS_DEBUG": "0",
        "VNEMIS_LOG_LEVEL": "WARNING",
        "VNEMIS_LOOKUP_RATE_PER_MINUTE": str(10**9),  # the bench client is one IP
    }
    if args.blocking_threads:
        env["GRANIAN_BLOCKING_THREADS"] = str(args.blocking_threads)
    ready = f"/exams/results/api/{YEAR}/{numbers[0]}"

    load_before = round(os.getloadavg()[0], 2)
    redis_flush(args.redis)
    server = Server(port=free_port(), env=env, log=work / "server.log")
    try:
        server.wait(ready)
        answers_check(server, numbers)
        warmed, warm_s = 0, 0.0
        if not args.no_warm:
            from vnemis.exams.public import lookup_cache_warm

            start = time.perf_counter()
            warmed = lookup_cache_warm(year=YEAR)
            warm_s = time.perf_counter() - start
            print(f"cache warmed: {warmed:,} answers in {warm_s:.1f} s")
        _hits0, misses0 = redis_counters(args.redis)
        print(f"server up (pid {server.proc.pid}, workers {server.workers()}); "
              f"wrk -t{args.threads} -c{args.connections} for {args.duration} s ...")  # fmt: skip
        main_run = wrk_run(server, seconds=args.duration, args=args, numbers_file=numbers_file,
                           lua=lua)  # fmt: skip
        _hits1, misses1 = redis_counters(args.redis)
        peak = server.peak_rss_mb()
    finally:
        server.stop()
    print(main_run.pop("raw"))

    redis_flush(args.redis)
    server = Server(
        port=free_port(), env={**env, "VNEMIS_LOOKUP_CACHE_SECONDS": "0"}, log=work / "ref.log"
    )
    try:
        server.wait(ready)
        print(f"reference: answer cache off, {args.reference_duration} s ...")
        reference = wrk_run(server, seconds=args.reference_duration, args=args,
                            numbers_file=numbers_file, lua=lua)  # fmt: skip
    finally:
        server.stop()
    print(reference.pop("raw"))

    floor = None
    if args.floor_duration > 0:
        # The machine's floor for this stack at this moment: the same server, middleware and
        # JSON error shape, answering a malformed number (422) with no cache, no database and
        # no rate limit: what any Django view costs here before doing anything.
        server = Server(
            port=free_port(),
            env={**env, "VNEMIS_LOOKUP_RATE_PER_MINUTE": "0"},
            log=work / "floor.log",
        )
        try:
            server.wait(ready)
            command = [WRK, f"-t{args.threads}", f"-c{args.connections}",
                       f"-d{args.floor_duration}s", "--latency",
                       server.url(f"/exams/results/api/{YEAR}/malformed")]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, check=False)
        finally:
            server.stop()
        found = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
        floor = round(float(found.group(1))) if found else None
        print(f"floor (422 without I/O, {args.floor_duration} s): {floor} req/s")

    answered = main_run["ok"] + main_run["not_found"]
    # Each request reads the generation and the answer (MGET: two keys); a Redis miss is an
    # answer not cached yet (approximate: the server's counters are shared with other users).
    misses = misses1 - misses0
    cache_hit_share = 1 - misses / max(main_run["requests"], 1)
    summary = {
        "rps": main_run["rps"],
        "p50_ms": main_run["p50_ms"],
        "p99_ms": main_run["p99_ms"],
        "errors": main_run["errors"],
        "seconds": args.duration,
        "candidates": args.candidates,
        "peak_rss_mb": peak,
        "reference_rps_no_cache": reference["rps"],
        "speedup": round(main_run["rps"] / max(reference["rps"], 1), 2),
        "requests": main_run["requests"],
        "not_found_share": round(main_run["not_found"] / max(answered, 1), 3),
        "cache_hit_share": round(max(cache_hit_share, 0.0), 3),
        "reference_p99_ms": reference["p99_ms"],
        "floor_rps_no_io": floor,
        "reference_errors": reference["errors"],
        "connections": args.connections,
        "cpu_seconds": {"server_workers": main_run["server_cpu_s"], "wrk": main_run["wrk_cpu_s"]},
        # What the workers spent per answer, and the rate two cores of their own would give:
        # the machine is shared (wrk, Redis, PostgreSQL and whatever else runs).
        "server_cpu_us_per_request": round(
            main_run["server_cpu_s"] / max(main_run["requests"], 1) * 1e6
        ),
        "rps_two_dedicated_cores": round(
            2 * main_run["requests"] / max(main_run["server_cpu_s"], 0.001)
        ),
        "load_before": load_before,  # 1-minute load average before the server started
        "warmed_answers": warmed,
        "warm_seconds": round(warm_s, 1),
        "goals": GOALS,
        "goals_met": main_run["rps"] >= GOALS["rps"]
        and main_run["p99_ms"] < GOALS["p99_ms"]
        and main_run["errors"] == 0,
    }
    print(
        f"cached: {summary['rps']:,} req/s, p50 {summary['p50_ms']} ms, p99 {summary['p99_ms']} "
        f"ms, {summary['errors']} errors, {summary['not_found_share']:.1%} not found (expected "
        f"{args.missing:.0%}), cache hits ≈ {summary['cache_hit_share']:.0%}; workers' peak RSS "
        f"{peak} MB"
    )
    print(
        f"no answer cache: {reference['rps']:,} req/s, p99 {reference['p99_ms']} ms; "
        f"speedup {summary['speedup']}×; goals met: {summary['goals_met']}"
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
