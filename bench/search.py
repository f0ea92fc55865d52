"""Benchmark: person search at national size on PostgreSQL (the ``persons_search`` selector).

Creates and migrates database ``vnemis_bench`` (or reuses it when it already holds enough
persons), loads ~1 M pupils through the one loading path (``vnemis.registry.loaders``) from a
dataset written by ``vnemis generate`` when installed, otherwise by a vectorised synthetic writer
below (Vietnamese names with realistic frequencies), then times ~500 realistic queries — full
names, family + given, given name alone, with and without diacritics, exact education IDs — as
a national-scope (Ministry) viewer through the selector itself (audit write stubbed out, since
it is not the query). The reference is the same queries with index scans disabled (sequential
scans), measured in the same run on a sample.

    DATABASE_URL is set by the script; run:  .venv/bin/python bench/search.py [--persons N]

The last line is JSON: persons, p50_ms, p99_ms, ratio_vs_reference, load figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

FAMILY = {
    "Nguyễn": 38.4, "Trần": 12.1, "Lê": 9.5, "Phạm": 7.0, "Hoàng": 4.6, "Huỳnh": 1.5,
    "Phan": 4.5, "Vũ": 3.9, "Võ": 2.1, "Đặng": 2.1, "Bùi": 2.0, "Đỗ": 1.4, "Hồ": 1.3,
    "Ngô": 1.3, "Dương": 1.0, "Lý": 0.5, "Đinh": 0.8, "Trương": 0.7, "Đào": 0.6, "Mai": 0.5,
    "Tô": 0.3, "Lương": 0.4, "Hà": 0.4, "Cao": 0.3, "Lưu": 0.3, "Quách": 0.1, "Thái": 0.2,
    "Vương": 0.2, "Tạ": 0.2, "Lò": 0.2, "Kiều": 0.1, "Triệu": 0.2, "Đoàn": 0.5, "Lâm": 0.4,
}  # fmt: skip
MIDDLE_M = ["Văn", "Minh", "Đức", "Quốc", "Hoàng", "Gia", "Thanh", "Bảo", "Anh", "Hữu",
            "Công", "Tuấn", "Trung", "Quang", "Nhật", "Duy", "Thành", "Xuân"]  # fmt: skip
MIDDLE_F = ["Thị", "Ngọc", "Thu", "Thanh", "Minh", "Bảo", "Khánh", "Phương", "Hồng", "Mai",
            "Quỳnh", "Hoài", "Thuỳ", "Kim", "Diệu", "Hà", "Tú", "Yến"]  # fmt: skip
GIVEN_M = ["An", "Anh", "Bảo", "Bình", "Cường", "Dũng", "Duy", "Đạt", "Đức", "Hải", "Hiếu",
           "Hoàng", "Hùng", "Huy", "Khang", "Khánh", "Khoa", "Khôi", "Kiên", "Lâm", "Long",
           "Lộc", "Minh", "Nam", "Nghĩa", "Nguyên", "Phát", "Phong", "Phúc", "Quân", "Quang",
           "Sơn", "Tài", "Thắng", "Thành", "Thịnh", "Tiến", "Toàn", "Trí", "Trung", "Tú",
           "Tuấn", "Việt", "Vinh", "Vũ"]  # fmt: skip
GIVEN_F = ["An", "Anh", "Ánh", "Bích", "Châu", "Chi", "Dung", "Giang", "Hà", "Hân", "Hằng",
           "Hạnh", "Hiền", "Hoa", "Hoà", "Huyền", "Hương", "Lan", "Liên", "Linh", "Loan", "Mai",
           "My", "Nga", "Ngân", "Ngọc", "Nhi", "Nhung", "Oanh", "Phương", "Quyên", "Quỳnh",
           "Tâm", "Thảo", "Thư", "Thuỷ", "Trang", "Trâm", "Uyên", "Vân", "Vy", "Yến"]  # fmt: skip


def _zipf(n: int, s: float = 0.9) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** s
    return w / w.sum()


def synthetic_names(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(full names, sex) with Vietnamese frequencies: family names from survey shares, middle
    and given names Zipf-distributed per sex."""
    fam = np.array(list(FAMILY))
    fw = np.array(list(FAMILY.values()))
    family = rng.choice(fam, n, p=fw / fw.sum())
    male = rng.random(n) < 0.515
    middle = np.where(
        male,
        rng.choice(MIDDLE_M, n, p=_zipf(len(MIDDLE_M), 1.1)),
        rng.choice(MIDDLE_F, n, p=_zipf(len(MIDDLE_F), 1.1)),
    )
    given = np.where(
        male,
        rng.choice(GIVEN_M, n, p=_zipf(len(GIVEN_M), 0.7)),
        rng.choice(GIVEN_F, n, p=_zipf(len(GIVEN_F), 0.7)),
    )
    # One in eight has two middle names (Nguyễn Thị Minh Anh).
    second = np.where(rng.random(n) < 0.125, rng.choice(MIDDLE_F + MIDDLE_M, n), "")
    full = np.char.add(np.char.add(np.char.add(family, " "), middle), " ")
    full = np.char.add(full, np.where(second != "", np.char.add(second, " "), ""))
    full = np.char.add(full, given)
    return full, np.where(male, "M", "F")


def write_synthetic(directory: Path, persons: int, seed: int = 11) -> None:
    """Schools, classes, pupils and enrolments in exchange format v1 (Parquet), all provinces."""
    import polars as pl

    from vnemis.geo.models import Commune

    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    communes = pl.DataFrame(
        list(Commune.objects.values_list("code", "province__code")),
        schema=["commune_code", "province_code"],
        orient="row",
    )
    per_school = 400
    n_schools = max(1, persons // per_school)
    pick = rng.integers(0, communes.height, n_schools)
    schools = communes[pick].with_columns(
        pl.Series("seq", np.arange(n_schools)),
    )
    schools = schools.with_columns(
        (pl.col("province_code") + pl.col("seq").cast(pl.String).str.zfill(6)).alias("school_code"),
        (pl.lit("Trường Tiểu học số ") + pl.col("seq").cast(pl.String)).alias("name"),
        pl.lit("school").alias("kind"),
        pl.lit("primary").alias("level"),
        pl.lit("public").alias("ownership"),
        (pl.lit("SGD") + pl.col("province_code")).alias("parent_code"),
        pl.lit("open").alias("status"),
    ).drop("seq")
    schools.write_parquet(directory / "schools.parquet")
    classes_per_school = 10
    cls = schools.select("school_code").join(
        pl.DataFrame({"k": np.arange(classes_per_school)}), how="cross"
    )
    cls = cls.with_columns(
        pl.lit("2025-2026").alias("school_year"),
        (pl.col("k") // 2 + 1).alias("grade"),
        (
            (pl.col("k") // 2 + 1).cast(pl.String)
            + pl.when(pl.col("k") % 2 == 0).then(pl.lit("A")).otherwise(pl.lit("B"))
        ).alias("class_name"),
        pl.lit(False).alias("two_sessions"),
        pl.lit(False).alias("combined_grades"),
    ).drop("k")
    cls.write_parquet(directory / "classes.parquet")
    full, sex = synthetic_names(rng, persons)
    school_idx = np.arange(persons) % n_schools
    k = rng.integers(0, classes_per_school, persons)
    grade = k // 2 + 1
    born = np.datetime64("2025-01-01") - (grade + 5) * 365 - rng.integers(0, 365, persons)
    sc = schools["school_code"].to_numpy()[school_idx]
    pupils = pl.DataFrame(
        {
            "school_code": sc,
            "pupil_code": np.char.add("HS", np.arange(persons).astype(str)),
            "full_name": full,
            "birth_date": born.astype("datetime64[D]"),
            "sex": sex,
            "ethnicity_code": np.where(rng.random(persons) < 0.86, "01", "02"),
            "nationality": "VN",
        }
    )
    pupils.write_parquet(directory / "pupils.parquet")
    pl.DataFrame(
        {
            "school_code": sc,
            "school_year": "2025-2026",
            "pupil_code": pupils["pupil_code"],
            "class_name": np.char.add(grade.astype(str), np.where(k % 2 == 0, "A", "B")),
            "status": "studying",
            "started_on": np.full(persons, np.datetime64("2025-09-05")),
        }
    ).write_parquet(directory / "enrolments.parquet")


def build_queries(rng: np.random.Generator, sample: list[tuple[str, str]], n: int) -> list[str]:
    """Realistic searches from real stored names: whole names, family + given, given alone,
    middle + given; half typed without diacritics, some in lower case; 10% education IDs."""
    from vnemis.core.text import search_key

    out = []
    for i in range(n):
        full, eid = sample[rng.integers(0, len(sample))]
        words = full.split(" ")
        kind = i % 10
        if kind == 0:
            out.append(eid)
            continue
        if kind in (1, 2, 3):
            q = full
        elif kind in (4, 5):
            q = f"{words[0]} {words[-1]}"
        elif kind in (6, 7):
            q = words[-1]
        else:
            q = " ".join(words[-2:])
        if rng.random() < 0.5:
            q = search_key(q)
        elif rng.random() < 0.3:
            q = q.lower()
        out.append(q)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--reference-queries", type=int, default=60)
    parser.add_argument("--db", default="vnemis_bench")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    args = parser.parse_args()

    import psycopg

    with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [args.db]).fetchone():
            conn.execute(f'CREATE DATABASE "{args.db}"')
    os.environ["DATABASE_URL"] = f"{args.pg}/{args.db}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vnemis.config.settings.dev")
    os.environ.setdefault("VNEMIS_VAR_DIR", str(ROOT / "var"))
    import django

    django.setup()
    from django.core.management import call_command, get_commands
    from django.db import connection

    from vnemis.geo.models import Province
    from vnemis.orgs.models import Organisation, User
    from vnemis.registry import loaders, selectors
    from vnemis.registry.models import Person

    call_command("migrate", verbosity=0)
    if not Province.objects.exists():
        call_command("geo", "load", verbosity=0)
    if not Organisation.objects.filter(kind="ministry").exists():
        call_command("orgs", "seed", verbosity=0)

    load_info: dict = {}
    have = Person.objects.count()
    if have < args.persons * 0.95:
        directory = ROOT / "var" / "bench" / f"search_{args.persons}"
        started = time.perf_counter()
        if not (directory / "pupils.parquet").exists():
            if "generate" in get_commands():
                call_command(
                    "generate", "--out", str(directory), "--students", str(args.persons),
                    "--seed", "11",
                )  # fmt: skip
            else:
                write_synthetic(directory, args.persons)
        print(f"dataset written in {time.perf_counter() - started:.1f} s", flush=True)
        result = loaders.dataset_load(directory=directory, progress=sys.stderr.isatty())
        print("\n".join(result.summary_lines()), flush=True)
        load_info = {
            "load_rows": result.rows,
            "load_seconds": round(result.seconds, 1),
            "load_rows_per_s": round(result.rows / result.seconds),
        }
        with connection.cursor() as cur:
            cur.execute("VACUUM ANALYZE registry_person")
            cur.execute("VACUUM ANALYZE registry_enrolment")
    persons = Person.objects.count()

    viewer, _ = User.objects.get_or_create(
        username="bench_ministry",
        defaults={"role": "ministry", "scope": Organisation.objects.get(kind="ministry")},
    )
    rng = np.random.default_rng(5)
    ids = rng.integers(1, Person.objects.order_by("-id").values_list("id", flat=True)[0], 2000)
    sample = list(
        Person.objects.filter(id__in=ids.tolist()).values_list("full_name", "education_id")
    )
    queries = build_queries(rng, sample, args.queries)

    # The audit write is not the query under test; the selector's SQL is otherwise untouched.
    selectors.audit_record = lambda **kwargs: None

    def timed(qs: list[str]) -> tuple[list[float], list[int]]:
        times, hits = [], []
        for q in qs:
            t0 = time.perf_counter()
            rows = selectors.persons_search(viewer=viewer, q=q)
            times.append((time.perf_counter() - t0) * 1000)
            hits.append(len(rows))
        return times, hits

    timed(queries[:20])  # warm the cache
    times, hits = timed(queries)
    ref_q = queries[: args.reference_queries]
    with connection.cursor() as cur:
        cur.execute("SET enable_indexscan = off")
        cur.execute("SET enable_bitmapscan = off")
        cur.execute("SET enable_indexonlyscan = off")
    try:
        ref_times, _ = timed(ref_q)
    finally:
        with connection.cursor() as cur:
            cur.execute("RESET enable_indexscan")
            cur.execute("RESET enable_bitmapscan")
            cur.execute("RESET enable_indexonlyscan")
    same = times[: len(ref_q)]

    def pct(values: list[float], p: float) -> float:
        return float(np.percentile(values, p))

    kinds = {
        "education_id": [],
        "full name": [],
        "family+given": [],
        "given": [],
        "middle+given": [],
    }
    for i, t in enumerate(times):
        k = i % 10
        name = (
            "education_id" if k == 0 else "full name" if k <= 3 else "family+given" if k <= 5
            else "given" if k <= 7 else "middle+given"
        )  # fmt: skip
        kinds[name].append(t)
    print(f"persons: {persons:,}; queries: {len(times)}; viewer: national (Ministry) scope")
    for name, ts in kinds.items():
        print(f"  {name:<14} n={len(ts):>4} p50 {pct(ts, 50):7.1f} ms  p99 {pct(ts, 99):7.1f} ms")
    print(f"  all            p50 {pct(times, 50):7.1f} ms  p99 {pct(times, 99):7.1f} ms  "
          f"max {max(times):.1f} ms; mean hits {statistics.mean(hits):.1f}")  # fmt: skip
    print(f"  reference (no index scans, {len(ref_q)} queries): p50 {pct(ref_times, 50):.1f} ms, "
          f"p99 {pct(ref_times, 99):.1f} ms")  # fmt: skip
    ratio = statistics.mean(ref_times) / statistics.mean(same)
    print(json.dumps({
        "persons": persons,
        "queries": len(times),
        "p50_ms": round(pct(times, 50), 2),
        "p99_ms": round(pct(times, 99), 2),
        "ratio_vs_reference": round(ratio, 1),
        "reference_p50_ms": round(pct(ref_times, 50), 1),
        **load_info,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
