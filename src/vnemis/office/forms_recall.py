"""The forms of a document's recall (thu hồi): asking the recipients to recall it, and the
receiving leader's agreement or refusal. The actions (``exchange_business``) check again."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .forms import _styled


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


def recall_forms() -> dict:
    """The empty forms of the document page (a refused one replaces its own)."""
    return {
        "recall": RecallRequestForm(),
        "recall_agree": RecallAgreeForm(),
        "recall_refuse": RecallRefuseForm(),
    }
