"""The one error shape of the HTTP API: a stable machine code and a message in Vietnamese and English.

Routers raise ``ApiError``; ``vnemis.config.api`` turns it (and ninja's own authentication and
validation errors) into ``ErrorOut``. It lives in core, not in config, so that every app's
router can raise it and declare it in its OpenAPI responses without importing the API root.
"""

from typing import Any

from ninja import Schema


class ErrorDetail(Schema):
    field: str
    type: str
    message: str
    # A record of a batch the error is about (sync API): its 1-based index and natural key,
    # and for a stale write the version sent and the current one.
    index: int | None = None
    key: dict[str, Any] | None = None
    version: int | None = None
    current_version: int | None = None


class ErrorOut(Schema):
    code: str
    message_vi: str
    message_en: str
    errors: list[ErrorDetail] | None = None


class ApiError(Exception):
    """An error a client can act on, with its HTTP status and stable code."""

    def __init__(
        self,
        status: int,
        code: str,
        message_vi: str,
        message_en: str,
        errors: list[dict] | None = None,
    ) -> None:
        super().__init__(message_en)
        self.status = status
        self.code = code
        self.message_vi = message_vi
        self.message_en = message_en
        self.errors = errors

    def body(self) -> dict:
        return {
            "code": self.code,
            "message_vi": self.message_vi,
            "message_en": self.message_en,
            "errors": self.errors,
        }


# Declared on every authenticated endpoint so the OpenAPI document lists the error shape.
ERROR_RESPONSES = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


def not_found(what_vi: str, what_en: str) -> ApiError:
    """404 for a record that is missing or outside the caller's scope (the two look the same,
    so the API never confirms that someone else's record exists)."""
    return ApiError(
        404,
        "not_found",
        f"{what_vi} không tồn tại hoặc nằm ngoài phạm vi của bạn.",
        f"{what_en} does not exist or is outside your scope.",
    )


def out_of_scope(field: str, value: str) -> ApiError:
    """403 for a filter naming an existing organisation the caller may not reach."""
    return ApiError(
        403,
        "out_of_scope",
        f"Đơn vị {value} nằm ngoài phạm vi dữ liệu của bạn.",
        f"Organisation {value} is outside your data scope.",
        errors=[{"field": field, "type": "out_of_scope", "message": value}],
    )


def unknown_value(field: str, value: str) -> ApiError:
    """422 for a filter value that names nothing (an unknown code)."""
    return ApiError(
        422,
        "unknown_filter_value",
        f"Giá trị '{value}' của tham số '{field}' không tồn tại; hãy kiểm tra lại mã.",
        f"The value '{value}' of parameter '{field}' does not exist; check the code.",
        errors=[{"field": field, "type": "unknown_value", "message": value}],
    )


def invalid_cursor(field: str = "cursor") -> ApiError:
    """422 for a cursor this list did not issue (edited, truncated, from another list);
    ``field``: the query parameter that carried it."""
    return ApiError(
        422,
        "invalid_cursor",
        f"Con trỏ phân trang (tham số '{field}') không hợp lệ; hãy dùng đúng giá trị "
        f"next_cursor của trang trước, hoặc bỏ tham số '{field}' để đọc lại từ đầu.",
        f"The pagination cursor (parameter '{field}') is invalid; pass the next_cursor of the "
        f"previous page unchanged, or omit '{field}' to start from the beginning.",
        errors=[{"field": field, "type": "invalid_cursor", "message": "not issued by this list"}],
    )
