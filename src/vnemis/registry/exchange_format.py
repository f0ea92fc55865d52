"""The registry's exchange file format, version 1: one file per entity, one row per record.

This is the first version of the data standard (the exchange issue publishes it with Vietnamese
and English headers, JSON Schema and templates). The generator writes it, the loader reads it.
A dataset is a directory holding ``<entity>.parquet`` or ``<entity>.csv`` (UTF-8, header row,
dates ISO ``yyyy-mm-dd``; lists ``;``-separated), plus ``manifest.json`` (format version, seed,
sizes). Natural keys identify records across files; internal ids never appear.
"""

from dataclasses import dataclass

FORMAT_VERSION = "v1"


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str  # "str", "int", "float", "date", "bool"
    required: bool = True


@dataclass(frozen=True)
class Entity:
    name: str
    natural_key: tuple[str, ...]
    columns: tuple[Column, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _c(name: str, dtype: str = "str", required: bool = True) -> Column:
    return Column(name, dtype, required)


SCHOOLS = Entity(
    "schools",
    ("school_code",),
    (
        _c("school_code"),
        _c("name"),
        _c("kind"),
        _c("level", required=False),
        _c("ownership", required=False),
        _c("parent_code"),
        _c("province_code"),
        _c("commune_code", required=False),
        _c("address", required=False),
        _c("status"),
        _c("opened_on", "date", required=False),
    ),
)
CLASSES = Entity(
    "classes",
    ("school_code", "school_year", "class_name"),
    (
        _c("school_code"),
        _c("school_year"),
        _c("class_name"),
        _c("grade", "int"),
        _c("homeroom_staff_code", required=False),
        _c("two_sessions", "bool"),
        _c("combined_grades", "bool"),
    ),
)
PUPILS = Entity(
    "pupils",
    ("school_code", "pupil_code"),
    (
        _c("school_code"),
        _c("pupil_code"),
        _c("education_id", required=False),
        _c("full_name"),
        _c("birth_date", "date"),
        _c("sex"),
        _c("ethnicity_code"),
        _c("nationality"),
        _c("birth_province_code", required=False),
        _c("permanent_commune_code", required=False),
        _c("policy_categories", required=False),
        _c("disability", required=False),
        _c("citizen_id", required=False),
    ),
)
ENROLMENTS = Entity(
    "enrolments",
    ("school_code", "school_year", "pupil_code"),
    (
        _c("school_code"),
        _c("school_year"),
        _c("pupil_code"),
        _c("class_name"),
        _c("status"),
        _c("started_on", "date"),
        _c("ended_on", "date", required=False),
    ),
)
STAFF = Entity(
    "staff",
    ("school_code", "staff_code"),
    (
        _c("school_code"),
        _c("staff_code"),
        _c("education_id", required=False),
        _c("full_name"),
        _c("birth_date", "date"),
        _c("sex"),
        _c("ethnicity_code"),
        _c("citizen_id", required=False),
        _c("role"),
        _c("subjects", required=False),
        _c("qualification"),
        _c("contract_type"),
        _c("starts_on", "date"),
    ),
)
SUBJECT_RESULTS = Entity(
    "subject_results",
    ("school_code", "school_year", "pupil_code", "subject_code", "period"),
    (
        _c("school_code"),
        _c("school_year"),
        _c("pupil_code"),
        _c("subject_code"),
        _c("period"),
        _c("score", "float", required=False),
        _c("rating", required=False),
    ),
)
RESULT_SUMMARIES = Entity(
    "result_summaries",
    ("school_code", "school_year", "pupil_code", "period"),
    (
        _c("school_code"),
        _c("school_year"),
        _c("pupil_code"),
        _c("period"),
        _c("learning_rating", required=False),
        _c("conduct_rating", required=False),
        _c("outcome", required=False),
    ),
)
HEALTH_RECORDS = Entity(
    "health_records",
    ("school_code", "pupil_code", "measured_on"),
    (
        _c("school_code"),
        _c("pupil_code"),
        _c("measured_on", "date"),
        _c("height_cm", "float"),
        _c("weight_kg", "float"),
        _c("eyesight_left", "int", required=False),
        _c("eyesight_right", "int", required=False),
    ),
)

# In load order: a file may refer only to entities before it.
ENTITIES = (
    SCHOOLS,
    STAFF,
    CLASSES,
    PUPILS,
    ENROLMENTS,
    SUBJECT_RESULTS,
    RESULT_SUMMARIES,
    HEALTH_RECORDS,
)
BY_NAME = {e.name: e for e in ENTITIES}
