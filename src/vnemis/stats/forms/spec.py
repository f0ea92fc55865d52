"""The shape of a periodic report form, as data: periods, columns, rows and their predicates.

A form is a list of rows; a counting row names a snapshot dataset and a SQL predicate over it,
a ratio row names two counting rows. The engine (``compute``) turns every counting row of a
dataset into one ``COUNT(*) FILTER (WHERE row AND column)`` of a single query, so adding a row
to a form is adding one line to its list (``catalogue``).
"""

from dataclasses import dataclass, field
from datetime import date

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

# The datasets a row may count, with the unit of measure shown in the form's "Đơn vị tính".
DATASETS = {
    "schools": _("Trường"),
    "classes": _("Lớp"),
    "pupils": _("Học sinh"),
    "staff": _("Người"),
}
# Columns that hold personal attributes the law treats as sensitive (Decree 13/2023): their
# figures are not broken down below a school for roles that work from aggregates only.
SENSITIVE_COLUMNS = ("ethnicity", "disability")

LEVELS = {
    "primary": _("Tiểu học"),
    "lower_secondary": _("Trung học cơ sở"),
    "upper_secondary": _("Trung học phổ thông"),
}
LEVEL_GRADES = {"primary": (1, 5), "lower_secondary": (6, 9), "upper_secondary": (10, 12)}


@dataclass(frozen=True)
class Period:
    code: str
    label: Promise
    month: int
    day: int
    next_calendar_year: bool  # the reference date falls in the year after the start year
    due: Promise

    def reference_date(self, school_year: int) -> date:
        """The date the figures are counted at, for the school year starting in ``school_year``."""
        return date(school_year + (1 if self.next_calendar_year else 0), self.month, self.day)


# Circular 25/2024: start of year as of 30 September (due 30 October), end of year as of 31 May
# (due 30 June).
PERIODS = {
    "start_of_year": Period(
        "start_of_year", _("Đầu năm học"), 9, 30, False, _("Hạn nộp: 30 tháng 10")
    ),
    "end_of_year": Period("end_of_year", _("Cuối năm học"), 5, 31, True, _("Hạn nộp: 30 tháng 6")),
}


@dataclass(frozen=True)
class Column:
    code: str
    label: Promise
    where: str


NON_PUBLIC = ("private", "people_founded")
COLUMNS = (
    Column("total", _("Tổng số"), "TRUE"),
    Column("public", _("Công lập"), "ownership = 'public'"),
    Column(
        "non_public",
        _("Ngoài công lập"),
        "ownership IN (" + ", ".join(f"'{o}'" for o in NON_PUBLIC) + ")",
    ),
)
COLUMN_CODES = tuple(c.code for c in COLUMNS)


@dataclass(frozen=True)
class Row:
    """One line of a form. ``dataset`` None: a section heading; ``ratio``: numerator and
    denominator row keys; otherwise a count of ``dataset`` rows matching ``where``."""

    number: str
    label: Promise | str
    dataset: str | None = None
    where: str = "TRUE"
    ratio: tuple[str, str] | None = None
    key: str = ""
    depth: int = 0

    @property
    def is_heading(self) -> bool:
        return self.dataset is None and self.ratio is None

    @property
    def sensitive(self) -> bool:
        return any(column in self.where for column in SENSITIVE_COLUMNS)

    @property
    def unit_label(self):
        if self.ratio is not None:
            return _("Tỷ lệ")
        return DATASETS.get(self.dataset or "", "")


@dataclass(frozen=True)
class Form:
    code: str  # used in URLs, e.g. "TH-DN"
    number: str  # "Biểu số" shown in the header
    level: str
    period: str
    rows: tuple[Row, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        keys = [r.key for r in self.rows]
        if len(keys) != len(set(keys)):
            raise ValueError(f"form {self.code}: duplicate row keys")
        if self.level not in LEVELS or self.period not in PERIODS:
            raise ValueError(f"form {self.code}: unknown level or period")
        for row in self.rows:
            if row.dataset is not None and row.dataset not in DATASETS:
                raise ValueError(f"form {self.code}: row {row.key} counts unknown {row.dataset}")
            if row.ratio and not all(k in keys for k in row.ratio):
                raise ValueError(f"form {self.code}: ratio row {row.key} names a missing row")

    @property
    def title(self) -> str:
        """The title in the active language (evaluated per request, not at import)."""
        return _("Báo cáo thống kê giáo dục %(level)s – %(period)s") % {
            "level": str(LEVELS[self.level]).lower(),
            "period": str(PERIODS[self.period].label).lower(),
        }

    @property
    def period_info(self) -> Period:
        return PERIODS[self.period]

    @property
    def level_label(self):
        return LEVELS[self.level]

    def row(self, key: str) -> Row | None:
        return next((r for r in self.rows if r.key == key), None)

    def counting_rows(self, dataset: str) -> list[Row]:
        return [r for r in self.rows if r.dataset == dataset]


def heading(number: str, label) -> Row:
    return Row(number, label)


def count(number: str, label, dataset: str, where: str = "TRUE", depth: int | None = None) -> Row:
    return Row(number, label, dataset, where, depth=number.count(".") if depth is None else depth)


def ratio(number: str, label, numerator: str, denominator: str) -> Row:
    return Row(number, label, ratio=(numerator, denominator), depth=number.count("."))


def keyed(rows: list[Row]) -> tuple[Row, ...]:
    """Give each row a key unique in the form: its section's Roman numeral and its number
    (``III.2.1``); a heading's key is its numeral."""
    out, section = [], ""
    for row in rows:
        if row.is_heading:
            section = row.number
            key = section
        else:
            key = f"{section}.{row.number}"
        out.append(Row(row.number, row.label, row.dataset, row.where, row.ratio, key, row.depth))
    # ratio rows name rows by their final keys; resolve short names "III.1" as written.
    return tuple(out)
