"""Artefacts of the published data standard, generated from its one definition.

``registry.exchange_format`` (entities, columns, natural keys) and ``registry.code_lists`` are
the definition; this module turns them into what schools and software vendors use: a JSON
Schema per record, CSV and XLSX templates (drop-down lists for coded columns, date formats,
an instructions sheet), the data-standard page and a machine-readable definition. Every
function is pure and deterministic (same definition, same bytes), so the generated files are
committed under ``docs/standard/v1/`` and a test checks they are up to date.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime
from pathlib import Path

from vnemis.registry.code_lists import (
    CODE_LIST_TITLES,
    CODE_LISTS,
    REFERENCE_LISTS,
    choice_text,
)
from vnemis.registry.exchange_format import (
    ENTITIES,
    FORMAT_VERSION,
    LAYOUTS,
    Column,
    Entity,
    layout_split,
)

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
DTYPE_JSON = {
    "str": "string",
    "int": "integer",
    "float": "number",
    "date": "string",
    "bool": "boolean",
}
DTYPE_LABEL = {
    "str": ("văn bản", "text"),
    "int": ("số nguyên", "integer"),
    "float": ("số", "number"),
    "date": ("ngày", "date"),
    "bool": ("đúng/sai", "true/false"),
}
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "schema.json": "application/schema+json",
}
# Fixed document date: the workbook's bytes must not change from one run to the next.
_XLSX_DATE = datetime(2025, 9, 5)  # noqa: DTZ001 - a constant, not a time of day
_XLSX_ROWS = 1_048_576


def _schema_id(entity: Entity) -> str:
    return f"urn:vnemis:standard:{FORMAT_VERSION}:{entity.name}"


def _static_codes(column: Column) -> list[str] | None:
    """The codes of a column's list when the standard itself holds them (not geo data)."""
    if column.codes is None or column.codes not in CODE_LISTS:
        return None
    return [code for code, _vi, _en in CODE_LISTS[column.codes]]


def _typed_example(column: Column):
    if column.example == "":
        return None
    if column.dtype == "int":
        return int(column.example)
    if column.dtype == "float":
        return float(column.example)
    if column.dtype == "bool":
        return column.example == "true"
    return column.example


def _property(column: Column) -> dict:
    kind = DTYPE_JSON[column.dtype]
    prop: dict = {
        "title": column.header_en,
        "description": column.description_en,
        "x-header-vi": column.header_vi,
        "x-description-vi": column.description_vi,
        "type": kind if column.required else [kind, "null"],
    }
    codes = _static_codes(column)
    if column.dtype == "date":
        prop["format"] = "date"
        prop["pattern"] = DATE_PATTERN
        if column.min is not None:
            prop["x-minimum"] = column.min
        if column.max is not None:
            prop["x-maximum"] = column.max
    elif column.dtype in ("int", "float"):
        if column.min is not None:
            prop["minimum"] = column.min
        if column.max is not None:
            prop["maximum"] = column.max
    elif column.dtype == "str":
        if column.required:
            prop["minLength"] = 1
        if column.max_length is not None:
            prop["maxLength"] = column.max_length
        if codes is not None and column.multiple:
            one = "(" + "|".join(re.escape(c) for c in codes) + ")"
            prop["pattern"] = f"^{one}(;{one})*$"
        elif codes is not None:
            prop["enum"] = codes if column.required else [*codes, None]
        elif column.pattern:
            prop["pattern"] = column.pattern
    if column.codes:
        prop["x-codes"] = column.codes
    if column.multiple:
        prop["x-separator"] = ";"
    example = _typed_example(column)
    if example is not None:
        prop["examples"] = [example]
    return prop


def json_schema(entity: Entity) -> dict:
    """JSON Schema (2020-12) of one record of ``entity`` as JSON Lines or the sync API send it."""
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": _schema_id(entity),
        "title": f"{entity.title_en} / {entity.title_vi}",
        "description": f"{entity.description_en} / {entity.description_vi}",
        "x-version": FORMAT_VERSION,
        "x-entity": entity.name,
        "x-natural-key": list(entity.natural_key),
        "type": "object",
        "properties": {c.name: _property(c) for c in entity.columns},
        "required": [c.name for c in entity.columns if c.required],
        "additionalProperties": False,
    }


def json_schema_bytes(entity: Entity) -> bytes:
    return (json.dumps(json_schema(entity), ensure_ascii=False, indent=2) + "\n").encode()


def _headers(entity: Entity, headers: str) -> list[str]:
    if headers == "vi":
        return [c.header_vi for c in entity.columns]
    if headers == "en":
        return [c.header_en for c in entity.columns]
    if headers == "canonical":
        return entity.column_names
    raise ValueError(f"headers must be vi, en or canonical, not {headers!r}")


def csv_template(entity: Entity, *, headers: str = "vi") -> bytes:
    """An empty CSV file to fill: UTF-8 with a byte-order mark (Excel then reads the Vietnamese
    right) and the header row in Vietnamese, English or canonical names."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(_headers(entity, headers))
    return ("\ufeff" + out.getvalue()).encode()


def definition(entity: Entity, *, with_codes: bool = True) -> dict:
    """The full definition of an entity or layout as plain data (the API's /standard/{entity});
    ``with_codes`` adds the code lists its columns use."""
    columns = []
    for c in entity.columns:
        item = {
            "name": c.name,
            "type": c.dtype,
            "required": c.required,
            "header_vi": c.header_vi,
            "header_en": c.header_en,
            "description_vi": c.description_vi,
            "description_en": c.description_en,
            "codes": c.codes,
            "multiple": c.multiple,
            "min": c.min,
            "max": c.max,
            "max_length": c.max_length,
            "pattern": DATE_PATTERN if c.dtype == "date" else c.pattern,
            "example": c.example,
            "aliases": list(c.aliases),
        }
        columns.append(item)
    used = sorted({c.codes for c in entity.columns if c.codes in CODE_LISTS})
    result = {
        "name": entity.name,
        "version": FORMAT_VERSION,
        "title_vi": entity.title_vi,
        "title_en": entity.title_en,
        "description_vi": entity.description_vi,
        "description_en": entity.description_en,
        "natural_key": list(entity.natural_key),
        "load_order": [e.name for e in ENTITIES].index(entity.name) + 1
        if entity in ENTITIES
        else None,
        "splits_into": {k: list(v) for k, v in layout_split(entity).items()}
        if entity.parts
        else None,
        "columns": columns,
    }
    if with_codes:
        result["code_lists"] = {
            name: [{"code": c, "label_vi": vi, "label_en": en} for c, vi, en in CODE_LISTS[name]]
            for name in used
        }
    return result


def standard_index() -> dict:
    """The whole standard: version, layouts in load order, code lists (standard.json)."""
    return {
        "version": FORMAT_VERSION,
        "layouts": [definition(e, with_codes=False) for e in LAYOUTS],
        "code_lists": {
            name: [{"code": c, "label_vi": vi, "label_en": en} for c, vi, en in items]
            for name, items in CODE_LISTS.items()
        },
        "reference_lists": {
            name: {"pattern": pattern, "description_vi": vi, "description_en": en}
            for name, (pattern, vi, en) in REFERENCE_LISTS.items()
        },
    }


# -- XLSX ----------------------------------------------------------------------------------------


def _col_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _codes_text(column: Column, *, limit: int | None = None) -> str:
    if column.codes in CODE_LISTS:
        items = CODE_LISTS[column.codes]
        shown = items if limit is None else items[:limit]
        text = ", ".join(f"{c} = {vi}" for c, vi, _en in shown)
        return text + (", …" if len(shown) < len(items) else "")
    if column.codes in REFERENCE_LISTS:
        return REFERENCE_LISTS[column.codes][1]
    return ""


def xlsx_template(entity: Entity) -> bytes:
    """An Excel template: Vietnamese header row (English in each header's note), drop-down
    lists for coded columns from a hidden 'codes' sheet, dd/mm/yyyy dates, and an instructions
    sheet ('Hướng dẫn')."""
    import xlsxwriter

    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer, {"in_memory": True})
    wb.set_properties(
        {
            "title": f"{entity.title_vi} — chuẩn dữ liệu {FORMAT_VERSION}",
            "subject": f"vnemis data standard {FORMAT_VERSION}: {entity.name}",
            "author": "Bộ Giáo dục và Đào tạo",
            "created": _XLSX_DATE,
        }
    )
    header_required = wb.add_format(
        {"bold": True, "bg_color": "#FCE4D6", "border": 1, "text_wrap": True, "valign": "top"}
    )
    header_optional = wb.add_format(
        {"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True, "valign": "top"}
    )
    text = wb.add_format({"num_format": "@"})
    date = wb.add_format({"num_format": "dd/mm/yyyy"})
    wrap = wb.add_format({"text_wrap": True, "valign": "top"})
    bold = wb.add_format({"bold": True})

    data = wb.add_worksheet(entity.name)
    guide = wb.add_worksheet("Hướng dẫn")
    codes_sheet = wb.add_worksheet("codes")

    # Code sheet: one column per list this entity uses, its drop-down texts under its name.
    list_ranges: dict[str, str] = {}
    used = [c.codes for c in entity.columns if c.codes in CODE_LISTS]
    for i, name in enumerate(dict.fromkeys(used)):
        letter = _col_letter(i)
        codes_sheet.write_string(0, i, name, bold)
        for row, (code, _vi, _en) in enumerate(CODE_LISTS[name], start=1):
            codes_sheet.write_string(row, i, choice_text(name, code))
        list_ranges[name] = f"=codes!${letter}$2:${letter}${len(CODE_LISTS[name]) + 1}"
        codes_sheet.set_column(i, i, 32)
    codes_sheet.hide()

    data.freeze_panes(1, 0)
    data.set_row(0, 30)
    for i, c in enumerate(entity.columns):
        width = max(12, min(40, len(c.header_vi) + 4))
        # Text columns keep leading zeros ('01', '0012'); numbers stay numbers for validation.
        cell_format = {"date": date, "str": text}.get(c.dtype)
        data.set_column(i, i, width, cell_format)
        data.write_string(0, i, c.header_vi, header_required if c.required else header_optional)
        note = f"{c.header_en} ({c.name})\n{c.description_en}"
        data.write_comment(0, i, note, {"x_scale": 2, "y_scale": 1.5})
        rule = _validation(c, list_ranges)
        if rule is not None:
            rule["input_title"] = c.header_vi[:32]
            rule["input_message"] = (c.description_vi + _required_note(c))[:255]
            data.data_validation(1, i, _XLSX_ROWS - 1, i, rule)

    heads = [
        "Cột",
        "Column",
        "Tên chuẩn / canonical name",
        "Kiểu / type",
        "Bắt buộc / required",
        "Mô tả",
        "Description",
        "Danh mục / codes",
        "Ví dụ / example",
    ]
    guide.write_string(0, 0, f"{entity.title_vi} / {entity.title_en} — {FORMAT_VERSION}", bold)
    guide.write_string(1, 0, f"{entity.description_vi} {entity.description_en}")
    guide.write_string(2, 0, "Khoá tự nhiên / natural key: " + ", ".join(entity.natural_key), bold)
    for j, head in enumerate(heads):
        guide.write_string(4, j, head, header_optional)
    for r, c in enumerate(entity.columns, start=5):
        vi_type, en_type = DTYPE_LABEL[c.dtype]
        row = [
            c.header_vi,
            c.header_en,
            c.name,
            f"{vi_type} / {en_type}",
            "có / yes" if c.required else "không / no",
            c.description_vi,
            c.description_en,
            (c.codes + ": " + _codes_text(c, limit=12)) if c.codes else "",
            c.example,
        ]
        for j, value in enumerate(row):
            guide.write_string(r, j, value, wrap)
    for j, width in enumerate((24, 24, 22, 14, 12, 48, 48, 48, 16)):
        guide.set_column(j, j, width)
    wb.close()
    return buffer.getvalue()


def _required_note(column: Column) -> str:
    return " (bắt buộc)" if column.required else ""


def _validation(column: Column, list_ranges: dict[str, str]) -> dict | None:
    """The Excel data validation of a column; warnings only, so a typed code still goes in."""
    if column.dtype == "date":
        return {
            "validate": "date",
            "criteria": "between",
            "minimum": datetime.fromisoformat(str(column.min or "1900-01-01")),
            "maximum": datetime(2100, 12, 31),  # noqa: DTZ001
            "error_type": "stop",
            "error_title": "Ngày không hợp lệ",
            "error_message": "Nhập ngày dạng dd/mm/yyyy. / Enter a date as dd/mm/yyyy.",
        }
    if column.codes in list_ranges and not column.multiple:
        return {
            "validate": "list",
            "source": list_ranges[column.codes],
            "error_type": "warning",
            "error_title": "Mã không có trong danh mục",
            "error_message": "Chọn một giá trị trong danh sách. / Pick a value from the list.",
        }
    if column.dtype in ("int", "float") and column.min is not None and column.max is not None:
        return {
            "validate": "integer" if column.dtype == "int" else "decimal",
            "criteria": "between",
            "minimum": column.min,
            "maximum": column.max,
            "error_type": "stop",
            "error_title": "Giá trị ngoài khoảng",
            "error_message": f"Từ {column.min} đến {column.max}. / From {column.min} to "
            f"{column.max}.",
        }
    if column.dtype == "str" and column.max_length is not None:
        return {
            "validate": "length",
            "criteria": "<=",
            "value": column.max_length,
            "error_type": "stop",
            "error_title": "Quá dài",
            "error_message": f"Tối đa {column.max_length} ký tự. / At most {column.max_length} "
            "characters.",
        }
    return None


# -- the standard page ----------------------------------------------------------------------------


def _md_cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def _column_line(c: Column) -> str:
    vi_type, en_type = DTYPE_LABEL[c.dtype]
    limits = []
    if c.min is not None or c.max is not None:
        limits.append(f"{c.min if c.min is not None else ''}–{c.max if c.max is not None else ''}")
    if c.max_length is not None:
        limits.append(f"≤ {c.max_length} ký tự / chars")
    if c.pattern and c.dtype != "date":
        limits.append(f"`{c.pattern}`")
    codes = ""
    if c.codes:
        anchor = f"[`{c.codes}`](#code-list-{c.codes.replace('_', '-')})"
        codes = anchor + (" (nhiều mã, `;`)" if c.multiple else "")
    cells = [
        _md_cell(c.header_vi),
        _md_cell(c.header_en),
        f"`{c.name}`",
        f"{vi_type} / {en_type}",
        "có / yes" if c.required else "không / no",
        _md_cell(f"{c.description_vi}. {c.description_en}."),
        codes,
        _md_cell("; ".join(limits)),
        f"`{c.example}`" if c.example else "",
    ]
    return "| " + " | ".join(cells) + " |"


def _entity_markdown(entity: Entity, number: int | None) -> list[str]:
    head = f"{number}. " if number else ""
    lines = [
        f"### {head}`{entity.name}` — {entity.title_vi} / {entity.title_en}",
        "",
        f"{entity.description_vi} {entity.description_en}",
        "",
        "Khoá tự nhiên / natural key: " + ", ".join(f"`{k}`" for k in entity.natural_key),
        "",
    ]
    if entity.parts:
        split = layout_split(entity)
        lines += [
            "Khi nhập, mỗi dòng được tách thành / on import each row splits into: "
            + "; ".join(
                f"`{name}` ({', '.join(f'`{c}`' for c in cols)})" for name, cols in split.items()
            ),
            "",
        ]
    base = f"standard/{FORMAT_VERSION}/{entity.name}"
    lines += [
        f"Mẫu / templates: [{entity.name}.xlsx]({base}.xlsx) · [{entity.name}.csv]({base}.csv)"
        f" · JSON Schema: [{entity.name}.schema.json]({base}.schema.json)",
        "",
        "| Cột (tiếng Việt) | Column (English) | tên chuẩn / name | kiểu / type | bắt buộc / "
        "required | mô tả / description | danh mục / codes | giới hạn / limits | ví dụ / example |",
        "|---|---|---|---|---|---|---|---|---|",
        *(_column_line(c) for c in entity.columns),
        "",
    ]
    return lines


def standard_markdown() -> str:
    """The data-standard page (``docs/data-standard-v1.md``), generated from the definition."""
    lines = [
        f"# Chuẩn dữ liệu trao đổi / Data exchange standard {FORMAT_VERSION}",
        "",
        "<!-- Generated by `vnemis exchange_standard --out docs` from "
        "src/vnemis/registry/exchange_format.py and code_lists.py. Do not edit by hand. -->",
        "",
        "Chuẩn dữ liệu để trường học và phần mềm quản lý trường học gửi dữ liệu vào CSDL ngành "
        "Giáo dục: mỗi loại dữ liệu (entity) một tệp, mỗi dòng một bản ghi, nhận diện bằng khoá "
        "tự nhiên (mã trường, mã học sinh của trường...), không dùng mã nội bộ. "
        "The standard by which schools and school-management software send data to the "
        "education registry: one file per entity, one row per record, records identified by "
        "natural keys (school code, the school's own pupil code...), never internal ids.",
        "",
        "## Quy ước chung / General rules",
        "",
        "- Tệp / files: CSV (UTF-8, có BOM khi mở bằng Excel / with a BOM for Excel), XLSX "
        "(trang tính đầu tiên / the first sheet), Parquet hoặc JSON Lines (một bản ghi JSON mỗi "
        "dòng, theo JSON Schema / one JSON record per line, per the JSON Schema).",
        "- Dòng đầu là tiêu đề cột: tiêu đề tiếng Việt, tiếng Anh hoặc tên chuẩn đều được nhận, "
        "không phân biệt hoa thường, có dấu hay không dấu. The header row may use the "
        "Vietnamese or English headers or the canonical names, in any case, with or without "
        "diacritics.",
        "- Ngày / dates: `dd/mm/yyyy` trong tệp Excel/CSV của trường; `yyyy-mm-dd` (ISO 8601) "
        "trong JSON và tệp chuẩn. Schools' Excel/CSV files may use `dd/mm/yyyy`; JSON and "
        "canonical files use ISO `yyyy-mm-dd`.",
        "- Năm học / school year: `2025-2026`.",
        "- Cột có danh mục: ghi mã (ví dụ `F`); mẫu Excel cho chọn `F - Nữ` trong danh sách, "
        "cũng được nhận. Coded columns take the code (e.g. `F`); the Excel templates offer "
        "`F - Nữ` in a drop-down, which is accepted too. Several codes: separated by `;`.",
        "- Nhập lại cùng tệp không thay đổi gì; dòng đã có (cùng khoá tự nhiên) được cập nhật. "
        "Re-importing the same file changes nothing; a row whose natural key exists updates "
        "that record. Records are never deleted by an import.",
        "- Thứ tự nạp / load order: tệp chỉ tham chiếu tới các tệp đứng trước nó trong danh "
        "sách dưới đây. A file refers only to entities listed before it.",
        "",
        "## Dữ liệu / Entities",
        "",
        "| # | entity | tên / title | khoá tự nhiên / natural key |",
        "|---|---|---|---|",
    ]
    for n, e in enumerate(ENTITIES, start=1):
        key = ", ".join(f"`{k}`" for k in e.natural_key)
        lines.append(f"| {n} | `{e.name}` | {e.title_vi} / {e.title_en} | {key} |")
    lines += ["", "Bố cục ghép / composite layouts:", ""]
    for e in LAYOUTS:
        if e.parts:
            lines.append(f"- `{e.name}` — {e.title_vi} / {e.title_en}")
    lines.append("")
    for n, e in enumerate(ENTITIES, start=1):
        lines += _entity_markdown(e, n)
    lines += ["## Bố cục ghép / Composite layouts", ""]
    for e in LAYOUTS:
        if e.parts:
            lines += _entity_markdown(e, None)
    lines += ["## Danh mục / Code lists", ""]
    for name, items in CODE_LISTS.items():
        vi, en = CODE_LIST_TITLES[name]
        lines += [
            f'<a id="code-list-{name.replace("_", "-")}"></a>',
            f"### `{name}` — {vi} / {en}",
            "",
            "| mã / code | tiếng Việt | English |",
            "|---|---|---|",
            *(f"| `{c}` | {_md_cell(lvi)} | {_md_cell(lab_en)} |" for c, lvi, lab_en in items),
            "",
        ]
    lines += [
        "## Danh mục hành chính / Administrative reference lists",
        "",
        "Lấy từ danh mục đơn vị hành chính hiện hành trong hệ thống (`vnemis geo`), không nằm "
        "trong các tệp mẫu; API `GET /api/v1/units/provinces` trả danh sách đầy đủ. Taken "
        "from the current administrative units in the registry (`vnemis geo`, "
        "`GET /api/v1/units/provinces`), not part of the static templates.",
        "",
    ]
    for name, (pattern, vi, en) in REFERENCE_LISTS.items():
        lines += [
            f'<a id="code-list-{name}"></a>',
            f"- `{name}`: `{pattern}` — {vi}. {en}.",
        ]
    lines += [
        "",
        "## Tệp máy đọc / Machine-readable files",
        "",
        f"- [`standard/{FORMAT_VERSION}/standard.json`](standard/{FORMAT_VERSION}/standard.json)"
        ": toàn bộ định nghĩa / the whole definition.",
        "- API: `GET /api/v1/standard`, `GET /api/v1/standard/{entity}`, "
        "`GET /api/v1/standard/{entity}/schema`.",
        "",
    ]
    return "\n".join(lines)


def artefact_bytes(entity: Entity, kind: str) -> bytes:
    """One downloadable file of an entity: kind 'csv', 'xlsx' or 'schema.json'."""
    if kind == "csv":
        return csv_template(entity)
    if kind == "xlsx":
        return xlsx_template(entity)
    if kind == "schema.json":
        return json_schema_bytes(entity)
    raise ValueError(f"unknown artefact kind {kind!r}")


def write_artefacts(out_dir: str | Path) -> list[Path]:
    """Write the standard under ``out_dir`` (the docs directory): ``data-standard-v1.md`` and
    ``standard/v1/{<layout>.schema.json, <layout>.csv, <layout>.xlsx, standard.json}``."""
    out_dir = Path(out_dir)
    folder = out_dir / "standard" / FORMAT_VERSION
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    page = out_dir / f"data-standard-{FORMAT_VERSION}.md"
    page.write_text(standard_markdown(), encoding="utf-8")
    written.append(page)
    for entity in LAYOUTS:
        for kind in ("schema.json", "csv", "xlsx"):
            path = folder / f"{entity.name}.{kind}"
            path.write_bytes(artefact_bytes(entity, kind))
            written.append(path)
    index = folder / "standard.json"
    index.write_text(json.dumps(standard_index(), ensure_ascii=False, indent=2) + "\n")
    written.append(index)
    return written
