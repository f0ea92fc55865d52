"""The forms of a document's recall (thu hồi) and update: asking the recipients to recall it,
the receiving leader's agreement or refusal, and sending them corrected details or files. The
actions (``exchange_business``) check again."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .exchange_business import UPDATE_FIELDS
from .forms import DraftForm, _styled
from .models import Document


def _auto_id(key: str) -> str:
    return f"id_{key}_%s"


class RecallRequestForm(forms.Form):
    reason = forms.CharField(
        label=_("Lý do thu hồi"),
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        error_messages={
            "required": _("Hãy ghi lý do thu hồi văn bản."),
            "max_length": _("Lý do dài tối đa 2.000 ký tự."),
        },
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", _auto_id("recall"))
        super().__init__(*args, **kwargs)
        _styled(self)


class RecallAgreeForm(forms.Form):
    comment = forms.CharField(
        label=_("Ý kiến (không bắt buộc)"),
        required=False,
        max_length=2000,
        error_messages={"max_length": _("Ý kiến dài tối đa 2.000 ký tự.")},
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", _auto_id("recall_agree"))
        super().__init__(*args, **kwargs)
        _styled(self)


class RecallRefuseForm(forms.Form):
    reason = forms.CharField(
        label=_("Lý do từ chối thu hồi"),
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        error_messages={
            "required": _("Hãy ghi lý do từ chối thu hồi."),
            "max_length": _("Lý do dài tối đa 2.000 ký tự."),
        },
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", _auto_id("recall_refuse"))
        super().__init__(*args, **kwargs)
        _styled(self)


class UpdateSendForm(forms.Form):
    """Corrected details (the draft form's own fields, filled with the document's values) and
    files of an issued document, with what changed and why (BussinessDocType 2)."""

    reason = forms.CharField(
        label=_("Nội dung cập nhật"),
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        help_text=_("Nơi nhận đọc nội dung này cùng văn bản đã cập nhật."),
        error_messages={
            "required": _("Hãy ghi nội dung cập nhật."),
            "max_length": _("Nội dung cập nhật dài tối đa 2.000 ký tự."),
        },
    )
    subject = DraftForm.base_fields["subject"]
    due_on = DraftForm.base_fields["due_on"]
    priority = DraftForm.base_fields["priority"]
    signer_name = DraftForm.base_fields["signer_name"]
    signer_position = DraftForm.base_fields["signer_position"]
    signer_competence = DraftForm.base_fields["signer_competence"]
    main_file = forms.FileField(
        label=_("Thay tệp văn bản (PDF)"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,.pdf"}),
    )
    appendices = DraftForm.base_fields["appendices"]

    def __init__(self, *args, document: Document | None = None, **kwargs):
        kwargs.setdefault("auto_id", _auto_id("update"))
        if document is not None:
            kwargs.setdefault("initial", {n: getattr(document, n) for n in UPDATE_FIELDS})
        super().__init__(*args, **kwargs)
        for name in UPDATE_FIELDS:  # the values shown travel with the form: see changes()
            self.fields[name].show_hidden_initial = True
        _styled(self)

    def changes(self) -> dict:
        """Only the details the user changed on the page: a field left as shown is not sent,
        so a page opened before someone else's correction does not undo it."""
        return {
            name: self.cleaned_data[name] for name in UPDATE_FIELDS if name in self.changed_data
        }


def recall_forms(document: Document | None = None) -> dict:
    """The empty forms of the document page (a refused one replaces its own)."""
    return {
        "recall": RecallRequestForm(),
        "recall_agree": RecallAgreeForm(),
        "recall_refuse": RecallRefuseForm(),
        "update": UpdateSendForm(document=document),
    }
