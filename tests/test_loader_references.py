"""The bulk loader's foreign-key checks (``registry.loaders_sql.Sql.target_fill``).

On PostgreSQL, when the role may set ``session_replication_role``, a ``COPY`` into a registry
table skips the per-row foreign-key triggers after checking (and ``FOR KEY SHARE``-locking) the
distinct parents of each reference column in one query. These tests hold it to what the
constraints promise: a missing parent fails the insert whole, a parent this transaction wrote
needs no check, the session setting never outlives the fill, and the change-tracking and audit
triggers still fire meanwhile. The SQLite path keeps its constraints and is held to the same
outcome.
"""

from datetime import date

import polars as pl
import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from vnemis.registry.loaders_sql import Col, Sql
from vnemis.registry.models import Enrolment, Ethnicity, Person, SchoolClass

PERSON_COLUMNS = [
    Col("id", "bigint"),
    Col("education_id", "text"),
    Col("full_name", "text"),
    Col("family_name", "text"),
    Col("middle_name", "text"),
    Col("given_name", "text"),
    Col("name_search", "text"),
    Col("birth_date", "date"),
    Col("sex", "text"),
    Col("ethnicity_id", "bigint"),
    Col("nationality", "text"),
    Col("birth_place", "text"),
    Col("permanent_address", "text"),
    Col("policy_categories", "text"),
    Col("disability", "text"),
    Col("citizen_id_index", "text"),
    Col("citizen_id_last3", "text"),
    Col("province_code", "text"),
    Col("version", "integer"),
    Col("created_at", "timestamptz"),
    Col("updated_at", "timestamptz"),
]
ENROLMENT_COLUMNS = [
    Col("id", "bigint"),
    Col("pupil_id", "bigint"),
    Col("school_class_id", "bigint"),
    Col("school_id", "bigint"),
    Col("school_year_id", "bigint"),
    Col("pupil_code", "text"),
    Col("status", "text"),
    Col("started_on", "date"),
    Col("province_code", "text"),
    Col("created_at", "timestamptz"),
    Col("updated_at", "timestamptz"),
]


def _persons(sql: Sql, n: int, *, ethnicity_id: int) -> pl.DataFrame:
    ids = sql.next_ids("registry_person", n)
    return pl.DataFrame(
        {
            "id": ids,
            "education_id": [f"01259{i:07d}" for i in range(n)],
            "full_name": [f"Nguyễn Văn An{i}" for i in range(n)],
            "family_name": ["Nguyễn"] * n,
            "middle_name": ["Văn"] * n,
            "given_name": [f"An{i}" for i in range(n)],
            "name_search": [f"nguyen van an{i}" for i in range(n)],
            "birth_date": [date(2017, 1, 1)] * n,
            "sex": ["M"] * n,
            "ethnicity_id": [ethnicity_id] * n,
            "nationality": ["VN"] * n,
            "birth_place": [""] * n,
            "permanent_address": [""] * n,
            "policy_categories": ["[]"] * n,
            "disability": [""] * n,
            "citizen_id_index": [""] * n,
            "citizen_id_last3": [""] * n,
            "province_code": ["01"] * n,
            "version": [1] * n,
            "created_at": ["2026-12-02 10:00:00+00:00"] * n,
            "updated_at": ["2026-12-02 10:00:00+00:00"] * n,
        }
    )


def _enrolments(sql: Sql, pupils: list[int], school_class: SchoolClass) -> pl.DataFrame:
    n = len(pupils)
    return pl.DataFrame(
        {
            "id": sql.next_ids("registry_enrolment", n),
            "pupil_id": pupils,
            "school_class_id": [school_class.id] * n,
            "school_id": [school_class.school_id] * n,
            "school_year_id": [school_class.school_year_id] * n,
            "pupil_code": [f"HS{i:04d}" for i in range(n)],
            "status": ["studying"] * n,
            "started_on": [date(2025, 9, 5)] * n,
            "province_code": ["01"] * n,
            "created_at": ["2026-12-02 10:00:00+00:00"] * n,
            "updated_at": ["2026-12-02 10:00:00+00:00"] * n,
        }
    )


@pytest.fixture
def school_class(tree, school_year):
    return SchoolClass.objects.create(
        school=tree["a"], school_year=school_year, grade=3, name="3A", province_code="01"
    )


def _replica_setting() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW session_replication_role")
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_new_rows_with_present_parents_are_written_and_numbered(school_class):
    kinh = Ethnicity.objects.get(code="01")
    before = Person.objects.count()
    with transaction.atomic():
        sql = Sql()
        persons = _persons(sql, 3, ethnicity_id=kinh.id)
        sql.target_fill("registry_person", PERSON_COLUMNS, persons)
        enrolments = _enrolments(sql, persons["id"].to_list(), school_class)
        sql.target_fill("registry_enrolment", ENROLMENT_COLUMNS, enrolments)
        if connection.vendor == "postgresql":
            assert _replica_setting() == "origin"  # never outlives the fill
    assert Person.objects.count() == before + 3
    rows = list(Enrolment.objects.filter(school_class=school_class).values_list("change_seq"))
    assert len(rows) == 3
    assert all(seq > 0 for (seq,) in rows)  # change numbers drawn as for any insert
    assert len({seq for (seq,) in rows}) == 3


@pytest.mark.django_db
@pytest.mark.parametrize("missing", ["ethnicity", "school_class", "pupil"])
def test_a_missing_parent_fails_the_fill_and_writes_nothing(school_class, missing):
    if connection.vendor != "postgresql":
        # SQLite checks its (deferred) constraints at the outer commit, which a test inside a
        # rolled-back transaction never reaches; the loader's tests cover that path.
        pytest.skip("PostgreSQL only: the set-wise check")
    kinh = Ethnicity.objects.get(code="01")
    persons_before, enrolments_before = Person.objects.count(), Enrolment.objects.count()
    with pytest.raises(IntegrityError), transaction.atomic():
        sql = Sql()
        ethnicity_id = 999_999 if missing == "ethnicity" else kinh.id
        persons = _persons(sql, 2, ethnicity_id=ethnicity_id)
        sql.target_fill("registry_person", PERSON_COLUMNS, persons)
        pupils = persons["id"].to_list()
        if missing == "pupil":
            pupils[1] = 888_888_888
        enrolments = _enrolments(sql, pupils, school_class)
        if missing == "school_class":
            enrolments = enrolments.with_columns(pl.lit(777_777, pl.Int64).alias("school_class_id"))
        sql.target_fill("registry_enrolment", ENROLMENT_COLUMNS, enrolments)
    # Refused before the COPY: nothing of the savepoint stays.
    assert Person.objects.count() == persons_before
    assert Enrolment.objects.count() == enrolments_before


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_parents_are_locked_against_deletion_until_commit(audit_log_flushable, school_class):
    """The set-wise check takes FOR KEY SHARE, like the constraint's own per-row check: a
    concurrent DELETE of a referenced class waits instead of leaving orphans."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has one writer")
    import psycopg

    settings = connection.settings_dict
    dsn = f"host={settings['HOST'] or '127.0.0.1'} port={settings['PORT'] or 5432} "
    dsn += f"dbname={settings['NAME']} user={settings['USER']}"
    kinh = Ethnicity.objects.get(code="01")
    with transaction.atomic():
        sql = Sql()
        persons = _persons(sql, 1, ethnicity_id=kinh.id)
        sql.target_fill("registry_person", PERSON_COLUMNS, persons)
        sql.target_fill(
            "registry_enrolment",
            ENROLMENT_COLUMNS,
            _enrolments(sql, persons["id"].to_list(), school_class),
        )
        with psycopg.connect(dsn, autocommit=True) as other:
            other.execute("SET lock_timeout = '300ms'")
            with pytest.raises(psycopg.errors.LockNotAvailable):
                other.execute("DELETE FROM registry_schoolclass WHERE id = %s", [school_class.id])
    assert Enrolment.objects.filter(school_class=school_class).count() == 1


@pytest.mark.django_db
def test_written_columns_are_not_checked_again(school_class):
    """A column the caller declares written by this transaction is trusted (its parents are
    the rows just inserted); every other reference column is still checked."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: SQLite always checks with its constraints")
    kinh = Ethnicity.objects.get(code="01")
    with transaction.atomic():
        sql = Sql()
        persons = _persons(sql, 2, ethnicity_id=kinh.id)
        sql.target_fill("registry_person", PERSON_COLUMNS, persons)
        enrolments = _enrolments(sql, persons["id"].to_list(), school_class)

        # Sql speaks to the DB-API connection directly; count its statements there.
        raw_execute = sql.fetchall
        seen: list[str] = []
        sql.fetchall = lambda text, params=(): seen.append(text) or raw_execute(text, params)
        sql.target_fill("registry_enrolment", ENROLMENT_COLUMNS, enrolments, written=("pupil_id",))
        checked = [s for s in seen if "FOR KEY SHARE" in s]
        parents = {s.split(" FROM ")[2].split(" ")[0] for s in checked}
        assert parents == {"registry_schoolclass", "orgs_organisation", "registry_schoolyear"}
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_without_the_privilege_the_constraints_check_every_row(school_class):
    """A role that may not set session_replication_role copies with the constraints on."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # deferred ones would wait for commit
    with pytest.raises(IntegrityError), transaction.atomic():
        sql = Sql()
        sql._may_skip_checks = False
        persons = _persons(sql, 2, ethnicity_id=999_999)
        sql.target_fill("registry_person", PERSON_COLUMNS, persons)
    assert not Person.objects.filter(ethnicity_id=999_999).exists()


@pytest.mark.django_db
def test_the_fill_holds_the_change_number_lock(school_class):
    """Replica mode also skips the statement trigger that orders change numbers by commit;
    the fill takes that lock itself, so the change feed's order holds."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: session_replication_role")
    from vnemis.core.change_numbers import CHANGE_LOCK_KEY

    kinh = Ethnicity.objects.get(code="01")
    with transaction.atomic():
        sql = Sql()
        sql.target_fill("registry_person", PERSON_COLUMNS, _persons(sql, 2, ethnicity_id=kinh.id))
        held = sql.fetchall(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s "
            "AND pid = pg_backend_pid() AND granted",
            [CHANGE_LOCK_KEY],
        )[0][0]
        assert held == 1
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_audit_log_stays_append_only_in_replica_mode(users):
    """No session setting switches the audit log's append-only triggers off."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: session_replication_role")
    from vnemis.core.audit import audit_record
    from vnemis.core.models import AuditEntry

    audit_record(actor=users["school"], action="read", object_type="person", object_id=1)
    entry = AuditEntry.objects.order_by("-id").first()
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("UPDATE core_auditentry SET action = 'x' WHERE id = %s", [entry.id])
