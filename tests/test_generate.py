"""``vnemis generate``: determinism, exchange-format columns, consistency, distributions, noise."""

from pathlib import Path

import polars as pl
import pytest
from django.core.management import CommandError, call_command

from vnemis.registry.citizen_id import citizen_id_problems
from vnemis.registry.exchange_format import ENTITIES, FORMAT_VERSION
from vnemis.registry.generate import GenerateConfig, GenerateError, NoiseConfig, generate
from vnemis.registry.generate.writer import POLARS_TYPES

YEAR = 2025


def _read(out: Path, name: str) -> pl.DataFrame:
    return pl.read_parquet(out / f"{name}.parquet")


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "small"
    generate(GenerateConfig(out=out, provinces=("04", "42", "92"), students=8000, seed=7))
    return out


@pytest.fixture(scope="module")
def national(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "national"
    generate(GenerateConfig(out=out, students=40_000, seed=11, chunk_pupils=10_000))
    return out


@pytest.fixture(scope="module")
def noisy(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "noisy"
    generate(
        GenerateConfig(
            out=out,
            provinces=("79", "48"),
            students=30_000,
            seed=3,
            noise=NoiseConfig.uniform(0.05),
        )
    )
    return out


def test_same_seed_gives_identical_csv(tmp_path):
    def run(name: str, seed: int) -> dict[str, bytes]:
        out = tmp_path / name
        config = GenerateConfig(
            out=out,
            provinces=("01", "79"),
            students=2500,
            seed=seed,
            fmt="csv",
            noise=NoiseConfig.uniform(0.03),
            chunk_pupils=1000,
        )
        generate(config)
        return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.*"))}

    first, again, other = run("a", 5), run("b", 5), run("c", 6)
    assert first.keys() == again.keys()
    assert "ground_truth/pupils.csv" in first
    for name in first:
        assert first[name] == again[name], name
    assert first["pupils.csv"] != other["pupils.csv"]


def test_columns_and_types_follow_the_exchange_format(small):
    for entity in ENTITIES:
        frame = _read(small, entity.name)
        assert frame.columns == entity.column_names, entity.name
        for column in entity.columns:
            assert frame.schema[column.name] == POLARS_TYPES[column.dtype], column.name
            if column.required:
                assert frame[column.name].null_count() == 0, f"{entity.name}.{column.name}"
    manifest = pl.read_json(small / "manifest.json").row(0, named=True)
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["seed"] == 7
    assert manifest["entities"] == [e.name for e in ENTITIES]
    assert manifest["counts"]["pupils"] == len(_read(small, "pupils")) == 8000


def test_references_are_consistent(small):
    schools, staff, classes = (
        _read(small, "schools"),
        _read(small, "staff"),
        _read(small, "classes"),
    )
    pupils, enrolments = _read(small, "pupils"), _read(small, "enrolments")
    results, summaries = _read(small, "subject_results"), _read(small, "result_summaries")
    health = _read(small, "health_records")
    assert schools["school_code"].is_unique().all()
    higher_ed = schools.filter(pl.col("kind") != "school")
    schools = schools.filter(pl.col("kind") == "school")
    assert schools["school_code"].str.contains(r"^\d{8}$").all()
    assert (schools["parent_code"] == "SGD" + schools["province_code"]).all()
    # Universities report to the Ministry, colleges to their Department; neither has pupils.
    assert len(higher_ed) >= 1
    assert set(higher_ed["kind"]) <= {"university", "college"}
    assert higher_ed["level"].is_null().all()
    universities = higher_ed.filter(pl.col("kind") == "university")
    assert (universities["parent_code"] == "BGDDT").all()
    assert not higher_ed["school_code"].is_in(pupils["school_code"].implode()).any()
    for frame, key in [
        (staff, ["school_code", "staff_code"]),
        (classes, ["school_code", "school_year", "class_name"]),
        (pupils, ["school_code", "pupil_code"]),
        (enrolments, ["school_code", "school_year", "pupil_code"]),
        (results, ["school_code", "school_year", "pupil_code", "subject_code", "period"]),
        (summaries, ["school_code", "school_year", "pupil_code", "period"]),
        (health, ["school_code", "pupil_code", "measured_on"]),
    ]:
        assert not frame.select(key).is_duplicated().any(), key
    for frame in (staff, classes, pupils):
        assert frame.join(schools, on="school_code", how="anti").is_empty()
    assert enrolments.join(pupils, on=["school_code", "pupil_code"], how="anti").is_empty()
    assert enrolments.join(
        classes, on=["school_code", "school_year", "class_name"], how="anti"
    ).is_empty()
    assert len(enrolments) == len(pupils)
    key = ["school_code", "school_year", "pupil_code"]
    assert results.join(enrolments, on=key, how="anti").is_empty()
    assert summaries.join(enrolments, on=key, how="anti").is_empty()
    assert health.join(pupils, on=["school_code", "pupil_code"], how="anti").is_empty()
    homeroom = classes.select("school_code", staff_code="homeroom_staff_code")
    assert homeroom.join(staff, on=["school_code", "staff_code"], how="anti").is_empty()
    # Scores are 0–10 with one decimal; every result has a score or a rating.
    scores = results["score"].drop_nulls()
    assert scores.is_between(0, 10).all()
    assert ((scores * 10).round(6) % 1 == 0).all()
    assert (results["score"].is_not_null() | results["rating"].is_not_null()).all()
    assert set(results["rating"].drop_nulls()) <= {"D", "CD", "T", "H", "C"}
    assert set(summaries["outcome"].drop_nulls()) <= {
        "promoted",
        "reassess",
        "repeat",
        "completed_level",
    }
    assert summaries.filter(pl.col("period") != "year")["outcome"].null_count() == len(
        summaries.filter(pl.col("period") != "year")
    )
    assert health["height_cm"].is_between(40, 230).all()
    assert health["weight_kg"].is_between(2, 250).all()


def test_pupils_are_the_right_age_for_their_grade_and_ids_fit(small):
    truth = pl.read_parquet(small / "ground_truth" / "pupils.parquet")
    frame = (
        _read(small, "enrolments")
        .join(_read(small, "classes"), on=["school_code", "school_year", "class_name"])
        .join(_read(small, "pupils"), on=["school_code", "pupil_code"])
        .join(truth, on=["school_code", "pupil_code"])
    )
    graded = frame.filter(pl.col("grade") >= 1)
    over_age = YEAR - graded["true_birth_date"].dt.year() - 5 - graded["grade"]
    assert over_age.is_between(0, 2).all()
    assert (over_age == 0).mean() > 0.9
    preschool = frame.filter(pl.col("grade") == 0)
    five = preschool.filter(pl.col("class_name").str.starts_with("Mẫu giáo 5 tuổi"))
    assert (five["true_birth_date"].dt.year() == YEAR - 5).all()
    assert graded["class_name"].str.contains(r"^\d{1,2}[A-N]\d*$").all()
    # Citizen IDs: structure matches birth date and sex; unique per person.
    with_id = frame.filter(pl.col("citizen_id").is_not_null())
    assert len(with_id) > 0.9 * len(frame)
    for row in with_id.head(3000).iter_rows(named=True):
        assert (
            citizen_id_problems(row["citizen_id"], birth_date=row["birth_date"], sex=row["sex"])
            == []
        )
    assert with_id["citizen_id"].is_unique().all()
    staff = _read(small, "staff").filter(pl.col("citizen_id").is_not_null())
    both = pl.concat([with_id["citizen_id"], staff["citizen_id"]])
    assert both.is_unique().all()


def test_ethnic_mix_follows_the_province(small):
    pupils = _read(small, "pupils").with_columns(province=pl.col("school_code").str.slice(0, 2))
    kinh_by = pupils.group_by("province").agg((pl.col("ethnicity_code") == "01").mean().alias("k"))
    kinh_of = dict(kinh_by.iter_rows())
    assert kinh_of["04"] < 0.2  # Cao Bằng: Tày and Nùng
    assert kinh_of["42"] > 0.95  # Hà Tĩnh
    khmer = pupils.filter(pl.col("province") == "92")["ethnicity_code"] == "05"
    assert khmer.mean() > 0.05  # Khơ-me in the Mekong delta


def test_distributions_are_roughly_national(national):
    pupils = _read(national, "pupils")
    assert abs((pupils["sex"] == "M").mean() - 0.515) < 0.015
    kinh = (pupils["ethnicity_code"] == "01").mean()
    assert 0.8 < kinh < 0.93
    family = (
        pupils.filter(pl.col("ethnicity_code") == "01")["full_name"].str.split(" ").list.first()
    )
    shares = family.value_counts(normalize=True)
    share = dict(zip(shares["full_name"], shares["proportion"], strict=True))
    for name, expected, tolerance in [
        ("Nguyễn", 0.38, 0.025),
        ("Trần", 0.12, 0.015),
        ("Lê", 0.095, 0.015),
    ]:
        assert abs(share[name] - expected) < tolerance, (name, share[name])
    staff = _read(national, "staff")
    teachers = staff.filter(pl.col("role") == "teacher")
    assert 0.62 < (teachers["sex"] == "F").mean() < 0.82
    national_schools = _read(national, "schools").filter(pl.col("kind") == "school")
    assert (staff["role"] == "principal").sum() == len(national_schools)
    statuses = _read(national, "enrolments")["status"].value_counts(normalize=True)
    status = dict(zip(statuses["status"], statuses["proportion"], strict=True))
    assert status["studying"] > 0.95
    assert 0 < status["dropped_out"] < 0.03
    levels = _read(national, "schools")["level"].value_counts(normalize=True)
    level = dict(zip(levels["level"], levels["proportion"], strict=True))
    assert level["preschool"] > level["upper_secondary"] * 4
    secondary = _read(national, "subject_results").filter(pl.col("rating").is_null())["score"]
    assert 6.5 < secondary.mean() < 7.8


def test_noise_is_applied_at_the_requested_rates_with_truth_kept(noisy):
    pupils = _read(noisy, "pupils")
    truth = pl.read_parquet(noisy / "ground_truth" / "pupils.parquet")
    frame = pupils.join(truth, on=["school_code", "pupil_code"])
    assert len(frame) == len(pupils) == len(truth)
    originals = frame.filter(pl.col("duplicate_of_pupil_code").is_null())
    n = len(originals)

    def has(kind: str) -> pl.Expr:
        return pl.col("noise").fill_null("").str.split(";").list.contains(kind)

    for kind in (
        "typo",
        "no_diacritics",
        "nfd",
        "date_swap",
        "missing_citizen_id",
        "wrong_citizen_id",
    ):
        rate = originals.filter(has(kind)).height / n
        assert abs(rate - 0.05) < 0.012, (kind, rate)
    clean = originals.filter(pl.col("noise").is_null())
    assert (clean["full_name"] == clean["true_full_name"]).all()
    assert (clean["birth_date"] == clean["true_birth_date"]).all()
    assert (clean["citizen_id"].eq_missing(clean["true_citizen_id"])).all()
    typos = originals.filter(has("typo"))
    assert (typos["full_name"] != typos["true_full_name"]).all()
    plain = originals.filter(has("no_diacritics"))
    assert plain["full_name"].str.contains(r"^[A-Za-z ]+$").all()
    nfd = originals.filter(has("nfd") & ~has("typo"))
    assert (nfd["full_name"].str.normalize("NFC") == nfd["true_full_name"]).all()
    swapped = originals.filter(has("date_swap"))
    assert (swapped["birth_date"].dt.day() == swapped["true_birth_date"].dt.month()).all()
    assert (swapped["birth_date"].dt.month() == swapped["true_birth_date"].dt.day()).all()
    assert originals.filter(has("missing_citizen_id"))["citizen_id"].is_null().all()
    wrong = originals.filter(has("wrong_citizen_id"))
    assert (wrong["citizen_id"] != wrong["true_citizen_id"]).all()
    # Duplicates: the same person in a second school, spelled differently.
    dups = frame.filter(pl.col("duplicate_of_pupil_code").is_not_null())
    assert abs(len(dups) / n - 0.05) < 0.012
    assert (dups["school_code"] != dups["duplicate_of_school_code"]).all()
    assert (dups["full_name"] != dups["true_full_name"]).all()
    pair = dups.join(
        truth,
        left_on=["duplicate_of_school_code", "duplicate_of_pupil_code"],
        right_on=["school_code", "pupil_code"],
        suffix="_orig",
    )
    assert len(pair) == len(dups)
    assert (pair["person_id"] == pair["person_id_orig"]).all()
    assert truth["person_id"].n_unique() == n


def test_xlsx_is_refused_for_big_requests_and_written_for_small(tmp_path):
    with pytest.raises(GenerateError, match="XLSX is for small samples"):
        generate(GenerateConfig(out=tmp_path / "big", students=100_000, fmt="xlsx"))
    assert not (tmp_path / "big").exists()
    generate(GenerateConfig(out=tmp_path / "tiny", provinces=("42",), students=300, fmt="xlsx"))
    assert (tmp_path / "tiny" / "pupils.xlsx").stat().st_size > 0
    assert (tmp_path / "tiny" / "ground_truth" / "pupils.xlsx").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--provinces", "01,99"], "Unknown province code"),
        (["--students", "0"], "at least 1"),
        (["--students", "10", "--schools", "50"], "fewer schools"),
        (["--noise-rate", "0.9"], "between 0 and 0.5"),
        (["--year", "1850"], "out of range"),
        (["--format", "xlsx", "--students", "1000000"], "XLSX"),
    ],
)
def test_bad_arguments_give_a_clear_error(tmp_path, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("generate", "--out", str(tmp_path / "x"), "--no-progress", *args)


def test_command_writes_a_dataset_and_refuses_to_clobber(tmp_path, capsys):
    out = tmp_path / "cmd"
    call_command(
        "generate", "--out", str(out), "--provinces", "46", "--students", "800", "--seed", "2",
        "--format", "csv", "--noise-typo", "0.1", "--no-progress",
    )  # fmt: skip
    assert "Wrote" in capsys.readouterr().out
    truth = pl.read_csv(out / "ground_truth" / "pupils.csv")
    assert truth["noise"].drop_nulls().str.contains("typo").any()
    with pytest.raises(CommandError, match="not empty"):
        call_command("generate", "--out", str(out), "--students", "800", "--no-progress")
    call_command("generate", "--out", str(out), "--students", "500", "--overwrite", "--no-progress")
    assert pl.read_parquet(out / "pupils.parquet").height == 500
    assert pl.read_parquet(out / "enrolments.parquet")["started_on"].dt.year().min() == YEAR
