"""The education ID (mã định danh giáo dục, Circular 42/2021): issued once, never changed or reused.

The Circular does not publish a digit layout, so ours is (12 digits):

    PP YY SSSSSSS C
    PP  province code where the ID was first issued (current two-digit code)
    YY  last two digits of the year of issue
    S   a 7-digit sequence per province and year (10 million IDs per province per year)
    C   Luhn check digit over the first 11 digits (catches every single-digit typo and most
        adjacent transpositions)

Sequences come from ``EducationIdCounter``, a row per province and year that only increases,
locked while a range is taken; so an ID is never issued twice, even if a person is later merged.
"""

from django.db import transaction
from django.db.models import F

from .models import EducationIdCounter

SEQUENCE_DIGITS = 7
MAX_SEQUENCE = 10**SEQUENCE_DIGITS - 1


def luhn_digit(digits: str) -> str:
    """The Luhn check digit to append to ``digits``."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 0:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return str((10 - total % 10) % 10)


def format_education_id(province_code: str, year: int, sequence: int) -> str:
    body = f"{province_code}{year % 100:02d}{sequence:0{SEQUENCE_DIGITS}d}"
    return body + luhn_digit(body)


def is_valid_education_id(value: str) -> bool:
    return len(value) == 12 and value.isdigit() and luhn_digit(value[:11]) == value[11]


@transaction.atomic
def education_id_reserve(*, province_code: str, year: int, count: int) -> range:
    """Reserve ``count`` consecutive sequence numbers; returns the range of sequences."""
    counter, _ = EducationIdCounter.objects.get_or_create(province_code=province_code, year=year)
    counter = EducationIdCounter.objects.select_for_update().get(pk=counter.pk)
    start = counter.last_value + 1
    end = counter.last_value + count
    if end > MAX_SEQUENCE:
        raise OverflowError(
            f"Education ID sequence exhausted for province {province_code} in {year}."
        )
    EducationIdCounter.objects.filter(pk=counter.pk).update(last_value=F("last_value") + count)
    return range(start, end + 1)


def education_ids_issue(*, province_code: str, year: int, count: int) -> list[str]:
    """Issue ``count`` new education IDs."""
    return [
        format_education_id(province_code, year, s)
        for s in education_id_reserve(province_code=province_code, year=year, count=count)
    ]
