"""The read API /api/v1: authentication, scope on every endpoint, keyset pagination, errors.

Every endpoint is checked three ways (Saleor's matrix): anonymous → 401, a valid token of
another scope → refused with none of the pupil's data in the body, the right scope → 200.
"""

import io
import json
import re
from datetime import date, timedelta
from functools import partial
from operator import itemgetter

import pytest
from conftest import make_pupil
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from vnemis.core.models import AuditEntry
from vnemis.core.pagination import encode_cursor
from vnemis.geo.models import (
    LegacyCommune,
    LegacyCommuneMapping,
    LegacyDistrict,
    LegacyProvince,
)
from vnemis.orgs.models import ApiToken
from vnemis.orgs.tokens import api_token_create, api_token_revoke
from vnemis.registry import actions as registry_actions
from vnemis.registry.models import HealthRecord, SchoolClass, SchoolYear

API = "/api/v1"


@pytest.fixture
def tokens(users):
    """A raw bearer token per user of the ``users`` fixture."""
    return {
        role: api_token_create(user=user, name=f"test {role}")[1] for role, user in users.items()
    }


def call(client, path, token=None, **params):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.get(API + path, params, **headers)


def class_3a(tree):
    return SchoolClass.objects.get(school=tree["a"], name="3A")


def endpoints(tree, pupils):
    """(name, path, query) of every endpoint, aimed at pupil An of school A where it can be."""
    an = pupils["an"].education_id
    return [
        ("provinces", "/units/provinces", {}),
        ("communes", "/units/provinces/01/communes", {}),
        ("organisations", "/organisations", {}),
        ("organisation", "/organisations/01000101", {}),
        ("classes", "/classes", {"school": "01000101"}),
        ("class", f"/classes/{class_3a(tree).pk}", {}),
        ("persons", "/persons", {"q": "an"}),
        ("person", f"/persons/{an}", {}),
        ("person_enrolments", f"/persons/{an}/enrolments", {}),
        ("enrolments", "/enrolments", {"school": "01000101"}),
    ]


# --- authentication ---


@pytest.mark.django_db
def test_every_endpoint_refuses_anonymous_callers(client, tree, pupils):
    for _name, path, params in endpoints(tree, pupils):
        response = call(client, path, **params)
        assert response.status_code == 401, path
        body = response.json()
        assert body["code"] == "unauthenticated"
        assert body["message_vi"] and body["message_en"]
        assert pupils["an"].full_name not in response.content.decode()


@pytest.mark.django_db
def test_unknown_and_revoked_tokens_are_refused(client, users, pupils):
    token, raw = api_token_create(user=users["system"], name="school software")
    assert call(client, "/units/provinces", raw).status_code == 200
    assert call(client, "/units/provinces", raw + "x").status_code == 401
    assert call(client, "/units/provinces", "").status_code == 401
    api_token_revoke(token=token)
    response = call(client, f"/persons/{pupils['an'].education_id}", raw)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


@pytest.mark.django_db
def test_token_of_inactive_user_is_refused(client, users):
    raw = api_token_create(user=users["system"], name="t")[1]
    users["system"].is_active = False
    users["system"].save()
    assert call(client, "/units/provinces", raw).status_code == 401


@pytest.mark.django_db
def test_only_the_digest_is_stored_and_use_is_noted_at_most_once_a_minute(client, users):
    token, raw = api_token_create(user=users["system"], name="t")
    assert token.prefix == raw[:8] and len(raw) >= 43
    assert raw not in json.dumps(list(ApiToken.objects.values("prefix", "digest", "name")))
    assert token.last_used_at is None
    call(client, "/units/provinces", raw)
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    call(client, "/units/provinces", raw)
    token.refresh_from_db()
    assert token.last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
    call(client, "/units/provinces", raw)
    token.refresh_from_db()
    assert token.last_used_at > first - timedelta(minutes=2)


@pytest.mark.django_db
def test_session_of_a_logged_in_user_authenticates(client, users, pupils):
    client.force_login(users["school"])
    response = client.get(f"{API}/persons/{pupils['an'].education_id}")
    assert response.status_code == 200
    assert response.json()["full_name"] == "Nguyễn Văn An"


@pytest.mark.django_db
def test_citizen_session_reads_only_their_own_record(client, users, pupils):
    client.force_login(users["citizen"])
    assert client.get(f"{API}/persons/{pupils['an'].education_id}").status_code == 200
    assert client.get(f"{API}/persons/{pupils['binh'].education_id}").status_code == 404


# --- the authorization matrix ---

# A token of another scope: Da Nang's school C. Status per endpoint when aimed at school A.
WRONG_SCOPE_STATUS = {
    "provinces": 200,  # public reference data
    "communes": 200,
    "organisations": 200,  # lists only what is in scope
    "organisation": 404,
    "classes": 403,  # the filter names a school out of scope
    "class": 404,
    "persons": 200,  # the search finds nothing out of scope
    "person": 404,
    "person_enrolments": 404,
    "enrolments": 403,
}


@pytest.mark.django_db
@pytest.mark.parametrize("wrong_role", ["school_c", "department_dn"])
def test_wrong_scope_sees_none_of_the_pupils_data(client, tree, pupils, tokens, wrong_role):
    an = pupils["an"]
    for name, path, params in endpoints(tree, pupils):
        response = call(client, path, tokens[wrong_role], **params)
        expected = WRONG_SCOPE_STATUS[name]
        assert response.status_code == expected, (path, response.content)
        text = response.content.decode()
        for secret in (an.full_name, an.education_id, "Tiểu học Ba Đình", "3A"):
            assert secret not in text, (path, secret)
        if expected >= 400:
            body = response.json()
            assert body["code"] in ("not_found", "out_of_scope")
            assert body["message_vi"] and body["message_en"]


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["system", "school", "department", "ministry"])
def test_right_scope_reads_every_endpoint(client, tree, pupils, tokens, role):
    an = pupils["an"]
    for _name, path, params in endpoints(tree, pupils):
        response = call(client, path, tokens[role], **params)
        assert response.status_code == 200, (role, path, response.content)
        if "person" in path or "enrolment" in path:
            assert an.education_id in response.content.decode(), path


@pytest.mark.django_db
def test_lists_are_limited_to_scope(client, tree, pupils, tokens, users):
    codes = [o["code"] for o in call(client, "/organisations", tokens["school_c"]).json()["items"]]
    assert codes == ["48000101"]
    codes = [
        o["code"] for o in call(client, "/organisations", tokens["department"]).json()["items"]
    ]
    assert codes == ["01000101", "01000102", "SGD01"]
    pupils_seen = {
        p["education_id"] for p in call(client, "/persons", tokens["department"]).json()["items"]
    }
    # Pupils of both Hà Nội schools and the teacher posted at school A; nobody from Đà Nẵng.
    assert pupils_seen == {
        pupils["an"].education_id,
        pupils["binh"].education_id,
        users["teacher"].person.education_id,
    }
    enrolled = call(client, "/enrolments", tokens["system"]).json()["items"]
    assert [e["education_id"] for e in enrolled] == [pupils["an"].education_id]
    assert enrolled[0]["school_code"] == "01000101" and enrolled[0]["class_name"] == "3A"
    assert "id" not in enrolled[0] and "pupil_id" not in enrolled[0]


@pytest.mark.django_db
def test_filters_narrow_the_lists(client, tree, pupils, tokens):
    ministry = tokens["ministry"]
    schools = call(client, "/organisations", ministry, kind="school", province="48").json()
    assert [o["code"] for o in schools["items"]] == ["48000101"]
    secondary = call(client, "/organisations", ministry, level="lower_secondary").json()
    assert [o["code"] for o in secondary["items"]] == ["01000102"]
    by_name = call(client, "/organisations", ministry, q="hai chau").json()
    assert [o["code"] for o in by_name["items"]] == ["48000101"]
    assert call(client, "/organisations/01000101", ministry).json()["parent_code"] == "SGD01"

    found = call(client, "/persons", ministry, q="nguyen van an").json()["items"]
    assert [p["full_name"] for p in found] == ["Nguyễn Văn An"]
    found = call(client, "/persons", ministry, q=pupils["cuong"].education_id).json()["items"]
    assert [p["full_name"] for p in found] == ["Lê Văn Cường"]
    found = call(client, "/persons", ministry, school="01000102").json()["items"]
    assert [p["full_name"] for p in found] == ["Trần Thị Bình"]

    classes = call(client, "/classes", ministry, school="48000101", school_year="2025-2026")
    assert [(c["school_code"], c["school_year"], c["name"]) for c in classes.json()["items"]] == [
        ("48000101", "2025-2026", "3A")
    ]
    assert call(client, "/enrolments", ministry, status="dropped_out").json()["items"] == []
    studying = call(client, "/enrolments", ministry, status="studying", school_year="2025-2026")
    assert len(studying.json()["items"]) == 3


# --- persons: audit, masking, sensitive data ---


@pytest.mark.django_db
def test_person_read_is_audited(client, users, pupils, tokens):
    an = pupils["an"]
    before = AuditEntry.objects.count()
    assert call(client, f"/persons/{an.education_id}", tokens["system"]).status_code == 200
    entry = AuditEntry.objects.filter(
        action="read", object_type="person", object_id=str(an.pk)
    ).get()
    assert entry.actor_id == users["system"].pk
    assert entry.channel == "api"
    assert AuditEntry.objects.count() > before
    # A refused read leaves no trace of the person being read.
    call(client, f"/persons/{an.education_id}", tokens["school_c"])
    reads = AuditEntry.objects.filter(action="read", object_type="person", object_id=str(an.pk))
    assert reads.count() == 1


@pytest.mark.django_db
def test_person_list_is_audited(client, users, pupils, tokens):
    call(client, "/persons", tokens["system"], q="an")
    entry = AuditEntry.objects.filter(object_type="person_list").latest("id")
    assert entry.detail["ids"] == [pupils["an"].pk]
    assert entry.actor_id == users["system"].pk


@pytest.mark.django_db
def test_citizen_id_is_only_shown_masked(client, pupils, tokens):
    response = call(client, f"/persons/{pupils['an'].education_id}", tokens["school"])
    assert response.json()["citizen_id_masked"] == "*********234"
    assert "001217001234" not in response.content.decode()
    response = call(client, f"/persons/{pupils['binh'].education_id}", tokens["department"])
    assert response.json()["citizen_id_masked"] is None


@pytest.mark.django_db
def test_sensitive_fields_hidden_from_department_shown_to_school(client, tree, pupils, tokens):
    an = pupils["an"]
    HealthRecord.objects.create(
        person=an,
        school=tree["a"],
        measured_on=date(2025, 10, 1),
        height_cm=125,
        weight_kg=24,
        bmi=15.4,
        province_code="01",
    )
    an.permanent_address = "12 Phố Huế"
    an.save()
    department = call(client, f"/persons/{an.education_id}", tokens["department"])
    assert department.status_code == 200
    assert department.json()["sensitive"] is None
    for hidden in ("Kinh", "125", "Phố Huế"):
        assert hidden not in department.content.decode()

    school = call(client, f"/persons/{an.education_id}", tokens["school"]).json()
    assert school["sensitive"]["ethnicity"]["code"] == "01"
    assert school["sensitive"]["health_records"][0]["height_cm"] == 125.0
    assert school["sensitive"]["permanent_address"] == "12 Phố Huế"


@pytest.mark.django_db
def test_person_enrolments(client, pupils, tokens):
    response = call(client, f"/persons/{pupils['an'].education_id}/enrolments", tokens["school"])
    items = response.json()["items"]
    assert [(e["school_code"], e["school_year"], e["class_name"], e["status"]) for e in items] == [
        ("01000101", "2025-2026", "3A", "studying")
    ]


# --- keyset pagination ---


@pytest.mark.django_db
def test_person_enrolments_page_through_years_oldest_first(client, tree, pupils, tokens):
    """A sort key of a related year and a date travels through the cursor intact."""
    an = pupils["an"]
    for start in (2022, 2023, 2024):
        year = SchoolYear.objects.create(
            code=f"{start}-{start + 1}",
            start_year=start,
            starts_on=date(start, 9, 5),
            ends_on=date(start + 1, 5, 31),
        )
        school_class = registry_actions.school_class_get_or_create(
            school=tree["a"], school_year=year, grade=start - 2021, name=f"{start - 2021}A"
        )
        registry_actions.enrolment_create(
            actor=None,
            pupil=an,
            school_class=school_class,
            started_on=year.starts_on,
            status="completed",
        )
    seen, _, pages = walk(
        client,
        f"/persons/{an.education_id}/enrolments",
        tokens["school"],
        itemgetter("school_year"),
        1,
    )
    assert seen == ["2022-2023", "2023-2024", "2024-2025", "2025-2026"]
    assert pages == 4
    # School C never taught An: none of that history is visible to it.
    response = call(client, f"/persons/{an.education_id}/enrolments", tokens["school_c"])
    assert response.status_code == 404


@pytest.fixture
def many_pupils(tree, school_year, pupils):
    """120 more pupils in school A, over four classes."""
    created = []
    for i in range(120):
        created.append(
            make_pupil(
                school=tree["a"],
                school_year=school_year,
                grade=1 + i % 4,
                class_name=f"{1 + i % 4}A",
                full_name=f"Phạm Văn Số {i:03d}",
                birth_date=date(2017, 1, 1) + timedelta(days=i),
            )
        )
    return created


def walk(client, path, token, key, limit, **params):
    """Every item of a list, page by page; returns the keys and the SQL run."""
    seen, cursor, pages = [], None, 0
    with CaptureQueriesContext(connection) as queries:
        while True:
            query = dict(params, limit=limit)
            if cursor:
                query["cursor"] = cursor
            response = call(client, path, token, **query)
            assert response.status_code == 200, response.content
            body = response.json()
            assert len(body["items"]) <= limit
            seen += [key(item) for item in body["items"]]
            cursor = body["next_cursor"]
            pages += 1
            if not cursor:
                break
            assert pages < 1000
    return seen, [q["sql"] for q in queries.captured_queries], pages


@pytest.mark.django_db
def test_keyset_pagination_walks_every_person_once_without_offset(
    client, pupils, many_pupils, tokens, users
):
    # School A's pupils and its teacher (staff are persons in scope too).
    expected = {p.education_id for p in [*many_pupils, pupils["an"], users["teacher"].person]}
    seen, sql, pages = walk(
        client, "/persons", tokens["system"], lambda p: p["education_id"], 7, school="01000101"
    )
    assert len(seen) == len(set(seen)) == 122
    assert set(seen) == expected
    assert seen == sorted(seen)
    assert pages == 18
    assert not [s for s in sql if re.search(r"\bOFFSET\b", s, re.IGNORECASE)]


@pytest.mark.django_db
def test_keyset_pagination_of_enrolments_classes_and_organisations(
    client, pupils, many_pupils, tokens
):
    token = tokens["ministry"]
    seen, sql, _ = walk(client, "/enrolments", token, lambda e: e["education_id"], 11)
    assert len(seen) == len(set(seen)) == 123
    seen_classes, sql2, _ = walk(
        client, "/classes", token, lambda c: (c["school_code"], c["name"]), 2
    )
    assert len(seen_classes) == len(set(seen_classes)) == 6
    grades = [int(name[0]) for _, name in seen_classes]
    assert grades == sorted(grades)
    seen_orgs, sql3, _ = walk(client, "/organisations", token, lambda o: o["code"], 2)
    assert seen_orgs == ["01000101", "01000102", "48000101", "BGDDT", "SGD01", "SGD48"]
    assert not [s for s in sql + sql2 + sql3 if re.search(r"\bOFFSET\b", s, re.IGNORECASE)]


@pytest.mark.django_db
def test_rows_added_during_a_walk_cause_no_duplicates(client, tree, school_year, pupils, tokens):
    token = tokens["ministry"]
    first = call(client, "/persons", token, limit=2).json()
    make_pupil(
        school=tree["a"],
        school_year=school_year,
        grade=2,
        class_name="2A",
        full_name="Đỗ Thị Mới",
        birth_date=date(2018, 2, 2),
    )
    rest = call(client, "/persons", token, limit=100, cursor=first["next_cursor"]).json()
    ids = [p["education_id"] for p in first["items"] + rest["items"]]
    assert len(ids) == len(set(ids)) == 5  # three pupils, the teacher, the new pupil
    assert rest["next_cursor"] is None


# --- malformed input ---


@pytest.mark.django_db
def test_tampered_cursor_is_refused_clearly(client, pupils, many_pupils, tokens):
    token = tokens["system"]
    cursor = call(client, "/persons", token, limit=5).json()["next_cursor"]
    payload, signature = cursor.rsplit(".", 1)
    forged = encode_cursor(["000000000000"], namespace="persons").rsplit(".", 1)[0]
    for bad in (
        cursor[:-2],
        payload + "." + signature[::-1],
        forged + "." + signature,
        "not-a-cursor",
        "x" * 400,
    ):
        response = call(client, "/persons", token, cursor=bad)
        assert response.status_code == 422, bad
        body = response.json()
        assert body["code"] == "invalid_cursor"
        assert "cursor" in body["message_en"] and "cursor" in body["message_vi"]
        assert body["errors"][0]["field"] == "cursor"
    # A cursor of one list is not valid for another.
    response = call(client, "/enrolments", token, cursor=cursor)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_cursor"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "params", "field", "code"),
    [
        ("/persons", {"limit": 0}, "limit", "validation_error"),
        ("/persons", {"limit": 501}, "limit", "validation_error"),
        ("/persons", {"limit": "ten"}, "limit", "validation_error"),
        ("/organisations", {"kind": "castle"}, "kind", "validation_error"),
        ("/organisations", {"province": "1"}, "province", "validation_error"),
        ("/organisations", {"province": "99"}, "province", "unknown_filter_value"),
        ("/organisations", {"level": "kindergarten"}, "level", "validation_error"),
        ("/enrolments", {"status": "asleep"}, "status", "validation_error"),
        ("/enrolments", {"school_year": "2025"}, "school_year", "validation_error"),
        ("/enrolments", {"school_year": "2030-2031"}, "school_year", "unknown_filter_value"),
        ("/classes", {"school": "NOPE"}, "school", "unknown_filter_value"),
        ("/persons/12345", {}, "education_id", "validation_error"),
        ("/classes/abc", {}, "class_id", "validation_error"),
        ("/units/provinces/1/communes", {}, "code", "validation_error"),
    ],
)
def test_malformed_input_gets_a_clear_422(client, users, tokens, path, params, field, code):
    response = call(client, path, tokens["ministry"], **params)
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["code"] == code
    assert field in body["message_en"] or body["errors"][0]["field"] == field
    assert [e["field"] for e in body["errors"]] == [field]
    assert body["message_vi"]


@pytest.mark.django_db
def test_anonymous_with_malformed_input_still_gets_401(client, tree):
    assert call(client, "/persons", limit=0).status_code == 401


# --- geo reference data ---


@pytest.mark.django_db
def test_units(client, geo, users, tokens):
    token = tokens["system"]
    provinces = call(client, "/units/provinces", token).json()
    assert [p["code"] for p in provinces["items"]] == ["01", "48"]
    communes = call(client, "/units/provinces/01/communes", token, limit=1).json()
    assert communes["items"] == [
        {"code": "00004", "name": "Phường Ba Đình", "kind": "phuong", "province_code": "01"}
    ]
    rest = call(client, "/units/provinces/01/communes", token, cursor=communes["next_cursor"])
    assert [c["code"] for c in rest.json()["items"]] == ["09619"]
    missing = call(client, "/units/provinces/99/communes", token)
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"

    old_province = LegacyProvince.objects.create(code="01", name="Hà Nội", key="ha_noi")
    district = LegacyDistrict.objects.create(code="001", name="Ba Đình", province=old_province)
    legacy = LegacyCommune.objects.create(
        code="00001", name="Phường Phúc Xá", district=district, province=old_province
    )
    LegacyCommuneMapping.objects.create(legacy_commune=legacy, commune=geo["hn_commune"])
    LegacyCommuneMapping.objects.create(
        legacy_commune=legacy, commune=geo["hn_ward"], is_default=True
    )
    body = call(client, "/units/legacy/communes/00001", token).json()
    assert body["district_code"] == "001"
    assert [(s["code"], s["is_default"]) for s in body["successors"]] == [
        ("00004", True),
        ("09619", False),
    ]
    assert call(client, "/units/legacy/communes/99999", token).status_code == 404


# --- query counts ---


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/persons", {"school": "01000101"}),
        ("/enrolments", {"school": "01000101", "school_year": "2025-2026"}),
        ("/classes", {"school": "01000101"}),
        ("/organisations", {"kind": "school"}),
        ("/units/provinces/01/communes", {}),
    ],
)
def test_list_endpoints_run_a_bounded_number_of_queries(
    client, pupils, many_pupils, tokens, django_assert_max_num_queries, path, params
):
    token = tokens["ministry"]
    call(client, path, token, limit=1)  # notes the token's use, so later calls only read
    with CaptureQueriesContext(connection) as small:
        call(client, path, token, limit=2, **params)
    with django_assert_max_num_queries(12):
        response = call(client, path, token, limit=100, **params)
    assert response.status_code == 200
    # The count does not grow with the page size: no query per row.
    with CaptureQueriesContext(connection) as large:
        call(client, path, token, limit=100, **params)
    assert len(large.captured_queries) == len(small.captured_queries)


# --- OpenAPI and docs ---


@pytest.mark.django_db
def test_openapi_document_is_served_and_consistent(client):
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"].startswith("3.")
    assert doc["info"]["title"] == "vnemis API"
    expected = {
        "/units/provinces",
        "/units/provinces/{code}/communes",
        "/units/legacy/communes/{code}",
        "/organisations",
        "/organisations/{code}",
        "/classes",
        "/classes/{class_id}",
        "/persons",
        "/persons/{education_id}",
        "/persons/{education_id}/enrolments",
        "/enrolments",
        "/standard",
        "/standard/{entity}",
        "/standard/{entity}/schema",
        "/imports",
        "/imports/{job_id}",
        "/imports/{job_id}/cancel",
        "/imports/{job_id}/errors",
        "/sync/{entity}",
        "/sync/{entity}/remove",
        "/changes",
        "/oneroster/export",
        "/oneroster/import",
        "/submissions",
        "/submissions/periods",
        "/submissions/{submission_id}",
        "/submissions/{submission_id}/check",
        "/submissions/{submission_id}/submit",
        "/submissions/{submission_id}/approve",
        "/submissions/{submission_id}/return",
        "/submissions/{submission_id}/reopen",
        "/identity/verification-runs",
        "/identity/verification-runs/{run_id}",
        "/identity/enrichment/exports",
        "/identity/enrichment/exports/{export_id}/file",
        "/identity/enrichment/exports/{export_id}/rows",
        "/stats/indicators",
        "/stats/indicators/{code}",
        "/open-data/datasets",
        "/open-data/datasets/{code}",
    }
    # The published data standard and open data are public: no account needed.
    public = {
        "/standard",
        "/standard/{entity}",
        "/standard/{entity}/schema",
        "/open-data/datasets",
        "/open-data/datasets/{code}",
    }
    assert {p.removeprefix(API) for p in doc["paths"]} == expected
    schemes = doc["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"http", "apiKey"}
    text = json.dumps(doc)
    for ref in set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', text)):
        assert ref in doc["components"]["schemas"], ref
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            assert operation.get("description") or operation.get("summary"), (path, method)
            responses = set(operation["responses"])
            # 201: a resource made now (an export); 202: accepted as a background job.
            assert responses & {"200", "201", "202"}, path
            if path.removeprefix(API) in public:
                assert not operation.get("security"), path
                continue
            assert {"401", "422"} <= responses, path
            assert operation["security"], path
    assert "ErrorOut" in doc["components"]["schemas"]


@pytest.mark.django_db
def test_docs_page_is_served_without_a_cdn(client):
    response = client.get(f"{API}/docs")
    assert response.status_code == 200
    assert "cdn." not in response.content.decode()


# --- the token command ---


@pytest.mark.django_db
def test_token_command_creates_and_revokes(client, users, pupils):
    out, err = io.StringIO(), io.StringIO()
    call_command("token", "create", user="he_thong", name="SMAS", stdout=out, stderr=err)
    raw = out.getvalue().strip()
    assert "not shown again" in err.getvalue()
    assert call(client, f"/persons/{pupils['an'].education_id}", raw).status_code == 200
    listing = io.StringIO()
    call_command("token", "list", user="he_thong", stdout=listing)
    assert raw[:8] in listing.getvalue() and raw not in listing.getvalue()
    call_command("token", "revoke", prefix=raw[:8], stdout=io.StringIO())
    assert ApiToken.objects.get(prefix=raw[:8]).revoked_at <= timezone.now()
    assert call(client, "/units/provinces", raw).status_code == 401
    assert AuditEntry.objects.filter(object_type="api_token").count() == 2


# --- list endpoints at scale: the same rows as the plain scope rules, by every read path ---


@pytest.fixture
def list_world(tree, school_year, pupils, users, many_pupils):
    """More shapes of data: a pupil who moved from school A (last year) to school C, a staff
    post at school B, a person with neither (only an operator reaches them), an operator."""
    from vnemis.orgs.models import User
    from vnemis.registry.models import Ethnicity, StaffAssignment

    last_year = SchoolYear.objects.create(
        code="2024-2025", start_year=2024, starts_on=date(2024, 9, 5), ends_on=date(2025, 5, 31)
    )
    moved = make_pupil(
        school=tree["a"],
        school_year=last_year,
        grade=2,
        class_name="2B",
        full_name="Võ Minh Chuyển",
        birth_date=date(2017, 5, 5),
    )
    registry_actions.enrolment_create(
        actor=None,
        pupil=moved,
        school_class=registry_actions.school_class_get_or_create(
            school=tree["c"], school_year=school_year, grade=3, name="3A"
        ),
        started_on=school_year.starts_on,
    )
    ethnicity = Ethnicity.objects.get(code="01")
    staff = registry_actions.person_create(
        actor=None,
        full_name="Đào Văn Thầy",
        birth_date=date(1980, 1, 1),
        sex="M",
        ethnicity=ethnicity,
        province_code="01",
    )
    StaffAssignment.objects.create(
        person=staff,
        school=tree["b"],
        role="teacher",
        subjects=["TOAN"],
        qualification="bachelor",
        contract_type="permanent",
        starts_on=date(2015, 9, 1),
        province_code="01",
    )
    registry_actions.person_create(
        actor=None,
        full_name="Lý Thị Vắng",
        birth_date=date(2016, 1, 1),
        sex="F",
        ethnicity=ethnicity,
        province_code="48",
    )
    operator = User.objects.create_superuser("root_op", password="pw")
    return {**users, "operator": operator}


def _brute_force(user):
    """The scope of ``user`` computed row by row in Python from the closure table (org roles,
    operators), or by the ``orgs.scope`` sub-queries (teacher, citizen)."""
    from vnemis.orgs.models import OrgClosure, User
    from vnemis.orgs.scope import class_ids_in_scope, is_unrestricted, person_ids_in_scope
    from vnemis.registry.models import Enrolment, Person, StaffAssignment

    if is_unrestricted(user):
        return (
            set(Person.objects.values_list("id", flat=True)),
            set(Enrolment.objects.values_list("id", flat=True)),
            set(SchoolClass.objects.values_list("id", flat=True)),
        )
    if user.role in (User.Role.TEACHER, User.Role.CITIZEN):
        persons = set(Person.objects.filter(id__in=person_ids_in_scope(user)).values_list("id"))
        persons = {p for (p,) in persons}
        if user.role == User.Role.CITIZEN:
            enrolments = set(Enrolment.objects.filter(pupil_id=user.person_id).values_list("id"))
        else:
            enrolments = set(
                Enrolment.objects.filter(school_class_id__in=class_ids_in_scope(user)).values_list(
                    "id"
                )
            )
        classes = set(SchoolClass.objects.filter(id__in=class_ids_in_scope(user)).values_list("id"))
        return persons, {e for (e,) in enrolments}, {c for (c,) in classes}
    orgs = {c.descendant_id for c in OrgClosure.objects.all() if c.ancestor_id == user.scope_id}
    persons = {e.pupil_id for e in Enrolment.objects.all() if e.school_id in orgs}
    persons |= {s.person_id for s in StaffAssignment.objects.all() if s.school_id in orgs}
    enrolments = {e.id for e in Enrolment.objects.all() if e.school_class.school_id in orgs}
    classes = {c.id for c in SchoolClass.objects.all() if c.school_id in orgs}
    return persons, enrolments, classes


def _walk_selector(page_of, limit):
    """Every item of a selector's list, page by page; (items, pages, SQL run)."""
    items, cursor, pages = [], None, 0
    with CaptureQueriesContext(connection) as queries:
        while True:
            page = page_of(cursor=cursor, limit=limit)
            assert len(page.items) <= limit
            items += page.items
            pages += 1
            cursor = page.next_cursor
            if cursor is None:
                break
            assert pages < 500
    return items, pages, [q["sql"] for q in queries.captured_queries]


# Read paths: the defaults (this fixture's scopes are all small); then every scope of more than
# one organisation read as a large one, by tiny batches so pages are cut short.
READ_PATHS = {
    "small": {},
    "large": {
        "SMALL_SCOPE_MAX_ORGS": 0,
        "WALK_FIRST_BATCH": 2,
        "WALK_BATCH": 3,
        "WALK_MAX_BATCHES": 2,
    },
}


@pytest.mark.django_db
@pytest.mark.parametrize("path", list(READ_PATHS))
@pytest.mark.parametrize("limit", [1, 4, 50])
def test_lists_match_the_scope_rules_for_every_role_and_read_path(
    list_world, monkeypatch, path, limit
):
    from vnemis.registry import selectors

    monkeypatch.setattr(selectors, "audit_record", lambda **kwargs: None)
    for name, value in READ_PATHS[path].items():
        monkeypatch.setattr(selectors, name, value)
    for role, user in list_world.items():
        persons, enrolments, classes = _brute_force(user)
        scope = selectors.list_scope(user)
        if path == "large" and role in ("ministry", "operator"):
            assert scope.kind in ("national", "unrestricted")
        if path == "large" and role in ("department", "school", "system"):
            assert scope.kind == "large"

        items, _pages, sql = _walk_selector(
            partial(selectors.persons_page, viewer=user),
            limit,
        )
        keys = [p.education_id for p in items]
        assert keys == sorted(set(keys)), role  # in order, each once
        assert {p.pk for p in items} == persons, role
        items, _pages, sql2 = _walk_selector(
            partial(selectors.enrolments_page, viewer=user),
            limit,
        )
        ids = [e.pk for e in items]
        assert ids == sorted(set(ids)) and set(ids) == enrolments, role
        items, _pages, sql3 = _walk_selector(
            partial(selectors.classes_page, viewer=user),
            limit,
        )
        ids = [c.pk for c in items]
        assert len(ids) == len(set(ids)) and set(ids) == classes, role
        if scope.kind in ("orgs", "personal"):
            order = [(c.grade, c.name, c.pk) for c in items]
        else:
            order = ids
        assert order == sorted(order), role
        assert not [s for s in sql + sql2 + sql3 if re.search(r"\bOFFSET\b", s, re.IGNORECASE)]


@pytest.mark.django_db
@pytest.mark.parametrize("path", list(READ_PATHS))
def test_filtered_lists_match_the_scope_rules(list_world, tree, school_year, monkeypatch, path):
    from vnemis.orgs.scope import organisations_visible
    from vnemis.registry import selectors
    from vnemis.registry.models import Enrolment, StaffAssignment

    monkeypatch.setattr(selectors, "audit_record", lambda **kwargs: None)
    for name, value in READ_PATHS[path].items():
        monkeypatch.setattr(selectors, name, value)
    last_year = SchoolYear.objects.get(code="2024-2025")
    for role, user in list_world.items():
        persons, enrolments, classes = _brute_force(user)
        for school in (tree["a"], tree["b"], tree["c"]):
            if not organisations_visible(user).filter(pk=school.pk).exists():
                continue  # the API answers 403 before any selector runs
            at_school = set(Enrolment.objects.filter(school=school).values_list("pupil_id"))
            at_school |= set(StaffAssignment.objects.filter(school=school).values_list("person_id"))
            expected = persons & {p for (p,) in at_school}
            items, _, _ = _walk_selector(
                partial(selectors.persons_page, viewer=user, school=school),
                3,
            )
            assert {p.pk for p in items} == expected, (role, school.code)
            for year in (None, school_year, last_year):
                for status in ("", "studying", "dropped_out"):
                    rows = Enrolment.objects.filter(id__in=enrolments, school=school)
                    if year is not None:
                        rows = rows.filter(school_year=year)
                    if status:
                        rows = rows.filter(status=status)
                    items, _, _ = _walk_selector(
                        partial(
                            selectors.enrolments_page,
                            viewer=user,
                            school=school,
                            school_year=year,
                            status=status,
                        ),
                        2,
                    )
                    assert [e.pk for e in items] == sorted(r.pk for r in rows), (role, school)
                items, _, _ = _walk_selector(
                    partial(selectors.classes_page, viewer=user, school=school, school_year=year),
                    2,
                )
                expected_classes = SchoolClass.objects.filter(id__in=classes, school=school)
                if year is not None:
                    expected_classes = expected_classes.filter(school_year=year)
                assert [c.pk for c in items] == [
                    c.pk for c in expected_classes.order_by("grade", "name", "id")
                ], (role, school.code)
        # Unfiltered by school, filtered by year and status (walked when the scope is large).
        items, _, _ = _walk_selector(
            partial(
                selectors.enrolments_page, viewer=user, school_year=last_year, status="studying"
            ),
            2,
        )
        expected = Enrolment.objects.filter(
            id__in=enrolments, school_year=last_year, status="studying"
        )
        assert [e.pk for e in items] == sorted(e.pk for e in expected), role
        items, _, _ = _walk_selector(
            partial(selectors.classes_page, viewer=user, school_year=last_year),
            2,
        )
        expected = SchoolClass.objects.filter(id__in=classes, school_year=last_year)
        assert {c.pk for c in items} == {c.pk for c in expected}, role


@pytest.mark.django_db
def test_a_large_scope_walk_is_bounded_and_hands_back_a_cursor(list_world, monkeypatch):
    """A page cut short (batches used up) still carries a cursor; each request runs at most
    WALK_MAX_BATCHES batch queries and one fetch, whatever the page size."""
    from vnemis.registry import selectors

    for name, value in READ_PATHS["large"].items():
        monkeypatch.setattr(selectors, name, value)
    # Đà Nẵng: a large scope on this path, whose persons come last in education ID order.
    user = list_world["department_dn"]
    with CaptureQueriesContext(connection) as queries:
        page = selectors.persons_page(viewer=user, limit=1)
    # 4 then 3 rows read (two pages' worth, then a batch), all of Hà Nội: cut short, empty.
    assert page.items == [] and page.next_cursor is not None
    # list_scope (closure read, two counts), 2 batches, 1 fetch, 1 audit entry at most
    assert len(queries.captured_queries) <= 3 + 2 + 1 + 1
    # A cursor of a cut-short page is a plain persons cursor: the API accepts it too.
    token = api_token_create(user=user, name="t")[1]
    from django.test import Client

    response = call(Client(), "/persons", token, cursor=page.next_cursor)
    assert response.status_code == 200


@pytest.mark.django_db
def test_list_audit_entries_name_the_persons_handed_out(list_world, monkeypatch):
    from vnemis.registry import selectors

    for name, value in READ_PATHS["large"].items():
        monkeypatch.setattr(selectors, name, value)
    user = list_world["ministry"]
    page = selectors.persons_page(viewer=user, limit=3)
    entry = AuditEntry.objects.filter(object_type="person_list").latest("id")
    assert entry.detail["ids"] == [p.pk for p in page.items] and len(page.items) == 3
    page = selectors.enrolments_page(viewer=user, status="studying", limit=2)
    entry = AuditEntry.objects.filter(object_type="enrolment_list").latest("id")
    assert entry.detail["ids"] == [e.pupil_id for e in page.items]


@pytest.mark.django_db
def test_school_enrolment_list_reads_the_school_id_index(list_world, tree):
    """PostgreSQL only: a school's enrolments in id order come from index (school, id), with
    no sort and no scan of the primary key."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL plans only")
    from vnemis.registry import selectors

    user = list_world["school_c"]  # two of the ~125 enrolments: an index's job
    with connection.cursor() as cur:
        cur.execute("ANALYZE registry_enrolment")
    with CaptureQueriesContext(connection) as queries:
        selectors.enrolments_page(viewer=user, limit=10)
    sql = next(
        q["sql"]
        for q in queries.captured_queries
        if 'FROM "registry_enrolment"' in q["sql"] and "LIMIT 11" in q["sql"]
    )
    with connection.cursor() as cur:
        cur.execute("SET LOCAL enable_seqscan = off")
        cur.execute("EXPLAIN " + sql)
        plan = "\n".join(row[0] for row in cur.fetchall())
    # Either index on school_id serves it (with a few rows the planner may prefer the foreign
    # key's own index and sort them); what must never happen is a walk of the primary key.
    assert "Index Cond: (school_id =" in plan, plan
    assert "registry_enrolment_pkey" not in plan, plan
