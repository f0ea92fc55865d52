"""edXML (QCVN 102:2016/BTTTT): the messages agencies exchange official documents in.

A pure library, no models or settings: build a message from the dataclasses, sign it with the
sender's certificate, and on the receiving side verify the signature against trusted CAs and
parse it back, refusing anything malformed with an ``EdxmlError`` (a stable code, Vietnamese
and English). Status messages travel back the same way. docs/office-edxml.md has the format.

    data = message_sign(message_build(message), key=key, certificate=cert)
    signer = message_verify(data, trusted=trusted_load(ca_pem))
    message = message_parse(data)
"""

from .build import message_build, status_build
from .codes import NAMESPACE, STATUS_CODES
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
    document_id_format,
)
from .parse import message_parse, status_parse
from .sign import Signer, message_sign, message_verify, trusted_load

__all__ = [
    "NAMESPACE",
    "STATUS_CODES",
    "Attachment",
    "Business",
    "BusinessDocumentInfo",
    "Code",
    "DocumentType",
    "EdxmlError",
    "Message",
    "MessageHeader",
    "Organ",
    "OtherInfo",
    "PromulgationInfo",
    "Receiver",
    "ReplacementInfo",
    "ResponseFor",
    "Signer",
    "SignerInfo",
    "StaffInfo",
    "StatusMessage",
    "TraceHeader",
    "TraceHeaderList",
    "document_id_format",
    "message_build",
    "message_parse",
    "message_sign",
    "message_verify",
    "status_build",
    "status_parse",
    "trusted_load",
]
