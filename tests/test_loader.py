"""The bulk loader (``vnemis.registry.loaders``): counts, idempotence, updates, bad rows, secrets.

A small dataset in the exchange format is written by the test itself (CSV, and Parquet for one
case); when the generator (``vnemis generate``) is installed, a generated dataset is loaded too.
"""

import csv
import os
import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from django.core.management import call_command, get_commands

from vnemis.core.crypto import blind_index, decrypt_identifier
from vnemis.core.models import AuditEntry
from vnemis.core.text import person_name, search_key, split_full_name
from vnemis.orgs.models import Organisation, OrgClosure
from vnemis.registry import loaders_frames as lf
from vnemis.registry.education_id import format_education_id, is_valid_education_id, luhn_digit
from vnemis.registry.exchange_format import BY_NAME
from vnemis.registry.loaders import dataset_load
from vnemis.registry.models import (
    Enrolment,
    EnrolmentStatusChange,
    HealthRecord,
    Person,
    ResultSummary,
    SchoolClass,
    SchoolYear,
    StaffAssignment,
    SubjectResult,
)

PUPIL_NAMES = [
    "nguyễn văn an",
    "TRẦN THỊ BÌNH",
    "Lê  Hoàng   Cường",
    "Phạm Thuý Hằng",
    "Hoàng Thị Thủy",
    "Đặng Quốc Đạt",
    "Vũ Ngọc Ánh",
    "Bùi Minh Khôi",
]


def _write(directory: Path, name: str, rows: list[dict], columns: list[str] | None = None) -> None:
    columns = columns or BY_NAME[name].column_names
    with open(directory / f"{name}.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in columns})


def make_dataset(directory: Path) -> dict[str, list[dict]]:
    """Two new schools in Hà Nội, staff, classes, eight pupils with results and health data."""
    directory.mkdir(parents=True, exist_ok=True)
    data: dict[str, list[dict]] = {}
    data["schools"] = [
        {
            "school_code": "01000201",
            "name": "Trường  Tiểu học Kim Liên",
            "kind": "school",
            "level": "primary",
            "ownership": "public",
            "parent_code": "SGD01",
            "province_code": "01",
            "commune_code": "00004",
            "address": "1 Phố Kim Liên",
            "status": "open",
            "opened_on": "1995-09-01",
        },
        {
            "school_code": "01000202",
            "name": "Trường THCS Sóc Sơn 2",
            "kind": "school",
            "level": "lower_secondary",
            "ownership": "public",
            "parent_code": "SGD01",
            "province_code": "01",
            "commune_code": "09619",
            "status": "open",
        },
    ]
    data["staff"] = [
        {
            "school_code": "01000201",
            "staff_code": "GV001",
            "full_name": "phạm thị hoa",
            "birth_date": "1985-04-04",
            "sex": "F",
            "ethnicity_code": "01",
            "citizen_id": "001185004321",
            "role": "teacher",
            "subjects": "TOAN;TV",
            "qualification": "bachelor",
            "contract_type": "permanent",
            "starts_on": "2010-09-01",
        },
        {
            "school_code": "01000202",
            "staff_code": "GV002",
            "full_name": "Ngô Văn Sơn",
            "birth_date": "1979-12-30",
            "sex": "M",
            "ethnicity_code": "01",
            "role": "principal",
            "qualification": "master",
            "contract_type": "permanent",
            "starts_on": "2005-09-01",
        },
    ]
    data["classes"] = [
        {
            "school_code": "01000201",
            "school_year": "2025-2026",
            "class_name": "3A",
            "grade": "3",
            "homeroom_staff_code": "GV001",
            "two_sessions": "true",
            "combined_grades": "false",
        },
        {
            "school_code": "01000202",
            "school_year": "2025-2026",
            "class_name": "7A",
            "grade": "7",
            "homeroom_staff_code": "",
            "two_sessions": "false",
            "combined_grades": "false",
        },
    ]
    pupils, enrolments, results, summaries, health = [], [], [], [], []
    for i, name in enumerate(PUPIL_NAMES):
        primary = i < 5
        school = "01000201" if primary else "01000202"
        code = f"HS{i:03d}"
        born = date(2017, 1 + i, 10) if primary else date(2013, 1 + i, 10)
        pupils.append(
            {
                "school_code": school,
                "pupil_code": code,
                "full_name": name,
                "birth_date": born.isoformat(),
                "sex": "M" if i % 2 == 0 else "F",
                "ethnicity_code": "01",
                "nationality": "VN",
                "birth_province_code": "01",
                "permanent_commune_code": "00004" if primary else "09619",
                "policy_categories": "poor_household;orphan" if i == 1 else "",
                "citizen_id": f"0012{17 if primary else 13}00{i:04d}" if i % 3 == 0 else "",
            }
        )
        enrolments.append(
            {
                "school_code": school,
                "school_year": "2025-2026",
                "pupil_code": code,
                "class_name": "3A" if primary else "7A",
                "status": "studying",
                "started_on": "2025-09-05",
            }
        )
        results.append(
            {
                "school_code": school,
                "school_year": "2025-2026",
                "pupil_code": code,
                "subject_code": "TOAN",
                "period": "term1",
                "score": f"{6 + i * 0.5:.1f}",
            }
        )
        summaries.append(
            {
                "school_code": school,
                "school_year": "2025-2026",
                "pupil_code": code,
                "period": "term1",
                "learning_rating": "T",
                "conduct_rating": "K",
            }
        )
        health.append(
            {
                "school_code": school,
                "pupil_code": code,
                "measured_on": "2025-10-01",
                "height_cm": "130.5",
                "weight_kg": "28.2",
                "eyesight_left": "10",
                "eyesight_right": "9",
            }
        )
    data |= {
        "pupils": pupils,
        "enrolments": enrolments,
        "subject_results": results,
        "result_summaries": summaries,
        "health_records": health,
    }
    for name, rows in data.items():
        _write(directory, name, rows)
    return data


def _load(directory, **kwargs):
    return dataset_load(directory=directory, **kwargs)


def _changes(result) -> dict[str, tuple[int, int]]:
    return {n: (e.inserted, e.updated) for n, e in result.entities.items() if e.present}


@pytest.fixture
def dataset(tmp_path, tree):
    directory = tmp_path / "ds"
    data = make_dataset(directory)
    return directory, data


def test_load_counts_and_values(dataset):
    directory, data = dataset
    result = _load(directory)
    for name, rows in data.items():
        stats = result.entities[name]
        assert (stats.rows, stats.inserted, stats.rejected) == (len(rows), len(rows), 0), "\n".join(
            result.summary_lines()
        )
    school = Organisation.objects.get(code="01000201")
    assert school.name == "Trường Tiểu học Kim Liên"
    assert school.parent.code == "SGD01"
    # The org closure was rebuilt: the Ministry reaches the new schools.
    assert OrgClosure.objects.filter(ancestor__code="BGDDT", descendant=school, depth=2).exists()
    year = SchoolYear.objects.get(code="2025-2026")
    assert (year.starts_on, year.ends_on) == (date(2025, 9, 5), date(2026, 5, 31))
    teacher = StaffAssignment.objects.get(school=school, staff_code="GV001").person
    assert teacher.full_name == "Phạm Thị Hoa"
    assert SchoolClass.objects.get(school=school, name="3A").homeroom_teacher == teacher
    assert StaffAssignment.objects.get(staff_code="GV001").subjects == ["TOAN", "TV"]
    enrolments = Enrolment.objects.filter(school__code__in=["01000201", "01000202"])
    assert enrolments.count() == 8
    assert EnrolmentStatusChange.objects.filter(enrolment__in=enrolments).count() == 8
    pupil = Enrolment.objects.get(school=school, pupil_code="HS001").pupil
    assert pupil.full_name == "Trần Thị Bình"
    assert pupil.policy_categories == ["poor_household", "orphan"]
    assert pupil.permanent_commune.code == "00004"
    assert SubjectResult.objects.count() == 8
    assert ResultSummary.objects.count() == 8
    health = HealthRecord.objects.get(person=pupil)
    assert float(health.bmi) == round(28.2 / 1.305**2, 1)
    # One audit entry per chunk that changed something, with counts and no identifiers.
    batches = AuditEntry.objects.filter(object_type__endswith="_batch")
    assert batches.count() == 8
    assert batches.get(object_type="person_batch").detail["inserted"] == 8


def test_names_match_the_registry_rules(dataset):
    directory, _data = dataset
    _load(directory)
    for person in Person.objects.all():
        assert person.full_name == person_name(person.full_name)
        assert person.name_search == search_key(person.full_name)
        assert (person.family_name, person.middle_name, person.given_name) == split_full_name(
            person.full_name
        )


def test_vectorised_names_equal_python():
    names = [
        *PUPIL_NAMES,
        "  hoà  ",
        "Hòa",
        "ĐINH\tthị\u00a0 ngọc",
        "Nguyễn",
        "",
        "Nguyễn Văn An",  # NFD input
        "Mai-Anh Trần",
        "o'neil smith",
        "lý   thị  \n  mỹ  ",
        "ÁNH\x1ctuyết",
    ]
    frame = pl.DataFrame({"full_name": names})
    out = lf.with_name_columns(frame)
    for raw, row in zip(names, out.iter_rows(named=True), strict=True):
        assert row["full_name"] == person_name(raw), raw
        assert row["name_search"] == search_key(person_name(raw)), raw
        assert (row["family_name"], row["middle_name"], row["given_name"]) == split_full_name(
            raw
        ), raw


def test_vectorised_education_ids_equal_python():
    ids = lf.education_ids_format("01", 2025, range(1, 500))
    assert ids == [format_education_id("01", 2025, s) for s in range(1, 500)]
    assert lf.luhn_digits(["12345678901"]).tolist() == [int(luhn_digit("12345678901"))]
    assert lf.education_ids_valid(pl.Series([ids[0], ids[0][:-1] + "x", None])).to_list() == [
        True,
        False,
        False,
    ]


def test_reload_changes_nothing(dataset):
    directory, _data = dataset
    _load(directory)
    audit_before = AuditEntry.objects.count()
    persons_before = list(Person.objects.order_by("id").values_list("id", "version"))
    again = _load(directory)
    assert all(ins == 0 and upd == 0 for ins, upd in _changes(again).values()), _changes(again)
    assert again.entities["pupils"].unchanged == 8
    assert list(Person.objects.order_by("id").values_list("id", "version")) == persons_before
    assert AuditEntry.objects.count() == audit_before
    assert EnrolmentStatusChange.objects.count() == 8


def test_parquet_loads_like_csv(dataset, tmp_path):
    directory, _data = dataset
    _load(directory)
    pq = tmp_path / "pq"
    pq.mkdir()
    for path in directory.glob("*.csv"):
        frame = pl.read_csv(path, infer_schema=False)
        entity = BY_NAME[path.stem]
        casts = []
        for c in entity.columns:
            col = pl.col(c.name).replace("", None)
            if c.dtype == "date":
                casts.append(col.str.to_date("%Y-%m-%d"))
            elif c.dtype == "int":
                casts.append(col.cast(pl.Int64))
            elif c.dtype == "float":
                casts.append(col.cast(pl.Float64))
            elif c.dtype == "bool":
                casts.append(col == "true")
        frame.with_columns(casts).write_parquet(pq / f"{path.stem}.parquet")
    again = _load(pq)
    assert all(ins == 0 and upd == 0 for ins, upd in _changes(again).values()), _changes(again)


def test_changed_row_updates_only_that_row(dataset):
    directory, data = dataset
    _load(directory)
    pupils = data["pupils"]
    pupils[2]["full_name"] = "Lê Hoàng Cường Anh"
    _write(directory, "pupils", pupils)
    data["subject_results"][0]["score"] = "9.5"
    _write(directory, "subject_results", data["subject_results"])
    data["enrolments"][4]["status"] = "dropped_out"
    data["enrolments"][4]["ended_on"] = "2025-11-20"
    _write(directory, "enrolments", data["enrolments"])
    result = _load(directory)
    changes = _changes(result)
    assert changes.pop("pupils") == (0, 1)
    assert changes.pop("subject_results") == (0, 1)
    assert changes.pop("enrolments") == (0, 1)
    assert all(v == (0, 0) for v in changes.values()), changes
    person = Enrolment.objects.get(pupil_code="HS002").pupil
    assert (person.full_name, person.given_name, person.version) == ("Lê Hoàng Cường Anh", "Anh", 2)
    assert person.name_search == "le hoang cuong anh"
    assert Person.objects.filter(version=2).count() == 1
    dropped = Enrolment.objects.get(pupil_code="HS004")
    assert list(dropped.history.values_list("status", flat=True)) == ["studying", "dropped_out"]


def test_citizen_id_encrypted_never_clear(dataset):
    directory, _data = dataset
    _load(directory)
    enrolment = Enrolment.objects.get(pupil_code="HS003")
    person = enrolment.pupil
    clear = "001217000003"
    assert bytes(person.citizen_id_ciphertext) != clear.encode()
    assert clear.encode() not in bytes(person.citizen_id_ciphertext)
    assert decrypt_identifier(person.citizen_id_ciphertext) == clear
    assert person.citizen_id_index == blind_index(clear)
    assert person.citizen_id_last3 == "003"
    assert Person.objects.filter(citizen_id_index=blind_index("001185004321")).count() == 1
    # Nobody has a clear CCCD in any text column.
    for row in Person.objects.values():
        assert clear not in {str(v) for v in row.values()}


def test_a_file_without_citizen_id_never_erases_one_on_record(dataset):
    directory, data = dataset
    _load(directory)
    person = Enrolment.objects.get(pupil_code="HS003").pupil
    data["pupils"][3]["citizen_id"] = ""
    _write(directory, "pupils", data["pupils"])
    changes = _changes(_load(directory))
    assert changes["pupils"] == (0, 0)
    person.refresh_from_db()
    assert person.citizen_id_index == blind_index("001217000003") and person.version == 1


def test_education_ids_valid_unique_and_kept(dataset):
    directory, data = dataset
    _load(directory)
    ids = list(Person.objects.values_list("education_id", flat=True))
    assert len(ids) == len(set(ids)) == 10
    assert all(is_valid_education_id(i) and i.startswith("01") for i in ids)
    # A file row that names an education ID updates that person instead of creating one.
    person = Enrolment.objects.get(pupil_code="HS000").pupil
    data["pupils"][0]["education_id"] = person.education_id
    data["pupils"][0]["full_name"] = "Nguyễn Văn Ân"
    _write(directory, "pupils", data["pupils"])
    result = _load(directory)
    assert _changes(result)["pupils"] == (0, 1)
    person.refresh_from_db()
    assert person.full_name == "Nguyễn Văn Ân"
    assert Person.objects.count() == 10


def test_bad_rows_reported_and_rest_loaded(dataset):
    directory, data = dataset
    pupils = data["pupils"]
    pupils.append({**pupils[0], "pupil_code": "X1", "school_code": "99999999"})
    pupils.append({**pupils[0], "pupil_code": "X2", "sex": "Nam"})
    pupils.append({**pupils[0], "pupil_code": "X3", "birth_date": "14/03/2017"})
    pupils.append({**pupils[0], "pupil_code": "X4", "permanent_commune_code": "77777"})
    pupils.append({**pupils[0], "pupil_code": "X5", "citizen_id": "12345"})
    _write(directory, "pupils", pupils)
    data["enrolments"].append({**data["enrolments"][0], "pupil_code": "HS001", "class_name": "9Z"})
    _write(directory, "enrolments", data["enrolments"])
    result = _load(directory)
    stats = result.entities["pupils"]
    assert stats.inserted == 8
    assert stats.rejected == 5
    assert dict(stats.problems) == {
        "unknown_school": 1,
        "bad_sex": 1,
        "bad_value:birth_date": 1,
        "unknown_commune": 1,
        "bad_citizen_id": 1,
    }
    assert stats.samples["bad_sex"] == [10]
    # The later enrolment row for HS001 names an unknown class: it is the one rejected.
    enrol = result.entities["enrolments"]
    assert enrol.problems["duplicate_key"] == 1 or enrol.problems["unknown_class"] == 1
    assert Person.objects.count() == 10
    text = "\n".join(result.summary_lines())
    assert "mã trường không tồn tại / unknown school code" in text
    assert "001217" not in text  # never identifiers in the report


def test_missing_file_columns_reject_the_file(dataset):
    directory, data = dataset
    columns = [c for c in BY_NAME["pupils"].column_names if c != "birth_date"]
    _write(directory, "pupils", data["pupils"], columns)
    result = _load(directory)
    stats = result.entities["pupils"]
    assert stats.rejected == 8 and stats.inserted == 0
    assert list(stats.problems) == ["missing_file_columns:birth_date"]
    # Nothing half-applied: the later files cannot place rows of pupils that do not exist.
    assert Person.objects.count() == 2  # the two staff
    assert result.entities["enrolments"].problems["unknown_pupil"] == 8
    assert Enrolment.objects.count() == 0


def test_failed_chunk_rolls_back_whole(dataset, monkeypatch):
    directory, _data = dataset
    from django.db import DatabaseError

    from vnemis.registry import loaders

    original = loaders._persons_merge

    def failing(ctx, table, state_col="p_state"):
        original(ctx, table, state_col)
        if table == "ld_pupils":
            raise DatabaseError("simulated failure")

    monkeypatch.setattr(loaders, "_persons_merge", failing)
    result = _load(directory, chunk_rows=5)
    stats = result.entities["pupils"]
    assert stats.problems["chunk_failed"] == 8
    assert stats.inserted == 0
    assert Person.objects.count() == 2  # only staff


def test_province_filter_skips_other_provinces(dataset, geo):
    directory, data = dataset
    data["schools"].append(
        {
            **data["schools"][0],
            "school_code": "48000201",
            "province_code": "48",
            "parent_code": "SGD48",
            "commune_code": "20194",
        }
    )
    _write(directory, "schools", data["schools"])
    data["pupils"].append({**data["pupils"][0], "school_code": "48000201"})
    _write(directory, "pupils", data["pupils"])
    result = _load(directory, province="01")
    assert result.entities["schools"].skipped == 1
    assert result.entities["pupils"].skipped == 1
    assert result.entities["pupils"].rejected == 0
    assert not Organisation.objects.filter(code="48000201").exists()


def test_load_command_prints_summary(dataset, capsys):
    directory, _data = dataset
    call_command("load", str(directory), "--no-progress", "--json")
    out = capsys.readouterr().out
    assert "pupils" in out and out.strip().splitlines()[-1].startswith("{")


@pytest.mark.skipif("generate" not in get_commands(), reason="the generator is not installed")
def test_generated_dataset_loads_and_reloads(tmp_path, db):
    call_command("geo", "load", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    call_command("orgs", "seed", stdout=open(os.devnull, "w"))  # noqa: SIM115
    out = tmp_path / "gen"
    call_command(
        "generate", "--out", str(out), "--provinces", "01", "--schools", "3", "--students", "300",
        "--seed", "7", "--no-progress", stdout=open(os.devnull, "w"),  # noqa: SIM115
    )  # fmt: skip
    first = _load(out)
    assert first.entities["pupils"].inserted > 0
    assert first.rejected == 0, "\n".join(first.summary_lines())
    ids = list(Person.objects.values_list("education_id", flat=True))
    assert len(ids) == len(set(ids)) and all(is_valid_education_id(i) for i in ids)
    assert OrgClosure.objects.filter(descendant__kind="school", depth=2).count() == 3
    again = _load(out)
    assert again.changed == 0, "\n".join(again.summary_lines())
    shutil.rmtree(out)
