"""Document numbers and notations (Decree 30/2020) and the gap-free register counters.

Format: ``Số: 123/QĐ-BGDĐT`` — the number, then the notation: the type's abbreviation and the
issuing agency's (``QĐ-BGDĐT``); an official letter (công văn) has no type abbreviation and uses
the agency's and the drafting unit's instead (``7816/VPCP-TTĐT``). Numbers below 10 carry a
leading zero (``05/QĐ-BGDĐT``). Numbers run from 01 in each calendar year.

``register_next`` gives the next number of a register. It must run inside the transaction that
registers the document: the counter row is locked by the ``UPDATE … RETURNING`` that advances
it (SQLite serialises writers, and our connections take the write lock at BEGIN), so concurrent
registrations queue, each sees the previous one's number, and a registration that fails rolls
its number back with it: no gap and no duplicate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from django.db import transaction

from vnemis.core.text import clean_text

# 123/QĐ-BGDĐT, 05/2025/TT-BGDĐT (legal documents carry the year), 7816/VPCP-TTĐT.
_NUMBER_NOTATION = re.compile(r"^\s*(?:Số\s*:?\s*)?(\d{1,7})\s*/\s*(\S+?)\s*$", re.IGNORECASE)
_NOTATION = re.compile(r"^[^\s/][^\s]{0,58}$")


class NotationError(ValueError):
    """A number/notation that does not follow the format; ``code`` says what is wrong."""

    def __init__(self, code: str, message_vi: str, message_en: str):
        super().__init__(message_en)
        self.code, self.message_vi, self.message_en = code, message_vi, message_en


def format_number(number: int | None) -> str:
    """'01' … '09', '10', '123'; '' for a document not yet numbered."""
    if number is None:
        return ""
    return f"{number:02d}"


def number_notation(number: int | None, notation: str) -> str:
    """'05/QĐ-BGDĐT'; the notation alone when there is no number; '' when neither."""
    if number is None:
        return notation
    return f"{format_number(number)}/{notation}" if notation else format_number(number)


def abbreviation_check(value: str) -> str:
    """An agency or unit abbreviation as used in notations (BGDĐT, VP, GDTrH): letters from a
    capital, digits, & and ."""
    value = clean_text(value)
    shaped = (
        0 < len(value) <= 20
        and (value[0].isupper() or value[0].isdigit())
        and all(ch.isalnum() or ch in "&." for ch in value)
    )
    if not shaped:
        raise NotationError(
            "bad_abbreviation",
            f"Chữ viết tắt “{value}” không hợp lệ: chỉ gồm chữ cái (bắt đầu bằng chữ in hoa), chữ"
            " số, dấu & và dấu chấm, tối đa 20 ký tự (ví dụ BGDĐT, VP, GDTrH).",
            f"The abbreviation '{value}' is not valid: letters (the first a capital), digits, &"
            " and . only, at most 20 characters (e.g. BGDĐT, VP, GDTrH).",
        )
    return value


def notation_for(
    *, type_abbreviation: str, is_letter: bool, agency: str, unit: str = "", year: int | None = None
) -> str:
    """The notation of a document we issue: ``QĐ-BGDĐT``; an official letter ``BGDĐT-VP``.

    ``year`` (legal normative documents: ``05/2025/TT-BGDĐT``) is put before the notation.
    """
    if not agency:
        raise NotationError(
            "no_agency_abbreviation",
            "Cơ quan chưa khai báo chữ viết tắt tên cơ quan (ví dụ BGDĐT), nên chưa thể ghi ký"
            " hiệu văn bản.",
            "The organisation has no abbreviation of its name (e.g. BGDĐT) yet, so no notation"
            " can be made.",
        )
    if is_letter:
        if not unit:
            raise NotationError(
                "letter_needs_unit",
                "Công văn phải có đơn vị soạn thảo: ký hiệu công văn gồm chữ viết tắt tên cơ quan"
                " và tên đơn vị soạn thảo (ví dụ VPCP-TTĐT).",
                "An official letter needs its drafting unit: its notation is the agency's and the"
                " drafting unit's abbreviations (e.g. VPCP-TTĐT).",
            )
        core = f"{agency}-{unit}"
    else:
        core = f"{type_abbreviation}-{agency}"
    return f"{year}/{core}" if year else core


@dataclass(frozen=True)
class ParsedNumber:
    number: int
    notation: str


def parse_number_notation(text: str) -> ParsedNumber:
    """'123/QĐ-BGDĐT' (or 'Số: 05/QĐ-BGDĐT') → (123, 'QĐ-BGDĐT'), as written on an incoming
    document."""
    match = _NUMBER_NOTATION.match(clean_text(text))
    if not match or not _NOTATION.match(match.group(2)):
        raise NotationError(
            "bad_number_notation",
            f"Số, ký hiệu “{clean_text(text)}” không đúng định dạng: số, dấu “/” rồi ký hiệu, ví dụ"
            " 123/QĐ-BGDĐT hoặc 7816/VPCP-TTĐT.",
            f"The number and notation '{clean_text(text)}' are not in the format: the number, '/'"
            " and the notation, e.g. 123/QĐ-BGDĐT or 7816/VPCP-TTĐT.",
        )
    number = int(match.group(1))
    if number < 1:
        raise NotationError(
            "number_zero",
            "Số văn bản bắt đầu từ 01; số 0 không hợp lệ.",
            "Document numbers start at 01; 0 is not valid.",
        )
    return ParsedNumber(number=number, notation=match.group(2))


class RegisterDateError(ValueError):
    def __init__(self, last: date):
        super().__init__(f"date before the register's last entry ({last:%d/%m/%Y})")
        self.last = last


def register_next(*, organisation_id: int, kind: str, year: int, on: date):
    """The next number of the (organisation, kind, year) register, dated ``on``: returns
    (register, number). Call inside the registering transaction (it checks)."""
    from .models import Register

    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        raise RuntimeError("register_next must run inside the registering transaction")
    # One statement takes the row lock, checks the date order and advances the counter (this
    # runs for every registered document, exchange messages included).
    advance = (
        f"UPDATE {Register._meta.db_table} SET last_number = last_number + 1, last_date = %s"  # noqa: S608
        " WHERE organisation_id = %s AND kind = %s AND year = %s"
        " AND (last_date IS NULL OR last_date <= %s) RETURNING id, last_number"
    )
    params = [on, organisation_id, kind, year, on]
    with connection.cursor() as cursor:
        cursor.execute(advance, params)
        row = cursor.fetchone()
        if row is None:  # no register yet (the year's first entry), or the date is too early
            # concurrent creators do not clash; the UPDATE then waits for the row's lock
            Register.objects.bulk_create(
                [Register(organisation_id=organisation_id, kind=kind, year=year)],
                ignore_conflicts=True,
            )
            cursor.execute(advance, params)
            row = cursor.fetchone()
            if row is None:
                last = Register.objects.get(organisation_id=organisation_id, kind=kind, year=year)
                raise RegisterDateError(last.last_date)
    register = Register(
        pk=row[0], organisation_id=organisation_id, kind=kind, year=year, last_number=row[1],
        last_date=on,
    )  # fmt: skip
    return register, row[1]
