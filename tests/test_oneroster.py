"""OneRoster 1.2 CSV export and import (``vnemis.exchange.oneroster``), the command and the API.

A small registry is loaded through the engine from an exchange-format dataset the test writes,
exported as a bundle, checked against the binding's headers, converted back and loaded again:
the same registry must come out ("no changes"), through the engine and through an import job
like the web page's. Bundles from other software (no metadata.vn.* columns), errors placed at
the OneRoster file, row and column, names OneRoster can carry, the API's refusals, scope,
audit, formula injection and malformed bundles each have their own test.
"""

from __future__ import annotations

import csv
import io
import shutil
import zipfile
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from vnemis.core.models import AuditEntry
from vnemis.exchange.imports import import_file
from vnemis.exchange.intake import intake_file
from vnemis.exchange.messages import message
from vnemis.exchange.oneroster import (
    OneRosterError,
    is_oneroster,
    oneroster_errors,
    oneroster_export,
    oneroster_locate,
    oneroster_to_standard,
)
from vnemis.exchange.oneroster import mapping as m
from vnemis.orgs.models import Organisation, User
from vnemis.orgs.tokens import api_token_create
from vnemis.registry.exchange_format import BY_NAME
from vnemis.registry.loaders import dataset_load
from vnemis.registry.models import Enrolment, Person, SchoolClass, StaffAssignment, Term

YEAR = "2025-2026"

# The binding's header rows, written out literally (not taken from mapping.py) so a slip in the
# mapping tables fails here.
SPEC_HEADERS = {
    "orgs": "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId",
    "academicSessions": "sourcedId,status,dateLastModified,title,type,startDate,endDate,"
    "parentSourcedId,schoolYear",
    "courses": "sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,grades,"
    "orgSourcedId,subjects,subjectCodes",
    "classes": "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,"
    "classType,location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods",
    "users": "sourcedId,status,dateLastModified,enabledUser,username,userIds,givenName,"
    "familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password,"
    "userMasterIdentifier,resourceSourcedIds,preferredGivenName,preferredMiddleName,"
    "preferredFamilyName,primaryOrgSourcedId,pronouns",
    "roles": "sourcedId,status,dateLastModified,userSourcedId,roleType,role,beginDate,endDate,"
    "orgSourcedId,userProfileSourcedId",
    "demographics": "sourcedId,status,dateLastModified,birthDate,sex,americanIndianOrAlaskaNative,"
    "asian,blackOrAfricanAmerican,nativeHawaiianOrOtherPacificIslander,white,"
    "demographicRaceTwoOrMoreRaces,hispanicOrLatinoEthnicity,countryOfBirthCode,"
    "stateOfBirthAbbreviation,cityOfBirth,publicSchoolResidenceStatus",
    "enrollments": "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,"
    "userSourcedId,role,primary,beginDate,endDate",
}


def _write(directory: Path, name: str, rows: list[dict]) -> None:
    columns = BY_NAME[name].column_names
    with open(directory / f"{name}.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in columns})


def _staff(school, code, name, role, born, sex="F"):
    return {
        "school_code": school, "staff_code": code, "full_name": name, "birth_date": born,
        "sex": sex, "ethnicity_code": "01", "role": role, "subjects": "TOAN;TV",
        "qualification": "bachelor", "contract_type": "permanent", "starts_on": "2010-09-01",
    }  # fmt: skip


def _dataset(directory: Path) -> None:
    """Schools A (primary) and B (lower secondary) in Hà Nội, C in Đà Nẵng; staff, classes, pupils."""
    directory.mkdir(parents=True, exist_ok=True)
    _write(
        directory,
        "staff",
        [
            _staff("01000101", "GV001", "Phạm Thị Hoa", "teacher", "1985-04-04"),
            _staff("01000101", "HT001", "Ngô Văn Sơn", "principal", "1975-01-30", "M"),
            _staff("01000102", "GV201", "Đỗ Thị Lan", "teacher", "1990-02-02"),
            _staff("48000101", "GV901", "Lý Thị Mai", "teacher", "1988-08-08"),
        ],
    )
    classes = [
        ("01000101", "3A", 3, "GV001", "true"),
        ("01000101", "4A", 4, "", "false"),
        ("01000102", "7A", 7, "GV201", "false"),
        ("48000101", "3A", 3, "GV901", "true"),
    ]
    _write(
        directory,
        "classes",
        [
            {"school_code": s, "school_year": YEAR, "class_name": c, "grade": str(g),
             "homeroom_staff_code": h, "two_sessions": t, "combined_grades": "false"}
            for s, c, g, h, t in classes
        ],
    )  # fmt: skip
    names = ["Nguyễn Văn An", "Trần Thị Bình", "Lê Hoàng Cường", "Phạm Thuý Hằng",
             "Vũ Ngọc Ánh", "Bùi Minh Khôi", "Đặng Quốc Đạt", "Hoàng Thị Thủy"]  # fmt: skip
    placement = [("01000101", "3A"), ("01000101", "3A"), ("01000101", "4A"), ("01000101", "4A"),
                 ("01000102", "7A"), ("01000102", "7A"), ("48000101", "3A"), ("48000101", "3A")]  # fmt: skip
    pupils, enrolments = [], []
    for i, (name, (school, cls)) in enumerate(zip(names, placement, strict=True)):
        born = date(2013 if cls == "7A" else 2017 - (cls == "4A"), 1 + i, 10)
        pupils.append(
            {
                "school_code": school, "pupil_code": f"HS{i:03d}", "full_name": name,
                "birth_date": born.isoformat(), "sex": "M" if i % 2 == 0 else "F",
                "ethnicity_code": "01", "nationality": "VN", "birth_province_code": "01",
                "permanent_commune_code": "00004",
                "policy_categories": "poor_household;orphan" if i == 1 else "",
                "citizen_id": f"001217{i:06d}" if i == 0 else "",
            }
        )  # fmt: skip
        enrolments.append(
            {"school_code": school, "school_year": YEAR, "pupil_code": f"HS{i:03d}",
             "class_name": cls, "status": "repeating" if i == 3 else "studying",
             "started_on": "2025-09-05"}
        )  # fmt: skip
    _write(directory, "pupils", pupils)
    _write(directory, "enrolments", enrolments)


@pytest.fixture
def registry(tmp_path, tree, school_year):
    """The registry after loading the dataset; the year has two terms."""
    Term.objects.create(school_year=school_year, number=1, starts_on=date(2025, 9, 5),
                        ends_on=date(2026, 1, 15))  # fmt: skip
    Term.objects.create(school_year=school_year, number=2, starts_on=date(2026, 1, 19),
                        ends_on=date(2026, 5, 31))  # fmt: skip
    _dataset(tmp_path / "ds")
    result = dataset_load(directory=tmp_path / "ds")
    assert result.rejected == 0, "\n".join(result.summary_lines())
    return tree


@pytest.fixture
def accounts(registry):
    make = User.objects.create_user
    return {
        "school": make("truong_a", password="pw", role="school", scope=registry["a"]),
        "department": make("so_hn", password="pw", role="department", scope=registry["so_hn"]),
        "ministry": make("bo", password="pw", role="ministry", scope=registry["moet"]),
        "teacher": make(
            "gv", password="pw", role="teacher", scope=registry["a"],
            person=Person.objects.filter(assignments__staff_code="GV001").first(),
        ),
    }  # fmt: skip


def _export(tmp_path, actor, org="01000101", **kwargs) -> tuple[Path, dict]:
    out = tmp_path / f"or-{org}.zip"
    counts = oneroster_export(actor=actor, org_code=org, year_code=YEAR, out=out, **kwargs)
    return out, counts


def _files(zip_path: Path) -> dict[str, list[dict]]:
    with zipfile.ZipFile(zip_path) as zf:
        return {
            Path(n).stem: list(csv.DictReader(io.StringIO(zf.read(n).decode("utf-8"))))
            for n in zf.namelist()
        }


def _headers(zip_path: Path) -> dict[str, str]:
    with zipfile.ZipFile(zip_path) as zf:
        return {Path(n).stem: zf.read(n).decode().splitlines()[0] for n in zf.namelist()}


def _unzip(zip_path: Path, dest: Path) -> Path:
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(dest)
    return dest


# -- export ------------------------------------------------------------------------------------


def test_headers_are_the_bindings_in_order(tmp_path, accounts):
    out, _ = _export(tmp_path, accounts["school"])
    headers = _headers(out)
    # The binding's columns in its order; our extensions to their right, named metadata.vn.*.
    for name, header in SPEC_HEADERS.items():
        assert headers[name] == ",".join([header, *m.EXTENSIONS.get(name, ())]), name
    assert headers["manifest"] == "propertyName,value"
    assert headers["classes"] == (
        SPEC_HEADERS["classes"] + ",metadata.vn.twoSessions,metadata.vn.combinedGrades"
    )
    assert headers["users"] == SPEC_HEADERS["users"] + ",metadata.vn.fullName"
    # The personal extensions only on request, after the others.
    out, _ = _export(tmp_path, accounts["school"], extensions=True)
    headers = _headers(out)
    assert headers["demographics"] == ",".join(
        [SPEC_HEADERS["demographics"], "metadata.vn.nationality", "metadata.vn.ethnicityCode",
         "metadata.vn.birthProvinceCode", "metadata.vn.permanentCommuneCode",
         "metadata.vn.policyCategories", "metadata.vn.disability"]
    )  # fmt: skip
    assert headers["users"] == SPEC_HEADERS["users"] + ",metadata.vn.fullName"


def test_manifest_declares_every_file(tmp_path, accounts):
    out, counts = _export(tmp_path, accounts["school"])
    manifest = {r["propertyName"]: r["value"] for r in _files(out)["manifest"]}
    assert manifest["manifest.version"] == "1.0"
    assert manifest["oneroster.version"] == "1.2"
    assert {k for k in manifest if k.startswith("file.")} == {f"file.{n}" for n in m.MANIFEST_FILES}
    for name in m.HEADERS:
        assert manifest[f"file.{name}"] == ("bulk" if counts[name] else "absent")
    assert manifest["file.results"] == "absent"
    assert manifest["source.systemName"] == "vnemis"
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
    assert names == {"manifest.csv"} | {f"{n}.csv" for n, c in counts.items() if c}


def test_export_maps_the_registry(tmp_path, accounts):
    out, counts = _export(tmp_path, accounts["school"])
    f = _files(out)
    orgs = {r["sourcedId"]: r for r in f["orgs"]}
    assert orgs["BGDDT"]["type"] == "national"
    assert orgs["SGD01"]["type"] == "state" and orgs["SGD01"]["parentSourcedId"] == "BGDDT"
    assert orgs["01000101"]["type"] == "school" and orgs["01000101"]["parentSourcedId"] == "SGD01"
    assert "01000102" not in orgs and "48000101" not in orgs  # a school sees only itself
    sessions = {r["sourcedId"]: r for r in f["academicSessions"]}
    assert sessions[YEAR]["type"] == "schoolYear" and sessions[YEAR]["schoolYear"] == "2026"
    assert sessions[YEAR]["startDate"] == "2025-09-05"
    assert sessions[f"{YEAR}-HK2"]["type"] == "term"
    assert sessions[f"{YEAR}-HK2"]["parentSourcedId"] == YEAR
    classes = {r["classCode"]: r for r in f["classes"]}
    assert set(classes) == {"3A", "4A"}
    assert classes["3A"]["classType"] == "homeroom" and classes["3A"]["grades"] == "03"
    assert classes["3A"]["termSourcedIds"] == f"{YEAR}-HK1,{YEAR}-HK2"
    assert classes["3A"]["courseSourcedId"] in {c["sourcedId"] for c in f["courses"]}
    an = Person.objects.get(full_name="Nguyễn Văn An")
    users = {r["sourcedId"]: r for r in f["users"]}
    assert len(users) == 4 + 2  # pupils and staff of school A
    user = users[an.education_id]
    assert (user["familyName"], user["middleName"], user["givenName"]) == ("Nguyễn", "Văn", "An")
    assert user["identifier"] == "HS000" and user["grades"] == "03"
    assert user["enabledUser"] == "true" and user["primaryOrgSourcedId"] == "01000101"
    roles = {(r["userSourcedId"], r["role"]) for r in f["roles"]}
    assert (an.education_id, "student") in roles
    principal = Person.objects.get(full_name="Ngô Văn Sơn")
    assert (principal.education_id, "principal") in roles
    demo = {r["sourcedId"]: r for r in f["demographics"]}
    assert demo[an.education_id]["birthDate"] == "2017-01-10"
    assert demo[an.education_id]["sex"] == "male"
    hoa = Person.objects.get(full_name="Phạm Thị Hoa")
    teacher = [r for r in f["enrollments"] if r["role"] == "teacher"]
    assert [(r["userSourcedId"], r["primary"]) for r in teacher] == [(hoa.education_id, "true")]
    students = [r for r in f["enrollments"] if r["role"] == "student"]
    assert len(students) == 4 and all(r["beginDate"] == "2025-09-05" for r in students)
    assert counts["users"] == 6 and counts["enrollments"] == 5


def test_no_citizen_id_and_no_personal_extensions_by_default(tmp_path, accounts):
    out, _ = _export(tmp_path, accounts["school"])
    with zipfile.ZipFile(out) as zf:
        blob = b"".join(zf.read(n) for n in zf.namelist())
    assert b"001217000000" not in blob
    for column in m.PERSONAL_EXTENSIONS["demographics"]:
        assert column.encode() not in blob
    assert b"poor_household" not in blob
    assert b"metadata.vn.nationality" in blob  # what a re-import needs is always there


def test_scope_school_department_teacher(tmp_path, accounts):
    with pytest.raises(OneRosterError) as err:
        _export(tmp_path, accounts["school"], org="01000102")
    assert err.value.status == 404 and err.value.code == "org_not_found"
    with pytest.raises(OneRosterError):
        _export(tmp_path, accounts["department"], org="SGD48")
    with pytest.raises(OneRosterError):
        _export(tmp_path, accounts["department"], org="48000101")
    with pytest.raises(OneRosterError):
        _export(tmp_path, accounts["teacher"], org="01000101")
    out, counts = _export(tmp_path, accounts["department"], org="SGD01")
    f = _files(out)
    schools = {r["sourcedId"] for r in f["orgs"] if r["type"] == "school"}
    assert schools == {"01000101", "01000102"}
    assert {r["schoolSourcedId"] for r in f["classes"]} == schools
    assert counts["users"] == 6 + 2 + 1
    # The Ministry reaches the whole country; a Department may not take the sensitive columns.
    _out, counts = _export(tmp_path, accounts["ministry"], org="BGDDT")
    assert counts["users"] == 12
    with pytest.raises(OneRosterError) as err:
        _export(tmp_path, accounts["department"], org="SGD01", extensions=True)
    assert err.value.status == 403


def test_export_is_audited_with_counts_only(tmp_path, accounts):
    before = AuditEntry.objects.count()
    _export(tmp_path, accounts["school"])
    entry = AuditEntry.objects.order_by("-id").first()
    assert AuditEntry.objects.count() == before + 1
    assert (entry.action, entry.object_type, entry.object_id) == ("export", "oneroster", "01000101")
    assert entry.detail["rows"]["users"] == 6
    an = Person.objects.get(full_name="Nguyễn Văn An")
    assert an.education_id not in str(entry.detail)


def test_formula_cells_are_neutralised(tmp_path, accounts):
    Person.objects.filter(full_name="Nguyễn Văn An").update(
        given_name="=HYPERLINK(1)", full_name="Nguyễn Văn =HYPERLINK(1)"
    )
    out, _ = _export(tmp_path, accounts["school"])
    given = [r["givenName"] for r in _files(out)["users"]]
    assert "'=HYPERLINK(1)" in given
    assert not any(g.startswith(("=", "+", "-", "@")) for g in given)
    # Our own guard is undone on import: the value is read as it was, and the registry's name
    # rule then refuses it, at the OneRoster row and columns.
    oneroster_to_standard(_unzip(out, tmp_path / "b"), tmp_path / "std")
    bad = oneroster_errors(tmp_path / "std").filter(pl.col("code") == "bad_name").to_dicts()
    assert [(e["entity"], e["column"], e["value"]) for e in bad] == [
        ("users.csv", "users.csv › familyName, middleName, givenName", "Nguyễn Văn =HYPERLINK(1)")
    ]


def test_export_streams_in_small_chunks(tmp_path, accounts):
    """Chunk boundaries must not duplicate or drop a person (one row per person)."""
    an = Person.objects.get(full_name="Nguyễn Văn An")
    first = Enrolment.objects.get(pupil=an)
    # An earlier enrolment in another class the same year (moved class): two rows, one person.
    Enrolment.objects.create(
        pupil=an, school=first.school, school_year=first.school_year, pupil_code="HS100",
        school_class=SchoolClass.objects.get(school=first.school, name="4A"),
        status="transferred_out", started_on=date(2025, 9, 5), ended_on=date(2025, 9, 20),
        province_code="01",
    )  # fmt: skip
    big_zip, big = _export(tmp_path, accounts["department"], org="SGD01")
    (tmp_path / "s").mkdir()
    small_zip, small = _export(tmp_path / "s", accounts["department"], org="SGD01", chunk_rows=1)
    assert big == small
    assert big["users"] == 6 + 2 + 1 and big["enrollments"] == 6 + 1 + 2
    # The person's row describes the active enrolment, not the ended one.
    user = next(r for r in _files(small_zip)["users"] if r["sourcedId"] == an.education_id)
    assert (user["identifier"], user["enabledUser"]) == ("HS000", "true")
    assert _files(big_zip)["users"] == _files(small_zip)["users"]
    roles = [r for r in _files(small_zip)["roles"] if r["userSourcedId"] == an.education_id]
    assert len(roles) == 1 and roles[0]["endDate"] == ""  # still enrolled: the role is open
    assert roles[0]["roleType"] == "primary"
    # A teacher posted at two schools: one primary role, one secondary, across chunk borders.
    lan = StaffAssignment.objects.get(staff_code="GV201")
    StaffAssignment.objects.create(
        person=lan.person, school=first.school, role="teacher", qualification="bachelor",
        contract_type="visiting", staff_code="GV202", starts_on=date(2024, 9, 1),
        province_code="01",
    )  # fmt: skip
    (tmp_path / "t").mkdir()
    out, _ = _export(tmp_path / "t", accounts["department"], org="SGD01", chunk_rows=1)
    types = [
        r["roleType"] for r in _files(out)["roles"] if r["userSourcedId"] == lan.person.education_id
    ]
    assert sorted(types) == ["primary", "secondary"]


def test_export_query_count_does_not_grow_with_rows(tmp_path, accounts):
    """Set-wise reads: one school or a province, the same number of SQL statements."""
    with CaptureQueriesContext(connection) as one_school:
        _export(tmp_path, accounts["ministry"], org="01000101")
    with CaptureQueriesContext(connection) as province:
        _export(tmp_path, accounts["ministry"], org="SGD01")
    assert len(province.captured_queries) == len(one_school.captured_queries)


# -- round trip --------------------------------------------------------------------------------


@pytest.mark.parametrize("extensions", [False, True])
def test_round_trip_reimport_changes_nothing(tmp_path, accounts, extensions):
    """With or without the personal columns: what the bundle lacks is kept from the record."""
    out, _ = _export(tmp_path, accounts["school"], extensions=extensions)
    src = _unzip(out, tmp_path / "bundle")
    assert is_oneroster(src)
    files = oneroster_to_standard(src, tmp_path / "std")
    assert set(files) == {"staff", "classes", "pupils", "enrolments"}
    assert oneroster_errors(tmp_path / "std").height == 0
    result = dataset_load(directory=tmp_path / "std")
    assert result.rejected == 0, "\n".join(result.summary_lines())
    assert result.changed == 0, "\n".join(result.summary_lines())
    assert result.entities["pupils"].unchanged == 4
    assert result.entities["enrolments"].unchanged == 4
    assert result.entities["classes"].unchanged == 2


def test_round_trip_carries_the_values(tmp_path, accounts):
    out, _ = _export(tmp_path, accounts["school"], extensions=True)
    files = oneroster_to_standard(_unzip(out, tmp_path / "b"), tmp_path / "std")
    pupils = {
        r["pupil_code"]: r for r in pl.read_csv(files["pupils"], infer_schema=False).to_dicts()
    }
    an = Person.objects.get(full_name="Nguyễn Văn An")
    assert pupils["HS000"]["education_id"] == an.education_id
    assert pupils["HS000"]["full_name"] == "Nguyễn Văn An"
    assert pupils["HS000"]["birth_date"] == "2017-01-10" and pupils["HS000"]["sex"] == "M"
    assert pupils["HS001"]["policy_categories"] == "poor_household;orphan"
    assert pupils["HS000"].get("citizen_id") is None
    classes = {
        r["class_name"]: r for r in pl.read_csv(files["classes"], infer_schema=False).to_dicts()
    }
    assert classes["3A"] | {} == classes["3A"]
    assert (classes["3A"]["grade"], classes["3A"]["homeroom_staff_code"]) == ("3", "GV001")
    assert classes["3A"]["two_sessions"] == "true" and classes["4A"]["homeroom_staff_code"] is None
    enr = {
        r["pupil_code"]: r for r in pl.read_csv(files["enrolments"], infer_schema=False).to_dicts()
    }
    assert enr["HS003"]["status"] == "repeating" and enr["HS003"]["school_year"] == YEAR
    staff = {r["staff_code"]: r for r in pl.read_csv(files["staff"], infer_schema=False).to_dicts()}
    assert staff["HT001"]["role"] == "principal" and staff["GV001"]["subjects"] == "TOAN;TV"


def test_a_changed_name_updates_only_that_pupil(tmp_path, accounts):
    out, _ = _export(tmp_path, accounts["school"], extensions=True)
    src = _unzip(out, tmp_path / "b")
    an = Person.objects.get(full_name="Nguyễn Văn An")
    users = (src / "users.csv").read_text(encoding="utf-8")
    line = next(x for x in users.splitlines() if x.startswith(an.education_id))
    (src / "users.csv").write_text(users.replace(line, line.replace(",An,", ",Ân,")), "utf-8")
    oneroster_to_standard(src, tmp_path / "std")
    result = dataset_load(directory=tmp_path / "std")
    assert result.entities["pupils"].updated == 1 and result.changed == 1
    an.refresh_from_db()
    assert an.full_name == "Nguyễn Văn Ân"


def test_round_trip_into_a_fresh_registry(tmp_path, accounts):
    """Export, remove the school's year from the registry, import: the same rows come back."""
    out, _ = _export(tmp_path, accounts["school"], extensions=True)
    school = accounts["school"].scope
    before = sorted(
        Enrolment.objects.filter(school=school).values_list(
            "pupil__education_id", "pupil_code", "school_class__name", "status", "started_on"
        )
    )
    SchoolClass.objects.filter(school=school).update(homeroom_teacher=None)
    Enrolment.objects.filter(school=school).delete()
    SchoolClass.objects.filter(school=school).delete()
    oneroster_to_standard(_unzip(out, tmp_path / "b"), tmp_path / "std")
    result = dataset_load(directory=tmp_path / "std")
    assert result.rejected == 0, "\n".join(result.summary_lines())
    assert result.entities["classes"].inserted == 2
    assert result.entities["enrolments"].inserted == 4
    after = sorted(
        Enrolment.objects.filter(school=school).values_list(
            "pupil__education_id", "pupil_code", "school_class__name", "status", "started_on"
        )
    )
    assert after == before
    assert SchoolClass.objects.get(school=school, name="3A").homeroom_teacher.full_name == (
        "Phạm Thị Hoa"
    )


def _registry_state(school) -> list:
    """What a round trip must not touch, compared field by field."""
    return [
        sorted(
            Enrolment.objects.filter(school=school).values_list(
                "pupil__education_id", "pupil_code", "school_class__name", "status", "started_on",
                "ended_on", "pupil__ethnicity__code", "pupil__nationality",
                "pupil__policy_categories", "pupil__disability", "pupil__birth_province__code",
                "pupil__full_name", "pupil__family_name", "pupil__given_name",
            )
        ),
        sorted(
            StaffAssignment.objects.filter(school=school).values_list(
                "staff_code", "role", "qualification", "contract_type", "subjects", "starts_on",
                "person__ethnicity__code",
            )
        ),
        sorted(
            SchoolClass.objects.filter(school=school).values_list(
                "name", "grade", "two_sessions", "combined_grades", "homeroom_teacher__full_name"
            )
        ),
    ]  # fmt: skip


def _rows(path: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def _strip_extensions(src: Path) -> None:
    """The bundle as other software writes it: no metadata.* columns anywhere."""
    for path in src.glob("*.csv"):
        if path.name == "manifest.csv":
            continue
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
        keep = [i for i, h in enumerate(rows[0]) if not h.startswith("metadata.")]
        with open(path, "w", encoding="utf-8", newline="") as f:
            csv.writer(f, lineterminator="\r\n").writerows([[r[i] for i in keep] for r in rows])


def test_other_software_bundle_keeps_what_is_on_record(tmp_path, accounts):
    """Plain OneRoster (no metadata.vn.*): for records on file, what it lacks is kept."""
    school = accounts["school"].scope
    Person.objects.filter(full_name="Nguyễn Văn An").update(disability="vision")
    before = _registry_state(school)
    out, _ = _export(tmp_path, accounts["school"], extensions=True)
    src = _unzip(out, tmp_path / "b")
    _strip_extensions(src)
    assert b"metadata." not in b"".join(p.read_bytes() for p in src.glob("*.csv"))
    files = oneroster_to_standard(src, tmp_path / "std")
    assert oneroster_errors(tmp_path / "std").height == 0
    pupils = pl.read_csv(files["pupils"], infer_schema=False)
    assert set(pupils["ethnicity_code"]) == {"01"}  # the record's, not invented
    enr = pl.read_csv(files["enrolments"], infer_schema=False)
    assert "repeating" in set(enr["status"])  # kept, not reset to "studying"
    result = dataset_load(directory=tmp_path / "std")
    assert result.rejected == 0 and result.changed == 0, "\n".join(result.summary_lines())
    assert _registry_state(school) == before


def _as_new_records(src: Path) -> None:
    """Other software's ids: education IDs and the school's code replaced by opaque sourcedIds
    everywhere (so the bundle names no registry school and may be mapped to one)."""
    eids = sorted({r["sourcedId"] for r in _rows(src / "users.csv")})
    _as_software_school(src)
    for path in src.glob("*.csv"):
        text = path.read_text(encoding="utf-8")
        for i, eid in enumerate(eids):
            text = text.replace(eid, f"u-{i:04d}")
        path.write_text(text, encoding="utf-8")


def _as_software_school(src: Path, code: str = "01000101") -> None:
    """The school's code as a whole CSV field, replaced by software's own id."""
    import re

    field = re.compile(rf"(^|,){code}(?=,|\r?$)", re.MULTILINE)
    for path in src.glob("*.csv"):
        text = path.read_text(encoding="utf-8")
        path.write_text(field.sub(r"\1sw-school-1", text), encoding="utf-8")


def test_other_software_bundle_new_records_name_the_column_to_add(tmp_path, accounts):
    """For records not yet on file, each missing field is an error naming the OneRoster file
    and column to add; the rows that depend on them say so."""
    out, _ = _export(tmp_path, accounts["school"], extensions=True)
    src = _unzip(out, tmp_path / "b")
    _strip_extensions(src)
    _as_new_records(src)
    # One class says whether it has two sessions, so its pupils' own problems show.
    lines = (src / "classes.csv").read_text(encoding="utf-8").splitlines()
    lines = [lines[0] + ",metadata.vn.twoSessions", lines[1] + ",true", lines[2] + ","]
    (src / "classes.csv").write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    demo = (src / "demographics.csv").read_text(encoding="utf-8").splitlines()
    lonely = demo.pop(1).split(",")[0]  # a user without a demographics row
    (src / "demographics.csv").write_text("\r\n".join(demo) + "\r\n", encoding="utf-8")
    # School B has none of these codes, classes or people: everything is new there.
    files = oneroster_to_standard(src, tmp_path / "std", school_code="01000102")
    errors = oneroster_errors(tmp_path / "std")
    assert errors.height and errors["column"].str.contains(r"^\w+\.csv( › |$)").all()
    found = {(e["entity"], e["column"], e["code"]) for e in errors.to_dicts()}
    needed = "oneroster_needed_for_new"
    assert found >= {
        ("demographics.csv", "demographics.csv › metadata.vn.ethnicityCode", needed),
        ("demographics.csv", "demographics.csv › metadata.vn.nationality", needed),
        ("roles.csv", "roles.csv › metadata.vn.qualification", needed),
        ("roles.csv", "roles.csv › metadata.vn.contractType", needed),
        ("classes.csv", "classes.csv › metadata.vn.twoSessions", needed),
        ("users.csv", "users.csv › sourcedId", "oneroster_demographics_needed"),
        ("enrollments.csv", "enrollments.csv › userSourcedId", "oneroster_user_not_loaded"),
        ("enrollments.csv", "enrollments.csv › classSourcedId", "oneroster_class_not_loaded"),
    }
    # One error per cell, at the row of the file it names.
    assert errors.select("entity", "row", "column", "code").is_duplicated().sum() == 0
    users = _rows(src / "users.csv")
    row_of = {u["sourcedId"]: i for i, u in enumerate(users, start=2)}
    lonely_errors = errors.filter(pl.col("code") == "oneroster_demographics_needed")
    assert lonely_errors["row"].to_list() == [row_of[lonely]]
    assert set(files) == {"classes"}  # the one complete record; no half-records go on
    for code in {c for *_, c in found}:
        vi, en = message(code, "x")
        assert vi != code and en != code


def test_an_import_job_names_oneroster_files_rows_and_columns(tmp_path, accounts):
    """The page's causes and the error report read the OneRoster file and column, and the
    sample rows are rows of that file."""
    out, _ = _export(tmp_path, accounts["school"], extensions=True)
    src = _unzip(out, tmp_path / "b")
    _strip_extensions(src)
    _as_new_records(src)
    bundle = tmp_path / "other.zip"
    with zipfile.ZipFile(bundle, "w") as zf:
        for path in sorted(src.glob("*.csv")):
            zf.write(path, path.name)
    job = import_file(bundle, actor=None, school="01000102", dry_run=True)
    assert job.status == "succeeded" and job.rows_rejected > 0
    assert job.causes
    for cause in job.causes:
        assert cause["header"].split(" › ")[0].endswith(".csv"), cause
        assert cause["header"] in cause["message_en"] and cause["header"] in cause["message_vi"]
        rows = cause["sample_rows"]
        assert rows == sorted(set(rows)), cause  # no "2, 2, 3, 3"
    headers = {c["header"] for c in job.causes}
    assert "demographics.csv › metadata.vn.ethnicityCode" in headers
    assert not headers & set(BY_NAME["pupils"].column_names)  # no internal names


def test_round_trip_through_an_import_job_changes_nothing(tmp_path, accounts):
    """As the trial did: export by the API's function, upload the ZIP as the web page does."""
    lan = StaffAssignment.objects.get(staff_code="GV201")
    a = accounts["school"].scope
    # A teacher posted at two schools under two codes; a combined class (one grade recorded).
    StaffAssignment.objects.create(
        person=lan.person, school=a, role="teacher", qualification="master",
        contract_type="visiting", staff_code="GV202", starts_on=date(2024, 9, 1),
        province_code="01",
    )  # fmt: skip
    SchoolClass.objects.filter(school=a, name="4A").update(combined_grades=True)
    # A pupil who moved class during the year under another pupil code: two enrolments.
    an = Person.objects.get(full_name="Nguyễn Văn An")
    Enrolment.objects.create(
        pupil=an, school=a, school_year=Enrolment.objects.get(pupil=an).school_year,
        pupil_code="HS100", school_class=SchoolClass.objects.get(school=a, name="4A"),
        status="transferred_out", started_on=date(2025, 9, 5), ended_on=date(2025, 9, 20),
        province_code="01",
    )  # fmt: skip
    for actor, org in ((accounts["school"], "01000101"), (accounts["department"], "SGD01")):
        before = [_registry_state(s) for s in Organisation.objects.filter(kind="school")]
        (tmp_path / org).mkdir()
        out, _ = _export(tmp_path / org, actor, org=org)
        job = import_file(out, actor=actor, origin="web")
        assert job.status == "succeeded", job.error
        assert (job.rows_rejected, job.error_count) == (0, 0), job.causes
        assert (job.inserted, job.updated) == (0, 0), job.result
        assert job.unchanged > 0 and job.no_changes
        assert [_registry_state(s) for s in Organisation.objects.filter(kind="school")] == before


def test_engine_errors_can_be_placed_in_the_bundle(tmp_path, accounts):
    """What only the engine finds (here: scope) is restated at the OneRoster row and column."""
    out, _ = _export(tmp_path, accounts["school"])
    converted = oneroster_to_standard(_unzip(out, tmp_path / "b"), tmp_path / "std")
    files = {}  # through intake, as an import job does: rows are the converted files' rows
    for entity, path in converted.items():
        files |= intake_file(path, out_dir=tmp_path / "intake" / entity, entity=entity).files
    sink: list[pl.DataFrame] = []
    school_b = Organisation.objects.get(code="01000102")
    dataset_load(files=files, school_ids=frozenset({school_b.pk}), error_sink=sink.append,
                 dry_run=True)  # fmt: skip
    engine = pl.concat(sink, how="vertical_relaxed")
    assert set(engine["entity"]) <= {"staff", "classes", "pupils", "enrolments"}
    placed = oneroster_locate(tmp_path / "std", engine)
    assert placed.height == engine.height
    assert set(placed["entity"]) <= {f"{n}.csv" for n in m.HEADERS}
    assert placed["row"].null_count() == 0
    roles = _rows(tmp_path / "b" / "roles.csv")
    scope = placed.filter(pl.col("column") == "roles.csv › orgSourcedId")
    assert scope.height and set(scope["row"]) <= set(range(2, len(roles) + 2))


def test_a_school_cannot_import_another_schools_bundle(tmp_path, accounts):
    """A bundle naming another registry school is that school's data: refused whole, nothing
    written (mapping the bundle's school to the importer is only for software's own ids)."""
    from vnemis.exchange.imports import import_file
    from vnemis.registry.models import StaffAssignment

    out, _ = _export(tmp_path, accounts["department"], org="01000102")
    before = StaffAssignment.objects.count(), Enrolment.objects.count()
    job = import_file(out, actor=accounts["school"])
    assert job.status == "rejected"
    assert "01000102" in job.error and "chính mình" in job.error
    assert (StaffAssignment.objects.count(), Enrolment.objects.count()) == before


def test_an_import_jobs_engine_errors_point_into_the_bundle(tmp_path, accounts):
    """Through a whole import job, what only the engine finds (a class that does not exist)
    is reported at the OneRoster file and column, not at our converted files."""
    from vnemis.exchange.imports import import_file
    from vnemis.exchange.models_submissions import ReportingPeriod, Submission
    from vnemis.registry.models import SchoolYear

    out, _ = _export(tmp_path, accounts["school"])
    # The school's year is under review (submitted): only the engine knows, per row.
    period = ReportingPeriod.objects.create(
        school_year=SchoolYear.objects.get(code=YEAR), kind="start_of_year",
        as_of=date(2025, 9, 30), opens_on=date(2025, 9, 5), due_on=date(2025, 10, 30),
    )  # fmt: skip
    Submission.objects.create(school=accounts["school"].scope, period=period, status="submitted")
    job = import_file(out, actor=accounts["school"])
    errors = pl.read_parquet(job.workdir / "errors.parquet")
    assert errors.filter(pl.col("code") == "period_locked").height
    assert set(errors["entity"]) <= {f"{n}.csv" for n in m.HEADERS}
    for entity, column in errors.select("entity", "column").iter_rows():
        assert column is None or column.startswith(entity), (entity, column)


# -- names -------------------------------------------------------------------------------------


def test_family_name_is_never_empty(tmp_path, accounts):
    """OneRoster requires familyName and givenName: a one-word name, or parts that do not add
    up to the full name, still give both; a one-word name comes back as one word."""
    Person.objects.filter(full_name="Nguyễn Văn An").update(
        full_name="Xuân", family_name="", middle_name="", given_name="Xuân", name_search="xuan"
    )
    Person.objects.filter(full_name="Trần Thị Bình").update(family_name="", given_name="")
    Person.objects.filter(full_name="Lê Hoàng Cường").update(family_name="Lê Hoàng")
    out, _ = _export(tmp_path, accounts["school"])
    users = _files(out)["users"]
    assert all(u["familyName"] and u["givenName"] for u in users)
    by_full = {u["metadata.vn.fullName"]: u for u in users}
    parts = {k: (u["familyName"], u["middleName"], u["givenName"]) for k, u in by_full.items()}
    assert parts["Xuân"] == ("Xuân", "", "Xuân")
    assert parts["Trần Thị Bình"] == ("Trần", "Thị", "Bình")
    assert parts["Lê Hoàng Cường"] == ("Lê", "Hoàng", "Cường")
    assert parts["Phạm Thuý Hằng"] == ("Phạm", "Thuý", "Hằng")
    files = oneroster_to_standard(_unzip(out, tmp_path / "b"), tmp_path / "std")
    names = set(pl.read_csv(files["pupils"], infer_schema=False)["full_name"])
    assert "Xuân" in names and "Xuân Xuân" not in names
    result = dataset_load(directory=tmp_path / "std")
    assert result.rejected == 0
    xuan = Person.objects.get(full_name="Xuân")
    assert (xuan.family_name, xuan.given_name) == ("", "Xuân")
    # Another program that edits a part wins over metadata.vn.fullName.
    src = tmp_path / "b"
    _edit(src / "users.csv", ",Xuân,Xuân,", ",Xuân,Đinh,")  # givenName, familyName
    files = oneroster_to_standard(src, tmp_path / "std2")
    assert "Đinh Xuân" in set(pl.read_csv(files["pupils"], infer_schema=False)["full_name"])


# -- malformed bundles -------------------------------------------------------------------------


@pytest.fixture
def bundle(tmp_path, accounts):
    out, _ = _export(tmp_path, accounts["school"], extensions=True)
    return _unzip(out, tmp_path / "bundle")


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _refused(src: Path, tmp_path: Path) -> OneRosterError:
    with pytest.raises(OneRosterError) as err:
        oneroster_to_standard(src, tmp_path / "std")
    assert err.value.message_vi and err.value.message_en
    return err.value


def test_missing_manifest(bundle, tmp_path):
    (bundle / "manifest.csv").unlink()
    assert not is_oneroster(bundle)
    assert _refused(bundle, tmp_path).code == "oneroster_manifest_missing"


def test_wrong_version(bundle, tmp_path):
    _edit(bundle / "manifest.csv", "oneroster.version,1.2", "oneroster.version,1.1")
    err = _refused(bundle, tmp_path)
    assert err.code == "oneroster_unsupported_version" and "1.1" in err.message_en


def test_required_file_absent_or_missing(bundle, tmp_path):
    _edit(bundle / "manifest.csv", "file.users,bulk", "file.users,absent")
    assert _refused(bundle, tmp_path).code == "oneroster_file_required"
    _edit(bundle / "manifest.csv", "file.users,absent", "file.users,bulk")
    (bundle / "users.csv").unlink()
    assert _refused(bundle, tmp_path).code == "oneroster_file_missing"


def test_bad_manifest_mode(bundle, tmp_path):
    _edit(bundle / "manifest.csv", "file.orgs,bulk", "file.orgs,full")
    assert _refused(bundle, tmp_path).code == "oneroster_bad_manifest"


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        ("givenName,", "firstName,", "givenName"),  # required column missing
        ("pronouns", "pronouns,nickname", "nickname"),  # unknown column
        ("sms,phone", "sms,sms", "sms"),  # a column twice
    ],
)
def test_bad_headers(bundle, tmp_path, old, new, needle):
    _edit(bundle / "users.csv", old, new)
    err = _refused(bundle, tmp_path)
    assert err.code == "oneroster_bad_header" and needle in err.message_en


def test_empty_file_and_bad_encoding(bundle, tmp_path):
    header = (bundle / "classes.csv").read_text(encoding="utf-8").splitlines()[0]
    (bundle / "classes.csv").write_text(header + "\r\n", encoding="utf-8")
    assert _refused(bundle, tmp_path).code == "oneroster_empty_file"
    (bundle / "classes.csv").write_bytes(header.encode() + b"\r\n\xff\xfe,\x81\r\n")
    assert _refused(bundle, tmp_path).code == "oneroster_bad_file"
    (bundle / "classes.csv").write_text(header + "\r\n" + "a," * 20 + "\r\n", "utf-8")
    assert _refused(bundle, tmp_path).code == "oneroster_bad_file"  # more cells than columns


def test_row_errors_bad_date_enum_and_reference(bundle, tmp_path):
    enr = bundle / "enrollments.csv"
    lines = enr.read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace("2025-09-05", "05/09/2025")
    lines[2] = lines[2].replace(",student,", ",pupil,")
    parts = lines[3].split(",")
    parts[5] = "no-such-user"  # userSourcedId
    lines[3] = ",".join(parts)
    enr.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    _edit(bundle / "classes.csv", ",homeroom,", ",lecture,")
    oneroster_to_standard(bundle, tmp_path / "std")
    errors = oneroster_errors(tmp_path / "std")
    found = {(r["entity"], r["row"], r["column"], r["code"]) for r in errors.to_dicts()}
    enr, cls = "enrollments.csv", "classes.csv"
    assert (enr, 2, f"{enr} › beginDate", "oneroster_bad_date") in found
    assert (enr, 3, f"{enr} › role", "oneroster_bad_enum") in found
    assert (enr, 4, f"{enr} › userSourcedId", "oneroster_unknown_reference") in found
    assert (cls, 2, f"{cls} › classType", "oneroster_bad_enum") in found
    assert set(errors["severity"]) == {"error"}
    bad_date = errors.filter((pl.col("entity") == enr) & (pl.col("row") == 2))
    assert bad_date["value"].to_list() == ["05/09/2025"]


def test_duplicate_ids_and_unsupported_grade(bundle, tmp_path):
    users = bundle / "users.csv"
    lines = users.read_text(encoding="utf-8").splitlines()
    users.write_text("\r\n".join([*lines, lines[1]]) + "\r\n", encoding="utf-8")
    _edit(bundle / "classes.csv", ",03,", ",13,")
    _edit(bundle / "courses.csv", ",03,", ",13,")
    oneroster_to_standard(bundle, tmp_path / "std")
    codes = {(r["entity"], r["code"]) for r in oneroster_errors(tmp_path / "std").to_dicts()}
    assert ("users.csv", "oneroster_duplicate_id") in codes
    assert ("classes.csv", "oneroster_unsupported_grade") in codes


def test_bundle_inside_a_folder_and_school_override(bundle, tmp_path):
    nested = tmp_path / "nested"
    shutil.copytree(bundle, nested / "export")
    assert is_oneroster(nested)
    _as_software_school(nested / "export")
    files = oneroster_to_standard(nested, tmp_path / "std", school_code="01000199")
    assert set(pl.read_csv(files["pupils"], infer_schema=False)["school_code"]) == {"01000199"}


# -- command and API ---------------------------------------------------------------------------


def test_command_export_and_import(tmp_path, accounts, capsys):
    out = tmp_path / "cli.zip"
    call_command("oneroster", "export", "--org", "01000101", "--year", YEAR, "--out", str(out),
                 "--extensions", "--user", "truong_a")  # fmt: skip
    assert "users.csv" in capsys.readouterr().out and out.exists()
    with pytest.raises(CommandError):
        call_command("oneroster", "export", "--org", "48000101", "--year", YEAR,
                     "--out", str(tmp_path / "x.zip"), "--user", "truong_a")  # fmt: skip
    call_command("oneroster", "import", str(out), "--dry-run")
    text = capsys.readouterr().out
    assert "succeeded: 12 valid, 0 rejected, 0 inserted, 0 updated, 12 unchanged" in text
    call_command("oneroster", "import", str(out), "--user", "truong_a")
    assert "No changes" in capsys.readouterr().out
    # A malformed bundle: the job is rejected with the reason, nothing is written.
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(out) as src, zipfile.ZipFile(broken, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "manifest.csv":
                data = data.replace(b"oneroster.version,1.2", b"oneroster.version,1.0")
            dst.writestr(name, data)
    with pytest.raises(CommandError):
        call_command("oneroster", "import", str(broken))
    assert "OneRoster 1.2" in capsys.readouterr().out


def _bearer(user) -> dict:
    raw = api_token_create(user=user, name="t")[1]
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def test_api_export_scoped_zip(client, accounts):
    url = "/api/v1/oneroster/export"
    assert client.get(url, {"org": "01000101", "year": YEAR}).status_code == 401
    auth = _bearer(accounts["school"])
    resp = client.get(url, {"org": "01000101", "year": YEAR}, **auth)
    assert resp.status_code == 200 and resp["Content-Type"] == "application/zip"
    body = b"".join(resp.streaming_content)
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        assert "manifest.csv" in zf.namelist() and "users.csv" in zf.namelist()
    resp = client.get(url, {"org": "48000101", "year": YEAR}, **auth)
    assert resp.status_code == 404 and resp.json()["code"] == "org_not_found"
    resp = client.get(url, {"org": "01000101", "year": "1999-2000"}, **auth)
    assert resp.status_code == 404 and resp.json()["code"] == "unknown_school_year"
    dept = _bearer(accounts["department"])
    resp = client.get(url, {"org": "SGD01", "year": YEAR, "extensions": "true"}, **dept)
    assert resp.status_code == 403 and resp.json()["message_vi"]


@pytest.mark.parametrize(
    ("params", "missing"),
    [({}, ["org", "year"]), ({"org": "01000101"}, ["year"]), ({"year": YEAR, "org": " "}, ["org"])],
)
def test_api_export_without_org_or_year_says_what_to_send(client, accounts, params, missing):
    auth = _bearer(accounts["school"])
    before = AuditEntry.objects.count()
    resp = client.get("/api/v1/oneroster/export", params, **auth)
    assert resp.status_code == 422
    body = resp.json()
    assert body["code"] == "oneroster_parameters_missing"
    assert [e["field"] for e in body["errors"]] == missing
    for name in missing:
        assert name in body["message_vi"] and name in body["message_en"]
    assert "2025-2026" in body["message_vi"] and "2025-2026" in body["message_en"]
    assert "Thiếu tham số" in body["message_vi"] and "missing" in body["message_en"]
    assert AuditEntry.objects.count() == before  # nothing was exported


def test_api_import_creates_a_job(client, accounts, tmp_path):
    from vnemis.exchange.models_imports import ImportJob

    out, _ = _export(tmp_path, accounts["school"], extensions=True)
    url = "/api/v1/oneroster/import"
    auth = _bearer(accounts["school"])
    with open(out, "rb") as fh:
        resp = client.post(url, {"file": fh, "dry_run": "true"}, **auth)
    assert resp.status_code == 202, resp.content
    job = ImportJob.objects.get(pk=resp.json()["id"])
    assert job.origin == "oneroster" and job.dry_run and job.source_format == "zip"
    not_zip = io.BytesIO(b"a,b\n1,2\n")
    not_zip.name = "users.csv"
    resp = client.post(url, {"file": not_zip}, **auth)
    assert resp.status_code == 422 and resp.json()["code"] == "oneroster_not_zip"
    with open(out, "rb") as fh:
        resp = client.post(url, {"file": fh}, **_bearer(accounts["teacher"]))
    assert resp.status_code == 403
