"""Which column is which: header text as people write it → the standard's column names.

Headers arrive in Vietnamese, English or as canonical names, in any case, with or without
diacritics, with stray spaces, "(*)" required markers or line breaks from merged Excel cells.
They are compared by a key (lower case, no diacritics, đ → d, letters and digits only). The
aliases come from the one definition (``exchange_format.header_aliases``); until that is
available a built-in table stands in for it. Also here: entity detection from a header row, and
finding the header row (or a two-row merged header) among the first rows of a sheet.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from vnemis.registry import exchange_format as xf

from .refused import IntakeRefused

HEADER_SEARCH_ROWS = 10  # a title block above the header is common; more is not
ROSTER = "roster"

# Extra headers seen in school software exports, added after the standard's own aliases
# (``exchange_format.header_aliases``), never overriding them.
_FALLBACK: dict[str, tuple[str, ...]] = {
    "school_code": ("Mã trường", "Mã đơn vị", "School code"),
    "name": ("Tên trường", "Tên đơn vị", "Name", "School name"),
    "pupil_code": ("Mã học sinh", "Mã HS", "Pupil code", "Student code", "Student ID"),
    "staff_code": ("Mã cán bộ", "Mã giáo viên", "Mã CB", "Staff code"),
    "education_id": ("Mã định danh", "Mã định danh giáo dục", "Education ID"),
    "full_name": ("Họ và tên", "Họ tên", "Full name", "Name"),
    "birth_date": ("Ngày sinh", "Ngày tháng năm sinh", "Date of birth", "Birth date", "DOB"),
    "sex": ("Giới tính", "Sex", "Gender"),
    "ethnicity_code": ("Dân tộc", "Mã dân tộc", "Ethnicity", "Ethnic group"),
    "nationality": ("Quốc tịch", "Nationality"),
    "birth_province_code": ("Nơi sinh", "Tỉnh nơi sinh", "Birth province"),
    "permanent_commune_code": ("Xã thường trú", "Mã xã thường trú", "Permanent commune"),
    "policy_categories": ("Đối tượng chính sách", "Diện chính sách", "Policy categories"),
    "disability": ("Khuyết tật", "Loại khuyết tật", "Disability"),
    "citizen_id": ("Số CCCD", "CCCD", "Số định danh cá nhân", "Căn cước công dân", "Citizen ID"),
    "school_year": ("Năm học", "School year"),
    "class_name": ("Lớp", "Tên lớp", "Class", "Class name"),
    "grade": ("Khối", "Khối lớp", "Grade"),
    "status": ("Trạng thái", "Tình trạng", "Status"),
    "started_on": ("Ngày vào", "Ngày bắt đầu", "Ngày nhập học", "Start date", "Started on"),
    "ended_on": ("Ngày kết thúc", "Ngày ra", "End date", "Ended on"),
    "subject_code": ("Mã môn", "Môn học", "Subject", "Subject code"),
    "period": ("Kỳ", "Học kỳ", "Kỳ đánh giá", "Period", "Term"),
    "score": ("Điểm", "Score"),
    "rating": ("Mức đánh giá", "Đánh giá", "Rating"),
    "measured_on": ("Ngày đo", "Measured on"),
    "height_cm": ("Chiều cao", "Chiều cao (cm)", "Height", "Height (cm)"),
    "weight_kg": ("Cân nặng", "Cân nặng (kg)", "Weight", "Weight (kg)"),
    "homeroom_staff_code": ("Mã GVCN", "Giáo viên chủ nhiệm", "Homeroom teacher"),
    "role": ("Chức vụ", "Role"),
    "qualification": ("Trình độ", "Trình độ đào tạo", "Qualification"),
    "contract_type": ("Loại hợp đồng", "Hình thức hợp đồng", "Contract type"),
    "starts_on": ("Ngày vào ngành", "Ngày bắt đầu công tác", "Starts on"),
    "learning_rating": ("Học tập", "Kết quả học tập", "Learning rating"),
    "conduct_rating": ("Rèn luyện", "Hạnh kiểm", "Conduct rating"),
    "outcome": ("Kết quả cuối năm", "Lên lớp", "Outcome"),
}

_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_NOTES = re.compile(r"\([^)]*\)|\[[^\]]*\]|\*")


def header_key(text: object) -> str:
    """Comparison key of a header: 'Ngày  sinh (*)' → 'ngaysinh', 'Full_Name' → 'fullname'.

    Like ``exchange_format.header_key`` (no diacritics, no '(…)' notes) but also without
    spaces, so 'Mã HS' and 'MãHS' (a merged cell that lost its line break) agree.
    """
    s = unicodedata.normalize("NFC", str(text or ""))
    s = _NOTES.sub(" ", s).replace("đ", "d").replace("Đ", "d")
    s = "".join(ch for ch in unicodedata.normalize("NFD", s) if unicodedata.category(ch) != "Mn")
    return _NON_ALNUM.sub("", s.lower())


def entity_get(name: str) -> xf.Entity:
    """The standard entity, or a composite layout such as the roster."""
    found = getattr(xf, "LAYOUTS_BY_NAME", xf.BY_NAME).get(name)
    if found is not None:
        return found
    if name == ROSTER:
        return _roster()
    raise IntakeRefused(
        "unknown_entity",
        f"Loại dữ liệu '{name}' không có trong chuẩn dữ liệu.",
        f"'{name}' is not an entity of the data standard.",
    )


@lru_cache(maxsize=1)
def _roster() -> xf.Entity:
    # Only used if exchange_format has no ROSTER layout.
    pupils, enrolments = xf.BY_NAME["pupils"], xf.BY_NAME["enrolments"]
    names = set(pupils.column_names)
    columns = pupils.columns + tuple(c for c in enrolments.columns if c.name not in names)
    return xf.Entity(ROSTER, enrolments.natural_key, columns)


def entity_parts(entity: xf.Entity) -> dict[str, tuple[str, ...]]:
    """Canonical file → the layout's columns it takes (roster → pupils + enrolments)."""
    split = getattr(xf, "layout_split", None)
    if split is not None:
        return split(entity)
    if entity.name == ROSTER:
        return {n: tuple(xf.BY_NAME[n].column_names) for n in ("pupils", "enrolments")}
    return {entity.name: tuple(entity.column_names)}


def entity_names() -> list[str]:
    return [e.name for e in xf.ENTITIES] + [ROSTER]


@lru_cache(maxsize=32)
def aliases(entity_name: str) -> dict[str, str]:
    """header key → canonical column of one layout (canonical names always included)."""
    entity = entity_get(entity_name)
    out: dict[str, str] = {}
    official = getattr(xf, "header_aliases", None)
    if official is not None:
        for alias, column in official(entity).items():
            out.setdefault(header_key(alias), column)
    names = set(entity.column_names)
    for column, texts in _FALLBACK.items():
        if column in names:
            for text in texts:
                out.setdefault(header_key(text), column)
    for c in entity.columns:
        out[header_key(c.name)] = c.name
    return out


# Columns the "rows to fix" file adds beside the data (``exchange.reports``): a school fixes the
# cells and sends the same file back, so these are skipped without a warning.
REPORT_HEADERS = ("Dòng gốc / Row", "Lỗi cần sửa", "Error to fix")


def header_map(headers: list[str], entity_name: str) -> tuple[dict[int, str], list[int]]:
    """(position → canonical column, positions of unknown non-empty headers). The first of two
    columns with the same meaning wins; the second is reported as unknown."""
    table = aliases(entity_name)
    mapped: dict[int, str] = {}
    unknown: list[int] = []
    taken: set[str] = set()
    ignored = {header_key(h) for h in REPORT_HEADERS}
    for i, text in enumerate(headers):
        key = header_key(text)
        if not key or key in ignored:
            continue
        column = table.get(key)
        if column is None or column in taken:
            unknown.append(i)
            continue
        mapped[i] = column
        taken.add(column)
    return mapped, unknown


def entity_detect(headers: list[str], *, assumed: frozenset[str] = frozenset()) -> str:
    """The entity whose required columns the headers cover best ("roster" when both pupil and
    enrolment columns are present). Ties go to the entity with fewer unmatched headers.
    ``assumed`` columns count as present (school_code when the caller names the school)."""
    best: tuple[float, int, str] | None = None
    for name in entity_names():
        entity = entity_get(name)
        mapped, unknown = header_map(headers, name)
        required = {c.name for c in entity.columns if c.required}
        covered = len(required & (set(mapped.values()) | assumed))
        score = (covered / len(required), -len(unknown), name)
        if best is None or score[:2] > best[:2]:
            best = score
    if best is None or best[0] < 0.5:
        raise IntakeRefused(
            "entity_unknown",
            "Không nhận ra loại dữ liệu của tệp từ dòng tiêu đề; hãy dùng mẫu tệp của chuẩn dữ "
            "liệu hoặc chọn loại dữ liệu khi tải lên.",
            "Could not tell from the header row what the file holds; use a template of the data "
            "standard or choose the kind of data when uploading.",
        )
    return best[2]


def _score_all(cells: list[str]) -> int:
    """How many cells are headers of some entity (used to find the header row)."""
    keys = {header_key(c) for c in cells if c}
    known: set[str] = set()
    for name in entity_names():
        known |= set(aliases(name))
    return len(keys & known)


def header_row_find(
    rows: list[list[str]], merged: list[tuple[tuple[int, int], tuple[int, int]]]
) -> tuple[int, int, list[str]]:
    """Among the first rows of a sheet: (index of the first header row, rows it spans (1 or 2),
    header texts). Merged cells carry their value over the cells they cover, so a two-row
    header ("Ngày" above "sinh", or a group title above its columns) reads as one."""
    rows = [list(r) for r in rows[:HEADER_SEARCH_ROWS]]
    width = max((len(r) for r in rows), default=0)
    for r in rows:
        r.extend([""] * (width - len(r)))
    # Spread merged values (top-left cell) over the merged area, inside the searched block.
    for (r0, c0), (r1, c1) in merged:
        if r0 >= len(rows):
            continue
        value = rows[r0][c0] if c0 < width else ""
        for r in range(r0, min(r1, len(rows) - 1) + 1):
            for c in range(c0, min(c1, width - 1) + 1):
                rows[r][c] = value

    best = (0, 0, 1, [])
    for i, row in enumerate(rows):
        score = _score_all(row)
        if score > best[0]:
            best = (score, i, 1, row)
        if i + 1 < len(rows):
            below = rows[i + 1]
            combined = []
            for top, bottom in zip(row, below, strict=True):
                # Prefer whichever reading is a known header: the lower cell (group titles
                # above), both joined ("Ngày" + "sinh"), or the upper cell (merged down).
                candidates = [bottom, f"{top} {bottom}".strip(), top] if top != bottom else [top]
                pick = next((c for c in candidates if c and _score_all([c])), top or bottom)
                combined.append(pick)
            score = _score_all(combined)
            if score > best[0]:  # only when the second row adds matches
                best = (score, i, 2, combined)
    if best[0] < 2:
        first = next((r for r in rows if any(str(c).strip() for c in r)), [])
        seen = ", ".join(f"'{str(c).strip()[:40]}'" for c in first if str(c).strip())[:300]
        seen_vi = f" Dòng đầu tiên có: {seen}." if seen else ""
        seen_en = f" The first row holds: {seen}." if seen else ""
        raise IntakeRefused(
            "no_header",
            f"Không tìm thấy dòng tiêu đề (tên cột theo chuẩn dữ liệu) trong {HEADER_SEARCH_ROWS} "
            f"dòng đầu của tệp.{seen_vi} Hãy dùng tên cột như trong tệp mẫu của trang Chuẩn dữ "
            "liệu (tiếng Việt hoặc tiếng Anh).",
            f"No header row (column names of the data standard) found in the first "
            f"{HEADER_SEARCH_ROWS} rows of the file.{seen_en} Use the column names of the "
            "templates on the Data standard page (Vietnamese or English).",
            first_row=[str(c) for c in first][:50],
        )
    texts = [str(c) for c in best[3]]
    while texts and not texts[-1].strip():
        texts.pop()  # the width of the table is its header's, not its widest row's
    return best[1], best[2], texts
