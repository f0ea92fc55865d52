"""Full-text search: diacritics-insensitive, over metadata and file text, scoped to the viewer.
Runs on both backends (SQLite FTS5, PostgreSQL tsvector + GIN) with the same expectations."""

import pytest
from django.db import connection

from vnemis.office import actions, workflow
from vnemis.office.models import Blob, DocumentSearch
from vnemis.office.search import documents_search, fold_words

from .test_documents_support import (
    checked,
    doc_type,
    draft_outgoing,
    office_setup,
    register_incoming,
    sign,
)


@pytest.fixture
def office(tree):
    return office_setup(tree)


def found(viewer, q, **kwargs) -> list[int]:
    rows, _next, _words = documents_search(viewer=viewer, q=q, **kwargs)
    return [d.pk for d in rows]


def test_words_are_folded():
    assert fold_words("Số: 05/QĐ-BGDĐT ngày 12/3") == ["so", "05", "qd", "bgddt", "ngay", "12", "3"]
    assert fold_words("Đào tạo  NGHỀ") == ["dao", "tao", "nghe"]


def test_search_ignores_diacritics_and_case(office):
    doc = register_incoming(office, subject="Quyết định phê duyệt Đề án đào tạo giáo viên")
    for q in (
        "quyet dinh",
        "Quyết định",
        "QUYẾT ĐỊNH",
        "quyết  dinh",
        "dao tao",
        "Đào Tạo",
        "đề án",
    ):
        assert found(office.clerk, q) == [doc.pk], q


def test_every_word_must_match_as_a_word_prefix(office):
    doc = register_incoming(office, subject="Kế hoạch tuyển sinh lớp 10 năm học 2026-2027")
    assert found(office.clerk, "tuyen") == [doc.pk]  # a prefix of tuyển
    assert found(office.clerk, "ke hoach tuyen sinh 2026") == [doc.pk]
    assert found(office.clerk, "ke hoach hoc bong") == []
    assert found(office.clerk, "uyen") == []  # not inside a word


def test_search_by_number_notation_and_issuer(office):
    doc = register_incoming(office, number=123, notation="QĐ-UBND")
    other = register_incoming(office, number=45, notation="KH-UBND")
    assert found(office.clerk, "123/QĐ-UBND") == [doc.pk]
    assert found(office.clerk, "qd-ubnd") == [doc.pk]
    assert found(office.clerk, "45/KH") == [other.pk]
    assert set(found(office.clerk, "uy ban nhan dan ha noi")) == {doc.pk, other.pk}
    assert found(office.clerk, "000.00.00.H26")  # the OrganId


def test_search_reads_the_text_of_the_files(office):
    doc = register_incoming(
        office,
        subject="Công văn về việc báo cáo",
        text="Đề nghị các trường tổng hợp danh sách học sinh được nhận học bổng khuyến khích",
    )
    assert found(office.clerk, "hoc bong khuyen khich") == [doc.pk]
    assert found(office.clerk, "Học bổng") == [doc.pk]


def test_only_the_current_files_are_searched(office):
    draft = draft_outgoing(office, text="Nội dung cũ về tuyển dụng")
    assert found(office.staff, "tuyen dung") == [draft.pk]
    actions.document_version_add(
        actor=office.staff, document=draft, main=checked("Nội dung mới về khen thưởng")
    )
    assert found(office.staff, "tuyen dung") == []
    assert found(office.staff, "khen thuong") == [draft.pk]


def test_results_are_scoped_to_the_viewers_organisation(office):
    mine = register_incoming(office, subject="Quyết định khen thưởng giáo viên")
    theirs = register_incoming(
        office,
        actor=office.so_clerk,
        organisation=office.so_hn,
        subject="Quyết định khen thưởng học sinh",
    )
    assert found(office.clerk, "khen thuong") == [mine.pk]
    assert found(office.so_staff, "khen thuong") == [theirs.pk]
    assert found(office.outsider, "khen thuong") == []


def test_issued_documents_are_found_by_their_recipients(office):
    draft = draft_outgoing(office, subject="Hướng dẫn nhiệm vụ giáo dục tiểu học")
    assert found(office.so_staff, "nhiem vu giao duc") == []  # a draft stays inside
    submission = workflow.submission_create(
        actor=office.staff, document=draft, leader=office.leader
    )
    main = draft.versions.get().files.get(is_main=True)
    workflow.approve_by_signing(
        actor=office.leader,
        submission=submission,
        signed_pdf=sign(bytes(Blob.objects.get(pk=main.blob_id).data)),
    )
    actions.outgoing_issue(actor=office.clerk, document=draft)
    assert found(office.so_staff, "nhiem vu giao duc") == [draft.pk]  # Hanoi is a recipient
    assert found(office.so_staff, "01/BGDĐT-GDTH") == [draft.pk]
    assert found(office.outsider, "nhiem vu giao duc") == [draft.pk]  # so is Da Nang
    # A document addressed to an outside agency only is not seen by other organisations.
    other = draft_outgoing(
        office,
        subject="Báo cáo gửi Văn phòng Chính phủ",
        recipients=actions.recipients_parse("Văn phòng Chính phủ"),
    )
    assert found(office.so_staff, "bao cao van phong") == []
    assert found(office.staff, "bao cao van phong") == [other.pk]


def test_filters_and_empty_queries(office):
    incoming = register_incoming(office, subject="Kế hoạch kiểm tra")
    outgoing = draft_outgoing(office, subject="Kế hoạch kiểm tra nội bộ", direction="internal")
    assert set(found(office.leader, "ke hoach kiem tra")) == {incoming.pk, outgoing.pk}
    assert found(office.leader, "ke hoach kiem tra", direction="incoming") == [incoming.pk]
    assert found(office.leader, "ke hoach kiem tra", year=incoming.issued_year) == [incoming.pk]
    assert found(office.leader, "") == []
    assert found(office.leader, " .,;/ ") == []


@pytest.mark.parametrize(
    "q", ['"quyet', "quyet OR *", "NEAR(a b)", "a:* & !b", "'; DROP TABLE x; --", "quyet*"]
)
def test_query_syntax_of_the_backends_is_not_exposed(office, q):
    doc = register_incoming(office, subject="Quyết định về việc a")
    result = found(office.clerk, q)  # never an error
    assert result in ([], [doc.pk])


def test_search_rows_follow_the_document(office):
    doc = register_incoming(office, subject="Thông báo lịch thi")
    row = DocumentSearch.objects.get(document=doc)
    assert "thong bao lich thi" in row.body and "123" in row.body.split()
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT rowid FROM office_document_fts WHERE office_document_fts MATCH 'lich'"
            )
            assert [r[0] for r in cursor.fetchall()] == [doc.pk]
    else:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'office_docsearch_tsv'"
            )
            assert "gin" in cursor.fetchone()[0].lower()
    draft = draft_outgoing(office, subject="Lịch công tác")
    actions.draft_update(actor=office.staff, document=draft, subject="Chương trình công tác")
    assert found(office.staff, "lich cong tac") == []
    assert found(office.staff, "chuong trinh cong tac") == [draft.pk]


def test_a_long_text_is_bounded(office, settings):
    settings.VNEMIS_OFFICE_TEXT_MAX_CHARS = 50
    doc = register_incoming(office, subject="Ngắn", text="Mở đầu " + "rất dài " * 100 + "kết thúc")
    assert found(office.clerk, "mo dau") == [doc.pk]
    assert found(office.clerk, "ket thuc") == []
    assert doc_type("QD").name == "Quyết định"
