"""Benchmark: the API's list endpoints (persons without ``q``, enrolments, classes) on PostgreSQL.

Times the selectors behind ``GET /api/v1/persons``, ``/enrolments`` and ``/classes`` — the
endpoints only translate — on database ``vnemis_bench`` (1 M persons and enrolments, loaded by
``bench/search.py``; run its migrations first: ``DATABASE_URL=... vnemis migrate``), for three
viewers: the Ministry (national scope), the Department of the largest province and schools
(a different school each run). Each run reads one page of 50 at a random place of the list (a
signed cursor at a random key) or the first page. The audit write is stubbed out (it is not
the query) and the viewers are unsaved users, so the database is only read.

The reference is the previous query shapes (``id IN (everyone in scope)`` sorted by education
ID; enrolments through ``class_ids_in_scope`` in id order; classes sorted by (grade, name, id)
over the whole scope), timed in the same run on the same pages.

    .venv/bin/python bench/api_lists.py [--runs 40] [--reference-runs 5]

The last line is JSON: per endpoint and viewer p50_ms/p99_ms, the reference's, and
``ratio_vs_reference`` (mean reference time / mean new time on the same viewer and pages).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--reference-runs", type=int, default=5)
    parser.add_argument("--db", default="vnemis_bench")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    args = parser.parse_args()

    os.environ["DATABASE_URL"] = f"{args.pg}/{args.db}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vnemis.config.settings.dev")
    os.environ.setdefault("VNEMIS_VAR_DIR", str(ROOT / "var"))
    import django

    django.setup()
    from django.db import connection
    from django.db.models import Count

    from vnemis.core.pagination import encode_cursor, keyset_page
    from vnemis.orgs.models import Organisation, User
    from vnemis.orgs.scope import class_ids_in_scope, person_ids_in_scope
    from vnemis.registry import selectors
    from vnemis.registry.models import Enrolment, Person, SchoolClass

    with connection.cursor() as cur:
        cur.execute(
            "SELECT 1 FROM django_migrations WHERE app = 'registry' AND name = '0008_list_indexes'"
        )
        if cur.fetchone() is None:
            sys.exit("run the migrations on this database first (vnemis migrate)")
    persons = Person.objects.count()
    enrolments = Enrolment.objects.count()
    classes = SchoolClass.objects.count()
    if persons < 1000:
        sys.exit("vnemis_bench is empty: load it with bench/search.py first")

    ministry = Organisation.objects.get(kind="ministry")
    big = (
        Enrolment.objects.values_list("province_code")
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()[0]
    )
    department = Organisation.objects.get(kind="department", province__code=big)
    schools = list(Organisation.objects.filter(kind="school").values_list("id", flat=True))
    rng = random.Random(7)

    # Unsaved users: nothing is written to the benchmark database.
    def viewer(role: str, scope_id: int) -> User:
        return User(username=f"bench_{role}", role=role, scope_id=scope_id)

    # The schools under each benchmark viewer (None: a school viewer, its own school).
    who_scope = {
        ministry.pk: schools,
        department.pk: list(
            Organisation.objects.filter(kind="school", parent=department).values_list(
                "id", flat=True
            )
        ),
    }
    who_scope.update(dict.fromkeys(schools))
    viewers = {
        "ministry": lambda: viewer("ministry", ministry.pk),
        "department": lambda: viewer("department", department.pk),
        "school": lambda: viewer("school", rng.choice(schools)),
    }
    selectors.audit_record = lambda **kwargs: None

    max_enrolment = Enrolment.objects.order_by("-id").values_list("id", flat=True)[0]

    def place(endpoint: str, user: User):
        """A page's start: the first page one run in four, else the key of a random row of the
        viewer's own list (where a client's cursor points: the last row of a page it read)."""
        if endpoint == "classes" or rng.random() < 0.25:
            return None  # classes: first pages (a school's list, or a whole scope's)
        if who_scope[user.scope_id] is None:
            enrolled = Enrolment.objects.filter(school_id=user.scope_id)
        else:
            enrolled = Enrolment.objects.filter(school_id__in=who_scope[user.scope_id])
        # A random row of the scope without reading it all: the first at or after a random id.
        row = enrolled.filter(id__gte=rng.randint(1, max_enrolment)).order_by("id").first()
        row = row or enrolled.order_by("id").first()
        if endpoint == "persons":
            return ("persons", [row.pupil.education_id])
        return ("enrolments", [row.id])

    # -- the previous query shapes (reference) --

    def ref_persons(user, start):
        qs = Person.objects.filter(id__in=person_ids_in_scope(user))
        cursor = encode_cursor(start[1], namespace="persons") if start else None
        return keyset_page(
            qs, order=("education_id",), cursor=cursor, limit=50, namespace="persons"
        )

    def ref_enrolments(user, start):
        qs = Enrolment.objects.filter(school_class_id__in=class_ids_in_scope(user))
        qs = qs.select_related("pupil", "school", "school_class", "school_year")
        cursor = encode_cursor(start[1], namespace="enrolments") if start else None
        return keyset_page(qs, order=("id",), cursor=cursor, limit=50, namespace="enrolments")

    def ref_classes(user, start):
        qs = SchoolClass.objects.filter(id__in=class_ids_in_scope(user)).select_related(
            "school", "school_year", "homeroom_teacher"
        )
        return keyset_page(
            qs, order=("grade", "name", "id"), cursor=None, limit=50, namespace="classes"
        )

    # -- the selectors now behind the endpoints --

    def new_persons(user, start):
        cursor = encode_cursor(start[1], namespace="persons") if start else None
        return selectors.persons_page(viewer=user, cursor=cursor, limit=50)

    def new_enrolments(user, start):
        cursor = encode_cursor(start[1], namespace="enrolments") if start else None
        return selectors.enrolments_page(viewer=user, cursor=cursor, limit=50)

    def new_classes(user, start):
        return selectors.classes_page(viewer=user, cursor=None, limit=50)

    cases = {
        "persons": (new_persons, ref_persons),
        "enrolments": (new_enrolments, ref_enrolments),
        "classes": (new_classes, ref_classes),
    }

    def timed(fn, user, start) -> tuple[float, int]:
        t0 = time.perf_counter()
        page = fn(user, start)
        return (time.perf_counter() - t0) * 1000, len(page.items)

    def pct(values: list[float], p: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    gc.collect()
    gc.freeze()
    print(
        f"vnemis_bench: {persons:,} persons, {enrolments:,} enrolments, {classes:,} classes; "
        f"Department of province {big}; pages of 50",
        flush=True,
    )
    result: dict = {"persons": persons, "enrolments": enrolments, "classes": classes}
    for endpoint, (new, ref) in cases.items():
        result[endpoint] = {}
        for who, make in viewers.items():
            users = [make() for _ in range(args.runs)]
            plan = [(user, place(endpoint, user)) for user in users]
            for user, start in plan[:3]:  # warm the caches the same way for both
                new(user, start)
            new_times, new_items = [], []
            for user, start in plan:
                ms, n = timed(new, user, start)
                new_times.append(ms)
                new_items.append(n)
            ref_plan = plan[: args.reference_runs]
            ref(*ref_plan[0])
            ref_times = [timed(ref, user, start)[0] for user, start in ref_plan]
            same = [new_times[i] for i in range(len(ref_plan))]
            ratio = statistics.mean(ref_times) / statistics.mean(same)
            row = {
                "p50_ms": round(pct(new_times, 50), 2),
                "p99_ms": round(pct(new_times, 99), 2),
                "reference_p50_ms": round(pct(ref_times, 50), 1),
                "reference_p99_ms": round(pct(ref_times, 99), 1),
                "ratio_vs_reference": round(ratio, 1),
                "mean_items": round(statistics.mean(new_items), 1),
            }
            result[endpoint][who] = row
            print(
                f"{endpoint:10} {who:10}  p50 {row['p50_ms']:8.2f} ms  p99 {row['p99_ms']:8.2f} ms"
                f"  | reference p50 {row['reference_p50_ms']:8.1f} ms"
                f"  p99 {row['reference_p99_ms']:8.1f} ms  ×{row['ratio_vs_reference']}"
                f"  (items/page {row['mean_items']})",
                flush=True,
            )
    print(json.dumps(result, separators=(",", ":")))


if __name__ == "__main__":
    main()
