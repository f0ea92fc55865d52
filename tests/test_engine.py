"""The import engine's parameters (``registry.loaders.dataset_load``, issue 3): dry run,
all-or-nothing, resume, on_chunk inside the chunk's transaction, the full error sink, write
scope, locked periods, and RecordChange rows for updates only.

Data: the conftest tree (schools 01000101 and 48000101), its classes loaded by the engine, and a
roster split into canonical pupils + enrolments Parquet files numbered by ``_row`` (as intake
writes them). Runs on SQLite and, with DATABASE_URL, on PostgreSQL.
"""

from pathlib import Path

import polars as pl
import pytest

from vnemis.core.models import AuditEntry
from vnemis.registry import exchange_format as xf
from vnemis.registry.loaders import ERROR_SCHEMA, MESSAGES, dataset_load
from vnemis.registry.models import Enrolment, Person, RecordChange, SchoolClass

NAMES = [
    "Nguyễn Văn An",
    "Trần Thị Bình",
    "Lê Hoàng Cường",
    "Phạm Thuý Hằng",
    "Hoàng Thị Thủy",
    "Đặng Quốc Đạt",
]


class Stop(Exception):
    """Raised by a test's on_chunk to stop a load mid-way."""


def _roster_rows() -> list[dict]:
    rows = []
    for i, name in enumerate(NAMES):
        school = "01000101" if i < 4 else "48000101"
        rows.append(
            {
                "school_code": school,
                "school_year": "2025-2026",
                "class_name": "3A",
                "pupil_code": f"HS{i:03d}",
                "education_id": None,
                "full_name": name,
                "birth_date": f"2017-0{i + 1}-15",
                "sex": "M" if i % 2 == 0 else "F",
                "ethnicity_code": "01",
                "nationality": "VN",
                "birth_province_code": school[:2],
                "permanent_commune_code": None,
                "policy_categories": None,
                "disability": None,
                "citizen_id": f"0012170{i:05d}" if i % 2 == 0 else None,
                "status": "studying",
                "started_on": "2025-09-05",
                "ended_on": None,
            }
        )
    return rows


def write_roster(directory: Path, rows: list[dict]) -> dict[str, Path]:
    """Canonical files of a roster: both parts in one folder, rows numbered from 2."""
    directory.mkdir(parents=True, exist_ok=True)
    df = pl.DataFrame(rows, schema=dict.fromkeys(xf.ROSTER.column_names, pl.String))
    df = df.with_row_index("_row", offset=2).with_columns(pl.col("_row").cast(pl.Int64))
    files = {}
    for entity, columns in xf.layout_split(xf.ROSTER).items():
        files[entity] = directory / f"{entity}.parquet"
        df.select("_row", *columns).write_parquet(files[entity])
    return files


@pytest.fixture
def classes(tmp_path, tree, school_year):
    path = tmp_path / "classes.csv"
    pl.DataFrame(
        {
            "school_code": ["01000101", "01000101", "48000101"],
            "school_year": ["2025-2026"] * 3,
            "class_name": ["3A", "3B", "3A"],
            "grade": ["3", "3", "3"],
            "homeroom_staff_code": [None, "GV404", None],
            "two_sessions": ["true", "false", "true"],
            "combined_grades": ["false", "false", "false"],
        }
    ).write_csv(path)
    result = dataset_load(files={"classes": path})
    assert result.entities["classes"].inserted == 3
    return tree


@pytest.fixture
def roster(tmp_path, classes):
    return write_roster(tmp_path / "canonical", _roster_rows())


def _sink():
    frames: list[pl.DataFrame] = []

    def sink(frame: pl.DataFrame) -> None:
        assert dict(frame.schema) == ERROR_SCHEMA
        frames.append(frame)

    def collected() -> pl.DataFrame:
        if not frames:
            return pl.DataFrame(schema=ERROR_SCHEMA)
        return pl.concat(frames).sort("row", "entity")

    return sink, collected


def _counts(result, entity):
    e = result.entities[entity]
    return (e.inserted, e.updated, e.unchanged, e.rejected)


def test_messages_have_scope_and_lock_codes():
    for code in ("out_of_scope", "period_locked"):
        vi, en = MESSAGES[code]
        assert vi and en and vi != en


def test_dry_run_writes_nothing_and_counts_exactly(roster):
    audits = AuditEntry.objects.count()
    dry = dataset_load(files=roster, dry_run=True)
    assert dry.rolled_back
    assert _counts(dry, "pupils") == (6, 0, 0, 0)
    assert _counts(dry, "enrolments") == (6, 0, 0, 0)
    assert Person.objects.count() == 0
    assert Enrolment.objects.count() == 0
    assert AuditEntry.objects.count() == audits
    real = dataset_load(files=roster)
    assert not real.rolled_back
    assert _counts(real, "pupils") == _counts(dry, "pupils")
    assert _counts(real, "enrolments") == _counts(dry, "enrolments")
    # A dry run over loaded data says exactly what a real run would: nothing.
    again = dataset_load(files=roster, dry_run=True)
    assert _counts(again, "pupils") == (0, 0, 6, 0)
    assert Person.objects.count() == 6


def test_all_or_nothing_one_bad_row_applies_nothing(tmp_path, classes):
    rows = _roster_rows()
    rows[3]["sex"] = "X"
    files = write_roster(tmp_path / "bad", rows)
    sink, collected = _sink()
    result = dataset_load(files=files, all_or_nothing=True, error_sink=sink)
    assert result.rolled_back
    assert result.rejected >= 1
    assert Person.objects.count() == 0
    assert Enrolment.objects.count() == 0
    assert collected().filter(pl.col("code") == "bad_sex")["row"].to_list() == [5]
    good = write_roster(tmp_path / "good", _roster_rows())
    result = dataset_load(files=good, all_or_nothing=True)
    assert not result.rolled_back
    assert Person.objects.count() == 6
    assert Enrolment.objects.count() == 6


def test_on_chunk_runs_inside_the_chunk_transaction(roster):
    calls = []

    def on_chunk(entity, chunk, stats):
        calls.append((entity, chunk, stats.inserted))
        # The chunk's rows are visible here: the callback runs inside its transaction.
        assert Person.objects.count() == 2
        raise Stop

    with pytest.raises(Stop):
        dataset_load(files=roster, chunk_rows=2, on_chunk=on_chunk)
    assert calls == [("pupils", 1, 2)]
    assert Person.objects.count() == 0  # rolled back with the chunk


def test_resume_skips_committed_chunks(roster):
    done: dict[str, int] = {}

    def stop_at_second(entity, chunk, stats):
        if chunk == 2:
            raise Stop
        done[entity] = chunk

    with pytest.raises(Stop):
        dataset_load(files=roster, chunk_rows=2, on_chunk=stop_at_second, source="import:t")
    assert done == {"pupils": 1, "enrolments": 1}
    assert Person.objects.count() == 2
    assert Enrolment.objects.count() == 2
    seen = []
    result = dataset_load(
        files=roster,
        chunk_rows=2,
        resume=done,
        on_chunk=lambda e, c, s: seen.append((e, c)),
        source="import:t",
    )
    assert seen == [("pupils", 2), ("enrolments", 2), ("pupils", 3), ("enrolments", 3)]
    assert _counts(result, "pupils") == (4, 0, 0, 0)
    assert result.entities["pupils"].resumed_rows == 2
    assert Person.objects.count() == 6
    assert Enrolment.objects.count() == 6
    assert Enrolment.objects.values("pupil_id").distinct().count() == 6


def test_resume_of_separate_files_finds_pupils_by_education_id(tmp_path, classes):
    """Pupils and enrolments from different source files (not paired): a resumed run recalls
    the pupils of skipped chunks by their education IDs."""
    first = dataset_load(files=write_roster(tmp_path / "seed", _roster_rows()))
    assert first.entities["pupils"].inserted == 6
    ids = dict(Enrolment.objects.values_list("pupil_code", "pupil__education_id"))
    rows = _roster_rows()
    for row in rows:
        row["education_id"] = ids[row["pupil_code"]]
        row["pupil_code"] = "N" + row["pupil_code"]
        row["class_name"] = "3B" if row["school_code"] == "01000101" else "3A"
    files = write_roster(tmp_path / "moved", rows)
    (tmp_path / "p").mkdir()
    (tmp_path / "e").mkdir()
    files = {
        "pupils": files["pupils"].rename(tmp_path / "p" / "pupils.parquet"),
        "enrolments": files["enrolments"].rename(tmp_path / "e" / "enrolments.parquet"),
    }
    result = dataset_load(files=files, chunk_rows=2, resume={"pupils": 3})
    e = result.entities["enrolments"]
    assert (e.inserted, e.rejected) == (0, 6)  # the pupils are still actively enrolled
    assert set(e.problems) == {"active_elsewhere"}


def test_error_sink_gets_every_bad_row(tmp_path, classes):
    rows = _roster_rows()
    rows[1]["sex"] = "X"  # row 3
    rows[2]["birth_date"] = "2017-13-40"  # row 4
    rows[3]["class_name"] = "9Z"  # row 5: pupil loads, enrolment does not
    rows[4]["citizen_id"] = "12345"  # row 6
    files = write_roster(tmp_path / "errs", rows)
    sink, collected = _sink()
    result = dataset_load(files=files, error_sink=sink, chunk_rows=4)
    errors = collected()
    got = {(r["row"], r["entity"], r["column"], r["code"], r["value"]) for r in errors.to_dicts()}
    assert got == {
        (3, "pupils", "sex", "bad_sex", "X"),
        (3, "enrolments", "pupil_code", "unknown_pupil", "HS001"),
        (4, "pupils", "birth_date", "bad_value", "2017-13-40"),
        (4, "enrolments", "pupil_code", "unknown_pupil", "HS002"),
        (5, "enrolments", "class_name", "unknown_class", "9Z"),
        (6, "pupils", "citizen_id", "bad_citizen_id", "12345"),
        (6, "enrolments", "pupil_code", "unknown_pupil", "HS004"),
    }
    assert set(errors["severity"]) == {"error"}
    assert result.entities["pupils"].rejected == 3
    assert Person.objects.count() == 3


def test_error_sink_warnings_and_missing_columns(tmp_path, tree, school_year):
    classes = tmp_path / "classes.csv"
    pl.DataFrame(
        {
            "school_code": ["01000101"],
            "school_year": ["2025-2026"],
            "class_name": ["3A"],
            "grade": ["3"],
            "homeroom_staff_code": ["NOBODY"],
            "two_sessions": ["true"],
            "combined_grades": ["false"],
        }
    ).write_csv(classes)
    pupils = tmp_path / "pupils.csv"
    pl.DataFrame({"school_code": ["01000101"] * 3, "pupil_code": ["a", "b", "c"]}).write_csv(pupils)
    sink, collected = _sink()
    result = dataset_load(files={"classes": classes, "pupils": pupils}, error_sink=sink)
    errors = collected()
    warning = errors.filter(pl.col("code") == "unknown_homeroom").to_dicts()
    assert warning == [
        {
            "row": 1,
            "entity": "classes",
            "column": "homeroom_staff_code",
            "value": "NOBODY",
            "code": "unknown_homeroom",
            "severity": "warning",
        }
    ]
    assert SchoolClass.objects.count() == 1  # a warning does not stop the row
    missing = errors.filter(pl.col("code") == "missing_file_columns")
    assert missing["row"].to_list() == [1, 2, 3]
    assert missing["column"].null_count() == 3
    assert result.entities["pupils"].rejected == 3


def test_malformed_arguments_and_files(tmp_path, classes):
    with pytest.raises(ValueError):
        dataset_load()
    with pytest.raises(FileNotFoundError):
        dataset_load(directory=tmp_path / "nowhere")
    absent = dataset_load(files={"pupils": tmp_path / "absent.parquet"})
    assert not absent.entities["pupils"].present
    empty = tmp_path / "empty" / "pupils.parquet"
    empty.parent.mkdir()
    pl.DataFrame(schema={c: pl.String for c in xf.BY_NAME["pupils"].column_names}).write_parquet(
        empty
    )
    result = dataset_load(files={"pupils": empty})
    assert result.entities["pupils"].rows == 0
    assert Person.objects.count() == 0


def test_school_ids_scope_rejects_other_schools(roster, classes):
    sink, collected = _sink()
    result = dataset_load(files=roster, school_ids=frozenset({classes["a"].id}), error_sink=sink)
    assert _counts(result, "pupils") == (4, 0, 0, 2)
    assert _counts(result, "enrolments") == (4, 0, 0, 2)
    scoped = collected().filter(pl.col("code") == "out_of_scope")
    assert scoped["row"].to_list() == [6, 6, 7, 7]
    assert set(scoped["column"]) == {"school_code"}
    assert set(scoped["value"]) == {"48000101"}
    assert not Enrolment.objects.filter(school=classes["c"]).exists()


def test_school_ids_scope_on_schools_file(tmp_path, classes):
    path = tmp_path / "schools.csv"
    pl.DataFrame(
        {
            "school_code": ["01000101", "01999999"],
            "name": ["Trường Tiểu học Ba Đình mới", "Trường mới"],
            "kind": ["school", "school"],
            "level": ["primary", "primary"],
            "parent_code": ["SGD01", "SGD01"],
            "province_code": ["01", "01"],
            "status": ["open", "open"],
        }
    ).write_csv(path)
    result = dataset_load(files={"schools": path}, school_ids=frozenset({classes["c"].id}))
    assert dict(result.entities["schools"].problems) == {"out_of_scope": 2}, result.summary_lines()


def test_locked_pairs_reject_rows_of_that_school_and_year(roster, classes, school_year):
    asked = []

    def locked():
        asked.append(1)
        return {(classes["a"].id, school_year.id)}

    sink, collected = _sink()
    result = dataset_load(files=roster, locked=locked, error_sink=sink, chunk_rows=3)
    assert len(asked) >= 2  # asked per chunk, inside its transaction
    assert _counts(result, "enrolments") == (2, 0, 0, 4)
    locked_rows = collected().filter(pl.col("code") == "period_locked")
    for entity in ("pupils", "enrolments"):  # both parts of each locked roster row
        rows = locked_rows.filter(pl.col("entity") == entity)["row"].to_list()
        assert rows == [2, 3, 4, 5], entity
    assert set(locked_rows["column"]) == {"school_year"}
    assert Enrolment.objects.count() == 2
    # The pupil part of a locked row is refused too: no person appears for it.
    assert _counts(result, "pupils") == (2, 0, 0, 4)
    assert Person.objects.count() == 2


def test_locked_year_keeps_pupils_on_record_unchanged(tmp_path, classes, school_year):
    """A pupil enrolled in a locked (school, year) cannot be renamed by a roster or by a
    pupils file while the Department reviews the data; nothing of the row is applied."""
    dataset_load(files=write_roster(tmp_path / "v1", _roster_rows()))
    rows = _roster_rows()
    rows[0]["full_name"] = "Nguyễn Văn Ân"  # HS000 at school a (locked)
    rows[4]["full_name"] = "Hoàng Thị Thuỷ Tiên"  # HS004 at school c (not locked)
    pair = {(classes["a"].id, school_year.id)}
    sink, collected = _sink()
    result = dataset_load(
        files=write_roster(tmp_path / "v2", rows), locked=lambda: pair, error_sink=sink
    )
    assert _counts(result, "pupils") == (0, 1, 1, 4)
    assert not Person.objects.filter(full_name="Nguyễn Văn Ân").exists()
    assert Person.objects.filter(full_name="Hoàng Thị Thuỷ Tiên").exists()
    # The same change as a pupils file (no year in it): refused for the enrolled pupil.
    only_pupils = {"pupils": write_roster(tmp_path / "v3", rows)["pupils"]}
    result = dataset_load(files=only_pupils, locked=lambda: pair, error_sink=sink)
    assert _counts(result, "pupils")[3] == 4  # a's four pupils: locked
    assert not Person.objects.filter(full_name="Nguyễn Văn Ân").exists()
    codes = set(collected()["code"])
    assert codes == {"period_locked"}


def test_pupils_file_alone_never_creates_pupils_it_cannot_enrol(tmp_path, classes):
    """A pupils file without enrolments can update pupils on record but cannot create new
    ones: each re-import would otherwise add the same children again, invisible to the school."""
    only_pupils = {"pupils": write_roster(tmp_path / "p", _roster_rows())["pupils"]}
    sink, collected = _sink()
    for _ in range(2):
        result = dataset_load(files=only_pupils, error_sink=sink)
        assert _counts(result, "pupils") == (0, 0, 0, 6)
    assert Person.objects.count() == 0
    errors = collected()
    assert set(errors["code"]) == {"pupil_needs_enrolment"}
    assert set(errors["column"]) == {"pupil_code"}
    # Once enrolled through a roster, the same pupils file updates them and adds nobody.
    dataset_load(files=write_roster(tmp_path / "r", _roster_rows()))
    rows = _roster_rows()
    rows[2]["full_name"] = "Lê Hoàng Cương"
    changed = {"pupils": write_roster(tmp_path / "p2", rows)["pupils"]}
    result = dataset_load(files=changed)
    assert _counts(result, "pupils") == (0, 1, 5, 0)
    assert Person.objects.count() == 6


def test_record_change_for_a_changed_row_only(tmp_path, classes):
    dataset_load(files=write_roster(tmp_path / "v1", _roster_rows()), source="import:one")
    assert RecordChange.objects.count() == 0  # inserts are not updates
    before = {p.pk: (p.change_seq, p.updated_at, p.version) for p in Person.objects.all()}
    enrol_before = {e.pk: (e.change_seq, e.updated_at) for e in Enrolment.objects.all()}
    rows = _roster_rows()
    rows[0]["full_name"] = "Nguyễn Văn Ân"
    rows[1]["class_name"] = "3B"
    result = dataset_load(files=write_roster(tmp_path / "v2", rows), source="import:two")
    assert _counts(result, "pupils") == (0, 1, 5, 0)
    assert _counts(result, "enrolments") == (0, 1, 5, 0)
    renamed = Person.objects.get(full_name="Nguyễn Văn Ân")
    moved = Enrolment.objects.get(pupil_code="HS001")
    changes = {(c.entity, c.object_id): c for c in RecordChange.objects.all()}
    assert set(changes) == {("persons", renamed.pk), ("enrolments", moved.pk)}
    assert changes[("persons", renamed.pk)].fields == ["full_name"]
    assert changes[("enrolments", moved.pk)].fields == ["class_name"]
    assert {c.source for c in changes.values()} == {"import:two"}
    renamed.refresh_from_db()
    assert changes[("persons", renamed.pk)].change_seq == renamed.change_seq
    assert renamed.change_seq > before[renamed.pk][0]
    assert renamed.version == before[renamed.pk][2] + 1
    for p in Person.objects.exclude(pk=renamed.pk):
        assert (p.change_seq, p.updated_at, p.version) == before[p.pk]
    for e in Enrolment.objects.exclude(pk=moved.pk):
        assert (e.change_seq, e.updated_at) == enrol_before[e.pk]
    # The renamed pupil is found under the new name (name keys follow).
    from vnemis.registry.models import PersonNameKey

    keys = set(PersonNameKey.objects.filter(person=renamed).values_list("key", flat=True))
    assert "nguyen van an" in keys
    again = dataset_load(files=write_roster(tmp_path / "v3", rows), source="import:three")
    assert _counts(again, "pupils") == (0, 0, 6, 0)
    assert RecordChange.objects.count() == 2


def test_citizen_id_kept_when_file_has_none(tmp_path, classes):
    dataset_load(files=write_roster(tmp_path / "v1", _roster_rows()))
    person = Enrolment.objects.get(pupil_code="HS000").pupil
    assert person.citizen_id_last3
    rows = _roster_rows()
    rows[0]["citizen_id"] = None
    result = dataset_load(files=write_roster(tmp_path / "v2", rows))
    assert _counts(result, "pupils") == (0, 0, 6, 0)
    person.refresh_from_db()
    assert person.citizen_id_ciphertext is not None


def test_record_change_on_the_generic_merge(tmp_path, classes):
    """Entities merged in SQL (classes here) record their updates too."""
    path = tmp_path / "classes2.csv"
    pl.DataFrame(
        {
            "school_code": ["01000101", "01000101"],
            "school_year": ["2025-2026"] * 2,
            "class_name": ["3A", "3B"],
            "grade": ["3", "3"],
            "homeroom_staff_code": [None, "GV404"],
            "two_sessions": ["false", "false"],
            "combined_grades": ["false", "false"],
        }
    ).write_csv(path)
    result = dataset_load(files={"classes": path}, source="sync:x")
    assert _counts(result, "classes") == (0, 1, 1, 0)
    changed = SchoolClass.objects.get(school=classes["a"], name="3A")
    rc = RecordChange.objects.get()
    assert (rc.entity, rc.object_id, rc.fields, rc.source) == (
        "classes",
        changed.pk,
        ["two_sessions"],
        "sync:x",
    )
    assert rc.change_seq == changed.change_seq


def test_one_teacher_posted_at_two_schools_in_one_staff_file(tmp_path, classes):
    """The same person (one education ID) on two rows of one chunk: one person, two posts; and
    the same file again changes nothing."""
    from vnemis.registry.education_id import format_education_id
    from vnemis.registry.models import StaffAssignment

    eid = format_education_id("01", 2020, 4242)
    common = {
        "education_id": [eid, eid], "full_name": ["Đỗ Thị Lan", "Đỗ Thị Lan"],
        "birth_date": ["1985-04-02"] * 2, "sex": ["F"] * 2, "ethnicity_code": ["01"] * 2,
        "role": ["teacher"] * 2, "subjects": ["TOAN", "TOAN"],
        "qualification": ["bachelor"] * 2, "contract_type": ["permanent", "visiting"],
        "starts_on": ["2020-09-05"] * 2,
    }  # fmt: skip
    path = tmp_path / "staff.csv"
    pl.DataFrame(
        {"school_code": ["01000101", "48000101"], "staff_code": ["GV9", "TG1"], **common}
    ).write_csv(path)
    result = dataset_load(files={"staff": path})
    assert _counts(result, "staff") == (2, 0, 0, 0)
    person = Person.objects.get(education_id=eid)
    posts = StaffAssignment.objects.filter(person=person).order_by("staff_code")
    assert [(a.school.code, a.contract_type) for a in posts] == [
        ("01000101", "permanent"),
        ("48000101", "visiting"),
    ]
    again = dataset_load(files={"staff": path})
    assert _counts(again, "staff") == (0, 0, 2, 0)


def test_a_school_links_other_schools_people_but_never_changes_them(tmp_path, classes):
    """A school sends only its own people. Naming another school's pupil by education ID (to
    enrol them after a transfer) links the record without changing it, and only when name and
    date of birth agree; a pupil who has left may not be changed by the old school."""
    from vnemis.registry.models import StaffAssignment

    dataset_load(files=write_roster(tmp_path / "v1", _roster_rows()))
    a, c = classes["a"].id, classes["c"].id
    hang = Enrolment.objects.get(pupil_code="HS004").pupil  # at school c (48000101)
    rows = _roster_rows()[4:5]
    rows[0] |= {"school_code": "01000101", "pupil_code": "MOI01", "education_id": hang.education_id}
    # The same person, with other details: linked, not changed (and already active at c).
    linked = dict(rows[0], sex="M" if hang.sex == "F" else "F")
    sink, collected = _sink()
    result = dataset_load(
        files={"pupils": write_roster(tmp_path / "v2", [linked])["pupils"]},
        school_ids=frozenset({a}),
        error_sink=sink,
    )
    assert _counts(result, "pupils") == (0, 0, 1, 0)
    hang.refresh_from_db()
    assert hang.sex != linked["sex"]
    # Someone else's education ID (another name): refused.
    wrong = dict(rows[0], full_name="Vũ Thị Khác")
    result = dataset_load(
        files={"pupils": write_roster(tmp_path / "v3", [wrong])["pupils"]},
        school_ids=frozenset({a}),
        error_sink=sink,
    )
    assert _counts(result, "pupils") == (0, 0, 0, 1)
    assert "person_mismatch" in set(collected()["code"])
    # A pupil who left school a: the old school's file no longer changes them.
    an = Enrolment.objects.get(pupil_code="HS000")
    Enrolment.objects.filter(pk=an.pk).update(status="transferred_out")
    renamed = dict(_roster_rows()[0], full_name="Nguyễn Văn Ấn")
    result = dataset_load(
        files={"pupils": write_roster(tmp_path / "v4", [renamed])["pupils"]},
        school_ids=frozenset({a}),
    )
    assert not Person.objects.filter(full_name="Nguyễn Văn Ấn").exists()
    # Staff alike: another school's teacher is linked with a post here, their record unchanged.
    teacher = Person.objects.get(pk=hang.pk)
    path = tmp_path / "staff.csv"
    pl.DataFrame({
        "school_code": ["01000101"], "staff_code": ["TG7"],
        "education_id": [teacher.education_id], "full_name": [teacher.full_name],
        "birth_date": [teacher.birth_date.isoformat()], "sex": ["M" if teacher.sex == "F" else "F"],
        "ethnicity_code": ["01"], "role": ["teacher"], "subjects": ["TOAN"],
        "qualification": ["bachelor"], "contract_type": ["visiting"], "starts_on": ["2025-09-05"],
    }).write_csv(path)  # fmt: skip
    result = dataset_load(files={"staff": path}, school_ids=frozenset({a}))
    assert _counts(result, "staff") == (1, 0, 0, 0)
    teacher.refresh_from_db()
    assert teacher.sex == hang.sex
    assert StaffAssignment.objects.filter(person=teacher, school_id=a).exists()
    assert c  # school c keeps its pupil
