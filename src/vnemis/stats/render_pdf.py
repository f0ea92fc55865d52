"""A report form as a PDF (fpdf2): A4 landscape, the regime's header, the bordered table with its
heads repeated on every page, page numbers; Vietnamese text in DejaVu Sans.

The fonts come with the project's setup (npm package ``dejavu-fonts-ttf``, copied to
``static/vendor/fonts/`` by scripts/fetch_assets.py); the system's DejaVu directory is the
fallback. No font: ``FontsMissing`` with what to do, rather than a PDF with missing letters.
"""

import logging
from pathlib import Path

from django.utils.translation import gettext as _
from fpdf import FPDF
from fpdf.fonts import FontFace

from .forms.display import header, number_vi, table_heads, table_numbering
from .forms.reports import Report
from .forms.spec import COLUMNS

FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
FONT_DIRS = (
    Path(__file__).resolve().parents[1] / "static" / "vendor" / "fonts",
    Path("/usr/share/fonts/truetype/dejavu"),
)
FAMILY = "DejaVu"
# fontTools logs every table it subsets at INFO: one PDF would flood the log.
logging.getLogger("fontTools").setLevel(logging.WARNING)


class FontsMissing(RuntimeError):
    """The Vietnamese-capable font files are not installed."""


def font_dir(dirs=FONT_DIRS) -> Path:
    """The first directory holding both DejaVu Sans files."""
    for directory in dirs:
        if all((directory / name).is_file() for name in FONT_FILES.values()):
            return directory
    raise FontsMissing(
        _("Thiếu phông chữ DejaVu Sans (%(files)s) để xuất PDF tiếng Việt: chạy "
          "scripts/fetch_assets.py (make setup) để cài vào %(dir)s.")
        % {"files": ", ".join(FONT_FILES.values()), "dir": FONT_DIRS[0]}
    )  # fmt: skip


class _FormPDF(FPDF):
    footer_text = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FAMILY, "", 8)
        page = _("Trang %(page)s/%(pages)s") % {"page": self.page_no(), "pages": "{nb}"}
        self.cell(0, 6, f"{self.footer_text}    {page}", align="C")


def report_pdf(report: Report, *, fonts: Path | None = None) -> bytes:
    """The PDF's bytes."""
    directory = fonts or font_dir()
    pdf = _FormPDF(orientation="L", unit="mm", format="A4")
    pdf.set_margins(10, 10, 10)
    pdf.set_auto_page_break(True, margin=16)
    for style, name in FONT_FILES.items():
        pdf.add_font(FAMILY, style, str(directory / name))
    h = header(report)
    pdf.set_title(report.form.title)
    pdf.set_subject(h["number"])
    pdf.set_author(report.unit.name)
    pdf.set_creator("vnemis")
    pdf.footer_text = f"{h['number']} · {report.unit.name} · {h['year']}"
    pdf.alias_nb_pages()
    pdf.add_page()
    width = pdf.epw
    top = pdf.get_y()
    pdf.set_font(FAMILY, "B", 10)
    pdf.multi_cell(width * 0.5, 5, h["agency"], align="C")
    below_agency = pdf.get_y()
    pdf.set_xy(pdf.l_margin + width * 0.5, top)
    pdf.multi_cell(width * 0.5, 5, h["number"], align="R")
    pdf.set_x(pdf.l_margin + width * 0.5)
    pdf.set_font(FAMILY, "", 9)
    pdf.multi_cell(width * 0.5, 5, h["due"], align="R")
    pdf.set_y(max(pdf.get_y(), below_agency) + 3)
    pdf.set_font(FAMILY, "B", 13)
    pdf.multi_cell(width, 7, h["title"], align="C")
    pdf.set_font(FAMILY, "", 10)
    for key in ("year", "as_of", "unit", "recipient"):
        if h[key]:
            pdf.cell(width, 5.5, h[key], align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)

    bold = FontFace(emphasis="BOLD", fill_color=(232, 238, 247))
    strong = FontFace(emphasis="BOLD")
    plain = FontFace()
    rest = (width - 18 - 118 - 24) / len(COLUMNS)
    pdf.set_font(FAMILY, "", 9)
    with pdf.table(
        col_widths=(18, 118, 24, *([rest] * len(COLUMNS))),
        text_align=("CENTER", "LEFT", "CENTER", *(["RIGHT"] * len(COLUMNS))),
        headings_style=bold,
        line_height=5.2,
        repeat_headings=1,
        width=width,
    ) as table:
        heads = table.row()
        for text in table_heads():
            heads.cell(text, align="CENTER")
        numbering = table.row()
        for text in table_numbering():
            numbering.cell(text, align="CENTER")
        for row, values in report.lines:
            style = strong if (row.is_heading or row.depth == 0) else plain
            line = table.row(style=style)
            line.cell(row.number)
            line.cell(("    " * row.depth) + str(row.label))
            line.cell(str(row.unit_label))
            for column in COLUMNS:
                value = None if values is None else values[column.code]
                line.cell("" if values is None else number_vi(value, ratio=bool(row.ratio)))
    pdf.ln(6)
    pdf.set_font(FAMILY, "B", 10)
    half = width / 2
    pdf.cell(half, 6, _("NGƯỜI LẬP BIỂU"), align="C")
    pdf.cell(half, 6, _("THỦ TRƯỞNG ĐƠN VỊ"), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, "", 9)
    pdf.cell(half, 5, _("(Ký, ghi rõ họ tên)"), align="C")
    pdf.cell(half, 5, _("(Ký, đóng dấu, ghi rõ họ tên)"), align="C")
    return bytes(pdf.output())
