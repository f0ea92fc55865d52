"""The speed-ups of signature validation give the libraries' own results (office/signing/speedups.py)."""

from __future__ import annotations

import io

import pytest
from asn1crypto import x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfStreamError

from vnemis.office.signing import speedups

CASES = [
    b"<48656c6c6f>",
    b"<48656C6C6F> rest",
    b"<>",
    b"<4>",  # odd: the last digit is followed by 0
    b"<48 65\n6c\r6c\t6f\x0c>",
    b"<" + b"ab" * 40_000 + b">",  # longer than one chunk
    b"<" + b"a b\n" * 9_000 + b"c>",  # whitespace across the chunk boundary
    b"<FEFF0054>",  # UTF-16 text string
]
BAD = [
    b"<48zz>",  # a stray token
    b"<4865",  # the stream ends before ">"
    b"<48 % a comment > \n 65>",  # a comment holding ">"
    b"<48 % a comment\n 65>",
]


def _read(reader, data: bytes):
    stream = io.BytesIO(data)
    try:
        value = reader(stream)
    except PdfStreamError as exc:
        return ("error", str(exc), stream.tell())
    return (type(value), bytes(value.original_bytes), str(value), stream.tell())


@pytest.mark.parametrize("data", CASES + BAD)
def test_the_fast_hex_reader_answers_as_pyhanko_does(data):
    assert _read(speedups.read_hex_string_from_stream, data) == _read(speedups._original, data)


def test_the_bad_cases_are_pyhanko_errors_or_its_comment_handling():
    results = [_read(speedups.read_hex_string_from_stream, d) for d in BAD]
    assert results[0][0] == results[1][0] == "error"
    assert results[3][2] == "He"


def test_the_fast_reader_is_the_one_pyhanko_uses():
    value = generic.read_object(io.BytesIO(b"<3132>"), None)
    assert bytes(value.original_bytes) == b"12"
    assert generic.read_hex_string_from_stream is speedups.read_hex_string_from_stream


def test_name_comparison_keeps_asn1crypto_semantics():
    def name(common_name: str) -> x509.Name:
        return x509.Name.build({"common_name": common_name, "country_name": "VN"})

    # RFC 4518: case and inner spaces do not count; other letters do
    assert name("Sở  GD&ĐT Đà Nẵng") == name("sở gd&đt đà nẵng")
    assert name("Sở GD&ĐT Đà Nẵng") != name("Sở GD&ĐT Đà Nang")
    prep = x509.NameTypeAndValue._ldap_string_prep
    assert prep(None, " A  B ") == speedups._string_prep(None, " A  B ")
    with pytest.raises(ValueError):
        prep(None, "bad\ue000")  # a private-use character is still refused, each time
    with pytest.raises(ValueError):
        prep(None, "bad\ue000")
