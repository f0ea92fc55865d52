"""What the registry already holds for the pupils, staff, classes and enrolments a bundle names.

OneRoster has no column for several fields our data standard requires (ethnicity, nationality,
qualification, contract type, two sessions...), and files from other software do not carry our
``metadata.vn.*`` extensions. For a record already on file the import then keeps what is
recorded instead of failing (the rules per field are in docs/oneroster.md); this module reads
those values set-wise, a fixed number of queries per entity (key lists go in slices of
``KEY_SLICE``), and returns them as exchange-format text, the way a file would carry them.

Records are matched the way the engine matches them (``registry/loaders.py``): a pupil by the
education ID in the file, else by the pupil code the school enrolled them under (latest year);
a staff post by (school, staff code), its person by the education ID in the file, else through
that post; a class by (school, year, name); an enrolment by (school, year, pupil code). The
values only go back to the engine with the row, which applies the caller's write scope to it;
nothing read here is shown to anyone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice

import polars as pl
from django.db.models import OuterRef, Subquery

from vnemis.registry.models import Enrolment, Person, SchoolClass, StaffAssignment

KEY_SLICE = 5_000
# Prefix of the recorded value of a standard column, and the flag "this record exists".
REC = "_rec_"
FOUND = "_on_record"

PERSON = {
    "birth_date": "birth_date",
    "sex": "sex",
    "ethnicity_code": "ethnicity__code",
    "nationality": "nationality",
    "birth_province_code": "birth_province__code",
    "permanent_commune_code": "permanent_commune__code",
    "policy_categories": "policy_categories",
    "disability": "disability",
}
STAFF_PERSON = ("birth_date", "sex", "ethnicity_code")
POST = {
    "role": "role",
    "subjects": "subjects",
    "qualification": "qualification",
    "contract_type": "contract_type",
    "starts_on": "starts_on",
}


def _slices(values: Iterable, size: int = KEY_SLICE) -> Iterator[list]:
    it = iter(values)
    while part := list(islice(it, size)):
        yield part


def _as_text(s: pl.Series) -> pl.Series:
    """A registry column as exchange-format text: dates ISO, lists ``;``-joined, booleans
    true/false, "" → null."""
    name = s.name
    if s.dtype == pl.Date:
        s = s.dt.strftime("%Y-%m-%d")
    elif s.dtype == pl.Boolean:
        s = pl.select(pl.when(s).then(pl.lit("true")).when(~s).then(pl.lit("false"))).to_series()
    elif isinstance(s.dtype, pl.List):
        s = s.cast(pl.List(pl.String)).list.join(";")
    elif s.dtype == pl.Null:
        s = s.cast(pl.String)
    return s.cast(pl.String).replace("", None).alias(name)


def _frame(rows: list[tuple], names: list[str]) -> pl.DataFrame:
    if not rows:
        return pl.DataFrame(schema=dict.fromkeys(names, pl.String))
    df = pl.DataFrame(rows, schema=names, orient="row", infer_schema_length=None)
    return df.select(_as_text(df[n]) for n in names)


def _distinct(df: pl.DataFrame, *cols: str) -> list[str]:
    return df.select(pl.col(*cols)).drop_nulls().unique().to_series().to_list()


def _with_found(keys: pl.DataFrame, found: pl.DataFrame, on: list[str]) -> pl.DataFrame:
    found = found.unique(on, keep="first", maintain_order=True).with_columns(
        pl.lit(True).alias(FOUND)
    )
    out = keys.join(found, on=on, how="left", nulls_equal=False)
    return out.with_columns(pl.col(FOUND).fill_null(False))


def _persons_by_eid(eids: list[str], fields: dict[str, str]) -> pl.DataFrame:
    names = ["education_id", *(REC + k for k in fields)]
    rows: list[tuple] = []
    for part in _slices(eids):
        rows += Person.objects.filter(education_id__in=part).values_list(
            "education_id", *fields.values()
        )
    return _frame(rows, names)


def pupils_on_record(keys: pl.DataFrame) -> pl.DataFrame:
    """``keys`` (``_i``, ``school_code``, ``pupil_code``, ``education_id``) with the recorded
    person fields (``_rec_<column>``) and ``_on_record``."""
    by_eid = keys.filter(pl.col("education_id").is_not_null())
    by_code = keys.filter(pl.col("education_id").is_null())
    persons = _persons_by_eid(_distinct(by_eid, "education_id"), PERSON)
    found_eid = _with_found(by_eid.select("_i", "education_id"), persons, ["education_id"])
    schools = _distinct(by_code, "school_code")
    rows: list[tuple] = []
    for part in _slices(_distinct(by_code, "pupil_code")) if schools else ():
        rows += (
            Enrolment.objects.filter(school__code__in=schools, pupil_code__in=part)
            # The pupil the school enrolled under that code, its latest year first.
            .order_by("school__code", "pupil_code", "-school_year__start_year", "-id")
            .values_list("school__code", "pupil_code", *(f"pupil__{f}" for f in PERSON.values()))
        )  # fmt: skip
    enrolled = _frame(rows, ["school_code", "pupil_code", *(REC + k for k in PERSON)])
    found_code = _with_found(
        by_code.select("_i", "school_code", "pupil_code"), enrolled, ["school_code", "pupil_code"]
    )
    cols = ["_i", FOUND, *(REC + k for k in PERSON)]
    return pl.concat([found_eid.select(cols), found_code.select(cols)], how="vertical")


def staff_on_record(keys: pl.DataFrame) -> pl.DataFrame:
    """``keys`` (``_i``, ``school_code``, ``staff_code``, ``education_id``) with the recorded
    post (``_rec_role`` ... ``_rec_starts_on``, ``_on_record``) and person fields
    (``_rec_birth_date``, ``_rec_sex``, ``_rec_ethnicity_code``, ``_person_on_record``)."""
    schools = _distinct(keys, "school_code")
    person_fields = {k: PERSON[k] for k in STAFF_PERSON}
    rows: list[tuple] = []
    for part in _slices(_distinct(keys, "staff_code")) if schools else ():
        rows += StaffAssignment.objects.filter(
            school__code__in=schools, staff_code__in=part
        ).values_list(
            "school__code", "staff_code", "person__education_id", *POST.values(),
            *(f"person__{f}" for f in person_fields.values()),
        )  # fmt: skip
    posts = _frame(
        rows,
        [
            "school_code", "staff_code", "_post_eid", *(REC + k for k in POST),
            *(f"_post{REC}{k}" for k in person_fields),
        ],
    )  # fmt: skip
    out = _with_found(keys, posts, ["school_code", "staff_code"])
    eids = _distinct(keys, "education_id")
    persons = _persons_by_eid(eids, person_fields).with_columns(
        pl.lit(True).alias("_person_on_record")
    )
    out = out.join(persons, on="education_id", how="left")
    # Without an education ID in the file, the person is the one already holding the post.
    no_eid = pl.col("education_id").is_null()
    return out.select(
        "_i",
        FOUND,
        *(REC + k for k in POST),
        *(
            pl.when(no_eid).then(pl.col(f"_post{REC}{k}")).otherwise(pl.col(REC + k)).alias(REC + k)
            for k in person_fields
        ),
        pl.when(no_eid)
        .then(pl.col(FOUND))
        .otherwise(pl.col("_person_on_record").fill_null(False))
        .alias("_person_on_record"),
    )


def classes_on_record(keys: pl.DataFrame) -> pl.DataFrame:
    """``keys`` (``_i``, ``school_code``, ``school_year``, ``class_name``) with the recorded
    grade, two_sessions, combined_grades, homeroom_staff_code and ``_on_record``."""
    schools, years = _distinct(keys, "school_code"), _distinct(keys, "school_year")
    fields = ["grade", "two_sessions", "combined_grades", "homeroom_staff_code"]
    rows: list[tuple] = []
    if schools and years:
        # The homeroom teacher's code at the class's school (their latest post there).
        code = (
            StaffAssignment.objects.filter(
                person_id=OuterRef("homeroom_teacher_id"), school_id=OuterRef("school_id")
            )
            .exclude(staff_code="")
            .order_by("-starts_on", "-id")
            .values("staff_code")[:1]
        )
        rows = list(
            SchoolClass.objects.filter(school__code__in=schools, school_year__code__in=years)
            .annotate(homeroom_code=Subquery(code))
            .values_list(
                "school__code", "school_year__code", "name", "grade", "two_sessions",
                "combined_grades", "homeroom_code",
            )
        )  # fmt: skip
    found = _frame(rows, ["school_code", "school_year", "class_name", *(REC + f for f in fields)])
    out = _with_found(keys, found, ["school_code", "school_year", "class_name"])
    return out.select("_i", FOUND, *(REC + f for f in fields))


def enrolments_on_record(keys: pl.DataFrame) -> pl.DataFrame:
    """``keys`` (``_i``, ``school_code``, ``school_year``, ``pupil_code``) with the recorded
    class_name, status, started_on, ended_on and ``_on_record``."""
    schools, years = _distinct(keys, "school_code"), _distinct(keys, "school_year")
    fields = ["class_name", "status", "started_on", "ended_on"]
    rows: list[tuple] = []
    for part in _slices(_distinct(keys, "pupil_code")) if schools and years else ():
        rows += Enrolment.objects.filter(
            school__code__in=schools, school_year__code__in=years, pupil_code__in=part
        ).values_list(
            "school__code", "school_year__code", "pupil_code", "school_class__name", "status",
            "started_on", "ended_on",
        )  # fmt: skip
    found = _frame(rows, ["school_code", "school_year", "pupil_code", *(REC + f for f in fields)])
    out = _with_found(keys, found, ["school_code", "school_year", "pupil_code"])
    return out.select("_i", FOUND, *(REC + f for f in fields))


def school_code_exists(code: str) -> bool:
    """Whether ``code`` is the code of a school (or college, university) in the registry."""
    from vnemis.orgs.models import Organisation

    return Organisation.objects.filter(code=code, kind__in=Organisation.SCHOOL_KINDS).exists()
