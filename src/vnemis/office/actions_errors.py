"""Refusals of the e-office actions: a stable code, a Vietnamese and an English message, and the
form field the refusal is about (for the pages)."""

from vnemis.core.i18n import pick


class OfficeError(Exception):
    def __init__(self, code: str, message_vi: str, message_en: str, *, field: str | None = None):
        super().__init__(message_en)
        self.code, self.message_vi, self.message_en = code, message_vi, message_en
        self.field = field

    def message(self) -> str:
        """The message in the active language (pages)."""
        return pick(self.message_vi, self.message_en)

    def bilingual(self) -> str:
        """Both forms, for the command line and logs."""
        return f"{self.message_vi} / {self.message_en}"
