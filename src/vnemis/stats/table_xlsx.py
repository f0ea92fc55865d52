"""One table and its notes as an XLSX workbook: the download behind every chart and dataset."""

import io

import xlsxwriter
from django.utils.translation import gettext as _


def table_xlsx(header: list, rows, notes: list[tuple], *, width: int = 18) -> bytes:
    """Sheet "Số liệu": the header and rows (None as an empty cell); sheet "Ghi chú": the notes
    as label / text pairs (unit, source, version, legend)."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    bold = book.add_format({"bold": True})
    sheet = book.add_worksheet(_("Số liệu"))
    sheet.write_row(0, 0, header, bold)
    for r, line in enumerate(rows, start=1):
        for c, value in enumerate(line):
            if value is None:
                sheet.write_blank(r, c, None)
            else:
                sheet.write(r, c, value)
    sheet.freeze_panes(1, 0)
    sheet.set_column(0, max(len(header) - 1, 0), width)
    sheet_notes = book.add_worksheet(_("Ghi chú"))
    for r, (label, text) in enumerate(notes):
        sheet_notes.write(r, 0, str(label), bold)
        sheet_notes.write(r, 1, str(text))
    sheet_notes.set_column(0, 0, 22)
    sheet_notes.set_column(1, 1, 90)
    book.close()
    return buffer.getvalue()
