"""Our side of the gateway's signatures: HMAC-SHA512 in hex, keyed by our hash secret.

The payment redirect, the return and the IPN sign their ``vnp_`` parameters sorted by name and
URL-encoded (``key=value`` joined by ``&``, spaces as ``+``); the query API signs its fields
joined by ``|`` in a fixed order. The simulator carries its own implementation on purpose
(``payments/simulator/signing.py``), so a test that passes shows that two independent codings
agree, as ours must with the real gateway's.
"""

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import quote_plus, urlencode

UNSIGNED = ("vnp_SecureHash", "vnp_SecureHashType")


def hash_data(params: Mapping[str, str]) -> str:
    """The text that is signed: the ``vnp_`` parameters but the hash, sorted by name."""
    signed = sorted(
        (name, value)
        for name, value in params.items()
        if name.startswith("vnp_") and name not in UNSIGNED
    )
    return urlencode(signed, quote_via=quote_plus)


def secure_hash(secret: str, text: str) -> str:
    return hmac.new(secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha512).hexdigest()


def signed_query(params: Mapping[str, str], secret: str) -> str:
    text = hash_data(params)
    return f"{text}&vnp_SecureHash={secure_hash(secret, text)}"


def signature_matches(params: Mapping[str, str], secret: str) -> bool:
    given = str(params.get("vnp_SecureHash", "")).lower()
    return hmac.compare_digest(given.encode(), secure_hash(secret, hash_data(params)).encode())


def pipe_hash(secret: str, values: Iterable[str]) -> str:
    """The query API's signature: the fields' values joined by ``|``, in the given order."""
    return secure_hash(secret, "|".join(values))
