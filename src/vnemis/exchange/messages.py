"""Problem codes → full messages in Vietnamese and English, for intake and the engine alike.

Error rows store a code, never a message (docs/exchange-pipeline.md): messages are looked up
here when a report or a page is shown, so 100,000 errors cost 100,000 short codes. Engine codes
come from ``registry.loaders.MESSAGES`` and may carry a ":column" suffix; intake's own codes are
below. A code nobody knows still gets a message (the code itself), never an exception.
"""

from __future__ import annotations

from vnemis.registry.loaders import MESSAGES as ENGINE_MESSAGES

# Row-level problems found by intake (the engine's codes are reused where they exist).
INTAKE_MESSAGES: dict[str, tuple[str, str]] = {
    "missing": ("thiếu giá trị bắt buộc ở cột", "required value missing in column"),
    "bad_value": ("giá trị sai định dạng ở cột", "malformed value in column"),
    "bad_date": (
        "ngày không hợp lệ (dùng dd/mm/yyyy hoặc yyyy-mm-dd) ở cột",
        "invalid date (use dd/mm/yyyy or yyyy-mm-dd) in column",
    ),
    "date_mmdd": (
        "ngày có vẻ viết theo tháng/ngày/năm (mm/dd/yyyy); hãy viết ngày/tháng/năm ở cột",
        "date looks like month/day/year (mm/dd/yyyy); write day/month/year in column",
    ),
    "date_ambiguous": (
        "ngày đọc được theo cả hai cách (ngày/tháng hoặc tháng/ngày) mà cột có vẻ dùng "
        "tháng/ngày/năm; dòng không được nạp để tránh đảo ngày và tháng ở cột",
        "the date reads both ways (day/month or month/day) and the column looks mm/dd/yyyy; "
        "the row was not loaded rather than risk swapping day and month in column",
    ),
    "bad_code": ("giá trị không có trong danh mục ở cột", "value not in the code list of column"),
    "out_of_range": (
        "giá trị ngoài khoảng cho phép ở cột",
        "value out of the allowed range in column",
    ),
    "control_character": (
        "giá trị chứa ký tự điều khiển (ví dụ byte 0) ở cột",
        "value contains control characters (e.g. a zero byte) in column",
    ),
    "leading_zeros_lost": (
        "mã bị mất số 0 ở đầu (thường do Excel đổi mã thành số) ở cột",
        "code lost its leading zeros (usually Excel turning it into a number) in column",
    ),
    "wrong_school": (
        "dòng thuộc trường khác; trường chỉ được gửi dữ liệu của chính mình",
        "the row belongs to another school; a school may only send its own data",
    ),
    "age_grade": (
        "tuổi không phù hợp với khối lớp (khối g thường ở tuổi g+6 đầu năm học)",
        "age not plausible for the grade (grade g is usually age g+6 at the start of the year)",
    ),
    "cccd_format": ("số CCCD phải gồm đúng 12 chữ số", "citizen ID must be exactly 12 digits"),
    "cccd_province": (
        "3 chữ số đầu của số CCCD không phải mã tỉnh nào",
        "the first 3 digits of the citizen ID are not a province code",
    ),
    "cccd_century_sex": (
        "chữ số thứ 4 của số CCCD (thế kỷ và giới tính) không khớp ngày sinh và giới tính",
        "the citizen ID's 4th digit (century and sex) does not match the birth date and sex",
    ),
    "cccd_birth_year": (
        "chữ số thứ 5-6 của số CCCD không khớp năm sinh",
        "the citizen ID's 5th-6th digits do not match the year of birth",
    ),
    "ragged_row": (
        "dòng có nhiều ô hơn dòng tiêu đề (thừa dấu phân cách hoặc lệch cột)",
        "the row has more cells than the header (a stray separator or shifted columns)",
    ),
    "bad_json": (
        "dòng không phải một đối tượng JSON hợp lệ",
        "the line is not a valid JSON object",
    ),
    "formula_no_value": (
        "ô có công thức nhưng chưa có giá trị tính sẵn (mở tệp bằng Excel, lưu lại rồi gửi) ở cột",
        "formula cell without a computed value (open the file in Excel, save it, send again) in column",
    ),
    "formula_error": (
        "công thức trả về lỗi (ví dụ #DIV/0!, #REF!) ở cột",
        "formula gives an error (e.g. #DIV/0!, #REF!) in column",
    ),
    "unknown_column": (
        "cột không có trong chuẩn dữ liệu nên được bỏ qua",
        "column not in the data standard; ignored",
    ),
    "column_empty": ("cột trống ở mọi dòng", "the column is empty on every row"),
    "bad_name": (
        "họ tên chỉ được gồm chữ cái, dấu cách, dấu nháy đơn (') và dấu gạch nối (-), bắt đầu "
        "bằng một chữ cái, ở cột",
        "a name may hold only letters, spaces, apostrophes (') and hyphens (-), and must start "
        "with a letter, in column",
    ),
    "old_id_card": (
        "đây là số CMND 9 chữ số cũ; hãy nhập số CCCD 12 chữ số ở cột",
        "this is an old 9-digit identity card number; enter the 12-digit citizen ID in column",
    ),
    "decimal_comma": (
        "số dùng dấu phẩy làm dấu thập phân (7,5); hãy dùng dấu chấm (7.5) ở cột",
        "number uses a decimal comma (7,5); use a decimal point (7.5) in column",
    ),
}

# Whole-file refusals (IntakeRefused.code): short forms for lists and the API's error codes.
REFUSAL_MESSAGES: dict[str, tuple[str, str]] = {
    "file_too_large": ("tệp vượt quá giới hạn kích thước", "the file exceeds the size limit"),
    "empty_file": ("tệp rỗng", "the file is empty"),
    "no_rows": ("tệp chỉ có dòng tiêu đề", "the file has only a header row"),
    "wrong_content": (
        "nội dung tệp không phải dữ liệu bảng",
        "the file's content is not table data",
    ),
    "content_mismatch": (
        "đuôi tệp không khớp nội dung",
        "the file's extension does not match its content",
    ),
    "binary_file": ("tệp chứa dữ liệu nhị phân", "the file holds binary data"),
    "json_array": ("JSON phải ở dạng JSON Lines", "JSON must be JSON Lines"),
    "bad_encoding": ("không đọc được bảng mã của tệp", "the file's text encoding cannot be read"),
    "xlsx_unreadable": (
        "tệp Excel bị hỏng hoặc có mật khẩu",
        "the Excel file is damaged or protected",
    ),
    "zip_bomb": (
        "tệp XLSX giải nén quá lớn (zip bomb)",
        "the XLSX file expands too much (zip bomb)",
    ),
    "malformed_csv": ("tệp CSV sai cấu trúc", "the CSV file is malformed"),
    "parquet_unreadable": ("tệp Parquet bị hỏng", "the Parquet file is damaged"),
    "missing_columns": ("tệp thiếu cột bắt buộc", "the file lacks required columns"),
    "entity_unknown": (
        "không nhận ra loại dữ liệu của tệp",
        "the kind of data could not be recognised",
    ),
    "unknown_entity": ("loại dữ liệu không có trong chuẩn", "unknown kind of data"),
    "no_header": ("không tìm thấy dòng tiêu đề", "no header row found"),
}

_ENDS_WITH_COLUMN = ("ở cột", "in column", "of column")


def message(code: str, column_label: str | None = None) -> tuple[str, str]:
    """(Vietnamese, English) message of a problem code. A ':column' suffix on the code (engine
    style) or ``column_label`` names the column; messages ending in 'ở cột'/'in column' take it
    at the end, others get it in brackets."""
    base, _, suffix = code.partition(":")
    label = column_label or suffix or None
    vi, en = (
        INTAKE_MESSAGES.get(base)
        or ENGINE_MESSAGES.get(base)
        or REFUSAL_MESSAGES.get(base)
        or _oneroster_messages().get(base)
        or (base, base)
    )
    if label:
        vi = f"{vi} '{label}'" if vi.endswith(_ENDS_WITH_COLUMN[0]) else f"{vi} (cột '{label}')"
        en = f"{en} '{label}'" if en.endswith(_ENDS_WITH_COLUMN[1:]) else f"{en} (column '{label}')"
    elif vi.endswith(_ENDS_WITH_COLUMN[0]):
        vi, en = vi.removesuffix(" ở cột"), en.removesuffix(" in column").removesuffix(" of column")
    return vi, en


def _oneroster_messages() -> dict[str, tuple[str, str]]:
    # Imported late: the OneRoster converter itself reports through this module.
    from .oneroster.to_standard import MESSAGES as ONEROSTER_MESSAGES

    return ONEROSTER_MESSAGES


def all_codes() -> set[str]:
    """Every code with a message (tests check each has both languages)."""
    return (
        set(INTAKE_MESSAGES)
        | set(ENGINE_MESSAGES)
        | set(REFUSAL_MESSAGES)
        | set(_oneroster_messages())
    )
