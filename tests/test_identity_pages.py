"""Identity pages and API: the school's fix list, corrections that re-verify at once, the KPI,
runs, the clerical review queue, merges and the enrichment export; each in scope only."""

import html
import io
from datetime import date

import polars as pl
import pytest
from registry_sim_support import citizen, running_simulator, write_citizens

from vnemis.core.audit import audit_record  # noqa: F401  (the chain must exist)
from vnemis.core.crypto import blind_index, encrypt_identifier
from vnemis.core.models import AuditEntry
from vnemis.identity.models import (
    EnrichmentExport,
    Merge,
    ReviewItem,
    Verification,
    VerificationRun,
)
from vnemis.identity.rates import rates_refresh
from vnemis.identity.verification import candidate_of, outcomes_save
from vnemis.orgs.tokens import api_token_create
from vnemis.registry.models import Person

REGISTRY = [
    citizen("001217001234", "Nguyễn Văn An", date(2017, 3, 14), "M"),
    citizen("001213002222", "Trần Thị Bình", date(2013, 6, 2), "F"),
]


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    path = write_citizens(tmp_path_factory.mktemp("reg") / "citizens.parquet", REGISTRY)
    with running_simulator(path) as handle:
        yield handle


@pytest.fixture
def registry_url(sim, settings):
    settings.VNEMIS_REGISTRY_URL = sim.url
    settings.VNEMIS_REGISTRY_CLIENT_ID = sim.client_id
    settings.VNEMIS_REGISTRY_CLIENT_SECRET = sim.client_secret
    return sim.url


def _outcome(person, status, mismatched=()):
    outcomes_save([candidate_of(person, status, list(mismatched))], method="id_check", run_id=None)


@pytest.fixture
def mismatched_an(pupils):
    """An's school typed his name wrong: the registry said mismatch on the name."""
    an = pupils["an"]
    Person.objects.filter(pk=an.pk).update(full_name="Nguyễn Văn Ăn")
    an.refresh_from_db()
    _outcome(an, "mismatch", ["full_name"])
    return an


def login(client, user):
    client.force_login(user)
    return client


def test_school_sees_its_pupils_to_fix_with_advice_and_the_read_is_audited(
    client, users, mismatched_an
):
    body = login(client, users["school"]).get("/identity/schools/01000101/").content.decode()
    assert "Nguyễn Văn Ăn" in body and "Họ tên" in body
    assert "kiểm tra dấu, chính tả" in body
    entry = AuditEntry.objects.filter(object_type="person_list").last()
    assert entry.detail["ids"] == [mismatched_an.pk] and entry.detail["list"] == "identity_to_fix"


def test_other_schools_cannot_see_the_list(client, users, mismatched_an):
    response = login(client, users["school_c"]).get("/identity/schools/01000101/")
    assert response.status_code == 403
    assert "Nguyễn Văn Ăn" not in response.content.decode()


def test_a_correction_verifies_again_at_once(client, users, mismatched_an, registry_url):
    response = login(client, users["school"]).post(
        f"/identity/persons/{mismatched_an.pk}/correct/",
        {
            "full_name": "Nguyễn Văn An",
            "birth_date": "14/03/2017",
            "sex": "M",
            "citizen_id": "",
            "next": "/identity/schools/01000101/",
        },
        follow=True,
    )
    assert "Đã xác thực" in response.content.decode()
    check = Verification.objects.get(person=mismatched_an)
    assert check.status == "verified" and check.method == "id_check"
    assert "Nguyễn Văn An" not in response.content.decode().split('id="to-fix"')[1]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"full_name": "", "birth_date": "14/03/2017", "sex": "M"}, "bắt buộc"),
        ({"full_name": "An", "birth_date": "2017-13-40", "sex": "M"}, "ngày/tháng/năm"),
        ({"full_name": "An", "birth_date": "14/03/2017", "sex": "X"}, "lựa chọn hợp lệ"),
        (
            {"full_name": "An", "birth_date": "14/03/2017", "sex": "M", "citizen_id": "12345"},
            "đúng 12 chữ số",
        ),
    ],
)
def test_a_bad_correction_says_what_is_wrong_and_changes_nothing(
    client, users, mismatched_an, data, error
):
    response = login(client, users["school"]).post(
        f"/identity/persons/{mismatched_an.pk}/correct/", data
    )
    assert response.status_code == 200 and error in response.content.decode()
    assert Person.objects.get(pk=mismatched_an.pk).full_name == "Nguyễn Văn Ăn"


def test_registry_down_saves_the_correction_and_says_so(client, users, mismatched_an, settings):
    settings.VNEMIS_REGISTRY_URL = "http://127.0.0.1:9"  # nothing listens there
    response = login(client, users["school"]).post(
        f"/identity/persons/{mismatched_an.pk}/correct/",
        {"full_name": "Nguyễn Văn An", "birth_date": "14/03/2017", "sex": "M"},
        follow=True,
    )
    assert "chưa phản hồi" in response.content.decode()
    assert Person.objects.get(pk=mismatched_an.pk).full_name == "Nguyễn Văn An"
    assert Verification.objects.get(person=mismatched_an).status == "unverified"


def test_department_and_ministry_see_rates_by_unit(client, users, mismatched_an, pupils):
    _outcome(pupils["binh"], "verified")
    rates_refresh()
    body = html.unescape(login(client, users["ministry"]).get("/identity/rates/").content.decode())
    assert "Sở GD&ĐT Hà Nội" in body and 'id="kpi"' in body
    body = login(client, users["department"]).get("/identity/rates/").content.decode()
    assert "Trường Tiểu học Ba Đình" in body and "Trường THCS Sóc Sơn" in body
    assert "Hải Châu" not in body
    assert login(client, users["department_dn"]).get("/identity/rates/SGD01/").status_code == 403


def test_a_department_starts_a_run_over_its_province_only(client, users, tree):
    login(client, users["department"]).post("/identity/runs/", {"scope": "SGD01"})
    run = VerificationRun.objects.get()
    assert run.scope == tree["so_hn"] and run.created_by == users["department"]
    response = client.post("/identity/runs/", {"scope": "SGD48"})
    assert response.status_code == 403 and VerificationRun.objects.count() == 1
    assert "SGD01" not in login(client, users["teacher"]).get("/identity/").url
    for outsider in ("teacher", "citizen"):
        assert login(client, users[outsider]).get("/identity/runs/").status_code == 403


@pytest.fixture
def link_item(pupils):
    binh = pupils["binh"]
    return ReviewItem.objects.create(
        kind="registry_link",
        person=binh,
        citizen_id_ciphertext=encrypt_identifier("001213002222"),
        citizen_id_index=blind_index("001213002222"),
        candidate={"full_name": "Trần Thị Bình", "birth_date": "02/06/2013", "sex": "Nữ"},
        match_probability=0.93,
        match_weight=6.2,
        explanation=[
            {"field": "full_name", "level": "exact", "weight": 7.1},
            {"field": "birth_date", "level": "exact", "weight": 6.3},
        ],
        model_version="link-v1",
        province_code="01",
    )


def test_review_queue_side_by_side_and_an_accepted_link_verifies(client, users, link_item):
    login(client, users["department"])
    assert "Trần Thị Bình" in client.get("/identity/review/registry_link/").content.decode()
    body = html.unescape(client.get(f"/identity/review/items/{link_item.pk}/").content.decode())
    assert "CSDL quốc gia về dân cư" in body and "Khớp chính xác" in body and "7,10" in body
    client.post(f"/identity/review/items/{link_item.pk}/", {"decision": "accept"})
    link_item.refresh_from_db()
    assert link_item.status == "accepted" and link_item.decided_by == users["department"]
    binh = Person.objects.get(pk=link_item.person_id)
    assert binh.citizen_id_index == blind_index("001213002222")
    assert Verification.objects.get(person=binh).method == "review"
    decision = AuditEntry.objects.filter(object_type="review_item").last()
    assert decision.detail == {"decision": "accepted", "kind": "registry_link"}


def test_review_is_for_the_items_province_only(client, users, link_item):
    login(client, users["department_dn"])
    assert "Trần Thị Bình" not in client.get("/identity/review/registry_link/").content.decode()
    assert client.get(f"/identity/review/items/{link_item.pk}/").status_code == 403
    login(client, users["school"])
    assert client.get("/identity/review/registry_link/").status_code == 403


def test_rejecting_and_deciding_twice(client, users, link_item):
    login(client, users["department"])
    client.post(f"/identity/review/items/{link_item.pk}/", {"decision": "reject", "note": "khác"})
    link_item.refresh_from_db()
    assert link_item.status == "rejected" and link_item.note == "khác"
    again = client.post(
        f"/identity/review/items/{link_item.pk}/", {"decision": "accept"}, follow=True
    )
    assert "đã được quyết định" in again.content.decode()
    bad = client.post(f"/identity/review/items/{link_item.pk}/", {"decision": "maybe"})
    assert "chấp nhận hoặc từ chối" in bad.content.decode()


def test_duplicate_review_merges_and_the_merge_can_be_undone_from_the_page(
    client, users, pupils, binh_again
):
    binh, copy = pupils["binh"], binh_again
    item = ReviewItem.objects.create(
        kind="duplicate",
        person=copy,
        other_person=binh,
        match_probability=0.95,
        match_weight=8.0,
        model_version="dedupe-v1",
        province_code="01",
    )
    login(client, users["department"])
    client.post(
        f"/identity/review/items/{item.pk}/", {"decision": "accept", "survivor": str(binh.pk)}
    )
    assert not Person.objects.filter(pk=copy.pk).exists()
    merge = Merge.objects.get()
    assert merge.survivor == binh
    assert binh.education_id in client.get("/identity/merges/").content.decode()
    client.post(f"/identity/merges/{merge.pk}/undo/")
    assert Person.objects.filter(pk=copy.pk).exists()
    item.refresh_from_db()
    assert item.status == "pending"


def test_enrichment_export_api_sends_verified_citizens_as_deltas(client, users, pupils, tree):
    an = pupils["an"]
    _outcome(an, "verified")
    token = api_token_create(user=users["ministry"], name="registry connector")[1]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    made = client.post("/api/v1/identity/enrichment/exports", **auth)
    assert made.status_code == 201 and made.json()["rows"] == 1
    rows = client.get(f"/api/v1/identity/enrichment/exports/{made.json()['id']}/rows", **auth)
    item = rows.json()["items"][0]
    assert item["citizen_id"] == "001217001234" and item["school_code"] == "01000101"
    assert item["grade"] == 3 and item["status"] == "studying"
    file = client.get(made.json()["file_url"], **auth)
    frame = pl.read_parquet(io.BytesIO(b"".join(file.streaming_content)))
    assert frame["education_id"].to_list() == [an.education_id]
    # Nothing changed since: the next delta is empty; a change puts An back in it.
    assert client.post("/api/v1/identity/enrichment/exports", **auth).json()["rows"] == 0
    Person.objects.filter(pk=an.pk).update(birth_place="Hà Nội")  # change number moves
    assert client.post("/api/v1/identity/enrichment/exports", **auth).json()["rows"] == 1
    assert EnrichmentExport.objects.count() == 3
    assert AuditEntry.objects.filter(object_type="enrichment_export").count() == 3


def test_enrichment_is_refused_below_the_ministry(client, users):
    token = api_token_create(user=users["department"], name="x")[1]
    refused = client.post(
        "/api/v1/identity/enrichment/exports", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert refused.status_code == 403
    body = refused.json()
    assert body["code"] == "forbidden" and body["message_vi"] and body["message_en"]
    bad = client.get(
        "/api/v1/identity/enrichment/exports/999/rows?limit=0",
        HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=users['ministry'], name='y')[1]}",
    )
    assert bad.status_code in (404, 422)


def test_verification_run_api(client, users, tree):
    token = api_token_create(user=users["department"], name="z")[1]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    made = client.post(
        "/api/v1/identity/verification-runs",
        {"scope": "SGD01"},
        content_type="application/json",
        **auth,
    )
    assert made.status_code == 202 and made.json()["scope"] == "SGD01"
    again = client.get(f"/api/v1/identity/verification-runs/{made.json()['id']}", **auth)
    assert again.json()["status"] == "pending"
    other = client.post(
        "/api/v1/identity/verification-runs",
        {"scope": "SGD48"},
        content_type="application/json",
        **auth,
    )
    assert other.status_code == 403 and other.json()["message_en"]
    unknown = client.post(
        "/api/v1/identity/verification-runs",
        {"scope": "NOPE"},
        content_type="application/json",
        **auth,
    )
    assert unknown.status_code == 422 and "NOPE" in unknown.json()["message_en"]


def test_a_persons_verification_history_is_shown_in_scope_and_audited(client, users, mismatched_an):
    login(client, users["school"])
    assert "/identity/persons/" in client.get(f"/persons/{mismatched_an.pk}/").content.decode()
    body = client.get(f"/identity/persons/{mismatched_an.pk}/").content.decode()
    assert "Thông tin chưa khớp" in body and "Họ tên" in body
    assert AuditEntry.objects.filter(object_type="person", object_id=str(mismatched_an.pk)).exists()
    assert (
        login(client, users["school_c"]).get(f"/identity/persons/{mismatched_an.pk}/").status_code
        == 403
    )


def test_identity_pages_in_english_leave_no_vietnamese_in_the_interface(
    client, users, tree, pupils, mismatched_an, link_item
):
    """Vietnamese only in data (names of people, organisations and places) on every page."""
    from django.conf import settings as django_settings
    from test_web import _VIETNAMESE_LETTER, _VisibleText

    from vnemis.geo.models import Commune, Province
    from vnemis.orgs.models import Organisation

    _outcome(pupils["binh"], "verified")
    rates_refresh()
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    pages = {
        "school": [
            "/identity/schools/01000101/",
            f"/identity/persons/{mismatched_an.pk}/correct/",
            f"/identity/persons/{mismatched_an.pk}/",
            "/identity/runs/",
        ],
        "department": [
            "/identity/rates/",
            "/identity/review/registry_link/",
            "/identity/review/duplicate/",
            f"/identity/review/items/{link_item.pk}/",
            "/identity/merges/",
        ],
        "ministry": ["/identity/rates/", "/identity/rates/SGD01/"],
    }
    data = {
        *Organisation.objects.values_list("name", flat=True),
        *Province.objects.values_list("name", flat=True),
        *Commune.objects.values_list("name", flat=True),
        *(p.full_name for p in Person.objects.all()),
        *link_item.candidate.values(),
    }
    data = sorted(data, key=len, reverse=True)
    left = {}
    for role, urls in pages.items():
        client.force_login(users[role])
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            parser = _VisibleText()
            parser.feed(response.content.decode())
            for text in parser.texts:
                chrome = text
                for value in data:
                    chrome = chrome.replace(value, "")
                if _VIETNAMESE_LETTER.search(chrome):
                    left.setdefault(url, []).append(text)
    assert left == {}, "mark these for translation and translate them in django.po"
