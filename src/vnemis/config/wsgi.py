"""The WSGI application, as each server worker process loads it.

The URL modules are imported here, before the first request (Django would import them on it),
and what the process has loaded so far is then frozen out of the garbage collector: those
objects live as long as the process, and scanning them again in every full collection cost the
exchange inbox about a millisecond a message.
"""

import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vnemis.config.settings.dev")
application = get_wsgi_application()
get_resolver().url_patterns  # noqa: B018 - imports every view module now
gc.collect()
gc.freeze()
