"""Benchmark: a national virtual-filtering run over the database (PostgreSQL).

Creates the database ``vnemis_bench_admissions`` holding one exam session of N candidates with
five exam scores each, P programmes with places, accepted combinations and weights, and W
ranked, paid wishes per candidate (popular programmes drawn more often), all generated
set-wise in SQL (not timed). Then times, in one run of the real job (``runs.run_execute``):
the rescoring of every wish (Polars, COPY), reading the eligible wishes, the engine, and
writing placements, cut-offs and missed wishes. A second run after 1% of candidates' scores
change (an appeal wave, through the exam's ``scores_changed`` hook) is timed too. The
reference, measured in the same process, is the engine alone on the same arrays: the job's
ratio to it is what the database costs.

    .venv/bin/python bench/admission_run.py [--candidates 1000000] [--wishes 6]
        [--programmes 5000] [--database-url postgres://postgres@127.0.0.1:5432]

The last line is one JSON object: candidates, wishes, programmes, seconds, scoring_seconds,
engine_seconds, rerun_seconds, rescore_appeals_seconds, ratio_job_vs_engine,
wishes_per_s, placed, same_as_engine, peak_rss_mb.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
DB_NAME = "vnemis_bench_admissions"


def _database(server: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def _generate(cursor, *, candidates: int, wishes: int, programmes: int) -> int:
    """Persons, candidates, scores, institutions, programmes and wishes, set-wise."""
    from datetime import timedelta

    from django.utils import timezone

    from vnemis.admissions.setup import round_create
    from vnemis.exams.actions import session_create
    from vnemis.orgs.models import Organisation
    from vnemis.registry.actions import school_year_get_or_create

    now = timezone.now()
    session = session_create(
        actor=None, year=2026, school_year=school_year_get_or_create(code="2025-2026"),
        registration_opens_at=now - timedelta(days=60), registration_closes_at=now - timedelta(days=30),
    )  # fmt: skip
    round_ = round_create(
        actor=None, year=2026, name="Bench", wishes_open_at=now - timedelta(days=1),
        wishes_close_at=now + timedelta(days=10), fee_per_wish=20_000,
    )  # fmt: skip
    unit = Organisation.objects.filter(kind="department").order_by("id").first()
    cursor.execute("SELECT id FROM registry_ethnicity ORDER BY id LIMIT 1")
    ethnicity = cursor.fetchone()[0]
    cursor.execute("SET synchronous_commit = off")
    cursor.execute(
        """INSERT INTO registry_person (education_id, full_name, family_name, middle_name,
             given_name, name_search, birth_date, sex, ethnicity_id, nationality, birth_place,
             permanent_address, policy_categories, disability, citizen_id_index, citizen_id_last3, province_code,
             version, created_at, updated_at)
           SELECT lpad(i::text, 12, '0'), 'Thí sinh ' || i, 'Nguyễn', '', 'Thí sinh ' || i,
             'nguyen thi sinh ' || i, date '2008-01-01' + (i %% 365), CASE WHEN i %% 2 = 0 THEN 'F' ELSE 'M' END,
             %s, 'VN', '', '', '[]'::jsonb, '', '', '', '01', 1, now(), now()
           FROM generate_series(1, %s) AS i""",
        [ethnicity, candidates],
    )
    cursor.execute(
        """INSERT INTO exams_candidate (session_id, person_id, kind, unit_id, province_code,
             identity_status, candidate_number, priority_points, incentive_points, result,
             result_reason, created_at, updated_at)
           SELECT %s, p.id, 'school', %s, '01', 'verified', lpad(p.id::text, 8, '0'), 0, 0,
             CASE WHEN p.id %% 50 = 0 THEN 'failed' ELSE 'passed' END, '', now(), now()
           FROM registry_person p""",
        [session.pk, unit.pk],
    )
    # Five papers each, 0-10 in quarters, skewed to the middle.
    cursor.execute(
        """INSERT INTO exams_score (candidate_id, subject_id, score, updated_at)
           SELECT c.id, s.id, round(least(10, greatest(0, 6.5 + 1.6 * (random() + random() + random() - 1.5) * 2))::numeric * 4) / 4, now()
           FROM exams_candidate c CROSS JOIN exams_examsubject s
           WHERE s.code IN ('TOAN', 'VAN', 'LY', 'HOA', 'N1')"""
    )
    institutions = max(programmes // 50, 1)
    cursor.execute(
        """INSERT INTO admissions_institution (code, name)
           SELECT 'T' || lpad(i::text, 4, '0'), 'Trường ' || i FROM generate_series(1, %s) i""",
        [institutions],
    )
    cursor.execute(
        """INSERT INTO admissions_programme (round_id, institution_id, code, name, threshold, ties, updated_at)
           SELECT %s, inst.id, inst.code || '-' || lpad(i::text, 5, '0'), 'Ngành ' || i,
             1500 + (i %% 7) * 100, CASE WHEN i %% 5 = 0 THEN 'none' ELSE 'all' END, now()
           FROM generate_series(1, %s) i
           JOIN admissions_institution inst ON inst.code = 'T' || lpad((1 + (i - 1) %% %s)::text, 4, '0')""",
        [round_.pk, programmes, institutions],
    )
    # Places: about 70% of candidates in all, more for popular programmes.
    cursor.execute(
        """INSERT INTO admissions_programmequota (programme_id, method, quota)
           SELECT id, 'exam', greatest(5, (%s * 0.7 / %s * (1.5 - (row_number() over (order by id))::float / %s))::int)
           FROM admissions_programme""",
        [candidates, programmes, programmes],
    )
    cursor.execute(
        """INSERT INTO admissions_programmecombination (programme_id, combination_id, weights)
           SELECT p.id, c.id, CASE WHEN p.id % 3 = 0 AND c.code = 'A00' THEN '{"TOAN": 2}'::jsonb ELSE '{}'::jsonb END
           FROM admissions_programme p JOIN admissions_combination c
             ON c.code IN ('A00', 'A01', 'D01', 'D07')
            AND (p.id + ascii(substr(c.code, 3, 1))) % 4 <> 0"""
    )
    # W distinct programmes per candidate: a popularity-skewed start and a stride coprime to P.
    cursor.execute("SELECT min(id) FROM admissions_programme")
    first = cursor.fetchone()[0]
    cursor.execute(
        """INSERT INTO admissions_wish (round_id, candidate_id, programme_id, rank, created_at)
           SELECT %s, c.id, %s + ((floor(%s * power(((c.id * 2654435761) %% 1000003) / 1000003.0, 2))::bigint + (k - 1) * 7919) %% %s), k, now()
           FROM exams_candidate c CROSS JOIN generate_series(1, %s) k""",
        [round_.pk, first, programmes, programmes, wishes],
    )
    cursor.execute(
        """INSERT INTO admissions_wishlist (round_id, candidate_id, paid_wishes, paid_amount, changed_at)
           SELECT %s, id, %s, %s * 20000, now() FROM exams_candidate""",
        [round_.pk, wishes, wishes],
    )
    cursor.execute("ANALYZE")
    return round_.pk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--candidates", type=int, default=1_000_000)
    parser.add_argument("--wishes", type=int, default=6)
    parser.add_argument("--programmes", type=int, default=5000)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    server = args.database_url.rstrip("/")
    _database(server)
    os.environ["DATABASE_URL"] = f"{server}/{DB_NAME}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vnemis.config.settings.dev")
    os.environ.setdefault("VNEMIS_VAR_DIR", str(ROOT / "var"))
    os.environ["VNEMIS_LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    import numpy as np
    from django.core.management import call_command
    from django.db import connection, transaction

    from vnemis.admissions import runs
    from vnemis.admissions.matching import match
    from vnemis.admissions.models import AdmissionRound, Placement
    from vnemis.admissions.scoring import wish_scores_refresh
    from vnemis.exams.hooks import exam_scores_changed

    start = time.perf_counter()
    call_command("migrate", verbosity=0)
    call_command("geo", "load", verbosity=0)
    call_command("orgs", "seed", verbosity=0)
    with transaction.atomic(), connection.cursor() as cursor:
        round_id = _generate(
            cursor, candidates=args.candidates, wishes=args.wishes, programmes=args.programmes
        )
    print(f"generated {args.candidates:,} candidates × {args.wishes} wishes, "
          f"{args.programmes:,} programmes in {time.perf_counter() - start:.0f} s")  # fmt: skip
    round_ = AdmissionRound.objects.get(pk=round_id)

    # The job, end to end (its first step rescores every wish: timed apart once, too).
    started = time.perf_counter()
    wish_scores_refresh(round_)
    scoring_seconds = time.perf_counter() - started
    run = runs.run_request(round_=round_, enqueue=False)
    started = time.perf_counter()
    run = runs.run_execute(run.pk)
    seconds = time.perf_counter() - started

    # The reference: the engine alone on the same arrays, already in memory.
    programme_ids, quotas, ties = runs._programmes(round_)
    candidates, ranks, programme_of_wish, scores = runs._wishes(round_)
    started = time.perf_counter()
    result = match(quotas=quotas, ties=ties, candidates=candidates, ranks=ranks,
                   programmes=np.searchsorted(programme_ids, programme_of_wish), scores=scores)  # fmt: skip
    engine_seconds = time.perf_counter() - started
    engine = {
        int(c): int(programme_ids[p])
        for c, p in zip(result.candidate_ids.tolist(), result.placement.tolist(), strict=True)
        if p >= 0
    }
    stored = dict(
        Placement.objects.filter(run=run, programme__isnull=False).values_list(
            "candidate_id", "programme_id"
        )
    )

    # An appeal wave: 1% of candidates get a new mathematics score; then the rerun.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE exams_score s SET score = least(10, s.score + 1) FROM exams_examsubject sub "
            "WHERE sub.id = s.subject_id AND sub.code = 'TOAN' AND s.candidate_id % 100 = 7 "
            "RETURNING s.candidate_id"
        )
        appealed = [row[0] for row in cursor.fetchall()]
    started = time.perf_counter()
    with transaction.atomic():
        exam_scores_changed(appealed)  # the hook runs on commit: rescoring those candidates
    rescore_seconds = time.perf_counter() - started
    rerun = runs.run_request(round_=round_, enqueue=False)
    started = time.perf_counter()
    rerun = runs.run_execute(rerun.pk)
    rerun_seconds = time.perf_counter() - started

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    figures = {
        "candidates": args.candidates,
        "wishes": run.wishes,
        "programmes": args.programmes,
        "seconds": round(seconds, 2),
        "scoring_seconds": round(scoring_seconds, 2),
        "engine_seconds": round(engine_seconds, 2),
        "rescore_appeals_seconds": round(rescore_seconds, 2),
        "appealed": len(appealed),
        "rerun_seconds": round(rerun_seconds, 2),
        "ratio_job_vs_engine": round(seconds / engine_seconds, 1),
        "wishes_per_s": round(run.wishes / seconds),
        "placed": run.placed,
        "same_as_engine": engine == stored,
        "rerun_changed_digest": rerun.inputs_digest != run.inputs_digest,
        "peak_rss_mb": peak,
    }
    print(f"run: {seconds:.1f} s for {run.wishes:,} eligible wishes of {args.candidates:,} "
          f"candidates (scoring alone {scoring_seconds:.1f} s, engine alone {engine_seconds:.1f} s); "
          f"placed {run.placed:,}; after {len(appealed):,} appeals: rescoring {rescore_seconds:.1f} s, "
          f"rerun {rerun_seconds:.1f} s; peak {peak} MB")  # fmt: skip
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
