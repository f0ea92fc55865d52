"""Shared fixtures: a small organisation tree, one user per role, a few pupils and staff."""

import importlib
from datetime import date

import pytest
from django.db import connection

from vnemis.geo.models import Commune, Province
from vnemis.orgs.actions import organisation_create
from vnemis.orgs.models import Organisation, User
from vnemis.registry import actions as registry_actions
from vnemis.registry.models import Ethnicity, SchoolYear, StaffAssignment


@pytest.fixture
def geo(db):
    hn = Province.objects.create(
        code="01", name="Thành phố Hà Nội", division_type="thành phố trung ương"
    )
    dn = Province.objects.create(
        code="48", name="Thành phố Đà Nẵng", division_type="thành phố trung ương"
    )
    return {
        "hn": hn,
        "dn": dn,
        "hn_ward": Commune.objects.create(
            code="00004", name="Phường Ba Đình", kind="phuong", province=hn
        ),
        "hn_commune": Commune.objects.create(
            code="09619", name="Xã Sóc Sơn", kind="xa", province=hn
        ),
        "dn_ward": Commune.objects.create(
            code="20194", name="Phường Hải Châu", kind="phuong", province=dn
        ),
    }


@pytest.fixture
def tree(geo):
    """Ministry → two Departments → one or two schools each."""
    moet = organisation_create(code="BGDDT", name="Bộ Giáo dục và Đào tạo", kind="ministry")
    so_hn = organisation_create(
        code="SGD01", name="Sở GD&ĐT Hà Nội", kind="department", parent=moet, province=geo["hn"]
    )
    so_dn = organisation_create(
        code="SGD48", name="Sở GD&ĐT Đà Nẵng", kind="department", parent=moet, province=geo["dn"]
    )
    common = {"kind": "school", "ownership": "public", "opened_on": date(1990, 9, 1)}
    school_a = organisation_create(
        code="01000101",
        name="Trường Tiểu học Ba Đình",
        level="primary",
        parent=so_hn,
        province=geo["hn"],
        commune=geo["hn_ward"],
        **common,
    )
    school_b = organisation_create(
        code="01000102",
        name="Trường THCS Sóc Sơn",
        level="lower_secondary",
        parent=so_hn,
        province=geo["hn"],
        commune=geo["hn_commune"],
        **common,
    )
    school_c = organisation_create(
        code="48000101",
        name="Trường Tiểu học Hải Châu",
        level="primary",
        parent=so_dn,
        province=geo["dn"],
        commune=geo["dn_ward"],
        **common,
    )
    return {
        "moet": moet,
        "so_hn": so_hn,
        "so_dn": so_dn,
        "a": school_a,
        "b": school_b,
        "c": school_c,
    }


@pytest.fixture
def school_year(db):
    return SchoolYear.objects.create(
        code="2025-2026",
        start_year=2025,
        starts_on=date(2025, 9, 5),
        ends_on=date(2026, 5, 31),
        is_current=True,
    )


def make_pupil(
    *,
    school: Organisation,
    school_year,
    grade: int,
    class_name: str,
    full_name: str,
    birth_date: date,
    sex: str = "M",
    citizen_id: str = "",
    pupil_code: str = "",
):
    """Create (or reuse) the class and enrol a new pupil in it through the registry actions."""
    school_class = registry_actions.school_class_get_or_create(
        school=school, school_year=school_year, grade=grade, name=class_name
    )
    person = registry_actions.person_create(
        actor=None,
        full_name=full_name,
        birth_date=birth_date,
        sex=sex,
        ethnicity=Ethnicity.objects.get(code="01"),
        province_code=school.province.code,
        citizen_id=citizen_id,
    )
    registry_actions.enrolment_create(
        actor=None,
        pupil=person,
        school_class=school_class,
        started_on=school_year.starts_on,
        pupil_code=pupil_code,
    )
    return person


@pytest.fixture
def pupils(tree, school_year):
    return {
        "an": make_pupil(
            school=tree["a"],
            school_year=school_year,
            grade=3,
            class_name="3A",
            full_name="Nguyễn Văn An",
            birth_date=date(2017, 3, 14),
            citizen_id="001217001234",
        ),
        "binh": make_pupil(
            school=tree["b"],
            school_year=school_year,
            grade=7,
            class_name="7B",
            full_name="Trần Thị Bình",
            birth_date=date(2013, 6, 2),
            sex="F",
        ),
        "cuong": make_pupil(
            school=tree["c"],
            school_year=school_year,
            grade=3,
            class_name="3A",
            full_name="Lê Văn Cường",
            birth_date=date(2017, 1, 20),
        ),
    }


@pytest.fixture
def binh_again(tree, school_year, pupils):
    """Bình registered a second time, in class 7C of school B: two records of one pupil."""
    return make_pupil(
        school=tree["b"],
        school_year=school_year,
        grade=7,
        class_name="7C",
        full_name="Tran Thi Binh",
        birth_date=date(2013, 6, 2),
        sex="F",
    )


@pytest.fixture
def users(tree, pupils, school_year):
    """One user per role; the teacher teaches class 3A of school A."""
    teacher_person = registry_actions.person_create(
        actor=None,
        full_name="Phạm Thị Hoa",
        birth_date=date(1985, 4, 4),
        sex="F",
        ethnicity=Ethnicity.objects.get(code="01"),
        province_code="01",
    )
    cls = registry_actions.school_class_get_or_create(
        school=tree["a"], school_year=school_year, grade=3, name="3A"
    )
    cls.homeroom_teacher = teacher_person
    cls.save()
    StaffAssignment.objects.create(
        person=teacher_person,
        school=tree["a"],
        role="teacher",
        subjects=["TV", "TOAN"],
        qualification="bachelor",
        contract_type="permanent",
        starts_on=date(2010, 9, 1),
        province_code="01",
    )
    make = User.objects.create_user
    return {
        "ministry": make("bo", password="pw", role="ministry", scope=tree["moet"]),
        "department": make("so_hn", password="pw", role="department", scope=tree["so_hn"]),
        "department_dn": make("so_dn", password="pw", role="department", scope=tree["so_dn"]),
        "school": make("truong_a", password="pw", role="school", scope=tree["a"]),
        "school_c": make("truong_c", password="pw", role="school", scope=tree["c"]),
        "teacher": make(
            "gv_hoa", password="pw", role="teacher", scope=tree["a"], person=teacher_person
        ),
        "citizen": make("cd_an", password="pw", role="citizen", person=pupils["an"]),
        "system": make("he_thong", password="pw", role="system", scope=tree["a"]),
    }


@pytest.fixture(scope="module")
def audit_log_flushable(django_db_setup, django_db_blocker):
    """Let the flush after each transactional (or live-server) test empty the audit log.

    Such tests cannot run inside a rolled-back transaction; the flush that cleans up after them
    deletes (SQLite) or truncates (PostgreSQL) every table, which the audit log's append-only
    triggers refuse. The triggers are dropped for the module and recreated with the project's
    own migrations once it is done (module scope: the recreation comes after the last flush).
    """
    append_only = importlib.import_module("vnemis.core.migrations.0003_audit_append_only")
    always = importlib.import_module("vnemis.core.migrations.0005_audit_triggers_always")
    postgres = connection.vendor == "postgresql"
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        for sql in append_only.POSTGRES_REVERSE if postgres else append_only.SQLITE_REVERSE:
            cursor.execute(sql)
    yield
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        for sql in append_only.POSTGRES if postgres else append_only.SQLITE:
            cursor.execute(sql)
        if postgres:
            for name in always.TRIGGERS:
                cursor.execute(f"ALTER TABLE core_auditentry ENABLE ALWAYS TRIGGER {name}")


@pytest.fixture
def page(monkeypatch):
    """A Chromium page (1280 × 900, Vietnamese, Hanoi time), or a loud skip without Chromium."""
    from pathlib import Path

    from browser_support import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS

    if not Path(CHROMIUM).exists():
        pytest.skip(
            f"BROWSER TESTS SKIPPED: {CHROMIUM} is missing. Install Debian's Chromium "
            "(`make browser` or `apt-get install -y chromium`); never `playwright install`."
        )
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API runs an event loop in this thread; the ORM calls made by fixtures
    # and teardown in the same thread are still synchronous and safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport={"width": 1280, "height": 900},
            locale="vi-VN",
            timezone_id="Asia/Ho_Chi_Minh",
            accept_downloads=True,
        )
        context.set_default_timeout(20_000)
        yield context.new_page()
        context.close()
        browser.close()
