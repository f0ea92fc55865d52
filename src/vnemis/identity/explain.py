"""Names of the linkage model's fields and comparison levels, as the review page shows them.

The model stores codes (``full_name``, ``exact_ascii``...) in each pair's explanation; the page
translates them, so a Department officer reads Vietnamese and an English reader English.
"""

from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

FIELDS = {
    "full_name": _("Họ tên"),
    "given_name": _("Tên"),
    "family_name": _("Họ"),
    "birth_date": _("Ngày sinh"),
    "sex": _("Giới tính"),
    "birth_province": _("Nơi sinh"),
    "parents": _("Tên cha mẹ"),
    "father_name": _("Họ tên cha"),
    "mother_name": _("Họ tên mẹ"),
    "prior": _("Tỷ lệ trùng khớp ban đầu"),
}
LEVELS = {
    "null": _("Thiếu dữ liệu, không tính"),
    "exact": _("Khớp chính xác"),
    "exact_ascii": _("Khớp khi bỏ dấu"),
    "tokens": _("Cùng các chữ, khác thứ tự"),
    "close": _("Gần giống"),
    "similar": _("Hơi giống"),
    "given_and_family": _("Khớp họ và tên, khác tên đệm"),
    "swapped": _("Đảo ngày và tháng"),
    "year_month": _("Cùng tháng và năm"),
    "within_year": _("Lệch dưới một năm"),
    "else": _("Khác"),
}


# The linkage model's own Vietnamese labels (``linkage/model.py``), kept for the catalogue.
MODEL_LABELS = (
    gettext_noop("Họ tên"),
    gettext_noop("Nơi sinh (tỉnh)"),
    gettext_noop("Chỉ tên khớp"),
    gettext_noop("Cùng chữ, khác dấu"),
    gettext_noop("Cùng các chữ, khác thứ tự"),
    gettext_noop("Cùng tháng và năm"),
    gettext_noop("Gần giống (Jaro-Winkler ≥ 0,92)"),
    gettext_noop("Họ và tên khớp, tên đệm khác"),
    gettext_noop("Khác"),
    gettext_noop("Khớp"),
    gettext_noop("Khớp (không dấu)"),
    gettext_noop("Khớp chính xác"),
    gettext_noop("Khớp, một bên không dấu"),
    gettext_noop("Sai một ký tự"),
    gettext_noop("Thiếu giới tính"),
    gettext_noop("Thiếu họ tên"),
    gettext_noop("Thiếu ngày sinh"),
    gettext_noop("Thiếu ở một bên"),
    gettext_noop("Đảo ngày và tháng"),
)


def _label(table: dict, value: str) -> str:
    """A code's label, or the model's own label (several joined by " / ") translated."""
    if value in table:
        return str(table[value])
    return " / ".join(gettext(part) for part in (value or "").split(" / "))


def explanation_rows(explanation: list[dict]) -> list[dict]:
    """Each field's level and weight, labelled in the reader's language."""
    return [
        {
            "field": _label(FIELDS, row.get("field", "")),
            "level": _label(LEVELS, row.get("level", "")),
            "weight": row.get("weight", 0.0),
        }
        for row in explanation or []
    ]
