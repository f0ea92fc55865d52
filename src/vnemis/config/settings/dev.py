"""Local development and the embedded demo: base settings; DEBUG only when VNEMIS_DEBUG=1."""

from .base import *  # noqa: F403
