"""The population table: loading CSV and Parquet files, refusing malformed ones whole, the
generator's population.csv consistent with its pupils, and population.parquet in the snapshot."""

import duckdb
import polars as pl
import pytest

from vnemis.registry.generate.population import enrolment_ratio, population_from_pupils
from vnemis.stats.models import PopulationEstimate
from vnemis.stats.population import PopulationFileError, population_load
from vnemis.stats.snapshot import snapshot_refresh

HEADER = "year,province,age,sex,count\n"


def write(tmp_path, body: str, name: str = "dan_so.csv"):
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return path


@pytest.fixture
def loaded_2024(db, tmp_path):
    """Rows already in the table, to prove a refused file changes nothing."""
    population_load(write(tmp_path, "2024,01,6,M,100\n2024,01,6,F,95\n", "old.csv"))
    return list(
        PopulationEstimate.objects.values_list("year", "province_code", "age", "sex", "count")
    )


def test_load_csv_and_replace_the_years_it_holds(loaded_2024, tmp_path):
    result = population_load(write(tmp_path, "2025,1,6,M,120\n2025,01,6,F,118\n2025,48,7,m,40\n"))
    assert (result.rows, result.years, result.provinces) == (3, [2025], 2)
    assert PopulationEstimate.objects.get(year=2025, province_code="48", age=7, sex="M").count == 40
    # Loading 2025 again replaces 2025 only; 2024 stays.
    population_load(write(tmp_path, "2025,01,6,M,121\n", "again.csv"))
    assert list(
        PopulationEstimate.objects.filter(year=2025).values_list("province_code", "count")
    ) == [("01", 121)]
    assert PopulationEstimate.objects.filter(year=2024).count() == 2


def test_load_parquet(db, tmp_path):
    path = tmp_path / "dan_so.parquet"
    pl.DataFrame(
        {"year": [2025, 2025], "province": ["79", "79"], "age": [10, 10], "sex": ["M", "F"],
         "count": [5000, 4800]}
    ).write_parquet(path)  # fmt: skip
    assert population_load(path).rows == 2
    assert PopulationEstimate.objects.filter(province_code="79").count() == 2


@pytest.mark.parametrize(
    ("body", "code", "row", "column", "vi", "en"),
    [
        ("2025,01,6,X,100\n", "invalid_rows", 1, "sex", "giới tính phải là M", "sex must be M"),
        ("2025,01,6,M,100\n2025,01,7,M,-3\n", "invalid_rows", 2, "count", "không âm",
         "not negative"),
        ("2025,01,6.5,M,100\n", "invalid_rows", 1, "age", "tuổi phải là số nguyên",
         "age must be a whole number"),
        ("2025,01,sáu,M,100\n", "invalid_rows", 1, "age", "tuổi phải là số nguyên",
         "age must be a whole number"),
        ("2025,1x,6,M,100\n", "invalid_rows", 1, "province", "mã tỉnh", "province code"),
        ("2025,01,6,M,100\n2025,01,6,M,101\n", "invalid_rows", 2, "year, province, age, sex",
         "lặp", "duplicated"),
    ],
)  # fmt: skip
def test_malformed_rows_are_named_and_nothing_loads(
    loaded_2024, tmp_path, body, code, row, column, vi, en
):
    path = write(tmp_path, body)
    with pytest.raises(PopulationFileError) as caught:
        population_load(path)
    error = caught.value
    assert error.code == code
    assert "dan_so.csv" in error.message_vi and "dan_so.csv" in error.message_en
    problem = error.errors[0]
    assert (problem["file"], problem["row"], problem["field"]) == ("dan_so.csv", row, column)
    assert f"dòng {row}, cột {column}" in problem["message_vi"] and vi in problem["message_vi"]
    assert f"row {row}, column {column}" in problem["message_en"] and en in problem["message_en"]
    assert "dan_so.csv" in str(error)
    after = list(
        PopulationEstimate.objects.values_list("year", "province_code", "age", "sex", "count")
    )
    assert after == loaded_2024


def test_bad_row_after_good_ones_loads_nothing(loaded_2024, tmp_path):
    good = "".join(f"2025,01,{age},M,{100 + age}\n" for age in range(3, 23))
    with pytest.raises(PopulationFileError) as caught:
        population_load(write(tmp_path, good + "2025,01,23,M,-1\n"))
    assert caught.value.errors[0]["row"] == 21
    assert not PopulationEstimate.objects.filter(year=2025).exists()


def test_missing_column_is_named(loaded_2024, tmp_path):
    path = tmp_path / "thieu.csv"
    path.write_text("year,province,age,count\n2025,01,6,100\n", encoding="utf-8")
    with pytest.raises(PopulationFileError) as caught:
        population_load(path)
    error = caught.value
    assert error.code == "missing_columns"
    assert "thieu.csv" in error.message_vi and "thiếu cột: sex" in error.message_vi
    assert "column(s): sex" in error.message_en
    assert error.errors[0]["field"] == "sex"
    assert PopulationEstimate.objects.count() == len(loaded_2024)


def test_unreadable_or_wrong_kind_of_file(db, tmp_path):
    with pytest.raises(PopulationFileError) as caught:
        population_load(tmp_path / "khong_co.csv")
    assert caught.value.code == "file_not_found" and "khong_co.csv" in caught.value.message_vi
    other = tmp_path / "dan_so.xlsx"
    other.write_bytes(b"PK\x03\x04")
    with pytest.raises(PopulationFileError) as caught:
        population_load(other)
    assert caught.value.code == "unsupported_format"
    bad = tmp_path / "hong.parquet"
    bad.write_bytes(b"not parquet")
    with pytest.raises(PopulationFileError) as caught:
        population_load(bad)
    assert caught.value.code == "unreadable"
    assert not PopulationEstimate.objects.exists()


def test_generator_population_is_consistent_with_its_pupils():
    pupils = pl.DataFrame(
        {
            "province": ["01"] * 250 + ["48"] * 10,
            "birth_year": [2017] * 98 + [2011] * 93 + [2009] * 59 + [2019] * 10,
            "sex": ["M"] * 260,
        }
    )
    pop = population_from_pupils(pupils, year=2025)
    assert set(pop["age"]) == set(range(3, 23)) and set(pop["sex"]) == {"M", "F"}
    got = {(p, a, s): n for _, p, a, s, n in pop.iter_rows()}
    assert got[("01", 8, "M")] == 100  # 98 / 0.98
    assert got[("01", 14, "M")] == 100  # 93 / 0.93
    assert got[("01", 16, "M")] == 79  # ceil(59 / 0.75)
    assert got[("48", 6, "M")] == 11  # ceil(10 / 0.98)
    # No pupil of an age: the average cohort of the ages that can be told, never 0.
    assert got[("01", 20, "M")] == 93 and got[("48", 9, "M")] == 11  # ceil((100+100+79)/3)
    assert enrolment_ratio(8) == 0.98 and enrolment_ratio(20) < 0.1


def test_generated_population_loads_and_reaches_the_snapshot(snapshot_dir, registry_with_data):
    result = population_load(registry_with_data / "population.csv")
    assert result.years == [2025] and result.provinces == 2
    assert result.rows == 2 * 20 * 2  # two provinces, ages 3–22, two sexes
    refreshed = snapshot_refresh()
    assert "population.parquet" in refreshed["partitions"]
    con = duckdb.connect()
    path = str(snapshot_dir / "population.parquet")
    assert con.execute(f"SELECT COUNT(*), SUM(count) FROM '{path}'").fetchone() == (
        result.rows,
        sum(PopulationEstimate.objects.values_list("count", flat=True)),
    )
    # Never fewer people than pupils of an age; near the ratio at primary ages.
    enrol = str(snapshot_dir / "enrolments" / "*" / "*" / "*.parquet")
    rows = con.execute(
        f"""SELECT e.province, 2025 - e.birth_year AS age, e.sex, COUNT(*) AS pupils, p.count
        FROM read_parquet('{enrol}', hive_partitioning = true) e
        JOIN '{path}' p ON p.province = lpad(CAST(e.province AS VARCHAR), 2, '0')
            AND p.age = 2025 - e.birth_year AND p.sex = e.sex
        GROUP BY ALL"""
    ).fetchall()
    assert rows and all(count >= pupils for *_, pupils, count in rows)
    primary = [
        (pupils, count) for _, age, _, pupils, count in rows if 6 <= age <= 10 and pupils > 20
    ]
    assert primary and all(0.9 <= pupils / count <= 1.0 for pupils, count in primary)
    # Unchanged: not written again.
    assert "population.parquet" not in snapshot_refresh()["partitions"]
