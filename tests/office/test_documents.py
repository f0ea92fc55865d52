"""Documents: notations, incoming registration, outgoing drafts, PDF checks, versions."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from vnemis.office import actions
from vnemis.office.actions_errors import OfficeError
from vnemis.office.actions_files import max_file_bytes, pdf_check, uploads_check
from vnemis.office.models import Attachment, Blob, Document, DocumentVersion, Register, WorkflowStep
from vnemis.office.numbering import (
    NotationError,
    abbreviation_check,
    format_number,
    notation_for,
    number_notation,
    parse_number_notation,
)

from .test_documents_support import (
    Upload,
    checked,
    doc_type,
    draft_outgoing,
    office_setup,
    pdf_bytes,
    register_incoming,
)


@pytest.fixture
def office(tree):
    return office_setup(tree)


# -- numbers and notations (pure) --------------------------------------------------------------


def test_numbers_below_ten_get_a_leading_zero():
    assert [format_number(n) for n in (1, 9, 10, 123)] == ["01", "09", "10", "123"]
    assert number_notation(5, "QĐ-BGDĐT") == "05/QĐ-BGDĐT"
    assert number_notation(123, "QĐ-BGDĐT") == "123/QĐ-BGDĐT"
    assert number_notation(None, "") == ""


def test_notation_of_a_decision_is_type_then_agency():
    assert notation_for(type_abbreviation="QĐ", is_letter=False, agency="BGDĐT") == "QĐ-BGDĐT"
    assert notation_for(type_abbreviation="TTr", is_letter=False, agency="SGDĐT") == "TTr-SGDĐT"


def test_notation_of_an_official_letter_is_agency_then_drafting_unit():
    assert notation_for(type_abbreviation="", is_letter=True, agency="VPCP", unit="TTĐT") == (
        "VPCP-TTĐT"
    )
    with pytest.raises(NotationError) as exc:
        notation_for(type_abbreviation="", is_letter=True, agency="VPCP")
    assert exc.value.code == "letter_needs_unit"
    assert "đơn vị soạn thảo" in exc.value.message_vi


def test_notation_of_a_circular_carries_the_year():
    notation = notation_for(type_abbreviation="TT", is_letter=False, agency="BGDĐT", year=2025)
    assert number_notation(5, notation) == "05/2025/TT-BGDĐT"


def test_notation_needs_the_agency_abbreviation():
    with pytest.raises(NotationError) as exc:
        notation_for(type_abbreviation="QĐ", is_letter=False, agency="")
    assert exc.value.code == "no_agency_abbreviation"


@pytest.mark.parametrize(
    ("text", "number", "notation"),
    [
        ("123/QĐ-BGDĐT", 123, "QĐ-BGDĐT"),
        ("Số: 05/QĐ-BGDĐT", 5, "QĐ-BGDĐT"),
        ("7816/VPCP-TTĐT", 7816, "VPCP-TTĐT"),
        (" 05 / 2025/TT-BGDĐT ", 5, "2025/TT-BGDĐT"),
    ],
)
def test_number_notation_is_parsed(text, number, notation):
    parsed = parse_number_notation(text)
    assert (parsed.number, parsed.notation) == (number, notation)


@pytest.mark.parametrize(
    "text", ["QĐ-BGDĐT", "123", "abc/QĐ", "123/", "0/QĐ-BGDĐT", "12 /QĐ BGDĐT"]
)
def test_bad_number_notation_is_refused_with_the_format(text):
    with pytest.raises(NotationError) as exc:
        parse_number_notation(text)
    assert "123/QĐ-BGDĐT" in exc.value.message_vi or "01" in exc.value.message_vi


@pytest.mark.parametrize("value", ["BGDĐT", "VP", "GDTrH", "SGD&ĐT", "UBND.HN"])
def test_abbreviations_accepted(value):
    assert abbreviation_check(value) == value


@pytest.mark.parametrize("value", ["", "vp", "B GD", "QĐ-BGDĐT", "A" * 21])
def test_abbreviations_refused(value):
    with pytest.raises(NotationError):
        abbreviation_check(value)


# -- incoming ----------------------------------------------------------------------------------


def test_incoming_registration_takes_the_next_arrival_number(office):
    first = register_incoming(office, number=123, text="Quyết định số 123")
    second = register_incoming(office, number=7, notation="CV-UBND")
    assert first.status == second.status == "registered"
    assert (first.register_number, second.register_number) == (1, 2)
    assert first.register.kind == Register.Kind.INCOMING
    assert first.register.year == timezone.localdate().year
    assert first.number_notation == "123/QĐ-UBND"
    assert second.number_notation == "07/CV-UBND"
    version = first.versions.get()
    assert version.number == 1
    assert version.files.get().is_main
    assert first.page_count == 1
    assert WorkflowStep.objects.filter(document=first, kind="registered").count() == 1


def test_incoming_registration_needs_a_clerk_or_leader(office):
    with pytest.raises(PermissionDenied):
        register_incoming(office, actor=office.staff)
    with pytest.raises(PermissionDenied):
        register_incoming(office, actor=office.so_clerk)  # a clerk of another organisation
    assert not Document.objects.exists()
    assert not Register.objects.exists()


def test_the_same_document_is_registered_once(office):
    register_incoming(office, number=123)
    with pytest.raises(OfficeError) as exc:
        register_incoming(office, number=123)
    assert exc.value.code == "duplicate_incoming"
    assert "123/QĐ-UBND" in exc.value.message_vi
    assert Document.objects.count() == 1
    assert Register.objects.get().last_number == 1  # no number used up
    # Another issuer's 123/QĐ-UBND is another document.
    register_incoming(office, number=123, issuer_name="Ủy ban nhân dân Tỉnh Ninh Bình",
                      issuer_organ_id="000.00.00.H37")  # fmt: skip


def test_the_database_refuses_a_second_registration_of_one_document(office):
    first = register_incoming(office, number=55)
    clone = Document.objects.get(pk=first.pk)
    clone.pk = None
    clone.register_number = 99
    with pytest.raises(IntegrityError), transaction.atomic():
        clone.save()


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"subject": "   "}, "subject_required", "subject"),
        ({"issuer_name": "", "issuer_organ_id": ""}, "issuer_required", "issuer_name"),
        ({"notation": ""}, "number_notation_pair", "number_notation"),
        ({"issued_on": timezone.localdate() + timedelta(days=1)}, "bad_issued_on", "issued_on"),
        ({"due_on": timezone.localdate() - timedelta(days=30)}, "bad_due_on", "due_on"),
        ({"priority": 7}, "bad_priority", "priority"),
        ({"confidentiality": 1, "text": "Mật"}, "secret_no_files", "files"),
    ],
)
def test_bad_incoming_details_are_refused_and_nothing_registered(office, changes, code, field):
    with pytest.raises(OfficeError) as exc:
        register_incoming(office, **changes)
    assert (exc.value.code, exc.value.field) == (code, field)
    assert exc.value.message_vi and exc.value.message_en
    assert not Document.objects.exists()
    assert Register.objects.filter(last_number__gt=0).count() == 0


def test_a_secret_document_is_registered_without_files(office):
    doc = register_incoming(office, confidentiality=2)
    assert doc.is_secret and not doc.versions.exists()


def test_incoming_from_an_organisation_of_the_tree(office):
    doc = register_incoming(
        office, actor=office.so_clerk, organisation=office.so_hn, issuer=office.moet,
        issuer_name="", issuer_organ_id="", number=15, notation="CT-BGDĐT",
    )  # fmt: skip
    assert doc.issuer_name == "Bộ Giáo dục và Đào tạo"
    assert doc.issuer_key == f"org:{office.moet.pk}"


# -- PDF files ---------------------------------------------------------------------------------


def test_a_file_that_is_not_a_pdf_is_refused(office):
    with pytest.raises(OfficeError) as exc:
        uploads_check([Upload(b"PK\x03\x04 this is a zip file", "bao-cao.pdf")])
    assert exc.value.code == "not_pdf"
    assert "bao-cao.pdf" in exc.value.message_vi and "%PDF-" in exc.value.message_vi


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[: len(b) // 2],  # cut off
        lambda b: b"%PDF-1.7\n" + b"garbage " * 200,  # a header and nothing else
        lambda b: b[:300] + b"\x00" * 400 + b[700:],  # objects overwritten
    ],
)
def test_a_corrupt_pdf_is_refused(damage):
    data = damage(pdf_bytes("Văn bản bị hỏng", pages=2))
    with pytest.raises(OfficeError) as exc:
        pdf_check(name="hong.pdf", data=data)
    assert exc.value.code == "pdf_corrupt"
    assert "hỏng" in exc.value.message_vi


def test_an_empty_file_is_refused():
    with pytest.raises(OfficeError) as exc:
        pdf_check(name="rong.pdf", data=b"")
    assert exc.value.code == "file_empty"


def test_too_large_a_file_is_refused_before_reading_and_nothing_registered(office, settings):
    settings.VNEMIS_OFFICE_MAX_FILE_BYTES = 2048
    data = pdf_bytes("Quyết định", pages=5)
    assert len(data) > 2048

    class Unread(Upload):
        def read(self, *args):
            raise AssertionError("an oversized upload must not be read")

    with pytest.raises(OfficeError) as exc:
        uploads_check([Unread(data, "lon.pdf")])
    assert exc.value.code == "file_too_large"
    assert "lon.pdf" in exc.value.message_vi and "2 KB" in exc.value.message_vi
    # Through the action: refused before anything is written.
    with pytest.raises(OfficeError):
        register_incoming(office, main=pdf_check(name="lon.pdf", data=data))
    assert not Document.objects.exists() and not Blob.objects.exists()
    assert max_file_bytes() == 2048


def test_an_encrypted_pdf_is_refused():
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_encryption(owner_password="chu", user_password="khach")
    pdf.add_page()
    pdf.set_font("helvetica", "", 12)
    pdf.cell(text="secret")
    with pytest.raises(OfficeError) as exc:
        pdf_check(name="mat-khau.pdf", data=bytes(pdf.output()))
    assert exc.value.code == "pdf_encrypted"


def test_pdf_text_is_extracted_with_diacritics():
    pdf = checked("Kế hoạch tuyển sinh đầu cấp")
    assert pdf.text_status == "ok"
    assert "Kế hoạch tuyển sinh đầu cấp" in pdf.text
    assert pdf.page_count == 1 and pdf.signature_count == 0


def test_file_names_are_cleaned():
    pdf = pdf_check(name="../../etc/Quyết định\x07.PDF", data=pdf_bytes())
    assert pdf.name == "Quyết định.pdf"
    assert pdf_check(name="bao cao", data=pdf_bytes()).name == "bao cao.pdf"


def test_too_many_files_at_once_are_refused(settings):
    settings.VNEMIS_OFFICE_MAX_FILES = 2
    with pytest.raises(OfficeError) as exc:
        uploads_check([Upload(pdf_bytes()) for _ in range(3)])
    assert exc.value.code == "too_many_files"


# -- outgoing drafts and versions ----------------------------------------------------------------


def test_an_outgoing_draft_with_recipients(office):
    draft = draft_outgoing(office)
    assert draft.status == "draft" and draft.direction == "outgoing"
    assert draft.number is None and draft.register is None
    assert draft.drafting_unit == office.moet_gdth  # the drafter's unit by default
    assert draft.place == "Hà Nội"
    names = list(draft.recipients.values_list("name", "organisation__code", "organ_id"))
    assert names == [
        ("Sở GD&ĐT Hà Nội", "SGD01", ""),
        ("Sở GD&ĐT Đà Nẵng", "SGD48", ""),
        ("Văn phòng Chính phủ", None, "000.00.00.G01"),
    ]


@pytest.mark.django_db
def test_recipients_lines_are_checked():
    with pytest.raises(OfficeError) as exc:
        actions.recipients_parse("Văn phòng Chính phủ | 000 00 G01")
    assert exc.value.code == "bad_organ_id" and "dòng 1" in exc.value.message_vi
    with pytest.raises(OfficeError) as exc:
        actions.recipients_parse("SGD01\nX")
    assert exc.value.code == "bad_recipient" and "dòng 2" in exc.value.message_vi


def test_a_new_version_keeps_the_old_ones(office):
    draft = draft_outgoing(office, text="Bản dự thảo thứ nhất")
    v2 = actions.document_version_add(
        actor=office.staff, document=draft, main=checked("Bản dự thảo thứ hai"),
        appendices=[checked("Phụ lục số liệu", name="phu-luc.pdf")], note="Sửa theo góp ý",
    )  # fmt: skip
    v3 = actions.document_version_add(
        actor=office.staff, document=draft, appendices=[checked("Phụ lục 2", name="phu-luc-2.pdf")]
    )
    assert [v.number for v in draft.versions.all()] == [1, 2, 3]
    v1_main = Attachment.objects.get(version__number=1, version__document=draft, is_main=True)
    assert "thứ nhất" in Blob.objects.get(pk=v1_main.blob_id).text
    assert [a.name for a in v2.files.all()] == ["van-ban.pdf", "phu-luc.pdf"]
    assert [(a.name, a.is_main) for a in v3.files.all()] == [
        ("van-ban.pdf", True), ("phu-luc.pdf", False), ("phu-luc-2.pdf", False),
    ]  # fmt: skip
    # Unchanged files are not stored twice.
    assert v3.files.get(is_main=True).blob_id == v2.files.get(is_main=True).blob_id
    assert DocumentVersion.objects.filter(document=draft).count() == 3


def test_only_the_drafter_or_a_leader_changes_a_draft(office):
    draft = draft_outgoing(office)
    with pytest.raises(PermissionDenied):
        actions.document_version_add(actor=office.staff2, document=draft, main=checked())
    with pytest.raises(PermissionDenied):
        actions.document_version_add(actor=office.so_leader, document=draft, main=checked())
    actions.document_version_add(actor=office.leader, document=draft, main=checked("Lãnh đạo sửa"))
    assert draft.versions.count() == 2


def test_an_official_letter_needs_a_drafting_unit(office):
    from vnemis.office.models import OfficeMember

    OfficeMember.objects.filter(user=office.leader).update(unit=None)
    office.leader.__dict__.pop("_office_member_cache", None)
    with pytest.raises(OfficeError) as exc:
        draft_outgoing(office, actor=office.leader)
    assert exc.value.code == "letter_needs_unit"
    assert not Document.objects.exists()
    draft = draft_outgoing(office, actor=office.leader, doc_type=doc_type("QD"))
    assert draft.drafting_unit is None


def test_draft_update_records_the_changed_fields(office):
    draft = draft_outgoing(office)
    actions.draft_update(
        actor=office.staff, document=draft, subject="Hướng dẫn mới", priority=1,
        recipients=actions.recipients_parse("SGD01"),
    )  # fmt: skip
    draft.refresh_from_db()
    assert draft.subject == "Hướng dẫn mới" and draft.priority == 1
    step = draft.steps.get(kind="updated")
    assert sorted(step.detail["fields"]) == ["priority", "recipients", "subject"]
    assert draft.recipients.count() == 1


def test_workflow_steps_are_append_only(office):
    doc = register_incoming(office)
    step = doc.steps.get()
    step.comment = "sửa lịch sử"
    with pytest.raises(ValueError, match="append-only"):
        step.save()
    with pytest.raises(ValueError, match="append-only"):
        step.delete()


def test_files_of_an_incoming_document_are_added_by_its_clerk_leader_or_handler(office):
    from vnemis.office import workflow

    doc = register_incoming(office, text="Bản chính")
    with pytest.raises(PermissionDenied):
        actions.document_version_add(
            actor=office.staff, document=doc, appendices=[checked("Phụ lục")]
        )
    workflow.assignment_create(actor=office.leader, document=doc, unit=office.moet_gdth)
    actions.document_version_add(actor=office.staff, document=doc, appendices=[checked("Phụ lục")])
    actions.document_version_add(actor=office.clerk, document=doc, appendices=[checked("Bản quét")])
    assert doc.versions.count() == 3
