"""The refusal every domain action raises: a stable code and a Vietnamese and English message.

Pages show ``message()`` in the active language, the API and the command line both forms.
Each app subclasses it (``PaymentError``, ``AdmissionError``, ...) so callers catch their own.
"""

from vnemis.core.i18n import pick


class BilingualError(Exception):
    def __init__(self, code: str, message_vi: str, message_en: str):
        super().__init__(message_en)
        self.code, self.message_vi, self.message_en = code, message_vi, message_en

    def __reduce__(self):  # picklable, so a worker process can hand it back
        return (self.__class__, (self.code, self.message_vi, self.message_en))

    def message(self) -> str:
        """The message in the active language (pages)."""
        return pick(self.message_vi, self.message_en)

    def bilingual(self) -> str:
        """Both forms, for the command line and logs."""
        return f"{self.message_vi} / {self.message_en}"
