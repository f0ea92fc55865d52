"""Forms of the admission pages: the round (Ministry), a programme (institutions), the
programmes file (Ministry), the admission profile (schools and Departments)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from vnemis.exams.forms import DATETIME, DATETIME_FORMATS, _styled

from .catalogue import GROUPS, METHODS, REGIONS
from .models import Combination, Programme


class RoundForm(forms.Form):
    year = forms.IntegerField(label=_("Năm tuyển sinh"), min_value=2020, max_value=2100)
    name = forms.CharField(label=_("Tên đợt xét tuyển"), max_length=200, required=False)
    wishes_open_at = forms.DateTimeField(
        label=_("Mở đăng ký nguyện vọng"), widget=DATETIME, input_formats=DATETIME_FORMATS
    )
    wishes_close_at = forms.DateTimeField(
        label=_("Hạn đăng ký, điều chỉnh nguyện vọng"),
        widget=DATETIME,
        input_formats=DATETIME_FORMATS,
    )
    fee_per_wish = forms.IntegerField(
        label=_("Lệ phí mỗi nguyện vọng (đồng)"), min_value=0, max_value=1_000_000
    )
    confirm_by = forms.DateTimeField(
        label=_("Hạn xác nhận nhập học"),
        widget=DATETIME,
        input_formats=DATETIME_FORMATS,
        required=False,
    )

    def __init__(self, *args, fixed_year: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if fixed_year:
            del self.fields["year"]
        _styled(self)


class ProgrammeForm(forms.Form):
    code = forms.CharField(label=_("Mã xét tuyển"), max_length=20)
    name = forms.CharField(label=_("Tên ngành"), max_length=255)
    combinations = forms.ModelMultipleChoiceField(
        label=_("Tổ hợp xét tuyển"),
        queryset=Combination.objects.all(),
        to_field_name="code",
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )
    weights = forms.CharField(
        label=_("Môn nhân hệ số"),
        required=False,
        help_text=_("Ví dụ TOAN=2; để trống nếu các môn hệ số 1."),
    )
    threshold = forms.DecimalField(
        label=_("Ngưỡng đầu vào (thang 30)"), min_value=0, max_value=30, decimal_places=2
    )
    ties = forms.ChoiceField(
        label=_("Thí sinh bằng điểm ở cuối chỉ tiêu"), choices=Programme.Ties.choices
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for method, label in METHODS.items():
            self.fields[f"quota_{method}"] = forms.IntegerField(
                label=_("Chỉ tiêu: %(method)s") % {"method": label},
                min_value=0,
                max_value=100_000,
                required=method == "exam",
                initial=0,
            )
        _styled(self)

    def clean_weights(self):
        text = self.cleaned_data["weights"].strip()
        weights = {}
        for part in text.replace(",", ";").split(";"):
            if not part.strip():
                continue
            subject, sep, value = part.partition("=")
            if not sep or not value.strip().isdigit():
                raise forms.ValidationError(_("Viết hệ số dạng TOAN=2; N1=2."))
            weights[subject.strip().upper()] = int(value)
        return weights


class ProgrammesFileForm(forms.Form):
    file = forms.FileField(label=_("Tệp CSV danh sách ngành"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _styled(self)


class ProfileForm(forms.Form):
    region = forms.ChoiceField(
        label=_("Khu vực ưu tiên"), choices=[(k, v[1]) for k, v in REGIONS.items()]
    )
    priority_group = forms.ChoiceField(
        label=_("Nhóm đối tượng ưu tiên"),
        choices=[(k, v[1]) for k, v in GROUPS.items()],
        required=False,
    )
    bonus = forms.DecimalField(
        label=_("Điểm cộng"), min_value=0, max_value=3, decimal_places=2, initial=0
    )
    evidence = forms.CharField(label=_("Minh chứng"), max_length=255, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _styled(self)
