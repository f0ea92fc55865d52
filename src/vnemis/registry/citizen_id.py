"""Structure checks of the 12-digit citizen ID (CCCD) against date of birth and sex (DOMAIN.md §3)."""

from datetime import date

from .reference import cccd_province_codes


def century_sex_digit(birth_date: date, sex: str) -> int:
    """1900s: 0 male / 1 female; 2000s: 2/3; 2100s: 4/5; 1800s: 8/9 (wraps)."""
    century_index = (birth_date.year // 100 - 19) % 5
    return century_index * 2 + (1 if sex == "F" else 0)


def citizen_id_problems(citizen_id: str, *, birth_date: date | None, sex: str | None) -> list[str]:
    """Problem codes for a CCCD; empty when consistent. Codes name the failing check."""
    if len(citizen_id) != 12 or not citizen_id.isdigit():
        return ["cccd_format"]
    problems = []
    if citizen_id[:3] not in cccd_province_codes():
        problems.append("cccd_province")
    if birth_date is not None and sex in ("M", "F"):
        if int(citizen_id[3]) != century_sex_digit(birth_date, sex):
            problems.append("cccd_century_sex")
        if citizen_id[4:6] != f"{birth_date.year % 100:02d}":
            problems.append("cccd_birth_year")
    return problems


def make_citizen_id(*, province3: str, birth_date: date, sex: str, serial: int) -> str:
    """A structurally valid CCCD (used by the generator and tests)."""
    return f"{province3}{century_sex_digit(birth_date, sex)}{birth_date.year % 100:02d}{serial % 1_000_000:06d}"
