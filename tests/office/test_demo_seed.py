"""The demo e-office (``office_demo_seed``, ``vnemis office demo``): both offices and their members,
credentials that really sign, the two organisations as each other's exchange partners on one
server, documents at every stage, and a rerun that makes nothing twice."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from vnemis.office import actions, actions_signing, exchange, workflow
from vnemis.office.actions_errors import OfficeError
from vnemis.office.actions_files import pdf_check
from vnemis.office.demo import office_demo_seed
from vnemis.office.models import (
    Assignment,
    Blob,
    Document,
    DocumentType,
    OfficeMember,
    OfficeOrganisation,
    OfficeUnit,
    Submission,
    WorkflowStep,
)
from vnemis.office.models_exchange import ExchangePartner, OutboxMessage
from vnemis.office.models_signing import AttachmentSignatures, SigningCredential
from vnemis.office.search import documents_search
from vnemis.orgs.models import User

from .helpers import issue
from .test_documents_support import document_types_ensure, pdf_bytes

PASSWORD = "vnemis-demo"
BASE = "http://127.0.0.1:8000"
NEW = ["bo_lanhdao", "bo_vanthu", "bo_chuyenvien", "so_vanthu", "so_chuyenvien"]


@pytest.fixture
def demo(tree, settings, tmp_path):
    """The demo's own log-ins (as ``vnemis demo`` makes them), a var directory of the test's
    own, and the demo CA trusted, so every signature the seed makes is fully validated."""
    document_types_ensure()
    settings.VAR_DIR = tmp_path
    settings.VNEMIS_OFFICE_TRUSTED_CA_FILES = [str(tmp_path / "office-demo-ca" / "ca.pem")]
    for username, role, scope, name in (
        ("bo", User.Role.MINISTRY, tree["moet"], "Lê Thu Hà"),
        ("so", User.Role.DEPARTMENT, tree["so_hn"], "Nguyễn Thị Lan"),
    ):
        user = User.objects.create(username=username, role=role, scope=scope, first_name=name)
        user.set_password(PASSWORD)
        user.save()
    return tree


def seed(**kwargs):
    fields = {
        "ministry_user": "bo",
        "department_user": "so",
        "password": PASSWORD,
        "base_url": BASE,
    }
    return office_demo_seed(**{**fields, **kwargs})


def member(username: str) -> OfficeMember:
    return OfficeMember.objects.select_related("unit").get(user__username=username)


def counts() -> dict:
    models = [User, OfficeMember, OfficeUnit, OfficeOrganisation, SigningCredential,
              ExchangePartner, Document, Assignment, Submission, WorkflowStep, Blob,
              OutboxMessage]  # fmt: skip
    return {m.__name__: m.objects.count() for m in models}


def test_seed_sets_up_both_offices_members_credentials_and_partners(demo, tmp_path):
    summary = seed()
    moet, so_hn = demo["moet"], demo["so_hn"]
    office = OfficeOrganisation.objects.get(organisation=moet)
    assert (office.abbreviation, office.place, office.organ_id) == (
        "BGDĐT", "Hà Nội", "000.00.00.G09",
    )  # fmt: skip
    dept = OfficeOrganisation.objects.get(organisation=so_hn)
    assert (dept.abbreviation, dept.place) == ("SGDĐT", "Hà Nội")  # "Thành phố" dropped
    parts = dept.organ_id.split(".")
    assert len(dept.organ_id) == 13 and [len(p) for p in parts] == [3, 2, 2, 3]
    assert dept.organ_id != office.organ_id
    units = lambda org: dict(  # noqa: E731
        OfficeUnit.objects.filter(organisation=org).values_list("abbreviation", "name")
    )
    assert units(moet) == {
        "VP": "Văn phòng", "GDTrH": "Vụ Giáo dục Trung học", "GDTH": "Vụ Giáo dục Tiểu học",
    }  # fmt: skip
    assert units(so_hn) == {"VP": "Văn phòng", "GDTrH": "Phòng Giáo dục Trung học"}

    flags = lambda m: (m.organisation_id, m.is_leader, m.is_clerk, m.unit and m.unit.abbreviation)  # noqa: E731
    assert flags(member("bo")) == (moet.pk, True, True, "VP")
    assert flags(member("so")) == (so_hn.pk, True, True, "VP")
    assert flags(member("bo_lanhdao")) == (moet.pk, True, False, None)
    assert member("bo_lanhdao").position == "Thứ trưởng"
    assert flags(member("bo_vanthu")) == (moet.pk, False, True, "VP")
    assert flags(member("bo_chuyenvien")) == (moet.pk, False, False, "GDTrH")
    assert flags(member("so_vanthu")) == (so_hn.pk, False, True, "VP")
    assert flags(member("so_chuyenvien")) == (so_hn.pk, False, False, "GDTrH")
    assert summary["users_created"] == NEW
    for username in NEW:
        user = User.objects.get(username=username)
        side = "bo" if username.startswith("bo_") else "so"
        like = User.objects.get(username=side)
        assert (user.role, user.scope_id) == (like.role, like.scope_id)
        assert user.check_password(PASSWORD) and " " in user.get_full_name()

    seals = SigningCredential.objects.filter(kind="seal", active=True)
    assert {(c.organisation_id, c.user.username) for c in seals} == {
        (moet.pk, "bo_vanthu"), (so_hn.pk, "so_vanthu"),
    }  # fmt: skip
    personal = SigningCredential.objects.filter(kind="personal", active=True)
    assert {c.user.username for c in personal} == {"bo", "bo_lanhdao"}
    assert all(c.password_encrypted is None for c in personal)  # typed at each signature
    ca_pem = (tmp_path / "office-demo-ca" / "ca.pem").read_text()
    assert len({c.issuer for c in [*seals, *personal]}) == 1

    partners = {(p.organisation_id, p.organ_id): p for p in ExchangePartner.objects.all()}
    assert set(partners) == {(moet.pk, dept.organ_id), (so_hn.pk, office.organ_id)}
    for partner in partners.values():
        assert partner.inbox_url == f"{BASE}/office/edxml/inbox/" and partner.active
        assert partner.trusted_ca_pem == ca_pem
        assert partner.status_endpoint == f"{BASE}/office/edxml/status/"


def test_seed_makes_documents_at_every_stage(demo):
    summary = seed()
    moet, so_hn = demo["moet"], demo["so_hn"]
    today = timezone.localdate()
    incoming = list(Document.objects.filter(organisation=moet, direction="incoming").order_by("pk"))
    assert [d.status for d in incoming] == ["assigned", "assigned", "registered"]
    assert [d.register_number for d in incoming] == [1, 2, 3]  # arrival order, no gap
    assert all(d.created_by.username == "bo_vanthu" for d in incoming)
    assert {d.issuer_name for d in incoming} >= {"Bộ Tài chính", "Văn phòng Chính phủ"}
    assert incoming[0].arrived_at < incoming[1].arrived_at <= incoming[2].arrived_at
    for doc in incoming:  # a real PDF whose Vietnamese text was extracted for the search
        main = doc.versions.get().files.get(is_main=True)
        assert bytes(main.blob.data).startswith(b"%PDF-")
    found, _next, _words = documents_search(
        viewer=User.objects.get(username="bo_vanthu"), q="lop 10 tuyen"
    )
    assert incoming[0].pk in {d.pk for d in found}

    first, second = (d.assignments.get() for d in incoming[:2])
    assert (
        first.assignee_unit.abbreviation == "GDTrH" and first.assigned_by.username == "bo_lanhdao"
    )
    assert first.deadline == today + timedelta(days=5) and first.role == "main"
    assert second.assignee_user.username == "bo_chuyenvien" and second.deadline == today

    pending = Submission.objects.get(status="pending")
    assert pending.leader.username == "bo_lanhdao"
    assert pending.submitted_by.username == "bo_chuyenvien"
    assert pending.document.status == "submitted"

    issued = Document.objects.get(organisation=moet, status="issued")
    assert issued.number_notation == "01/BGDĐT-GDTrH"
    assert issued.signer_competence == "KT. BỘ TRƯỞNG" and issued.signer_position == "Thứ trưởng"
    assert [(r.organisation_id, r.organ_id) for r in issued.recipients.all()] == [
        (so_hn.pk, OfficeOrganisation.objects.get(pk=so_hn.pk).organ_id)
    ]
    approved = issued.submissions.get()
    assert approved.status == "approved" and approved.signed_version.signed
    last = issued.versions.order_by("-number").first()
    assert last.signed and WorkflowStep.objects.filter(document=issued, detail__seal=True).exists()
    check = AttachmentSignatures.objects.get(attachment=last.files.get(is_main=True))
    assert check.all_valid and len(check.results) == 2  # the leader's, then the seal
    assert not OutboxMessage.objects.exists()  # not sent: that is for the page, server running
    assert summary["send_url"] == f"{BASE}/office/documents/{issued.pk}/"
    assert {d["status"] for d in summary["documents"]} == {
        "assigned", "registered", "submitted", "issued",
    }  # fmt: skip
    assert not Document.objects.filter(organisation=so_hn).exists()


def test_the_demo_credentials_sign_with_the_demo_password(demo):
    seed()
    lanhdao, bo = User.objects.get(username="bo_lanhdao"), User.objects.get(username="bo")
    pending = Submission.objects.get(status="pending")
    with pytest.raises(OfficeError) as refused:
        actions_signing.submission_sign_and_approve(
            actor=lanhdao, submission=pending, password="sai-mat-khau"
        )
    assert refused.value.code == "p12_password"
    pending.refresh_from_db()
    assert pending.status == "pending" and pending.document.status == "submitted"

    version = actions_signing.submission_sign_and_approve(
        actor=lanhdao, submission=pending, password=PASSWORD
    )  # the full check: valid against the demo CA and the leader's own certificate
    pending.refresh_from_db()
    assert pending.status == "approved" and version.signed

    # The demo log-in "bo" signs too, on a draft put to them.
    draft = actions.outgoing_draft_create(
        actor=User.objects.get(username="bo_chuyenvien"),
        doc_type=DocumentType.objects.get(code="CV"),
        subject="V/v thử ký số bằng tài khoản bo",
        main=pdf_check(name="thu.pdf", data=pdf_bytes("Công văn thử ký số")),
    )
    submission = workflow.submission_create(
        actor=User.objects.get(username="bo_chuyenvien"), document=draft, leader=bo
    )
    actions_signing.submission_sign_and_approve(actor=bo, submission=submission, password=PASSWORD)
    assert Document.objects.get(pk=draft.pk).status == "approved"


def test_the_issued_letter_goes_to_the_department_on_the_same_server(demo):
    seed()
    issued = Document.objects.get(organisation=demo["moet"], status="issued")
    clerk = User.objects.get(username="bo_vanthu")
    (row,) = exchange.document_send(actor=clerk, document=issued)  # signed with the seal
    answer = exchange.inbox_receive(bytes(row.data))  # what the inbox URL does with the POST
    assert answer.http_status == 200 and answer.code == "03"
    received = Document.objects.get(organisation=demo["so_hn"], direction="incoming")
    assert received.external_id and received.subject == issued.subject
    main = received.versions.get().files.get(is_main=True)
    assert AttachmentSignatures.objects.get(attachment=main).all_valid


def test_a_rerun_makes_nothing_twice_and_refreshes_a_new_ca(demo, tmp_path):
    seed()
    before = counts()
    again = seed()
    assert counts() == before
    assert again["users_created"] == [] and again["credentials_imported"] == []
    assert again["documents"] == [] and again["send_url"] == ""

    # A credential the user imported on the page is theirs: a rerun keeps it.
    from vnemis.office.signing.dev_ca import ca_create

    _loaded, own = issue(ca_create(common_name="CA riêng"), name="Lê Thu Hà", unlock="riêng")
    bo = User.objects.get(username="bo")
    mine = actions_signing.credential_import(actor=bo, p12_bytes=own, password="riêng")
    # The demo CA made anew (its directory removed): the demo's credentials and the partners'
    # trust follow it; the documents stay as they are.
    import shutil

    shutil.rmtree(tmp_path / "office-demo-ca")
    documents = Document.objects.count()
    refreshed = seed()
    assert sorted(refreshed["credentials_imported"]) == [
        "personal:bo_lanhdao", "seal:BGDĐT", "seal:SGDĐT",
    ]  # fmt: skip
    mine.refresh_from_db()
    assert mine.active
    ca_pem = (tmp_path / "office-demo-ca" / "ca.pem").read_text()
    assert set(ExchangePartner.objects.values_list("trusted_ca_pem", flat=True)) == {ca_pem}
    assert ExchangePartner.objects.count() == 2 and Document.objects.count() == documents
    assert SigningCredential.objects.filter(kind="seal", active=True).count() == 2


def test_refusals_change_nothing(demo, tree):
    school_user = User.objects.create(username="truong", role="school", scope=tree["a"])
    for kwargs in (
        {"ministry_user": "khong_co"},
        {"ministry_user": "so"},  # not of the Ministry
        {"department_user": school_user.username},  # a school, not a Department
        {"department_user": "khong_co"},
        {"password": ""},
        {"base_url": "ftp://127.0.0.1"},
        {"base_url": "127.0.0.1:8000"},
    ):
        with pytest.raises(OfficeError) as refused:
            seed(**kwargs)
        assert refused.value.code == "demo_setup" and refused.value.message_vi
    assert not OfficeOrganisation.objects.exists() and not OfficeMember.objects.exists()
    assert not User.objects.filter(username__in=NEW).exists()


def test_the_cli_sub_command(demo):
    def run(*extra):
        out = StringIO()
        call_command(
            "office", "demo", "--ministry-user", "bo", "--department-user", "so",
            "--password", PASSWORD, "--base-url", BASE + "/", *extra, stdout=out,
        )  # fmt: skip
        return out.getvalue()

    text = run()
    assert "BGDĐT" in text and "000.00.00.G09" in text and "bo_lanhdao" in text
    assert "Gửi liên thông" in text and "/office/documents/" in text and "Xong / Done" in text
    assert ExchangePartner.objects.filter(inbox_url=f"{BASE}/office/edxml/inbox/").count() == 2
    assert "giữ nguyên" in run()
    with pytest.raises(CommandError) as refused:
        call_command(
            "office", "demo", "--ministry-user", "khong_co", "--department-user", "so",
            "--password", PASSWORD, stdout=StringIO(),
        )  # fmt: skip
    assert refused.value.returncode == 2 and "khong_co" in str(refused.value)
