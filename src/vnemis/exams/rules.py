"""Registration rules as pure functions: which subject choices are valid, which claims count.

Each problem is a stable code with a full sentence in Vietnamese and English, so the pages, the
CLI and the choices import all say the same thing.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from . import catalogue

PROBLEMS: dict[str, tuple[str, str]] = {
    "electives_count": (
        "Thí sinh phải chọn đúng {required} môn tự chọn (đã chọn {given}).",
        "A candidate must choose exactly {required} electives ({given} chosen).",
    ),
    "elective_duplicate": (
        "Môn tự chọn {code} được chọn hai lần; hai môn tự chọn phải khác nhau.",
        "Elective {code} is chosen twice; the two electives must differ.",
    ),
    "elective_unknown": (
        "Mã môn '{code}' không có trong danh mục môn thi tốt nghiệp.",
        "'{code}' is not a subject code of the graduation exam.",
    ),
    "elective_compulsory": (
        "Môn {code} là môn bắt buộc, không được chọn làm môn tự chọn.",
        "{code} is compulsory and cannot be chosen as an elective.",
    ),
    "languages_two": (
        "Chỉ được chọn một môn ngoại ngữ (đã chọn {codes}).",
        "Only one foreign language may be chosen ({codes} chosen).",
    ),
}


def problem_text(problem: str, **values) -> tuple[str, str]:
    vi, en = PROBLEMS[problem]
    return vi.format(**values), en.format(**values)


def electives_normalise(codes: Iterable[str]) -> list[str]:
    """Codes as people type them ('ly', ' N1 ') → the catalogue's spelling; blanks dropped."""
    return [c.strip().upper() for c in codes if c and c.strip()]


def elective_problems(codes: Iterable[str], *, required: int = 2) -> list[tuple[str, dict]]:
    """(problem code, values) for a choice of electives; empty when the choice is valid.

    The rules: exactly ``required`` electives, each from the catalogue and not compulsory, no
    subject twice, and at most one foreign language (a language is one of the electives).
    """
    chosen = electives_normalise(codes)
    problems: list[tuple[str, dict]] = []
    for code in chosen:
        group = catalogue.SUBJECT_GROUPS.get(code)
        if group is None:
            problems.append(("elective_unknown", {"code": code}))
        elif group == catalogue.COMPULSORY:
            problems.append(("elective_compulsory", {"code": code}))
    seen: set[str] = set()
    for code in chosen:
        if code in seen:
            problems.append(("elective_duplicate", {"code": code}))
        seen.add(code)
    if len(chosen) != required:
        problems.append(("electives_count", {"required": required, "given": len(chosen)}))
    languages = sorted({c for c in chosen if c in catalogue.LANGUAGE_CODES})
    if len(languages) > 1:
        problems.append(("languages_two", {"codes": ", ".join(languages)}))
    return problems


def highest_points(points: Iterable[Decimal]) -> Decimal:
    """Only the highest priority category (or prize) counts, never their sum."""
    return max(points, default=Decimal("0.00"))


def priority_points_of(code: str) -> Decimal | None:
    entry = catalogue.PRIORITY_CATEGORIES.get(code)
    return entry[0] if entry else None


def prize_points_of(code: str) -> Decimal | None:
    entry = catalogue.PRIZES.get(code)
    return entry[0] if entry else None


def certificate_accepted(*, language: str, certificate: str) -> bool:
    """Whether ``certificate`` (IELTS, HSK...) is one that exempts from ``language`` (N1...)."""
    return certificate.strip().upper() in catalogue.CERTIFICATES.get(language, ())
