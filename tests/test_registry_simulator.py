"""The population-registry simulator, over real HTTP against its own process: access rules,
verification (single and batch), quota, latency and fault modes, statistics, cohort extract
and a request log free of personal data."""

import http.client
import io
import subprocess
import sys
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from urllib.parse import urlsplit

import httpx
import polars as pl
import pytest
from registry_sim_support import citizen, running_simulator, write_citizens

AN = citizen(
    "001217001234", "Nguyễn Văn An", date(2017, 3, 14), "M", birth_province_code="01",
    father_name="Nguyễn Văn Bảo", mother_name="Lê Thị Cúc",
)  # fmt: skip
BINH = citizen("001313002345", "Trần Thị Bình", date(2013, 6, 2), "F", birth_province_code="01")
HA = citizen("079318004321", "Đỗ Thu Hà", date(2018, 8, 9), "F", birth_province_code="79")
OLD = citizen("079085003456", "Lê Văn Cường", date(1985, 1, 20), "M", birth_province_code="79")
REGISTRY = [AN, BINH, HA, OLD]
VERIFY = "/api/v1/citizens/verify"
BATCH = "/api/v1/citizens/verify/batch"
EXTRACT = "/api/v1/extracts/cohort"
PERSONAL = [p["citizen_id"] for p in REGISTRY] + ["Nguy", "Trần", "Bình", "Đỗ", "Cường"]


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    folder = tmp_path_factory.mktemp("registry")
    path = write_citizens(folder / "citizens.parquet", REGISTRY)
    with running_simulator(
        path,
        client=["vnemis:dev-secret:verify,extract", "narrow:pw:verify"],
        log=folder / "sim.log",
    ) as handle:
        yield handle


@pytest.fixture
def api(sim):
    sim.calm()
    with httpx.Client(
        base_url=sim.url, headers={"Authorization": f"Bearer {sim.token()}"}, timeout=5
    ) as client:
        yield client
    sim.calm()


def item(person, **changes):
    return {
        "citizen_id": person["citizen_id"],
        "full_name": person["full_name"],
        "birth_date": person["birth_date"].isoformat(),
        "sex": person["sex"],
        **changes,
    }


def token_of(sim, client_id, secret, **more):
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    return httpx.post(f"{sim.url}/oauth/token", data={**form, **more})


# --- access ---------------------------------------------------------------------------------


def test_health_needs_no_token(sim):
    response = httpx.get(f"{sim.url}/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok", "citizens": 4}


def test_client_credentials_give_a_bearer_token_by_form_json_or_basic(sim):
    by_form = token_of(sim, "vnemis", "dev-secret")
    assert by_form.status_code == 200
    body = by_form.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert len(body["access_token"]) >= 32 and body["scope"] == "extract verify"
    assert by_form.headers["cache-control"] == "no-store"
    by_json = httpx.post(
        f"{sim.url}/oauth/token",
        json={"grant_type": "client_credentials", "client_id": "narrow", "client_secret": "pw"},
    )
    assert by_json.status_code == 200 and by_json.json()["scope"] == "verify"
    by_basic = httpx.post(
        f"{sim.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=("vnemis", "dev-secret"),
    )
    assert by_basic.status_code == 200 and by_basic.json()["access_token"] != body["access_token"]


@pytest.mark.parametrize(
    ("client_id", "secret", "more", "status", "code"),
    [
        ("vnemis", "wrong", {}, 401, "invalid_client"),
        ("nobody", "dev-secret", {}, 401, "invalid_client"),
        ("vnemis", "dev-secret", {"grant_type": "password"}, 400, "unsupported_grant_type"),
        ("", "", {}, 400, "invalid_request"),
        ("narrow", "pw", {"scope": "extract"}, 400, "invalid_scope"),
    ],
)
def test_bad_token_requests_are_refused(sim, client_id, secret, more, status, code):
    response = token_of(sim, client_id, secret, **more)
    assert response.status_code == status and response.json()["error"]["code"] == code
    assert "access_token" not in response.json()


def test_api_calls_need_a_valid_token(sim):
    for headers in ({}, {"Authorization": "Bearer forged"}, {"Authorization": "Basic eDp5"}):
        response = httpx.post(f"{sim.url}{VERIFY}", json=item(AN), headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_token"
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_scopes_are_enforced(sim):
    narrow = token_of(sim, "narrow", "pw").json()["access_token"]
    refused = httpx.post(
        f"{sim.url}{EXTRACT}",
        json={"birth_years": [2017]},
        headers={"Authorization": f"Bearer {narrow}"},
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "insufficient_scope"
    allowed = httpx.post(
        f"{sim.url}{VERIFY}", json=item(AN), headers={"Authorization": f"Bearer {narrow}"}
    )
    assert allowed.status_code == 200
    # A token asked for with fewer scopes than the client has is limited to them.
    verify_only = sim.token(scope="verify")
    refused = httpx.post(
        f"{sim.url}{EXTRACT}",
        json={"birth_years": [2017]},
        headers={"Authorization": f"Bearer {verify_only}"},
    )
    assert refused.status_code == 403


def test_tokens_expire(tmp_path):
    path = write_citizens(tmp_path / "c.parquet", [AN])
    with running_simulator(path, token_ttl=1) as sim:
        reply = token_of(sim, sim.client_id, sim.client_secret).json()
        assert reply["expires_in"] == 1
        headers = {"Authorization": f"Bearer {reply['access_token']}"}
        assert httpx.post(f"{sim.url}{VERIFY}", json=item(AN), headers=headers).status_code == 200
        time.sleep(1.2)
        expired = httpx.post(f"{sim.url}{VERIFY}", json=item(AN), headers=headers)
        assert expired.status_code == 401 and expired.json()["error"]["code"] == "invalid_token"


def test_unknown_paths_and_wrong_methods(sim, api):
    assert api.get("/api/v1/citizens/001217001234").status_code == 404
    wrong = api.get(VERIFY)
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
    assert wrong.json()["error"]["code"] == "method_not_allowed"
    assert api.delete("/oauth/token").status_code == 405


# --- verification ---------------------------------------------------------------------------


def test_a_match_answers_per_field_and_never_returns_data(api):
    response = api.post(VERIFY, json=item(AN))
    body = response.json()
    assert set(body) == {"result", "fields", "request_id"}
    assert body["result"] == "found"
    assert body["fields"] == {"full_name": "match", "birth_date": "match", "sex": "match"}
    assert response.headers["x-request-id"] == body["request_id"]
    assert "Nguy" not in response.text and "2017" not in response.text


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"full_name": "Nguyễn Văn Ân"}, "full_name"),
        ({"full_name": "Nguyen Van An"}, "full_name"),  # no fuzzy matching: diacritics count
        ({"full_name": "Văn Nguyễn An"}, "full_name"),
        ({"birth_date": "2017-03-15"}, "birth_date"),
        ({"sex": "F"}, "sex"),
    ],
)
def test_each_field_mismatch_is_named(api, changes, field):
    body = api.post(VERIFY, json=item(AN, **changes)).json()
    assert body["result"] == "found"
    assert [k for k, v in body["fields"].items() if v == "mismatch"] == [field]


def test_case_spacing_and_nfd_are_not_mismatches(api):
    for name in (
        "NGUYỄN VĂN AN",
        "  nguyễn   văn an ",
        "Nguyễn\tVăn\u00a0An",
        unicodedata.normalize("NFD", "Nguyễn Văn An"),
    ):
        fields = api.post(VERIFY, json=item(AN, full_name=name)).json()["fields"]
        assert fields["full_name"] == "match", name
    nfd = unicodedata.normalize("NFD", "ĐỖ THU HÀ")
    assert api.post(VERIFY, json=item(HA, full_name=nfd)).json()["fields"]["full_name"] == "match"


def test_unknown_id_is_not_found(api):
    body = api.post(VERIFY, json=item(AN, citizen_id="001217009999")).json()
    assert body["result"] == "not_found" and "fields" not in body and body["request_id"]


@pytest.mark.parametrize(
    ("payload", "code", "field"),
    [
        ({"full_name": "A", "birth_date": "2017-03-14", "sex": "M"}, "missing_field", "citizen_id"),
        (item(AN, full_name="   "), "missing_field", "full_name"),
        (item(AN, sex=None), "missing_field", "sex"),
        (item(AN, citizen_id="12345"), "invalid_citizen_id", "citizen_id"),
        (item(AN, citizen_id=1217001234), "invalid_citizen_id", "citizen_id"),
        (item(AN, citizen_id="001217001234\n"), "invalid_citizen_id", "citizen_id"),
        (item(AN, citizen_id="٠٠١٢١٧٠٠١٢٣٤"), "invalid_citizen_id", "citizen_id"),
        (item(AN, full_name=["Nguyễn"]), "invalid_full_name", "full_name"),
        (item(AN, full_name="A" * 201), "invalid_full_name", "full_name"),
        (item(AN, birth_date="14/03/2017"), "invalid_date", "birth_date"),
        (item(AN, birth_date="20170314"), "invalid_date", "birth_date"),
        (item(AN, birth_date="2017-02-30"), "invalid_date", "birth_date"),
        (item(AN, sex="X"), "invalid_sex", "sex"),
        (item(AN, sex="m"), "invalid_sex", "sex"),
        ([1, 2], "not_an_object", None),
    ],
)
def test_malformed_single_requests_get_400_naming_the_field(api, payload, code, field):
    response = api.post(VERIFY, json=payload)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == code and error.get("field") == field
    assert error["message"].endswith(".") and (field is None or field in error["message"])


def test_hostile_text_is_refused_or_answered_not_crashed(api):
    lone = b'{"citizen_id":"001217001234","full_name":"Nguy\\ud800n","birth_date":"2017-03-14","sex":"M"}'
    response = api.post(VERIFY, content=lone, headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["field"] == "full_name"
    refs = b'{"items":[{"ref":"\\udfff","citizen_id":"001217001234","full_name":"A","birth_date":"2017-03-14","sex":"M"}]}'
    response = api.post(BATCH, content=refs, headers={"Content-Type": "application/json"})
    assert response.status_code == 200 and response.json()["items"][0]["result"] == "found"
    deep = b"[" * 100_000 + b"]" * 100_000
    response = api.post(VERIFY, content=deep, headers={"Content-Type": "application/json"})
    assert response.status_code == 400


@pytest.mark.parametrize("body", [b"{not json", b"", b"\xff\xfe", b"   "])
def test_non_json_bodies_are_refused(api, body):
    for path in (VERIFY, BATCH, EXTRACT):
        response = api.post(path, content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_json"


def test_batch_answers_in_order_and_reports_bad_items_alone(api):
    items = [
        {"ref": "1", **item(AN)},
        {"ref": "2", **item(BINH, full_name="Trần Thị Bích")},
        {"ref": "3", **item(AN, citizen_id="abc")},
        {"ref": "4", **item(OLD, citizen_id="079085009999")},
        "not an object",
        {"ref": 6, **item(HA, birth_date="2018-08-10", sex="M")},
        {"ref": "7", **item(AN, birth_date=None)},
        {**item(OLD)},
    ]
    response = api.post(BATCH, json={"items": items})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"items", "request_id"}
    answers = body["items"]
    assert [a["ref"] for a in answers] == ["1", "2", "3", "4", None, 6, "7", None]
    assert [a["result"] for a in answers] == [
        "found", "found", "invalid", "not_found", "invalid", "found", "invalid", "found",
    ]  # fmt: skip
    assert answers[0]["fields"] == {"full_name": "match", "birth_date": "match", "sex": "match"}
    assert answers[1]["fields"]["full_name"] == "mismatch"
    assert answers[2]["error"] == {
        "code": "invalid_citizen_id",
        "field": "citizen_id",
        "message": "citizen_id must be a string of 12 digits.",
    }
    assert "fields" not in answers[3] and "error" not in answers[3]
    assert answers[4]["error"]["code"] == "not_an_object"
    assert answers[5]["fields"] == {
        "full_name": "match", "birth_date": "mismatch", "sex": "mismatch",
    }  # fmt: skip
    assert answers[6]["error"]["field"] == "birth_date"


def test_batch_limit_empty_and_shapeless_batches(api):
    response = api.post(BATCH, json={"items": [item(AN)] * 1001})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "batch_too_large"
    assert "1000" in response.json()["error"]["message"]
    for payload in ({"items": []}, {"items": "x"}, {}, [item(AN)]):
        response = api.post(BATCH, json=payload)
        assert response.status_code == 400 and response.json()["error"]["field"] == "items"
    full = api.post(BATCH, json={"items": [{"ref": str(i), **item(AN)} for i in range(1000)]})
    assert full.status_code == 200
    assert [a["ref"] for a in full.json()["items"]] == [str(i) for i in range(1000)]


def test_concurrent_batches_are_answered_correctly(sim, api):
    people = [AN, BINH, HA, OLD]

    def batch(k: int) -> list[str]:
        items = [
            {"ref": f"{k}-{i}", **item(people[(k + i) % 4], sex="F" if i % 3 == 0 else None)}
            for i in range(200)
        ]
        for i, it in enumerate(items):
            if it["sex"] is None:
                it["sex"] = people[(k + i) % 4]["sex"]
        answers = api.post(BATCH, json={"items": items}).json()["items"]
        assert [a["ref"] for a in answers] == [it["ref"] for it in items]
        return [a["fields"]["sex"] for a in answers]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(batch, range(24)))
    for k, sexes in enumerate(results):
        expected = [
            "match" if (i % 3 != 0 or people[(k + i) % 4]["sex"] == "F") else "mismatch"
            for i in range(200)
        ]
        assert sexes == expected


def test_connections_are_kept_alive(sim):
    address = urlsplit(sim.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=5)
    headers = {"Authorization": f"Bearer {sim.token()}", "Content-Type": "application/json"}
    connection.request("POST", VERIFY, body=b"{}", headers=headers)
    first = connection.getresponse()
    first.read()
    socket_used = connection.sock
    connection.request("POST", VERIFY, body=b"[]", headers=headers)
    second = connection.getresponse()
    second.read()
    assert first.status == second.status == 400 and connection.sock is socket_used
    connection.close()


# --- quota, latency and faults --------------------------------------------------------------


def test_quota_answers_429_with_retry_after(tmp_path):
    path = write_citizens(tmp_path / "c.parquet", [AN])
    with running_simulator(path, quota=3, quota_window=30) as sim:
        headers = {"Authorization": f"Bearer {sim.token()}"}
        codes = [httpx.post(f"{sim.url}{VERIFY}", json=item(AN), headers=headers) for _ in range(4)]
        assert [r.status_code for r in codes] == [200, 200, 200, 429]
        assert 1 <= int(codes[-1].headers["Retry-After"]) <= 30
        assert codes[-1].json()["error"]["code"] == "quota_exceeded"
        # The quota is per client; token requests do not count against it.
        assert httpx.get(f"{sim.url}/healthz").status_code == 200
        assert sim.stats()["by_status"]["429"] == 1


def test_scripted_faults_apply_in_order(sim, api):
    sim.configure(fail_next=["500", "429", "drop", "timeout", "slow"], hang_s=1.5, slow_ms=300)
    failed = api.post(VERIFY, json=item(AN))
    assert failed.status_code == 500 and failed.json()["error"]["code"] == "internal_error"
    limited = api.post(VERIFY, json=item(AN))
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
    assert limited.json()["error"]["code"] == "rate_limited"
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        api.post(BATCH, json={"items": [item(AN)]})
    started = time.perf_counter()
    with pytest.raises(httpx.ReadTimeout):
        api.post(VERIFY, json=item(AN), timeout=0.5)
    assert time.perf_counter() - started < 1.4
    started = time.perf_counter()
    slow = api.post(VERIFY, json=item(AN))
    assert slow.status_code == 200 and time.perf_counter() - started >= 0.3
    assert api.post(VERIFY, json=item(AN)).status_code == 200  # the script is used up
    assert sim.configure()["fail_next"] == []


def test_faults_apply_only_after_authentication(sim):
    sim.configure(fail_next=["500"])
    anonymous = httpx.post(f"{sim.url}{VERIFY}", json=item(AN))
    assert anonymous.status_code == 401
    assert sim.configure()["fail_next"] == ["500"]
    assert token_of(sim, "vnemis", "dev-secret").status_code == 200
    headers = {"Authorization": f"Bearer {sim.token()}"}
    assert httpx.post(f"{sim.url}{VERIFY}", json=item(AN), headers=headers).status_code == 500
    sim.calm()


def test_latency_jitter_and_slow_answers(sim, api):
    sim.configure(latency_ms=200)
    started = time.perf_counter()
    api.post(VERIFY, json=item(AN))
    assert time.perf_counter() - started >= 0.2
    started = time.perf_counter()
    token_of(sim, "vnemis", "dev-secret")
    assert time.perf_counter() - started >= 0.2  # every answer, the token's too
    sim.configure(latency_ms=0, jitter_ms=100)
    for _ in range(3):
        started = time.perf_counter()
        api.post(VERIFY, json=item(AN))
        assert time.perf_counter() - started < 0.5
    sim.configure(jitter_ms=0, slow_rate=1.0, slow_ms=300)
    started = time.perf_counter()
    assert api.post(VERIFY, json=item(AN)).status_code == 200
    assert time.perf_counter() - started >= 0.3


@pytest.mark.parametrize(
    ("setting", "check"),
    [
        ("error_500_rate", lambda r: r.status_code == 500),
        ("error_429_rate", lambda r: r.status_code == 429 and r.headers["Retry-After"] == "1"),
    ],
)
def test_random_error_faults(sim, api, setting, check):
    sim.configure(**{setting: 1.0})
    assert check(api.post(VERIFY, json=item(AN)))


def test_random_drop_and_timeout_faults(sim, api):
    sim.configure(drop_rate=1.0)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        api.post(VERIFY, json=item(AN))
    sim.configure(drop_rate=0, timeout_rate=1.0, hang_s=1)
    with pytest.raises(httpx.ReadTimeout):
        api.post(VERIFY, json=item(AN), timeout=0.3)


def test_random_faults_follow_their_rate_and_seed(sim, api):
    sim.configure(error_500_rate=0.3, drop_rate=0.2, seed=7)

    def run() -> list:
        out = []
        for _ in range(60):
            try:
                out.append(api.post(VERIFY, json=item(AN)).status_code)
            except httpx.TransportError:
                out.append("drop")
        return out

    first = run()
    sim.configure(seed=7)
    assert run() == first
    assert 8 < first.count(500) < 30 and 3 < first.count("drop") < 24
    sim.configure(seed=8)
    assert run() != first


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"fail_next": ["explode"]}, "explode"),
        ({"fail_next": "500"}, "fail_next"),
        ({"nonsense_rate": 0.1}, "nonsense_rate"),
        ({"error_500_rate": 1.5}, "between 0 and 1"),
        ({"error_500_rate": 0.6, "drop_rate": 0.6}, "at most 1"),
        ({"latency_ms": -1}, "latency_ms"),
        ({"seed": "x"}, "seed"),
    ],
)
def test_bad_fault_settings_are_refused(sim, settings, words):
    response = httpx.post(
        f"{sim.url}/_sim/config", json=settings, headers={"X-Admin-Key": sim.admin_key}
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_config"
    assert words in response.json()["error"]["message"]
    assert sim.configure()["error_500_rate"] == 0  # nothing changed


def test_admin_endpoints_need_the_admin_key(sim):
    for method, path in (("POST", "/_sim/config"), ("GET", "/_sim/config"),
                         ("GET", "/_sim/stats"), ("POST", "/_sim/reset")):  # fmt: skip
        for headers in ({}, {"X-Admin-Key": "guess"}):
            response = httpx.request(method, f"{sim.url}{path}", json={}, headers=headers)
            assert response.status_code == 401
    config = httpx.get(f"{sim.url}/_sim/config", headers={"X-Admin-Key": sim.admin_key}).json()
    assert config["config"]["hang_s"] > 0 and "seed" in config["config"]


def test_fault_options_on_the_command_line(tmp_path):
    path = write_citizens(tmp_path / "c.parquet", [AN])
    with running_simulator(path, fail_next="429,500", error_500_rate=0.0, seed=3) as sim:
        headers = {"Authorization": f"Bearer {sim.token()}"}
        codes = [
            httpx.post(f"{sim.url}{VERIFY}", json=item(AN), headers=headers).status_code
            for _ in range(3)
        ]
        assert codes == [429, 500, 200]
        assert sim.configure()["seed"] == 3


def test_stats_count_requests_statuses_faults_items_and_clients(sim, api):
    sim.reset_stats()
    api.post(VERIFY, json=item(AN))
    api.post(BATCH, json={"items": [item(AN), item(BINH), item(AN, sex="Q")]})
    api.post(VERIFY, json=item(AN, sex="Q"))
    sim.configure(fail_next=["500", "drop"])
    api.post(VERIFY, json=item(AN))
    with pytest.raises(httpx.TransportError):
        api.post(VERIFY, json=item(AN))
    httpx.post(f"{sim.url}{VERIFY}", json=item(AN))
    stats = sim.stats()
    assert stats["requests"] == 6
    assert stats["items_verified"] == 3  # the valid ones
    assert stats["by_status"] == {"200": 2, "400": 1, "500": 1, "401": 1}
    assert stats["by_fault"] == {"500": 1, "drop": 1}
    assert stats["by_endpoint"] == {VERIFY: 5, BATCH: 1}
    assert stats["per_client"] == {"vnemis": {"requests": 5, "items_verified": 3}}
    assert stats["counts"]["items_verified"] == 3 and stats["counts"]["fault_drop"] == 1


# --- cohort extract -------------------------------------------------------------------------


def _extract(api, payload) -> pl.DataFrame:
    response = api.post(EXTRACT, json=payload)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/vnd.apache.parquet"
    return pl.read_parquet(io.BytesIO(response.content))


def test_cohort_extract_filters_by_birth_year_and_province(api):
    frame = _extract(api, {"birth_years": [2017, 2013, 2018]})
    assert frame.columns == [
        "citizen_id", "full_name", "full_name_ascii", "family_name", "given_name",
        "birth_date", "sex", "birth_province_code", "father_name", "mother_name",
    ]  # fmt: skip
    assert frame["citizen_id"].to_list() == sorted(
        [AN["citizen_id"], BINH["citizen_id"], HA["citizen_id"]]
    )
    an = frame.filter(pl.col("citizen_id") == AN["citizen_id"]).row(0, named=True)
    assert an["full_name_ascii"] == "nguyen van an"
    assert (an["family_name"], an["given_name"]) == ("Nguyễn", "An")
    assert (an["father_name"], an["mother_name"]) == ("Nguyễn Văn Bảo", "Lê Thị Cúc")
    assert an["birth_date"] == AN["birth_date"] and an["sex"] == "M"
    ha = frame.filter(pl.col("citizen_id") == HA["citizen_id"]).row(0, named=True)
    assert ha["full_name_ascii"] == "do thu ha"
    south = _extract(api, {"birth_years": [2017, 2018], "birth_province_codes": ["79"]})
    assert south["citizen_id"].to_list() == [HA["citizen_id"]]
    assert len(_extract(api, {"birth_years": [1999]})) == 0


def test_ascii_names_from_nfd_and_upper_case(tmp_path):
    stored = unicodedata.normalize("NFD", "ĐẶNG  Thị Ngọc Ánh")
    path = write_citizens(
        tmp_path / "c.parquet", [citizen("001312000001", stored, date(2012, 1, 1), "F")]
    )
    with running_simulator(path) as sim:
        response = httpx.post(
            f"{sim.url}{EXTRACT}",
            json={"birth_years": [2012]},
            headers={"Authorization": f"Bearer {sim.token()}"},
        )
        row = pl.read_parquet(io.BytesIO(response.content)).row(0, named=True)
        assert row["full_name_ascii"] == "dang thi ngoc anh"
        assert row["family_name"] == unicodedata.normalize("NFC", "ĐẶNG")
        assert row["given_name"] == unicodedata.normalize("NFC", "Ánh")


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"birth_years": list(range(2010, 2016))}, "too_many_years"),
        ({"birth_years": "2017"}, "invalid_birth_years"),
        ({"birth_years": []}, "invalid_birth_years"),
        ({"birth_years": [True]}, "invalid_birth_years"),
        ({"birth_years": [17]}, "invalid_birth_years"),
        ({}, "invalid_birth_years"),
        ({"birth_years": [2017], "birth_province_codes": "01"}, "invalid_provinces"),
        ({"birth_years": [2017], "birth_province_codes": ["1"]}, "invalid_provinces"),
    ],
)
def test_bad_extract_requests_are_refused(api, payload, code):
    response = api.post(EXTRACT, json=payload)
    assert response.status_code == 400 and response.json()["error"]["code"] == code
    if code == "too_many_years":
        assert "at most 5 birth years" in response.json()["error"]["message"]


def test_five_years_are_allowed_and_repeats_count_once(api):
    assert len(_extract(api, {"birth_years": [2013, 2014, 2015, 2016, 2017, 2017]})) == 2


# --- the process ----------------------------------------------------------------------------


def test_the_log_holds_no_personal_data(sim, api):
    api.post(VERIFY, json=item(AN))
    api.post(BATCH, json={"items": [item(BINH), item(HA, citizen_id="bad")]})
    api.post(VERIFY, json=item(OLD, sex="?"))
    api.post(EXTRACT, json={"birth_years": [2017]})
    api.get(f"/api/v1/citizens/{AN['citizen_id']}?name=Nguyễn")
    sim.configure(fail_next=["drop"])
    with pytest.raises(httpx.TransportError):
        api.post(VERIFY, json=item(HA))
    text = sim.log_text()
    assert f"POST {VERIFY} 200" in text and f"POST {BATCH} 200" in text
    assert "client=vnemis" in text and "fault=drop" in text and "items=1" in text
    for value in PERSONAL:
        assert value not in text


def test_sigterm_stops_the_simulator_cleanly(tmp_path):
    path = write_citizens(tmp_path / "c.parquet", [AN])
    with running_simulator(path, hang_s=30) as sim:
        sim.configure(fail_next=["timeout"])
        headers = {"Authorization": f"Bearer {sim.token()}"}
        with pytest.raises(httpx.ReadTimeout):  # a hanging answer must not hold up the stop
            httpx.post(f"{sim.url}{VERIFY}", json=item(AN), headers=headers, timeout=0.3)
        started = time.perf_counter()
        sim.process.terminate()
        assert sim.process.wait(timeout=5) == 0
        assert time.perf_counter() - started < 3
        assert "registry simulator stopped" in sim.log_text()


def test_bad_citizens_files_stop_the_start_with_a_reason(tmp_path):
    twice = write_citizens(tmp_path / "twice.parquet", [AN, AN])
    short = write_citizens(tmp_path / "short.parquet", [{**AN, "citizen_id": "123"}])
    for path, words in (
        (tmp_path / "missing.parquet", "Cannot read"),
        (twice, "appear twice"),
        (short, "12-digit"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "vnemis.identity.simulator", "--citizens", str(path),
             "--port", "0"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode != 0 and words in done.stderr


def test_vnemis_sim_registry_runs_the_same_service(tmp_path):
    path = write_citizens(tmp_path / "c.parquet", REGISTRY)
    command = [sys.executable, "-m", "vnemis.cli", "sim", "registry"]
    with running_simulator(path, command=command, client="svc:s3cret:verify", quiet=True) as sim:
        assert sim.client_id == "svc"
        headers = {"Authorization": f"Bearer {sim.token()}"}
        body = httpx.post(f"{sim.url}{VERIFY}", json=item(AN), headers=headers).json()
        assert body["result"] == "found"
        assert sim.log_text().count("POST") == 0  # --quiet
