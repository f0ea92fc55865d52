"""Reading incoming edXML and status messages safely into the dataclasses, refusing bad ones.

Incoming bytes come from another agency's system, so the parser trusts nothing:

- a size cap before any parsing, and libxml2's own limits (``huge_tree`` off: no text node over
  10,000,000 characters, bounded depth);
- no network access, no DTD loading, no entity resolution; a document that declares a DTD or
  entities at all is refused (billion laughs and external entities never expand);
- comments and processing instructions are dropped while parsing, so text that a signature
  covers cannot be cut in two by a comment the signature ignores.

Each refusal is an ``EdxmlError`` with a stable code and a Vietnamese and English message
naming the element (docs/office-edxml.md has the list). Elements the library does not know are
ignored, so later versions of the standard still parse; elements it knows must appear at most
once where the standard has one.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import date, datetime

from lxml import etree

from .codes import (
    BUSINESS_DOC_TYPES,
    DATE_FORMAT,
    DEFAULT_MAX_ATTACHMENT_BYTES,
    DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_MAX_STATUS_BYTES,
    NAMESPACE,
    PAPER,
    PRIORITIES,
    SOAP_NAMESPACE,
    STATUS_CODES,
    STEERING_TYPES,
    TIME_FORMAT,
    VN,
    XLINK_NAMESPACE,
)
from .model import (
    Attachment,
    Business,
    BusinessDocumentInfo,
    Code,
    DocumentType,
    EdxmlError,
    Message,
    MessageHeader,
    Organ,
    OtherInfo,
    PromulgationInfo,
    Receiver,
    ReplacementInfo,
    ResponseFor,
    SignerInfo,
    StaffInfo,
    StatusMessage,
    TraceHeader,
    TraceHeaderList,
    header_check,
)

DATE = re.compile(r"[0-9]{4}/[0-9]{2}/[0-9]{2}")
TIME = re.compile(r"[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
DIGITS = re.compile(r"[0-9]+")


def safe_parser() -> etree.XMLParser:
    """A fresh lxml parser with every network, DTD and entity feature off (one per parse)."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        attribute_defaults=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


# How the first bytes give the encoding away (XML 1.0 Appendix F); otherwise ASCII-compatible.
_PROLOG_ENCODINGS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\x00<\x00?", "utf-16-be"),
    (b"<\x00?\x00", "utf-16-le"),
)
PROLOG_SCAN = 64 * 1024


def _declares_dtd(data: bytes) -> bool:
    """Whether the document's start holds a DOCTYPE, which libxml2 may fail on before we see it.

    Outside markup "<" is always escaped, so a raw ``<!DOCTYPE`` is a declaration (or sits in a
    comment or CDATA section, which edXML has no use for either).
    """
    head = data[:PROLOG_SCAN]
    encoding = next((enc for bom, enc in _PROLOG_ENCODINGS if head.startswith(bom)), "latin-1")
    return "<!DOCTYPE" in head.decode(encoding, errors="ignore")


def xml_load(data: bytes, *, max_bytes: int) -> etree._Element:
    """The root element of untrusted XML bytes, or an ``EdxmlError`` saying why not."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("edXML input must be bytes")
    data = bytes(data)
    if len(data) > max_bytes:
        raise EdxmlError.of("edxml_too_large", size=len(data), limit=max_bytes)
    if not data or data.isspace():
        raise EdxmlError.of("edxml_not_xml", detail="empty input")
    if _declares_dtd(data):
        raise EdxmlError.of("edxml_dtd_forbidden")
    try:
        root = etree.fromstring(data, parser=safe_parser())
    except etree.XMLSyntaxError as exc:
        if "Text node too long" in str(exc):
            raise EdxmlError(
                "edxml_attachment_too_large",
                "Gói tin có nội dung (tệp đính kèm) quá lớn để đọc an toàn.",
                "The message holds content (an attachment) too large to read safely.",
            ) from exc
        raise EdxmlError.of("edxml_not_xml", detail=exc.msg or str(exc)) from exc
    except ValueError as exc:  # e.g. an encoding lxml cannot use
        raise EdxmlError.of("edxml_not_xml", detail=str(exc)) from exc
    if root is None:
        raise EdxmlError.of("edxml_not_xml", detail="no root element")
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None or docinfo.doctype:
        raise EdxmlError.of("edxml_dtd_forbidden")
    for _entity in root.iter(etree.Entity):
        raise EdxmlError.of("edxml_dtd_forbidden")
    return root


def _wrong_root(root: etree._Element, expected: str) -> EdxmlError:
    qname = etree.QName(root)
    found = f"{{{qname.namespace}}}{qname.localname}" if qname.namespace else qname.localname
    return EdxmlError.of("edxml_wrong_root", found=found, expected=expected, namespace=NAMESPACE)


class _Reader:
    """Finds a parent's children by name in one namespace, naming the path when one is wrong."""

    def __init__(self, namespace: str = NAMESPACE):
        self.ns = namespace

    def all(self, parent: etree._Element, name: str) -> list[etree._Element]:
        return parent.findall(f"{{{self.ns}}}{name}")

    def one(self, parent, name: str, path: str, *, required: bool = True):
        found = self.all(parent, name)
        if len(found) > 1:
            raise EdxmlError.of("edxml_duplicate_element", element=path)
        if not found:
            if required:
                raise EdxmlError.of("edxml_missing_element", element=path)
            return None
        return found[0]

    def text(self, parent, name: str, path: str, *, required: bool = False) -> str:
        el = self.one(parent, name, path, required=required)
        value = "".join(el.itertext()).strip() if el is not None else ""
        if required and not value:
            raise EdxmlError.of("edxml_missing_element", element=path)
        return value

    def count(self, parent, name: str, path: str, *, required: bool = False) -> int | None:
        value = self.text(parent, name, path, required=required)
        if not value:
            return None
        if not DIGITS.fullmatch(value):
            raise EdxmlError.of(
                "edxml_bad_value",
                element=path,
                value=value,
                reason_vi="phải là số nguyên không âm",
                reason_en="must be a whole number ≥ 0",
            )
        return int(value)

    def code(self, parent, name: str, path: str, table: dict, default: int | None = None) -> int:
        value = self.text(parent, name, path, required=default is None)
        if not value:
            return default
        if not DIGITS.fullmatch(value) or int(value) not in table:
            allowed = ", ".join(str(k) for k in table)
            raise EdxmlError.of("edxml_bad_code", element=path, value=value, allowed=allowed)
        return int(value)

    def date(self, parent, name: str, path: str, *, required: bool = False) -> date | None:
        value = self.text(parent, name, path, required=required)
        if not value:
            return None
        try:
            if not DATE.fullmatch(value):
                raise ValueError(value)
            return datetime.strptime(value, DATE_FORMAT).date()  # noqa: DTZ007 - a date only
        except ValueError:
            raise EdxmlError.of("edxml_bad_date", element=path, value=value) from None

    def time(self, parent, name: str, path: str) -> datetime:
        value = self.text(parent, name, path, required=True)
        try:
            if not TIME.fullmatch(value):
                raise ValueError(value)
            return datetime.strptime(value, TIME_FORMAT).replace(tzinfo=VN)
        except ValueError:
            raise EdxmlError.of("edxml_bad_time", element=path, value=value) from None

    def flag(self, parent, name: str, path: str) -> bool:
        value = self.text(parent, name, path).lower()
        if value in ("", "false", "0"):
            return False
        if value in ("true", "1"):
            return True
        raise EdxmlError.of("edxml_bad_code", element=path, value=value, allowed="true, false")

    def organ(self, parent, name: str, path: str, *, element=None) -> Organ:
        el = element if element is not None else self.one(parent, name, path)
        return Organ(
            organ_id=self.text(el, "OrganId", f"{path}/OrganId", required=True),
            organ_name=self.text(el, "OrganName", f"{path}/OrganName", required=True),
            organization_in_charge=self.text(
                el, "OrganizationInCharge", f"{path}/OrganizationInCharge"
            ),
            organ_add=self.text(el, "OrganAdd", f"{path}/OrganAdd"),
            email=self.text(el, "Email", f"{path}/Email"),
            telephone=self.text(el, "Telephone", f"{path}/Telephone"),
            fax=self.text(el, "Fax", f"{path}/Fax"),
            website=self.text(el, "Website", f"{path}/Website"),
        )

    def response_for(self, el, path: str) -> ResponseFor:
        return ResponseFor(
            organ_id=self.text(el, "OrganId", f"{path}/OrganId", required=True),
            code=self.text(el, "Code", f"{path}/Code", required=True),
            promulgation_date=self.date(
                el, "PromulgationDate", f"{path}/PromulgationDate", required=True
            ),
            document_id=self.text(el, "DocumentId", f"{path}/DocumentId", required=True),
        )

    def staff(self, parent, path: str) -> StaffInfo | None:
        el = self.one(parent, "StaffInfo", path, required=False)
        if el is None:
            return None
        return StaffInfo(
            department=self.text(el, "Department", f"{path}/Department"),
            staff=self.text(el, "Staff", f"{path}/Staff"),
            mobile=self.text(el, "Mobile", f"{path}/Mobile"),
            email=self.text(el, "Email", f"{path}/Email"),
        )


_R = _Reader()


# ---------------------------------------------------------------------------------------------
# The message


def _message_header(mh: etree._Element) -> MessageHeader:
    p = "MessageHeader"
    to_elements = _R.all(mh, "To")
    if not to_elements:
        raise EdxmlError.of("edxml_missing_element", element=f"{p}/To")
    code = _R.one(mh, "Code", f"{p}/Code")
    info = _R.one(mh, "PromulgationInfo", f"{p}/PromulgationInfo")
    doc_type = _R.one(mh, "DocumentType", f"{p}/DocumentType")
    signer = _R.one(mh, "SignerInfo", f"{p}/SignerInfo")
    places = _R.one(mh, "ToPlaces", f"{p}/ToPlaces", required=False)
    other = _R.one(mh, "OtherInfo", f"{p}/OtherInfo", required=False)
    op = f"{p}/OtherInfo"
    if other is not None:
        appendixes = _R.one(other, "Appendixes", f"{op}/Appendixes", required=False)
        other_info = OtherInfo(
            priority=_R.code(other, "Priority", f"{op}/Priority", PRIORITIES, default=0),
            sphere_of_promulgation=_R.text(
                other, "SphereOfPromulgation", f"{op}/SphereOfPromulgation"
            ),
            typer_notation=_R.text(other, "TyperNotation", f"{op}/TyperNotation"),
            promulgation_amount=_R.count(other, "PromulgationAmount", f"{op}/PromulgationAmount"),
            page_amount=_R.count(other, "PageAmount", f"{op}/PageAmount"),
            direction=_R.flag(other, "Direction", f"{op}/Direction"),
            appendixes=tuple(
                text
                for el in (_R.all(appendixes, "Appendix") if appendixes is not None else ())
                if (text := "".join(el.itertext()).strip())
            ),
        )
    else:
        other_info = OtherInfo()
    header = MessageHeader(
        from_organ=_R.organ(mh, "From", f"{p}/From"),
        to_organs=tuple(
            _R.organ(mh, "To", f"{p}/To[{i}]", element=el)
            for i, el in enumerate(to_elements, start=1)
        ),
        code=Code(
            number=_R.text(code, "CodeNumber", f"{p}/Code/CodeNumber", required=True),
            notation=_R.text(code, "CodeNotation", f"{p}/Code/CodeNotation", required=True),
        ),
        promulgation=PromulgationInfo(
            place=_R.text(info, "Place", f"{p}/PromulgationInfo/Place"),
            date=_R.date(
                info, "PromulgationDate", f"{p}/PromulgationInfo/PromulgationDate", required=True
            ),
        ),
        document_type=DocumentType(
            type=_R.count(doc_type, "Type", f"{p}/DocumentType/Type", required=True),
            type_detail=_R.count(doc_type, "TypeDetail", f"{p}/DocumentType/TypeDetail") or 0,
            type_name=_R.text(doc_type, "TypeName", f"{p}/DocumentType/TypeName"),
        ),
        subject=_R.text(mh, "Subject", f"{p}/Subject", required=True),
        content=_R.text(mh, "Content", f"{p}/Content"),
        signer=SignerInfo(
            full_name=_R.text(signer, "FullName", f"{p}/SignerInfo/FullName", required=True),
            position=_R.text(signer, "Position", f"{p}/SignerInfo/Position"),
            competence=_R.text(signer, "Competence", f"{p}/SignerInfo/Competence"),
        ),
        due_date=_R.date(mh, "DueDate", f"{p}/DueDate"),
        to_places=tuple(
            text
            for el in (_R.all(places, "Place") if places is not None else ())
            if (text := "".join(el.itertext()).strip())
        ),
        other_info=other_info,
        response_for=tuple(
            _R.response_for(el, f"{p}/ResponseFor[{i}]")
            for i, el in enumerate(_R.all(mh, "ResponseFor"), start=1)
        ),
        steering_type=_R.code(mh, "SteeringType", f"{p}/SteeringType", STEERING_TYPES, default=0),
    )
    header_check(header)  # its parts first: a bad number is a bad number, not a bad id
    document_id = _R.text(mh, "DocumentId", f"{p}/DocumentId", required=True)
    if document_id != header.document_id:
        raise EdxmlError.of(
            "edxml_document_id_mismatch",
            element=f"{p}/DocumentId",
            value=document_id,
            expected=header.document_id,
        )
    return header


def _business(el: etree._Element) -> Business:
    p = "TraceHeaderList/Bussiness"
    info = _R.one(el, "BussinessDocumentInfo", f"{p}/BussinessDocumentInfo", required=False)
    document_info = None
    if info is not None:
        ip = f"{p}/BussinessDocumentInfo"
        receiver_list = _R.one(info, "ReceiverList", f"{ip}/ReceiverList", required=False)
        receivers = []
        for i, r in enumerate(
            _R.all(receiver_list, "Receiver") if receiver_list is not None else (), start=1
        ):
            rp = f"{ip}/ReceiverList/Receiver[{i}]"
            receivers.append(
                Receiver(
                    receiver_type=_R.count(r, "ReceiverType", f"{rp}/ReceiverType") or 0,
                    organ_id=_R.text(r, "OrganId", f"{rp}/OrganId", required=True),
                )
            )
        document_info = BusinessDocumentInfo(
            document_info=_R.code(info, "DocumentInfo", f"{ip}/DocumentInfo", PAPER, default=0),
            document_receiver=_R.code(
                info, "DocumentReceiver", f"{ip}/DocumentReceiver", PAPER, default=0
            ),
            receivers=tuple(receivers),
        )
    replacements = []
    replacement_list = _R.one(el, "ReplacementInfoList", f"{p}/ReplacementInfoList", required=False)
    if replacement_list is not None:
        for i, r in enumerate(_R.all(replacement_list, "ReplacementInfo"), start=1):
            rp = f"{p}/ReplacementInfoList/ReplacementInfo[{i}]"
            organs = _R.one(r, "OrganIdList", f"{rp}/OrganIdList", required=False)
            replacements.append(
                ReplacementInfo(
                    document_id=_R.text(r, "DocumentId", f"{rp}/DocumentId", required=True),
                    organ_ids=tuple(
                        text
                        for o in (_R.all(organs, "OrganId") if organs is not None else ())
                        if (text := "".join(o.itertext()).strip())
                    ),
                )
            )
    return Business(
        doc_type=_R.code(el, "BussinessDocType", f"{p}/BussinessDocType", BUSINESS_DOC_TYPES),
        reason=_R.text(el, "BussinessDocReason", f"{p}/BussinessDocReason"),
        document_id=_R.text(el, "DocumentId", f"{p}/DocumentId"),
        paper=_R.code(el, "Paper", f"{p}/Paper", PAPER, default=0),
        staff=_R.staff(el, f"{p}/StaffInfo"),
        document_info=document_info,
        replacements=tuple(replacements),
    )


def _trace(header: etree._Element) -> TraceHeaderList:
    p = "TraceHeaderList"
    el = _R.one(header, "TraceHeaderList", p)
    traces = tuple(
        TraceHeader(
            organ_id=_R.text(th, "OrganId", f"{p}/TraceHeader[{i}]/OrganId", required=True),
            timestamp=_R.time(th, "Timestamp", f"{p}/TraceHeader[{i}]/Timestamp"),
        )
        for i, th in enumerate(_R.all(el, "TraceHeader"), start=1)
    )
    business = _R.one(el, "Bussiness", f"{p}/Bussiness")
    return TraceHeaderList(traces=traces, business=_business(business))


def _cid(value: str) -> str:
    # Some senders write the bare identifier in the Attachment and "cid:..." in the manifest.
    return value if value.startswith("cid:") else f"cid:{value}"


def _manifest(body: etree._Element) -> dict[str, tuple[str, str, str]]:
    """Content id -> (name, content type, description) of each manifest Reference."""
    manifest = _R.one(body, "edXMLManifest", "edXMLBody/edXMLManifest", required=False)
    refs: dict[str, tuple[str, str, str]] = {}
    if manifest is None:
        return refs
    for i, ref in enumerate(_R.all(manifest, "Reference"), start=1):
        rp = f"edXMLBody/edXMLManifest/Reference[{i}]"
        content_id = (
            _R.text(ref, "ContentId", f"{rp}/ContentId")
            or (ref.get(f"{{{XLINK_NAMESPACE}}}href") or "").strip()
        )
        if not content_id:
            raise EdxmlError.of("edxml_missing_element", element=f"{rp}/ContentId")
        content_id = _cid(content_id)
        if content_id in refs:
            raise EdxmlError.of("edxml_duplicate_content_id", content_id=content_id)
        refs[content_id] = (
            _R.text(ref, "AttachmentName", f"{rp}/AttachmentName"),
            _R.text(ref, "ContentType", f"{rp}/ContentType"),
            _R.text(ref, "Description", f"{rp}/Description"),
        )
    return refs


def _decode(text: str, content_id: str, limit: int) -> bytes:
    # Senders may wrap the base64 in lines; non-ASCII becomes "?" and fails decoding below.
    cleaned = text.encode("ascii", errors="replace").translate(None, b" \t\r\n")
    if len(cleaned) // 4 * 3 - 2 > limit:  # decoded size, checked before decoding
        raise EdxmlError.of("edxml_attachment_too_large", content_id=content_id, limit=limit)
    try:
        data = binascii.a2b_base64(cleaned, strict_mode=True)
    except (binascii.Error, ValueError):
        raise EdxmlError.of("edxml_bad_base64", content_id=content_id) from None
    if base64.b64encode(data) != cleaned:  # stray padding or bits: not what an encoder writes
        raise EdxmlError.of("edxml_bad_base64", content_id=content_id)
    if len(data) > limit:
        raise EdxmlError.of("edxml_attachment_too_large", content_id=content_id, limit=limit)
    return data


def _attachments(root: etree._Element, refs: dict, limit: int) -> tuple[Attachment, ...]:
    encoded = _R.one(root, "AttachmentEncoded", "AttachmentEncoded", required=False)
    elements = _R.all(encoded, "Attachment") if encoded is not None else []
    attachments: list[Attachment] = []
    seen: set[str] = set()
    for i, el in enumerate(elements, start=1):
        ap = f"AttachmentEncoded/Attachment[{i}]"
        content_id = _cid(_R.text(el, "ContentId", f"{ap}/ContentId", required=True))
        if content_id in seen:
            raise EdxmlError.of("edxml_duplicate_content_id", content_id=content_id)
        seen.add(content_id)
        if content_id not in refs:
            raise EdxmlError.of("edxml_attachment_not_in_manifest", content_id=content_id)
        name = _R.text(el, "AttachmentName", f"{ap}/AttachmentName", required=True)
        content_type = _R.text(el, "ContentType", f"{ap}/ContentType", required=True)
        ref_name, ref_type, ref_description = refs[content_id]
        for element, value, expected in (
            ("AttachmentName", name, ref_name),
            ("ContentType", content_type, ref_type),
        ):
            if expected and value != expected:
                raise EdxmlError.of(
                    "edxml_manifest_mismatch",
                    content_id=content_id,
                    element=element,
                    value=value,
                    expected=expected,
                )
        text = _R.text(el, "ContentTransferEncoded", f"{ap}/ContentTransferEncoded", required=True)
        attachments.append(
            Attachment(
                content_id=content_id,
                name=name,
                content_type=content_type,
                data=_decode(text, content_id, limit),
                description=_R.text(el, "Description", f"{ap}/Description") or ref_description,
            )
        )
    for content_id in refs:
        if content_id not in seen:
            raise EdxmlError.of("edxml_reference_without_attachment", content_id=content_id)
    return tuple(attachments)


def message_parse(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
) -> Message:
    """The ``Message`` in incoming edXML bytes, or an ``EdxmlError`` (signature not checked)."""
    root = xml_load(data, max_bytes=max_bytes)
    if root.tag != f"{{{NAMESPACE}}}edXML":
        raise _wrong_root(root, "edXML")
    envelope = _R.one(root, "edXMLEnvelope", "edXMLEnvelope")
    header = _R.one(envelope, "edXMLHeader", "edXMLEnvelope/edXMLHeader")
    body = _R.one(envelope, "edXMLBody", "edXMLEnvelope/edXMLBody")
    message_header = _message_header(_R.one(header, "MessageHeader", "MessageHeader"))
    trace = _trace(header)
    attachments = _attachments(root, _manifest(body), max_attachment_bytes)
    return Message(header=message_header, trace=trace, attachments=attachments)


# ---------------------------------------------------------------------------------------------
# The status message


def status_element(root: etree._Element) -> etree._Element:
    """The ``Status`` element: the root, or inside a SOAP envelope's header as some senders do."""
    if root.tag == f"{{{NAMESPACE}}}Status":
        return root
    if root.tag == f"{{{SOAP_NAMESPACE}}}Envelope":
        soap_header = root.find(f"{{{SOAP_NAMESPACE}}}Header")
        if soap_header is not None:
            # One public sender binds its "edXML" prefix to the SOAP namespace by mistake.
            for ns in (NAMESPACE, SOAP_NAMESPACE):
                found = soap_header.findall(f"{{{ns}}}Status")
                if len(found) == 1:
                    return found[0]
    raise _wrong_root(root, "Status")


def status_parse(data: bytes, *, max_bytes: int = DEFAULT_MAX_STATUS_BYTES) -> StatusMessage:
    """The ``StatusMessage`` in incoming bytes, or an ``EdxmlError``."""
    status = status_element(xml_load(data, max_bytes=max_bytes))
    r = _Reader(etree.QName(status).namespace or NAMESPACE)
    p = "Status"
    return StatusMessage(
        response_for=r.response_for(
            r.one(status, "ResponseFor", f"{p}/ResponseFor"), f"{p}/ResponseFor"
        ),
        from_organ=r.organ(status, "From", f"{p}/From"),
        status_code=_status_code(r.text(status, "StatusCode", f"{p}/StatusCode", required=True)),
        timestamp=r.time(status, "Timestamp", f"{p}/Timestamp"),
        description=r.text(status, "Description", f"{p}/Description"),
        staff=r.staff(status, f"{p}/StaffInfo") or StaffInfo(),
    )


def _status_code(value: str) -> str:
    if value not in STATUS_CODES:
        allowed = ", ".join(STATUS_CODES)
        raise EdxmlError.of(
            "edxml_bad_code", element="Status/StatusCode", value=value, allowed=allowed
        )
    return value
