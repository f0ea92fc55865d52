"""Reading a report form for a viewer: the parameters checked, the unit scoped, the figures.

The one entry point of pages, exports and drill-downs (``report_get``, ``drill_get``), so they
obey the same scope: a user reaches the report of their own node and of any node below it
(the closure table), and a figure breaks down only into units below the report's unit.
Parameters from outside come in as strings; anything malformed raises ``ReportError`` with an
HTTP status and a message in the user's language, never an exception the server did not expect.
"""

from dataclasses import dataclass, field
from datetime import date

from django.utils.translation import gettext as _

from vnemis.geo.models import Province
from vnemis.orgs.models import Organisation, OrgClosure, User
from vnemis.orgs.scope import can_read_sensitive, is_unrestricted, organisations_visible

from .catalogue import FORMS
from .compute import ReportData, Scope, available_years, form_figures, ratio_value
from .spec import COLUMN_CODES, COLUMNS, LEVELS, PERIODS, Form, Row

READERS = (User.Role.MINISTRY, User.Role.DEPARTMENT, User.Role.SCHOOL)
UNIT_KINDS = {
    Organisation.Kind.MINISTRY: "nation",
    Organisation.Kind.DEPARTMENT: "province",
    Organisation.Kind.SCHOOL: "school",
}
YEAR_RANGE = (2000, 2100)


class ReportError(Exception):
    """A request the report pages cannot answer: HTTP status, stable code, translated message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Unit:
    """The node a report is about and the schools it counts."""

    org: Organisation
    kind: str  # nation, province, school
    scope: Scope

    @property
    def code(self) -> str:
        return self.org.code

    @property
    def name(self) -> str:
        return self.org.name

    @property
    def superior(self) -> str:
        return self.org.parent.name if self.org.parent_id else ""


@dataclass
class Report:
    form: Form
    year: int
    unit: Unit
    figures: dict[str, dict]
    years: list[int] = field(default_factory=list)

    @property
    def ref_date(self) -> date:
        return self.form.period_info.reference_date(self.year)

    @property
    def year_label(self) -> str:
        return f"{self.year}–{self.year + 1}"

    @property
    def lines(self) -> list[tuple[Row, dict | None]]:
        return [(row, self.figures.get(row.key)) for row in self.form.rows]


@dataclass
class DrillItem:
    label: str
    value: int | float | None
    numerator: int | None = None
    denominator: int | None = None
    unit_code: str = ""  # a node the viewer may open (its drill-down and report)


@dataclass
class Drill:
    report: Report
    row: Row
    column: str
    by: str  # province, school, class, or "" (definition only)
    items: list[DrillItem]
    note: str = ""

    @property
    def column_label(self):
        return next(c.label for c in COLUMNS if c.code == self.column)

    @property
    def total(self):
        return self.report.figures[self.row.key][self.column]

    @property
    def items_sum(self):
        if self.row.ratio is not None:
            return sum(i.numerator or 0 for i in self.items), sum(
                i.denominator or 0 for i in self.items
            )
        return sum(i.value or 0 for i in self.items)


# --- parameters ---------------------------------------------------------------------------------


def viewer_check(viewer: User) -> None:
    if is_unrestricted(viewer):
        return
    if not viewer.is_authenticated or viewer.role not in READERS or not viewer.scope_id:
        raise ReportError(
            403,
            "forbidden",
            _("Báo cáo thống kê dành cho cán bộ của nhà trường, Sở và Bộ GD&ĐT."),
        )


def form_get(code: str) -> Form:
    form = FORMS.get(str(code).upper())
    if form is None:
        raise ReportError(
            404,
            "unknown_form",
            _("Không có biểu báo cáo mã “%(code)s”. Các biểu hiện có: %(codes)s.")
            % {"code": str(code)[:40], "codes": ", ".join(FORMS)},
        )
    return form


def level_check(level: str) -> str:
    if level not in LEVELS:
        raise ReportError(
            400,
            "bad_level",
            _("Cấp học “%(value)s” không hợp lệ; chọn một trong: %(values)s.")
            % {"value": level[:40], "values": ", ".join(LEVELS)},
        )
    return level


def period_check(period: str) -> str:
    if period not in PERIODS:
        raise ReportError(
            400,
            "bad_period",
            _("Kỳ báo cáo “%(value)s” không hợp lệ; chọn “start_of_year” (đầu năm) hoặc "
              "“end_of_year” (cuối năm).") % {"value": period[:40]},
        )  # fmt: skip
    return period


def column_check(column: str) -> str:
    if column not in COLUMN_CODES:
        raise ReportError(
            400,
            "bad_column",
            _("Cột “%(value)s” không có trong biểu; chọn một trong: %(values)s.")
            % {"value": column[:40], "values": ", ".join(COLUMN_CODES)},
        )
    return column


def year_parse(raw: str, root=None) -> tuple[int, list[int]]:
    """The school year from "2025" or "2025-2026"; empty: the newest in the snapshot."""
    years = available_years(root)
    raw = (raw or "").strip()
    if not raw:
        if not years:
            raise ReportError(
                404,
                "no_data",
                _("Bản sao dữ liệu thống kê chưa có năm học nào: hãy làm mới bản sao trước."),
            )
        return years[0], years
    first, sep, second = raw.replace("–", "-").partition("-")
    ok = first.isdigit() and len(first) == 4 and YEAR_RANGE[0] <= int(first) <= YEAR_RANGE[1]
    if ok and sep:
        ok = second.isdigit() and int(second) == int(first) + 1
    if not ok:
        raise ReportError(
            400,
            "bad_year",
            _("Năm học “%(value)s” không hợp lệ: ghi năm bắt đầu (ví dụ 2025) hoặc cả năm học "
              "(2025-2026).") % {"value": raw[:40]},
        )  # fmt: skip
    year = int(first)
    if year not in years:
        raise ReportError(
            404,
            "no_data_for_year",
            _("Bản sao dữ liệu thống kê chưa có số liệu năm học %(year)s.")
            % {"year": f"{year}–{year + 1}"},
        )
    return year, years


def _root_node() -> Organisation | None:
    return (
        Organisation.objects.filter(kind=Organisation.Kind.MINISTRY, parent__isnull=True)
        .order_by("id")
        .first()
    )


def unit_get(*, viewer: User, code: str) -> Unit:
    """The reporting unit named by its code (empty: the viewer's own node), within scope."""
    viewer_check(viewer)
    code = (code or "").strip()
    if not code:
        org = viewer.scope if viewer.scope_id else _root_node()
        if org is None:
            raise ReportError(404, "no_unit", _("Chưa có đơn vị nào trong cây tổ chức."))
    else:
        org = Organisation.objects.filter(code=code[:20]).first()
        if org is None:
            raise ReportError(
                404, "unknown_unit", _("Không có đơn vị mã “%(code)s”.") % {"code": code[:40]}
            )
        if not organisations_visible(viewer).filter(pk=org.pk).exists():
            raise ReportError(
                403,
                "out_of_scope",
                _("Đơn vị %(code)s nằm ngoài phạm vi dữ liệu của bạn.") % {"code": org.code},
            )
    kind = UNIT_KINDS.get(org.kind)
    if kind is None:
        raise ReportError(
            400,
            "not_reporting_unit",
            _("%(name)s không phải là đơn vị báo cáo thống kê giáo dục phổ thông.")
            % {"name": org.name},
        )
    org = Organisation.objects.select_related("province", "parent").get(pk=org.pk)
    province = org.province.code if org.province_id else None
    if kind == "nation" and org.parent_id is None:
        scope = Scope()
    elif kind == "school":
        scope = Scope(province=province, school_ids=(org.pk,))
    else:
        ids = OrgClosure.objects.filter(
            ancestor=org, descendant__kind__in=Organisation.SCHOOL_KINDS
        ).values_list("descendant_id", flat=True)
        scope = Scope(province=province if kind == "province" else None, school_ids=tuple(ids))
    return Unit(org=org, kind=kind, scope=scope)


# --- reports and drill-downs ------------------------------------------------------------------


def _data(form: Form, year: int, unit: Unit, root=None) -> ReportData:
    ref = form.period_info.reference_date(year)
    return ReportData(level=form.level, year=year, ref_date=ref, scope=unit.scope, root=root)


def report_get(*, viewer: User, form_code: str, year: str = "", unit: str = "", root=None):
    """A form's figures for a unit the viewer may see."""
    report, data = _report_open(viewer, form_code, year, unit, root)
    data.close()
    return report


def _report_open(viewer, form_code, year, unit, root) -> tuple[Report, ReportData]:
    """The report and the open views it was computed from (for a breakdown on the same data)."""
    form = form_get(form_code)
    the_unit = unit_get(viewer=viewer, code=unit)
    the_year, years = year_parse(year, root)
    data = _data(form, the_year, the_unit, root)
    try:
        figures = form_figures(data, form)
    except Exception:
        data.close()
        raise
    return Report(form=form, year=the_year, unit=the_unit, figures=figures, years=years), data


def _row_get(form: Form, key: str) -> Row:
    row = form.row(key)
    if row is None or row.is_heading:
        raise ReportError(
            404,
            "unknown_row",
            _("Biểu %(form)s không có dòng số liệu “%(row)s”.")
            % {"form": form.code, "row": key[:40]},
        )
    return row


def drill_get(
    *, viewer: User, form_code: str, row: str, column: str, year: str = "", unit: str = "",
    root=None,
) -> Drill:  # fmt: skip
    """The units behind one figure: provinces of the nation, schools of a province, classes of a
    school (or, where no finer unit may be shown, the figure's definition alone)."""
    form = form_get(form_code)
    the_row = _row_get(form, row)
    column = column_check(column)
    report, data = _report_open(viewer, form_code, year, unit, root)
    with data:
        return _drill(viewer, form, the_row, column, report, data)


def _drill(viewer, form: Form, the_row: Row, column: str, report: Report, data) -> Drill:
    kind = report.unit.kind
    by = {"nation": "province", "province": "school_id", "school": "class_id"}[kind]
    note = ""
    datasets = [the_row.dataset] if the_row.ratio is None else [
        report.form.row(k).dataset for k in the_row.ratio
    ]  # fmt: skip
    if by == "class_id":
        if any(d not in ("pupils", "classes") for d in datasets):
            by, note = "", _("Số liệu này không chia được theo lớp.")
        elif the_row.sensitive and not can_read_sensitive(viewer):
            by = ""
            note = _("Số liệu về dân tộc, khuyết tật chỉ được chia đến từng lớp cho cán bộ "
                     "nhà trường (Nghị định 13/2023/NĐ-CP).")  # fmt: skip
    items: list[DrillItem] = []
    if by:
        col = next(c for c in COLUMNS if c.code == column)
        if the_row.ratio is None:
            parts = dict(data.breakdown(the_row, col, by))
            units = list(parts)
        else:
            num_row, den_row = (form.row(k) for k in the_row.ratio)
            nums = data.breakdown(num_row, col, by)
            dens = data.breakdown(den_row, col, by)
            units = sorted(set(nums) | set(dens), key=lambda u: (u is None, u))
        names = data.school_names(units) if by == "school_id" else {}
        labels, links = _labels(by, units, names, viewer)
        for u in units:
            if the_row.ratio is None:
                n, _grade = parts[u]
                items.append(DrillItem(labels[u], n, unit_code=links.get(u, "")))
            else:
                n, d = nums.get(u, (0, None))[0], dens.get(u, (0, None))[0]
                items.append(
                    DrillItem(labels[u], ratio_value(n, d), n, d, unit_code=links.get(u, ""))
                )
        if by == "class_id":
            if the_row.ratio is None:
                grades = {u: parts[u][1] for u in units}
            else:
                grades = {u: (nums.get(u) or dens.get(u))[1] for u in units}
            items = _class_labels(units, grades, items)
    return Drill(
        report=report,
        row=the_row,
        column=column,
        by={"province": "province", "school_id": "school", "class_id": "class"}.get(by, ""),
        items=items,
        note=note,
    )


def _labels(by: str, units, names, viewer) -> tuple[dict, dict]:
    unknown = _("Không xác định")
    labels, links = {}, {}
    if by == "province":
        provinces = dict(
            Province.objects.filter(code__in=[u for u in units if u]).values_list("code", "name")
        )
        departments = dict(
            organisations_visible(viewer)
            .filter(kind=Organisation.Kind.DEPARTMENT, province__code__in=list(provinces))
            .values_list("province__code", "code")
        )
        for u in units:
            labels[u] = f"{u} – {provinces.get(u, unknown)}" if u else unknown
            if u in departments:
                links[u] = departments[u]
    elif by == "school_id":
        for u in units:
            code, name = names.get(u, ("", unknown))
            labels[u] = f"{code} – {name}" if code else unknown
            if code:
                links[u] = code
    else:
        labels = {u: "" for u in units}
    return labels, links


def _class_labels(units, grades, items) -> list[DrillItem]:
    """Classes carry no names in the snapshot: "Lớp khối 3 – thứ 2" numbers them within a grade."""
    seen: dict = {}
    for u, item in zip(units, items, strict=True):
        g = grades.get(u)
        seen[g] = seen.get(g, 0) + 1
        item.label = (
            _("Khối %(grade)s – lớp thứ %(n)s") % {"grade": g, "n": seen[g]}
            if u is not None
            else _("Không xác định")
        )
    return items
