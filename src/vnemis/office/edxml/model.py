"""The edXML message and status message as frozen dataclasses, and the one error they raise.

A ``Message`` is what one organisation sends another: the header (sender, recipients, number
and notation, dates, signer, ...), the trace list with its business block, and the attachments.
A ``StatusMessage`` is what the receiver sends back about it (arrived, registered, ...).

Both validate themselves when constructed, so an invalid message cannot be built, and parsing
an incoming one refuses it with the same codes: the element paths in the errors name the XML
elements (docs/office-edxml.md). Lists are kept as tuples so that equal messages compare equal.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime

from vnemis.core.errors import BilingualError

from .codes import (
    BUSINESS_DOC_TYPES,
    DATE_FORMAT,
    ERRORS,
    PAPER,
    PRIORITIES,
    STATUS_CODES,
    STEERING_TYPES,
)

CONTENT_ID = re.compile(r"cid:[^\s<>\"]+")
CODE_NUMBER = re.compile(r"[0-9]+")


def _short(value: object, limit: int = 80) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class EdxmlError(BilingualError):
    """A message or status message refused: a stable ``edxml_*`` code and both messages."""

    @classmethod
    def of(cls, code: str, **params: object) -> EdxmlError:
        vi, en = ERRORS[code]
        values = {k: _short(v, 200 if k.startswith("detail") else 80) for k, v in params.items()}
        return cls(code, vi.format(**values), en.format(**values))


def document_id_format(organ_id: str, day: date, number_notation: str) -> str:
    """``{OrganId},{yyyy/MM/dd},{number}/{notation}``: how edXML names one document."""
    return f"{organ_id},{day.strftime(DATE_FORMAT)},{number_notation}"


# ---------------------------------------------------------------------------------------------
# Header parts


@dataclass(frozen=True)
class Organ:
    """An organisation as ``From``/``To`` give it; ``organ_id`` is its exchange code."""

    organ_id: str
    organ_name: str
    organization_in_charge: str = ""
    organ_add: str = ""
    email: str = ""
    telephone: str = ""
    fax: str = ""
    website: str = ""


@dataclass(frozen=True)
class Code:
    """The number and notation: ``Code(number="123", notation="QĐ-BGDĐT")`` is 123/QĐ-BGDĐT."""

    number: str
    notation: str

    def __str__(self) -> str:
        return f"{self.number}/{self.notation}"


@dataclass(frozen=True)
class PromulgationInfo:
    place: str
    date: date


@dataclass(frozen=True)
class DocumentType:
    """``Type``, ``TypeDetail`` and ``TypeName``; see ``codes.DOCUMENT_TYPES`` for the numbers."""

    type: int
    type_detail: int = 0
    type_name: str = ""


@dataclass(frozen=True)
class SignerInfo:
    full_name: str
    position: str = ""
    competence: str = ""  # e.g. "TL. BỘ TRƯỞNG", "KT. GIÁM ĐỐC"


@dataclass(frozen=True)
class OtherInfo:
    priority: int = 0  # codes.PRIORITIES
    sphere_of_promulgation: str = ""
    typer_notation: str = ""
    promulgation_amount: int | None = None
    page_amount: int | None = None
    direction: bool = False
    appendixes: tuple[str, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "appendixes", tuple(self.appendixes))


@dataclass(frozen=True)
class ResponseFor:
    """The document a message or status answers: its organ, number/notation, date and id."""

    organ_id: str
    code: str  # "7816/VPCP-TTĐT"
    promulgation_date: date
    document_id: str

    @classmethod
    def to(cls, organ_id: str, code: str, promulgation_date: date) -> ResponseFor:
        """The reference to a document, its id made from its parts."""
        return cls(
            organ_id, code, promulgation_date, document_id_format(organ_id, promulgation_date, code)
        )


@dataclass(frozen=True)
class MessageHeader:
    from_organ: Organ
    to_organs: tuple[Organ, ...]
    code: Code
    promulgation: PromulgationInfo
    document_type: DocumentType
    subject: str
    signer: SignerInfo
    content: str = ""
    due_date: date | None = None
    to_places: tuple[str, ...] = ()
    other_info: OtherInfo = OtherInfo()
    response_for: tuple[ResponseFor, ...] = ()
    steering_type: int = 0  # codes.STEERING_TYPES

    def __post_init__(self):
        for name in ("to_organs", "to_places", "response_for"):
            object.__setattr__(self, name, tuple(getattr(self, name)))

    @property
    def document_id(self) -> str:
        """``{From/OrganId},{PromulgationDate},{CodeNumber}/{CodeNotation}``."""
        return document_id_format(self.from_organ.organ_id, self.promulgation.date, str(self.code))


# ---------------------------------------------------------------------------------------------
# Trace list


@dataclass(frozen=True)
class TraceHeader:
    organ_id: str
    timestamp: datetime  # timezone-aware; written in Vietnam time, whole seconds


@dataclass(frozen=True)
class StaffInfo:
    department: str = ""
    staff: str = ""
    mobile: str = ""
    email: str = ""


@dataclass(frozen=True)
class Receiver:
    receiver_type: int
    organ_id: str


@dataclass(frozen=True)
class BusinessDocumentInfo:
    """What an update (BussinessDocType 2) changes: the document's data, its receivers, or both."""

    document_info: int = 0  # 1: the document's information is updated
    document_receiver: int = 0  # 1: its list of receivers is updated
    receivers: tuple[Receiver, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "receivers", tuple(self.receivers))


@dataclass(frozen=True)
class ReplacementInfo:
    """A document a replacement (BussinessDocType 3) replaces, and at which organisations."""

    document_id: str
    organ_ids: tuple[str, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "organ_ids", tuple(self.organ_ids))


@dataclass(frozen=True)
class Business:
    """The ``Bussiness`` block (the standard's spelling): new, revoke, update or replace."""

    doc_type: int = 0  # codes.BUSINESS_DOC_TYPES
    reason: str = ""
    document_id: str = ""  # the document revoked, updated or replaced
    paper: int = 0  # codes.PAPER
    staff: StaffInfo | None = None
    document_info: BusinessDocumentInfo | None = None
    replacements: tuple[ReplacementInfo, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "replacements", tuple(self.replacements))


@dataclass(frozen=True)
class TraceHeaderList:
    traces: tuple[TraceHeader, ...] = ()
    business: Business = Business()

    def __post_init__(self):
        object.__setattr__(self, "traces", tuple(self.traces))


# ---------------------------------------------------------------------------------------------
# Attachments and the message


@dataclass(frozen=True)
class Attachment:
    """One attached file: listed in the manifest and carried base64-encoded."""

    content_id: str  # "cid:..."
    name: str
    content_type: str
    data: bytes = field(repr=False)
    description: str = ""

    @classmethod
    def new(cls, *, name: str, content_type: str, data: bytes, description: str = "") -> Attachment:
        """An attachment with a fresh ``cid:`` identifier."""
        return cls(f"cid:{uuid.uuid4()}", name, content_type, bytes(data), description)


@dataclass(frozen=True)
class Message:
    header: MessageHeader
    trace: TraceHeaderList = TraceHeaderList()
    attachments: tuple[Attachment, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "attachments", tuple(self.attachments))
        _check_message(self)

    @property
    def document_id(self) -> str:
        return self.header.document_id


@dataclass(frozen=True)
class StatusMessage:
    """The receiver's report on a document: ``status_code`` is one of ``codes.STATUS_CODES``."""

    response_for: ResponseFor
    from_organ: Organ
    status_code: str
    timestamp: datetime  # timezone-aware
    description: str = ""
    staff: StaffInfo = StaffInfo()

    def __post_init__(self):
        _check_status(self)


# ---------------------------------------------------------------------------------------------
# Validation: the element paths are those of the XML (docs/office-edxml.md)


def _required(value: str, element: str) -> None:
    if not value:
        raise EdxmlError.of("edxml_missing_element", element=element)


def _code(value: object, table: dict, element: str) -> None:
    if value not in table:
        allowed = ", ".join(str(k) for k in table)
        raise EdxmlError.of("edxml_bad_code", element=element, value=value, allowed=allowed)


def _bad_value(value: object, element: str, reason_vi: str, reason_en: str) -> EdxmlError:
    return EdxmlError.of(
        "edxml_bad_value", element=element, value=value, reason_vi=reason_vi, reason_en=reason_en
    )


def _count(value: int | None, element: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise _bad_value(value, element, "phải là số nguyên không âm", "must be a whole number ≥ 0")


def _aware(moment: datetime, element: str) -> None:
    if not isinstance(moment, datetime):
        raise _bad_value(moment, element, "phải là thời điểm", "must be a datetime")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{element}: a timezone-aware datetime is required")


def _organ_id(value: str, element: str) -> None:
    _required(value, element)
    if "," in value or any(c.isspace() for c in value):
        raise _bad_value(
            value,
            element,
            "mã đơn vị không được chứa dấu phẩy hay khoảng trắng",
            "an organisation code may not contain commas or spaces",
        )


def _check_organ(organ: Organ, path: str) -> None:
    _organ_id(organ.organ_id, f"{path}/OrganId")
    _required(organ.organ_name, f"{path}/OrganName")


def _check_response_for(ref: ResponseFor, path: str) -> None:
    _organ_id(ref.organ_id, f"{path}/OrganId")
    _required(ref.code, f"{path}/Code")
    _required(ref.document_id, f"{path}/DocumentId")
    expected = document_id_format(ref.organ_id, ref.promulgation_date, ref.code)
    if ref.document_id != expected:
        raise EdxmlError.of(
            "edxml_document_id_mismatch",
            element=f"{path}/DocumentId",
            value=ref.document_id,
            expected=expected,
        )


def header_check(h: MessageHeader) -> None:
    """Refuse a header the format does not allow (a ``Message`` runs this itself)."""
    p = "MessageHeader"
    _check_organ(h.from_organ, f"{p}/From")
    if not h.to_organs:
        raise EdxmlError.of("edxml_missing_element", element=f"{p}/To")
    for i, organ in enumerate(h.to_organs, start=1):
        _check_organ(organ, f"{p}/To[{i}]")
    _required(h.code.number, f"{p}/Code/CodeNumber")
    if not CODE_NUMBER.fullmatch(h.code.number):
        raise _bad_value(
            h.code.number,
            f"{p}/Code/CodeNumber",
            "số văn bản chỉ gồm chữ số",
            "a document number is digits only",
        )
    _required(h.code.notation, f"{p}/Code/CodeNotation")
    if "," in h.code.notation:
        raise _bad_value(
            h.code.notation,
            f"{p}/Code/CodeNotation",
            "ký hiệu không được chứa dấu phẩy",
            "a notation may not contain commas",
        )
    _count(h.document_type.type, f"{p}/DocumentType/Type")
    _count(h.document_type.type_detail, f"{p}/DocumentType/TypeDetail")
    _required(h.subject, f"{p}/Subject")
    _required(h.signer.full_name, f"{p}/SignerInfo/FullName")
    _code(h.other_info.priority, PRIORITIES, f"{p}/OtherInfo/Priority")
    _count(h.other_info.promulgation_amount, f"{p}/OtherInfo/PromulgationAmount")
    _count(h.other_info.page_amount, f"{p}/OtherInfo/PageAmount")
    for i, ref in enumerate(h.response_for, start=1):
        _check_response_for(ref, f"{p}/ResponseFor[{i}]")
    _code(h.steering_type, STEERING_TYPES, f"{p}/SteeringType")


def _check_trace(t: TraceHeaderList) -> None:
    p = "TraceHeaderList"
    for i, trace in enumerate(t.traces, start=1):
        _organ_id(trace.organ_id, f"{p}/TraceHeader[{i}]/OrganId")
        _aware(trace.timestamp, f"{p}/TraceHeader[{i}]/Timestamp")
    b, bp = t.business, f"{p}/Bussiness"
    _code(b.doc_type, BUSINESS_DOC_TYPES, f"{bp}/BussinessDocType")
    _code(b.paper, PAPER, f"{bp}/Paper")
    if b.doc_type != 0:
        _required(b.document_id, f"{bp}/DocumentId")
    if b.document_info is not None:
        ip = f"{bp}/BussinessDocumentInfo"
        _code(b.document_info.document_info, PAPER, f"{ip}/DocumentInfo")
        _code(b.document_info.document_receiver, PAPER, f"{ip}/DocumentReceiver")
        for i, receiver in enumerate(b.document_info.receivers, start=1):
            _count(receiver.receiver_type, f"{ip}/ReceiverList/Receiver[{i}]/ReceiverType")
            _organ_id(receiver.organ_id, f"{ip}/ReceiverList/Receiver[{i}]/OrganId")
    for i, rep in enumerate(b.replacements, start=1):
        rp = f"{bp}/ReplacementInfoList/ReplacementInfo[{i}]"
        _required(rep.document_id, f"{rp}/DocumentId")
        for j, organ_id in enumerate(rep.organ_ids, start=1):
            _organ_id(organ_id, f"{rp}/OrganIdList/OrganId[{j}]")


def _check_attachments(attachments: tuple[Attachment, ...]) -> None:
    seen: set[str] = set()
    for i, a in enumerate(attachments, start=1):
        ap = f"AttachmentEncoded/Attachment[{i}]"
        _required(a.content_id, f"{ap}/ContentId")
        if not CONTENT_ID.fullmatch(a.content_id):
            raise _bad_value(
                a.content_id,
                f"{ap}/ContentId",
                "mã tệp phải có dạng cid:...",
                "an attachment identifier has the form cid:...",
            )
        if a.content_id in seen:
            raise EdxmlError.of("edxml_duplicate_content_id", content_id=a.content_id)
        seen.add(a.content_id)
        _required(a.name, f"{ap}/AttachmentName")
        _required(a.content_type, f"{ap}/ContentType")
        if not isinstance(a.data, bytes):
            raise TypeError(f"{ap}: data must be bytes")
        if not a.data:  # an empty file is no attachment: the format carries none
            raise EdxmlError.of("edxml_missing_element", element=f"{ap}/ContentTransferEncoded")


def _check_message(m: Message) -> None:
    header_check(m.header)
    _check_trace(m.trace)
    _check_attachments(m.attachments)


def _check_status(s: StatusMessage) -> None:
    _check_response_for(s.response_for, "Status/ResponseFor")
    _check_organ(s.from_organ, "Status/From")
    _code(s.status_code, STATUS_CODES, "Status/StatusCode")
    _aware(s.timestamp, "Status/Timestamp")
