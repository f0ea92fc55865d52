"""Digital signatures on official documents: a development CA, PKCS#12 credentials, PAdES
signing with a visible Vietnamese stamp, validation against trusted roots, batches.

A library with no models or settings, for the e-office actions, pages and the ``vnemis office``
command alike (docs/office-signing.md).
"""

from . import speedups  # noqa: F401 - pyHanko reads signatures' hex strings faster
