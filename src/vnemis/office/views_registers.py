"""The registers (sổ đăng ký văn bản đến / đi) of the viewer's organisation, per calendar year,
on a page (in number order, paged) and as an XLSX workbook with the columns of Decree 30/2020
(Appendix IV). Clerks and leaders only."""

from __future__ import annotations

import io

import xlsxwriter
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from . import selectors
from .models import Register
from .numbering import format_number

KINDS = {"incoming": Register.Kind.INCOMING, "outgoing": Register.Kind.OUTGOING}


def _kind_or_404(kind: str) -> str:
    if kind not in KINDS:
        raise Http404(_("Không có sổ này."))
    return KINDS[kind]


def _member(request):
    member = selectors.register_ensure(request.user)
    if member is None:
        raise Http404(_("Tài khoản vận hành không thuộc cơ quan nào."))
    return member


def _priority_note(doc) -> str:
    notes = []
    if doc.confidentiality:
        notes.append(doc.get_confidentiality_display())
    if doc.priority:
        notes.append(doc.get_priority_display())
    return ", ".join(str(n) for n in notes)


def _handler(doc) -> str:
    if getattr(doc, "handler_unit", None):
        return doc.handler_unit
    name = " ".join(
        p for p in (getattr(doc, "handler_last", ""), getattr(doc, "handler_first", "")) if p
    )
    return name or getattr(doc, "handler_login", "") or ""


def register_columns(kind: str) -> list[str]:
    if kind == Register.Kind.INCOMING:
        return [
            _("Ngày đến"), _("Số đến"), _("Tác giả"), _("Số, ký hiệu"), _("Ngày văn bản"),
            _("Tên loại và trích yếu nội dung"), _("Đơn vị hoặc người nhận"), _("Hạn xử lý"),
            _("Ghi chú"),
        ]  # fmt: skip
    return [
        _("Số, ký hiệu văn bản"), _("Ngày văn bản"), _("Tên loại và trích yếu nội dung"),
        _("Người ký"), _("Nơi nhận văn bản"), _("Đơn vị, người nhận bản lưu"),
        _("Số lượng bản"), _("Ghi chú"),
    ]  # fmt: skip


def register_row(kind: str, doc) -> list:
    """One entry as the register's columns (dates as dd/mm/yyyy text)."""
    summary = f"{doc.doc_type.name}: {doc.subject}"
    if kind == Register.Kind.INCOMING:
        arrived = timezone.localtime(doc.arrived_at) if doc.arrived_at else None
        return [
            arrived.strftime("%d/%m/%Y %H:%M") if arrived else "",
            format_number(doc.register_number),
            doc.issuer_name,
            doc.number_notation,
            doc.issued_on.strftime("%d/%m/%Y") if doc.issued_on else "",
            summary,
            _handler(doc),
            doc.due_on.strftime("%d/%m/%Y") if doc.due_on else "",
            _priority_note(doc),
        ]
    signer = ", ".join(p for p in (doc.signer_competence, doc.signer_name) if p)
    return [
        doc.number_notation,
        doc.issued_on.strftime("%d/%m/%Y") if doc.issued_on else "",
        summary,
        signer,
        "; ".join(r.name for r in doc.recipients.all()),
        doc.drafting_unit.name if doc.drafting_unit else "",
        doc.copies,
        _priority_note(doc),
    ]


@login_required
@require_GET
def register_home(request, kind: str):
    _kind_or_404(kind)
    _member(request)
    return redirect("office:register", kind=kind, year=timezone.localdate().year)


@login_required
@require_GET
def register_page(request, kind: str, year: int):
    register_kind = _kind_or_404(kind)
    member = _member(request)
    after = request.GET.get("after", "")
    after_number = int(after) if after.isdigit() and len(after) < 10 else 0
    entries = selectors.register_entries(
        organisation_id=member.organisation_id, kind=register_kind, year=year,
        after=after_number, limit=selectors.REGISTER_PAGE + 1,
    )  # fmt: skip
    more = len(entries) > selectors.REGISTER_PAGE
    entries = entries[: selectors.REGISTER_PAGE]
    years = selectors.register_years(organisation_id=member.organisation_id, kind=register_kind)
    if year not in years:
        years = sorted({*years, year}, reverse=True)
    return render(
        request,
        "office/register.html",
        {
            "kind": kind,
            "year": year,
            "years": years,
            "columns": register_columns(register_kind),
            "rows": [(doc, register_row(register_kind, doc)) for doc in entries],
            "next_after": entries[-1].register_number if more and entries else None,
            "title": Register.Kind(register_kind).label,
            "member": member,
        },
    )


def register_workbook(*, organisation, kind: str, year: int) -> bytes:
    """The whole register of a year as an XLSX workbook: title, columns, one row per entry."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_numbers": False})
    bold = book.add_format({"bold": True, "text_wrap": True, "valign": "top", "border": 1})
    title = book.add_format({"bold": True, "font_size": 14})
    wrap = book.add_format({"text_wrap": True, "valign": "top", "border": 1})
    sheet = book.add_worksheet(str(year))
    columns = register_columns(kind)
    sheet.write(0, 0, f"{Register.Kind(kind).label} {year} — {organisation.name}", title)
    sheet.write_row(2, 0, columns, bold)
    widths = (
        [16, 10, 30, 20, 14, 60, 28, 14, 18]
        if kind == "incoming"
        else [20, 14, 60, 28, 40, 28, 10, 18]
    )
    for i, width in enumerate(widths):
        sheet.set_column(i, i, width)
    row = 3
    for doc in selectors.register_all(organisation_id=organisation.pk, kind=kind, year=year):
        values = register_row(kind, doc)
        for col, value in enumerate(values):
            if isinstance(value, int):
                sheet.write_number(row, col, value, wrap)
            else:
                sheet.write_string(row, col, str(value), wrap)
        row += 1
    sheet.freeze_panes(3, 0)
    sheet.autofilter(2, 0, max(row - 1, 2), len(columns) - 1)
    book.close()
    return buffer.getvalue()


@login_required
@require_GET
def register_xlsx(request, kind: str, year: int):
    register_kind = _kind_or_404(kind)
    member = _member(request)
    data = register_workbook(organisation=member.organisation, kind=register_kind, year=year)
    response = HttpResponse(
        data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    name = f"so-van-ban-{'den' if kind == 'incoming' else 'di'}-{year}.xlsx"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
