"""The OneRoster 1.2 CSV binding as data: file names, column order, enumerations, our mapping.

Everything the exporter writes and the importer checks comes from these tables, so the two can
never disagree about a header. Column lists follow the 1EdTech "OneRoster 1.2 CSV Binding"
tables in order; ``REQUIRED`` names the columns the binding requires a value in. OneRoster lets
a producer add extension columns to the right of the defined ones, named ``metadata.<x>``;
ours are ``metadata.vn.*`` (see ``EXTENSIONS`` and ``PERSONAL_EXTENSIONS``) and carry the
registry fields OneRoster has no column for, so that a vnemis → OneRoster → vnemis round trip
loses nothing and changes nothing.
"""

from __future__ import annotations

MANIFEST_VERSION = "1.0"
ONEROSTER_VERSION = "1.2"

# Defined columns of each data file, in the binding's order.
HEADERS: dict[str, tuple[str, ...]] = {
    "academicSessions": (
        "sourcedId", "status", "dateLastModified", "title", "type", "startDate", "endDate",
        "parentSourcedId", "schoolYear",
    ),
    "classes": (
        "sourcedId", "status", "dateLastModified", "title", "grades", "courseSourcedId",
        "classCode", "classType", "location", "schoolSourcedId", "termSourcedIds", "subjects",
        "subjectCodes", "periods",
    ),
    "courses": (
        "sourcedId", "status", "dateLastModified", "schoolYearSourcedId", "title", "courseCode",
        "grades", "orgSourcedId", "subjects", "subjectCodes",
    ),
    "demographics": (
        "sourcedId", "status", "dateLastModified", "birthDate", "sex",
        "americanIndianOrAlaskaNative", "asian", "blackOrAfricanAmerican",
        "nativeHawaiianOrOtherPacificIslander", "white", "demographicRaceTwoOrMoreRaces",
        "hispanicOrLatinoEthnicity", "countryOfBirthCode", "stateOfBirthAbbreviation",
        "cityOfBirth", "publicSchoolResidenceStatus",
    ),
    "enrollments": (
        "sourcedId", "status", "dateLastModified", "classSourcedId", "schoolSourcedId",
        "userSourcedId", "role", "primary", "beginDate", "endDate",
    ),
    "orgs": (
        "sourcedId", "status", "dateLastModified", "name", "type", "identifier", "parentSourcedId",
    ),
    "roles": (
        "sourcedId", "status", "dateLastModified", "userSourcedId", "roleType", "role",
        "beginDate", "endDate", "orgSourcedId", "userProfileSourcedId",
    ),
    "users": (
        "sourcedId", "status", "dateLastModified", "enabledUser", "username", "userIds",
        "givenName", "familyName", "middleName", "identifier", "email", "sms", "phone",
        "agentSourcedIds", "grades", "password", "userMasterIdentifier", "resourceSourcedIds",
        "preferredGivenName", "preferredMiddleName", "preferredFamilyName",
        "primaryOrgSourcedId", "pronouns",
    ),
}  # fmt: skip

# Columns that must hold a value in every row (status/dateLastModified only in delta mode).
REQUIRED: dict[str, tuple[str, ...]] = {
    "academicSessions": ("sourcedId", "title", "type", "startDate", "endDate", "schoolYear"),
    "classes": ("sourcedId", "title", "courseSourcedId", "classType", "schoolSourcedId",
                "termSourcedIds"),
    "courses": ("sourcedId", "title", "orgSourcedId"),
    "demographics": ("sourcedId",),
    "enrollments": ("sourcedId", "classSourcedId", "schoolSourcedId", "userSourcedId", "role"),
    "orgs": ("sourcedId", "name", "type"),
    "roles": ("sourcedId", "userSourcedId", "roleType", "role", "orgSourcedId"),
    "users": ("sourcedId", "enabledUser", "givenName", "familyName"),
}  # fmt: skip

# Every file.* key of a 1.2 manifest, in the binding's order; we write or read those in HEADERS.
MANIFEST_FILES = (
    "academicSessions", "categories", "classes", "classResources", "courses", "courseResources",
    "demographics", "enrollments", "lineItemLearningObjectiveIds", "lineItems",
    "lineItemScoreScales", "orgs", "resources", "resultLearningObjectiveIds", "results",
    "resultScoreScales", "roles", "scoreScales", "userProfiles", "userResources", "users",
)  # fmt: skip
FILE_MODES = ("absent", "bulk", "delta")
# Without these a bundle cannot become registry rows (classes need their org and session).
IMPORT_NEEDS = ("orgs", "academicSessions", "classes", "users", "enrollments")

# Our extension columns (to the right of the defined ones), per file: the registry fields
# OneRoster has no column for. Always written: what a re-import needs to change nothing, and
# nothing a third party could not already infer from the defined columns.
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "users": ("metadata.vn.fullName",),
    "classes": ("metadata.vn.twoSessions", "metadata.vn.combinedGrades"),
    "demographics": ("metadata.vn.nationality",),
    "roles": (
        "metadata.vn.identifier", "metadata.vn.subjects", "metadata.vn.qualification",
        "metadata.vn.contractType",
    ),
    "enrollments": ("metadata.vn.enrolmentStatus", "metadata.vn.identifier"),
}  # fmt: skip
# Personal data beyond what rostering needs, written only on request (``extensions``) and only
# for roles allowed to read sensitive data: ethnicity, disability and policy categories are
# sensitive (Decree 13/2023), birth province and residence commune are not needed to roster.
PERSONAL_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "demographics": (
        "metadata.vn.ethnicityCode", "metadata.vn.birthProvinceCode",
        "metadata.vn.permanentCommuneCode", "metadata.vn.policyCategories",
        "metadata.vn.disability",
    ),
}  # fmt: skip

# -- enumerations --------------------------------------------------------------------------------

STATUS = ("active", "tobedeleted")
BOOLEAN = ("true", "false")
ORG_TYPES = ("department", "school", "district", "local", "state", "national")
SESSION_TYPES = ("gradingPeriod", "semester", "schoolYear", "term")
CLASS_TYPES = ("homeroom", "scheduled")
ENROLLMENT_ROLES = ("administrator", "proctor", "student", "teacher")
ROLE_TYPES = ("primary", "secondary")
ROLES = (
    "aide", "counselor", "districtAdministrator", "guardian", "parent", "principal", "proctor",
    "relative", "siteAdministrator", "student", "systemAdministrator", "teacher",
)  # fmt: skip
SEXES = ("male", "female", "unspecified", "other")
# CEDS grade levels the binding uses in "grades".
CEDS_GRADES = (
    "IT", "PR", "PK", "TK", "KG", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10",
    "11", "12", "13", "PS", "UG", "Other",
)  # fmt: skip

# -- our mapping ---------------------------------------------------------------------------------

# Organisation.kind → org type. Ministry = national, Department (Sở) = state (a province).
ORG_TYPE_OF_KIND = {
    "ministry": "national",
    "department": "state",
    "school": "school",
    "university": "school",
    "college": "school",
}

# Our grade (0 = preschool, 1–12) → CEDS code; back again every preschool code means grade 0.
CEDS_OF_GRADE = {0: "PK", **{g: f"{g:02d}" for g in range(1, 13)}}
GRADE_OF_CEDS = {
    **{code: g for g, code in CEDS_OF_GRADE.items()},
    "IT": 0,
    "PR": 0,
    "TK": 0,
    "KG": 0,
}

# StaffAssignment.role ↔ roles.csv role. Principal (hiệu trưởng), vice principal (phó hiệu
# trưởng) = site administrator, teacher, other staff (nhân viên) = aide.
ROLE_OF_STAFF = {
    "principal": "principal",
    "vice_principal": "siteAdministrator",
    "teacher": "teacher",
    "staff": "aide",
}
STAFF_OF_ROLE = {v: k for k, v in ROLE_OF_STAFF.items()}
# A bundle without roles.csv: the enrollment role decides (administrator → principal is a guess
# we refuse to make; such users are reported, not loaded).
STAFF_OF_ENROLLMENT_ROLE = {"teacher": "teacher"}

SEX_OF_CODE = {"M": "male", "F": "female"}
CODE_OF_SEX = {"male": "M", "female": "F"}

SYSTEM_NAME = "vnemis"


def class_sourced_id(school_code: str, year: str, class_name: str) -> str:
    """A class's sourcedId: its natural key (school, school year, class name)."""
    return f"{school_code}-{year}-{class_name}"


def course_sourced_id(school_code: str, year: str, grade: int) -> str:
    """One course per school, year and grade (khối), the course every class of the grade is of."""
    return f"{school_code}-{year}-K{grade:02d}"


def term_sourced_id(year: str, number: int) -> str:
    return f"{year}-HK{number}"


def where(file: str, column: str | None = None) -> str:
    """How an error row names a place in a bundle: ``users.csv › givenName`` (or the file).

    Pages and reports show an error's column as it is written here, so the user reads the
    OneRoster file and column to fix, not our internal field name.
    """
    return f"{file}.csv › {column}" if column else f"{file}.csv"
