"""Writing a ``Message`` or ``StatusMessage`` as edXML bytes (UTF-8, with an XML declaration).

The layout follows the public QCVN 102:2016 samples: the root ``edXML`` declares the namespace
as the default, ``edXMLEnvelope`` declares it again with the ``edXML:`` prefix that its content
uses (some receivers look elements up by that prefixed name), and ``AttachmentEncoded`` follows
the envelope unprefixed. A status message is a root ``edXML:Status``. docs/office-edxml.md
lists every element.

The output is not pretty-printed: a signature (``sign.message_sign``) covers the bytes' content
as written, so nothing may re-indent it afterwards.
"""

from __future__ import annotations

import base64
from datetime import date, datetime

from lxml import etree

from .codes import (
    DATE_FORMAT,
    DEFAULT_MAX_ATTACHMENT_BYTES,
    NAMESPACE,
    TIME_FORMAT,
    VN,
    XLINK_NAMESPACE,
)
from .model import (
    Attachment,
    Business,
    EdxmlError,
    Message,
    MessageHeader,
    Organ,
    ResponseFor,
    StaffInfo,
    StatusMessage,
    TraceHeaderList,
)


def _q(name: str) -> str:
    return f"{{{NAMESPACE}}}{name}"


def date_format(day: date) -> str:
    """``yyyy/MM/dd``."""
    return day.strftime(DATE_FORMAT)


def time_format(moment: datetime) -> str:
    """``yyyy/MM/dd HH:mm:ss`` in Vietnam time (edXML times carry no offset)."""
    if moment.tzinfo is None:
        raise ValueError("edXML times are written from timezone-aware datetimes")
    return moment.astimezone(VN).strftime(TIME_FORMAT)


def _el(parent: etree._Element, name: str, text: str | None = None, *, path: str = ""):
    element = etree.SubElement(parent, _q(name))
    if text:  # an empty value is written as an empty element
        try:
            element.text = text
        except ValueError as exc:  # control characters, NUL: not representable in XML
            where = f"{path}/{name}" if path else name
            raise EdxmlError.of(
                "edxml_bad_value",
                element=where,
                value=text.encode("unicode_escape").decode("ascii"),
                reason_vi="chứa ký tự điều khiển không dùng được trong XML",
                reason_en="contains control characters XML cannot carry",
            ) from exc
    return element


def _organ(parent, name: str, organ: Organ, path: str) -> None:
    el = _el(parent, name)
    p = f"{path}/{name}"
    _el(el, "OrganId", organ.organ_id, path=p)
    _el(el, "OrganizationInCharge", organ.organization_in_charge, path=p)
    _el(el, "OrganName", organ.organ_name, path=p)
    _el(el, "OrganAdd", organ.organ_add, path=p)
    _el(el, "Email", organ.email, path=p)
    _el(el, "Telephone", organ.telephone, path=p)
    _el(el, "Fax", organ.fax, path=p)
    _el(el, "Website", organ.website, path=p)


def _response_for(parent, ref: ResponseFor, path: str) -> None:
    el = _el(parent, "ResponseFor")
    p = f"{path}/ResponseFor"
    _el(el, "OrganId", ref.organ_id, path=p)
    _el(el, "Code", ref.code, path=p)
    _el(el, "PromulgationDate", date_format(ref.promulgation_date))
    _el(el, "DocumentId", ref.document_id, path=p)


def _staff(parent, staff: StaffInfo, path: str) -> None:
    el = _el(parent, "StaffInfo")
    p = f"{path}/StaffInfo"
    _el(el, "Department", staff.department, path=p)
    _el(el, "Staff", staff.staff, path=p)
    _el(el, "Mobile", staff.mobile, path=p)
    _el(el, "Email", staff.email, path=p)


def _message_header(parent, h: MessageHeader) -> None:
    p = "MessageHeader"
    mh = _el(parent, p)
    _organ(mh, "From", h.from_organ, p)
    for organ in h.to_organs:
        _organ(mh, "To", organ, p)
    code = _el(mh, "Code")
    _el(code, "CodeNumber", h.code.number, path=f"{p}/Code")
    _el(code, "CodeNotation", h.code.notation, path=f"{p}/Code")
    info = _el(mh, "PromulgationInfo")
    _el(info, "Place", h.promulgation.place, path=f"{p}/PromulgationInfo")
    _el(info, "PromulgationDate", date_format(h.promulgation.date))
    doc_type = _el(mh, "DocumentType")
    _el(doc_type, "Type", str(h.document_type.type))
    _el(doc_type, "TypeDetail", str(h.document_type.type_detail))
    _el(doc_type, "TypeName", h.document_type.type_name, path=f"{p}/DocumentType")
    _el(mh, "Subject", h.subject, path=p)
    _el(mh, "Content", h.content, path=p)
    signer = _el(mh, "SignerInfo")
    _el(signer, "Competence", h.signer.competence, path=f"{p}/SignerInfo")
    _el(signer, "Position", h.signer.position, path=f"{p}/SignerInfo")
    _el(signer, "FullName", h.signer.full_name, path=f"{p}/SignerInfo")
    if h.due_date is not None:
        _el(mh, "DueDate", date_format(h.due_date))
    if h.to_places:
        places = _el(mh, "ToPlaces")
        for place in h.to_places:
            _el(places, "Place", place, path=f"{p}/ToPlaces")
    o, op = h.other_info, f"{p}/OtherInfo"
    other = _el(mh, "OtherInfo")
    _el(other, "Priority", str(o.priority))
    _el(other, "SphereOfPromulgation", o.sphere_of_promulgation, path=op)
    _el(other, "TyperNotation", o.typer_notation, path=op)
    if o.promulgation_amount is not None:
        _el(other, "PromulgationAmount", str(o.promulgation_amount))
    if o.page_amount is not None:
        _el(other, "PageAmount", str(o.page_amount))
    _el(other, "Direction", "true" if o.direction else "false")
    if o.appendixes:
        appendixes = _el(other, "Appendixes")
        for appendix in o.appendixes:
            _el(appendixes, "Appendix", appendix, path=f"{op}/Appendixes")
    for ref in h.response_for:
        _response_for(mh, ref, p)
    _el(mh, "SteeringType", str(h.steering_type))
    _el(mh, "DocumentId", h.document_id, path=p)


def _business(parent, b: Business) -> None:
    p = "TraceHeaderList/Bussiness"
    el = _el(parent, "Bussiness")
    _el(el, "BussinessDocType", str(b.doc_type))
    _el(el, "BussinessDocReason", b.reason, path=p)
    if b.document_info is not None:
        info = _el(el, "BussinessDocumentInfo")
        _el(info, "DocumentInfo", str(b.document_info.document_info))
        _el(info, "DocumentReceiver", str(b.document_info.document_receiver))
        if b.document_info.receivers:
            receivers = _el(info, "ReceiverList")
            for receiver in b.document_info.receivers:
                r = _el(receivers, "Receiver")
                _el(r, "ReceiverType", str(receiver.receiver_type))
                _el(r, "OrganId", receiver.organ_id, path=f"{p}/BussinessDocumentInfo")
    if b.document_id:
        _el(el, "DocumentId", b.document_id, path=p)
    if b.staff is not None:
        _staff(el, b.staff, p)
    _el(el, "Paper", str(b.paper))
    if b.replacements:
        replacements = _el(el, "ReplacementInfoList")
        for rep in b.replacements:
            r = _el(replacements, "ReplacementInfo")
            _el(r, "DocumentId", rep.document_id, path=f"{p}/ReplacementInfoList")
            organs = _el(r, "OrganIdList")
            for organ_id in rep.organ_ids:
                _el(organs, "OrganId", organ_id, path=f"{p}/ReplacementInfoList")


def _trace(parent, t: TraceHeaderList) -> None:
    el = _el(parent, "TraceHeaderList")
    for trace in t.traces:
        th = _el(el, "TraceHeader")
        _el(th, "OrganId", trace.organ_id, path="TraceHeaderList/TraceHeader")
        _el(th, "Timestamp", time_format(trace.timestamp))
    _business(el, t.business)


def _manifest(parent, attachments: tuple[Attachment, ...]) -> None:
    manifest = etree.SubElement(
        parent, _q("edXMLManifest"), {"version": "1.0"}, nsmap={"xlink": XLINK_NAMESPACE}
    )
    p = "edXMLBody/edXMLManifest/Reference"
    for a in attachments:
        ref = _el(manifest, "Reference")
        ref.set(f"{{{XLINK_NAMESPACE}}}href", a.content_id)
        ref.set(f"{{{XLINK_NAMESPACE}}}type", "simple")
        _el(ref, "ContentId", a.content_id, path=p)
        _el(ref, "ContentType", a.content_type, path=p)
        _el(ref, "Description", a.description, path=p)
        _el(ref, "AttachmentName", a.name, path=p)


def _attachments(root, attachments: tuple[Attachment, ...], limit: int) -> None:
    encoded = _el(root, "AttachmentEncoded")
    p = "AttachmentEncoded/Attachment"
    for a in attachments:
        if len(a.data) > limit:
            raise EdxmlError.of("edxml_attachment_too_large", content_id=a.content_id, limit=limit)
        el = _el(encoded, "Attachment")
        _el(el, "ContentId", a.content_id, path=p)
        _el(el, "AttachmentName", a.name, path=p)
        _el(el, "ContentType", a.content_type, path=p)
        _el(el, "Description", a.description, path=p)
        _el(el, "ContentTransferEncoded", base64.b64encode(a.data).decode("ascii"))


def _serialise(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def message_build(
    message: Message, *, max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES
) -> bytes:
    """The edXML bytes of a message (unsigned; ``message_sign`` adds the signature)."""
    root = etree.Element(_q("edXML"), nsmap={None: NAMESPACE})
    envelope = etree.SubElement(root, _q("edXMLEnvelope"), nsmap={"edXML": NAMESPACE})
    header = _el(envelope, "edXMLHeader")
    _message_header(header, message.header)
    _trace(header, message.trace)
    body = _el(envelope, "edXMLBody")
    _manifest(body, message.attachments)
    _attachments(root, message.attachments, max_attachment_bytes)
    return _serialise(root)


def status_build(status: StatusMessage) -> bytes:
    """The bytes of a status message: a root ``edXML:Status`` in the edXML namespace."""
    p = "Status"
    root = etree.Element(_q("Status"), nsmap={"edXML": NAMESPACE})
    _response_for(root, status.response_for, p)
    _organ(root, "From", status.from_organ, p)
    _el(root, "StatusCode", status.status_code)
    _el(root, "Description", status.description, path=p)
    _el(root, "Timestamp", time_format(status.timestamp))
    _staff(root, status.staff, p)
    return _serialise(root)
