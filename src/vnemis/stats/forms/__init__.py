"""Periodic report forms (Circular 25/2024): definitions as data, figures from the snapshot.

``spec`` holds the shape (periods, columns, rows), ``catalogue`` the forms, ``compute`` the DuckDB
engine over the Parquet snapshot and ``reports`` the scoped entry points used by pages and
exports. See docs/report-forms.md.
"""

from .catalogue import FORMS, form_for
from .reports import Drill, Report, ReportError, drill_get, report_get

__all__ = ["FORMS", "Drill", "Report", "ReportError", "drill_get", "form_for", "report_get"]
