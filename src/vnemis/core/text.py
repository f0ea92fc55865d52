"""Text normalisation shared by storage, search and matching of Vietnamese names.

Stored text is NFC; search keys are lower case without diacritics (đ → d), with the old and new
tone-mark placements unified (they differ only in where the combining mark sits, so stripping
marks removes the difference).
"""

import re
import unicodedata

_SPACES = re.compile(r"\s+")
_D_MAP = str.maketrans({"đ": "d", "Đ": "d"})


def clean_text(value: str | None) -> str:
    """NFC-normalise and collapse whitespace; '' for None."""
    if value is None:
        return ""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", value)).strip()


def person_name(value: str | None) -> str:
    """A person's name as stored: NFC, single spaces, each word capitalised (Nguyễn Văn An)."""
    words = clean_text(value).split(" ")
    return " ".join(w[:1].upper() + w[1:].lower() for w in words if w)


def search_key(value: str | None) -> str:
    """Lower case, no diacritics, đ → d, single spaces: 'Nguyễn  Văn An' → 'nguyen van an'."""
    text = clean_text(value).translate(_D_MAP)
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return stripped.lower()


def split_full_name(full_name: str) -> tuple[str, str, str]:
    """Family name, middle name(s), given name; people are sorted by the given name."""
    words = person_name(full_name).split(" ")
    if len(words) == 1:
        return "", "", words[0]
    return words[0], " ".join(words[1:-1]), words[-1]
