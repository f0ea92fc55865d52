"""Choosing between the Vietnamese and English forms of a message we hold both of.

Problem codes, refusals and job errors carry both languages (the API returns both); a page
shows the one of the active language only.
"""

from django.utils import translation

SEPARATOR = " / "  # how a stored "vi / en" message joins its two forms


def english() -> bool:
    return (translation.get_language() or "vi").startswith("en")


def pick(vi: str, en: str) -> str:
    """The form for the active language."""
    return en if english() else vi


def pick_stored(text: str) -> str:
    """The active language's half of a stored "vi / en" message (the whole text if not one)."""
    vi, sep, en = (text or "").partition(SEPARATOR)
    return pick(vi, en) if sep else text
