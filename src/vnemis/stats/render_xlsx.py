"""A report form as an XLSX workbook (xlsxwriter): the regime's header, merged, numbered heads,
frozen panes, Vietnamese number formats, and the signature block."""

import io

import xlsxwriter
from django.utils.translation import gettext as _

from .forms.display import header, table_heads, table_numbering
from .forms.reports import Report
from .forms.spec import COLUMNS


def report_xlsx(report: Report) -> bytes:
    """The workbook's bytes: one sheet named after the form."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    book.set_properties(
        {"title": report.form.title, "subject": report.form.number, "company": report.unit.name}
    )
    sheet = book.add_worksheet(report.form.code)
    font = {"font_name": "Times New Roman", "font_size": 11}
    f = {
        "agency": book.add_format({**font, "bold": True, "align": "center", "text_wrap": True,
                                   "valign": "top"}),
        "number": book.add_format({**font, "bold": True, "align": "right", "valign": "top",
                                   "text_wrap": True}),
        "title": book.add_format({**font, "bold": True, "font_size": 13, "align": "center"}),
        "center": book.add_format({**font, "align": "center"}),
        "italic": book.add_format({**font, "italic": True, "align": "center"}),
        "head": book.add_format({**font, "bold": True, "align": "center", "valign": "vcenter",
                                 "border": 1, "text_wrap": True, "bg_color": "#E8EEF7"}),
        "numbering": book.add_format({**font, "italic": True, "align": "center", "border": 1}),
        "stt": book.add_format({**font, "align": "center", "border": 1}),
        "stt_b": book.add_format({**font, "bold": True, "align": "center", "border": 1}),
        "label": book.add_format({**font, "border": 1, "text_wrap": True}),
        "label_b": book.add_format({**font, "bold": True, "border": 1, "text_wrap": True}),
        "unit": book.add_format({**font, "align": "center", "border": 1}),
        "count": book.add_format({**font, "border": 1, "num_format": "#,##0"}),
        "ratio": book.add_format({**font, "border": 1, "num_format": "#,##0.00"}),
        "blank": book.add_format({**font, "border": 1}),
        "sign": book.add_format({**font, "bold": True, "align": "center"}),
    }  # fmt: skip
    last = 2 + len(COLUMNS)  # A..F
    sheet.set_column(0, 0, 8)
    sheet.set_column(1, 1, 52)
    sheet.set_column(2, 2, 11)
    sheet.set_column(3, last, 15)
    h = header(report)
    sheet.set_row(0, 45)
    sheet.merge_range(0, 0, 0, 2, h["agency"], f["agency"])
    sheet.merge_range(0, 3, 0, last, h["number"] + "\n" + h["due"], f["number"])
    sheet.merge_range(2, 0, 2, last, h["title"], f["title"])
    sheet.merge_range(3, 0, 3, last, h["year"], f["center"])
    sheet.merge_range(4, 0, 4, last, h["as_of"], f["italic"])
    sheet.merge_range(5, 0, 5, last, h["unit"], f["center"])
    sheet.merge_range(6, 0, 6, last, h["recipient"], f["center"])
    head_row = 8
    sheet.set_row(head_row, 32)
    for col, text in enumerate(table_heads()):
        sheet.write(head_row, col, text, f["head"])
    for col, text in enumerate(table_numbering()):
        sheet.write(head_row + 1, col, text, f["numbering"])
    r = head_row + 2
    for row, values in report.lines:
        bold = row.is_heading or row.depth == 0
        sheet.write_string(r, 0, row.number, f["stt_b" if bold else "stt"])
        label = ("   " * row.depth) + str(row.label)
        sheet.write_string(r, 1, label, f["label_b" if bold else "label"])
        sheet.write_string(r, 2, str(row.unit_label), f["unit"])
        for j, column in enumerate(COLUMNS, start=3):
            value = None if values is None else values[column.code]
            if value is None:
                sheet.write_blank(r, j, None, f["blank"])
            else:
                sheet.write_number(r, j, value, f["ratio" if row.ratio else "count"])
        r += 1
    # Frozen below the numbered heads and right of the labels.
    sheet.freeze_panes(head_row + 2, 3)
    sheet.repeat_rows(head_row, head_row + 1)
    sheet.set_landscape()
    sheet.set_paper(9)  # A4
    sheet.fit_to_pages(1, 0)
    sheet.set_footer("&C" + _("Trang &P/&N"))
    r += 1
    sheet.merge_range(r, 0, r, 2, _("NGƯỜI LẬP BIỂU"), f["sign"])
    sheet.merge_range(r, 3, r, last, _("THỦ TRƯỞNG ĐƠN VỊ"), f["sign"])
    sheet.merge_range(r + 1, 0, r + 1, 2, _("(Ký, ghi rõ họ tên)"), f["italic"])
    sheet.merge_range(r + 1, 3, r + 1, last, _("(Ký, đóng dấu, ghi rõ họ tên)"), f["italic"])
    book.close()
    return out.getvalue()
