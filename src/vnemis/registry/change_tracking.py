# ruff: noqa: S608 -- SQL is built only from this module's constant table and column names.
"""Change numbers on registry rows: the database objects that assign them, and their installer.

Every tracked row carries ``change_seq``: a global number, new on every insert and on every
update that really changes the row, in commit order. The change feed (``exchange.changes``)
reads rows with ``change_seq > cursor``; the sync API uses it as the row's version.

How the numbers are assigned (migrations ``orgs.0003_change_seq`` and
``registry.0009_change_tracking`` call :func:`change_tracking_install`):

PostgreSQL
    One sequence ``vnemis_change_seq``. The column's DEFAULT is ``nextval`` (a bulk
    ``INSERT … SELECT`` pays nothing per row beyond the default). A BEFORE UPDATE row trigger
    takes a new number only when a column other than ``updated_at``/``change_seq`` changed,
    and otherwise keeps the old one (the application can never set the number itself). A
    FOR EACH STATEMENT trigger (BEFORE INSERT/UPDATE/DELETE) takes the transaction-level
    advisory lock :data:`CHANGE_LOCK_KEY` before the statement draws any number, so writers
    that draw numbers are serialised until they commit: a transaction's numbers are all
    smaller than those of any transaction that commits after it, and a reader that has seen
    number N will never later see a smaller one commit.

    Lock order with the audit chain (``core.audit._LOCK_KEY`` = 7_310_001, this one is
    7_310_002): a write transaction takes the change lock at its first tracked statement and
    the audit lock when it appends its audit entry, which the code base does after the write
    (actions, loaders, rollover). Two transactions can only deadlock if one takes the audit lock
    first and then writes a tracked row while the other holds the change lock and waits for the
    audit lock. Rule: in one transaction, write registry rows before calling ``audit_record``
    (or call :func:`change_lock` first). Read-only audited transactions never take the change
    lock, so they are never part of such a cycle. PostgreSQL detects a cycle anyway and aborts
    one transaction (a retryable error), it cannot hang.

SQLite
    A one-row counter table ``vnemis_change_counter``. AFTER INSERT and AFTER UPDATE triggers
    bump it and write the number into the row; a third trigger puts back the old number when an
    UPDATE set ``change_seq`` without changing anything else. SQLite has one writer at a time,
    so numbers are in commit order. Trigger recursion: Django leaves ``recursive_triggers`` off,
    and every trigger's WHEN clause is false for the UPDATE the triggers themselves issue (the
    nested UPDATE changes ``change_seq`` only, to the counter's current value).

Both: AFTER DELETE triggers and AFTER UPDATE triggers on natural-key columns write a
``registry.Tombstone`` with the old natural key in exchange-standard names (resolved in the
trigger from the row and primary-key look-ups of its parents), the school the row belonged to
(for scope filtering in the feed) and its own change number.

Triggers on SQLite are lost whenever Django rebuilds a table (``ALTER`` it cannot do in place),
and column lists are read from the live table; so :func:`change_tracking_install` also runs
after every ``migrate`` (post_migrate of the registry app). It is idempotent.
"""

from dataclasses import dataclass

from django.db import connection as default_connection
from django.db.models.signals import post_migrate

from vnemis.core.change_numbers import (
    CHANGE_LOCK_KEY,
    COUNTER,
    SEQUENCE,
)

TOMBSTONES = "registry_tombstone"
# Columns whose change alone does not make a new version of the row.
UNTRACKED_COLUMNS = frozenset({"id", "change_seq", "updated_at", "created_at"})


# --- what is tracked, and the natural key of each table (for tombstones) ---------------------

ORG_CODE = "(SELECT code FROM orgs_organisation WHERE id = {r}.{col})"
YEAR_CODE = "(SELECT code FROM registry_schoolyear WHERE id = {r}.{col})"
PERSON_EID = "(SELECT education_id FROM registry_person WHERE id = {r}.{col})"
SUBJECT_CODE = "(SELECT code FROM registry_subject WHERE id = {r}.{col})"
_CLASS = "(SELECT {what} FROM registry_schoolclass WHERE id = {r}.school_class_id)"
_ENROL = "(SELECT {what} FROM registry_enrolment WHERE id = {r}.enrolment_id)"


def _via_class(what: str) -> str:
    return _CLASS.replace("{what}", what)


def _via_enrolment(what: str) -> str:
    return _ENROL.replace("{what}", what)


# The natural key of a row hanging off an enrolment (results, summaries): the enrolment's own.
ENROLMENT_KEY = (
    (
        "school_code",
        _via_enrolment("(SELECT code FROM orgs_organisation o WHERE o.id = school_id)"),
    ),
    (
        "school_year",
        _via_enrolment("(SELECT code FROM registry_schoolyear y WHERE y.id = school_year_id)"),
    ),
    ("pupil_code", _via_enrolment("pupil_code")),
    (
        "education_id",
        _via_enrolment("(SELECT education_id FROM registry_person p WHERE p.id = pupil_id)"),
    ),
)


@dataclass(frozen=True)
class Tracked:
    table: str
    entity: str  # the feed's entity name (exchange standard where one exists)
    key_columns: tuple[str, ...]  # row columns whose change is a natural-key change
    school: str  # SQL for the school (organisation) id the row belongs to; "" = none
    key: tuple[tuple[str, str], ...]  # (standard name, SQL over the row {r})


TRACKED: tuple[Tracked, ...] = (
    Tracked("orgs_organisation", "schools", ("code",), "{r}.id", (("school_code", "{r}.code"),)),
    Tracked(
        "registry_schoolclass",
        "classes",
        ("school_id", "school_year_id", "name"),
        "{r}.school_id",
        (
            ("school_code", ORG_CODE.replace("{col}", "school_id")),
            ("school_year", YEAR_CODE.replace("{col}", "school_year_id")),
            ("class_name", "{r}.name"),
        ),
    ),
    Tracked(
        "registry_person", "persons", ("education_id",), "", (("education_id", "{r}.education_id"),)
    ),
    Tracked(
        "registry_enrolment",
        "enrolments",
        ("school_id", "school_year_id", "pupil_code"),
        "{r}.school_id",
        (
            ("school_code", ORG_CODE.replace("{col}", "school_id")),
            ("school_year", YEAR_CODE.replace("{col}", "school_year_id")),
            ("pupil_code", "{r}.pupil_code"),
            ("education_id", PERSON_EID.replace("{col}", "pupil_id")),
        ),
    ),
    Tracked(
        "registry_staffassignment",
        "staff",
        ("school_id", "staff_code"),
        "{r}.school_id",
        (
            ("school_code", ORG_CODE.replace("{col}", "school_id")),
            ("staff_code", "{r}.staff_code"),
            ("education_id", PERSON_EID.replace("{col}", "person_id")),
        ),
    ),
    Tracked(
        "registry_teachingassignment",
        "teaching_assignments",
        ("school_class_id", "subject_id", "teacher_id"),
        _via_class("school_id"),
        (
            (
                "school_code",
                _via_class("(SELECT code FROM orgs_organisation o WHERE o.id = school_id)"),
            ),
            (
                "school_year",
                _via_class("(SELECT code FROM registry_schoolyear y WHERE y.id = school_year_id)"),
            ),
            ("class_name", _via_class("name")),
            ("subject_code", SUBJECT_CODE.replace("{col}", "subject_id")),
            ("teacher_education_id", PERSON_EID.replace("{col}", "teacher_id")),
        ),
    ),
    Tracked(
        "registry_subjectresult",
        "subject_results",
        ("enrolment_id", "subject_id", "period"),
        _via_enrolment("school_id"),
        (
            *ENROLMENT_KEY,
            ("subject_code", SUBJECT_CODE.replace("{col}", "subject_id")),
            ("period", "{r}.period"),
        ),
    ),
    Tracked(
        "registry_resultsummary",
        "result_summaries",
        ("enrolment_id", "period"),
        _via_enrolment("school_id"),
        (*ENROLMENT_KEY, ("period", "{r}.period")),
    ),
    Tracked(
        "registry_healthrecord",
        "health_records",
        ("person_id", "school_id", "measured_on"),
        "{r}.school_id",
        (
            ("school_code", ORG_CODE.replace("{col}", "school_id")),
            ("education_id", PERSON_EID.replace("{col}", "person_id")),
            ("measured_on", "{r}.measured_on"),
        ),
    ),
)
BY_ENTITY = {t.entity: t for t in TRACKED}
BY_TABLE = {t.table: t for t in TRACKED}


# --- SQL generation ----------------------------------------------------------------------------


def _columns(connection, table: str) -> list[str]:
    with connection.cursor() as cursor:
        return [c.name for c in connection.introspection.get_table_description(cursor, table)]


def _key_json(spec: Tracked, row: str, vendor: str) -> str:
    fn = "jsonb_build_object" if vendor == "postgresql" else "json_object"
    parts = []
    for name, sql in spec.key:
        value = sql.replace("{r}", row)
        parts.append(f"'{name}', {value}")
    return f"{fn}({', '.join(parts)})"


def _school(spec: Tracked, row: str) -> str:
    return spec.school.replace("{r}", row) if spec.school else "NULL"


def _pg_statements(spec: Tracked, columns: list[str]) -> list[str]:
    t = spec.table
    data = [c for c in columns if c not in UNTRACKED_COLUMNS]
    old = ", ".join(f"OLD.{c}" for c in data)
    new = ", ".join(f"NEW.{c}" for c in data)
    key_old = ", ".join(f"OLD.{c}" for c in spec.key_columns)
    key_new = ", ".join(f"NEW.{c}" for c in spec.key_columns)

    def tomb(reason: str) -> str:
        return (
            f"INSERT INTO {TOMBSTONES} (entity, object_id, school_id, natural_key, reason) "
            f"VALUES ('{spec.entity}', OLD.id, {_school(spec, 'OLD')}, "
            f"{_key_json(spec, 'OLD', 'postgresql')}, '{reason}');"
        )

    return [
        f"""CREATE OR REPLACE FUNCTION vnemis_cs_{t}_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF ROW({old}) IS DISTINCT FROM ROW({new}) THEN
        NEW.change_seq := nextval('{SEQUENCE}');
    ELSE
        NEW.change_seq := OLD.change_seq;
    END IF;
    RETURN NEW;
END $$""",
        f"""CREATE OR REPLACE FUNCTION vnemis_cs_{t}_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {tomb("deleted")}
    RETURN NULL;
END $$""",
        f"""CREATE OR REPLACE FUNCTION vnemis_cs_{t}_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {tomb("key_changed")}
    RETURN NULL;
END $$""",
        f"CREATE OR REPLACE TRIGGER vnemis_cs_lock BEFORE INSERT OR UPDATE OR DELETE ON {t} "
        "FOR EACH STATEMENT EXECUTE FUNCTION vnemis_change_lock()",
        f"CREATE OR REPLACE TRIGGER vnemis_cs_upd BEFORE UPDATE ON {t} "
        f"FOR EACH ROW EXECUTE FUNCTION vnemis_cs_{t}_upd()",
        f"CREATE OR REPLACE TRIGGER vnemis_cs_del AFTER DELETE ON {t} "
        f"FOR EACH ROW EXECUTE FUNCTION vnemis_cs_{t}_del()",
        f"CREATE OR REPLACE TRIGGER vnemis_cs_key AFTER UPDATE ON {t} FOR EACH ROW "
        f"WHEN (ROW({key_old}) IS DISTINCT FROM ROW({key_new})) "
        f"EXECUTE FUNCTION vnemis_cs_{t}_key()",
    ]


def _sqlite_statements(spec: Tracked, columns: list[str]) -> list[str]:
    t = spec.table
    data = [c for c in columns if c not in UNTRACKED_COLUMNS]
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in data)
    key_changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in spec.key_columns)
    bump = f"UPDATE {COUNTER} SET value = value + 1 WHERE id = 1;"
    current = f"(SELECT value FROM {COUNTER} WHERE id = 1)"

    def tomb(reason: str) -> str:
        return (
            f"INSERT INTO {TOMBSTONES} (change_seq, entity, object_id, school_id, natural_key, "
            f"reason, at) VALUES ({current}, '{spec.entity}', OLD.id, {_school(spec, 'OLD')}, "
            f"{_key_json(spec, 'OLD', 'sqlite')}, '{reason}', "
            "strftime('%Y-%m-%d %H:%M:%f', 'now'));"
        )

    names = ("ins", "upd", "keep", "del", "key")
    return [f"DROP TRIGGER IF EXISTS vnemis_cs_{t}_{n}" for n in names] + [
        # Rows inserted with a number already (bulk loaders that reserved a block with
        # change_seq_reserve) skip the per-row UPDATE; everything else inserts 0 (the default).
        f"""CREATE TRIGGER vnemis_cs_{t}_ins AFTER INSERT ON {t} WHEN NEW.change_seq = 0 BEGIN
    {bump}
    UPDATE {t} SET change_seq = {current} WHERE id = NEW.id;
END""",
        f"""CREATE TRIGGER vnemis_cs_{t}_upd AFTER UPDATE ON {t} WHEN {changed} BEGIN
    {bump}
    UPDATE {t} SET change_seq = {current} WHERE id = NEW.id;
END""",
        # An UPDATE that wrote change_seq but nothing else (an ORM save of an unchanged object)
        # keeps the row's number; the triggers' own UPDATEs write the counter's current value.
        f"""CREATE TRIGGER vnemis_cs_{t}_keep AFTER UPDATE OF change_seq ON {t}
WHEN NOT ({changed}) AND NEW.change_seq IS NOT OLD.change_seq
    AND NEW.change_seq IS NOT {current} BEGIN
    UPDATE {t} SET change_seq = OLD.change_seq WHERE id = NEW.id;
END""",
        f"""CREATE TRIGGER vnemis_cs_{t}_del AFTER DELETE ON {t} BEGIN
    {bump}
    {tomb("deleted")}
END""",
        f"""CREATE TRIGGER vnemis_cs_{t}_key AFTER UPDATE ON {t} WHEN {key_changed} BEGIN
    {bump}
    {tomb("key_changed")}
END""",
    ]


def _ready(connection) -> bool:
    tables = set(connection.introspection.table_names())
    if TOMBSTONES not in tables:
        return False
    return all(t.table in tables and "change_seq" in _columns(connection, t.table) for t in TRACKED)


def change_tracking_install(*, connection=default_connection) -> None:
    """(Re)create the sequence or counter, number unnumbered rows (SQLite), and the triggers."""
    if not _ready(connection):
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"CREATE SEQUENCE IF NOT EXISTS {SEQUENCE}")
            cursor.execute(
                "CREATE OR REPLACE FUNCTION vnemis_change_lock() RETURNS trigger "
                "LANGUAGE plpgsql AS $$ BEGIN "
                f"PERFORM pg_advisory_xact_lock({CHANGE_LOCK_KEY}); RETURN NULL; END $$"
            )
            for spec in TRACKED:
                for statement in _pg_statements(spec, _columns(connection, spec.table)):
                    cursor.execute(statement)
            return
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {COUNTER} "
            "(id integer PRIMARY KEY CHECK (id = 1), value integer NOT NULL)"
        )
        cursor.execute(f"INSERT OR IGNORE INTO {COUNTER} (id, value) VALUES (1, 0)")
        for spec in TRACKED:
            t = spec.table
            for name in ("ins", "upd", "keep", "del", "key"):
                cursor.execute(f"DROP TRIGGER IF EXISTS vnemis_cs_{t}_{name}")
            # Rows written while the triggers were absent (the migration adding the column,
            # a table rebuild): numbered by id above everything numbered so far (gaps are fine).
            cursor.execute(
                f"UPDATE {t} SET change_seq = (SELECT value FROM {COUNTER} WHERE id = 1) + id "
                "WHERE change_seq = 0"
            )
            cursor.execute(
                f"UPDATE {COUNTER} SET value = MAX(value, "
                f"(SELECT COALESCE(MAX(change_seq), 0) FROM {t})) WHERE id = 1"
            )
            for statement in _sqlite_statements(spec, _columns(connection, t)):
                cursor.execute(statement)
        cursor.execute(
            f"UPDATE {COUNTER} SET value = MAX(value, "
            f"(SELECT COALESCE(MAX(change_seq), 0) FROM {TOMBSTONES})) WHERE id = 1"
        )


def change_tracking_uninstall(*, connection=default_connection) -> None:
    """Drop the triggers (the migration's reverse)."""
    with connection.cursor() as cursor:
        for spec in TRACKED:
            t = spec.table
            if connection.vendor == "postgresql":
                for name in ("lock", "upd", "del", "key"):
                    cursor.execute(f"DROP TRIGGER IF EXISTS vnemis_cs_{name} ON {t}")
                for name in ("upd", "del", "key"):
                    cursor.execute(f"DROP FUNCTION IF EXISTS vnemis_cs_{t}_{name}()")
            else:
                for name in ("ins", "upd", "keep", "del", "key"):
                    cursor.execute(f"DROP TRIGGER IF EXISTS vnemis_cs_{t}_{name}")


def _after_migrate(sender, app_config=None, using="default", **kwargs) -> None:
    if app_config is None or app_config.label != "registry":
        return
    from django.db import connections

    change_tracking_install(connection=connections[using])


post_migrate.connect(_after_migrate, dispatch_uid="vnemis.registry.change_tracking")
