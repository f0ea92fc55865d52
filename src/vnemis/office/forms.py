"""Forms of the e-office pages. They turn text into values and say precisely what is wrong;
the rules themselves (rights, states, formats) are in ``actions`` and ``workflow``, whose
refusals the views put back on the form."""

from __future__ import annotations

from django import forms
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _

from vnemis.orgs.models import Organisation

from .actions import recipients_parse
from .actions_errors import OfficeError
from .models import Assignment, Confidentiality, Document, DocumentType, Priority
from .numbering import NotationError, parse_number_notation

DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y"]


def _interpolate(template, label, lower: bool) -> str:
    text = str(label)
    return str(template) % {"label": text.lower() if lower else text}


# Evaluated when shown, in the language of that request (not at import).
_message = lazy(_interpolate, str)


def _date_field(label, *, required: bool, help_text=""):
    return forms.DateField(
        label=label,
        required=required,
        input_formats=DATE_FORMATS,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=help_text,
        error_messages={
            "required": _message(_("Hãy nhập %(label)s."), label, True),
            "invalid": _message(
                _("%(label)s không đúng định dạng ngày (dd/mm/yyyy)."), label, False
            ),
        },
    )


def _required(label) -> dict:
    return {"required": _message(_("Hãy nhập %(label)s."), label, True)}


def _styled(form: forms.Form) -> None:
    """Bootstrap classes on every widget (the project's pages use Bootstrap)."""
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.CheckboxInput):
            css = "form-check-input"
        elif isinstance(widget, forms.Select):
            css = "form-select"
        else:
            css = "form-control"
        widget.attrs["class"] = css


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (appendices)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "application/pdf,.pdf"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data]
        return [single(data, initial)] if data else []


def _pdf_input():
    return forms.ClearableFileInput(attrs={"accept": "application/pdf,.pdf"})


def _type_choices():
    return forms.ModelChoiceField(
        label=_("Loại văn bản"),
        queryset=DocumentType.objects.filter(active=True),
        empty_label=_("— Chọn loại văn bản —"),
        error_messages={
            "required": _("Hãy chọn loại văn bản."),
            "invalid_choice": _("Loại văn bản đã chọn không có trong danh mục."),
        },
    )


def _office_error(form: forms.Form, exc: OfficeError) -> None:
    field = exc.field if exc.field in form.fields else None
    form.add_error(field, exc.message())


class IncomingForm(forms.Form):
    """Registering an arrived document (sổ văn bản đến)."""

    doc_type = _type_choices()
    number_notation = forms.CharField(
        label=_("Số, ký hiệu"),
        required=False,
        max_length=80,
        help_text=_("Ví dụ 123/QĐ-BGDĐT; để trống nếu văn bản không có số."),
    )
    issued_on = _date_field(_("Ngày ban hành"), required=True)
    issuer_name = forms.CharField(
        label=_("Cơ quan ban hành (tác giả)"), required=False, max_length=255
    )
    issuer_code = forms.CharField(
        label=_("Mã cơ quan trong hệ thống"),
        required=False,
        max_length=20,
        help_text=_("Nếu cơ quan ban hành là đơn vị của ngành (ví dụ SGD01)."),
    )
    issuer_organ_id = forms.CharField(
        label=_("Mã định danh cơ quan (OrganId)"), required=False, max_length=50
    )
    subject = forms.CharField(
        label=_("Trích yếu nội dung"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        error_messages=_required(_("Trích yếu nội dung")),
    )
    signer_name = forms.CharField(label=_("Người ký"), required=False, max_length=100)
    signer_position = forms.CharField(label=_("Chức vụ người ký"), required=False, max_length=100)
    place = forms.CharField(label=_("Địa danh"), required=False, max_length=100)
    priority = forms.TypedChoiceField(
        label=_("Độ khẩn"), choices=Priority.choices, coerce=int, initial=Priority.NORMAL
    )
    confidentiality = forms.TypedChoiceField(
        label=_("Độ mật"), choices=Confidentiality.choices, coerce=int, initial=0
    )
    due_on = _date_field(_("Hạn xử lý"), required=False)
    channel = forms.ChoiceField(
        label=_("Hình thức nhận"),
        choices=[c for c in Document.Channel.choices if c[0] != "internal"],
        initial=Document.Channel.PAPER,
    )
    main_file = forms.FileField(label=_("Tệp văn bản (PDF)"), required=False, widget=_pdf_input())
    appendices = MultipleFileField(label=_("Phụ lục, tài liệu kèm theo (PDF)"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _styled(self)

    def clean_number_notation(self):
        text = self.cleaned_data["number_notation"].strip()
        if not text:
            return None
        try:
            return parse_number_notation(text)
        except NotationError as exc:
            raise forms.ValidationError(exc.message_vi if _vi() else exc.message_en) from None

    def clean_issuer_code(self):
        code = self.cleaned_data["issuer_code"].strip()
        if not code:
            return None
        org = Organisation.objects.filter(code=code).first()
        if org is None:
            raise forms.ValidationError(
                _("Không có cơ quan nào mã %(code)s trong hệ thống.") % {"code": code}
            )
        return org

    def clean(self):
        data = super().clean()
        if (
            not data.get("issuer_name")
            and not data.get("issuer_code")
            and not self.has_error("issuer_code")
        ):
            self.add_error("issuer_name", _("Hãy ghi cơ quan ban hành văn bản (tác giả)."))
        return data


def _vi() -> bool:
    from vnemis.core.i18n import english

    return not english()


class DraftForm(forms.Form):
    """An outgoing or internal draft's details (new draft, or editing one)."""

    direction = forms.ChoiceField(
        label=_("Loại"),
        choices=[
            (Document.Direction.OUTGOING, _("Văn bản đi")),
            (Document.Direction.INTERNAL, _("Văn bản nội bộ")),
        ],
        initial=Document.Direction.OUTGOING,
    )
    doc_type = _type_choices()
    drafting_unit = forms.ModelChoiceField(
        label=_("Đơn vị soạn thảo"),
        queryset=None,
        required=False,
        empty_label=_("— Đơn vị của tôi —"),
        error_messages={"invalid_choice": _("Đơn vị đã chọn không thuộc cơ quan.")},
    )
    subject = forms.CharField(
        label=_("Trích yếu nội dung"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        error_messages=_required(_("Trích yếu nội dung")),
    )
    recipients = forms.CharField(
        label=_("Nơi nhận"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "Mỗi dòng một nơi nhận: mã đơn vị trong hệ thống (SGD01), hoặc tên cơ quan, có thể"
            " kèm “| mã định danh”."
        ),
    )
    due_on = _date_field(_("Hạn trả lời"), required=False)
    priority = forms.TypedChoiceField(
        label=_("Độ khẩn"), choices=Priority.choices, coerce=int, initial=Priority.NORMAL
    )
    confidentiality = forms.TypedChoiceField(
        label=_("Độ mật"), choices=Confidentiality.choices, coerce=int, initial=0
    )
    signer_name = forms.CharField(label=_("Người ký"), required=False, max_length=100)
    signer_position = forms.CharField(label=_("Chức vụ người ký"), required=False, max_length=100)
    signer_competence = forms.CharField(
        label=_("Thẩm quyền ký"),
        required=False,
        max_length=100,
        help_text=_("Ví dụ KT. BỘ TRƯỞNG, TL. GIÁM ĐỐC."),
    )
    copies = forms.IntegerField(
        label=_("Số lượng bản"),
        min_value=1,
        max_value=10_000,
        initial=1,
        error_messages={
            "min_value": _("Số lượng bản phải từ 1 trở lên."),
            "max_value": _("Số lượng bản tối đa 10.000."),
            "invalid": _("Số lượng bản phải là số nguyên."),
            "required": _("Hãy nhập số lượng bản."),
        },
    )
    place = forms.CharField(label=_("Địa danh"), required=False, max_length=100)
    main_file = forms.FileField(label=_("Tệp dự thảo (PDF)"), required=False, widget=_pdf_input())
    appendices = MultipleFileField(label=_("Phụ lục (PDF)"), required=False)

    def __init__(self, *args, units=None, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["drafting_unit"].queryset = units
        if editing:
            for name in ("direction", "main_file", "appendices"):
                del self.fields[name]
        _styled(self)

    def clean_recipients(self):
        try:
            return recipients_parse(self.cleaned_data["recipients"])
        except OfficeError as exc:
            raise forms.ValidationError(exc.message()) from None


class UploadForm(forms.Form):
    main_file = forms.FileField(
        label=_("Tệp văn bản mới (PDF)"), required=False, widget=_pdf_input()
    )
    appendices = MultipleFileField(label=_("Thêm phụ lục (PDF)"), required=False)
    note = forms.CharField(label=_("Ghi chú phiên bản"), required=False, max_length=255)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _styled(self)

    def clean(self):
        data = super().clean()
        if not data.get("main_file") and not data.get("appendices") and not self.errors:
            raise forms.ValidationError(_("Hãy chọn ít nhất một tệp PDF."))
        return data


class AssigneeField(forms.ChoiceField):
    """A person (u:<user id>) or a unit (g:<unit id>) of the organisation."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label", _("Giao cho"))
        kwargs.setdefault(
            "error_messages",
            {
                "required": _("Hãy chọn đơn vị hoặc người xử lý."),
                "invalid_choice": _("Người hoặc đơn vị đã chọn không thuộc cơ quan."),
            },
        )
        super().__init__(*args, **kwargs)


def assignee_choices(members, units) -> list:
    people = [
        (f"u:{m.user_id}", f"{m.user.get_full_name() or m.user.get_username()}"
         + (f" — {m.unit.name}" if m.unit else "")
         + (f" ({m.position})" if m.position else ""))
        for m in members
    ]  # fmt: skip
    return [
        ("", _("— Chọn —")),
        (_("Đơn vị"), [(f"g:{u.pk}", u.name) for u in units]),
        (_("Cá nhân"), people),
    ]


def assignee_resolve(value: str, members, units) -> dict:
    kind, _sep, raw = value.partition(":")
    if kind == "u":
        for m in members:
            if str(m.user_id) == raw:
                return {"user": m.user, "unit": None}
    if kind == "g":
        for u in units:
            if str(u.pk) == raw:
                return {"user": None, "unit": u}
    raise forms.ValidationError(_("Người hoặc đơn vị đã chọn không thuộc cơ quan."))


class _AssigneeForm(forms.Form):
    assignee = AssigneeField()

    def __init__(self, *args, members=(), units=(), **kwargs):
        super().__init__(*args, **kwargs)
        self._members, self._units = list(members), list(units)
        self.fields["assignee"].choices = assignee_choices(self._members, self._units)
        _styled(self)

    def clean_assignee(self):
        return assignee_resolve(self.cleaned_data["assignee"], self._members, self._units)


class AssignForm(_AssigneeForm):
    role = forms.ChoiceField(
        label=_("Vai trò"),
        choices=[c for c in Assignment.Role.choices if c[0] != "opinion"],
        initial=Assignment.Role.MAIN,
    )
    deadline = _date_field(_("Hạn xử lý"), required=False)
    instruction = forms.CharField(
        label=_("Ý kiến chỉ đạo"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class ForwardForm(_AssigneeForm):
    deadline = _date_field(_("Hạn xử lý"), required=False)
    instruction = forms.CharField(
        label=_("Ý kiến"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class OpinionRequestForm(_AssigneeForm):
    deadline = _date_field(_("Hạn cho ý kiến"), required=False)
    question = forms.CharField(
        label=_("Nội dung xin ý kiến"),
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("Hãy ghi nội dung xin ý kiến.")},
    )


class TextForm(forms.Form):
    text = forms.CharField(
        label=_("Ý kiến"),
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=5000,
        error_messages={
            "required": _("Hãy ghi ý kiến."),
            "max_length": _("Ý kiến dài tối đa 5.000 ký tự."),
        },
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _styled(self)


class CompleteForm(forms.Form):
    note = forms.CharField(
        label=_("Kết quả xử lý"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _styled(self)


class SubmitForm(forms.Form):
    leader = forms.ChoiceField(
        label=_("Trình lãnh đạo"),
        error_messages={
            "required": _("Hãy chọn lãnh đạo để trình."),
            "invalid_choice": _("Người đã chọn không phải lãnh đạo của cơ quan."),
        },
    )
    note = forms.CharField(
        label=_("Ghi chú khi trình"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, leaders=(), **kwargs):
        super().__init__(*args, **kwargs)
        self._leaders = {str(m.user_id): m.user for m in leaders}
        self.fields["leader"].choices = [("", _("— Chọn lãnh đạo —"))] + [
            (str(m.user_id), (m.user.get_full_name() or m.user.get_username())
             + (f" ({m.position})" if m.position else ""))
            for m in leaders
        ]  # fmt: skip
        _styled(self)

    def clean_leader(self):
        return self._leaders[self.cleaned_data["leader"]]


class SubmissionForwardForm(SubmitForm):
    """The deciding leader hands the submission to another leader (not themself)."""

    def __init__(self, *args, leaders=(), me=None, **kwargs):
        others = [m for m in leaders if me is None or m.user_id != me.pk]
        super().__init__(*args, leaders=others, **kwargs)
        self.fields["leader"].label = _("Chuyển cho lãnh đạo")
        self.fields["note"].label = _("Ghi chú khi chuyển")


class ReturnForm(forms.Form):
    comment = forms.CharField(
        label=_("Ý kiến khi trả lại"),
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("Hãy ghi ý kiến khi trả lại dự thảo.")},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _styled(self)


class SendBackForm(forms.Form):
    reason = forms.CharField(
        label=_("Lý do trả lại"),
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=5000,
        error_messages={
            "required": _("Hãy ghi lý do trả lại văn bản cho nơi gửi."),
            "max_length": _("Lý do dài tối đa 5.000 ký tự."),
        },
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _styled(self)


class ApproveForm(forms.Form):
    signed_file = forms.FileField(
        label=_("Tệp đã ký số (PDF)"),
        widget=_pdf_input(),
        error_messages={"required": _("Hãy chọn tệp PDF đã ký số của văn bản đã trình.")},
    )
    comment = forms.CharField(label=_("Ý kiến"), required=False, max_length=5000)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _styled(self)


class IssueForm(forms.Form):
    issued_on = _date_field(_("Ngày ban hành"), required=False, help_text=_("Để trống: hôm nay."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _styled(self)


def office_error_to_form(form: forms.Form, exc: OfficeError) -> None:
    """Put an action's refusal on the form, on its field when the form has it."""
    _office_error(form, exc)
