"""Refusals of the signing library, each with a stable code and a Vietnamese and English message."""

from vnemis.core.i18n import pick


class SigningError(Exception):
    """Something the user can act on: a wrong password, a corrupt file, an expired certificate."""

    def __init__(self, code: str, message_vi: str, message_en: str):
        super().__init__(message_en)
        self.code, self.message_vi, self.message_en = code, message_vi, message_en

    def __reduce__(self):  # picklable, so a batch worker can hand it back
        return (self.__class__, (self.code, self.message_vi, self.message_en))

    def message(self) -> str:
        """The message in the active language (pages)."""
        return pick(self.message_vi, self.message_en)

    def bilingual(self) -> str:
        """Both forms, for the command line and logs."""
        return f"{self.message_vi} / {self.message_en}"


class CredentialError(SigningError):
    """A PKCS#12 file that cannot be used to sign."""


class DocumentError(SigningError):
    """A file that is not a PDF we can read (or sign)."""
