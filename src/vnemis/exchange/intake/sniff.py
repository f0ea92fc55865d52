"""What a file really is, before anything parses it: size, format by content, text encoding, and
the zip limits of an XLSX.

Everything here reads a few kilobytes or the zip central directory, never the whole file, so a
hostile upload (a zip bomb, a PDF renamed .csv, a 10 GB file) is refused before a parser spends
memory on it. Text that is not UTF-8 (UTF-16 "Unicode text" and Windows-1258/1252 exports of
old Excel) is converted to UTF-8 in one streaming pass; bytes that no candidate encoding can
decode are refused with their offset.
"""

from __future__ import annotations

import codecs
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .refused import IntakeRefused

HEAD_BYTES = 64 * 1024
BLOCK_BYTES = 1 << 20
# Zip limits for XLSX: a real workbook's XML compresses 5-30×; bombs compress 1000×.
ZIP_MAX_TOTAL = 4 << 30  # uncompressed bytes of all members
ZIP_MAX_RATIO = 200  # per member larger than ZIP_RATIO_FLOOR
ZIP_RATIO_FLOOR = 1 << 20
ZIP_MAX_MEMBERS = 10_000

TEXT_EXTENSIONS = {".csv", ".txt", ".tsv", ".jsonl", ".ndjson"}
EXTENSION_FORMAT = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".xls": "xls",
    ".parquet": "parquet",
}
FORMAT_NAMES = {
    "csv": "CSV",
    "jsonl": "JSON Lines",
    "xlsx": "XLSX",
    "xls": "XLS",
    "parquet": "Parquet",
    "zip": "ZIP",
    "pdf": "PDF",
}
# Magic bytes of contents we never accept, with a name people recognise.
_FOREIGN = (
    (b"%PDF", "PDF"),
    (b"\x1f\x8b", "GZIP"),
    (b"\x89PNG", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"Rar!", "RAR"),
    (b"7z\xbc\xaf", "7-Zip"),
    (b"{\\rtf", "RTF"),
    (b"<?xml", "XML"),
    (b"<html", "HTML"),
    (b"<!DOCTYPE", "HTML"),
)


def vi_number(n: int) -> str:
    """12345 → '12.345' (Vietnamese thousands separator)."""
    return f"{n:,}".replace(",", ".")


@dataclass
class Sniffed:
    format: str  # csv, jsonl, xlsx, xls, parquet
    encoding: str | None = None  # text formats: the source encoding
    size: int = 0


def size_check(path: Path, max_bytes: int | None) -> int:
    size = path.stat().st_size
    if max_bytes is not None and size > max_bytes:
        raise IntakeRefused(
            "file_too_large",
            f"Tệp quá lớn: {vi_number(size)} byte, giới hạn là {vi_number(max_bytes)} byte. Hãy "
            "chia tệp thành nhiều tệp nhỏ hơn.",
            f"The file is too large: {size:,} bytes, the limit is {max_bytes:,} bytes. Split it "
            "into smaller files.",
            size=size,
            limit=max_bytes,
        )
    if size == 0:
        raise IntakeRefused("empty_file", "Tệp rỗng (0 byte).", "The file is empty (0 bytes).")
    return size


def _content_format(head: bytes) -> str:
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "xls"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    for magic, name in _FOREIGN:
        if stripped[: len(magic)].lower() == magic.lower():
            return name.lower()
    return "text"


def _refuse_foreign(path: Path, content: str) -> None:
    name = FORMAT_NAMES.get(content, content.upper())
    raise IntakeRefused(
        "wrong_content",
        f"Nội dung tệp '{path.name}' là {name}, không phải dữ liệu CSV, XLSX, Parquet hay JSON "
        "Lines.",
        f"The content of '{path.name}' is {name}, not CSV, XLSX, Parquet or JSON Lines data.",
        content=content,
    )


def format_sniff(path: Path, *, max_bytes: int | None = None) -> Sniffed:
    """Format by content; a known extension that disagrees with the content is refused (a
    '.csv' that is really a workbook or a PDF means the wrong file was picked)."""
    size = size_check(path, max_bytes)
    with open(path, "rb") as f:
        head = f.read(HEAD_BYTES)
    content = _content_format(head)
    claimed = EXTENSION_FORMAT.get(path.suffix.lower())
    if content == "zip":
        xlsx_guard(path)
        content = "xlsx"
    if content not in ("text", "xlsx", "xls", "parquet"):
        _refuse_foreign(path, content)
    if content == "text":
        encoding = encoding_sniff(head, truncated=size > len(head))
        nul = head.find(b"\x00")
        if nul >= 0 and not encoding.startswith("utf-16") and head.count(b"\x00") > 16:
            # A few stray NULs are cell problems (reported per row); many mean a binary file.
            raise IntakeRefused(
                "binary_file",
                f"Tệp '{path.name}' chứa dữ liệu nhị phân (byte 0 ở vị trí {vi_number(nul)}), "
                "không phải văn bản CSV.",
                f"'{path.name}' holds binary data (a zero byte at offset {nul:,}), not CSV text.",
                offset=nul,
            )
        first = _first_text_char(head, encoding)
        content = "jsonl" if first in ("{", "[") else "csv"
        if first == "[":
            raise IntakeRefused(
                "json_array",
                "Tệp JSON phải ở dạng JSON Lines (mỗi dòng một đối tượng), không phải một mảng.",
                "JSON must be JSON Lines (one object per line), not one array.",
            )
        if claimed is not None and claimed not in ("csv", "jsonl"):
            _mismatch(path, claimed, content)
        if claimed == "jsonl" and content == "csv":
            _mismatch(path, claimed, content)
        return Sniffed(content, encoding, size)
    if claimed is not None and claimed != content and {claimed, content} != {"xlsx", "xls"}:
        _mismatch(path, claimed, content)
    return Sniffed(content, None, size)


def _mismatch(path: Path, claimed: str, content: str) -> None:
    raise IntakeRefused(
        "content_mismatch",
        f"Tệp '{path.name}' có đuôi {path.suffix} nhưng nội dung là "
        f"{FORMAT_NAMES.get(content, content)}; hãy kiểm tra lại đã chọn đúng tệp chưa.",
        f"'{path.name}' is named {path.suffix} but its content is "
        f"{FORMAT_NAMES.get(content, content)}; check that the right file was chosen.",
        claimed=claimed,
        content=content,
    )


def _first_text_char(head: bytes, encoding: str) -> str:
    text = head.decode(encoding, errors="ignore")
    text = text.lstrip("\ufeff \t\r\n")
    return text[:1]


def _printable(text: str) -> bool:
    shown = sum(1 for ch in text if ch.isprintable() or ch in "\t\r\n")
    return shown >= 0.95 * max(len(text), 1)


def encoding_sniff(head: bytes, *, truncated: bool = True) -> str:
    """BOM first; then UTF-16 without BOM (every other byte zero); then UTF-8 if the head
    decodes; otherwise a Windows code page (1258 when its combining tone marks appear)."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith(codecs.BOM_UTF16_LE):
        return "utf-16"
    if head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16"
    sample = head[:4096]
    if len(sample) >= 4:
        evens, odds = sample[0::2], sample[1::2]
        even = len(sample) - len(sample) % 2
        le = odds.count(0) > 0.4 * len(odds) and evens.count(0) < 0.1 * len(evens)
        be = evens.count(0) > 0.4 * len(evens) and odds.count(0) < 0.1 * len(odds)
        if le and _printable(sample[:even].decode("utf-16-le", errors="replace")):
            return "utf-16-le"
        if be and _printable(sample[:even].decode("utf-16-be", errors="replace")):
            return "utf-16-be"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as e:
        if truncated and e.start >= len(head) - 4:  # a character cut by the end of the sample
            return "utf-8"
        if any(b >= 0x80 for b in head[: e.start]):
            # Valid multi-byte UTF-8 before the bad byte: a damaged UTF-8 file, not a code page.
            return "utf-8"
    return "cp1258" if _looks_cp1258(head) else "cp1252"


# cp1258 bytes for the combining grave, acute, hook, tilde and dot below.
_CP1258_TONES = {0xCC, 0xEC, 0xD2, 0xDE, 0xF2}
# Vietnamese letters of cp1258 (ă â đ ê ô ơ ư in both cases).
_CP1258_LETTERS = {0xC3, 0xE3, 0xC2, 0xE2, 0xD0, 0xF0, 0xCA, 0xEA, 0xD4, 0xF4, 0xD5, 0xF5, 0xDD}
_CP1258_LETTERS |= {0xFD}


def _looks_cp1258(head: bytes) -> bool:
    """A tone-mark byte right after a letter is how cp1258 writes Vietnamese; in cp1252 the same
    bytes are rare capitals (Ì, Ò, Þ) that do not follow lower-case letters."""
    hits = 0
    for i in range(1, len(head)):
        b = head[i]
        if b in _CP1258_TONES:
            prev = head[i - 1]
            if (0x61 <= prev <= 0x7A) or (0x41 <= prev <= 0x5A) or prev in _CP1258_LETTERS:
                hits += 1
    return hits >= 1


def text_to_utf8(path: Path, encoding: str, out: Path) -> tuple[Path, int]:
    """Decode the whole file strictly in blocks and write it as UTF-8 (no BOM). Returns the
    UTF-8 file (``path`` itself when it already is plain UTF-8: checked, not copied) and its
    number of line breaks (for progress)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    passthrough = encoding == "utf-8"
    offset = 0
    lines = 0
    sink = None if passthrough else open(out, "w", encoding="utf-8", newline="")  # noqa: SIM115
    try:
        with open(path, "rb") as f:
            while True:
                block = f.read(BLOCK_BYTES)
                final = not block
                try:
                    text = decoder.decode(block, final=final)
                except UnicodeDecodeError as e:
                    _refuse_bytes(path, encoding, offset, block, e)
                lines += (
                    block.count(b"\n") if not encoding.startswith("utf-16") else text.count("\n")
                )
                if sink is not None and text:
                    sink.write(text)
                if final:
                    break
                offset += len(block)
    finally:
        if sink is not None:
            sink.close()
    return (path if passthrough else out), lines


def _refuse_bytes(path: Path, encoding: str, offset: int, block: bytes, e) -> None:
    # The incremental decoder may hold back a few bytes of the previous block; e.start is
    # relative to the data it was decoding, which ends with this block.
    held = len(e.object) - len(block)
    at = max(offset - held + e.start, 0)
    bad = e.object[e.start : e.start + 1].hex().upper()
    label = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "cp1258": "Windows-1258"}.get(
        encoding, encoding
    )
    raise IntakeRefused(
        "bad_encoding",
        f"Không đọc được tệp '{path.name}' theo mã {label}: byte 0x{bad} ở vị trí "
        f"{vi_number(at)} không hợp lệ. Hãy lưu lại tệp dạng 'CSV UTF-8'.",
        f"Cannot read '{path.name}' as {label}: byte 0x{bad} at offset {at:,} is invalid. Save "
        "the file again as 'CSV UTF-8'.",
        offset=at,
        encoding=encoding,
    )


def xlsx_guard(path: Path) -> None:
    """Refuse a zip whose central directory promises too much (a zip bomb) or that is not a
    workbook, before any XML parser opens it."""
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError) as e:
        raise IntakeRefused(
            "xlsx_unreadable",
            "Tệp XLSX bị hỏng, không mở được (cấu trúc zip sai).",
            "The XLSX file is damaged and cannot be opened (bad zip structure).",
        ) from e
    names = {i.filename for i in infos}
    if "xl/workbook.xml" not in names and "xl/workbook.bin" not in names:
        _refuse_foreign(path, "zip")
    total = sum(i.file_size for i in infos)
    worst = max(
        (i.file_size / max(i.compress_size, 1) for i in infos if i.file_size > ZIP_RATIO_FLOOR),
        default=0,
    )
    if len(infos) > ZIP_MAX_MEMBERS or total > ZIP_MAX_TOTAL or worst > ZIP_MAX_RATIO:
        raise IntakeRefused(
            "zip_bomb",
            "Tệp XLSX bị từ chối: khi giải nén sẽ quá lớn so với kích thước tệp "
            f"({vi_number(total)} byte, tỉ lệ nén {vi_number(round(worst))}:1). Tệp có thể đã bị "
            "làm hỏng hoặc cố ý gây hại.",
            f"The XLSX file was refused: it would expand far beyond its size ({total:,} bytes, "
            f"compression ratio {worst:,.0f}:1). It may be damaged or hostile.",
            uncompressed=total,
            ratio=worst,
        )
