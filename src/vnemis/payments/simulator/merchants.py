"""The merchants the gateway knows: a terminal code (``vnp_TmnCode``) and its hash secret."""

import re
from dataclasses import dataclass

DEFAULT_MERCHANT = "VNEMIS01:dev-payment-secret"
_CODE = re.compile(r"^[A-Z0-9]{3,20}$")


@dataclass(frozen=True)
class Merchant:
    code: str
    secret: str


def parse_merchant(spec: str) -> Merchant:
    """``CODE:SECRET``: the code in capitals and digits, the secret at least 8 characters."""
    code, sep, secret = spec.partition(":")
    if not sep or not _CODE.match(code) or len(secret) < 8:
        raise ValueError(
            f"The merchant '{code}' must be given as CODE:SECRET (a code of 3-20 capitals or "
            "digits, a secret of at least 8 characters)."
        )
    return Merchant(code, secret)
