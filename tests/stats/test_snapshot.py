"""The analytics snapshot on a generated registry: layout and types as docs/stats.md says, no
identifiers, the same counts as the database, incremental refreshes, refresh after approval,
and the snapshot page's permissions."""

import re
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.urls import reverse

from vnemis.orgs.models import Organisation, User
from vnemis.registry.models import (
    Enrolment,
    HealthRecord,
    Person,
    ResultSummary,
    SchoolClass,
    SchoolYear,
    StaffAssignment,
    Subject,
    SubjectResult,
    TeachingAssignment,
)
from vnemis.stats.models import SnapshotMark, SnapshotPartition, SnapshotRefresh
from vnemis.stats.snapshot import snapshot_refresh
from vnemis.stats.snapshot_files import bucket_file, bucket_of

DOCS = Path(__file__).resolve().parents[2] / "docs" / "stats.md"
E2025_01 = "enrolments/school_year=2025/province=01"
# DuckDB's type per column kind, as the brief of the contract says.
IDS = {"enrolment_id", "person_id", "school_id", "class_id", "assignment_id", "count"}
SMALL = {"grade", "birth_year", "age", "year", "eyesight_left", "eyesight_right", "school_year"}
DATES = {"started_on", "ended_on", "measured_on", "submitted_on", "due_on"}
BOOLS = {"two_sessions", "combined_grades"}
FLOATS = {"score", "height_cm", "weight_kg", "bmi"}


def contract() -> dict[str, tuple[str, list[str]]]:
    """docs/stats.md's layout table: dataset → (partitions, columns)."""
    found = {}
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\| `([a-z_]+)(/|\.parquet)` \| (.+?) \| (.+?) \|$", line)
        if m:
            found[m.group(1)] = (m.group(3), [c.strip() for c in m.group(4).split(",")])
    return found


def duck(sql: str, *params):
    con = duckdb.connect()
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def files_of(root: Path, dataset: str) -> str:
    if (root / f"{dataset}.parquet").exists():
        return str(root / f"{dataset}.parquet")
    depth = "*/*" if dataset != "persons" else "*"
    return str(root / dataset / depth / "*.parquet")


def frame(root: Path, dataset: str) -> pl.DataFrame:
    con = duckdb.connect()
    try:
        sql = f"SELECT * FROM read_parquet('{files_of(root, dataset)}', hive_partitioning = true)"
        return pl.from_arrow(con.sql(sql).to_arrow_table())
    finally:
        con.close()


def expected_type(column: str) -> set[str]:
    if column in IDS:
        return {"BIGINT"}
    if column in SMALL:
        return {"SMALLINT", "INTEGER"}
    if column in DATES:
        return {"DATE"}
    if column in BOOLS:
        return {"BOOLEAN"}
    if column in FLOATS:
        return {"DOUBLE"}
    if column == "subjects":
        return {"VARCHAR[]"}
    return {"VARCHAR"}


# --- layout, schema, content -------------------------------------------------------------------


def test_layout_and_schema_are_the_contract(snapshot_dir):
    layout = contract()
    assert set(layout) == {
        "enrolments", "classes", "staff", "results", "health", "persons", "schools", "population",
        "submissions",
    }  # fmt: skip
    for dataset, (partitions, columns) in layout.items():
        if partitions == "none":
            path = snapshot_dir / f"{dataset}.parquet"
            assert path.is_file(), dataset
        else:
            dirs = sorted(
                p.relative_to(snapshot_dir)
                for p in snapshot_dir.glob(f"{dataset}/**/bucket-*.parquet")
            )
            assert dirs, dataset
            pattern = (
                rf"^{dataset}/school_year=\d{{4}}/province=\d{{2}}/bucket-\d{{2}}\.parquet$"
                if "school_year" in partitions
                else rf"^{dataset}/province=\d{{2}}/bucket-\d{{2}}\.parquet$"
            )
            assert all(re.match(pattern, str(d)) for d in dirs), dirs
            path = next(iter(snapshot_dir.glob(f"{dataset}/**/bucket-*.parquet")))
        described = duck(
            f"DESCRIBE SELECT * FROM read_parquet('{path}', hive_partitioning = false)"
        )
        names = [row[0] for row in described]
        assert names == columns, dataset
        for name, dtype, *_ in described:
            assert dtype in expected_type(name), (dataset, name, dtype)
    # Hive partition keys read back as the school year and the two-digit province.
    keys = duck(
        "SELECT DISTINCT school_year, province FROM read_parquet(?, hive_partitioning = true) "
        "ORDER BY 2",
        files_of(snapshot_dir, "enrolments"),
    )
    assert [(int(y), str(p).zfill(2)) for y, p in keys] == [(2025, "01"), (2025, "48")]
    # No temporary file left behind.
    assert not list(snapshot_dir.rglob("*.tmp"))


def test_no_identifier_columns_or_values(snapshot_dir, registry_with_data):
    pupils = pl.read_parquet(registry_with_data / "pupils.parquet")
    staff = pl.read_parquet(registry_with_data / "staff.parquet")
    secrets = set()
    for f in (pupils, staff):
        secrets |= set(f["full_name"].drop_nulls().to_list())
        secrets |= {v for v in f["citizen_id"].drop_nulls().to_list() if v}
    secrets |= set(Person.objects.values_list("education_id", flat=True))
    secrets |= set(Person.objects.values_list("full_name", flat=True))
    births = set(Person.objects.values_list("birth_date", flat=True))
    assert len(secrets) > 2_000 and births
    forbidden = re.compile(r"name$|citizen|education_id|birth_date|address|pupil_code|staff_code")
    strings, dates = set(), set()
    files = list(snapshot_dir.rglob("*.parquet"))
    assert len(files) >= 10
    for path in files:
        table = pq.read_table(path)
        for column in table.column_names:
            if column == "name" and path.name == "schools.parquet":
                continue  # a school's name is not personal data
            assert not forbidden.search(column), (path, column)
            values = table.column(column)
            if pa.types.is_string(values.type):
                strings |= set(values.to_pylist())
            elif pa.types.is_list(values.type):
                strings |= {s for v in values.to_pylist() for s in v}
            elif pa.types.is_date(values.type):
                dates |= set(values.to_pylist())
    assert not strings & secrets
    assert not dates & births
    # Numbers too: no citizen or education ID hides in an integer column.
    numeric = {int(s) for s in secrets if s.isdigit()}
    for path in files:
        table = pq.read_table(path)
        for column in table.column_names:
            if pa.types.is_integer(table.column(column).type):
                assert not set(table.column(column).to_pylist()) & numeric, (path, column)


def test_counts_and_values_equal_the_database(snapshot_dir):
    year = SchoolYear.objects.get(start_year=2025)
    enrol = frame(snapshot_dir, "enrolments")
    assert enrol.height == Enrolment.objects.count() > 1_500
    by_province = dict(enrol.group_by("province").len().iter_rows())
    for code, n in by_province.items():
        assert n == Enrolment.objects.filter(school__province__code=str(code).zfill(2)).count()
    assert frame(snapshot_dir, "classes").height == SchoolClass.objects.count()
    assert frame(snapshot_dir, "results").height == SubjectResult.objects.count() > 10_000
    assert frame(snapshot_dir, "health").height == HealthRecord.objects.count()
    assert frame(snapshot_dir, "persons").height == Person.objects.count()
    ref = date(2025, 9, 30)
    active = StaffAssignment.objects.filter(starts_on__lte=ref).exclude(ends_on__lt=ref)
    staff = frame(snapshot_dir, "staff")
    assert staff.height == active.count() > 50
    schools = frame(snapshot_dir, "schools")
    assert schools.height == Organisation.objects.filter(kind__in=Organisation.SCHOOL_KINDS).count()

    # Column values of a few rows against the database.
    outcomes = dict(
        ResultSummary.objects.filter(period="year").values_list("enrolment_id", "outcome")
    )
    for row in enrol.sample(50, seed=1).iter_rows(named=True):
        e = Enrolment.objects.select_related("pupil", "school__commune", "school_class").get(
            pk=row["enrolment_id"]
        )
        grade = e.school_class.grade
        level = ("preschool" if grade == 0 else "primary" if grade <= 5
                 else "lower_secondary" if grade <= 9 else "upper_secondary")  # fmt: skip
        commune = e.school.commune
        urban = "unknown" if commune is None else "urban" if commune.kind == "phuong" else "rural"
        assert row == {
            **row,
            "person_id": e.pupil_id, "school_id": e.school_id, "class_id": e.school_class_id,
            "grade": grade, "level": level, "status": e.status, "started_on": e.started_on,
            "ended_on": e.ended_on, "outcome": outcomes.get(e.pk, ""), "sex": e.pupil.sex,
            "birth_year": e.pupil.birth_date.year, "ethnicity": e.pupil.ethnicity.code,
            "disability": e.pupil.disability, "ownership": e.school.ownership,
            "urban_rural": urban, "school_year": 2025,
        }  # fmt: skip
    assert enrol.filter(pl.col("outcome") != "").height > 0
    # Staff: subjects as a list, role and level from the registry.
    sample = staff.filter(pl.col("subjects").list.len() > 0).row(0, named=True)
    a = StaffAssignment.objects.select_related("school").get(pk=sample["assignment_id"])
    assert sample["subjects"] == list(a.subjects) and sample["role"] == a.role
    assert sample["level"] in ("preschool", "primary", "lower_secondary", "upper_secondary")
    # Health: every row in the school year holding its date.
    health = frame(snapshot_dir, "health")
    assert health["measured_on"].min() >= year.starts_on
    assert set(frame(snapshot_dir, "persons")["verification_status"]) == {"unverified"}


def test_staff_level_is_the_level_taught_most(snapshot_dir):
    year = SchoolYear.objects.get(start_year=2025)
    a = StaffAssignment.objects.filter(role="teacher", school__province__code="01").first()
    # Teach two upper- and one lower-secondary class at the assignment's school.
    subject = Subject.objects.first()
    made = []
    for grade, name in ((10, "10Z1"), (11, "11Z1"), (7, "7Z1")):
        c = SchoolClass.objects.create(
            school=a.school, school_year=year, grade=grade, name=name, province_code="01"
        )
        made.append(
            TeachingAssignment.objects.create(school_class=c, teacher=a.person, subject=subject)
        )
    result = snapshot_refresh()
    assert "staff/school_year=2025/province=01" in result["partitions"]
    staff = frame(snapshot_dir, "staff")
    assert staff.filter(pl.col("assignment_id") == a.pk)["level"].to_list() == ["upper_secondary"]
    assert "staff/school_year=2025/province=48" not in result["partitions"]


# --- incremental --------------------------------------------------------------------------------


def file_times(directory: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in directory.rglob("*.parquet")}


def test_changed_pupil_rewrites_only_its_partitions(snapshot_dir):
    untouched = {p: t for p, t in file_times(snapshot_dir).items() if "province=48" in str(p)}
    before_e = file_times(snapshot_dir / E2025_01)
    # Nothing changed: nothing rewritten.
    assert snapshot_refresh()["partitions"] == []
    enrolment = (
        Enrolment.objects.filter(school__province__code="01").select_related("pupil").first()
    )
    pupil = enrolment.pupil
    pupil.sex = "F" if pupil.sex == "M" else "M"
    pupil.save()

    result = snapshot_refresh()
    assert sorted(result["partitions"]) == [E2025_01, "persons/province=01"]
    assert result["removed"] == [] and result["rows"] > 0 and result["seconds"] >= 0
    # Only the bucket file of the pupil's school was rewritten, not the province.
    after_e = file_times(snapshot_dir / E2025_01)
    changed = {p.name for p in after_e if after_e[p] != before_e.get(p)}
    assert changed == {bucket_file(bucket_of(enrolment.school_id))}
    enrol = frame(snapshot_dir, "enrolments")
    assert enrol.filter(pl.col("enrolment_id") == enrolment.pk)["sex"].to_list() == [pupil.sex]
    persons = frame(snapshot_dir, "persons")
    assert persons.filter(pl.col("person_id") == pupil.pk)["sex"].to_list() == [pupil.sex]
    assert {p: p.stat().st_mtime_ns for p in untouched} == untouched
    part = SnapshotPartition.objects.get(dataset="enrolments", school_year=2025, province="01")
    assert part.rows == Enrolment.objects.filter(school__province__code="01").count()
    assert (
        SnapshotMark.objects.get(dataset="enrolments").change_seq
        >= pupil.__class__.objects.get(pk=pupil.pk).change_seq
    )


def test_deleted_enrolment_and_emptied_province_disappear(snapshot_dir):
    enrolment = Enrolment.objects.filter(school__province__code="01", results__isnull=False).first()
    gone = enrolment.pk
    enrolment.delete()  # its results and summaries go with it (tombstones for each)
    HealthRecord.objects.filter(province_code="48").delete()

    result = snapshot_refresh()
    assert E2025_01 in result["partitions"]
    assert "results/school_year=2025/province=01" in result["partitions"]
    assert result["removed"] == ["health/school_year=2025/province=48"]
    assert not (snapshot_dir / "health/school_year=2025/province=48").exists()
    assert gone not in frame(snapshot_dir, "enrolments")["enrolment_id"].to_list()
    assert gone not in frame(snapshot_dir, "results")["enrolment_id"].to_list()
    assert not SnapshotPartition.objects.filter(dataset="health", province="48").exists()
    assert frame(snapshot_dir, "enrolments").height == Enrolment.objects.count()


def test_person_moved_to_another_province_leaves_the_old_partition(snapshot_dir):
    person = Person.objects.filter(province_code="48").first()
    person.province_code = "01"
    person.save()
    result = snapshot_refresh()
    assert {"persons/province=01", "persons/province=48"} <= set(result["partitions"])
    persons = frame(snapshot_dir, "persons")
    rows = persons.filter(pl.col("person_id") == person.pk)
    assert [str(p).zfill(2) for p in rows["province"]] == ["01"]


def test_refresh_limited_to_a_province_leaves_the_rest_for_later(snapshot_dir):
    for code in ("01", "48"):
        p = Person.objects.filter(province_code=code, enrolments__isnull=False).first()
        p.disability = "vision"
        p.save()
    first = snapshot_refresh(provinces=["48"])
    assert sorted(first["partitions"]) == [
        "enrolments/school_year=2025/province=48", "persons/province=48",
    ]  # fmt: skip
    second = snapshot_refresh()
    assert sorted(second["partitions"]) == [E2025_01, "persons/province=01"]
    assert snapshot_refresh()["partitions"] == []


# --- after approval, on demand ------------------------------------------------------------------


def _department(code: str) -> User:
    org = Organisation.objects.get(kind="department", province__code=code)
    return User.objects.create_user(f"so{code}", password="pw", role="department", scope=org)


def test_refresh_runs_after_an_approval(snapshot_dir, django_capture_on_commit_callbacks):
    from vnemis.exchange.models_submissions import Submission
    from vnemis.exchange.submissions import reporting_periods_create, submission_approve

    year = SchoolYear.objects.get(start_year=2025)
    periods = reporting_periods_create(school_year=year)
    school = Organisation.objects.filter(kind="school", province__code="01").first()
    sub = Submission.objects.get(school=school, period=periods[0])
    Submission.objects.filter(pk=sub.pk).update(status="submitted")
    pupil = Enrolment.objects.filter(school=school).first().pupil
    pupil.sex = "F" if pupil.sex == "M" else "M"
    pupil.save()

    with django_capture_on_commit_callbacks(execute=True):
        submission_approve(actor=_department("01"), submission=sub)
    refresh = SnapshotRefresh.objects.get(trigger="approval")
    assert (refresh.status, refresh.province, refresh.school_year) == ("succeeded", "01", 2025)
    assert E2025_01 in refresh.partitions and refresh.rows > 0
    enrol = frame(snapshot_dir, "enrolments")
    assert set(enrol.filter(pl.col("person_id") == pupil.pk)["sex"]) == {pupil.sex}


def test_snapshot_page_permissions_and_button(
    snapshot_dir, client, django_capture_on_commit_callbacks
):
    url = reverse("stats_snapshot")
    school = Organisation.objects.filter(kind="school", province__code="01").first()
    User.objects.create_user("truong", password="pw", role="school", scope=school)
    client.login(username="truong", password="pw")
    assert client.get(url).status_code == 403
    assert client.post(url, {"province": "01"}).status_code == 403
    assert not SnapshotRefresh.objects.exists()

    _department("01")
    client.login(username="so01", password="pw")
    page = client.get(url)
    assert page.status_code == 200
    shown = {(p.dataset, p.province) for p in page.context["partitions"]}
    assert ("enrolments", "01") in shown and not any(p == "48" for _, p in shown)
    # Another province: refused, nothing queued.
    response = client.post(url, {"province": "48"}, follow=True)
    assert "chỉ được làm mới" in response.content.decode()
    assert not SnapshotRefresh.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {})
    assert response.status_code == 302
    refresh = SnapshotRefresh.objects.get()
    assert (refresh.trigger, refresh.province, refresh.status) == ("manual", "01", "succeeded")
    page = client.get(url)
    assert refresh in page.context["refreshes"]

    ministry = Organisation.objects.get(kind="ministry")
    User.objects.create_user("bo", password="pw", role="ministry", scope=ministry)
    client.login(username="bo", password="pw")
    assert client.get(url).status_code == 200
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client.post(url, {"province": ""})
    queued = SnapshotRefresh.objects.exclude(pk=refresh.pk).get()
    assert (queued.province, queued.status) == ("", "queued") and len(callbacks) == 1


def test_snapshot_refresh_queue_refuses_wrong_roles(registry_with_data):
    from django.core.exceptions import PermissionDenied

    from vnemis.stats.actions_snapshot import snapshot_refresh_queue

    school = Organisation.objects.filter(kind="school").first()
    user = User.objects.create_user("t", password="pw", role="school", scope=school)
    with pytest.raises(PermissionDenied):
        snapshot_refresh_queue(actor=user)
    dept = _department("01")
    with pytest.raises(PermissionDenied):
        snapshot_refresh_queue(actor=dept, province="48")
    with pytest.raises(PermissionDenied):
        snapshot_refresh_queue(actor=dept, full=True)
    assert not SnapshotRefresh.objects.exists()
    first = snapshot_refresh_queue(actor=dept)
    assert snapshot_refresh_queue(actor=dept) == first  # still queued: the same request


def snapshot_content(root: Path) -> dict[str, list[tuple]]:
    """Every partitioned dataset's rows with their partition, sorted (order-free content)."""
    content = {}
    for dataset in ("enrolments", "classes", "staff", "results", "health", "persons"):
        rows = frame(root, dataset).to_dicts()
        content[dataset] = sorted(tuple(sorted((k, repr(v)) for k, v in r.items())) for r in rows)
    return content


def test_incremental_merges_give_what_a_full_rewrite_gives(snapshot_dir, settings, tmp_path):
    """Changes in several schools of both provinces, removals (tombstones) and a person moved:
    the merged bucket files hold exactly what a full snapshot of the registry holds."""
    enrolments = list(Enrolment.objects.select_related("pupil").order_by("id")[:40])
    for enrolment in enrolments[:10]:
        enrolment.status = "dropped_out"
        enrolment.save()
    pupil = enrolments[10].pupil
    pupil.sex = "F" if pupil.sex == "M" else "M"
    pupil.save()
    Enrolment.objects.filter(pk=enrolments[11].pk).delete()  # with its results (tombstones)
    last = Enrolment.objects.filter(school__province__code="48").order_by("-id").first()
    last.delete()
    assignment = StaffAssignment.objects.order_by("id").first()
    assignment.qualification = "doctorate"
    assignment.save()
    school_class = SchoolClass.objects.order_by("-id").first()
    school_class.two_sessions = not school_class.two_sessions
    school_class.save()
    moved = Person.objects.filter(province_code="48").order_by("id").first()
    moved.province_code = "01"
    moved.save()
    result = SubjectResult.objects.order_by("id").first()
    result.score = 9.5 if result.score != 9.5 else 8.5
    result.save()

    done = snapshot_refresh()
    assert done["partitions"]
    merged = snapshot_content(snapshot_dir)
    # The bucket files untouched by the changes are the ones written by the full snapshot.
    settings.STATS_SNAPSHOT_DIR = tmp_path / "full"
    SnapshotMark.objects.all().delete()
    SnapshotPartition.objects.all().delete()
    snapshot_refresh(full=True)
    assert merged == snapshot_content(tmp_path / "full")


def test_many_changed_schools_rewrite_the_partition_whole(snapshot_dir, monkeypatch):
    from vnemis.stats import snapshot

    monkeypatch.setattr(snapshot, "MERGE_MAX_KEYS", 1)
    schools = list(
        Enrolment.objects.filter(school__province__code="01")
        .values_list("school_id", flat=True)
        .distinct()[:2]
    )
    for school_id in schools:
        enrolment = Enrolment.objects.filter(school_id=school_id).first()
        enrolment.status = "dropped_out"
        enrolment.save()
    before = file_times(snapshot_dir / E2025_01)
    snapshot_refresh()
    after = file_times(snapshot_dir / E2025_01)
    assert all(after[p] != before[p] for p in before if p in after)  # every bucket rewritten
    assert frame(snapshot_dir, "enrolments").height == Enrolment.objects.count()
