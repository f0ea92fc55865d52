"""The population-registry simulator, over real HTTP: its API, access rules and fault modes."""

import io
from datetime import date

import httpx
import polars as pl
import pytest
from registry_sim_support import citizen, running_simulator, write_citizens

AN = citizen("001217001234", "Nguyễn Văn An", date(2017, 3, 14), "M", birth_province_code="01")
BINH = citizen("001313002345", "Trần Thị Bình", date(2013, 6, 2), "F", birth_province_code="01")
OLD = citizen("079085003456", "Lê Văn Cường", date(1985, 1, 20), "M", birth_province_code="79")


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    folder = tmp_path_factory.mktemp("registry")
    path = write_citizens(folder / "citizens.parquet", [AN, BINH, OLD])
    log = folder / "sim.log"
    with running_simulator(
        path,
        "--client",
        "vnemis:dev-secret:verify,extract",
        "--client",
        "narrow:pw:verify",
        log=log,
    ) as handle:
        handle.log = log
        yield handle


@pytest.fixture
def api(sim):
    sim.configure(
        fail_next=[], error_500_rate=0, error_429_rate=0, drop_rate=0, timeout_rate=0, slow_rate=0,
        latency_ms=0,
    )  # fmt: skip
    with httpx.Client(
        base_url=sim.url, headers={"Authorization": f"Bearer {sim.token()}"}, timeout=5
    ) as client:
        yield client


def item(person, **changes):
    return {
        "citizen_id": person["citizen_id"],
        "full_name": person["full_name"],
        "birth_date": person["birth_date"].isoformat(),
        "sex": person["sex"],
        **changes,
    }


def test_a_match_answers_per_field_and_never_returns_data(api):
    body = api.post("/api/v1/citizens/verify", json=item(AN)).json()
    assert body["result"] == "found"
    assert body["fields"] == dict.fromkeys(
        ("citizen_id", "full_name", "birth_date", "sex"), "match"
    )
    assert "Nguyễn" not in str(body) and "2017" not in str(body)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"full_name": "Nguyễn Văn Ân"}, "full_name"),
        ({"birth_date": "2017-03-15"}, "birth_date"),
        ({"sex": "F"}, "sex"),
    ],
)
def test_each_field_mismatch_is_named(api, changes, field):
    fields = api.post("/api/v1/citizens/verify", json=item(AN, **changes)).json()["fields"]
    assert [k for k, v in fields.items() if v == "mismatch"] == [field]


def test_case_spacing_and_nfd_do_not_count_as_mismatch(api):
    import unicodedata

    for name in (
        "NGUYỄN VĂN AN",
        "  nguyễn   văn an ",
        unicodedata.normalize("NFD", "Nguyễn Văn An"),
    ):
        assert (
            api.post("/api/v1/citizens/verify", json=item(AN, full_name=name)).json()["fields"][
                "full_name"
            ]
            == "match"
        )


def test_unknown_id_is_not_found(api):
    body = api.post("/api/v1/citizens/verify", json=item(AN, citizen_id="001217009999")).json()
    assert body["result"] == "not_found" and "fields" not in body


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"full_name": "A", "birth_date": "2017-03-14", "sex": "M"}, "missing_field"),
        (item(AN, citizen_id="12345"), "invalid_citizen_id"),
        (item(AN, birth_date="14/03/2017"), "invalid_date"),
        (item(AN, sex="X"), "invalid_sex"),
        ([1, 2], "not_an_object"),
    ],
)
def test_malformed_single_requests_get_400_naming_the_problem(api, payload, code):
    response = api.post("/api/v1/citizens/verify", json=payload)
    assert response.status_code == 400 and response.json()["error"]["code"] == code


def test_non_json_body_is_refused(api):
    response = api.post(
        "/api/v1/citizens/verify",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_json"


def test_batch_answers_in_order_and_reports_bad_items_alone(api):
    items = [
        {"ref": "1", **item(AN)},
        {"ref": "2", **item(BINH, full_name="Trần Thị Bích")},
        {"ref": "3", **item(AN, citizen_id="abc")},
        {"ref": "4", **item(OLD, citizen_id="079085009999")},
    ]
    answers = api.post("/api/v1/citizens/verify/batch", json={"items": items}).json()["items"]
    assert [a["ref"] for a in answers] == ["1", "2", "3", "4"]
    assert [a["result"] for a in answers] == ["found", "found", "invalid", "not_found"]
    assert answers[1]["fields"]["full_name"] == "mismatch"
    assert answers[2]["error"]["field"] == "citizen_id"


def test_batch_limit_and_empty_batch(api):
    too_many = {"items": [item(AN)] * 1001}
    response = api.post("/api/v1/citizens/verify/batch", json=too_many)
    assert response.status_code == 413 and "1000" in response.json()["error"]["message"]
    assert api.post("/api/v1/citizens/verify/batch", json={"items": []}).status_code == 400
    full = api.post("/api/v1/citizens/verify/batch", json={"items": [item(AN)] * 1000})
    assert full.status_code == 200 and len(full.json()["items"]) == 1000


def test_tokens_required_checked_and_scoped(sim):
    anonymous = httpx.post(f"{sim.url}/api/v1/citizens/verify", json=item(AN))
    assert anonymous.status_code == 401
    forged = httpx.post(
        f"{sim.url}/api/v1/citizens/verify",
        json=item(AN),
        headers={"Authorization": "Bearer forged"},
    )
    assert forged.status_code == 401
    bad = httpx.post(
        f"{sim.url}/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "vnemis", "client_secret": "no"},
    )
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "invalid_client"
    narrow = httpx.post(
        f"{sim.url}/oauth/token",
        json={"grant_type": "client_credentials", "client_id": "narrow", "client_secret": "pw"},
    ).json()["access_token"]
    refused = httpx.post(
        f"{sim.url}/api/v1/extracts/cohort",
        json={"birth_years": [2017]},
        headers={"Authorization": f"Bearer {narrow}"},
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "insufficient_scope"


def test_tokens_expire(tmp_path):
    path = write_citizens(tmp_path / "c.parquet", [AN])
    with running_simulator(path, "--token-ttl", "1") as sim:
        token = sim.token()
        headers = {"Authorization": f"Bearer {token}"}
        assert (
            httpx.post(
                f"{sim.url}/api/v1/citizens/verify", json=item(AN), headers=headers
            ).status_code
            == 200
        )
        import time

        time.sleep(1.2)
        expired = httpx.post(f"{sim.url}/api/v1/citizens/verify", json=item(AN), headers=headers)
        assert expired.status_code == 401


def test_quota_answers_429_with_retry_after(tmp_path):
    path = write_citizens(tmp_path / "c.parquet", [AN])
    with running_simulator(path, "--quota", "3", "--quota-window", "30") as sim:
        headers = {"Authorization": f"Bearer {sim.token()}"}
        codes = [
            httpx.post(f"{sim.url}/api/v1/citizens/verify", json=item(AN), headers=headers)
            for _ in range(4)
        ]
        assert [r.status_code for r in codes] == [200, 200, 200, 429]
        assert int(codes[-1].headers["Retry-After"]) >= 1
        assert codes[-1].json()["error"]["code"] == "quota_exceeded"


def test_scripted_faults_500_429_drop_and_timeout(sim, api):
    sim.configure(fail_next=["500", "429", "drop", "timeout"], hang_s=1.5)
    assert api.post("/api/v1/citizens/verify", json=item(AN)).status_code == 500
    limited = api.post("/api/v1/citizens/verify", json=item(AN))
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
    with pytest.raises(httpx.TransportError):
        api.post("/api/v1/citizens/verify", json=item(AN))
    with pytest.raises(httpx.ReadTimeout):
        api.post("/api/v1/citizens/verify", json=item(AN), timeout=0.5)
    assert api.post("/api/v1/citizens/verify", json=item(AN)).status_code == 200
    stats = sim.stats()
    assert stats["fault_500"] >= 1 and stats["fault_drop"] >= 1 and stats["fault_timeout"] >= 1


def test_latency_and_slow_answers(sim, api):
    import time

    sim.configure(latency_ms=200)
    started = time.perf_counter()
    api.post("/api/v1/citizens/verify", json=item(AN))
    assert time.perf_counter() - started >= 0.2
    sim.configure(latency_ms=0, slow_rate=1.0, slow_ms=300)
    started = time.perf_counter()
    api.post("/api/v1/citizens/verify", json=item(AN))
    assert time.perf_counter() - started >= 0.3


def test_random_faults_follow_their_rate_and_seed(sim, api):
    sim.configure(error_500_rate=0.5, seed=7)
    first = [api.post("/api/v1/citizens/verify", json=item(AN)).status_code for _ in range(40)]
    sim.configure(error_500_rate=0.5, seed=7)
    second = [api.post("/api/v1/citizens/verify", json=item(AN)).status_code for _ in range(40)]
    assert first == second and 8 < first.count(500) < 32


def test_bad_fault_settings_are_refused(sim):
    response = httpx.post(
        f"{sim.url}/_sim/config",
        json={"fail_next": ["explode"]},
        headers={"X-Admin-Key": "sim-admin"},
    )
    assert response.status_code == 400 and "explode" in response.json()["error"]["message"]
    assert httpx.post(f"{sim.url}/_sim/config", json={}).status_code == 401


def test_cohort_extract_filters_years_and_caps_them(api):
    response = api.post("/api/v1/extracts/cohort", json={"birth_years": [2017, 2013]})
    assert response.headers["content-type"] == "application/vnd.apache.parquet"
    frame = pl.read_parquet(io.BytesIO(response.content))
    assert sorted(frame["citizen_id"]) == sorted([BINH["citizen_id"], AN["citizen_id"]])
    assert "nguyen van an" in frame["full_name_ascii"].to_list()
    assert set(frame.columns) >= {"family_name", "given_name", "father_name", "mother_name"}
    capped = api.post("/api/v1/extracts/cohort", json={"birth_years": list(range(2010, 2016))})
    assert capped.status_code == 400 and capped.json()["error"]["code"] == "too_many_years"
    assert api.post("/api/v1/extracts/cohort", json={"birth_years": "2017"}).status_code == 400


def test_the_log_holds_no_personal_data(sim, api):
    api.post("/api/v1/citizens/verify", json=item(AN))
    text = sim.log.read_text()
    assert "/api/v1/citizens/verify" in text
    assert AN["citizen_id"] not in text and "Nguyễn" not in text and "Nguy" not in text
