# ruff: noqa: S608 -- SQL is built only from this module's constant table and column names.
"""The change feed: every change to the registry after a cursor, in commit order, in scope.

Rows carry ``change_seq`` (``registry.change_tracking``: a global number drawn in commit order);
removals and natural-key changes leave a ``registry.Tombstone``. A page is read in ONE SQL
statement (one snapshot): per tracked table ``WHERE change_seq > cursor [AND in scope] ORDER BY
change_seq LIMIT n+1`` (an index scan on each table's change_seq index), all of them merged by
``UNION ALL … ORDER BY change_seq LIMIT n+1``. Reading the tables in separate statements could
see a later commit in one table but not an earlier one in another, and skip it for ever.

The record data is read afterwards by id and is the record's current state. A record that has
changed again since the listing statement (its change_seq moved on) or has gone is left out of
this page: its newer number (or its tombstone) is after the cursor, so the client sees it on a
later page — every change once, and never an old state labelled with a newer number.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connection

from vnemis.core.audit import audit_record
from vnemis.orgs.models import User
from vnemis.orgs.scope import sensitive_person_ids
from vnemis.registry.change_tracking import BY_ENTITY, TRACKED
from vnemis.registry.selectors import list_scope

ENTITIES = tuple(t.entity for t in TRACKED)
MAX_LIMIT = 1000
DEFAULT_LIMIT = 200


class FeedRefused(Exception):
    """The caller's role does not follow the feed (teachers, citizens, no scope)."""


@dataclass
class ChangesPage:
    items: list[dict]
    last_seq: int
    has_more: bool
    counts: dict[str, int] = field(default_factory=dict)


# --- scope, as SQL over each table --------------------------------------------------------------


def _scope_sql(viewer: User) -> tuple[str | None, list]:
    """SQL for "organisation ids in scope" (None: everything), with its parameters."""
    scope = list_scope(viewer)
    if scope.kind in ("unrestricted", "national"):
        return None, []
    if scope.kind == "orgs":
        if not scope.org_ids:
            raise FeedRefused
        return ", ".join(["%s"] * len(scope.org_ids)), list(scope.org_ids)
    if scope.kind == "large":
        return "SELECT descendant_id FROM orgs_orgclosure WHERE ancestor_id = %s", [viewer.scope_id]
    raise FeedRefused


def _table_filter(entity: str, orgs: str) -> str:
    """The condition putting a row of ``entity`` in scope (``orgs``: the org-id list/sub-query)."""
    if entity == "schools":
        return f"id IN ({orgs})"
    if entity in ("classes", "enrolments", "staff", "health_records"):
        return f"school_id IN ({orgs})"
    if entity == "teaching_assignments":
        return (
            f"school_class_id IN (SELECT id FROM registry_schoolclass WHERE school_id IN ({orgs}))"
        )
    if entity in ("subject_results", "result_summaries"):
        return f"enrolment_id IN (SELECT id FROM registry_enrolment WHERE school_id IN ({orgs}))"
    # persons: reached through an enrolment or a staff post in scope (as orgs.scope)
    return (
        f"(id IN (SELECT pupil_id FROM registry_enrolment WHERE school_id IN ({orgs})) "
        f"OR id IN (SELECT person_id FROM registry_staffassignment WHERE school_id IN ({orgs})))"
    )


def _listing(*, since: int, limit: int, entities: tuple[str, ...], orgs, orgs_params):
    parts, params = [], []
    for entity in entities:
        table = BY_ENTITY[entity].table
        where, wparams = "change_seq > %s", [since]
        if orgs is not None:
            where += " AND " + _table_filter(entity, orgs)
            wparams += orgs_params * (2 if entity == "persons" else 1)
        parts.append(
            f"SELECT * FROM (SELECT '{entity}' AS entity, id AS object_id, change_seq, "
            f"0 AS tomb_id FROM {table} WHERE {where} ORDER BY change_seq LIMIT %s) AS t_{entity}"
        )
        params += [*wparams, limit + 1]
    marks = ", ".join(["%s"] * len(entities))
    where, wparams = f"change_seq > %s AND entity IN ({marks})", [since, *entities]
    if orgs is not None:
        where += f" AND school_id IN ({orgs})"
        wparams += orgs_params
    parts.append(
        "SELECT * FROM (SELECT entity, object_id, change_seq, id AS tomb_id "
        f"FROM registry_tombstone WHERE {where} ORDER BY change_seq LIMIT %s) AS t_tombstones"
    )
    params += [*wparams, limit + 1]
    sql = " UNION ALL ".join(parts) + " ORDER BY change_seq LIMIT %s"
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, limit + 1])
        return cursor.fetchall()


# --- current data, exchange-standard names ------------------------------------------------------

_ORG = "(SELECT code FROM orgs_organisation o WHERE o.id = {})"
_YEAR = "(SELECT code FROM registry_schoolyear y WHERE y.id = {})"
_PERSON = "(SELECT education_id FROM registry_person p WHERE p.id = {})"

DATA_SQL = {
    "schools": """
        SELECT t.id, t.change_seq, t.code AS school_code, t.name, t.kind, t.level, t.ownership,
               (SELECT code FROM orgs_organisation p WHERE p.id = t.parent_id) AS parent_code,
               (SELECT code FROM geo_province g WHERE g.id = t.province_id) AS province_code,
               (SELECT code FROM geo_commune c WHERE c.id = t.commune_id) AS commune_code,
               t.address, t.status, t.opened_on, t.closed_on
        FROM orgs_organisation t WHERE t.id IN ({ids})""",
    "classes": f"""
        SELECT t.id, t.change_seq, {_ORG.format("t.school_id")} AS school_code,
               {_YEAR.format("t.school_year_id")} AS school_year, t.name AS class_name, t.grade,
               (SELECT s.staff_code FROM registry_staffassignment s
                 WHERE s.person_id = t.homeroom_teacher_id AND s.school_id = t.school_id
                 ORDER BY s.ends_on IS NULL DESC, s.id DESC LIMIT 1) AS homeroom_staff_code,
               {_PERSON.format("t.homeroom_teacher_id")} AS homeroom_education_id,
               t.two_sessions, t.combined_grades
        FROM registry_schoolclass t WHERE t.id IN ({{ids}})""",
    "persons": """
        SELECT t.id, t.change_seq, t.education_id, t.full_name, t.family_name, t.middle_name,
               t.given_name, t.birth_date, t.sex,
               (SELECT code FROM registry_ethnicity e WHERE e.id = t.ethnicity_id)
                   AS ethnicity_code,
               t.nationality,
               (SELECT code FROM geo_province g WHERE g.id = t.birth_province_id)
                   AS birth_province_code,
               t.birth_place,
               (SELECT code FROM geo_commune c WHERE c.id = t.permanent_commune_id)
                   AS permanent_commune_code,
               t.permanent_address, t.policy_categories, t.disability, t.citizen_id_last3
        FROM registry_person t WHERE t.id IN ({ids})""",
    "enrolments": f"""
        SELECT t.id, t.change_seq, {_ORG.format("t.school_id")} AS school_code,
               {_YEAR.format("t.school_year_id")} AS school_year, t.pupil_code,
               {_PERSON.format("t.pupil_id")} AS education_id,
               (SELECT name FROM registry_schoolclass c WHERE c.id = t.school_class_id)
                   AS class_name,
               t.status, t.started_on, t.ended_on
        FROM registry_enrolment t WHERE t.id IN ({{ids}})""",
    "staff": f"""
        SELECT t.id, t.change_seq, {_ORG.format("t.school_id")} AS school_code, t.staff_code,
               {_PERSON.format("t.person_id")} AS education_id, t.role, t.subjects,
               t.qualification, t.contract_type, t.starts_on, t.ends_on
        FROM registry_staffassignment t WHERE t.id IN ({{ids}})""",
    "teaching_assignments": f"""
        SELECT t.id, t.change_seq, {_ORG.format("c.school_id")} AS school_code,
               {_YEAR.format("c.school_year_id")} AS school_year, c.name AS class_name,
               (SELECT code FROM registry_subject s WHERE s.id = t.subject_id) AS subject_code,
               {_PERSON.format("t.teacher_id")} AS teacher_education_id,
               (SELECT s.staff_code FROM registry_staffassignment s
                 WHERE s.person_id = t.teacher_id AND s.school_id = c.school_id
                 ORDER BY s.ends_on IS NULL DESC, s.id DESC LIMIT 1) AS staff_code
        FROM registry_teachingassignment t
        JOIN registry_schoolclass c ON c.id = t.school_class_id WHERE t.id IN ({{ids}})""",
    "subject_results": f"""
        SELECT t.id, t.change_seq, {_ORG.format("e.school_id")} AS school_code,
               {_YEAR.format("e.school_year_id")} AS school_year, e.pupil_code,
               {_PERSON.format("e.pupil_id")} AS education_id,
               (SELECT code FROM registry_subject s WHERE s.id = t.subject_id) AS subject_code,
               t.period, t.score, t.rating
        FROM registry_subjectresult t
        JOIN registry_enrolment e ON e.id = t.enrolment_id WHERE t.id IN ({{ids}})""",
    "result_summaries": f"""
        SELECT t.id, t.change_seq, {_ORG.format("e.school_id")} AS school_code,
               {_YEAR.format("e.school_year_id")} AS school_year, e.pupil_code,
               {_PERSON.format("e.pupil_id")} AS education_id, t.period, t.learning_rating,
               t.conduct_rating, t.outcome
        FROM registry_resultsummary t
        JOIN registry_enrolment e ON e.id = t.enrolment_id WHERE t.id IN ({{ids}})""",
    "health_records": f"""
        SELECT t.id, t.change_seq, {_ORG.format("t.school_id")} AS school_code,
               {_PERSON.format("t.person_id")} AS education_id, t.measured_on, t.height_cm,
               t.weight_kg, t.bmi, t.eyesight_left, t.eyesight_right, t.person_id
        FROM registry_healthrecord t WHERE t.id IN ({{ids}})""",
}

# The natural key of each entity in the feed (exchange standard; persons by education ID).
KEYS = {
    "schools": ("school_code",),
    "classes": ("school_code", "school_year", "class_name"),
    "persons": ("education_id",),
    "enrolments": ("school_code", "school_year", "pupil_code"),
    "staff": ("school_code", "staff_code"),
    "teaching_assignments": (
        "school_code",
        "school_year",
        "class_name",
        "subject_code",
        "teacher_education_id",
    ),
    "subject_results": ("school_code", "school_year", "pupil_code", "subject_code", "period"),
    "result_summaries": ("school_code", "school_year", "pupil_code", "period"),
    "health_records": ("school_code", "education_id", "measured_on"),
}
# Person fields only roles that need them may read (as the registry API's ``sensitive``).
SENSITIVE_PERSON_FIELDS = (
    "ethnicity_code",
    "disability",
    "policy_categories",
    "birth_province_code",
    "birth_place",
    "permanent_commune_code",
    "permanent_address",
)


def _plain(value):
    import datetime
    import decimal
    import json

    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, memoryview | bytes):
        return None
    if isinstance(value, str) and value[:1] in "[{" and value[-1:] in "]}":
        try:
            return json.loads(value)  # JSON columns come back as text on SQLite
        except ValueError:
            return value
    return value


def _records(entity: str, ids: list[int]) -> dict[int, dict]:
    if not ids:
        return {}
    sql = DATA_SQL[entity].replace("{ids}", ", ".join(["%s"] * len(ids)))
    with connection.cursor() as cursor:
        cursor.execute(sql, ids)
        names = [c[0] for c in cursor.description]
        return {
            row[0]: {n: _plain(v) for n, v in zip(names, row, strict=True)}
            for row in cursor.fetchall()
        }


def _data(entity: str, record: dict, sensitive: bool) -> dict | None:
    data = {k: v for k, v in record.items() if k not in ("id", "change_seq", "person_id")}
    if entity == "persons":
        last3 = data.pop("citizen_id_last3", "")
        data["citizen_id_masked"] = "*" * 9 + last3 if last3 else None
        if not sensitive:
            for name in SENSITIVE_PERSON_FIELDS:
                data[name] = None
    if entity == "classes" and isinstance(data.get("two_sessions"), int):
        data["two_sessions"] = bool(data["two_sessions"])
        data["combined_grades"] = bool(data["combined_grades"])
    if entity == "health_records" and not sensitive:
        return None  # health data: sensitive; the key and version still tell what changed
    return data


def change_seq_latest() -> int:
    """The highest change number of committed data (one index look-up per tracked table).

    Not the sequence's last value: a writer may have drawn numbers it has not committed yet,
    and a cursor past them would skip its changes when it commits."""
    tables = [t.table for t in TRACKED] + ["registry_tombstone"]
    sql = " UNION ALL ".join(f"SELECT MAX(change_seq) AS m FROM {t}" for t in tables)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MAX(m) FROM ({sql}) AS latest")
        row = cursor.fetchone()
    return int(row[0] or 0)


def _person_of(entity: str, record: dict) -> int | None:
    if entity == "persons":
        return record["id"]
    return record.get("person_id") if entity == "health_records" else None


# --- the selector -------------------------------------------------------------------------------


def changes_page(
    *, viewer: User, since: int, limit: int = DEFAULT_LIMIT, entities: tuple[str, ...] = ENTITIES
) -> ChangesPage:
    """The changes after ``since`` the viewer may see, oldest first (audited: counts only)."""
    orgs, orgs_params = _scope_sql(viewer)
    rows = _listing(since=since, limit=limit, entities=entities, orgs=orgs, orgs_params=orgs_params)
    has_more = len(rows) > limit
    rows = rows[:limit]
    last_seq = rows[-1][2] if rows else since
    tomb_ids = [r[3] for r in rows if r[3]]
    by_entity: dict[str, list[int]] = defaultdict(list)
    for entity, object_id, _seq, tomb_id in rows:
        if not tomb_id:
            by_entity[entity].append(object_id)
    records = {e: _records(e, ids) for e, ids in by_entity.items()}
    # Sensitive fields follow the person: only while they are the viewer's pupil or staff today
    # (a former pupil's old school keeps its history, not their health or ethnicity).
    people = set(records.get("persons", {}))
    people |= {r["person_id"] for r in records.get("health_records", {}).values()}
    sensitive_ids = sensitive_person_ids(viewer, people)
    tombs = {}
    if tomb_ids:
        from vnemis.registry.models import Tombstone

        tombs = {
            t["id"]: t
            for t in Tombstone.objects.filter(id__in=tomb_ids).values(
                "id", "natural_key", "reason", "at"
            )
        }
    items, counts = [], defaultdict(int)
    for entity, object_id, seq, tomb_id in rows:
        if tomb_id:
            tomb = tombs[tomb_id]
            items.append(
                {
                    "change_number": seq,
                    "entity": entity,
                    "op": "delete",
                    "key": tomb["natural_key"],
                    "version": seq,
                    "reason": tomb["reason"],
                    "data": None,
                }
            )
        else:
            record = records[entity].get(object_id)
            if record is None or record["change_seq"] != seq:
                continue  # changed again or removed since: it comes later under its new number
            items.append(
                {
                    "change_number": seq,
                    "entity": entity,
                    "op": "upsert",
                    "key": {k: record.get(k) for k in KEYS[entity]},
                    "version": seq,
                    "reason": None,
                    "data": _data(entity, record, _person_of(entity, record) in sensitive_ids),
                }
            )
        counts[entity] += 1
    if items:
        audit_record(
            actor=viewer,
            action="read",
            object_type="change_feed",
            object_id="",
            detail={"since": since, "until": last_seq, "counts": dict(counts)},
        )
    return ChangesPage(items=items, last_seq=last_seq, has_more=has_more, counts=dict(counts))
