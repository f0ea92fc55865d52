"""The pages of the exchange partners: a leader adds, edits, stops and restarts a partner; the
list shows each one's CA and message counts in one query; every malformed field is refused with
its own message and nothing saved; members who are not leaders only look; another
organisation's partner is a 404; and what the pages save is what the exchange then uses."""

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from django.urls import reverse
from django.utils import timezone

from vnemis.core.models import AuditEntry
from vnemis.office import actions_partners, exchange
from vnemis.office.actions_errors import OfficeError
from vnemis.office.models_exchange import ExchangePartner, InboxMessage, OutboxMessage
from vnemis.office.signing.dev_ca import ca_create, certificate_issue

from .test_documents_support import office_setup
from .test_exchange import issued, post, received, signed_message

LIST = reverse("office:partners")
NEW = reverse("office:partner_new")


@pytest.fixture
def office(tree):
    return office_setup(tree)


def form_data(ca, **changes):
    data = {
        "name": "Văn phòng Chính phủ",
        "organ_id": "000.00.00.G22",
        "inbox_url": "https://vpdt.chinhphu.example.vn/office/edxml/inbox/",
        "status_url": "",
        "trusted_ca_pem": ca.certificate_pem().decode(),
        "certificate_fingerprint": "",
    }
    data.update(changes)
    return data


def upload(data: bytes, name: str = "ca.pem"):
    f = io.BytesIO(data)
    f.name = name
    return f


def text(response) -> str:
    return response.content.decode()


def edit_url(partner) -> str:
    return reverse("office:partner_edit", args=[partner.pk])


def active_url(partner) -> str:
    return reverse("office:partner_active", args=[partner.pk])


def row_cells(page: str, partner) -> list[str]:
    row = re.search(rf'<tr id="partner-{partner.pk}">(.*?)</tr>', page, re.S).group(1)
    return [
        re.sub(r"<[^>]+>", " ", c).split() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    ]


# -- a leader manages the partners -------------------------------------------------------------


@pytest.mark.django_db
def test_a_leader_adds_a_partner_and_its_fields_are_stored_normalised(client, office, ca):
    client.force_login(office.leader)
    fingerprint = ":".join(f"{b:02X}" for b in bytes(range(32)))  # as certificate viewers show it
    pem = b"Bag Attributes\n  friendlyName: CA\n" + ca.certificate_pem()  # openssl's export
    response = client.post(
        NEW,
        form_data(
            ca, organ_id=" 000.00.00.g22 ", trusted_ca_pem=pem.decode(),
            certificate_fingerprint=fingerprint,
        ),
    )  # fmt: skip
    assert response.status_code == 302 and response["Location"] == LIST
    partner = ExchangePartner.objects.get(organisation=office.moet)
    assert partner.organ_id == "000.00.00.G22" and partner.name == "Văn phòng Chính phủ"
    assert partner.active and partner.status_url == ""
    assert partner.certificate_fingerprint == bytes(range(32)).hex()
    assert partner.trusted_ca_pem == ca.certificate_pem().decode()  # the certificate only
    entry = AuditEntry.objects.get(object_type="exchange_partner", object_id=str(partner.pk))
    assert entry.action == "create" and entry.actor_id == office.leader.pk
    assert entry.detail["organ_id"] == "000.00.00.G22"
    page = text(client.get(LIST))
    assert "Văn phòng Chính phủ" in page and "000.00.00.G22" in page
    assert "vnemis Development Root CA" in page  # the CA's subject
    expiry = timezone.localtime(ca.certificate.not_valid_after_utc)  # shown in Vietnam's time
    assert expiry.strftime("%d/%m/%Y") in page  # and its expiry


@pytest.mark.django_db
def test_the_ca_may_be_uploaded_as_a_pem_or_der_file(client, office, ca, other_ca):
    client.force_login(office.leader)
    response = client.post(
        NEW, form_data(ca, trusted_ca_pem="", trusted_ca_file=upload(ca.certificate_pem()))
    )
    assert response.status_code == 302
    der = other_ca.certificate.public_bytes(serialization.Encoding.DER)
    response = client.post(
        NEW,
        form_data(
            ca, organ_id="000.00.00.G01", trusted_ca_pem="",
            trusted_ca_file=upload(der, "ca.cer"),
        ),
    )  # fmt: skip
    assert response.status_code == 302
    stored = dict(
        ExchangePartner.objects.filter(organisation=office.moet).values_list(
            "organ_id", "trusted_ca_pem"
        )
    )
    assert stored == {
        "000.00.00.G22": ca.certificate_pem().decode(),
        "000.00.00.G01": other_ca.certificate_pem().decode(),
    }


@pytest.mark.django_db
def test_a_leader_edits_stops_and_restarts_a_partner(client, office, ca, other_ca):
    partner = actions_partners.partner_save(
        actor=office.leader, organisation=office.moet, **_fields(ca)
    )
    client.force_login(office.leader)
    page = text(client.get(edit_url(partner)))
    assert 'value="000.00.00.G22"' in page and "BEGIN CERTIFICATE" in page
    response = client.post(
        edit_url(partner),
        form_data(
            other_ca, name="Văn phòng Chính phủ (trục mới)",
            inbox_url="http://10.0.0.5:8080/edxml/inbox/",
            status_url="http://10.0.0.5:8080/edxml/status/",
        ),
    )  # fmt: skip
    assert response.status_code == 302
    partner.refresh_from_db()
    assert partner.name == "Văn phòng Chính phủ (trục mới)"
    assert partner.status_endpoint == "http://10.0.0.5:8080/edxml/status/"
    assert partner.trusted_ca_pem == other_ca.certificate_pem().decode()
    assert ExchangePartner.objects.count() == 1  # edited, not added
    update = AuditEntry.objects.filter(object_type="exchange_partner", action="update").get()
    assert set(update.detail["fields"]) == {"name", "inbox_url", "status_url", "trusted_ca_pem"}

    assert client.post(active_url(partner), {"active": "0"}).status_code == 302
    partner.refresh_from_db()
    assert not partner.active
    page = text(client.get(LIST))
    assert " ".join(row_cells(page, partner)[6]) == "tạm dừng"
    assert client.post(active_url(partner), {"active": "1"}).status_code == 302
    partner.refresh_from_db()
    assert partner.active
    assert AuditEntry.objects.filter(object_type="exchange_partner").count() == 4
    assert client.get(active_url(partner)).status_code == 405


def _fields(ca, **changes):
    return {k: v for k, v in form_data(ca, **changes).items() if k != "trusted_ca_file"}


@pytest.mark.django_db
def test_the_list_counts_documents_sent_to_and_received_from_each_partner_in_one_query(
    client, setup, django_assert_num_queries, ca
):
    office = setup["office"]
    data, _ = signed_message(setup)  # the Ministry → the Department, through the inbox
    assert post(client, data).status_code == 200
    assert InboxMessage.objects.get().partner == setup["at_so"]
    document = issued(office)
    [sent] = exchange.document_send(actor=office.clerk, document=document)
    assert sent.partner == setup["at_moet"]
    # a status report is not a document sent
    OutboxMessage.objects.create(
        kind="status", organisation=office.moet, document=document, partner=setup["at_moet"],
        edxml_id="x", status_code="04", data=b"",
    )  # fmt: skip
    quiet = actions_partners.partner_save(
        actor=None, organisation=office.moet, **_fields(ca, name="Văn phòng Chính phủ")
    )
    with django_assert_num_queries(1):
        rows = {
            p.pk: (p.sent_count, p.received_count)
            for p in actions_partners.partners_of(office.moet.pk)
        }
    assert rows == {setup["at_moet"].pk: (1, 0), quiet.pk: (0, 0)}

    client.force_login(office.leader)
    page = text(client.get(LIST))
    assert row_cells(page, setup["at_moet"])[4:6] == [["1"], ["0"]]
    assert row_cells(page, quiet)[4:6] == [["0"], ["0"]]
    assert f'id="partner-{setup["at_so"].pk}"' not in page  # the Department's own partner
    client.force_login(office.so_leader)
    page = text(client.get(LIST))
    assert row_cells(page, setup["at_so"])[4:6] == [["0"], ["1"]]
    assert "Some Other Root CA" not in page and "vnemis Development Root CA" in page


# -- refusals ----------------------------------------------------------------------------------


def _not_ca(ca) -> str:
    return certificate_issue(ca=ca, name="Văn phòng Chính phủ").certificate_pem().decode()


def _expired_ca() -> str:
    past = datetime.now(UTC) - timedelta(days=30)
    return (
        ca_create(common_name="CA đã hết hạn", now=past, valid_days=10).certificate_pem().decode()
    )


REFUSALS = [
    ({"organ_id": "G22"}, "organ_id", "không đúng dạng mã định danh"),
    ({"organ_id": "000.00.00.G2"}, "organ_id", "không đúng dạng mã định danh"),
    ({"organ_id": "000,00.00.G22"}, "organ_id", "không đúng dạng mã định danh"),
    ({"organ_id": "000.00.00.G09"}, "organ_id", "chính cơ quan mình"),  # the Ministry's own
    ({"inbox_url": "ftp://vpdt.example.vn/inbox/"}, "inbox_url", "http:// hoặc https://"),
    ({"inbox_url": "javascript:alert(1)"}, "inbox_url", "http:// hoặc https://"),
    ({"inbox_url": ""}, "inbox_url", ""),
    ({"status_url": "file:///etc/passwd"}, "status_url", "http:// hoặc https://"),
    ({"name": "X"}, "name", "từ 2 đến 255 ký tự"),
    ({"trusted_ca_pem": "xin chào"}, "trusted_ca_pem", "Không đọc được chứng thư CA"),
    (
        {"trusted_ca_pem": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"},
        "trusted_ca_pem",
        "Không đọc được chứng thư CA",
    ),
    ({"trusted_ca_pem": ""}, "trusted_ca_pem", "Hãy dán chứng thư CA"),
    ("not_ca", "trusted_ca_pem", "không phải chứng thư CA"),
    ("expired", "trusted_ca_pem", "đã hết hạn"),
    ("private_key", "trusted_ca_pem", "khoá bí mật"),
    ({"certificate_fingerprint": "abc123"}, "certificate_fingerprint", "64 chữ số"),
    ({"certificate_fingerprint": "zz" * 32}, "certificate_fingerprint", "64 chữ số"),
]


def _changes(case, ca):
    if case == "not_ca":
        return {"trusted_ca_pem": _not_ca(ca)}
    if case == "expired":
        return {"trusted_ca_pem": _expired_ca()}
    if case == "private_key":
        key = ca.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        return {"trusted_ca_pem": ca.certificate_pem().decode() + key}
    return case


@pytest.mark.django_db
@pytest.mark.parametrize(("case", "field", "message"), REFUSALS)
def test_a_malformed_field_is_refused_on_its_field_and_nothing_saved(
    client, office, ca, case, field, message
):
    client.force_login(office.leader)
    response = client.post(NEW, form_data(ca, **_changes(case, ca)))
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors, errors
    assert message in " ".join(errors[field])
    assert message in text(response)
    assert not ExchangePartner.objects.exists()
    assert not AuditEntry.objects.filter(object_type="exchange_partner").exists()


@pytest.mark.django_db
def test_a_duplicate_organ_id_is_refused_on_create_and_on_edit(client, office, ca):
    first = actions_partners.partner_save(
        actor=office.leader, organisation=office.moet, **_fields(ca)
    )
    other = actions_partners.partner_save(
        actor=office.leader, organisation=office.moet, **_fields(ca, organ_id="000.00.00.G01")
    )
    client.force_login(office.leader)
    response = client.post(NEW, form_data(ca, organ_id="000.00.00.g22"))
    assert response.status_code == 400
    assert "đã có cơ quan liên thông mã 000.00.00.G22" in " ".join(
        response.context["form"].errors["organ_id"]
    )
    response = client.post(edit_url(other), form_data(ca))  # renamed onto the first one
    assert response.status_code == 400 and "đã có cơ quan liên thông" in text(response)
    other.refresh_from_db()
    assert other.organ_id == "000.00.00.G01"
    assert ExchangePartner.objects.count() == 2
    # another organisation may have the same partner
    so = actions_partners.partner_save(
        actor=office.so_leader, organisation=office.so_hn, **_fields(ca)
    )
    assert so.organ_id == first.organ_id


@pytest.mark.django_db
def test_the_organ_id_of_a_partner_documents_went_to_or_came_from_stays(client, setup):
    office, at_moet, at_so = setup["office"], setup["at_moet"], setup["at_so"]
    client.force_login(office.leader)
    changed = client.post(edit_url(at_moet), {
        "name": at_moet.name, "organ_id": "000.00.05.H31", "inbox_url": at_moet.inbox_url,
        "status_url": "", "trusted_ca_pem": at_moet.trusted_ca_pem,
        "certificate_fingerprint": "",
    })  # fmt: skip
    assert changed.status_code == 302  # nothing exchanged yet: it may still be corrected
    at_moet.refresh_from_db()
    assert at_moet.organ_id == "000.00.05.H31"
    at_moet.organ_id = "000.00.01.H26"
    at_moet.save()

    exchange.document_send(actor=office.clerk, document=issued(office))  # one sent to it
    refused = client.post(edit_url(at_moet), {
        "name": "Sở GD&ĐT Hà Nội (mới)", "organ_id": "000.00.05.H31",
        "inbox_url": at_moet.inbox_url, "status_url": "",
        "trusted_ca_pem": at_moet.trusted_ca_pem, "certificate_fingerprint": "",
    })  # fmt: skip
    assert refused.status_code == 400
    assert "không đổi được mã định danh" in " ".join(refused.context["form"].errors["organ_id"])
    at_moet.refresh_from_db()
    assert (at_moet.organ_id, at_moet.name) == ("000.00.01.H26", "Sở GD&ĐT Hà Nội")
    _edit_post(client, at_moet, name="Sở GD&ĐT Hà Nội (mới)")  # its other fields may change
    assert at_moet.name == "Sở GD&ĐT Hà Nội (mới)"

    data, _ = signed_message(setup)  # one received from the Ministry by the Department
    assert post(client, data).status_code == 200
    with pytest.raises(OfficeError) as locked:
        actions_partners.partner_save(
            actor=office.so_leader, organisation=office.so_hn, partner=at_so,
            organ_id="000.00.00.G10", name=at_so.name, inbox_url=at_so.inbox_url,
            trusted_ca_pem=at_so.trusted_ca_pem,
        )  # fmt: skip
    assert (locked.value.code, locked.value.field) == ("partner_organ_id_locked", "organ_id")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("audit_log_flushable")
def test_an_edit_commits_with_its_audit_entry_outside_a_test_transaction(client, office, ca):
    # (the tests above run inside a transaction; a real request does not)
    partner = actions_partners.partner_save(
        actor=office.leader, organisation=office.moet, **_fields(ca)
    )
    client.force_login(office.leader)
    response = client.post(edit_url(partner), form_data(ca, name="Văn phòng Chính phủ (sửa)"))
    assert response.status_code == 302
    partner.refresh_from_db()
    assert partner.name == "Văn phòng Chính phủ (sửa)"
    audits = AuditEntry.objects.filter(object_type="exchange_partner", object_id=str(partner.pk))
    assert sorted(audits.values_list("action", flat=True)) == ["create", "update"]


@pytest.mark.django_db
def test_an_oversized_upload_is_refused_before_it_is_read(client, office, ca):
    client.force_login(office.leader)
    big = ca.certificate_pem() + b"#" * (64 * 1024)
    response = client.post(NEW, form_data(ca, trusted_ca_pem="", trusted_ca_file=upload(big)))
    assert response.status_code == 400
    assert "64 KB" in " ".join(response.context["form"].errors["trusted_ca_file"])
    response = client.post(
        NEW, form_data(ca, trusted_ca_pem="", trusted_ca_file=upload(b"\x00\xff garbage"))
    )
    assert response.status_code == 400 and "không phải chứng thư" in text(response)
    assert not ExchangePartner.objects.exists()


def test_the_checks_give_stable_codes():
    with pytest.raises(OfficeError) as refused:
        actions_partners.organ_id_clean("000.00.00.G22 ; DROP")
    assert (refused.value.code, refused.value.field) == ("partner_bad_organ_id", "organ_id")
    assert actions_partners.fingerprint_clean(" AB cd " * 16) == "abcd" * 16
    assert actions_partners.fingerprint_clean("") == ""
    with pytest.raises(OfficeError) as refused:
        actions_partners.ca_pem_clean(b"-" * (64 * 1024 + 1))
    assert refused.value.code == "partner_pem_too_large"


# -- who may change what -----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_member_who_is_not_a_leader_sees_the_list_but_changes_nothing(client, office, ca):
    partner = actions_partners.partner_save(
        actor=office.leader, organisation=office.moet, **_fields(ca)
    )
    before = AuditEntry.objects.count()
    for user in (office.staff, office.clerk):
        client.force_login(user)
        page = text(client.get(LIST))
        assert "000.00.00.G22" in page
        assert NEW not in page and edit_url(partner) not in page and active_url(partner) not in page
        assert client.get(NEW).status_code == 403
        assert client.post(NEW, form_data(ca, organ_id="000.00.00.G01")).status_code == 403
        assert client.get(edit_url(partner)).status_code == 403
        assert client.post(edit_url(partner), form_data(ca, name="Đổi tên")).status_code == 403
        assert client.post(active_url(partner), {"active": "0"}).status_code == 403
    partner.refresh_from_db()
    assert partner.active and partner.name == "Văn phòng Chính phủ"
    assert ExchangePartner.objects.count() == 1 and AuditEntry.objects.count() == before
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        actions_partners.partner_active_set(actor=office.staff, partner=partner, active=False)
    with pytest.raises(PermissionDenied):  # a leader elsewhere
        actions_partners.partner_save(
            actor=office.so_leader,
            organisation=office.moet,
            **_fields(ca, organ_id="000.00.00.G01"),
        )


@pytest.mark.django_db
def test_another_organisations_partner_is_a_404_and_unchanged(client, office, ca):
    theirs = actions_partners.partner_save(
        actor=office.so_leader, organisation=office.so_hn, **_fields(ca)
    )
    client.force_login(office.leader)  # a leader, but of the Ministry
    assert client.get(edit_url(theirs)).status_code == 404
    assert client.post(edit_url(theirs), form_data(ca, name="Chiếm quyền")).status_code == 404
    assert client.post(active_url(theirs), {"active": "0"}).status_code == 404
    assert client.post(reverse("office:partner_active", args=[999999])).status_code == 404
    assert "000.00.00.G22" not in text(client.get(LIST))
    theirs.refresh_from_db()
    assert theirs.active and theirs.name == "Văn phòng Chính phủ"
    with pytest.raises(OfficeError) as refused:  # the action keeps the partner to its own too
        actions_partners.partner_save(
            actor=office.leader, organisation=office.moet, partner=theirs, **_fields(ca)
        )
    assert refused.value.code == "partner_not_found"


@pytest.mark.django_db
def test_anonymous_and_outsiders_are_turned_away(client, office, django_user_model):
    assert client.get(LIST).status_code == 302  # to the login page
    loner = django_user_model.objects.create_user(
        "loner", password="pw", role="ministry", scope=office.moet
    )  # staff of the Ministry, but not in its e-office
    client.force_login(loner)
    assert client.get(LIST).status_code == 403


# -- what the pages save is what the exchange uses ---------------------------------------------


def _edit_post(client, partner, **changes):
    data = {
        "name": partner.name,
        "organ_id": partner.organ_id,
        "inbox_url": partner.inbox_url,
        "status_url": partner.status_url,
        "trusted_ca_pem": partner.trusted_ca_pem,
        "certificate_fingerprint": partner.certificate_fingerprint,
    }
    data.update(changes)
    response = client.post(edit_url(partner), data)
    assert response.status_code == 302, response.context["form"].errors
    partner.refresh_from_db()


@pytest.mark.django_db
def test_the_inbox_follows_what_the_department_leader_sets(client, setup, ca, other_ca):
    office, at_so = setup["office"], setup["at_so"]
    document = issued(office)
    client.force_login(office.so_leader)

    client.post(active_url(at_so), {"active": "0"})
    data, _ = signed_message(setup, document)
    refused = post(client, data)
    assert (refused.status_code, refused["X-Edxml-Error"]) == (403, "exchange_unknown_sender")

    client.post(active_url(at_so), {"active": "1"})
    _edit_post(client, at_so, trusted_ca_pem=other_ca.certificate_pem().decode())  # wrong CA
    refused = post(client, data)
    assert (refused.status_code, refused["X-Edxml-Error"]) == (403, "edxml_signer_untrusted")

    seal = exchange.signing_key(office.moet.pk).certificate
    pinned = seal.fingerprint(hashes.SHA256()).hex().upper()
    _edit_post(
        client, at_so, trusted_ca_pem=ca.certificate_pem().decode(),
        certificate_fingerprint="ab" * 32,
    )  # fmt: skip
    refused = post(client, data)
    assert (refused.status_code, refused["X-Edxml-Error"]) == (403, "edxml_signer_not_partner")

    _edit_post(client, at_so, certificate_fingerprint=":".join(re.findall("..", pinned)))
    assert at_so.certificate_fingerprint == pinned.lower()
    assert post(client, data).status_code == 200
    assert received(office).count() == 1


@pytest.mark.django_db
def test_a_stopped_partner_is_no_longer_a_recipient_of_documents_sent(client, setup):
    office, at_moet = setup["office"], setup["at_moet"]
    document = issued(office)
    assert exchange.partners_for(document) == [at_moet]
    client.force_login(office.leader)
    client.post(active_url(at_moet), {"active": "0"})
    assert exchange.partners_for(document) == []
    with pytest.raises(OfficeError) as refused:
        exchange.document_send(actor=office.clerk, document=document)
    assert refused.value.code == "exchange_no_partner"
    client.post(active_url(at_moet), {"active": "1"})
    assert exchange.partners_for(document) == [at_moet]
