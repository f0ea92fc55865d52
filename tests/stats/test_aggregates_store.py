"""Stored aggregates: years before unit records and units with totals only join the cube.

Province 01 reports 2018 in today's codes; old Quảng Nam (49, merged into Đà Nẵng 48 on 1 July
2025) reports on the old map. The unit-record snapshot covers 2020–2021 only.
"""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from vnemis.geo.models import LegacyProvince, LegacyProvinceMapping
from vnemis.stats.aggregates_store import aggregates_import
from vnemis.stats.cube import snapshot_engine
from vnemis.stats.indicators.aggregates import AggregateError
from vnemis.stats.indicators.compute import Request, indicator_rows

from .test_indicators_units import unit_records, write_snapshot

LEVELS = "level,entry_age,grades\nprimary,6,5\nlower_secondary,11,4\nupper_secondary,15,3\n"


@pytest.fixture
def old_map(geo):
    quang_nam = LegacyProvince.objects.create(code="49", name="Tỉnh Quảng Nam", key="quang_nam")
    LegacyProvinceMapping.objects.create(legacy_province=quang_nam, province=geo["dn"])
    split = LegacyProvince.objects.create(code="99", name="Tỉnh thử tách", key="tach")
    LegacyProvinceMapping.objects.create(legacy_province=split, province=geo["dn"])
    LegacyProvinceMapping.objects.create(legacy_province=split, province=geo["hn"])


@pytest.fixture
def snapshot(tmp_path, settings):
    root = tmp_path / "snapshot"
    settings.STATS_SNAPSHOT_DIR = root
    write_snapshot(root, *unit_records())
    return root


def files(directory, enrolment, population):
    directory.mkdir(exist_ok=True)
    (directory / "levels.csv").write_text(LEVELS)
    (directory / "enrolment.csv").write_text(enrolment)
    (directory / "population.csv").write_text(population)
    return directory


def test_old_map_and_early_years_are_counted_on_todays_map(tmp_path, snapshot, old_map):
    directory = files(
        tmp_path / "agg",
        "year,level,grade,age,sex,count,province\n"
        "2018,primary,1,6,F,90,01\n2018,primary,2,7,M,110,01\n"
        "2020,primary,1,6,F,99999,01\n",  # 2020 has unit records in 01: ignored
        "year,age,sex,count,province\n2018,6,F,100,01\n2018,7,M,100,01\n",
    )
    old = files(
        tmp_path / "old",
        "year,level,grade,age,sex,count,legacy_province\n2018,primary,1,6,F,40,49\n",
        "year,age,sex,count,legacy_province\n2018,6,F,50,49\n2018,7,F,30,49\n",
    )
    assert aggregates_import(directory)["enrolment"] == 3
    assert aggregates_import(old)["enrolment"] == 4
    engine = snapshot_engine(snapshot)
    rows = indicator_rows(engine, Request("GER", 2018, "primary", by=("province",)))
    assert {r["province"]: r["value"] for r in rows} == {
        "01": pytest.approx(100.0),
        "48": pytest.approx(100 * 40 / 80),  # the old province's figures, now Đà Nẵng's
    }
    unit_only = indicator_rows(engine, Request("GER", 2020, "primary", by=("province",)))
    assert all(r["numerator"] < 99999 for r in unit_only)
    # Importing the same year again replaces it rather than adding to it.
    aggregates_import(directory)
    again = indicator_rows(snapshot_engine(snapshot), Request("GER", 2018, "primary"))
    assert again[0]["numerator"] == 240


def test_local_grade_numbering_is_stored_in_national_numbers(tmp_path, snapshot, old_map):
    directory = files(
        tmp_path / "agg",
        "year,level,grade,age,sex,count,province\n2018,lower_secondary,1,11,F,10,01\n",
        "year,age,sex,count,province\n2018,11,F,20,01\n",
    )
    aggregates_import(directory)
    rows = indicator_rows(
        snapshot_engine(snapshot), Request("REPEATERS_PCT", 2018, "lower_secondary", by=("grade",))
    )
    assert [r["grade"] for r in rows] == [6]


@pytest.mark.parametrize(
    ("enrolment", "message"),
    [
        ("year,level,grade,age,sex,count\n2018,primary,1,6,F,1\n", "missing column 'province'"),
        (
            "year,level,grade,age,sex,count,legacy_province\n2018,primary,1,6,F,1,77\n",
            "'77' is not on",
        ),
        ("year,level,grade,age,sex,count,legacy_province\n2018,primary,1,6,F,1,99\n", "was split"),
        ("year,level,grade,age,sex,count,province\n2018,primary,1,6,F,1,55\n", "unknown province"),
        ("year,level,grade,age,sex,count,province\n2018,primary,1,6,Q,1,01\n", "must be F or M"),
    ],
)
def test_bad_files_store_nothing(tmp_path, snapshot, old_map, enrolment, message):
    directory = files(tmp_path / "agg", enrolment, "year,age,sex,count,province\n2018,6,F,1,01\n")
    with pytest.raises(AggregateError, match=message):
        aggregates_import(directory)
    assert not (snapshot / "aggregates").exists()


def test_the_command(tmp_path, snapshot, old_map):
    directory = files(
        tmp_path / "agg",
        "year,level,grade,age,sex,count,province\n2018,primary,1,6,F,90,01\n",
        "year,age,sex,count,province\n2018,6,F,100,01\n",
    )
    out = StringIO()
    call_command("stats", "aggregates", str(directory), stdout=out)
    assert "enrolment" in out.getvalue()
    out = StringIO()
    call_command("stats", "compute", "--indicator", "GER", "--year", "2018", stdout=out)
    assert json.loads(out.getvalue())["value"] == pytest.approx(90.0)
    with pytest.raises(CommandError, match="No aggregate file"):
        call_command("stats", "aggregates", str(tmp_path))
