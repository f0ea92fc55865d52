"""Refusals of the payment actions, with a stable code and a Vietnamese and English message."""

from vnemis.core.errors import BilingualError


class PaymentError(BilingualError):
    pass
