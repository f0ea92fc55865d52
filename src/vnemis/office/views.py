"""Pages of the e-office documents: the list, a document's page, registering an incoming
document, drafting an outgoing one, editing a draft, uploading files, downloading them, and
search. Views translate HTTP to the selectors (scoped reads) and actions (writes); a refusal
from an action goes back onto the form (status 400), a missing right is the 403 page, and a
document of another organisation does not exist for the viewer (404).
"""

from __future__ import annotations

from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import actions, selectors
from .actions_errors import OfficeError
from .actions_files import uploads_check
from .exchange_business import business_panel
from .forms import (
    ApproveForm,
    AssignForm,
    CompleteForm,
    DraftForm,
    ForwardForm,
    IncomingForm,
    IssueForm,
    OpinionRequestForm,
    ReturnForm,
    SendBackForm,
    SubmissionForwardForm,
    SubmitForm,
    TextForm,
    UploadForm,
    office_error_to_form,
)
from .forms_recall import recall_forms
from .models import Document
from .search import documents_search


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 12 else None


def document_or_404(request, pk: int) -> Document:
    document = selectors.document_get(viewer=request.user, pk=pk)
    if document is None:
        raise Http404(_("Không tìm thấy văn bản này."))
    return document


def form_uploads(form) -> tuple:
    """(main, appendices) of a form's uploads, checked; OfficeError if one is bad."""
    main = form.cleaned_data.get("main_file")
    extra = form.cleaned_data.get("appendices") or []
    checked = uploads_check(([main] if main else []) + list(extra))
    if main:
        return checked[0], checked[1:]
    return None, checked


# -- list --------------------------------------------------------------------------------------


@login_required
@require_GET
def document_list(request):
    """The viewer's documents, newest first, filtered by direction, status and year."""
    selectors.member_ensure(request.user)
    filters = selectors.DocumentFilters(
        direction=request.GET.get("direction", "")[:10],
        status=request.GET.get("status", "")[:12],
        year=_int(request.GET.get("year")),
    )
    rows, next_before = selectors.documents_page(
        viewer=request.user, filters=filters, before=_int(request.GET.get("before"))
    )
    return render(
        request,
        "office/document_list.html",
        {
            "documents": rows,
            "next_before": next_before,
            "filters": filters,
            "directions": Document.Direction.choices,
            "statuses": Document.Status.choices,
            "member": selectors.member_get(request.user),
        },
    )


# -- one document ------------------------------------------------------------------------------


def _people(document: Document):
    members = list(selectors.members_of(document.organisation_id))
    units = list(selectors.units_of(document.organisation_id))
    return members, units


def auto_id(key: str) -> str:
    """Distinct element ids for the several forms of a document's page."""
    return f"id_{key}_%s"


def detail_render(request, document: Document, *, status: int = 200, bound=None, error=""):
    """The document's page; ``bound`` replaces one action's empty form with the refused one."""
    view = selectors.document_view(viewer=request.user, document=document)
    allowed = selectors.document_permissions(viewer=request.user, view=view)
    members, units = _people(document) if view.owned else ([], [])
    leaders = [m for m in members if m.is_leader]
    bound = bound or {}
    mine = []
    for assignment in view.my_assignments:
        prefix = f"a{assignment.pk}"
        own = {
            "forward": ForwardForm(
                members=members, units=units, prefix=prefix, auto_id=auto_id("forward")
            ),
            "opinion": OpinionRequestForm(
                members=members, units=units, prefix=prefix, auto_id=auto_id("opinion")
            ),
            "complete": CompleteForm(prefix=prefix, auto_id=auto_id("complete")),
            "answer": TextForm(prefix=prefix, auto_id=auto_id("answer")),
        }
        for name in own:
            if (name, assignment.pk) in bound:
                own[name] = bound[(name, assignment.pk)]
        mine.append((assignment, own))
    forms = {
        "assign": AssignForm(members=members, units=units, auto_id=auto_id("assign")),
        "comment": TextForm(auto_id=auto_id("comment")),
        "upload": UploadForm(auto_id=auto_id("upload")),
        "submit": SubmitForm(leaders=leaders, auto_id=auto_id("submit")),
        "return": ReturnForm(auto_id=auto_id("return")),
        "submission_forward": SubmissionForwardForm(
            leaders=leaders, me=request.user, auto_id=auto_id("submission_forward")
        ),
        "send_back": SendBackForm(auto_id=auto_id("send_back")),
        "approve": ApproveForm(auto_id=auto_id("approve")),
        "issue": IssueForm(auto_id=auto_id("issue")),
    }
    forms.update(recall_forms(document))
    forms.update({k: v for k, v in bound.items() if isinstance(k, str)})
    business = business_panel(
        viewer=request.user, document=document, owned=view.owned, member=view.member
    )
    return render(
        request,
        "office/document_detail.html",
        {
            "view": view,
            "doc": document,
            "allowed": allowed,
            "forms": forms,
            "mine": mine,
            "error": error,
            "today": timezone.localdate(),
            "business": business,
        },
        status=status,
    )


@login_required
@require_GET
def document_detail(request, pk: int):
    selectors.member_ensure(request.user)
    return detail_render(request, document_or_404(request, pk))


@login_required
@require_http_methods(["GET", "POST"])
def incoming_new(request):
    """The clerk registers an arrived document in the incoming register."""
    member = selectors.member_ensure(request.user)
    if member is None:
        raise Http404(_("Tài khoản vận hành không thuộc cơ quan nào; hãy dùng tài khoản văn thư."))
    if not (member.is_clerk or member.is_leader):
        raise PermissionDenied(_("Chỉ văn thư hoặc lãnh đạo cơ quan được vào sổ văn bản đến."))
    form = IncomingForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        parsed = data["number_notation"]
        try:
            main, appendices = form_uploads(form)
            document = actions.incoming_register(
                actor=request.user,
                organisation=member.organisation,
                doc_type=data["doc_type"],
                subject=data["subject"],
                issued_on=data["issued_on"],
                issuer=data["issuer_code"],
                issuer_name=data["issuer_name"],
                issuer_organ_id=data["issuer_organ_id"],
                number=parsed.number if parsed else None,
                notation=parsed.notation if parsed else "",
                place=data["place"],
                signer_name=data["signer_name"],
                signer_position=data["signer_position"],
                priority=data["priority"],
                confidentiality=data["confidentiality"],
                due_on=data["due_on"],
                channel=data["channel"],
                main=main,
                appendices=appendices,
            )
        except OfficeError as exc:
            office_error_to_form(form, exc)
        else:
            messages.success(
                request,
                _("Đã vào sổ văn bản đến, số đến %(number)02d/%(year)s.")
                % {"number": document.register_number, "year": document.register.year},
            )
            return redirect("office:document", pk=document.pk)
    return render(
        request,
        "office/document_form.html",
        {"form": form, "mode": "incoming"},
        status=400 if form.errors else 200,
    )


def _draft_values(data: dict) -> dict:
    names = (
        "doc_type", "subject", "drafting_unit", "due_on", "priority", "confidentiality",
        "signer_name", "signer_position", "signer_competence", "copies", "place",
    )  # fmt: skip
    return {n: data[n] for n in names}


def recipients_text(document: Document) -> str:
    """The document's recipients as the draft form's field writes them, one a line."""
    return "\n".join(
        r.organisation.code
        if r.organisation_id
        else (f"{r.name} | {r.organ_id}" if r.organ_id else r.name)
        for r in document.recipients.select_related("organisation")
    )


def _replaced_get(request, member) -> Document | None:
    """The issued outgoing document of the member's organisation that ``?replaces`` names."""
    pk = _int(request.GET.get("replaces") or request.POST.get("replaces"))
    if not pk:
        return None
    replaced = (
        Document.objects.select_related("doc_type")
        .filter(
            pk=pk,
            organisation_id=member.organisation_id,
            direction=Document.Direction.OUTGOING,
            status=Document.Status.ISSUED,
        )
        .first()
    )
    if replaced is None:
        raise Http404(_("Không tìm thấy văn bản đi đã phát hành cần thay thế."))
    return replaced


@login_required
@require_http_methods(["GET", "POST"])
def outgoing_new(request):
    """A member drafts an outgoing or internal document; ``?assignment=<pk>`` drafts the reply
    to the incoming document of that assignment, ``?replaces=<pk>`` a replacement of an issued
    outgoing document (its details copied)."""
    member = selectors.member_ensure(request.user)
    if member is None:
        raise Http404(_("Tài khoản vận hành không thuộc cơ quan nào."))
    replaces = _replaced_get(request, member)
    assignment = None
    reply_to = _int(request.GET.get("assignment") or request.POST.get("assignment"))
    if reply_to:
        from .models import Assignment

        assignment = (
            Assignment.objects.select_related("document")
            .filter(pk=reply_to, organisation_id=member.organisation_id)
            .first()
        )
        if assignment is None:
            raise Http404(_("Không tìm thấy việc được giao này."))
    initial = None
    if assignment is not None:
        initial = {"subject": _("V/v trả lời ") + assignment.document.number_notation}
    elif replaces is not None:
        initial = _draft_values({n: getattr(replaces, n) for n in actions.DRAFT_FIELDS})
        initial["recipients"] = recipients_text(replaces)
    form = DraftForm(
        request.POST or None,
        request.FILES or None,
        units=selectors.units_of(member.organisation_id),
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            main, appendices = form_uploads(form)
            values = _draft_values(data) | {
                "recipients": data["recipients"],
                "direction": data["direction"],
                "main": main,
                "appendices": appendices,
            }
            if assignment is not None:
                from .workflow import reply_draft_create

                document = reply_draft_create(actor=request.user, assignment=assignment, **values)
            else:
                document = actions.outgoing_draft_create(
                    actor=request.user, replaces=replaces, **values
                )
        except OfficeError as exc:
            office_error_to_form(form, exc)
        else:
            messages.success(request, _("Đã tạo dự thảo."))
            return redirect("office:document", pk=document.pk)
    return render(
        request,
        "office/document_form.html",
        {"form": form, "mode": "outgoing", "assignment": assignment, "replaces": replaces},
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def document_edit(request, pk: int):
    """The drafter (or a leader) changes a draft's details."""
    selectors.member_ensure(request.user)
    document = document_or_404(request, pk)
    view = selectors.document_view(viewer=request.user, document=document)
    if not selectors.document_permissions(viewer=request.user, view=view).edit:
        raise PermissionDenied(
            _("Chỉ người soạn thảo hoặc lãnh đạo sửa được dự thảo, khi chưa trình hoặc bị trả lại.")
        )
    units = selectors.units_of(document.organisation_id)
    initial = _draft_values({n: getattr(document, n) for n in actions.DRAFT_FIELDS})
    initial["recipients"] = recipients_text(document)
    form = DraftForm(request.POST or None, units=units, editing=True, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            actions.draft_update(
                actor=request.user, document=document, recipients=data["recipients"],
                **_draft_values(data),
            )  # fmt: skip
        except OfficeError as exc:
            office_error_to_form(form, exc)
        else:
            messages.success(request, _("Đã lưu dự thảo."))
            return redirect("office:document", pk=document.pk)
    return render(
        request,
        "office/document_form.html",
        {"form": form, "mode": "edit", "doc": document},
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def document_upload(request, pk: int):
    """A new version of the document's files."""
    selectors.member_ensure(request.user)
    document = document_or_404(request, pk)
    form = UploadForm(request.POST, request.FILES, auto_id=auto_id("upload"))
    if form.is_valid():
        try:
            main, appendices = form_uploads(form)
            version = actions.document_version_add(
                actor=request.user, document=document, main=main, appendices=appendices,
                note=form.cleaned_data["note"],
            )  # fmt: skip
        except OfficeError as exc:
            office_error_to_form(form, exc)
        else:
            messages.success(request, _("Đã lưu phiên bản %(n)s.") % {"n": version.number})
            return redirect("office:document", pk=document.pk)
    return detail_render(
        request, document, status=400, bound={"upload": form},
        error=_("Không tải tệp lên được."),
    )  # fmt: skip


@login_required
@require_GET
def attachment_download(request, pk: int):
    """One file of a document the viewer may see."""
    selectors.member_ensure(request.user)
    attachment = selectors.attachment_get(viewer=request.user, pk=pk)
    if attachment is None:
        raise Http404(_("Không tìm thấy tệp này."))
    response = HttpResponse(bytes(attachment.blob.data), content_type="application/pdf")
    inline = request.GET.get("inline") == "1"
    ascii_name = attachment.name.encode("ascii", "ignore").decode() or "van-ban.pdf"
    ascii_name = ascii_name.replace('"', "")
    response["Content-Disposition"] = (
        f'{"inline" if inline else "attachment"}; filename="{ascii_name}"; '
        f"filename*=UTF-8''{quote(attachment.name)}"
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


# -- search ------------------------------------------------------------------------------------


@login_required
@require_GET
def search(request):
    """Full-text search, diacritics-insensitive, over the viewer's documents and their files."""
    selectors.member_ensure(request.user)
    q = request.GET.get("q", "")[:200]
    direction = request.GET.get("direction", "")[:10]
    year = _int(request.GET.get("year"))
    rows, next_before, words = documents_search(
        viewer=request.user, q=q, direction=direction, year=year,
        before=_int(request.GET.get("before")),
    )  # fmt: skip
    return render(
        request,
        "office/search.html",
        {
            "q": q,
            "direction": direction,
            "year": year or "",
            "documents": rows,
            "next_before": next_before,
            "words": words,
            "directions": Document.Direction.choices,
            "member": selectors.member_get(request.user),
        },
    )
