"""``vnemis generate`` writes the population registry's citizens: everyone in school with true
values, citizens not in school, look-alikes and twins; valid unique IDs; deterministic."""

import json
import unicodedata
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command

from vnemis.registry.citizen_id import citizen_id_problems
from vnemis.registry.generate import GenerateConfig, GenerateError, NoiseConfig, generate
from vnemis.registry.generate.citizens import CITIZEN_SCHEMA
from vnemis.registry.generate.geography import CCCD_PREDECESSORS


def _citizens(out: Path) -> pl.DataFrame:
    return pl.read_parquet(out / "registry" / "citizens.parquet")


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def noisy(tmp_path_factory) -> Path:
    """Damaged school records (including duplicates and missing IDs), several chunks, CSV."""
    out = tmp_path_factory.mktemp("citizens") / "noisy"
    generate(
        GenerateConfig(
            out=out,
            provinces=("01", "79", "08"),
            students=12_000,
            seed=5,
            fmt="csv",
            noise=NoiseConfig.uniform(0.05),
            chunk_pupils=3_000,
        )
    )
    return out


def test_the_file_is_parquet_whatever_the_format_with_the_agreed_columns(noisy):
    citizens = _citizens(noisy)
    assert citizens.schema == pl.Schema(CITIZEN_SCHEMA)
    assert list(citizens.columns) == [
        "citizen_id", "full_name", "birth_date", "sex", "birth_province_code",
        "father_name", "mother_name", "person_id",
    ]  # fmt: skip
    registry = _manifest(noisy)["registry"]
    assert registry["files"] == {"citizens": "registry/citizens.parquet"}
    assert registry["counts"]["citizens"] == len(citizens)
    # Streamed: one row group per chunk, never the whole country in memory.
    assert pq.ParquetFile(noisy / "registry" / "citizens.parquet").num_row_groups > 1


def test_every_pupil_person_is_a_citizen_once_with_true_values(noisy):
    truth = pl.read_csv(noisy / "ground_truth" / "pupils.csv", infer_schema=False)
    pupils = pl.read_csv(noisy / "pupils.csv", infer_schema=False)
    assert truth["duplicate_of_pupil_code"].is_not_null().any()  # duplicates were planted
    assert truth["noise"].is_not_null().any()
    persons = (
        truth.join(pupils, on=["school_code", "pupil_code"])
        .filter(pl.col("duplicate_of_pupil_code").is_null())
        .select(
            "person_id", "true_full_name", "true_birth_date", "true_citizen_id", "sex",
            "birth_province_code",
        )
    )  # fmt: skip
    assert persons["person_id"].n_unique() == len(persons) == truth["person_id"].n_unique()
    citizens = _citizens(noisy).filter(pl.col("person_id").str.starts_with("P"))
    assert len(citizens) == len(persons) == _manifest(noisy)["registry"]["counts"]["pupils"]
    both = persons.join(citizens.with_columns(pl.col("birth_date").cast(pl.String)), on="person_id")
    assert len(both) == len(persons)
    assert (both["full_name"] == both["true_full_name"]).all()
    assert (both["birth_date"] == both["true_birth_date"]).all()
    assert (both["sex"] == both["sex_right"]).all()
    assert (both["birth_province_code"] == both["birth_province_code_right"]).all()
    known = both.filter(pl.col("true_citizen_id").is_not_null())
    assert (known["citizen_id"] == known["true_citizen_id"]).all()
    # Children whose school record never had an ID still have one at the registry.
    assert both.filter(pl.col("true_citizen_id").is_null())["citizen_id"].is_not_null().all()
    assert both["father_name"].is_not_null().all() and both["mother_name"].is_not_null().all()
    family = both["full_name"].str.split(" ").list.first()
    assert (both["father_name"].str.split(" ").list.first() == family).all()


def test_every_staff_member_is_a_citizen_with_true_values(noisy):
    staff = pl.read_csv(noisy / "staff.csv", infer_schema=False).with_columns(
        person_id="S" + pl.col("school_code") + "-" + pl.col("staff_code")
    )
    assert staff["citizen_id"].is_null().any()  # some personnel records lack the ID
    citizens = _citizens(noisy).filter(pl.col("person_id").str.starts_with("S"))
    assert len(citizens) == len(staff) == _manifest(noisy)["registry"]["counts"]["staff"]
    both = staff.join(citizens.with_columns(pl.col("birth_date").cast(pl.String)), on="person_id")
    assert len(both) == len(staff)
    assert (both["full_name"] == both["full_name_right"]).all()
    assert (both["birth_date"] == both["birth_date_right"]).all()
    assert (both["sex"] == both["sex_right"]).all()
    known = both.filter(pl.col("citizen_id").is_not_null())
    assert (known["citizen_id"] == known["citizen_id_right"]).all()
    assert both["citizen_id_right"].is_not_null().all()


def test_ids_are_unique_and_structurally_valid(noisy):
    citizens = _citizens(noisy)
    assert citizens["citizen_id"].n_unique() == len(citizens)
    problems = [
        (row["citizen_id"], p)
        for row in citizens.iter_rows(named=True)
        for p in citizen_id_problems(
            row["citizen_id"], birth_date=row["birth_date"], sex=row["sex"]
        )
    ]
    assert problems == []
    # The first three digits are an old province inside the current province of birth.
    for row in citizens.filter(pl.col("birth_province_code").is_not_null()).iter_rows(named=True):
        assert row["citizen_id"][:3] in CCCD_PREDECESSORS[row["birth_province_code"]]


def test_values_are_clean(noisy):
    citizens = _citizens(noisy)
    names = citizens["full_name"].to_list()
    assert all(unicodedata.is_normalized("NFC", n) and n == " ".join(n.split()) for n in names)
    assert all(w[0].isupper() for n in names for w in n.split())
    assert set(citizens["sex"]) == {"M", "F"}
    assert citizens["birth_province_code"].drop_nulls().str.contains(r"^\d{2}$").all()
    assert set(citizens["birth_province_code"].drop_nulls()) <= set(CCCD_PREDECESSORS)


def test_citizens_not_in_school_are_counted_and_look_like_pupils(noisy):
    citizens = _citizens(noisy)
    counts = _manifest(noisy)["registry"]["counts"]
    extras = citizens.filter(pl.col("person_id").is_null())
    assert len(extras) == counts["extras"] > 0
    assert abs(counts["extras"] - (counts["pupils"] + counts["staff"])) <= 4  # ratio 1.0
    assert len(citizens) == counts["pupils"] + counts["staff"] + counts["extras"]
    pupils = citizens.filter(pl.col("person_id").str.starts_with("P"))
    years = pupils["birth_date"].dt.year()
    assert extras["birth_date"].dt.year().is_between(years.min(), years.max()).all()
    boys = (extras["sex"] == "M").mean()
    assert 0.47 < boys < 0.56
    nguyen = (extras["full_name"].str.starts_with("Nguyễn ")).mean()
    assert abs(nguyen - (pupils["full_name"].str.starts_with("Nguyễn ")).mean()) < 0.05
    assert extras["father_name"].is_not_null().all()


def test_look_alikes_share_a_pupils_name_and_birth_date_under_another_id(noisy):
    citizens = _citizens(noisy)
    pupils = citizens.filter(pl.col("person_id").str.starts_with("P"))
    extras = citizens.filter(pl.col("person_id").is_null())
    alike = extras.join(pupils, on=["full_name", "birth_date"], how="inner")
    assert (alike["citizen_id"] != alike["citizen_id_right"]).all()
    assert alike["citizen_id"].n_unique() >= _manifest(noisy)["registry"]["counts"]["lookalikes"]
    assert _manifest(noisy)["registry"]["counts"]["lookalikes"] > 10


def test_twins_share_parents_birth_date_and_family_name_not_the_name(noisy):
    citizens = _citizens(noisy)
    pupils = citizens.filter(pl.col("person_id").str.starts_with("P"))
    extras = citizens.filter(pl.col("person_id").is_null())
    twins = extras.join(
        pupils, on=["father_name", "mother_name", "birth_date", "birth_province_code"]
    )
    count = _manifest(noisy)["registry"]["counts"]["twins"]
    assert count > 10 and twins["citizen_id"].n_unique() >= count
    family = twins["full_name"].str.split(" ").list.first()
    assert (family == twins["full_name_right"].str.split(" ").list.first()).all()
    assert (twins["full_name"] != twins["full_name_right"]).all()


def test_same_seed_same_citizens_other_seed_others(tmp_path):
    def run(name: str, seed: int) -> bytes:
        out = tmp_path / name
        generate(GenerateConfig(out=out, provinces=("04",), students=1500, seed=seed))
        return (out / "registry" / "citizens.parquet").read_bytes()

    assert run("a", 3) == run("b", 3)
    assert run("c", 4) != run("a2", 3)


def test_the_share_of_extra_citizens_is_an_option(tmp_path):
    call_command(
        "generate", "--out", str(tmp_path / "none"), "--provinces", "04", "--students", "800",
        "--registry-extra-ratio", "0", "--no-progress",
    )  # fmt: skip
    none = _citizens(tmp_path / "none")
    assert none["person_id"].is_not_null().all()
    assert _manifest(tmp_path / "none")["registry"]["counts"]["extras"] == 0
    call_command(
        "generate", "--out", str(tmp_path / "two"), "--provinces", "04", "--students", "800",
        "--registry-extra-ratio", "2", "--no-progress",
    )  # fmt: skip
    two = _citizens(tmp_path / "two")
    assert two["person_id"].is_null().sum() == 2 * two["person_id"].is_not_null().sum()
    with pytest.raises(CommandError, match="between 0 and 10"):
        call_command(
            "generate", "--out", str(tmp_path / "bad"), "--students", "800",
            "--registry-extra-ratio", "-1", "--no-progress",
        )  # fmt: skip
    with pytest.raises(GenerateError):
        generate(GenerateConfig(out=tmp_path / "bad2", students=800, registry_extra_ratio=11))
