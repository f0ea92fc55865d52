"""Names of the linkage model's fields and comparison levels, as the review page shows them.

The model stores codes (``full_name``, ``exact_ascii``...) in each pair's explanation; the page
translates them, so a Department officer reads Vietnamese and an English reader English.
"""

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


def explanation_rows(explanation: list[dict]) -> list[dict]:
    """Each field's level and weight, labelled in the reader's language."""
    return [
        {
            "field": str(FIELDS.get(row.get("field"), row.get("field", ""))),
            "level": str(LEVELS.get(row.get("level"), row.get("level", ""))),
            "weight": row.get("weight", 0.0),
        }
        for row in explanation or []
    ]
