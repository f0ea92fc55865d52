"""The WSGI application, as the server loads it (``vnemis serve``: once, before granian forks its
workers).

The URL modules are imported here, before the first request (Django would import them on it),
and what the process has loaded so far is then frozen out of the garbage collector: those
objects live as long as the process, and scanning them again in every full collection cost the
exchange inbox about a millisecond a message. The collector stays off until then (``vnemis
serve`` turns it off before Django's setup): the import makes objects that live, collecting
while it runs cost 0.2 s, and a collection before the freeze 0.13 s for the ~7,000 objects
(about a megabyte) the import leaves unreachable, which are frozen with the rest instead.
"""

import gc

gc.disable()

import os  # noqa: E402

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.urls import get_resolver  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vnemis.config.settings.dev")
application = get_wsgi_application()
get_resolver().url_patterns  # noqa: B018 - imports every view module now
gc.freeze()
gc.enable()
