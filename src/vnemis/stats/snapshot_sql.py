# ruff: noqa: S608 -- SQL is built only from this module's constant fragments; values are bound.
"""The snapshot's datasets: their Parquet schemas (docs/stats.md) and the SQL that reads them.

One ``SELECT`` per partition (a school year and a province), set-wise over the registry tables,
portable between SQLite and PostgreSQL (the two differences, the year of a date and JSON, are
in :func:`year_of`). The *dirty* queries say which partitions changed since a change number:
each returns ``(start_year, province, max change_seq)`` for the rows above the number, through
every table whose columns the dataset copies (an enrolment row carries the pupil's sex and the
school's ownership, so a changed pupil or school dirties its enrolments' partitions too).

No direct identifier is ever selected: no name, citizen ID, education ID, address or birth date
(only the birth year).
"""

import pyarrow as pa

# --- schemas (the contract) --------------------------------------------------------------------

ID = pa.int64()
SMALL = pa.int16()
STR = pa.string()
DATE = pa.date32()
FLOAT = pa.float64()
BOOL = pa.bool_()

SCHEMAS: dict[str, pa.Schema] = {
    "enrolments": pa.schema(
        [
            ("enrolment_id", ID),
            ("person_id", ID),
            ("school_id", ID),
            ("class_id", ID),
            ("grade", SMALL),
            ("level", STR),
            ("status", STR),
            ("started_on", DATE),
            ("ended_on", DATE),
            ("outcome", STR),
            ("sex", STR),
            ("birth_year", SMALL),
            ("ethnicity", STR),
            ("disability", STR),
            ("ownership", STR),
            ("urban_rural", STR),
        ]
    ),
    "classes": pa.schema(
        [
            ("class_id", ID),
            ("school_id", ID),
            ("grade", SMALL),
            ("level", STR),
            ("two_sessions", BOOL),
            ("combined_grades", BOOL),
        ]
    ),
    "staff": pa.schema(
        [
            ("assignment_id", ID),
            ("person_id", ID),
            ("school_id", ID),
            ("role", STR),
            ("level", STR),
            ("subjects", pa.list_(STR)),
            ("qualification", STR),
            ("contract_type", STR),
            ("sex", STR),
            ("birth_year", SMALL),
            ("ethnicity", STR),
            ("ownership", STR),
            ("urban_rural", STR),
        ]
    ),
    "results": pa.schema(
        [
            ("enrolment_id", ID),
            ("school_id", ID),
            ("subject", STR),
            ("period", STR),
            ("score", FLOAT),
            ("rating", STR),
        ]
    ),
    "health": pa.schema(
        [
            ("person_id", ID),
            ("school_id", ID),
            ("measured_on", DATE),
            ("height_cm", FLOAT),
            ("weight_kg", FLOAT),
            ("bmi", FLOAT),
            ("eyesight_left", SMALL),
            ("eyesight_right", SMALL),
        ]
    ),
    "persons": pa.schema(
        [
            ("person_id", ID),
            ("birth_year", SMALL),
            ("sex", STR),
            ("ethnicity", STR),
            ("disability", STR),
            ("verification_status", STR),
        ]
    ),
    "schools": pa.schema(
        [
            ("school_id", ID),
            ("code", STR),
            ("name", STR),
            ("province", STR),
            ("commune_code", STR),
            ("level", STR),
            ("ownership", STR),
            ("urban_rural", STR),
            ("status", STR),
        ]
    ),
    "population": pa.schema(
        [("year", SMALL), ("province", STR), ("age", SMALL), ("sex", STR), ("count", ID)]
    ),
    # One row per school and reporting period (exchange app): for completeness and timeliness.
    "submissions": pa.schema(
        [
            ("school_id", ID),
            ("province", STR),
            ("school_year", SMALL),
            ("period", STR),
            ("status", STR),
            ("submitted_on", DATE),
            ("due_on", DATE),
        ]
    ),
}
# Partitioned by school year and province; ``persons`` by province only; the rest single files.
BY_YEAR = ("enrolments", "classes", "staff", "results", "health")
BY_PROVINCE = ("persons",)
SINGLE = ("schools", "population", "submissions")
PARTITIONED = BY_YEAR + BY_PROVINCE

LEVELS = ("preschool", "primary", "lower_secondary", "upper_secondary")
SCHOOL_KINDS = ("school", "university", "college")


def year_of(column: str, vendor: str) -> str:
    """SQL for the calendar year of a DATE column, as an integer."""
    if vendor == "postgresql":
        return f"CAST(EXTRACT(YEAR FROM {column}) AS INTEGER)"
    return f"CAST(strftime('%%Y', {column}) AS INTEGER)"


LEVEL_OF_GRADE = (
    "CASE WHEN {g} = 0 THEN 'preschool' WHEN {g} <= 5 THEN 'primary' "
    "WHEN {g} <= 9 THEN 'lower_secondary' ELSE 'upper_secondary' END"
)
URBAN_RURAL = (
    "CASE WHEN cm.kind IS NULL THEN 'unknown' WHEN cm.kind = 'phuong' THEN 'urban' ELSE 'rural' END"
)


def level_of_grade(column: str) -> str:
    return LEVEL_OF_GRADE.replace("{g}", column)


# --- partition reads ---------------------------------------------------------------------------
# Parameters: (province id, school year id) unless said otherwise. Rows in id order, so a file's
# content depends only on the data.


def enrolments_select(vendor: str) -> str:
    return f"""
SELECT e.id, e.pupil_id, e.school_id, e.school_class_id, c.grade, {level_of_grade("c.grade")},
       e.status, e.started_on, e.ended_on, COALESCE(rs.outcome, ''), p.sex,
       {year_of("p.birth_date", vendor)}, et.code, p.disability, o.ownership, {URBAN_RURAL}
FROM registry_enrolment e
JOIN orgs_organisation o ON o.id = e.school_id
JOIN registry_schoolclass c ON c.id = e.school_class_id
JOIN registry_person p ON p.id = e.pupil_id
JOIN registry_ethnicity et ON et.id = p.ethnicity_id
LEFT JOIN geo_commune cm ON cm.id = o.commune_id
LEFT JOIN registry_resultsummary rs ON rs.enrolment_id = e.id AND rs.period = 'year'
WHERE o.province_id = %s AND e.school_year_id = %s
ORDER BY e.id"""


def classes_select(vendor: str) -> str:
    return f"""
SELECT c.id, c.school_id, c.grade, {level_of_grade("c.grade")}, c.two_sessions, c.combined_grades
FROM registry_schoolclass c
JOIN orgs_organisation o ON o.id = c.school_id
WHERE o.province_id = %s AND c.school_year_id = %s
ORDER BY c.id"""


def staff_select(vendor: str) -> str:
    """Parameters: (province id, reference date, reference date). ``level`` is the school's
    (replaced by the level the person teaches, in Python: see ``snapshot``)."""
    return f"""
SELECT a.id, a.person_id, a.school_id, a.role, o.level, a.subjects, a.qualification,
       a.contract_type, p.sex, {year_of("p.birth_date", vendor)}, et.code, o.ownership,
       {URBAN_RURAL}
FROM registry_staffassignment a
JOIN orgs_organisation o ON o.id = a.school_id
JOIN registry_person p ON p.id = a.person_id
JOIN registry_ethnicity et ON et.id = p.ethnicity_id
LEFT JOIN geo_commune cm ON cm.id = o.commune_id
WHERE o.province_id = %s AND a.starts_on <= %s AND (a.ends_on IS NULL OR a.ends_on >= %s)
ORDER BY a.id"""


# The grades each person teaches at each school of a province in a year (for staff ``level``).
TEACHING_GRADES = """
SELECT t.teacher_id, c.school_id, c.grade, COUNT(*)
FROM registry_teachingassignment t
JOIN registry_schoolclass c ON c.id = t.school_class_id
JOIN orgs_organisation o ON o.id = c.school_id
WHERE o.province_id = %s AND c.school_year_id = %s
GROUP BY t.teacher_id, c.school_id, c.grade"""

# The grades of each school's classes in a year (staff ``level`` of a multi-level school).
SCHOOL_GRADES = """
SELECT c.school_id, c.grade, COUNT(*)
FROM registry_schoolclass c
JOIN orgs_organisation o ON o.id = c.school_id
WHERE o.province_id = %s AND c.school_year_id = %s
GROUP BY c.school_id, c.grade"""


def results_select(vendor: str) -> str:
    return """
SELECT r.enrolment_id, e.school_id, s.code, r.period, CAST(r.score AS DOUBLE PRECISION), r.rating
FROM registry_subjectresult r
JOIN registry_enrolment e ON e.id = r.enrolment_id
JOIN orgs_organisation o ON o.id = e.school_id
JOIN registry_subject s ON s.id = r.subject_id
WHERE o.province_id = %s AND e.school_year_id = %s
ORDER BY r.id"""


def health_select(vendor: str) -> str:
    """Parameters: (province id, province code, from date, before date)."""
    return """
SELECT h.person_id, h.school_id, h.measured_on, CAST(h.height_cm AS DOUBLE PRECISION),
       CAST(h.weight_kg AS DOUBLE PRECISION), CAST(h.bmi AS DOUBLE PRECISION),
       h.eyesight_left, h.eyesight_right
FROM registry_healthrecord h
LEFT JOIN orgs_organisation o ON o.id = h.school_id
WHERE (o.province_id = %s OR (h.school_id IS NULL AND h.province_code = %s))
  AND h.measured_on >= %s AND h.measured_on < %s
ORDER BY h.id"""


def persons_select(vendor: str, *, with_verification: bool) -> str:
    """Parameters: (province code,)."""
    if with_verification:
        status = "COALESCE(v.status, 'unverified')"
        join = "LEFT JOIN identity_verification v ON v.person_id = p.id"
    else:
        status, join = "'unverified'", ""
    return f"""
SELECT p.id, {year_of("p.birth_date", vendor)}, p.sex, et.code, p.disability, {status}
FROM registry_person p
JOIN registry_ethnicity et ON et.id = p.ethnicity_id
{join}
WHERE p.province_code = %s
ORDER BY p.id"""


def schools_select(vendor: str) -> str:
    kinds = ", ".join(f"'{k}'" for k in SCHOOL_KINDS)
    return f"""
SELECT o.id, o.code, o.name, pr.code, cm.code, o.level, o.ownership, {URBAN_RURAL}, o.status
FROM orgs_organisation o
LEFT JOIN geo_province pr ON pr.id = o.province_id
LEFT JOIN geo_commune cm ON cm.id = o.commune_id
WHERE o.kind IN ({kinds})
ORDER BY o.id"""


POPULATION_SELECT = """
SELECT year, province_code, age, sex, count FROM stats_populationestimate
ORDER BY year, province_code, age, sex"""


def submissions_select(vendor: str) -> str:
    # The local (Asia/Ho_Chi_Minh) date of the last submission, compared with the due date.
    if vendor == "postgresql":
        local = "CAST((s.submitted_at AT TIME ZONE 'Asia/Ho_Chi_Minh') AS DATE)"
    else:
        local = "date(s.submitted_at, '+7 hours')"
    return f"""
SELECT s.school_id, pr.code, y.start_year, p.kind, s.status, {local}, p.due_on
FROM exchange_submission s
JOIN exchange_reportingperiod p ON p.id = s.period_id
JOIN registry_schoolyear y ON y.id = p.school_year_id
JOIN orgs_organisation o ON o.id = s.school_id
LEFT JOIN geo_province pr ON pr.id = o.province_id
ORDER BY s.id"""


# The column each dataset's files are bucketed and merged by (``snapshot_files``), and how the
# dataset's SELECT reads it.
KEY_COLUMN = {
    "enrolments": "school_id",
    "classes": "school_id",
    "staff": "school_id",
    "results": "school_id",
    "health": "school_id",
    "persons": "person_id",
}
KEY_SQL = {
    "enrolments": "e.school_id",
    "classes": "c.school_id",
    "staff": "a.school_id",
    "results": "e.school_id",
    "health": "h.school_id",
    "persons": "p.id",
}


def keyed(sql: str, dataset: str, count: int) -> str:
    """A partition's SELECT limited to the rows of ``count`` keys (parameters after the others)."""
    head, order = sql.rsplit("\nORDER BY", 1)
    marks = ", ".join(["%s"] * count)
    return f"{head}\n  AND {KEY_SQL[dataset]} IN ({marks})\nORDER BY{order}"


SELECTS = {
    "enrolments": enrolments_select,
    "classes": classes_select,
    "staff": staff_select,
    "results": results_select,
    "health": health_select,
}


# --- what changed ------------------------------------------------------------------------------
# Each query takes one parameter, the change number, and returns (start_year, province code,
# key, max change_seq), the key being the school (the person, for persons) whose rows changed. ``{all}`` in the year column: the partition's year is every school year
# (a staff row belongs to each year whose reference date its post covers).

_YEAR_PROVINCE = """
JOIN registry_schoolyear y ON y.id = {t}.school_year_id
JOIN orgs_organisation o ON o.id = {t}.school_id
JOIN geo_province pr ON pr.id = o.province_id"""


def _via(table_alias: str) -> str:
    return _YEAR_PROVINCE.replace("{t}", table_alias)


ENROLMENT_DIRTY = [
    # the enrolment rows themselves
    f"SELECT y.start_year, pr.code, e.school_id, MAX(e.change_seq) FROM registry_enrolment e "
    f"{_via('e')} WHERE e.change_seq > %s GROUP BY y.start_year, pr.code, e.school_id",
    # their class (grade)
    f"SELECT y.start_year, pr.code, c.school_id, MAX(c.change_seq) FROM registry_schoolclass c "
    f"{_via('c')} WHERE c.change_seq > %s GROUP BY y.start_year, pr.code, c.school_id",
    # the pupil (sex, birth year, ethnicity, disability)
    "SELECT y.start_year, pr.code, e.school_id, MAX(p.change_seq) FROM registry_person p "
    f"JOIN registry_enrolment e ON e.pupil_id = p.id {_via('e')} "
    "WHERE p.change_seq > %s GROUP BY y.start_year, pr.code, e.school_id",
    # the year's outcome
    "SELECT y.start_year, pr.code, e.school_id, MAX(rs.change_seq) FROM registry_resultsummary rs "
    f"JOIN registry_enrolment e ON e.id = rs.enrolment_id {_via('e')} "
    "WHERE rs.change_seq > %s AND rs.period = 'year' GROUP BY y.start_year, pr.code, e.school_id",
    # the school (ownership, commune)
    "SELECT y.start_year, pr.code, s.id, MAX(s.change_seq) FROM orgs_organisation s "
    f"JOIN registry_enrolment e ON e.school_id = s.id {_via('e')} "
    "WHERE s.change_seq > %s GROUP BY y.start_year, pr.code, s.id",
]

CLASS_DIRTY = [
    f"SELECT y.start_year, pr.code, c.school_id, MAX(c.change_seq) FROM registry_schoolclass c "
    f"{_via('c')} WHERE c.change_seq > %s GROUP BY y.start_year, pr.code, c.school_id",
]

_STAFF_PROVINCE = """
JOIN orgs_organisation o ON o.id = a.school_id
JOIN geo_province pr ON pr.id = o.province_id"""

STAFF_DIRTY = [
    f"SELECT 0, pr.code, a.school_id, MAX(a.change_seq) FROM registry_staffassignment a "
    f"{_STAFF_PROVINCE} WHERE a.change_seq > %s GROUP BY pr.code, a.school_id",
    "SELECT 0, pr.code, a.school_id, MAX(p.change_seq) FROM registry_person p "
    f"JOIN registry_staffassignment a ON a.person_id = p.id {_STAFF_PROVINCE} "
    "WHERE p.change_seq > %s GROUP BY pr.code, a.school_id",
    "SELECT 0, pr.code, s.id, MAX(s.change_seq) FROM orgs_organisation s "
    f"JOIN registry_staffassignment a ON a.school_id = s.id {_STAFF_PROVINCE} "
    "WHERE s.change_seq > %s GROUP BY pr.code, s.id",
    # teaching (the level a person teaches), in its class's year only
    "SELECT y.start_year, pr.code, c.school_id, MAX(t.change_seq) FROM registry_teachingassignment t "
    f"JOIN registry_schoolclass c ON c.id = t.school_class_id {_via('c')} "
    "WHERE t.change_seq > %s GROUP BY y.start_year, pr.code, c.school_id",
]

RESULT_DIRTY = [
    "SELECT y.start_year, pr.code, e.school_id, MAX(r.change_seq) FROM registry_subjectresult r "
    f"JOIN registry_enrolment e ON e.id = r.enrolment_id {_via('e')} "
    "WHERE r.change_seq > %s GROUP BY y.start_year, pr.code, e.school_id",
    # an enrolment moved to another school moves its results
    f"SELECT y.start_year, pr.code, e.school_id, MAX(e.change_seq) FROM registry_enrolment e "
    f"{_via('e')} WHERE e.change_seq > %s GROUP BY y.start_year, pr.code, e.school_id",
]

# Health rows' year comes from the measurement date (mapped in Python): (date, province, seq).
HEALTH_DIRTY_DATES = """
SELECT h.measured_on, COALESCE(pr.code, h.province_code), h.school_id, MAX(h.change_seq)
FROM registry_healthrecord h
LEFT JOIN orgs_organisation o ON o.id = h.school_id
LEFT JOIN geo_province pr ON pr.id = o.province_id
WHERE h.change_seq > %s
GROUP BY h.measured_on, COALESCE(pr.code, h.province_code), h.school_id"""

PERSON_DIRTY = [
    "SELECT 0, p.province_code, p.id, p.change_seq FROM registry_person p WHERE p.change_seq > %s",
]
# Persons whose verification was checked since a moment (no change number of its own).
PERSON_VERIFIED_SINCE = """
SELECT DISTINCT p.province_code, p.id FROM identity_verification v
JOIN registry_person p ON p.id = v.person_id
WHERE v.checked_at > %s"""
# Changed persons' ids (to find the partition an earlier snapshot put them in).
PERSON_CHANGED_IDS = "SELECT id, change_seq FROM registry_person WHERE change_seq > %s"

DIRTY = {
    "enrolments": ENROLMENT_DIRTY,
    "classes": CLASS_DIRTY,
    "staff": STAFF_DIRTY,
    "results": RESULT_DIRTY,
    "persons": PERSON_DIRTY,
}
# Which tombstone entities dirty which dataset (their old partition comes from the tombstone).
TOMBSTONE_ENTITIES = {
    "enrolments": ("enrolments", "result_summaries"),
    "classes": ("classes",),
    "staff": ("staff", "teaching_assignments"),
    "results": ("subject_results", "enrolments"),
    "health": ("health_records",),
}  # persons: removed ones are found in the previous snapshot (``snapshot``)


def tombstones_select(entities: int) -> str:
    """Tombstones above a change number of some entities: (change number, *entities)."""
    placeholders = ", ".join(["%s"] * entities)
    return (
        "SELECT entity, school_id, natural_key, change_seq FROM registry_tombstone "
        f"WHERE change_seq > %s AND entity IN ({placeholders})"
    )


# Entities whose tombstones dirty every school year of the province (staff rows are by year).
ALL_YEARS_ENTITIES = {"staff"}

TRACKED_TABLES = (
    "orgs_organisation",
    "registry_schoolclass",
    "registry_person",
    "registry_enrolment",
    "registry_staffassignment",
    "registry_teachingassignment",
    "registry_subjectresult",
    "registry_resultsummary",
    "registry_healthrecord",
    "registry_tombstone",
)
HIGH_WATER = " UNION ALL ".join(
    f"SELECT MAX(change_seq) AS m FROM {table}" for table in TRACKED_TABLES
)
HIGH_WATER = f"SELECT MAX(m) FROM ({HIGH_WATER}) marks"
