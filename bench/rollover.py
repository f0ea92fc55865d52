"""Benchmark: year-end rollover of ~100k pupils on SQLite, against a naive per-pupil ORM loop.

Builds a fresh SQLite database (migrations, then pupils, classes, enrolments, status history
and year outcomes written with ``executemany``), rolls a Department's schools over with the
set-wise engine, undoes it, and rolls a separate 2k-pupil school over with a per-pupil ORM loop
as the reference (extrapolated linearly to the full size). Prints a summary, then one JSON line.

    .venv/bin/python bench/rollover.py [--pupils 100000] [--chunk 5000] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path


def setup_django(db_path: Path) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "vnemis.config.settings.test"
    os.environ["VNEMIS_SQLITE_PATH"] = str(db_path)
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("VNEMIS_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


PER_CLASS = 35
CLASSES_PER_GRADE = 4


def build(pupils: int, ref_pupils: int):
    """Two Departments: the measured one (``pupils``), the reference one (``ref_pupils``)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from vnemis.geo.models import Province
    from vnemis.orgs.actions import organisation_create
    from vnemis.registry.models import Ethnicity, SchoolClass, SchoolYear

    province = Province.objects.create(
        code="01", name="Thành phố Hà Nội", division_type="thành phố trung ương"
    )
    year = SchoolYear.objects.create(
        code="2025-2026",
        start_year=2025,
        starts_on=date(2025, 9, 5),
        ends_on=date(2026, 5, 31),
        is_current=True,
    )
    eth = Ethnicity.objects.get(code="01").pk
    moet = organisation_create(code="BGDDT", name="Bộ Giáo dục và Đào tạo", kind="ministry")
    depts = {
        name: organisation_create(
            code=code, name=name, kind="department", parent=moet, province=province
        )
        for code, name in (("SGD01", "Sở bench"), ("SGD99", "Sở tham chiếu"))
    }
    per_school = 5 * CLASSES_PER_GRADE * PER_CLASS
    now = timezone.now()
    stamp = connection.ops.adapt_datetimefield_value(now)
    starts = connection.ops.adapt_datefield_value(year.starts_on)
    person_id = enrolment_id = 0
    persons, enrolments, changes, summaries = [], [], [], []

    def add_school(dept, idx: int, size: int):
        nonlocal person_id, enrolment_id
        school = organisation_create(
            code=f"{dept.code}{idx:05d}",
            name=f"Trường Tiểu học số {idx} ({dept.name})",
            kind="school",
            level="primary",
            ownership="public",
            parent=dept,
            province=province,
            opened_on=date(1990, 9, 1),
        )
        per_class = max(1, size // (5 * CLASSES_PER_GRADE))
        classes = SchoolClass.objects.bulk_create(
            SchoolClass(
                school=school,
                school_year=year,
                grade=g,
                name=f"{g}A{k}",
                province_code="01",
            )
            for g in range(1, 6)
            for k in range(1, CLASSES_PER_GRADE + 1)
        )
        for cls in classes:
            for i in range(per_class):
                person_id += 1
                enrolment_id += 1
                persons.append(
                    (
                        person_id,
                        f"B{person_id:011d}",
                        f"Nguyễn Văn {person_id}",
                        "Nguyễn",
                        "Văn",
                        str(person_id),
                        f"nguyen van {person_id}",
                        f"{2019 - cls.grade}-0{1 + i % 9}-1{i % 9}",
                        "M" if i % 2 else "F",
                        eth,
                        "VN",
                        "",
                        "",
                        "[]",
                        "",
                        "",
                        "",
                        "01",
                        1,
                        stamp,
                        stamp,
                    )
                )
                # Outcome mix: 2% left, 3% repeat, the rest promoted / completed the level.
                r = person_id % 100
                status = "dropped_out" if r == 0 else "transferred_out" if r == 1 else "studying"
                enrolments.append(
                    (
                        enrolment_id,
                        person_id,
                        cls.pk,
                        school.pk,
                        year.pk,
                        f"HS{person_id}",
                        status,
                        starts,
                        None if status == "studying" else "2026-01-10",
                        "01",
                        stamp,
                        stamp,
                    )
                )
                changes.append((enrolment_id, "studying", starts, "", stamp))
                if status == "studying":
                    outcome = (
                        "repeat"
                        if r in (2, 3, 4)
                        else "completed_level"
                        if cls.grade == 5
                        else "promoted"
                    )
                    summaries.append((enrolment_id, "year", "D", "T", outcome, "01"))
        return school

    t0 = time.perf_counter()
    main = depts["Sở bench"]
    for idx in range(max(1, round(pupils / per_school))):
        add_school(main, idx, per_school)
    ref_school = add_school(depts["Sở tham chiếu"], 0, ref_pupils)
    with transaction.atomic(), connection.cursor() as cur:
        cur.executemany(
            "INSERT INTO registry_person (id, education_id, full_name, family_name, middle_name,"
            " given_name, name_search, birth_date, sex, ethnicity_id, nationality, birth_place,"
            " permanent_address, policy_categories, disability, citizen_id_index,"
            " citizen_id_last3, province_code, version, created_at, updated_at)"
            " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            persons,
        )
        cur.executemany(
            "INSERT INTO registry_enrolment (id, pupil_id, school_class_id, school_id,"
            " school_year_id, pupil_code, status, started_on, ended_on, province_code,"
            " created_at, updated_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            enrolments,
        )
        cur.executemany(
            "INSERT INTO registry_enrolmentstatuschange (enrolment_id, status, effective_on,"
            " note, recorded_at) VALUES (%s,%s,%s,%s,%s)",
            changes,
        )
        cur.executemany(
            "INSERT INTO registry_resultsummary (enrolment_id, period, learning_rating,"
            " conduct_rating, outcome, province_code) VALUES (%s,%s,%s,%s,%s,%s)",
            summaries,
        )
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    return {
        "year": year,
        "main": main,
        "ref_school": ref_school,
        "rows": len(enrolments),
        "build_seconds": time.perf_counter() - t0,
    }


def naive_rollover(school, year) -> int:
    """The reference: what a straightforward per-pupil ORM loop does (one transaction)."""
    from django.db import transaction

    from vnemis.registry.models import (
        ACTIVE_STATUSES,
        Enrolment,
        EnrolmentStatusChange,
        ResultSummary,
        SchoolClass,
        SchoolYear,
    )
    from vnemis.registry.rollover import derive_class_name

    nxt, _ = SchoolYear.objects.get_or_create(
        start_year=2026,
        defaults={"code": "2026-2027", "starts_on": date(2026, 9, 5), "ends_on": date(2027, 5, 31)},
    )
    last = school.grade_range[1]
    moved = 0
    with transaction.atomic():
        for e in Enrolment.objects.filter(
            school=school, school_year=year, status__in=ACTIVE_STATUSES
        ).select_related("school_class"):
            outcome = ResultSummary.objects.get(enrolment=e, period="year").outcome
            cls = e.school_class
            new_status, target = "completed", None
            if outcome == "repeat":
                target = SchoolClass.objects.get_or_create(
                    school=school,
                    school_year=nxt,
                    name=cls.name,
                    defaults={"grade": cls.grade, "province_code": cls.province_code},
                )[0]
            elif cls.grade >= last:
                new_status = "graduated"
            else:
                name, _derived = derive_class_name(cls.name, cls.grade, cls.grade + 1)
                target = SchoolClass.objects.get_or_create(
                    school=school,
                    school_year=nxt,
                    name=name,
                    defaults={"grade": cls.grade + 1, "province_code": cls.province_code},
                )[0]
            if target is not None:
                status = "repeating" if outcome == "repeat" else "studying"
                new = Enrolment.objects.create(
                    pupil_id=e.pupil_id,
                    school_class=target,
                    school=school,
                    school_year=nxt,
                    pupil_code=e.pupil_code,
                    status=status,
                    started_on=nxt.starts_on,
                    province_code=e.province_code,
                )
                EnrolmentStatusChange.objects.create(
                    enrolment=new, status=status, effective_on=nxt.starts_on
                )
            e.status = new_status
            e.ended_on = year.ends_on
            e.save()
            EnrolmentStatusChange.objects.create(
                enrolment=e, status=new_status, effective_on=year.ends_on
            )
            moved += 1
    return moved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pupils", type=int, default=100_000)
    parser.add_argument("--reference-pupils", type=int, default=2_000)
    parser.add_argument("--chunk", type=int, default=5_000)
    parser.add_argument("--keep", action="store_true", help="Keep the SQLite file")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="vnemis-bench-rollover-"))
    db_path = tmp / "bench.sqlite3"
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    t0 = time.perf_counter()
    setup_django(db_path)
    migrate_seconds = time.perf_counter() - t0
    data = build(args.pupils, args.reference_pupils)
    from vnemis.registry.models import Enrolment
    from vnemis.registry.rollover_actions import rollover_preview, rollover_run, rollover_undo

    year, main_scope = data["year"], data["main"]
    # Reference first, on its own Department, so both runs start from the same state.
    t = time.perf_counter()
    ref_moved = naive_rollover(data["ref_school"], year)
    ref_seconds = time.perf_counter() - t

    t = time.perf_counter()
    preview = rollover_preview(actor=None, scope=main_scope, from_year=year)
    preview_seconds = time.perf_counter() - t
    assert preview["ok"], preview["checks"]
    to_move = preview["counts"]["promoted"] + preview["counts"]["repeating"]
    to_move += preview["counts"]["graduated"]

    t = time.perf_counter()
    job = rollover_run(
        actor=None, scope=main_scope, from_year=year, enqueue=False, chunk_size=args.chunk
    )
    seconds = time.perf_counter() - t
    assert job.status == "succeeded" and job.done == to_move, (job.status, job.done, to_move)
    created = Enrolment.objects.filter(
        school_year__code="2026-2027", school__parent=main_scope
    ).count()

    t = time.perf_counter()
    rollover_undo(actor=None, job=job, chunk_size=args.chunk)
    undo_seconds = time.perf_counter() - t

    reference_extrapolated = ref_seconds * to_move / ref_moved
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"SQLite database: {db_path}  (migrate {migrate_seconds:.1f}s)")
    print(
        f"Built {data['rows']:,} enrolments in {data['build_seconds']:.1f}s; "
        f"preview {preview_seconds:.2f}s: {preview['counts']}"
    )
    print(
        f"Rollover: {to_move:,} pupils moved in {seconds:.2f}s "
        f"({to_move / seconds:,.0f} pupils/s), {created:,} new-year enrolments created; "
        f"undo {undo_seconds:.2f}s"
    )
    print(
        f"Naive per-pupil ORM loop: {ref_moved:,} pupils in {ref_seconds:.2f}s "
        f"({ref_moved / ref_seconds:,.0f}/s) → {reference_extrapolated:.1f}s extrapolated; "
        f"engine is {reference_extrapolated / seconds:.1f}× faster"
    )
    print(f"Peak RSS {peak_rss_mb:.0f} MB")
    if not args.keep:
        db_path.unlink(missing_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(str(db_path) + suffix).unlink(missing_ok=True)
    print(
        json.dumps(
            {
                "bench": "rollover",
                "engine": "sqlite",
                "pupils": to_move,
                "seconds": round(seconds, 3),
                "rows_per_s": round(to_move / seconds),
                "undo_seconds": round(undo_seconds, 3),
                "preview_seconds": round(preview_seconds, 3),
                "peak_rss_mb": round(peak_rss_mb, 1),
                "reference_pupils": ref_moved,
                "reference_seconds": round(ref_seconds, 3),
                "ratio_vs_reference": round(reference_extrapolated / seconds, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
