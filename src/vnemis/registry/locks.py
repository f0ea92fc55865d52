"""Write locks on a school's data for a school year, decided by the apps above the registry.

Once a Department has a school's period submission under review or approved, that school's data
for the year must not change underneath it (exchange: period submissions). The registry may not
import those apps (dependencies point down, DESIGN.md §2), so they register a check here when
Django starts, and every registry write action asks before it writes. The bulk engine gets the
same answer as a set (``dataset_load(locked=...)``) to keep its hot path set-wise.
"""

from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

LockCheck = Callable[[int, int], bool]  # (school_id, school_year_id) → locked?

_checks: list[LockCheck] = []


def lock_check_register(check: LockCheck) -> None:
    """Add a check (idempotent: registering the same function twice keeps one)."""
    if check not in _checks:
        _checks.append(check)


def year_data_locked(*, school_id: int, school_year_id: int) -> bool:
    return any(check(school_id, school_year_id) for check in _checks)


def year_data_ensure_unlocked(*, school_id: int, school_year_id: int) -> None:
    """Refuse a write to a school's year data while a registered app holds it locked."""
    if year_data_locked(school_id=school_id, school_year_id=school_year_id):
        raise ValidationError(
            _(
                "Dữ liệu năm học này của trường đang bị khoá vì báo cáo kỳ đã nộp hoặc đã được "
                "duyệt. Đề nghị Sở trả lại báo cáo nếu cần sửa."
            ),
            code="period_locked",
        )
