"""Test settings: fast password hashing, deterministic keys."""

import base64
import hashlib

from .base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
VNEMIS_PII_KEYS = "k1:" + base64.b64encode(hashlib.sha256(b"test-pii").digest()).decode()
VNEMIS_BLIND_INDEX_KEY = base64.b64encode(hashlib.sha256(b"test-bidx").digest()).decode()
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
