"""Refusals of the admission actions, with a stable code and a Vietnamese and English message."""

from vnemis.core.errors import BilingualError


class AdmissionError(BilingualError):
    pass
