"""Ministry operations indicators on a hand-made snapshot: classes, teachers, norms, identities.

Province 01, school 1 (public, urban, primary): 3 classes (2 two-session), 90 pupils, 5
teachers (4 with a bachelor's degree or more). School 2 (private, rural, lower secondary): 2
classes, 70 pupils, 3 teachers (all qualified). Persons: 4 verified of 5 in 01, 1 of 2 in 02.
"""

import datetime as dt

import polars as pl
import pytest

from vnemis.stats.cube import snapshot_engine
from vnemis.stats.indicators.compute import IndicatorError, Request, indicator_rows


def write(root, dataset, frame, year=2025, province="01"):
    path = root / dataset / f"school_year={year}" / f"province={province}"
    path.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(path / "part-0.parquet")


def pupils(school, grade, level, n, ownership, area):
    return [
        {"enrolment_id": school * 1000 + grade * 100 + i, "person_id": school * 1000 + grade * 100 + i,
         "school_id": school, "class_id": school * 10 + grade, "grade": grade, "level": level,
         "status": "studying", "started_on": dt.date(2025, 9, 5), "ended_on": None, "outcome": "",
         "sex": "F" if i % 2 else "M", "birth_year": 2025 - grade - 6, "ethnicity": "01",
         "disability": "", "ownership": ownership, "urban_rural": area}
        for i in range(n)
    ]  # fmt: skip


@pytest.fixture
def engine(tmp_path, settings):
    root = tmp_path / "snapshot"
    settings.STATS_SNAPSHOT_DIR = root
    rows = pupils(1, 1, "primary", 30, "public", "urban") + pupils(
        1, 2, "primary", 60, "public", "urban"
    )
    rows += pupils(2, 6, "lower_secondary", 70, "private", "rural")
    write(root, "enrolments", pl.DataFrame(rows))
    classes = [
        (11, 1, 1, "primary", True), (12, 1, 2, "primary", True), (13, 1, 2, "primary", False),
        (21, 2, 6, "lower_secondary", False), (22, 2, 6, "lower_secondary", False),
    ]  # fmt: skip
    write(root, "classes", pl.DataFrame(
        [{"class_id": c, "school_id": s, "grade": g, "level": lv, "two_sessions": two,
          "combined_grades": False} for c, s, g, lv, two in classes]
    ))  # fmt: skip
    staff = [
        (1, "primary", "teacher", "bachelor"), (1, "primary", "teacher", "master"),
        (1, "primary", "teacher", "bachelor"), (1, "primary", "teacher", "college"),
        (1, "primary", "teacher", "bachelor"), (1, "primary", "principal", "master"),
        (2, "lower_secondary", "teacher", "bachelor"), (2, "lower_secondary", "teacher", "bachelor"),
        (2, "lower_secondary", "teacher", "doctorate"),
    ]  # fmt: skip
    write(root, "staff", pl.DataFrame(
        [{"assignment_id": n, "person_id": 500 + n, "school_id": s, "role": role, "level": lv,
          "subjects": ["toan"], "qualification": q, "contract_type": "permanent", "sex": "F",
          "birth_year": 1980, "ethnicity": "01", "ownership": "public" if s == 1 else "private",
          "urban_rural": "urban" if s == 1 else "rural"}
         for n, (s, lv, role, q) in enumerate(staff)]
    ))  # fmt: skip
    pl.DataFrame(
        [{"school_id": 1, "code": "S1", "name": "A", "province": "01", "commune_code": "00001",
          "level": "primary", "ownership": "public", "urban_rural": "urban", "status": "open"},
         {"school_id": 2, "code": "S2", "name": "B", "province": "01", "commune_code": "00002",
          "level": "lower_secondary", "ownership": "private", "urban_rural": "rural", "status": "open"}]
    ).write_parquet(root / "schools.parquet")  # fmt: skip
    for province, statuses in (
        ("01", ["verified"] * 4 + ["mismatch"]),
        ("02", ["verified", "unverified"]),
    ):
        path = root / "persons" / f"province={province}"
        path.mkdir(parents=True)
        pl.DataFrame(
            [{"person_id": n, "birth_year": 2010, "sex": "F", "ethnicity": "01", "disability": "",
              "verification_status": s} for n, s in enumerate(statuses)]
        ).write_parquet(path / "part-0.parquet")  # fmt: skip
    return snapshot_engine(root)


def value(engine, code, level="primary", **kw):
    rows = indicator_rows(engine, Request(code, 2025, level, **kw))
    return rows if kw.get("by") else rows[0]["value"]


def test_pupils_and_teachers_per_class(engine):
    assert value(engine, "PUPILS_PER_CLASS") == pytest.approx(30.0)
    by_grade = value(engine, "PUPILS_PER_CLASS", by=("grade",))
    assert [(r["grade"], r["value"]) for r in by_grade] == [(1, 30.0), (2, 30.0)]
    assert value(engine, "PUPILS_PER_CLASS", "lower_secondary") == pytest.approx(35.0)
    assert value(engine, "TEACHERS_PER_CLASS") == pytest.approx(5 / 3)


def test_teacher_gap_against_the_norms(engine, settings):
    # Primary: 2 two-session classes × 1.5 + 1 one-session class × 1.2 = 4.2 required, 5 teachers.
    assert value(engine, "TEACHER_GAP") == pytest.approx(5 - 4.2)
    # Lower secondary: 2 classes × 1.9 = 3.8 required, 3 teachers: a shortage.
    assert value(engine, "TEACHER_GAP", "lower_secondary") == pytest.approx(3 - 3.8)
    settings.STATS_TEACHER_NORMS = {"primary": {"one_session": 1, "two_sessions": 1},
                                    "lower_secondary": 1, "upper_secondary": 1}  # fmt: skip
    assert value(engine, "TEACHER_GAP") == pytest.approx(2.0)


def test_qualified_teachers_and_identities(engine):
    assert value(engine, "QUALIFIED_TEACHERS_PCT") == pytest.approx(80.0)
    by_ownership = value(engine, "QUALIFIED_TEACHERS_PCT", "lower_secondary", by=("ownership",))
    assert [(r["ownership"], r["value"]) for r in by_ownership] == [("private", 100.0)]
    assert value(engine, "IDENTITIES_VERIFIED_PCT") == pytest.approx(100 * 5 / 7)
    by_province = value(engine, "IDENTITIES_VERIFIED_PCT", by=("province",))
    assert [(r["province"], r["value"]) for r in by_province] == [("01", 80.0), ("02", 50.0)]


def test_school_filter_and_refused_dimensions(engine):
    only = indicator_rows(
        engine, Request("PUPILS_PER_CLASS", 2025, "primary", filters=(("school_id", 2),))
    )
    assert only[0]["value"] is None  # school 2 has no primary classes
    with pytest.raises(IndicatorError, match="cannot be disaggregated by 'sex'"):
        indicator_rows(engine, Request("TEACHERS_PER_CLASS", 2025, "primary", by=("sex",)))


def test_submission_completeness_and_timeliness(tmp_path, settings):
    root = tmp_path / "snapshot"
    settings.STATS_SNAPSHOT_DIR = root
    root.mkdir()
    due = dt.date(2025, 10, 30)
    rows = [
        (1, "01", "start_of_year", "approved", dt.date(2025, 10, 20)),
        (2, "01", "start_of_year", "submitted", dt.date(2025, 10, 31)),  # a day late
        (3, "01", "start_of_year", "returned", dt.date(2025, 10, 10)),  # sent back: not in
        (4, "48", "start_of_year", "draft", None),
        (1, "01", "end_of_year", "draft", None),
    ]
    pl.DataFrame(
        [{"school_id": s, "province": p, "school_year": 2025, "period": k, "status": st,
          "submitted_on": on, "due_on": due} for s, p, k, st, on in rows],
        schema_overrides={"submitted_on": pl.Date},
    ).write_parquet(root / "submissions.parquet")  # fmt: skip
    engine = snapshot_engine(root)
    start = (("period", "start_of_year"),)
    complete = indicator_rows(engine, Request("SUBMISSIONS_COMPLETE_PCT", 2025, filters=start))
    assert complete[0]["value"] == pytest.approx(50.0)
    on_time = indicator_rows(
        engine, Request("SUBMISSIONS_ON_TIME_PCT", 2025, filters=start, by=("province",))
    )
    assert [(r["province"], r["value"]) for r in on_time] == [("01", 100 / 3), ("48", 0.0)]
    assert indicator_rows(engine, Request("SUBMISSIONS_COMPLETE_PCT", 2025))[0]["value"] == 40.0
