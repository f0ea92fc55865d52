"""Two speed-ups of the libraries under signature validation, installed when the signing
package loads. Both give the libraries' own results; measured on the exchange inbox, where
every letter arrives sealed.

**Hex strings.** pyHanko 0.38 reads a hex string (``<48656c6c6f>``) one byte at a time through a generator. A
signature's ``/Contents`` is such a string of several thousand digits, so on the exchange inbox
reading it was two thirds of opening a sealed letter (measured: 3.3 of 4.8 ms). This reader
takes the digits in chunks and decodes them with ``binascii``. It only answers when every byte
up to ``>`` is a hex digit or PDF whitespace; anything else (a comment, a stray token, the end
of the stream) is handed back to pyHanko's own reader, so the results and errors are pyHanko's.

**Name comparison.** asn1crypto compares certificate names (issuer, subject) by the RFC 4518
string preparation of every attribute value, again for every newly parsed certificate: about
18 preparations per validated signature, 15 % of its time. The preparation is a pure function
of the string, so it is memoised (bounded).
"""

from __future__ import annotations

import binascii
from functools import lru_cache

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PDF_WHITESPACE

_original = generic.read_hex_string_from_stream
_CHUNK = 16384


def read_hex_string_from_stream(stream):
    """What ``pyhanko.pdf_utils.generic.read_hex_string_from_stream`` returns, read fast."""
    start = stream.tell()
    stream.read(1)  # the opening "<"
    parts = []
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            break
        end = chunk.find(b">")
        if end < 0:
            parts.append(chunk)
            continue
        stream.seek(end + 1 - len(chunk), 1)  # just after the closing ">"
        digits = b"".join((*parts, chunk[:end])).translate(None, PDF_WHITESPACE)
        if not digits.translate(None, generic.HEX_DIGITS):
            if len(digits) % 2:
                digits += b"0"  # an odd last digit counts as followed by 0 (PDF 7.3.4.3)
            return generic.pdf_string(binascii.unhexlify(digits))
        break
    stream.seek(start)
    return _original(stream)


_string_prep = asn1_x509.NameTypeAndValue._ldap_string_prep


@lru_cache(maxsize=4096)
def _string_prep_cached(string: str) -> str:
    return _string_prep(None, string)


def ldap_string_prep(self, string):
    """``NameTypeAndValue._ldap_string_prep``, memoised (it never reads ``self``)."""
    return _string_prep_cached(string) if isinstance(string, str) else _string_prep(self, string)


def install() -> None:
    generic.read_hex_string_from_stream = read_hex_string_from_stream
    asn1_x509.NameTypeAndValue._ldap_string_prep = ldap_string_prep


install()
