"""Unit records and aggregates give the same indicators by the same definitions.

A small snapshot of unit records (two provinces, two years, all twelve grades) is written as
the snapshot writer lays it out; the same pupils are counted into aggregate CSV files by an
independent Polars implementation of the counting rules (docs/stats.md). Every indicator, for
every level, nationally and by province, must agree.
"""

import datetime as dt
import json
from io import StringIO

import numpy as np
import polars as pl
import pytest
from django.core.management import call_command

from vnemis.stats.cube import cube_write, snapshot_engine
from vnemis.stats.indicators.aggregates import aggregates_engine
from vnemis.stats.indicators.catalogue import UIS_INDICATORS as INDICATORS
from vnemis.stats.indicators.compute import IndicatorError, Request, indicator_rows

LEVEL_OF = {
    **dict.fromkeys(range(1, 6), "primary"),
    **dict.fromkeys(range(6, 10), "lower_secondary"),
}
LEVEL_OF |= dict.fromkeys(range(10, 13), "upper_secondary")
LAST = {5, 9, 12}


def unit_records(seed: int = 7) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    rows, staff, people = [], [], []
    schools = [
        (1, "01", "public", "urban"),
        (2, "01", "private", "rural"),
        (3, "02", "public", "rural"),
    ]
    enrolment_id = 0
    for year in (2020, 2021):
        for school_id, province, ownership, area in schools:
            for grade in range(1, 13):
                for _ in range(int(rng.integers(20, 40))):
                    enrolment_id += 1
                    age = grade + 5 + int(rng.choice([0, 0, 0, 1, 2, -1]))
                    status = str(rng.choice(["studying"] * 8 + ["repeating", "dropped_out"]))
                    started, ended = dt.date(year, 9, 5), None
                    if rng.random() < 0.05:  # left before the reference date: not counted
                        status, ended = "transferred_out", dt.date(year, 9, 20)
                    elif rng.random() < 0.05:  # arrived after it: not counted either
                        status, started = "transferred_in", dt.date(year, 11, 2)
                    outcome = ""
                    if grade in LAST and status == "studying" and rng.random() < 0.9:
                        status = str(rng.choice(["graduated", "studying"]))
                        outcome = "completed_level" if status == "studying" else ""
                    rows.append(
                        {
                            "enrolment_id": enrolment_id, "person_id": enrolment_id,
                            "school_id": school_id, "class_id": school_id * 100 + grade,
                            "grade": grade, "level": LEVEL_OF[grade], "status": status,
                            "started_on": started, "ended_on": ended, "outcome": outcome,
                            "sex": str(rng.choice(["F", "M"])), "birth_year": year - age,
                            "ethnicity": str(rng.choice(["01", "01", "01", "05"])),
                            "disability": "", "ownership": ownership, "urban_rural": area,
                            "school_year": year, "province": province,
                        }
                    )  # fmt: skip
            for n in range(12):
                level = LEVEL_OF[1 + n % 12]
                staff.append(
                    {
                        "assignment_id": len(staff) + 1, "person_id": 10_000 + len(staff),
                        "school_id": school_id, "role": "teacher" if n % 6 else "staff",
                        "level": level, "subjects": ["toan"], "qualification": "bachelor",
                        "contract_type": "permanent", "sex": "F" if n % 3 else "M",
                        "birth_year": 1980, "ethnicity": "01", "ownership": ownership,
                        "urban_rural": area, "school_year": year, "province": province,
                    }
                )  # fmt: skip
    for year in (2020, 2021):
        for province in ("01", "02"):
            for age in range(3, 22):
                for sex in ("F", "M"):
                    people.append(
                        {"year": year, "province": province, "age": age, "sex": sex,
                         "count": int(rng.integers(35, 60))}
                    )  # fmt: skip
    return pl.DataFrame(rows), pl.DataFrame(staff), pl.DataFrame(people)


def write_snapshot(root, enrolments, staff, population):
    for name, frame in (("enrolments", enrolments), ("staff", staff)):
        for (year, province), part in frame.group_by(["school_year", "province"]):
            path = root / name / f"school_year={year}" / f"province={province}"
            path.mkdir(parents=True, exist_ok=True)
            part.drop("school_year", "province").write_parquet(path / "part-0.parquet")
    population.write_parquet(root / "population.parquet")


def write_aggregates(directory, enrolments, staff, population):
    """Count the unit records into the aggregate files, independently of the cube's SQL."""
    ref = pl.date(pl.col("school_year"), 9, 30)
    enrolled = enrolments.filter(
        (pl.col("started_on") <= ref) & (pl.col("ended_on").is_null() | (pl.col("ended_on") > ref))
    ).with_columns(
        year=pl.col("school_year"), age=pl.col("school_year") - pl.col("birth_year"),
        repeating=pl.col("status") == "repeating",
    )  # fmt: skip

    def count(frame, keys):
        return frame.group_by([*keys, "province"]).len("count").sort([*keys, "province"])

    count(enrolled, ["year", "level", "grade", "age", "sex"]).write_csv(directory / "enrolment.csv")
    count(enrolled.filter("repeating"), ["year", "level", "grade", "sex"]).write_csv(
        directory / "repeaters.csv"
    )
    entrants = enrolled.filter(~pl.col("repeating") & pl.col("grade").is_in([1, 6, 10]))
    count(entrants, ["year", "level", "grade", "age", "sex"]).write_csv(
        directory / "new_entrants.csv"
    )
    graduates = enrolled.filter(
        pl.col("grade").is_in(sorted(LAST))
        & ((pl.col("status") == "graduated") | (pl.col("outcome") == "completed_level"))
    )
    count(graduates, ["year", "level", "sex"]).write_csv(directory / "graduates.csv")
    teachers = staff.filter(pl.col("role") == "teacher").with_columns(year=pl.col("school_year"))
    count(teachers, ["year", "level", "sex"]).write_csv(directory / "teachers.csv")
    population.write_csv(directory / "population.csv")
    (directory / "levels.csv").write_text(
        "level,entry_age,grades\nprimary,6,5\nlower_secondary,11,4\nupper_secondary,15,3\n"
    )


@pytest.fixture
def both(tmp_path, settings):
    enrolments, staff, population = unit_records()
    root = tmp_path / "snapshot"
    settings.STATS_SNAPSHOT_DIR = root
    write_snapshot(root, enrolments, staff, population)
    aggregates = tmp_path / "aggregates"
    aggregates.mkdir()
    write_aggregates(aggregates, enrolments, staff, population)
    tables = {t for i in INDICATORS for t in i.sources}
    return snapshot_engine(root), aggregates_engine(aggregates, tables), root


def requests():
    for indicator in INDICATORS:
        for level in ("primary", "lower_secondary", "upper_secondary"):
            if indicator.code == "TRANSITION_RATE" and level == "upper_secondary":
                continue
            groups = [(), ("province",)] + ([("province", "sex")] if indicator.by_sex else [])
            for by in groups:
                yield Request(indicator.code, 2020, level, by=by)
            if indicator.by_sex:
                yield Request("GPI_" + indicator.code, 2020, level, by=("province",))
            if indicator.by_grade:
                yield Request(indicator.code, 2020, level, by=("grade",))


def as_table(rows):
    return sorted(
        (tuple(str(v) for k, v in r.items() if k not in {"value", "numerator", "denominator"}),
         r["value"], r.get("numerator"), r.get("denominator"))
        for r in rows
    )  # fmt: skip


def test_every_indicator_agrees_between_unit_records_and_aggregates(both):
    units, aggregates, _ = both
    compared = 0
    for request in requests():
        got, want = (
            as_table(indicator_rows(units, request)),
            as_table(indicator_rows(aggregates, request)),
        )
        assert len(got) == len(want), request
        for (gk, gv, gn, gd), (wk, wv, wn, wd) in zip(got, want, strict=True):
            assert gk == wk and (gn, gd) == (wn, wd), request
            assert gv == pytest.approx(wv, rel=1e-12) if wv is not None else gv is None, request
        compared += 1
    assert compared > 100


def test_values_are_plausible_and_filters_narrow(both):
    units, _, _ = both
    ger = indicator_rows(units, Request("GER", 2020, "primary"))[0]
    assert 30 < ger["value"] < 300 and ger["denominator"] > 0
    one = indicator_rows(units, Request("PTR", 2020, "primary", filters=(("school_id", 1),)))
    both_provinces = indicator_rows(units, Request("PTR", 2020, "primary", by=("province",)))
    assert {r["province"] for r in both_provinces} == {"01", "02"}
    assert (
        one[0]["denominator"]
        < indicator_rows(units, Request("PTR", 2020, "primary"))[0]["denominator"]
    )


def test_disaggregations_outside_the_definition_are_refused(both):
    units, _, _ = both
    with pytest.raises(IndicatorError, match="cannot be disaggregated by 'ownership'"):
        indicator_rows(units, Request("GER", 2020, "primary", by=("ownership",)))
    with pytest.raises(IndicatorError, match="cannot be disaggregated by 'school_id'"):
        indicator_rows(units, Request("NER", 2020, "primary", filters=(("school_id", 1),)))


def test_written_cube_partitions_give_the_same_answers(both):
    units, _, root = both
    before = {r: as_table(indicator_rows(units, r)) for r in list(requests())[:40]}
    for year in (2020, 2021):
        for province in ("01", "02"):
            written = cube_write(school_year=year, province=province, root=root)
            assert written["enrolment"] > 0
    served = snapshot_engine(root)
    assert served is not units
    for request, table in before.items():
        assert as_table(indicator_rows(served, request)) == table, request


def test_cli_reads_the_snapshot(both):
    out = StringIO()
    call_command(
        "stats", "compute", "--indicator", "NER", "--year", "2020", "--province", "2", stdout=out
    )
    result = json.loads(out.getvalue())
    assert (
        result["indicator"] == "NER"
        and 0 < result["value"] <= 100
        and set(result["by_sex"]) == {"F", "M"}
    )
