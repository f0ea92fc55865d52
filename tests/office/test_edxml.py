"""edXML messages: build → parse round trips, and every malformed or hostile input refused."""

import base64
import time
from datetime import UTC, date, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from vnemis.office.edxml import (
    NAMESPACE,
    STATUS_CODES,
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
    message_build,
    message_parse,
    status_build,
    status_parse,
)
from vnemis.office.edxml.codes import VN, document_type_code

NS = {"e": NAMESPACE}
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n"


def sample_message(**header_changes) -> Message:
    """A decision of the Ministry to two Departments, with two attachments."""
    qd = document_type_code("QĐ")
    header = dict(
        from_organ=Organ(
            "000.00.00.G12",
            "Bộ Giáo dục và Đào tạo",
            organization_in_charge="Văn phòng Bộ",
            organ_add="35 Đại Cồ Việt, Hai Bà Trưng, Hà Nội",
            email="vanphong@moet.gov.vn",
            telephone="024 3869 4795",
            fax="024 3869 4085",
            website="https://moet.gov.vn",
        ),
        to_organs=(
            Organ("000.00.01.H26", "Sở Giáo dục và Đào tạo Hà Nội"),
            Organ("000.00.02.H48", "Sở Giáo dục và Đào tạo Đà Nẵng", email="sgddt@danang.gov.vn"),
        ),
        code=Code("05", "QĐ-BGDĐT"),
        promulgation=PromulgationInfo("Hà Nội", date(2025, 3, 15)),
        document_type=DocumentType(2, qd.detail, qd.name_vi),
        subject="Về việc ban hành Quy chế thi tốt nghiệp trung học phổ thông",
        content="Ban hành kèm theo Quyết định này Quy chế thi tốt nghiệp THPT năm 2025.",
        signer=SignerInfo("Nguyễn Thị Kim Chi", "Thứ trưởng", "KT. BỘ TRƯỞNG"),
        due_date=date(2025, 4, 1),
        to_places=("Như Điều 3", "Lưu: VT, QLCL"),
        other_info=OtherInfo(
            priority=2,
            sphere_of_promulgation="Toàn quốc",
            typer_notation="NTT",
            promulgation_amount=70,
            page_amount=12,
            direction=True,
            appendixes=("Phụ lục I: Mẫu phiếu", "Phụ lục II"),
        ),
        response_for=(ResponseFor.to("000.00.01.H26", "123/SGDĐT-KTKĐ", date(2025, 2, 28)),),
        steering_type=1,
    )
    header.update(header_changes)
    return Message(
        header=MessageHeader(**header),
        trace=TraceHeaderList(
            traces=(TraceHeader("000.00.00.G12", datetime(2025, 3, 15, 16, 45, 3, tzinfo=VN)),),
            business=Business(
                doc_type=0,
                reason="Văn bản mới",
                paper=1,
                staff=StaffInfo("Văn phòng", "Trần Văn Bình", "0912000111", "binh@moet.gov.vn"),
            ),
        ),
        attachments=(
            Attachment("cid:qd-05.pdf", "Quyết định 05.pdf", "application/pdf", PDF, "Bản ký số"),
            Attachment(
                "cid:phu-luc",
                "Phụ lục – mẫu phiếu đăng ký.xlsx",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                bytes(range(256)) * 4,
            ),
        ),
    )


def sample_status(code: str = "03") -> StatusMessage:
    return StatusMessage(
        response_for=ResponseFor.to("000.00.00.G12", "05/QĐ-BGDĐT", date(2025, 3, 15)),
        from_organ=Organ("000.00.01.H26", "Sở Giáo dục và Đào tạo Hà Nội", "Văn phòng Sở"),
        status_code=code,
        timestamp=datetime(2025, 3, 16, 8, 5, 0, tzinfo=VN),
        description="Văn thư đã tiếp nhận và vào sổ văn bản đến số 1234",
        staff=StaffInfo("Văn phòng", "Phạm Thị Dung", "0988000222", "dung@hanoi.edu.vn"),
    )


def mutate(data: bytes, change) -> bytes:
    """The message with ``change(root)`` applied to its tree."""
    root = etree.fromstring(data)
    change(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def find(root, path: str):
    found = root.xpath(path, namespaces=NS)
    assert found, path
    return found[0]


def remove(path: str):
    def change(root):
        el = find(root, path)
        el.getparent().remove(el)

    return change


def set_text(path: str, text: str):
    def change(root):
        find(root, path).text = text

    return change


def refused(code: str, data: bytes, parse=message_parse, **kwargs) -> EdxmlError:
    with pytest.raises(EdxmlError) as info:
        parse(data, **kwargs)
    assert info.value.code == code, info.value.bilingual()
    assert info.value.message_vi and info.value.message_en
    return info.value


H = "/e:edXML/e:edXMLEnvelope/e:edXMLHeader"
MH = f"{H}/e:MessageHeader"
BUS = f"{H}/e:TraceHeaderList/e:Bussiness"
REF = "/e:edXML/e:edXMLEnvelope/e:edXMLBody/e:edXMLManifest/e:Reference"
ATT = "/e:edXML/e:AttachmentEncoded/e:Attachment"


# ---------------------------------------------------------------------------------------------
# Round trips


def test_round_trip_full_message():
    message = sample_message()
    data = message_build(message)
    parsed = message_parse(data)
    assert parsed == message
    assert parsed.document_id == "000.00.00.G12,2025/03/15,05/QĐ-BGDĐT"
    assert parsed.attachments[1].data == bytes(range(256)) * 4
    assert message_build(parsed) == data  # byte for byte stable


def test_layout_follows_the_public_samples():
    data = message_build(sample_message())
    text = data.decode("utf-8")
    assert text.startswith("<?xml version='1.0' encoding='UTF-8'?>\n<edXML xmlns=")
    assert '<edXML:edXMLEnvelope xmlns:edXML="http://www.mic.gov.vn/TBT/QCVN_102_2016">' in text
    assert "<edXML:Subject>Về việc ban hành Quy chế" in text  # UTF-8, not character references
    assert "<edXML:PromulgationDate>2025/03/15</edXML:PromulgationDate>" in text
    assert "<edXML:Timestamp>2025/03/15 16:45:03</edXML:Timestamp>" in text
    assert "<edXML:DocumentId>000.00.00.G12,2025/03/15,05/QĐ-BGDĐT</edXML:DocumentId>" in text
    assert 'xlink:href="cid:qd-05.pdf"' in text
    root = etree.fromstring(data)
    attachment = find(root, ATT)
    assert etree.QName(attachment.getparent()).localname == "AttachmentEncoded"
    encoded = find(root, f"{ATT}[1]/e:ContentTransferEncoded").text
    assert base64.b64decode(encoded) == PDF
    assert [etree.QName(c).localname for c in find(root, MH)][:3] == ["From", "To", "To"]


def test_round_trip_revocation_update_and_replacement_blocks():
    business = Business(
        doc_type=3,
        reason="Thay thế do sai sót số liệu",
        document_id="000.00.00.G12,2025/03/01,02/QĐ-BGDĐT",
        paper=0,
        document_info=BusinessDocumentInfo(
            document_info=1,
            document_receiver=1,
            receivers=(Receiver(1, "000.00.01.H26"), Receiver(0, "000.00.02.H48")),
        ),
        replacements=(
            ReplacementInfo(
                "000.00.00.G12,2025/03/01,02/QĐ-BGDĐT", ("000.00.01.H26", "000.00.02.H48")
            ),
        ),
    )
    base = sample_message()
    message = Message(
        header=base.header,
        trace=TraceHeaderList(base.trace.traces, business),
        attachments=base.attachments,
    )
    assert message_parse(message_build(message)) == message


def test_round_trip_minimal_message_without_attachments():
    message = Message(
        header=MessageHeader(
            from_organ=Organ("000.00.00.G12", "Bộ GD&ĐT"),
            to_organs=[Organ("000.00.01.H26", "Sở GD&ĐT Hà Nội")],
            code=Code("7816", "BGDĐT-GDTrH"),
            promulgation=PromulgationInfo("", date(2024, 12, 31)),
            document_type=DocumentType(2),
            subject="V/v hướng dẫn nhiệm vụ năm học",
            signer=SignerInfo("Lê Văn C"),
        )
    )
    parsed = message_parse(message_build(message))
    assert parsed == message
    assert parsed.header.to_organs == (Organ("000.00.01.H26", "Sở GD&ĐT Hà Nội"),)
    assert parsed.attachments == ()


def test_times_are_written_in_vietnam_time():
    moment = datetime(2025, 3, 15, 16, 30, tzinfo=UTC)
    base = sample_message()
    message = Message(
        header=base.header,
        trace=TraceHeaderList((TraceHeader("000.00.00.G12", moment),), base.trace.business),
    )
    data = message_build(message)
    assert b"<edXML:Timestamp>2025/03/15 23:30:00</edXML:Timestamp>" in data
    assert message_parse(data).trace.traces[0].timestamp == moment


def test_parses_the_samples_variants():
    """Bare ids in Attachment, manifest by xlink:href only, pretty-printed, no optional parts."""
    sample = f"""<?xml version="1.0" encoding="utf-8"?>
<edXML xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns="{NAMESPACE}">
  <edXML:edXMLEnvelope xmlns:edXML="{NAMESPACE}">
    <edXML:edXMLHeader>
      <edXML:MessageHeader>
        <edXML:From><edXML:OrganId>000.00.00.G22</edXML:OrganId>
          <edXML:OrganName>Văn phòng Chính phủ</edXML:OrganName></edXML:From>
        <edXML:To><edXML:OrganId>000.00.00.H41</edXML:OrganId>
          <edXML:OrganName>UBND Tỉnh Nghệ An</edXML:OrganName></edXML:To>
        <edXML:DocumentId> 000.00.00.G22,2018/09/20,7816/VPCP-TTĐT </edXML:DocumentId>
        <edXML:Code><edXML:CodeNumber>7816</edXML:CodeNumber>
          <edXML:CodeNotation>VPCP-TTĐT</edXML:CodeNotation></edXML:Code>
        <edXML:PromulgationInfo><edXML:Place>Hà Nội</edXML:Place>
          <edXML:PromulgationDate>2018/09/20</edXML:PromulgationDate></edXML:PromulgationInfo>
        <edXML:DocumentType><edXML:Type>1</edXML:Type>
          <edXML:TypeName>Công văn</edXML:TypeName></edXML:DocumentType>
        <edXML:Subject>
          V/v kết nối, liên thông phần mềm quản lý văn bản
        </edXML:Subject>
        <edXML:SignerInfo><edXML:FullName>Mai Tiến Dũng</edXML:FullName></edXML:SignerInfo>
        <edXML:Unknown>elements from later versions are ignored</edXML:Unknown>
      </edXML:MessageHeader>
      <edXML:TraceHeaderList id="a1b2" version="1.0" mustUnderstand="1">
        <edXML:TraceHeader><edXML:OrganId>000.00.00.G22</edXML:OrganId>
          <edXML:Timestamp>2018/09/20 10:12:10</edXML:Timestamp></edXML:TraceHeader>
        <edXML:Bussiness><edXML:BussinessDocType>0</edXML:BussinessDocType>
          <edXML:Paper>0</edXML:Paper></edXML:Bussiness>
      </edXML:TraceHeaderList>
    </edXML:edXMLHeader>
    <edXML:edXMLBody>
      <edXML:edXMLManifest version="1.0">
        <edXML:Reference xmlns:xlink="http://www.w3.org/1999/xlink"
            xlink:href="cid:3f1c" xlink:type="simple">
          <edXML:AttachmentName>7816.pdf</edXML:AttachmentName>
        </edXML:Reference>
      </edXML:edXMLManifest>
    </edXML:edXMLBody>
  </edXML:edXMLEnvelope>
  <AttachmentEncoded>
    <Attachment>
      <ContentType>application/pdf</ContentType>
      <ContentId>3f1c</ContentId>
      <ContentTransferEncoded>
        {base64.encodebytes(PDF).decode()}
      </ContentTransferEncoded>
      <AttachmentName>7816.pdf</AttachmentName>
    </Attachment>
  </AttachmentEncoded>
</edXML>""".encode()
    message = message_parse(sample)
    assert message.document_id == "000.00.00.G22,2018/09/20,7816/VPCP-TTĐT"
    assert message.header.subject == "V/v kết nối, liên thông phần mềm quản lý văn bản"
    assert message.header.document_type == DocumentType(1, 0, "Công văn")
    assert message.header.other_info == OtherInfo()
    assert message.attachments == (Attachment("cid:3f1c", "7816.pdf", "application/pdf", PDF, ""),)
    assert message.trace.traces[0].timestamp == datetime(2018, 9, 20, 10, 12, 10, tzinfo=VN)


def test_status_round_trip_every_code():
    for code in STATUS_CODES:
        status = sample_status(code)
        data = status_build(status)
        assert status_parse(data) == status
    text = status_build(sample_status()).decode()
    assert text.startswith(
        f"<?xml version='1.0' encoding='UTF-8'?>\n<edXML:Status xmlns:edXML=\"{NAMESPACE}\">"
    )
    assert "<edXML:StatusCode>03</edXML:StatusCode>" in text


def test_status_inside_a_soap_envelope_is_read():
    inner = status_build(sample_status("05")).split(b"?>", 1)[1]
    for prefix_ns in (NAMESPACE, "http://schemas.xmlsoap.org/soap/envelope/"):
        body = inner.replace(NAMESPACE.encode(), prefix_ns.encode())
        soap = (
            b'<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/">'
            b"<SOAP-ENV:Header>" + body + b"</SOAP-ENV:Header><SOAP-ENV:Body/></SOAP-ENV:Envelope>"
        )
        assert status_parse(soap) == sample_status("05")


# ---------------------------------------------------------------------------------------------
# The model refuses what the format does not allow


def test_model_validates_on_construction():
    with pytest.raises(EdxmlError) as info:
        sample_message(other_info=OtherInfo(priority=5))
    assert info.value.code == "edxml_bad_code"
    assert "MessageHeader/OtherInfo/Priority" in info.value.message_en
    with pytest.raises(EdxmlError) as info:
        sample_message(to_organs=())
    assert (info.value.code, "MessageHeader/To" in info.value.message_vi) == (
        "edxml_missing_element",
        True,
    )
    with pytest.raises(EdxmlError) as info:
        sample_message(code=Code("5a", "QĐ-BGDĐT"))
    assert info.value.code == "edxml_bad_value"
    with pytest.raises(EdxmlError) as info:
        sample_message(from_organ=Organ("000,00", "X"))
    assert info.value.code == "edxml_bad_value"
    with pytest.raises(EdxmlError) as info:
        StatusMessage(
            ResponseFor(
                "000.00.00.G12", "05/QĐ", date(2025, 3, 15), "000.00.00.G12,2025/03/16,05/QĐ"
            ),
            Organ("000.00.01.H26", "Sở"),
            "03",
            datetime(2025, 1, 1, tzinfo=VN),
        )
    assert info.value.code == "edxml_document_id_mismatch"
    with pytest.raises(ValueError, match="timezone-aware"):
        Message(
            header=sample_message().header,
            trace=TraceHeaderList((TraceHeader("a", datetime(2025, 1, 1)),)),  # noqa: DTZ001
        )
    with pytest.raises(EdxmlError) as info:
        Message(sample_message().header, attachments=[Attachment("qd.pdf", "a", "b", b"")])
    assert info.value.code == "edxml_bad_value"
    same = Attachment("cid:x", "a.pdf", "application/pdf", b"1")
    with pytest.raises(EdxmlError) as info:
        Message(sample_message().header, attachments=[same, same])
    assert info.value.code == "edxml_duplicate_content_id"


def test_build_refuses_control_characters_and_oversized_attachments():
    with pytest.raises(EdxmlError) as info:
        message_build(sample_message(subject="Về việc\x00 lạ"))
    assert info.value.code == "edxml_bad_value"
    assert "MessageHeader/Subject" in info.value.message_en
    with pytest.raises(EdxmlError) as info:
        message_build(sample_message(), max_attachment_bytes=100)
    assert info.value.code == "edxml_attachment_too_large"


def test_revocation_needs_the_document_it_revokes():
    with pytest.raises(EdxmlError) as info:
        Message(sample_message().header, trace=TraceHeaderList(business=Business(doc_type=1)))
    assert info.value.code == "edxml_missing_element"
    assert "TraceHeaderList/Bussiness/DocumentId" in info.value.message_en


# ---------------------------------------------------------------------------------------------
# Malformed input


@pytest.mark.parametrize(
    "data",
    [b"", b"   ", b"not xml at all", b"<edXML xmlns='x'>", b"<a></b>", b"<a>\xc3\x28</a>"],
)
def test_not_xml(data):
    refused("edxml_not_xml", data)


@pytest.mark.parametrize(
    "data",
    [
        b"<edXML/>",
        b"<edXML xmlns='http://www.mic.gov.vn/TBT/QCVN_102_2015'/>",
        f"<Envelope xmlns='{NAMESPACE}'/>".encode(),
    ],
)
def test_wrong_root_or_namespace(data):
    error = refused("edxml_wrong_root", data)
    assert NAMESPACE in error.message_en


def test_wrong_root_for_status():
    refused("edxml_wrong_root", message_build(sample_message()), status_parse)
    refused("edxml_wrong_root", status_build(sample_status()), message_parse)


@pytest.mark.parametrize(
    ("path", "element"),
    [
        ("/e:edXML/e:edXMLEnvelope", "edXMLEnvelope"),
        (f"{H}/e:MessageHeader", "MessageHeader"),
        ("/e:edXML/e:edXMLEnvelope/e:edXMLBody", "edXMLEnvelope/edXMLBody"),
        (f"{MH}/e:From", "MessageHeader/From"),
        (f"{MH}/e:From/e:OrganId", "MessageHeader/From/OrganId"),
        (f"{MH}/e:To[2]/e:OrganName", "MessageHeader/To[2]/OrganName"),
        (f"{MH}/e:Code/e:CodeNotation", "MessageHeader/Code/CodeNotation"),
        (f"{MH}/e:PromulgationInfo/e:PromulgationDate", "PromulgationInfo/PromulgationDate"),
        (f"{MH}/e:DocumentType/e:Type", "MessageHeader/DocumentType/Type"),
        (f"{MH}/e:Subject", "MessageHeader/Subject"),
        (f"{MH}/e:SignerInfo/e:FullName", "MessageHeader/SignerInfo/FullName"),
        (f"{MH}/e:DocumentId", "MessageHeader/DocumentId"),
        (f"{MH}/e:ResponseFor/e:DocumentId", "MessageHeader/ResponseFor[1]/DocumentId"),
        (f"{H}/e:TraceHeaderList", "TraceHeaderList"),
        (f"{H}/e:TraceHeaderList/e:TraceHeader/e:Timestamp", "TraceHeader[1]/Timestamp"),
        (f"{BUS}", "TraceHeaderList/Bussiness"),
        (f"{BUS}/e:BussinessDocType", "Bussiness/BussinessDocType"),
        (f"{ATT}[2]/e:ContentTransferEncoded", "Attachment[2]/ContentTransferEncoded"),
        (f"{ATT}[1]/e:AttachmentName", "AttachmentEncoded/Attachment[1]/AttachmentName"),
    ],
)
def test_missing_required_element_is_named(path, element):
    data = mutate(message_build(sample_message()), remove(path))
    error = refused("edxml_missing_element", data)
    assert element in error.message_vi and element in error.message_en


def test_empty_required_element_counts_as_missing():
    data = mutate(message_build(sample_message()), set_text(f"{MH}/e:Subject", "   "))
    assert "MessageHeader/Subject" in refused("edxml_missing_element", data).message_en
    data = mutate(message_build(sample_message()), set_text(f"{MH}/e:To[1]/e:OrganId", ""))
    assert "MessageHeader/To[1]/OrganId" in refused("edxml_missing_element", data).message_en


def test_all_recipients_missing():
    def change(root):
        for to in root.xpath(f"{MH}/e:To", namespaces=NS):
            to.getparent().remove(to)

    data = mutate(message_build(sample_message()), change)
    assert "MessageHeader/To" in refused("edxml_missing_element", data).message_en


def test_duplicate_single_element():
    def change(root):
        subject = find(root, f"{MH}/e:Subject")
        twin = etree.Element(subject.tag)
        twin.text = "Một trích yếu khác"
        subject.addnext(twin)

    data = mutate(message_build(sample_message()), change)
    assert "MessageHeader/Subject" in refused("edxml_duplicate_element", data).message_en


@pytest.mark.parametrize(
    ("path", "value", "code"),
    [
        (f"{MH}/e:PromulgationInfo/e:PromulgationDate", "15/03/2025", "edxml_bad_date"),
        (f"{MH}/e:PromulgationInfo/e:PromulgationDate", "2025-03-15", "edxml_bad_date"),
        (f"{MH}/e:PromulgationInfo/e:PromulgationDate", "2025/02/30", "edxml_bad_date"),
        (f"{MH}/e:PromulgationInfo/e:PromulgationDate", "2025/3/5", "edxml_bad_date"),
        (f"{MH}/e:DueDate", "ngày mai", "edxml_bad_date"),
        (f"{MH}/e:ResponseFor/e:PromulgationDate", "20250228", "edxml_bad_date"),
        (f"{H}/e:TraceHeaderList/e:TraceHeader/e:Timestamp", "2025/03/15", "edxml_bad_time"),
        (
            f"{H}/e:TraceHeaderList/e:TraceHeader/e:Timestamp",
            "2025/03/15T16:45:03",
            "edxml_bad_time",
        ),
        (
            f"{H}/e:TraceHeaderList/e:TraceHeader/e:Timestamp",
            "2025/03/15 25:00:00",
            "edxml_bad_time",
        ),
        (f"{MH}/e:OtherInfo/e:Priority", "5", "edxml_bad_code"),
        (f"{MH}/e:OtherInfo/e:Priority", "khẩn", "edxml_bad_code"),
        (f"{MH}/e:SteeringType", "3", "edxml_bad_code"),
        (f"{MH}/e:OtherInfo/e:Direction", "có lẽ", "edxml_bad_code"),
        (f"{BUS}/e:BussinessDocType", "4", "edxml_bad_code"),
        (f"{BUS}/e:Paper", "2", "edxml_bad_code"),
        (f"{MH}/e:OtherInfo/e:PageAmount", "-1", "edxml_bad_value"),
        (f"{MH}/e:OtherInfo/e:PromulgationAmount", "bảy mươi", "edxml_bad_value"),
        (f"{MH}/e:DocumentType/e:TypeDetail", "2.5", "edxml_bad_value"),
        (f"{MH}/e:Code/e:CodeNumber", "05a", "edxml_bad_value"),
        (f"{MH}/e:DocumentId", "000.00.00.G12,2025/03/15,5/QĐ-BGDĐT", "edxml_document_id_mismatch"),
        (f"{MH}/e:DocumentId", "000.00.00.G12,05/QĐ-BGDĐT", "edxml_document_id_mismatch"),
        (
            f"{MH}/e:ResponseFor/e:DocumentId",
            "000.00.01.H26,2025/02/27,123/SGDĐT-KTKĐ",
            "edxml_document_id_mismatch",
        ),
    ],
)
def test_bad_values_refused(path, value, code):
    data = mutate(message_build(sample_message()), set_text(path, value))
    error = refused(code, data)
    assert value in error.message_en


def test_document_id_must_follow_its_parts():
    # A consistent DocumentId that names another organisation is still refused.
    data = mutate(
        message_build(sample_message()),
        set_text(f"{MH}/e:From/e:OrganId", "000.00.00.G99"),
    )
    error = refused("edxml_document_id_mismatch", data)
    assert "000.00.00.G99,2025/03/15,05/QĐ-BGDĐT" in error.message_en


def test_manifest_reference_without_attachment():
    data = mutate(message_build(sample_message()), remove(f"{ATT}[2]"))
    assert "cid:phu-luc" in refused("edxml_reference_without_attachment", data).message_en
    data = mutate(message_build(sample_message()), remove("/e:edXML/e:AttachmentEncoded"))
    refused("edxml_reference_without_attachment", data)


def test_attachment_not_in_manifest():
    data = mutate(message_build(sample_message()), remove(f"{REF}[1]"))
    assert "cid:qd-05.pdf" in refused("edxml_attachment_not_in_manifest", data).message_en


def test_attachment_disagreeing_with_manifest():
    data = mutate(
        message_build(sample_message()), set_text(f"{ATT}[1]/e:AttachmentName", "khác.pdf")
    )
    refused("edxml_manifest_mismatch", data)


def test_duplicate_attachment_ids():
    data = mutate(
        message_build(sample_message()), set_text(f"{ATT}[2]/e:ContentId", "cid:qd-05.pdf")
    )
    refused("edxml_duplicate_content_id", data)
    data = mutate(
        message_build(sample_message()), set_text(f"{REF}[2]/e:ContentId", "cid:qd-05.pdf")
    )
    refused("edxml_duplicate_content_id", data)


@pytest.mark.parametrize("value", ["!!không phải base64!!", "QUJD=", "QUJDRA=x", "A"])
def test_base64_errors(value):
    data = mutate(
        message_build(sample_message()), set_text(f"{ATT}[1]/e:ContentTransferEncoded", value)
    )
    assert "cid:qd-05.pdf" in refused("edxml_bad_base64", data).message_en


def test_attachment_over_the_limit():
    data = message_build(sample_message())
    error = refused("edxml_attachment_too_large", data, max_attachment_bytes=512)
    assert "cid:phu-luc" in error.message_en and "512" in error.message_en
    assert message_parse(data, max_attachment_bytes=1024) == sample_message()


def test_attachment_over_the_parsers_text_limit():
    big = Attachment("cid:big", "scan.pdf", "application/pdf", b"\0" * (8 * 1024 * 1024))
    message = Message(sample_message().header, attachments=[big])
    data = message_build(message, max_attachment_bytes=9 * 1024 * 1024)
    refused("edxml_attachment_too_large", data, max_attachment_bytes=9 * 1024 * 1024)


def test_message_over_the_size_cap():
    data = message_build(sample_message())
    error = refused("edxml_too_large", data, max_bytes=1000)
    assert str(len(data)) in error.message_en


def test_status_refusals():
    good = status_build(sample_status())
    bad_code = good.replace(b">03<", b">07<")
    assert "Status/StatusCode" in refused("edxml_bad_code", bad_code, status_parse).message_en
    no_time = mutate(good, remove("/e:Status/e:Timestamp"))
    refused("edxml_missing_element", no_time, status_parse)
    bad_time = mutate(good, set_text("/e:Status/e:Timestamp", "16/03/2025 08:05:00"))
    refused("edxml_bad_time", bad_time, status_parse)
    no_from = mutate(good, remove("/e:Status/e:From/e:OrganId"))
    assert (
        "Status/From/OrganId" in refused("edxml_missing_element", no_from, status_parse).message_en
    )
    mismatch = mutate(good, set_text("/e:Status/e:ResponseFor/e:Code", "06/QĐ-BGDĐT"))
    refused("edxml_document_id_mismatch", mismatch, status_parse)
    refused("edxml_too_large", good, status_parse, max_bytes=100)


# ---------------------------------------------------------------------------------------------
# Hostile XML: nothing expands, nothing is fetched


BILLION_LAUGHS = f"""<?xml version="1.0"?>
<!DOCTYPE edXML [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<edXML xmlns="{NAMESPACE}"><edXMLEnvelope>&lol9;</edXMLEnvelope></edXML>""".encode()

EXTERNAL_ENTITY = f"""<?xml version="1.0"?>
<!DOCTYPE edXML [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<edXML xmlns="{NAMESPACE}"><edXMLEnvelope>&xxe;</edXMLEnvelope></edXML>""".encode()

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE edXML [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;]>
<edXML/>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE edXML SYSTEM "http://127.0.0.1:9/evil.dtd"><edXML/>"""


@pytest.mark.parametrize(
    "data",
    [
        BILLION_LAUGHS,
        EXTERNAL_ENTITY,
        PARAMETER_ENTITY,
        EXTERNAL_DTD,
        BILLION_LAUGHS.decode().replace('"1.0"?>', '"1.0" encoding="UTF-16"?>').encode("utf-16"),
    ],
    ids=["billion-laughs", "external-entity", "parameter-entity", "external-dtd", "utf-16"],
)
@pytest.mark.parametrize("parse", [message_parse, status_parse])
def test_xml_bombs_refused_without_expansion(data, parse):
    started = time.monotonic()
    error = refused("edxml_dtd_forbidden", data, parse)
    assert time.monotonic() - started < 1.0
    assert "root:" not in error.message_en and "lol" not in error.message_en


def test_dtd_smuggled_into_a_real_message():
    declaration, rest = message_build(sample_message()).split(b"?>", 1)
    data = declaration + b'?>\n<!DOCTYPE edXML [<!ENTITY x "y">]>' + rest
    refused("edxml_dtd_forbidden", data)


def test_deep_nesting_refused():
    refused("edxml_not_xml", b"<a>" * 100_000 + b"</a>" * 100_000)


def test_comments_cannot_cut_text():
    data = message_build(sample_message()).replace(
        "Về việc ban hành".encode(), "Về việc<!-- chèn -->ban hành".encode()
    )
    assert message_parse(data).header.subject.startswith("Về việcban hành")


# ---------------------------------------------------------------------------------------------
# Property: any header round-trips


VIETNAMESE = (
    "aăâbcdđeêghiklmnoôơpqrstuưvxy"
    "AĂÂBCDĐEÊGHIKLMNOÔƠPQRSTUƯVXY"
    "àảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ"
    "ÀẢÃÁẠẰẲẴẮẶẦẨẪẤẬÈẺẼÉẸỀỂỄẾỆÌỈĨÍỊÒỎÕÓỌỒỔỖỐỘỜỞỠỚỢÙỦŨÚỤỪỬỮỨỰỲỶỸÝỴ"
    "0123456789 .,;:-–/()&<>\"'%\n\t“”"
)
text = st.text(alphabet=VIETNAMESE, max_size=60).map(str.strip)
name = text.filter(bool)
organ_id = st.from_regex(r"[0-9A-Z]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2}", fullmatch=True)
days = st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31))
organs = st.builds(
    Organ,
    organ_id=organ_id,
    organ_name=name,
    organization_in_charge=text,
    organ_add=text,
    email=text,
    telephone=text,
    fax=text,
    website=text,
)
moments = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
    max_value=datetime(2090, 1, 1),  # noqa: DTZ001
    timezones=st.just(VN),
).map(lambda d: d.replace(microsecond=0))


@st.composite
def headers(draw):
    notation = draw(name.filter(lambda s: "," not in s and "/" not in s))
    return MessageHeader(
        from_organ=draw(organs),
        to_organs=tuple(draw(st.lists(organs, min_size=1, max_size=4))),
        code=Code(draw(st.from_regex(r"[0-9]{2,5}", fullmatch=True)), notation),
        promulgation=PromulgationInfo(draw(text), draw(days)),
        document_type=DocumentType(draw(st.integers(0, 99)), draw(st.integers(0, 99)), draw(text)),
        subject=draw(name),
        content=draw(text),
        signer=SignerInfo(draw(name), draw(text), draw(text)),
        due_date=draw(st.none() | days),
        to_places=tuple(draw(st.lists(name, max_size=3))),
        other_info=OtherInfo(
            priority=draw(st.integers(0, 4)),
            sphere_of_promulgation=draw(text),
            typer_notation=draw(text),
            promulgation_amount=draw(st.none() | st.integers(0, 10_000)),
            page_amount=draw(st.none() | st.integers(0, 10_000)),
            direction=draw(st.booleans()),
            appendixes=tuple(draw(st.lists(name, max_size=3))),
        ),
        response_for=tuple(
            ResponseFor.to(
                draw(organ_id), f"{draw(st.integers(1, 9999)):02d}/{notation}", draw(days)
            )
            for _ in range(draw(st.integers(0, 2)))
        ),
        steering_type=draw(st.integers(0, 2)),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    header=headers(),
    moment=moments,
    staff=st.builds(StaffInfo, text, text, text, text),
    files=st.lists(st.tuples(name, st.binary(min_size=1, max_size=300)), max_size=3),
)
def test_property_round_trip(header, moment, staff, files):
    message = Message(
        header=header,
        trace=TraceHeaderList(
            (TraceHeader(header.from_organ.organ_id, moment),), Business(staff=staff)
        ),
        attachments=tuple(
            Attachment(f"cid:{i}", file_name, "application/octet-stream", data)
            for i, (file_name, data) in enumerate(files)
        ),
    )
    assert message_parse(message_build(message)) == message


@settings(max_examples=100, deadline=None)
@given(
    organ=organs,
    code=st.sampled_from(sorted(STATUS_CODES)),
    moment=moments,
    description=text,
    day=days,
)
def test_property_status_round_trip(organ, code, moment, description, day):
    status = StatusMessage(
        response_for=ResponseFor.to("000.00.00.G12", "05/QĐ-BGDĐT", day),
        from_organ=organ,
        status_code=code,
        timestamp=moment,
        description=description,
    )
    assert status_parse(status_build(status)) == status
