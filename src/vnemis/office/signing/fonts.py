"""A TrueType font engine for pyHanko's text stamps that writes Vietnamese with fontTools alone.

pyHanko's own engine (``GlyphAccumulator``) needs HarfBuzz (``uharfbuzz``, not a dependency
here) and subsets the font again for every stamp. Vietnamese needs no shaping: NFC text maps one
code point to one precomposed glyph through the font's ``cmap``. So the font (DejaVu Sans, the
one the PDF exports already use) is subset once per process to the glyphs a stamp needs (ASCII,
the Vietnamese alphabet, Latin-1 and common punctuation), and each stamp embeds that same
compressed program as a CID-keyed TrueType font (Identity-H) with a ``ToUnicode`` map, so the
text can be copied and searched. A character outside that set gets a subset made for it (cached);
one the font lacks becomes "?".
"""

from __future__ import annotations

import functools
import io
import logging
import threading
import unicodedata
import zlib
from dataclasses import dataclass
from pathlib import Path

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.font.api import FontEngine, FontEngineFactory, ShapeResult

from .errors import SigningError

FONT_FILE = "DejaVuSans.ttf"
FONT_DIRS = (
    Path(__file__).resolve().parents[2] / "static" / "vendor" / "fonts",
    Path("/usr/share/fonts/truetype/dejavu"),
)
# Every letter of the Vietnamese alphabet with every tone, both cases (NFC, precomposed).
_VI_BASES = "aăâeêioôơuưy"
_VI_TONES = "\u0300\u0301\u0303\u0309\u0323"  # huyền, sắc, ngã, hỏi, nặng
VIETNAMESE = (
    "".join(
        unicodedata.normalize("NFC", base + tone)
        for base in _VI_BASES + _VI_BASES.upper()
        for tone in ("", *_VI_TONES)
    )
    + "đĐ"
)
BASE_CHARACTERS = (
    "".join(chr(c) for c in range(0x20, 0x7F))
    + "".join(chr(c) for c in range(0xA0, 0x100))
    + VIETNAMESE
    + "–—‘’‚“”„…•·₫№€"
)
# fontTools logs every table it subsets at INFO.
logging.getLogger("fontTools").setLevel(logging.WARNING)


def font_path(dirs: tuple[Path, ...] = FONT_DIRS) -> Path:
    """The first DejaVu Sans file found."""
    for directory in dirs:
        if (directory / FONT_FILE).is_file():
            return directory / FONT_FILE
    raise SigningError(
        "font_missing",
        f"Thiếu phông chữ {FONT_FILE} để vẽ dấu chữ ký tiếng Việt: chạy make setup "
        f"(scripts/fetch_assets.py) để cài vào {dirs[0]}.",
        f"The font {FONT_FILE} needed to draw the Vietnamese signature stamp is missing: run "
        f"make setup (scripts/fetch_assets.py) to install it into {dirs[0]}.",
    )


@dataclass(frozen=True)
class FontProgram:
    """One subset of the font, ready to embed: everything a stamp needs, computed once."""

    postscript_name: str
    units_per_em: int
    glyph_of: dict[str, int]  # character → glyph id (= CID) in the subset
    advance: dict[int, int]  # glyph id → advance width in font units
    compressed_program: bytes  # the subset TrueType file, deflated
    program_length: int
    widths: list  # the /W array, in 1/1000 em
    tounicode: bytes  # deflated ToUnicode CMap
    descriptor: dict  # FontDescriptor numbers
    fallback_glyph: int


@functools.cache
def _full_font(path: str) -> bytes:
    return Path(path).read_bytes()


_lock = threading.Lock()


@functools.lru_cache(maxsize=64)
def font_program(path: str, characters: frozenset[str]) -> FontProgram:
    """The subset of the font at ``path`` holding ``characters`` (those it has) and "?"."""
    from fontTools import subset, ttLib  # here: every process imports this module, few stamp

    with _lock:
        font = ttLib.TTFont(io.BytesIO(_full_font(path)))
        cmap = font.getBestCmap()
        unicodes = sorted({ord(c) for c in characters if ord(c) in cmap} | {ord("?")})
        # No hinting (a stamp is read at any zoom; it halves the program) and no layout tables
        # (no shaping): about 13 KB compressed for the usual set.
        options = subset.Options(layout_closure=False, notdef_outline=True, hinting=False)
        options.drop_tables += ["GPOS", "GDEF", "GSUB", "kern", "FFTM"]
        subsetter = subset.Subsetter(options=options)
        subsetter.populate(unicodes=unicodes)
        subsetter.subset(font)
        buffer = io.BytesIO()
        font.save(buffer)
        program = buffer.getvalue()
        font = ttLib.TTFont(io.BytesIO(program))
    name = next((r.toUnicode() for r in font["name"].names if r.nameID == 6), "DejaVuSans").replace(
        " ", ""
    )
    upem = font["head"].unitsPerEm
    metrics = font["hmtx"].metrics
    glyph_of: dict[str, int] = {}
    to_unicode: dict[int, str] = {}
    for code, glyph_name in font.getBestCmap().items():
        gid = font.getGlyphID(glyph_name)
        glyph_of[chr(code)] = gid
        to_unicode.setdefault(gid, chr(code))
    advance = {gid: metrics[font.getGlyphName(gid)][0] for gid in set(glyph_of.values())}
    widths: list = []
    for gid in sorted(advance):
        widths += [gid, [round(advance[gid] * 1000 / upem)]]
    head, hhea, os2 = font["head"], font["hhea"], font["OS/2"]
    scale = 1000 / upem
    descriptor = {
        "ascent": round(hhea.ascent * scale),
        "descent": round(hhea.descent * scale),
        "bbox": [round(v * scale) for v in (head.xMin, head.yMin, head.xMax, head.yMax)],
        "cap_height": round(getattr(os2, "sCapHeight", 730) * scale),
        "stem_v": int(10 + 220 * (os2.usWeightClass - 50) / 900),
    }
    return FontProgram(
        postscript_name=name,
        units_per_em=upem,
        glyph_of=glyph_of,
        advance=advance,
        compressed_program=zlib.compress(program, 6),
        program_length=len(program),
        widths=widths,
        tounicode=zlib.compress(_tounicode_cmap(to_unicode), 6),
        descriptor=descriptor,
        fallback_glyph=glyph_of["?"],
    )


def _tounicode_cmap(to_unicode: dict[int, str]) -> bytes:
    lines = [
        "/CIDInit /ProcSet findresource begin",
        "12 dict begin",
        "begincmap",
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
        "/CMapName /Adobe-Identity-UCS def",
        "/CMapType 2 def",
        "1 begincodespacerange",
        "<0000> <FFFF>",
        "endcodespacerange",
    ]
    pairs = sorted(to_unicode.items())
    for start in range(0, len(pairs), 100):  # at most 100 entries per block
        chunk = pairs[start : start + 100]
        lines.append(f"{len(chunk)} beginbfchar")
        lines += [f"<{gid:04X}> <{text.encode('utf-16-be').hex().upper()}>" for gid, text in chunk]
        lines.append("endbfchar")
    lines += ["endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
    return "\n".join(lines).encode("ascii")


class TrueTypeEngine(FontEngine):
    """Shapes NFC text by ``cmap`` look-up and embeds a cached font subset on write."""

    def __init__(self, writer, program: FontProgram, font_size: int = 10, obj_stream=None):
        self._program = program
        super().__init__(
            writer,
            program.postscript_name,
            embedded_subset=True,
            obj_stream=obj_stream,
            font_size=font_size,
        )
        self._font_ref = writer.allocate_placeholder()
        self._written = False

    @property
    def uses_complex_positioning(self) -> bool:
        return False  # one Tj per line; the text box moves to the next line with T*

    def shape(self, txt: str) -> ShapeResult:
        program = self._program
        glyph_of, fallback = program.glyph_of, program.fallback_glyph
        gids = [glyph_of.get(c, fallback) for c in unicodedata.normalize("NFC", txt)]
        advance = sum(program.advance[g] for g in gids)
        ops = b"<" + "".join(f"{g:04x}" for g in gids).encode("ascii") + b"> Tj"
        return ShapeResult(ops, advance / program.units_per_em, 0)

    def as_resource(self) -> generic.IndirectObject:
        return self._font_ref

    def prepare_write(self) -> None:
        if self._written:
            return
        program, writer = self._program, self.writer
        d = program.descriptor
        name = f"{self.subset_prefix}+{program.postscript_name}"
        font_file = generic.StreamObject(
            {
                generic.NameObject("/Filter"): generic.NameObject("/FlateDecode"),
                generic.NameObject("/Length1"): generic.NumberObject(program.program_length),
            },
            encoded_data=program.compressed_program,
        )
        descriptor = generic.DictionaryObject(
            {
                generic.NameObject("/Type"): generic.NameObject("/FontDescriptor"),
                generic.NameObject("/FontName"): generic.NameObject("/" + name),
                generic.NameObject("/Flags"): generic.NumberObject(32),  # non-symbolic
                generic.NameObject("/FontBBox"): generic.ArrayObject(
                    generic.NumberObject(v) for v in d["bbox"]
                ),
                generic.NameObject("/ItalicAngle"): generic.NumberObject(0),
                generic.NameObject("/Ascent"): generic.NumberObject(d["ascent"]),
                generic.NameObject("/Descent"): generic.NumberObject(d["descent"]),
                generic.NameObject("/CapHeight"): generic.NumberObject(d["cap_height"]),
                generic.NameObject("/StemV"): generic.NumberObject(d["stem_v"]),
                generic.NameObject("/FontFile2"): writer.add_object(font_file),
            }
        )
        widths = generic.ArrayObject(
            generic.ArrayObject(generic.NumberObject(w) for w in item)
            if isinstance(item, list)
            else generic.NumberObject(item)
            for item in program.widths
        )
        cid_font = generic.DictionaryObject(
            {
                generic.NameObject("/Type"): generic.NameObject("/Font"),
                generic.NameObject("/Subtype"): generic.NameObject("/CIDFontType2"),
                generic.NameObject("/BaseFont"): generic.NameObject("/" + name),
                generic.NameObject("/CIDSystemInfo"): generic.DictionaryObject(
                    {
                        generic.NameObject("/Registry"): generic.pdf_string("Adobe"),
                        generic.NameObject("/Ordering"): generic.pdf_string("Identity"),
                        generic.NameObject("/Supplement"): generic.NumberObject(0),
                    }
                ),
                generic.NameObject("/FontDescriptor"): writer.add_object(descriptor),
                generic.NameObject("/CIDToGIDMap"): generic.NameObject("/Identity"),
                generic.NameObject("/DW"): generic.NumberObject(1000),
                generic.NameObject("/W"): widths,
            }
        )
        tounicode = generic.StreamObject(
            {generic.NameObject("/Filter"): generic.NameObject("/FlateDecode")},
            encoded_data=program.tounicode,
        )
        type0 = generic.DictionaryObject(
            {
                generic.NameObject("/Type"): generic.NameObject("/Font"),
                generic.NameObject("/Subtype"): generic.NameObject("/Type0"),
                generic.NameObject("/BaseFont"): generic.NameObject("/" + name),
                generic.NameObject("/Encoding"): generic.NameObject("/Identity-H"),
                generic.NameObject("/DescendantFonts"): generic.ArrayObject(
                    [writer.add_object(cid_font)]
                ),
                generic.NameObject("/ToUnicode"): writer.add_object(tounicode),
            }
        )
        writer.add_object(type0, self.obj_stream, idnum=self._font_ref.idnum)
        self._written = True


@dataclass(frozen=True)
class TrueTypeEngineFactory(FontEngineFactory):
    """Makes engines over the subset holding the usual characters and those of ``text``."""

    path: str
    text: str = ""

    def program(self) -> FontProgram:
        wanted = frozenset(BASE_CHARACTERS)
        extra = frozenset(unicodedata.normalize("NFC", self.text)) - wanted
        return font_program(self.path, wanted | extra)

    def create_font_engine(self, writer, obj_stream=None) -> TrueTypeEngine:
        return TrueTypeEngine(writer, self.program(), obj_stream=obj_stream)
