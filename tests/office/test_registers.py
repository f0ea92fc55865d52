"""Registers: gap-free numbering, the yearly restart, uniqueness, concurrency (PostgreSQL, real
threads), the register pages and their XLSX export."""

import io
import os
import threading
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from vnemis.office import actions, workflow
from vnemis.office.actions_errors import OfficeError
from vnemis.office.models import Blob, Document, Register

from .test_documents_support import (
    doc_type,
    draft_outgoing,
    office_setup,
    register_incoming,
    sign,
)

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
# Real concurrent writers need PostgreSQL; SQLite has one writer (its serialisation is what the
# other tests exercise). Decided before the database is set up, so no flush is wasted.
postgres_only = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="needs PostgreSQL (DATABASE_URL): SQLite has a single writer",
)


@pytest.fixture
def office(tree):
    return office_setup(tree)


def at(y, m, d, h=9):
    return datetime(y, m, d, h, tzinfo=HANOI)


def approved(office, **kwargs):
    draft = draft_outgoing(office, **kwargs)
    submission = workflow.submission_create(
        actor=office.staff, document=draft, leader=office.leader
    )
    main = draft.versions.get().files.get(is_main=True)
    signed = sign(bytes(Blob.objects.get(pk=main.blob_id).data))
    workflow.approve_by_signing(actor=office.leader, submission=submission, signed_pdf=signed)
    return draft


# -- numbering ---------------------------------------------------------------------------------


def test_a_refused_registration_uses_no_number(office, settings):
    register_incoming(office, number=1)
    with pytest.raises(OfficeError):
        register_incoming(office, number=1)  # a duplicate
    with pytest.raises(OfficeError):
        register_incoming(office, number=2, subject="")
    third = register_incoming(office, number=3)
    assert third.register_number == 2
    assert Register.objects.get(kind="incoming").last_number == 2


def test_a_failure_inside_the_transaction_rolls_the_number_back(office, monkeypatch):
    """The number is taken in the registering transaction: if writing the document fails after
    it, the counter goes back too."""
    import vnemis.office.actions as module

    def broken(document, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(module, "search_index_refresh", broken)
    with pytest.raises(RuntimeError):
        register_incoming(office, number=1, text="Có tệp")
    monkeypatch.undo()
    assert not Document.objects.exists() and not Blob.objects.exists()
    assert Register.objects.filter(last_number__gt=0).count() == 0
    assert register_incoming(office, number=1).register_number == 1


def test_incoming_numbers_restart_each_calendar_year(office):
    issued = date(2025, 12, 20)
    kw = {"issued_on": issued}
    a = register_incoming(office, number=10, arrived_at=at(2025, 12, 31, 9), **kw)
    b = register_incoming(office, number=11, arrived_at=at(2025, 12, 31, 16), **kw)
    # 00:30 on 1 January in Hanoi is still 31 December in UTC: the local date counts.
    c = register_incoming(office, number=12, arrived_at=at(2026, 1, 1, 0), **kw)
    d = register_incoming(office, number=13, arrived_at=at(2026, 1, 2), **kw)
    assert [(x.register.year, x.register_number) for x in (a, b, c, d)] == [
        (2025, 1), (2025, 2), (2026, 1), (2026, 2),
    ]  # fmt: skip
    years = dict(Register.objects.filter(kind="incoming").values_list("year", "last_number"))
    assert years == {2025: 2, 2026: 2}


def test_outgoing_numbers_restart_each_year_with_a_leading_zero(office):
    docs = [approved(office, doc_type=doc_type("QD"), text=f"Quyết định {i}") for i in range(3)]
    first = actions.outgoing_issue(
        actor=office.clerk, document=docs[0], issued_on=date(2025, 12, 30)
    )
    second = actions.outgoing_issue(
        actor=office.clerk, document=docs[1], issued_on=date(2025, 12, 31)
    )
    third = actions.outgoing_issue(actor=office.clerk, document=docs[2], issued_on=date(2026, 1, 2))
    assert [d.number_notation for d in (first, second, third)] == [
        "01/QĐ-BGDĐT", "02/QĐ-BGDĐT", "01/QĐ-BGDĐT",
    ]  # fmt: skip
    assert [d.issued_year for d in (first, second, third)] == [2025, 2025, 2026]


def test_a_circular_notation_carries_its_year(office):
    doc = approved(office, doc_type=doc_type("TT"))
    doc = actions.outgoing_issue(actor=office.clerk, document=doc, issued_on=date(2026, 3, 2))
    assert doc.number_notation == "01/2026/TT-BGDĐT"


def test_numbers_keep_date_order(office):
    docs = [approved(office, text=f"Công văn {i}") for i in range(2)]
    actions.outgoing_issue(actor=office.clerk, document=docs[0], issued_on=date(2026, 3, 5))
    with pytest.raises(OfficeError) as exc:
        actions.outgoing_issue(actor=office.clerk, document=docs[1], issued_on=date(2026, 3, 4))
    assert exc.value.code == "issued_before_last" and "05/03/2026" in exc.value.message_vi
    docs[1].refresh_from_db()
    assert docs[1].status == "approved" and docs[1].number is None
    assert Register.objects.get(kind="outgoing", year=2026).last_number == 1


def test_issuing_needs_the_agency_abbreviation(office):
    from vnemis.office.models import OfficeOrganisation

    doc = approved(office)
    OfficeOrganisation.objects.filter(organisation=office.moet).delete()
    with pytest.raises(OfficeError) as exc:
        actions.outgoing_issue(actor=office.clerk, document=doc)
    assert exc.value.code == "no_agency_abbreviation"
    assert not Register.objects.filter(kind="outgoing").exists()


def test_number_and_notation_are_unique_per_organisation_and_year_in_the_database(office):
    doc = actions.outgoing_issue(actor=office.clerk, document=approved(office))
    twin = Document.objects.get(pk=doc.pk)
    twin.pk = None
    twin.register_number = 999  # another register line, same number + notation
    with pytest.raises(IntegrityError), transaction.atomic():
        twin.save()
    twin.notation = "BGDĐT-VP"  # another notation: allowed by this rule, not by the register
    twin.register_number = doc.register_number
    with pytest.raises(IntegrityError), transaction.atomic():
        twin.save()
    # Another organisation may use the same number and notation.
    twin.organisation = office.so_hn
    twin.notation = doc.notation
    twin.register = Register.objects.create(
        organisation=office.so_hn, kind="outgoing", year=doc.issued_year
    )
    twin.save()


def test_an_arrival_number_is_unique_in_its_register(office):
    doc = register_incoming(office, number=1)
    twin = Document.objects.get(pk=doc.pk)
    twin.pk, twin.number = None, 2
    with pytest.raises(IntegrityError), transaction.atomic():
        twin.save()


# -- concurrency (PostgreSQL: real threads and row locks) --------------------------------------


def _run_parallel(count, work):
    barrier = threading.Barrier(count)
    results, errors = [], []

    def one(i):
        from django.db import connection as thread_connection

        try:
            barrier.wait(timeout=30)
            results.append(work(i))
        except Exception as exc:  # collected for the assertion below
            errors.append(exc)
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results, errors


@pytest.mark.postgres
@postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_fifty_parallel_registrations_get_1_to_50(tree, audit_log_flushable):
    assert connection.vendor == "postgresql"
    office = office_setup(tree)

    def work(i):
        return register_incoming(office, number=100 + i).register_number

    numbers, errors = _run_parallel(50, work)
    assert errors == []
    assert sorted(numbers) == list(range(1, 51))
    assert Register.objects.get(kind="incoming").last_number == 50
    stored = sorted(Document.objects.values_list("register_number", flat=True))
    assert stored == list(range(1, 51))


@pytest.mark.postgres
@postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_parallel_issues_and_duplicates_stay_consistent(tree, audit_log_flushable):
    assert connection.vendor == "postgresql"
    office = office_setup(tree)
    drafts = [approved(office, doc_type=doc_type("QD"), text=f"QĐ {i}") for i in range(20)]

    def issue(i):
        return actions.outgoing_issue(actor=office.clerk, document=drafts[i]).number

    numbers, errors = _run_parallel(20, issue)
    assert errors == []
    assert sorted(numbers) == list(range(1, 21))

    # Ten clerks register the same incoming document at once: one wins, nine are told why.
    def same(i):
        return register_incoming(office, number=777).register_number

    won, refused = _run_parallel(10, same)
    assert len(won) == 1 and len(refused) == 9
    assert [getattr(e, "code", repr(e)) for e in refused] == ["duplicate_incoming"] * 9
    assert Register.objects.get(kind="incoming").last_number == 1


# -- pages and export --------------------------------------------------------------------------


def test_the_register_pages_list_entries_in_number_order(client, office):
    incoming = [register_incoming(office, number=n, text=None) for n in (5, 6)]
    workflow.assignment_create(actor=office.leader, document=incoming[0], unit=office.moet_gdth)
    client.force_login(office.clerk)
    year = timezone.localdate().year
    page = client.get(f"/office/registers/incoming/{year}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Sổ văn bản đến" in html and "Số đến" in html and "Tác giả" in html
    assert html.index("05/QĐ-UBND") < html.index("06/QĐ-UBND")
    assert "Vụ Giáo dục Tiểu học" in html  # the receiving unit
    doc = actions.outgoing_issue(actor=office.clerk, document=approved(office))
    page = client.get(f"/office/registers/outgoing/{year}/")
    html = page.content.decode()
    assert doc.number_notation in html and "Nơi nhận văn bản" in html
    assert "Sở GD&amp;ĐT Hà Nội" in html
    assert client.get("/office/registers/outgoing/").status_code == 302
    assert client.get(f"/office/registers/secret/{year}/").status_code == 404


def test_only_clerks_and_leaders_read_registers(client, office):
    register_incoming(office)
    year = timezone.localdate().year
    client.force_login(office.staff)
    assert client.get(f"/office/registers/incoming/{year}/").status_code == 403
    assert client.get(f"/office/registers/incoming/{year}.xlsx").status_code == 403
    client.force_login(office.so_clerk)  # another organisation's register is its own
    page = client.get(f"/office/registers/incoming/{year}/")
    assert page.status_code == 200 and "QĐ-UBND" not in page.content.decode()


def test_the_register_exports_to_xlsx(client, office):
    from python_calamine import CalamineWorkbook

    for n in range(1, 4):
        register_incoming(office, number=n, priority=1 if n == 2 else 0)
    register_incoming(office, number=9, actor=office.so_clerk, organisation=office.so_hn)
    client.force_login(office.leader)
    year = timezone.localdate().year
    response = client.get(f"/office/registers/incoming/{year}.xlsx")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert f"so-van-ban-den-{year}.xlsx" in response["Content-Disposition"]
    rows = (
        CalamineWorkbook.from_filelike(io.BytesIO(response.content))
        .get_sheet_by_index(0)
        .to_python()
    )
    assert "Sổ văn bản đến" in rows[0][0] and "Bộ Giáo dục và Đào tạo" in rows[0][0]
    assert rows[2][:4] == ["Ngày đến", "Số đến", "Tác giả", "Số, ký hiệu"]
    body = rows[3:]
    assert [r[1] for r in body] == ["01", "02", "03"]  # the other organisation's entry is not here
    assert [r[3] for r in body] == ["01/QĐ-UBND", "02/QĐ-UBND", "03/QĐ-UBND"]
    assert body[0][2] == "Ủy ban nhân dân Thành phố Hà Nội"
    assert body[0][5].startswith("Quyết định: Quyết định về việc phê duyệt")
    assert body[1][8] == "Khẩn"
    issued = (timezone.localdate() - timedelta(days=2)).strftime("%d/%m/%Y")
    assert body[0][4] == issued


def test_the_outgoing_register_exports_its_columns(client, office):
    from python_calamine import CalamineWorkbook

    doc = actions.outgoing_issue(actor=office.clerk, document=approved(office, copies=3))
    client.force_login(office.clerk)
    response = client.get(f"/office/registers/outgoing/{doc.issued_year}.xlsx")
    rows = (
        CalamineWorkbook.from_filelike(io.BytesIO(response.content))
        .get_sheet_by_index(0)
        .to_python()
    )
    header, line = rows[2], rows[3]
    assert header[0] == "Số, ký hiệu văn bản" and header[4] == "Nơi nhận văn bản"
    assert line[0] == "01/BGDĐT-GDTH"
    assert line[3] == "KT. BỘ TRƯỞNG, Phạm Ngọc Thưởng"
    assert line[4] == "Sở GD&ĐT Hà Nội; Sở GD&ĐT Đà Nẵng; Văn phòng Chính phủ"
    assert line[5] == "Vụ Giáo dục Tiểu học" and line[6] == 3


def test_attachments_too_large_register_nothing_through_the_page(client, office, settings):
    from .test_documents_support import pdf_bytes

    settings.VNEMIS_OFFICE_MAX_FILE_BYTES = 3000
    client.force_login(office.clerk)
    data = pdf_bytes("Quyết định rất dài", pages=6)
    upload = io.BytesIO(data)
    upload.name = "qd.pdf"
    response = client.post(
        "/office/documents/new/incoming/",
        {
            "doc_type": doc_type("QD").pk, "number_notation": "12/QĐ-UBND",
            "issued_on": timezone.localdate().isoformat(), "issuer_name": "UBND Hà Nội",
            "subject": "Quyết định", "priority": 0, "confidentiality": 0, "channel": "paper",
            "main_file": upload,
        },
    )  # fmt: skip
    assert response.status_code == 400
    assert "vượt quá giới hạn" in response.content.decode()
    assert not Document.objects.exists() and not Register.objects.filter(last_number__gt=0).exists()
