"""Two real vnemis instances exchanging documents over HTTP.

This test process is the Ministry (000.00.00.G09, the live server on the test database); the
other instance is the Da Nang Department (000.00.02.H48): a granian server process of its own
with its own database (a PostgreSQL database of its own when the suite runs on PostgreSQL,
else a SQLite file) and var directory, migrated and seeded (its organisation, clerk,
leader, seal from another CA, and the Ministry as partner) before it starts."""

import os

import httpx
import pytest
from django.utils import timezone

from vnemis.office import exchange
from vnemis.office.edxml import message_build, status_parse
from vnemis.office.exchange_instance import (
    Instance,
    postgres_database_drop,
    postgres_database_fresh,
)
from vnemis.office.models_exchange import ExchangePartner, ExchangeStatus, OutboxMessage

from .test_documents_support import office_setup
from .test_exchange import PASSWORD, _free_port, _seal, issued

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("audit_log_flushable"),
]

B_ORGAN = "000.00.02.H48"
B_NAME = "Sở GD&ĐT Đà Nẵng (máy chủ B)"


@pytest.fixture(scope="module")
def other(tmp_path_factory, other_ca):
    """Instance B, migrated once for the module (seeded per test below): on a PostgreSQL
    database of its own when the suite runs on PostgreSQL, else on its SQLite file."""
    directory = tmp_path_factory.mktemp("instance-b")
    ours = os.environ.get("DATABASE_URL", "")
    database_url = ""
    if ours.startswith(("postgres://", "postgresql://")):
        database_url = postgres_database_fresh(
            ours.rsplit("/", 1)[0], f"vnemis_instance_b_{os.getpid()}"
        )
    instance = Instance(directory, _free_port(), database_url=database_url)
    try:
        instance.migrate()
        _issued, p12 = _seal(other_ca, B_NAME)
        (directory / "seal.p12").write_bytes(p12)
        instance.seeded = False
        yield instance
    finally:
        instance.stop()
        if database_url:
            postgres_database_drop(database_url)


def test_the_other_instance_runs_on_the_suites_kind_of_database(other):
    if os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        name = other.database_url.rsplit("/", 1)[1]
        assert other.query("SELECT current_database()") == [(name,)]
    else:
        assert not other.database_url and other.database.is_file()
    assert other.query("SELECT COUNT(*) FROM django_migrations")[0][0] > 0  # migrated


@pytest.fixture
def pair(tree, ca, other_ca, other, live_server):
    office = office_setup(tree)
    from vnemis.office import actions_signing

    _issued, moet_p12 = _seal(ca, "Bộ Giáo dục và Đào tạo")
    actions_signing.credential_import(
        actor=office.clerk, p12_bytes=moet_p12, password=PASSWORD, kind="seal"
    )
    partner = ExchangePartner.objects.create(
        organisation=office.moet,
        organ_id=B_ORGAN,
        name=B_NAME,
        inbox_url=f"{other.url}/office/edxml/inbox/",
        trusted_ca_pem=other_ca.certificate_pem().decode(),
    )
    # B's partner (us) points at this test's live server, whose port changes per test.
    me = {
        "organ_id": "000.00.00.G09",
        "name": "Bộ Giáo dục và Đào tạo",
        "inbox_url": f"{live_server.url}/office/edxml/inbox/",
        "trusted_ca_pem": ca.certificate_pem().decode(),
    }
    other.stop()
    if not other.seeded:
        other.command(
            "seed",
            {
                "code": "SGD48",
                "name": B_NAME,
                "organ_id": B_ORGAN,
                "abbreviation": "SGDĐT",
                "p12_path": str(other.directory / "seal.p12"),
                "password": PASSWORD,
                "partners": [me],
            },
        )
        other.seeded = True
    else:
        other.query(
            "UPDATE office_exchangepartner SET inbox_url = ? WHERE organ_id = ?",
            (me["inbox_url"], me["organ_id"]),
        )
    other.start()
    return office, partner, other


def document_for_b(office, *, skip: int = 0):
    """An issued document addressed to B. B's database outlives this test's (flushed) one, so
    a later test skips the numbers an earlier one sent: a DocumentId B has seen with other
    content would be refused as a conflicting duplicate."""
    for _ in range(skip):
        issued(office)
    document = issued(office, subject=f"Công văn gửi máy chủ B {timezone.now():%H%M%S%f}")
    document.recipients.create(name=B_NAME, organ_id=B_ORGAN, position=9)
    return document


def registered_in_b(other, external_id) -> int:
    return other.query(
        "SELECT COUNT(*) FROM office_document WHERE external_id = ? AND direction = 'incoming'",
        (external_id,),
    )[0][0]


def test_send_register_status_back_assign_replay_tamper_and_wrong_recipient(pair, client):
    office, _partner, other = pair
    document = document_for_b(office)
    [row] = exchange.document_send(actor=office.clerk, document=document)
    row.refresh_from_db()
    assert row.state == "acknowledged", row.last_error
    assert registered_in_b(other, row.edxml_id) == 1
    assert [s.status_code for s in row.statuses.all()] == ["03"]

    # B's leader assigns it (in B's own process): 04 comes back here
    other.command("assign", {"external_id": row.edxml_id, "leader": "sgd48_lanhdao"})
    assert ExchangeStatus.objects.filter(outbox=row, status_code="04").exists()
    client.force_login(office.clerk)
    page = client.get(f"/office/documents/{document.pk}/").content.decode()
    assert 'data-code="03"' in page and 'data-code="04"' in page

    # a replay of the same bytes: answered as already received, not registered again
    inbox = f"{other.url}/office/edxml/inbox/"
    again = httpx.post(inbox, content=bytes(row.data), timeout=30)
    assert (
        again.status_code == 200 and "không vào sổ lại" in status_parse(again.content).description
    )
    assert registered_in_b(other, row.edxml_id) == 1

    # tampered: refused with 02
    data = bytes(row.data)
    tampered = data.replace(document.subject.encode(), "Nội dung bị sửa".encode(), 1)
    refused = httpx.post(inbox, content=tampered, timeout=30)
    assert (
        refused.status_code == 400 and refused.headers["X-Edxml-Error"] == "edxml_signature_invalid"
    )
    assert status_parse(refused.content).status_code == "02"

    # addressed to someone else: refused
    elsewhere = ExchangePartner(organ_id="000.00.99.Z99", name="Nơi khác")
    wrong = exchange._sign(
        message_build(exchange.message_for(document, [elsewhere])), office.moet.pk
    )
    refused = httpx.post(inbox, content=wrong, timeout=30)
    assert (
        refused.status_code == 403
        and refused.headers["X-Edxml-Error"] == "exchange_wrong_recipient"
    )
    assert other.query("SELECT COUNT(*) FROM office_document")[0][0] == 1


def test_the_receiver_down_is_retried_later_and_delivered_once(pair):
    office, _partner, other = pair
    document = document_for_b(office, skip=1)
    other.stop()
    [row] = exchange.document_send(actor=office.clerk, document=document)
    row.refresh_from_db()
    assert row.state == "queued" and row.attempts == 1 and row.last_error
    other.start()
    later = timezone.now() + timezone.timedelta(hours=1)
    assert exchange.outbox_due_deliver(now=later) == {"acknowledged": 1}
    assert exchange.outbox_due_deliver(now=later) == {}
    assert registered_in_b(other, row.edxml_id) == 1
    assert OutboxMessage.objects.get(pk=row.pk).attempts == 2
