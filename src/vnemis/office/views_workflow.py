"""Pages and form posts of the handling workflow: the inbox, the leader's dashboard, and the
transitions (assign, forward, ask and give opinions, comment, complete, submit, return, approve
by signing, issue). Each post calls one ``workflow`` or ``actions`` function; a refusal
re-renders the document's page with the refused form and its message (400)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from . import actions, selectors, workflow
from .actions_errors import OfficeError
from .actions_files import upload_read
from .forms import (
    ApproveForm,
    AssignForm,
    CompleteForm,
    ForwardForm,
    IssueForm,
    OpinionRequestForm,
    ReturnForm,
    SendBackForm,
    SubmissionForwardForm,
    SubmitForm,
    TextForm,
    office_error_to_form,
)
from .models import Assignment, Document, Submission
from .views import _people, auto_id, detail_render, document_or_404


@login_required
@require_GET
def inbox(request):
    """What waits for the viewer, overdue first."""
    member = selectors.member_ensure(request.user)
    box = selectors.inbox(viewer=request.user)
    return render(
        request,
        "office/inbox.html",
        {"box": box, "member": member, "today": timezone.localdate()},
    )


@login_required
@require_GET
def dashboard(request):
    """The leader's view: documents by status, open and overdue work per unit."""
    board = selectors.leader_dashboard(viewer=request.user)
    labels = dict(Document.Direction.choices)
    return render(
        request,
        "office/dashboard.html",
        {
            "board": board,
            "labels": labels,
            "member": selectors.member_get(request.user),
            "today": timezone.localdate(),
        },
    )


def _refused(request, document, *, key, form, what: str):
    return detail_render(request, document, status=400, bound={key: form}, error=what)


def _form_step(request, document, form, *, key, run, done: str, refused: str):
    """The shape of every workflow form: a valid form runs its step (``run(cleaned_data)``);
    a refusal from the step lands on the form; then the document page, or the form again."""
    if form.is_valid():
        try:
            run(form.cleaned_data)
        except OfficeError as exc:
            office_error_to_form(form, exc)
        else:
            return _done(request, document, done)
    return _refused(request, document, key=key, form=form, what=refused)


def _done(request, document, message: str):
    messages.success(request, message)
    return redirect("office:document", pk=document.pk)


@login_required
@require_POST
def assign(request, pk: int):
    selectors.member_ensure(request.user)
    document = document_or_404(request, pk)
    members, units = _people(document)
    form = AssignForm(request.POST, members=members, units=units, auto_id=auto_id("assign"))
    return _form_step(
        request,
        document,
        form,
        key="assign",
        done=_("Đã giao xử lý văn bản."),
        refused=_("Chưa giao được việc."),
        run=lambda data: workflow.assignment_create(
            actor=request.user,
            document=document,
            role=data["role"],
            deadline=data["deadline"],
            instruction=data["instruction"],
            **data["assignee"],
        ),
    )


@login_required
@require_POST
def comment(request, pk: int):
    selectors.member_ensure(request.user)
    document = document_or_404(request, pk)
    form = TextForm(request.POST, auto_id=auto_id("comment"))
    return _form_step(
        request,
        document,
        form,
        key="comment",
        done=_("Đã ghi ý kiến."),
        refused=_("Chưa ghi được ý kiến."),
        run=lambda data: workflow.document_comment(
            actor=request.user, document=document, text=form.cleaned_data["text"]
        ),
    )


@login_required
@require_POST
def send_back(request, pk: int):
    selectors.member_ensure(request.user)
    document = document_or_404(request, pk)
    form = SendBackForm(request.POST, auto_id=auto_id("send_back"))
    return _form_step(
        request,
        document,
        form,
        key="send_back",
        done=_("Đã trả lại văn bản cho nơi gửi."),
        refused=_("Chưa trả lại được văn bản."),
        run=lambda data: workflow.incoming_send_back(
            actor=request.user, document=document, reason=data["reason"]
        ),
    )


def _my_assignment(request, pk: int) -> Assignment:
    member = selectors.member_ensure(request.user)
    found = Assignment.objects.select_related("document").filter(pk=pk)
    if member is not None:
        found = found.filter(organisation_id=member.organisation_id)
    assignment = found.first()
    if (
        assignment is None
        or selectors.document_get(viewer=request.user, pk=assignment.document_id) is None
    ):
        raise Http404(_("Không tìm thấy việc được giao này."))
    return assignment


@login_required
@require_POST
def assignment_forward(request, pk: int):
    assignment = _my_assignment(request, pk)
    document = assignment.document
    members, units = _people(document)
    form = ForwardForm(
        request.POST, members=members, units=units, prefix=f"a{pk}", auto_id=auto_id("forward")
    )
    return _form_step(
        request,
        document,
        form,
        key=("forward", pk),
        done=_("Đã chuyển tiếp."),
        refused=_("Chưa chuyển tiếp được."),
        run=lambda data: workflow.assignment_forward(
            actor=request.user,
            assignment=assignment,
            deadline=data["deadline"],
            instruction=data["instruction"],
            **data["assignee"],
        ),
    )


@login_required
@require_POST
def assignment_opinion(request, pk: int):
    assignment = _my_assignment(request, pk)
    document = assignment.document
    members, units = _people(document)
    form = OpinionRequestForm(
        request.POST, members=members, units=units, prefix=f"a{pk}", auto_id=auto_id("opinion")
    )
    return _form_step(
        request,
        document,
        form,
        key=("opinion", pk),
        done=_("Đã gửi xin ý kiến."),
        refused=_("Chưa xin được ý kiến."),
        run=lambda data: workflow.opinion_request(
            actor=request.user,
            assignment=assignment,
            deadline=data["deadline"],
            question=data["question"],
            **data["assignee"],
        ),
    )


@login_required
@require_POST
def opinion_give(request, pk: int):
    assignment = _my_assignment(request, pk)
    document = assignment.document
    form = TextForm(request.POST, prefix=f"a{pk}", auto_id=auto_id("answer"))
    return _form_step(
        request,
        document,
        form,
        key=("answer", pk),
        done=_("Đã gửi ý kiến."),
        refused=_("Chưa gửi được ý kiến."),
        run=lambda data: workflow.opinion_give(
            actor=request.user, assignment=assignment, text=form.cleaned_data["text"]
        ),
    )


@login_required
@require_POST
def assignment_complete(request, pk: int):
    assignment = _my_assignment(request, pk)
    document = assignment.document
    form = CompleteForm(request.POST, prefix=f"a{pk}", auto_id=auto_id("complete"))
    return _form_step(
        request,
        document,
        form,
        key=("complete", pk),
        done=_("Đã hoàn thành xử lý."),
        refused=_("Chưa hoàn thành được."),
        run=lambda data: workflow.assignment_complete(
            actor=request.user, assignment=assignment, note=form.cleaned_data["note"]
        ),
    )


@login_required
@require_POST
def submit(request, pk: int):
    selectors.member_ensure(request.user)
    document = document_or_404(request, pk)
    form = SubmitForm(
        request.POST,
        leaders=selectors.leaders_of(document.organisation_id),
        auto_id=auto_id("submit"),
    )
    return _form_step(
        request,
        document,
        form,
        key="submit",
        done=_("Đã trình lãnh đạo."),
        refused=_("Chưa trình được."),
        run=lambda data: workflow.submission_create(
            actor=request.user,
            document=document,
            leader=form.cleaned_data["leader"],
            note=form.cleaned_data["note"],
        ),
    )


def _submission(request, pk: int) -> Submission:
    selectors.member_ensure(request.user)
    submission = Submission.objects.select_related("document", "version").filter(pk=pk).first()
    if (
        submission is None
        or selectors.document_get(viewer=request.user, pk=submission.document_id) is None
    ):
        raise Http404(_("Không tìm thấy tờ trình này."))
    return submission


@login_required
@require_POST
def submission_return(request, pk: int):
    submission = _submission(request, pk)
    document = submission.document
    form = ReturnForm(request.POST, auto_id=auto_id("return"))
    return _form_step(
        request,
        document,
        form,
        key="return",
        done=_("Đã trả lại dự thảo cho người soạn."),
        refused=_("Chưa trả lại được."),
        run=lambda data: workflow.submission_return(
            actor=request.user, submission=submission, comment=form.cleaned_data["comment"]
        ),
    )


@login_required
@require_POST
def submission_forward(request, pk: int):
    """The deciding leader hands the submission to another leader."""
    submission = _submission(request, pk)
    document = submission.document
    members, _units = _people(document)
    form = SubmissionForwardForm(
        request.POST,
        leaders=[m for m in members if m.is_leader],
        me=request.user,
        auto_id=auto_id("submission_forward"),
    )
    return _form_step(
        request,
        document,
        form,
        key="submission_forward",
        done=_("Đã chuyển dự thảo cho lãnh đạo khác duyệt."),
        refused=_("Chưa chuyển được."),
        run=lambda data: workflow.submission_forward(
            actor=request.user, submission=submission, leader=data["leader"], note=data["note"]
        ),
    )


@login_required
@require_POST
def submission_approve(request, pk: int):
    """The leader approves by uploading the submitted PDF they signed (with their own signing
    tool); signing on the server connects to the same ``approve_by_signing``."""
    submission = _submission(request, pk)
    document = submission.document
    form = ApproveForm(request.POST, request.FILES, auto_id=auto_id("approve"))
    if form.is_valid():
        try:
            name, data = upload_read(form.cleaned_data["signed_file"])
            workflow.approve_by_signing(
                actor=request.user, submission=submission, signed_pdf=data, file_name=name,
                comment=form.cleaned_data["comment"],
            )  # fmt: skip
        except OfficeError as exc:
            exc.field = "signed_file"
            office_error_to_form(form, exc)
        else:
            return _done(request, document, _("Đã ký duyệt văn bản."))
    return _refused(request, document, key="approve", form=form, what=_("Chưa ký duyệt được."))


@login_required
@require_POST
def issue(request, pk: int):
    selectors.member_ensure(request.user)
    document = document_or_404(request, pk)
    form = IssueForm(request.POST, auto_id=auto_id("issue"))
    if form.is_valid():
        try:
            document = actions.outgoing_issue(
                actor=request.user, document=document, issued_on=form.cleaned_data["issued_on"]
            )
        except OfficeError as exc:
            office_error_to_form(form, exc)
        else:
            return _done(
                request,
                document,
                _("Đã cấp số %(number)s và phát hành.") % {"number": document.number_notation},
            )
    return _refused(request, document, key="issue", form=form, what=_("Chưa cấp số được."))
