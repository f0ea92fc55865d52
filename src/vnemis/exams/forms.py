"""Forms of the exam pages: session settings (Ministry) and the file upload."""

from django import forms
from django.utils.translation import gettext_lazy as _

from vnemis.core.i18n import pick
from vnemis.registry.models import SchoolYear

from .models import ExamImport, ExamSubject

DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%d/%m/%Y %H:%M"]


def _styled(form: forms.Form) -> None:
    """Bootstrap classes on every widget (the project's pages use Bootstrap)."""
    for field in form.fields.values():
        widget = field.widget
        css = "form-select" if isinstance(widget, forms.Select) else "form-control"
        if isinstance(widget, forms.CheckboxInput):
            css = "form-check-input"
        widget.attrs["class"] = css


class SessionForm(forms.Form):
    year = forms.IntegerField(label=_("Năm thi"), min_value=2020, max_value=2100)
    name = forms.CharField(label=_("Tên kỳ thi"), max_length=200, required=False)
    school_year = forms.ModelChoiceField(
        label=_("Năm học của học sinh lớp 12"), queryset=SchoolYear.objects.order_by("-start_year")
    )
    registration_opens_at = forms.DateTimeField(
        label=_("Mở đăng ký"), widget=DATETIME, input_formats=DATETIME_FORMATS
    )
    registration_closes_at = forms.DateTimeField(
        label=_("Hạn đăng ký"), widget=DATETIME, input_formats=DATETIME_FORMATS
    )
    results_publish_at = forms.DateTimeField(
        label=_("Thời điểm công bố kết quả"),
        widget=DATETIME,
        input_formats=DATETIME_FORMATS,
        required=False,
    )
    electives_required = forms.IntegerField(
        label=_("Số môn tự chọn"), min_value=1, max_value=4, initial=2
    )
    room_capacity = forms.IntegerField(
        label=_("Sức chứa mặc định của phòng thi"), min_value=1, max_value=100, initial=24
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _styled(self)


class SessionSettingsForm(SessionForm):
    """The same fields; the year and the school year are fixed once a session exists."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("year", "school_year"):
            self.fields[name].disabled = True
            self.fields[name].required = False


class ImportForm(forms.Form):
    kind = forms.ChoiceField(label=_("Loại tệp"), choices=ExamImport.Kind.choices)
    subject = forms.ChoiceField(label=_("Môn (với tệp điểm của một môn)"), required=False)
    mode = forms.ChoiceField(
        label=_("Chế độ"), choices=ExamImport.Mode.choices, initial=ExamImport.Mode.APPLY_VALID
    )
    dry_run = forms.BooleanField(label=_("Kiểm tra thử, không ghi dữ liệu"), required=False)
    file = forms.FileField(label=_("Tệp CSV hoặc XLSX"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["subject"].choices = [("", _("Mọi môn trong tệp"))] + [
            (s.code, f"{s.code} - {pick(s.name_vi, s.name_en)}")
            for s in ExamSubject.objects.filter(active=True)
        ]
        _styled(self)
