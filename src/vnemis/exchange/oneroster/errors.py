"""Errors of the OneRoster exchange: a stable code, Vietnamese and English messages, a status.

Bundle-level problems (no manifest, wrong version, a required file or column missing, a file
without rows) raise ``OneRosterError``; the API turns it into ``ApiError`` and the command into
``CommandError``. Row-level problems are error rows (the pipeline's schema), see ``to_standard``.
"""

from __future__ import annotations

try:
    # An import job treats an ImportRefused as "rejected with this reason", not as a crash.
    from vnemis.exchange.imports import ImportRefused as _Base
except ImportError:  # pragma: no cover - the imports part not installed
    _Base = Exception


class OneRosterError(_Base):
    """A OneRoster bundle or export request that cannot be processed at all."""

    def __init__(
        self,
        code: str,
        message_vi: str,
        message_en: str,
        status: int = 422,
        errors: list[dict] | None = None,
    ) -> None:
        Exception.__init__(self, message_en)
        self.code = code
        self.message_vi = message_vi
        self.message_en = message_en
        self.status = status
        self.errors = errors

    @property
    def message(self) -> str:
        return f"{self.message_vi} / {self.message_en}"

    def __str__(self) -> str:
        return self.message
