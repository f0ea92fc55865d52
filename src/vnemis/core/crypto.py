"""Encryption at rest and keyed blind indexes for personal identifiers (citizen ID numbers).

Ciphertext layout: ``key_id`` (ASCII) + ``:`` + 12-byte nonce + AES-256-GCM ciphertext. Several
keys may be configured (``id:base64,id:base64``); the first encrypts, all decrypt, so keys can
be rotated. The blind index is HMAC-SHA256 under a separate key, so an exact look-up never
needs the plaintext in the database and the index reveals nothing without the key.
"""

import base64
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

_DEV_WARNING = "derived from SECRET_KEY: development only"


def _derive(label: bytes) -> bytes:
    return hashlib.sha256(label + settings.SECRET_KEY.encode()).digest()


@lru_cache(maxsize=1)
def _encryption_keys() -> tuple[tuple[bytes, AESGCM], ...]:
    spec = settings.VNEMIS_PII_KEYS
    if not spec:
        return ((b"dev", AESGCM(_derive(b"pii-encryption"))),)
    keys = []
    for item in spec.split(","):
        key_id, _, b64 = item.strip().partition(":")
        raw = base64.b64decode(b64)
        if len(raw) != 32:
            raise ValueError("Each VNEMIS_PII_KEYS key must be 32 bytes, base64-encoded.")
        keys.append((key_id.encode(), AESGCM(raw)))
    return tuple(keys)


@lru_cache(maxsize=1)
def _blind_index_key() -> bytes:
    spec = settings.VNEMIS_BLIND_INDEX_KEY
    return base64.b64decode(spec) if spec else _derive(b"pii-blind-index")


def encrypt_identifier(plaintext: str) -> bytes:
    """Encrypt with the current key; a fresh random nonce each time."""
    key_id, aead = _encryption_keys()[0]
    nonce = os.urandom(12)
    return key_id + b":" + nonce + aead.encrypt(nonce, plaintext.encode(), key_id)


def decrypt_identifier(blob: bytes) -> str:
    """Decrypt with whichever configured key the blob names."""
    blob = bytes(blob)
    key_id, _, rest = blob.partition(b":")
    for known_id, aead in _encryption_keys():
        if known_id == key_id:
            return aead.decrypt(rest[:12], rest[12:], key_id).decode()
    raise ValueError("The key that encrypted this identifier is not configured.")


def blind_index(plaintext: str) -> str:
    """Keyed, deterministic index of an identifier for exact look-up (hex, 32 chars)."""
    digest = hmac.new(_blind_index_key(), plaintext.encode(), hashlib.sha256).digest()
    return digest[:16].hex()


def mask_identifier(plaintext: str) -> str:
    """What a screen may show: the last three digits only."""
    return "•" * max(len(plaintext) - 3, 0) + plaintext[-3:]
