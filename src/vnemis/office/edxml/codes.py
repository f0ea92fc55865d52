"""The code tables of edXML (QCVN 102:2016/BTTTT) and the library's error codes, kept as data.

Each table maps a code to its Vietnamese and English names. The numeric codes of
``DocumentType`` differ between public samples (DOMAIN.md §9), so the table here is the reading
vnemis writes, not a rule the parser enforces: incoming ``Type``/``TypeDetail`` only have to be
whole numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta, timezone

NAMESPACE = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
XLINK_NAMESPACE = "http://www.w3.org/1999/xlink"
DSIG_NAMESPACE = "http://www.w3.org/2000/09/xmldsig#"
SOAP_NAMESPACE = "http://schemas.xmlsoap.org/soap/envelope/"

DATE_FORMAT = "%Y/%m/%d"  # yyyy/MM/dd
TIME_FORMAT = "%Y/%m/%d %H:%M:%S"  # yyyy/MM/dd HH:mm:ss
# edXML times carry no offset; they are Vietnam time, which has had no daylight saving since 1975.
VN = timezone(timedelta(hours=7), "ICT")

# Size caps. libxml2 refuses a text node over 10,000,000 characters unless huge_tree is on
# (we keep it off), so one attachment's base64 must stay under that: 7 MiB encodes to 9.8 M.
DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_ATTACHMENT_BYTES = 7 * 1024 * 1024
DEFAULT_MAX_STATUS_BYTES = 1024 * 1024

PRIORITIES: dict[int, tuple[str, str]] = {
    0: ("Thường", "normal"),
    1: ("Khẩn", "urgent"),
    2: ("Thượng khẩn", "very urgent"),
    3: ("Hỏa tốc", "express"),
    4: ("Hỏa tốc hẹn giờ", "timed express"),
}

STEERING_TYPES: dict[int, tuple[str, str]] = {
    0: ("Không phải văn bản chỉ đạo", "not a directive"),
    1: ("Văn bản chỉ đạo", "directive"),
    2: ("Báo cáo thực hiện văn bản chỉ đạo", "report on a directive"),
}

BUSINESS_DOC_TYPES: dict[int, tuple[str, str]] = {
    0: ("Văn bản mới", "new document"),
    1: ("Thu hồi văn bản", "revocation"),
    2: ("Cập nhật văn bản", "update"),
    3: ("Thay thế văn bản", "replacement"),
}

PAPER: dict[int, tuple[str, str]] = {
    0: ("Không gửi kèm bản giấy", "no paper copy"),
    1: ("Có gửi kèm bản giấy", "a paper copy follows"),
}

STATUS_CODES: dict[str, tuple[str, str]] = {
    "01": ("Đã đến", "arrived"),
    "02": ("Từ chối tiếp nhận", "rejected"),
    "03": ("Đã tiếp nhận và vào sổ", "accepted and registered"),
    "04": ("Lãnh đạo đã phân công xử lý", "assigned by a leader"),
    "05": ("Đang xử lý", "being processed"),
    "06": ("Đã hoàn thành", "completed"),
    "13": ("Đề nghị lấy lại văn bản", "recall requested"),
    "15": ("Đồng ý lấy lại hoặc cập nhật", "recall or update agreed"),
    "16": ("Từ chối lấy lại hoặc cập nhật", "recall or update refused"),
}

DOCUMENT_TYPE_KINDS: dict[int, tuple[str, str]] = {
    1: ("Văn bản quy phạm pháp luật", "legal normative document"),
    2: ("Văn bản hành chính", "administrative document"),
}


@dataclass(frozen=True)
class DocumentTypeCode:
    """One administrative document type: the TypeDetail number vnemis writes, its abbreviation."""

    detail: int
    abbreviation: str  # "" where Decree 30/2020 gives none (Công văn, Thư công)
    name_vi: str
    name_en: str


# The 29 administrative document types of Decree 30/2020 Art. 7, numbered in the decree's order
# (one public sample numbers Công văn 18 likewise); written with Type 2 (administrative).
DOCUMENT_TYPES: tuple[DocumentTypeCode, ...] = tuple(
    DocumentTypeCode(i, abbreviation, vi, en)
    for i, (abbreviation, vi, en) in enumerate(
        (
            ("NQ", "Nghị quyết", "resolution"),
            ("QĐ", "Quyết định", "decision"),
            ("CT", "Chỉ thị", "directive"),
            ("QC", "Quy chế", "regulation"),
            ("QyĐ", "Quy định", "rules"),
            ("TC", "Thông cáo", "communiqué"),
            ("TB", "Thông báo", "notice"),
            ("HD", "Hướng dẫn", "guidance"),
            ("CTr", "Chương trình", "programme"),
            ("KH", "Kế hoạch", "plan"),
            ("PA", "Phương án", "option plan"),
            ("ĐA", "Đề án", "scheme"),
            ("DA", "Dự án", "project"),
            ("BC", "Báo cáo", "report"),
            ("BB", "Biên bản", "minutes"),
            ("TTr", "Tờ trình", "submission"),
            ("HĐ", "Hợp đồng", "contract"),
            ("", "Công văn", "official letter"),
            ("CĐ", "Công điện", "official telegram"),
            ("BGN", "Bản ghi nhớ", "memorandum"),
            ("BTT", "Bản thỏa thuận", "agreement"),
            ("GUQ", "Giấy ủy quyền", "power of attorney"),
            ("GM", "Giấy mời", "invitation"),
            ("GGT", "Giấy giới thiệu", "letter of introduction"),
            ("GNP", "Giấy nghỉ phép", "leave permit"),
            ("PG", "Phiếu gửi", "dispatch slip"),
            ("PC", "Phiếu chuyển", "transfer slip"),
            ("PB", "Phiếu báo", "notification slip"),
            ("", "Thư công", "public letter"),
        ),
        start=1,
    )
)
ADMINISTRATIVE = 2


def document_type_code(abbreviation: str) -> DocumentTypeCode:
    """The table row of a Decree 30 abbreviation (``"QĐ"``), or of ``"CV"`` for Công văn."""
    if abbreviation == "CV":
        return DOCUMENT_TYPES[17]
    for row in DOCUMENT_TYPES:
        if row.abbreviation and row.abbreviation == abbreviation:
            return row
    raise KeyError(abbreviation)


# Error code -> (Vietnamese, English) message templates; the parameters are str.format fields.
ERRORS: dict[str, tuple[str, str]] = {
    "edxml_too_large": (
        "Gói tin edXML quá lớn ({size} byte, tối đa {limit} byte).",
        "The edXML message is too large ({size} bytes, at most {limit}).",
    ),
    "edxml_not_xml": (
        "Gói tin không phải XML hợp lệ: {detail}.",
        "The message is not well-formed XML: {detail}.",
    ),
    "edxml_dtd_forbidden": (
        "Gói tin chứa khai báo DTD hoặc thực thể (entity), không được phép trong edXML.",
        "The message contains a DTD or entity declaration, which edXML does not allow.",
    ),
    "edxml_wrong_root": (
        "Phần tử gốc là {found}, cần {expected} trong không gian tên {namespace}.",
        "The root element is {found}; expected {expected} in namespace {namespace}.",
    ),
    "edxml_missing_element": (
        "Thiếu phần tử bắt buộc {element} (hoặc phần tử này rỗng).",
        "The required element {element} is missing or empty.",
    ),
    "edxml_duplicate_element": (
        "Phần tử {element} chỉ được xuất hiện một lần.",
        "The element {element} may appear only once.",
    ),
    "edxml_bad_date": (
        "Ngày trong {element} phải theo dạng yyyy/MM/dd, nhận được “{value}”.",
        "The date in {element} must be yyyy/MM/dd; got “{value}”.",
    ),
    "edxml_bad_time": (
        "Thời gian trong {element} phải theo dạng yyyy/MM/dd HH:mm:ss, nhận được “{value}”.",
        "The time in {element} must be yyyy/MM/dd HH:mm:ss; got “{value}”.",
    ),
    "edxml_bad_code": (
        "Mã “{value}” trong {element} không hợp lệ (cho phép: {allowed}).",
        "The code “{value}” in {element} is not valid (allowed: {allowed}).",
    ),
    "edxml_bad_value": (
        "Giá trị “{value}” trong {element} không hợp lệ: {reason_vi}.",
        "The value “{value}” in {element} is not valid: {reason_en}.",
    ),
    "edxml_document_id_mismatch": (
        "Mã định danh văn bản {element} là “{value}” nhưng theo các thành phần phải là “{expected}”.",
        "The document identifier {element} is “{value}” but its parts make “{expected}”.",
    ),
    "edxml_reference_without_attachment": (
        "Danh mục tệp đính kèm tham chiếu {content_id} nhưng gói tin không có tệp này.",
        "The manifest references {content_id} but the message has no such attachment.",
    ),
    "edxml_attachment_not_in_manifest": (
        "Tệp đính kèm {content_id} không có trong danh mục (edXMLManifest).",
        "The attachment {content_id} is not listed in the manifest (edXMLManifest).",
    ),
    "edxml_manifest_mismatch": (
        "Tệp đính kèm {content_id} ghi {element} khác với danh mục: “{value}” và “{expected}”.",
        "The attachment {content_id} gives {element} differently from the manifest: "
        "“{value}” and “{expected}”.",
    ),
    "edxml_duplicate_content_id": (
        "Mã tệp đính kèm {content_id} xuất hiện nhiều lần.",
        "The attachment identifier {content_id} appears more than once.",
    ),
    "edxml_bad_base64": (
        "Nội dung tệp đính kèm {content_id} không phải base64 hợp lệ.",
        "The content of attachment {content_id} is not valid base64.",
    ),
    "edxml_attachment_too_large": (
        "Tệp đính kèm {content_id} quá lớn (tối đa {limit} byte).",
        "The attachment {content_id} is too large (at most {limit} bytes).",
    ),
    "edxml_unsigned": (
        "Gói tin edXML chưa được ký số.",
        "The edXML message is not signed.",
    ),
    "edxml_signature_invalid": (
        "Chữ ký số của gói tin không hợp lệ: {detail_vi}.",
        "The message signature is not valid: {detail_en}.",
    ),
    "edxml_signature_algorithm": (
        "Thuật toán ký {algorithm} không được chấp nhận.",
        "The signature algorithm {algorithm} is not accepted.",
    ),
    "edxml_signer_untrusted": (
        "Chứng thư số của người ký ({subject}) không do tổ chức chứng thực tin cậy cấp.",
        "The signer's certificate ({subject}) was not issued by a trusted certificate authority.",
    ),
    "edxml_certificate_usage": (
        "Chứng thư số {subject} không được phép dùng để ký số (thiếu mục đích ký).",
        "The certificate {subject} may not be used for signing (its key usage forbids it).",
    ),
    "edxml_certificate_expired": (
        "Chứng thư số {subject} đã hết hạn ngày {date}.",
        "The certificate {subject} expired on {date}.",
    ),
    "edxml_certificate_not_yet_valid": (
        "Chứng thư số {subject} chỉ có hiệu lực từ ngày {date}.",
        "The certificate {subject} is not valid before {date}.",
    ),
}
