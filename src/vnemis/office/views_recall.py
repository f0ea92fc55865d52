"""The document page's recall and update buttons: the issuer asks its recipients to recall a
document it sent through the exchange, or sends them a corrected one; the receiving leader
agrees to a recall or refuses it. Thin: the work and the rights are in ``exchange_business``;
a refusal goes back onto the form (400), a missing right is the 403 page, another
organisation's document a 404."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import exchange_business, selectors
from .actions import _rights_ensure
from .actions_errors import OfficeError
from .forms import office_error_to_form
from .forms_recall import RecallAgreeForm, RecallRefuseForm, RecallRequestForm, UpdateSendForm
from .views import detail_render, document_or_404, form_uploads


def _run(request, pk: int, form_class, *, key: str, run, done: str, refused: str):
    selectors.member_ensure(request.user)
    document = document_or_404(request, pk)
    form = form_class(request.POST, request.FILES)
    if form.is_valid():
        try:
            run(document, form)
        except OfficeError as exc:
            office_error_to_form(form, exc)
        else:
            messages.success(request, done)
            return redirect("office:document", pk=document.pk)
    return detail_render(request, document, status=400, bound={key: form}, error=refused)


@login_required
@require_POST
def recall_request(request, pk: int):
    """Ask the partners the document reached to recall it (clerks and leaders)."""
    return _run(
        request,
        pk,
        RecallRequestForm,
        key="recall",
        done=_("Đã gửi đề nghị thu hồi văn bản tới các nơi nhận."),
        refused=_("Chưa gửi được đề nghị thu hồi."),
        run=lambda document, form: exchange_business.document_recall_request(
            actor=request.user, document=document, reason=form.cleaned_data["reason"]
        ),
    )


@login_required
@require_POST
def recall_agree(request, pk: int):
    """The receiving leader agrees to the sender's recall."""
    return _run(
        request,
        pk,
        RecallAgreeForm,
        key="recall_agree",
        done=_("Đã đồng ý thu hồi; văn bản được đánh dấu đã thu hồi và nơi gửi được báo."),
        refused=_("Chưa đồng ý thu hồi được."),
        run=lambda document, form: exchange_business.recall_agree(
            actor=request.user, document=document, comment=form.cleaned_data["comment"]
        ),
    )


@login_required
@require_POST
def recall_refuse(request, pk: int):
    """The receiving leader refuses the sender's recall, with the reason."""
    return _run(
        request,
        pk,
        RecallRefuseForm,
        key="recall_refuse",
        done=_("Đã từ chối thu hồi; nơi gửi được báo lý do."),
        refused=_("Chưa từ chối thu hồi được."),
        run=lambda document, form: exchange_business.recall_refuse(
            actor=request.user, document=document, reason=form.cleaned_data["reason"]
        ),
    )


@login_required
@require_POST
def update_send(request, pk: int):
    """Send the recipients corrected details and/or files of the document (clerks, leaders)."""

    def run(document, form):
        _rights_ensure(request.user, document.organisation_id, leader=True, clerk=True)
        main, appendices = form_uploads(form)  # the files are read only for those who may
        exchange_business.document_update_send(
            actor=request.user, document=document, reason=form.cleaned_data["reason"],
            main=main, appendices=appendices, **form.changes(),
        )  # fmt: skip

    return _run(
        request,
        pk,
        UpdateSendForm,
        key="update",
        done=_("Đã gửi văn bản cập nhật tới các nơi nhận."),
        refused=_("Chưa gửi được văn bản cập nhật."),
        run=run,
    )
