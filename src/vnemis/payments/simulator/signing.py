"""How the gateway signs and checks messages: HMAC-SHA512 in hex, keyed by the merchant's secret.

Two layouts, as VNPay's: the payment redirect, the return and the IPN sign their ``vnp_``
parameters sorted by name, URL-encoded as ``key=value`` pairs joined by ``&`` (spaces as ``+``);
the query API signs a fixed list of fields joined by ``|``. This is the gateway's own copy,
kept apart from the merchant's (``vnemis.payments.signing``) on purpose: two implementations
that must agree catch an encoding mistake that one shared function would hide.
"""

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import quote_plus

HASH_FIELDS = frozenset({"vnp_SecureHash", "vnp_SecureHashType"})


def hash_data(params: Mapping[str, str]) -> str:
    """The signed text of a redirect, return or IPN: sorted, URL-encoded ``vnp_`` pairs."""
    pairs = sorted(
        (k, v) for k, v in params.items() if k.startswith("vnp_") and k not in HASH_FIELDS
    )
    return "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in pairs)


def hmac_hex(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode("utf-8"), hashlib.sha512).hexdigest()


def signed_query(params: Mapping[str, str], secret: str) -> str:
    """A query string of ``params`` with its ``vnp_SecureHash`` last."""
    text = hash_data(params)
    return f"{text}&vnp_SecureHash={hmac_hex(secret, text)}"


def signature_valid(params: Mapping[str, str], secret: str) -> bool:
    given = params.get("vnp_SecureHash", "")
    expected = hmac_hex(secret, hash_data(params))
    return hmac.compare_digest(given.lower().encode(), expected.encode())


def pipe_hash(secret: str, values: Iterable[str]) -> str:
    """The query API's signature over its fields in their fixed order."""
    return hmac_hex(secret, "|".join(values))
