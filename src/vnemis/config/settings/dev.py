"""Local development and the embedded demo."""

from .base import *  # noqa: F403

DEBUG = True
