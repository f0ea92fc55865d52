"""The one exception intake raises: the file as a whole cannot be taken in.

Row-level problems never raise; they become error rows. A refusal carries a stable code and a
full sentence in Vietnamese and English that a school secretary can act on (which byte, which
columns, which limit), so the upload page and the API can show it as is.
"""

from __future__ import annotations


class IntakeRefused(Exception):
    """The file can't be read at all (wrong content, encoding, size, missing columns...)."""

    def __init__(self, code: str, message_vi: str, message_en: str, **details) -> None:
        super().__init__(f"{code}: {message_en}")
        self.code = code
        self.message_vi = message_vi
        self.message_en = message_en
        # Machine-readable specifics (e.g. the missing columns, the bad byte offset).
        self.details = details
