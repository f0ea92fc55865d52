"""The look-up tier: processes that serve only the public exam-result look-up on publication day.

DESIGN.md §5: on result day the look-ups are served by stateless processes of their own, behind
rate limits. They need no session, log-in, messages or htmx: this drops those middleware
classes (about half the cost of a cached answer, measured with bench/lookup.py) and keeps the
rest of the base settings, which ``VNEMIS_LOOKUP_BASE_SETTINGS`` names (production by default).

    DJANGO_SETTINGS_MODULE=vnemis.config.settings.lookup vnemis serve --workers 2

Route only ``/exams/results/`` (and ``/static/``) to these processes; the rest of the site
would work here without log-in, so the proxy must not send it.
"""

import importlib
import os

_base = importlib.import_module(
    os.environ.get("VNEMIS_LOOKUP_BASE_SETTINGS", "vnemis.config.settings.production")
)
globals().update({name: value for name, value in vars(_base).items() if name.isupper()})

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "vnemis.core.middleware.VietnameseFirstMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# The admin is never routed to this tier (see above), so its middleware checks do not apply.
SILENCED_SYSTEM_CHECKS = [
    *globals().get("SILENCED_SYSTEM_CHECKS", []),
    "admin.E408",
    "admin.E409",
    "admin.E410",
]
