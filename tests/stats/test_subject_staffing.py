"""Teacher shortage and surplus by subject, on a hand-made snapshot, computed by hand.

One lower-secondary school (id 1) with two grade-6 classes, one upper-secondary school (id 2)
with one grade-10 class. Teaching loads: 19 (lower), 17 (upper) periods a week.
"""

import polars as pl
import pytest

from vnemis.stats.cube import snapshot_engine
from vnemis.stats.curriculum import CurriculumError, curriculum, load_curriculum
from vnemis.stats.indicators.compute import Request, indicator_rows

from .test_indicators_operations import write


def staff_row(n, school, level, subjects, role="teacher"):
    return {
        "assignment_id": n, "person_id": 900 + n, "school_id": school, "role": role,
        "level": level, "subjects": subjects, "qualification": "bachelor",
        "contract_type": "permanent", "sex": "F", "birth_year": 1985, "ethnicity": "01",
        "ownership": "public", "urban_rural": "urban",
    }  # fmt: skip


@pytest.fixture
def engine(tmp_path, settings):
    root = tmp_path / "snapshot"
    settings.STATS_SNAPSHOT_DIR = root
    write(root, "classes", pl.DataFrame(
        [{"class_id": c, "school_id": s, "grade": g, "level": lv, "two_sessions": False,
          "combined_grades": False}
         for c, s, g, lv in ((61, 1, 6, "lower_secondary"), (62, 1, 6, "lower_secondary"),
                             (101, 2, 10, "upper_secondary"))]
    ))  # fmt: skip
    write(root, "staff", pl.DataFrame([
        staff_row(1, 1, "lower_secondary", ["TOAN"]),
        staff_row(2, 1, "lower_secondary", ["TOAN", "TIN"]),  # 4 : 1 periods → 0.8 + 0.2
        staff_row(3, 1, "lower_secondary", ["VAN"]),
        staff_row(4, 1, "lower_secondary", []),  # no subject declared
        staff_row(5, 1, "lower_secondary", ["TOAN"], role="principal"),  # not a teacher
        staff_row(6, 2, "upper_secondary", ["LY"]),
    ]))  # fmt: skip
    pl.DataFrame(
        [{"school_id": s, "code": f"S{s}", "name": "x", "province": "01", "commune_code": "1",
          "level": lv, "ownership": "public", "urban_rural": "urban", "status": "open"}
         for s, lv in ((1, "lower_secondary"), (2, "upper_secondary"))]
    ).write_parquet(root / "schools.parquet")  # fmt: skip
    return snapshot_engine(root)


def by_subject(engine, code, level):
    rows = indicator_rows(engine, Request(code, 2025, level, by=("subject",)))
    return {r["subject"]: r["value"] for r in rows}


def test_supply_and_demand_by_subject_in_full_time_equivalents(engine):
    shortage = by_subject(engine, "TEACHER_SHORTAGE_SUBJECT", "lower_secondary")
    surplus = by_subject(engine, "TEACHER_SURPLUS_SUBJECT", "lower_secondary")
    # Mathematics: 2 classes × 4 periods / 19 = 0.421 needed; 1 + 0.8 teachers on hand.
    assert surplus["TOAN"] == pytest.approx(1.8 - 8 / 19)
    assert shortage["TOAN"] == pytest.approx(0)
    # Informatics: 2 × 1 / 19 needed, 0.2 on hand.
    assert surplus["TIN"] == pytest.approx(0.2 - 2 / 19)
    # Natural sciences: 2 × 4 / 19 needed, nobody: all of it short.
    assert shortage["KHTN"] == pytest.approx(8 / 19)
    assert surplus["KHAC"] == pytest.approx(1.0)  # the teacher with no subject
    balance = by_subject(engine, "TEACHER_BALANCE_SUBJECT", "lower_secondary")
    assert balance["VAN"] == pytest.approx(1 - 8 / 19)
    # Whole level: 4 teachers against 2 classes × 29 periods / 19.
    total = indicator_rows(engine, Request("TEACHER_BALANCE_SUBJECT", 2025, "lower_secondary"))
    assert total[0]["value"] == pytest.approx(4 - 2 * 29 / 19)


def test_upper_secondary_electives_use_the_expected_uptake(engine):
    shortage = by_subject(engine, "TEACHER_SHORTAGE_SUBJECT", "upper_secondary")
    # Physics: 2 periods × 0.6 of classes / 17 needed, 1 teacher on hand: no shortage.
    assert shortage["LY"] == pytest.approx(0)
    assert shortage["HOA"] == pytest.approx(2 * 0.55 / 17)
    assert shortage["TOAN"] == pytest.approx(3 / 17)


def test_a_surplus_in_one_school_does_not_hide_a_shortage_in_another(tmp_path, settings):
    root = tmp_path / "snapshot"
    settings.STATS_SNAPSHOT_DIR = root
    write(root, "classes", pl.DataFrame(
        [{"class_id": 10 + s, "school_id": s, "grade": 6, "level": "lower_secondary",
          "two_sessions": False, "combined_grades": False} for s in (1, 2)]
    ))  # fmt: skip
    write(
        root,
        "staff",
        pl.DataFrame(
            [
                staff_row(1, 1, "lower_secondary", ["VAN"]),
                staff_row(2, 1, "lower_secondary", ["VAN"]),
            ]
        ),
    )
    engine = snapshot_engine(root)
    shortage = by_subject(engine, "TEACHER_SHORTAGE_SUBJECT", "lower_secondary")
    surplus = by_subject(engine, "TEACHER_SURPLUS_SUBJECT", "lower_secondary")
    assert shortage["VAN"] == pytest.approx(4 / 19)  # school 2 has no Literature teacher
    assert surplus["VAN"] == pytest.approx(2 - 4 / 19)
    rows = indicator_rows(
        engine,
        Request("TEACHER_SHORTAGE_SUBJECT", 2025, "lower_secondary", by=("school_id", "subject")),
    )
    assert {(r["school_id"], r["subject"]): r["value"] for r in rows}[(1, "VAN")] == 0


def test_the_shipped_curriculum_is_consistent():
    rows, load = curriculum()
    assert load == {"primary": 23, "lower_secondary": 19, "upper_secondary": 17}
    electives = [r for r in rows if r.level == "upper_secondary" and r.grade == 10 and r.share < 1]
    assert sum(r.share for r in electives) == pytest.approx(4)  # four electives per pupil
    grade1 = sum(r.periods for r in rows if r.grade == 1)
    assert grade1 == 25


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("primary,1,TV,GVTH,abc,1", "cột 'periods'"),
        ("primary,9,TV,GVTH,3,1", "cột 'grade'"),
        ("kindergarten,1,TV,GVTH,3,1", "unknown level"),
        ("primary,1,TV,GVTH,3,1.5", "cột 'share'"),
        ("primary,1,,GVTH,3,1", "subject empty"),
    ],
)
def test_malformed_curriculum_files_are_refused_with_the_line(tmp_path, line, message):
    (tmp_path / "curriculum.csv").write_text(
        "level,grade,subject,teaching_subject,periods,share\n" + line + "\n", encoding="utf-8"
    )
    (tmp_path / "teaching_load.csv").write_text(
        "level,periods\nprimary,23\nlower_secondary,19\nupper_secondary,17\n", encoding="utf-8"
    )
    with pytest.raises(CurriculumError, match=message) as info:
        load_curriculum(tmp_path)
    assert "dòng 2" in info.value.message_vi or "dòng" in info.value.message_vi


def test_missing_columns_and_loads_are_named(tmp_path):
    (tmp_path / "curriculum.csv").write_text("level,grade\nprimary,1\n", encoding="utf-8")
    with pytest.raises(CurriculumError, match="subject"):
        load_curriculum(tmp_path)
    (tmp_path / "curriculum.csv").write_text(
        "level,grade,subject,teaching_subject,periods,share\nprimary,1,TV,GVTH,12,1\n",
        encoding="utf-8",
    )
    (tmp_path / "teaching_load.csv").write_text("level,periods\nprimary,23\n", encoding="utf-8")
    with pytest.raises(CurriculumError, match="no teaching load for lower_secondary"):
        load_curriculum(tmp_path)
