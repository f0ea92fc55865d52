"""The one refusal of the submission workflow, shared by its selectors and actions.

``kind`` says how an interface shows it: forbidden (403), not_found (404: also for a record
outside the caller's scope, so its existence is never confirmed), conflict (409: an invalid
transition, a decision already taken, failing checks) or invalid (422: bad input).
"""

from django.utils import translation


class SubmissionError(Exception):
    """A refusal a user can act on, with a stable code and a Vietnamese and English message."""

    def __init__(
        self, kind: str, code: str, message_vi: str, message_en: str, errors: list | None = None
    ) -> None:
        super().__init__(message_en)
        self.kind = kind
        self.code = code
        self.message_vi = message_vi
        self.message_en = message_en
        self.errors = errors

    def message(self) -> str:
        """The message in the active language (pages)."""
        return self.message_en if translation.get_language() == "en" else self.message_vi


def not_found() -> SubmissionError:
    return SubmissionError(
        "not_found",
        "not_found",
        "Báo cáo không tồn tại hoặc nằm ngoài phạm vi của bạn.",
        "The submission does not exist or is outside your scope.",
    )


def forbidden_role() -> SubmissionError:
    return SubmissionError(
        "forbidden",
        "forbidden_role",
        "Vai trò của bạn không được thực hiện thao tác này với báo cáo định kỳ.",
        "Your role may not do this with period submissions.",
    )
