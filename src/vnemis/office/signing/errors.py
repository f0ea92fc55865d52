"""Refusals of the signing library, each with a stable code and a Vietnamese and English message."""

from vnemis.core.errors import BilingualError


class SigningError(BilingualError):
    """Something the user can act on: a wrong password, a corrupt file, an expired certificate."""


class CredentialError(SigningError):
    """A PKCS#12 file that cannot be used to sign."""


class DocumentError(SigningError):
    """A file that is not a PDF we can read (or sign)."""
