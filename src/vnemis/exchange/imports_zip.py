"""Safe extraction of an uploaded ZIP (several standard files, or a OneRoster CSV bundle).

A ZIP from the outside is hostile until proven otherwise: names may climb out of the target
folder (``../``, absolute paths, drive letters), members may be symbolic links, and a few
kilobytes may inflate to gigabytes (a zip bomb; the sizes in the headers can lie). So members
are written one by one under flattened, checked names, counting the bytes actually inflated
against a total limit and a per-member compression-ratio limit.
"""

import re
import stat
import zipfile
from pathlib import Path, PurePosixPath

MAX_MEMBERS = 50
MAX_RATIO = 200  # inflated / compressed; honest CSV compresses ~5-20×, XLSX is already zipped
BLOCK = 1 << 20
_SAFE_NAME = re.compile(r"^[\w.\- ]{1,120}$")


class ZipRefused(Exception):
    """The archive cannot be taken: a stable code and the message in Vietnamese and English."""

    def __init__(self, code: str, message_vi: str, message_en: str) -> None:
        super().__init__(message_en)
        self.code = code
        self.message_vi = message_vi
        self.message_en = message_en


def _member_name(info: zipfile.ZipInfo) -> str | None:
    """The member's file name, or None for folders and the clutter archivers add."""
    raw = info.filename.replace("\\", "/")
    path = PurePosixPath(raw)
    if raw.startswith("/") or ".." in path.parts or re.match(r"^[A-Za-z]:", raw):
        raise ZipRefused(
            "zip_unsafe_path",
            f"Tệp nén chứa đường dẫn không an toàn ({info.filename[:80]}); hãy nén lại các tệp "
            "dữ liệu trực tiếp.",
            f"The archive holds an unsafe path ({info.filename[:80]}); zip the data files again "
            "directly.",
        )
    if info.is_dir() or not path.name:
        return None
    if "__MACOSX" in path.parts or path.name.startswith((".", "~$")):
        return None
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise ZipRefused(
            "zip_symlink",
            "Tệp nén chứa liên kết tượng trưng (symlink); hãy chỉ nén các tệp dữ liệu.",
            "The archive holds a symbolic link; zip the data files only.",
        )
    if not _SAFE_NAME.match(path.name):
        raise ZipRefused(
            "zip_bad_name",
            f"Tên tệp trong tệp nén không hợp lệ: {path.name[:80]}",
            f"Invalid file name inside the archive: {path.name[:80]}",
        )
    return path.name


def zip_extract_safe(source: Path, dest: Path, *, max_bytes: int) -> list[Path]:
    """Extract the data files of ``source`` flat into ``dest``; refuse anything unsafe."""
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ZipRefused(
            "zip_malformed",
            "Tệp nén ZIP bị hỏng hoặc không đúng định dạng.",
            "The ZIP archive is damaged or not a ZIP file.",
        ) from exc
    dest.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    total = 0
    with archive:
        members = [(info, _member_name(info)) for info in archive.infolist()]
        members = [(info, name) for info, name in members if name]
        if not members:
            raise ZipRefused(
                "zip_empty",
                "Tệp nén không chứa tệp dữ liệu nào.",
                "The archive holds no data file.",
            )
        if len(members) > MAX_MEMBERS:
            raise ZipRefused(
                "zip_too_many",
                f"Tệp nén chứa quá nhiều tệp (tối đa {MAX_MEMBERS}).",
                f"The archive holds too many files (at most {MAX_MEMBERS}).",
            )
        names = [name.lower() for _, name in members]
        if len(set(names)) != len(names):
            raise ZipRefused(
                "zip_duplicate_name",
                "Tệp nén chứa hai tệp cùng tên (ở các thư mục khác nhau).",
                "The archive holds two files with the same name (in different folders).",
            )
        for info, name in members:
            target = dest / name
            inflated = 0
            try:
                with archive.open(info) as src, open(target, "wb") as out:
                    while block := src.read(BLOCK):
                        inflated += len(block)
                        total += len(block)
                        if total > max_bytes or inflated > MAX_RATIO * max(info.compress_size, 1):
                            raise _bomb(max_bytes)
                        out.write(block)
            except (zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError) as exc:
                raise ZipRefused(
                    "zip_malformed",
                    f"Không đọc được tệp {name} trong tệp nén (hỏng hoặc có mật khẩu).",
                    f"Cannot read {name} inside the archive (damaged or password-protected).",
                ) from exc
            written.append(target)
    return written


def _bomb(max_bytes: int) -> ZipRefused:
    return ZipRefused(
        "zip_bomb",
        f"Tệp nén giải nén ra quá lớn (giới hạn {max_bytes // (1 << 20)} MB hoặc tỉ lệ nén bất "
        "thường); hãy gửi từng tệp riêng.",
        f"The archive inflates too much (limit {max_bytes // (1 << 20)} MB or an abnormal "
        "compression ratio); send the files one by one.",
    )
