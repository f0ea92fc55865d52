"""API shapes of the registry. Persons are known by their education ID; classes by
(school_code, school_year, name), with an opaque ``id`` usable only in API URLs."""

from datetime import date

from ninja import Schema


class ClassOut(Schema):
    id: int
    school_code: str
    school_year: str
    name: str
    grade: int
    two_sessions: bool
    combined_grades: bool

    @staticmethod
    def resolve_school_code(obj) -> str:
        return obj.school.code

    @staticmethod
    def resolve_school_year(obj) -> str:
        return obj.school_year.code


class ClassPage(Schema):
    items: list[ClassOut]
    next_cursor: str | None


class PersonSummaryOut(Schema):
    """What a search result shows: enough to tell two namesakes apart, nothing sensitive."""

    education_id: str
    full_name: str
    birth_date: date
    sex: str


class PersonPage(Schema):
    items: list[PersonSummaryOut]
    next_cursor: str | None


class EthnicityOut(Schema):
    code: str
    name: str


class HealthRecordOut(Schema):
    measured_on: date
    height_cm: float
    weight_kg: float
    bmi: float
    eyesight_left: int | None
    eyesight_right: int | None


class SensitiveOut(Schema):
    """Sensitive personal data (Decree 13/2023): only for roles that need it."""

    ethnicity: EthnicityOut
    disability: str
    policy_categories: list[str]
    # Location is sensitive too (DOMAIN.md §11): where a child lives and was born.
    birth_province_code: str | None
    birth_place: str
    permanent_commune_code: str | None
    permanent_address: str
    health_records: list[HealthRecordOut]


class PersonOut(Schema):
    education_id: str
    full_name: str
    family_name: str
    middle_name: str
    given_name: str
    birth_date: date
    sex: str
    nationality: str
    citizen_id_masked: str | None
    sensitive: SensitiveOut | None = None


class EnrolmentOut(Schema):
    education_id: str
    full_name: str
    school_code: str
    school_year: str
    class_id: int
    class_name: str
    grade: int
    pupil_code: str
    status: str
    started_on: date
    ended_on: date | None

    @staticmethod
    def resolve_education_id(obj) -> str:
        return obj.pupil.education_id

    @staticmethod
    def resolve_full_name(obj) -> str:
        return obj.pupil.full_name

    @staticmethod
    def resolve_school_code(obj) -> str:
        return obj.school.code

    @staticmethod
    def resolve_school_year(obj) -> str:
        return obj.school_year.code

    @staticmethod
    def resolve_class_id(obj) -> int:
        return obj.school_class_id

    @staticmethod
    def resolve_class_name(obj) -> str:
        return obj.school_class.name

    @staticmethod
    def resolve_grade(obj) -> int:
        return obj.school_class.grade


class EnrolmentPage(Schema):
    items: list[EnrolmentOut]
    next_cursor: str | None
