"""OneRoster 1.2 CSV: export a school year as a bundle, import a bundle through the pipeline.

Mapping (vnemis ↔ OneRoster 1.2 CSV; docs/oneroster.md has the full tables):

* orgs: Ministry → ``national``, Department (Sở) → ``state``, school → ``school``;
  sourcedId = identifier = our organisation code (never an internal id), parentSourcedId.
* academicSessions: the school year → ``schoolYear`` (sourcedId ``2025-2026``, schoolYear =
  end year ``2026``); its terms → ``term`` (``2025-2026-HK1``) with the year as parent.
* courses: one per school, year and grade (khối), because classes.csv requires a course.
* classes: our classes (lớp) → ``homeroom``; sourcedId ``<school>-<year>-<class>``, classCode =
  title = class name, grades = CEDS code (grade 0 → ``PK``, 1–12 → ``01``–``12``).
* users: pupils and staff; sourcedId = username = userMasterIdentifier = education ID
  (mã định danh giáo dục); identifier = the school's pupil/staff code; family/middle/given
  names, never an empty family or given name (``names``). roles.csv: pupil → ``student``; principal → ``principal``, vice
  principal → ``siteAdministrator``, teacher → ``teacher``, other staff → ``aide``.
* enrollments: pupil in class → ``student``; homeroom teacher → ``teacher`` with primary=true.
* demographics: birthDate, sex. Citizen ID numbers are never exported.
* ``metadata.vn.*`` extension columns carry what OneRoster has no column for: those a re-import
  needs always (``mapping.EXTENSIONS``), the personal ones (ethnicity, disability, ...) only on
  request and only for roles that may read sensitive data (``mapping.PERSONAL_EXTENSIONS``).

Import: ``is_oneroster(dir)`` and ``oneroster_to_standard(src, out)`` turn a bundle into
exchange-standard files that the ordinary import pipeline validates and loads; what the bundle
lacks is kept from the record (``on_record``) or reported at its OneRoster file, row and column.
``oneroster_locate(out, errors)`` places the pipeline's later error rows in the bundle too.
"""

from .errors import OneRosterError
from .export import export_filename, oneroster_export
from .to_standard import (
    ERRORS_FILE,
    MESSAGES,
    is_oneroster,
    oneroster_errors,
    oneroster_locate,
    oneroster_read,
    oneroster_to_standard,
)

__all__ = [
    "ERRORS_FILE",
    "MESSAGES",
    "OneRosterError",
    "export_filename",
    "is_oneroster",
    "oneroster_errors",
    "oneroster_export",
    "oneroster_locate",
    "oneroster_read",
    "oneroster_to_standard",
]
