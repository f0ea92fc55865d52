"""What every rendering of a report shares: its header lines and Vietnamese number format."""

from django.utils.translation import gettext as _

from .reports import Report


def number_vi(value, *, ratio: bool = False) -> str:
    """1234 → "1.234"; a ratio 1.5 → "1,50"; no value → "–" (a ratio over zero)."""
    if value is None:
        return "–"
    if ratio:
        whole, _sep, frac = f"{value:,.2f}".partition(".")
        return whole.replace(",", ".") + "," + frac
    return f"{int(value):,}".replace(",", ".")


def header(report: Report) -> dict[str, str]:
    """The header of the form as the regime lays it out: the agency (left), the form number
    (right), the title, the school year, the units and the reference date."""
    unit = report.unit
    agency = [unit.superior.upper(), unit.name.upper()] if unit.superior else [unit.name.upper()]
    return {
        "agency": "\n".join(a for a in agency if a),
        "number": _("Biểu số %(number)s") % {"number": report.form.number},
        "period": str(report.form.period_info.label),
        "title": report.form.title.upper(),
        "year": _("Năm học %(year)s") % {"year": report.year_label},
        "unit": _("Đơn vị báo cáo: %(name)s") % {"name": unit.name},
        "recipient": (
            _("Đơn vị nhận báo cáo: %(name)s") % {"name": unit.superior} if unit.superior else ""
        ),
        "as_of": _("Số liệu tính đến ngày %(date)s")
        % {"date": report.ref_date.strftime("%d/%m/%Y")},
        "due": str(report.form.period_info.due),
        "basis": _("Theo Thông tư 25/2024/TT-BGDĐT về chế độ báo cáo thống kê ngành Giáo dục"),
    }


def table_heads() -> list[str]:
    from .spec import COLUMNS

    return [_("STT"), _("Chỉ tiêu"), _("Đơn vị tính"), *(str(c.label) for c in COLUMNS)]


def table_numbering() -> list[str]:
    """The line of column letters and numbers under the heads (A, B, C, 1, 2, 3)."""
    from .spec import COLUMNS

    return ["A", "B", "C", *(str(i) for i in range(1, len(COLUMNS) + 1))]
