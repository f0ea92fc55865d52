"""The public result look-up: the page and the JSON API before and after publication, by number
and by citizen ID, malformed input, the cache (hits without SQL, invalidation after an appeal),
the rate limit, what an answer may hold, and the English UI.

Runs on the local-memory cache, and on Redis with REDIS_URL set (a database of its own: it is
flushed around every test)."""

import json
import logging
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.html import escape

from vnemis.core.ratelimit import rate_limit_hit
from vnemis.exams import actions_results, actions_rooms, public
from vnemis.exams.imports import exam_import_file
from vnemis.exams.lookup import lookup_generation_bump, lookup_generation_key
from vnemis.exams.models import ExamSession
from vnemis.registry.citizen_id import make_citizen_id

from .conftest import give_year_results, past

API = "/exams/results/api"
PAGE = "/exams/results/"
AN = "01000001"  # Nguyễn Văn An, Hà Nội school 1: four papers, passed 8.21
AN_CID = make_citizen_id(province3="001", birth_date=date(2008, 3, 1), sex="M", serial=11)
YEARS = {10: {"TOAN": "7.0", "VAN": "8.0"}, 11: {"TOAN": "8.0", "VAN": "8.0"},
         12: {"TOAN": "8.5", "VAN": "8.0"}}  # fmt: skip
ANSWER_KEYS = {"year", "full_name", "birth_date", "scores", "graduation_score", "result",
               "result_vi", "result_en"}  # fmt: skip


@pytest.fixture(autouse=True)
def clean_cache():
    cache.clear()
    public._generations.clear()
    yield
    cache.clear()
    public._generations.clear()


@pytest.fixture
def built(exam_session, registered, high_schools, settings, tmp_path):
    """Everyone numbered and graduated, the look-up table built; publication still ahead."""
    settings.VAR_DIR = tmp_path / "var"
    for province in ("01", "48"):
        actions_rooms.venues_from_units(actor=None, session=exam_session, province_code=province)
        actions_rooms.seating_assign(actor=None, session=exam_session, province_code=province)
    for grade, scores in YEARS.items():
        give_year_results(registered["an"].person, high_schools["hn1"], grade, scores)
    path = tmp_path / "diem.csv"
    path.write_text(
        "SBD,Mã môn,Điểm\n01000001,TOAN,8.5\n01000001,VAN,7.75\n01000001,LY,9\n01000001,HOA,8.25\n"
        "01000002,TOAN,4\n01000002,VAN,5\n01000002,LY,6\n",
        encoding="utf-8",
    )
    exam_import_file(path, actor=None, session=exam_session, kind="scores")
    actions_results.session_graduate(actor=None, session=exam_session)
    exam_session.refresh_from_db()
    actions_results.session_publish(actor=None, session=exam_session)
    return registered


@pytest.fixture
def published(built, exam_session):
    past(exam_session)
    return built


def _api(client, number, year="2026", **extra):
    return client.get(f"{API}/{year}/{number}", **extra)


def _by_id(client, citizen_id, year="2026", **extra):
    return client.post(
        f"{API}/{year}/by-citizen-id",
        data=json.dumps({"citizen_id": citizen_id}),
        content_type="application/json",
        **extra,
    )


def _page(client, q, year="2026", **extra):
    return client.post(PAGE, {"q": q, "year": year}, **extra)


# -- publication ------------------------------------------------------------------------------


def test_before_publication_nothing_is_revealed(client, built, settings):
    settings.VNEMIS_LOOKUP_NEGATIVE_CACHE_SECONDS = 0
    known, unknown = _api(client, AN), _api(client, "01009999")
    assert known.status_code == unknown.status_code == 404
    assert known.content == unknown.content  # the same answer: existence is not revealed
    body = known.json()
    assert body["code"] == "not_found" and body["errors"] is None
    assert "năm 2026" in body["message_vi"] and "2026 exam" in body["message_en"]
    assert _by_id(client, AN_CID).json() == _by_id(client, "001208999999").json()
    known_page, unknown_page = _page(client, AN), _page(client, "01009999")
    assert known_page.status_code == unknown_page.status_code == 404
    assert "Nguyễn Văn An" not in known_page.content.decode()
    assert escape(body["message_vi"]) in known_page.content.decode()
    # An unknown year says the same (modulo the year).
    assert _api(client, AN, year="2031").json()["message_en"] == body["message_en"].replace(
        "2026", "2031"
    )


def test_published_from_the_publication_time_on(client, built, exam_session, settings):
    settings.VNEMIS_LOOKUP_NEGATIVE_CACHE_SECONDS = 0
    assert _api(client, AN).status_code == 404
    past(exam_session)
    response = _api(client, AN)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    assert response.json() == {
        "year": 2026,
        "candidate_number": AN,
        "full_name": "Nguyễn Văn An",
        "birth_date": "2008-03-01",
        "scores": [
            {"subject": "VAN", "name_vi": "Ngữ văn", "name_en": "Literature", "score": "7.75",
             "exempt": False},
            {"subject": "TOAN", "name_vi": "Toán", "name_en": "Mathematics", "score": "8.50",
             "exempt": False},
            {"subject": "LY", "name_vi": "Vật lí", "name_en": "Physics", "score": "9.00",
             "exempt": False},
            {"subject": "HOA", "name_vi": "Hoá học", "name_en": "Chemistry", "score": "8.25",
             "exempt": False},
        ],
        "graduation_score": "8.21",
        "result": "passed",
        "result_vi": "Đỗ tốt nghiệp",
        "result_en": "Passed",
    }  # fmt: skip
    incomplete = _api(client, "01000002").json()
    assert (incomplete["graduation_score"], incomplete["result"]) == (None, "incomplete")
    assert [p["subject"] for p in incomplete["scores"]] == ["VAN", "TOAN", "LY"]


def test_a_cached_not_found_lasts_only_the_negative_ttl(client, built, exam_session, settings):
    settings.VNEMIS_LOOKUP_NEGATIVE_CACHE_SECONDS = 10
    assert _api(client, AN).status_code == 404
    past(exam_session)
    # Within the negative TTL the earlier "not found" still answers (the documented bound) ...
    assert _api(client, AN).status_code == 404
    # ... and it is all that is cached: once it expires the result is there.
    key = public._answer_key(2026, public._generations[2026], "n", AN)
    assert cache.get(key) == b""
    cache.delete(key)
    assert _api(client, AN).status_code == 200


def test_by_citizen_id(client, published):
    response = _by_id(client, AN_CID)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == ANSWER_KEYS  # no candidate number: only what was asked for comes back
    assert (body["full_name"], body["graduation_score"]) == ("Nguyễn Văn An", "8.21")
    form = client.post(f"{API}/2026/by-citizen-id", {"citizen_id": AN_CID})
    assert form.status_code == 200 and form.json() == body
    missing = _by_id(client, "001208999999")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert "số định danh cá nhân này" in missing.json()["message_vi"]


def test_citizen_id_never_travels_in_the_url(client, published):
    response = client.get(f"{API}/2026/by-citizen-id", HTTP_X_CITIZEN_ID=AN_CID)
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert response.json()["code"] == "method_not_allowed"
    assert "thân yêu cầu" in response.json()["message_vi"]
    response = client.post(
        f"{API}/2026/by-citizen-id?citizen_id={AN_CID}",
        data=json.dumps({"citizen_id": AN_CID}),
        content_type="application/json",
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["type"] == "citizen_id_in_url"
    assert AN_CID not in response.content.decode()


def test_page_by_number_and_by_citizen_id(client, published):
    form = client.get(PAGE)
    assert form.status_code == 200
    html = form.content.decode()
    assert "Tra cứu điểm thi tốt nghiệp THPT" in html
    assert '<option value="2026" selected>' in html
    assert 'href="/exams/results/"' in html  # the footer link
    response = _page(client, "01 000 001")  # spaces typed between digits are dropped
    assert response.status_code == 200
    html = response.content.decode()
    for text in ("Nguyễn Văn An", "01/03/2008", "Toán", "8.50", "Vật lí", "8.21", "Đỗ tốt nghiệp",
                 AN):  # fmt: skip
        assert text in html
    by_id = _page(client, AN_CID)
    assert by_id.status_code == 200
    html = by_id.content.decode()
    assert "Nguyễn Văn An" in html and AN_CID not in html  # the ID is not written back
    assert "Cache-Control" in by_id and by_id["Cache-Control"] == "no-store"


def test_page_default_year_is_the_latest_published(client, published, school_year):
    now = timezone.now()
    ExamSession.objects.create(
        year=2027, name="Kỳ thi 2027", school_year=school_year,
        registration_opens_at=now - timedelta(days=2), registration_closes_at=now - timedelta(days=1),
        results_publish_at=now + timedelta(days=3),
    )  # fmt: skip
    html = client.get(PAGE).content.decode()
    assert '<option value="2026" selected>' in html and '<option value="2027">' in html
    assert 'id="next-publication"' in html and "Kết quả kỳ thi năm 2027" in html
    # The form posted without a year looks in the latest published session.
    assert "Nguyễn Văn An" in client.post(PAGE, {"q": AN}).content.decode()


def test_an_exempted_paper_shows_as_exempted():
    row = ("X", date(2008, 1, 1), {"N1": "MT", "TOAN": "5.00"}, Decimal("6.00"), "passed")
    answer = json.loads(public._answer_body(2026, row, None))
    assert answer["scores"] == [
        {"subject": "TOAN", "name_vi": "Toán", "name_en": "Mathematics", "score": "5.00",
         "exempt": False},
        {"subject": "N1", "name_vi": "Tiếng Anh", "name_en": "English", "score": None,
         "exempt": True},
    ]  # fmt: skip


# -- malformed input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "year", "field", "kind", "vi"),
    [
        ("0100001", "2026", "candidate_number", "candidate_number_format", "đúng 8 chữ số"),
        ("010000012", "2026", "candidate_number", "candidate_number_format", "đúng 8 chữ số"),
        ("0100000a", "2026", "candidate_number", "candidate_number_format", "đúng 8 chữ số"),
        ("٠١٠٠٠٠٠١", "2026", "candidate_number", "candidate_number_format", "đúng 8 chữ số"),
        ("00000123", "2026", "candidate_number", "candidate_number_council", "bắt đầu bằng 00"),
        ("01000000", "2026", "candidate_number", "candidate_number_sequence", "000001"),
        (AN, "20x6", "year", "year_format", "4 chữ số"),
        (AN, "26", "year", "year_format", "4 chữ số"),
        (AN, "1999", "year", "year_range", "từ 2000 đến 2099"),
    ],
)
def test_api_malformed_number_or_year(client, published, number, year, field, kind, vi):
    response = _api(client, number, year=year)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["errors"] == [{"field": field, "type": kind, "message": body["message_en"]}]
    assert vi in body["message_vi"] and body["message_en"].isascii()


@pytest.mark.parametrize(
    ("payload", "content_type", "kind"),
    [
        ('{"citizen_id": "07920801234"}', "application/json", "citizen_id_format"),
        ('{"citizen_id": "07920801234x"}', "application/json", "citizen_id_format"),
        ('{"citizen_id": "999208012345"}', "application/json", "citizen_id_province"),
        ('{"citizen_id": ""}', "application/json", "citizen_id_missing"),
        ('{"citizen_id": 1208012345}', "application/json", "citizen_id_missing"),
        ("{}", "application/json", "citizen_id_missing"),
        ("[1, 2]", "application/json", "citizen_id_missing"),
        ("{not json", "application/json", "json_invalid"),
        ('{"citizen_id": "' + "1" * 2000 + '"}', "application/json", "too_large"),
        ("citizen_id=0792080", "application/x-www-form-urlencoded", "citizen_id_format"),
    ],
)
def test_api_malformed_citizen_id(client, published, payload, content_type, kind):
    response = client.post(f"{API}/2026/by-citizen-id", data=payload, content_type=content_type)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error" and body["errors"][0]["type"] == kind
    assert body["message_vi"] and body["message_en"]
    assert "0792080" not in response.content.decode()  # never echoed


def test_api_malformed_year_by_citizen_id(client, published):
    response = client.post(f"{API}/year/by-citizen-id", {"citizen_id": AN_CID})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "year"


@pytest.mark.parametrize(
    ("q", "year", "field", "vi"),
    [
        ("", "2026", "q", "Hãy nhập số báo danh"),
        ("abc12345", "2026", "q", "Chỉ nhập chữ số"),
        ("0100001", "2026", "q", "Bạn đã nhập 7 chữ số"),
        ("0010000001", "2026", "q", "Bạn đã nhập 10 chữ số"),
        ("00000123", "2026", "q", "bắt đầu bằng 00"),
        ("999208012345", "2026", "q", "không phải mã tỉnh"),
        (AN, "hai", "year", "Năm thi phải là một số có 4 chữ số"),
        (AN, "3000", "year", "Năm thi phải từ 2000 đến 2099"),
    ],
)
def test_page_malformed_input(client, published, q, year, field, vi):
    response = _page(client, q, year=year)
    assert response.status_code == 422
    html = response.content.decode()
    assert vi in html
    assert f'id="lookup-{field}-error"' in html and 'aria-invalid="true"' in html
    assert "Nguyễn Văn An" not in html


# -- cache ------------------------------------------------------------------------------------


def test_cache_hit_answers_the_same_without_sql(client, published, django_assert_num_queries):
    with django_assert_num_queries(1):  # the miss: one query on the look-up table
        first = _api(client, AN)
    with django_assert_num_queries(0):
        again = _api(client, AN)
    assert first.status_code == again.status_code == 200 and first.content == again.content
    with django_assert_num_queries(1):
        missing = _api(client, "01009999")
    with django_assert_num_queries(0):  # "not found" is cached too
        assert _api(client, "01009999").content == missing.content
    with django_assert_num_queries(1):
        by_id = _by_id(client, AN_CID)
    with django_assert_num_queries(0):
        assert _by_id(client, AN_CID).content == by_id.content
    # The page reads the same cached answer (its only query here is the session list, once).
    _page(client, AN)
    with django_assert_num_queries(0):
        assert "Nguyễn Văn An" in _page(client, AN).content.decode()


def test_cache_off_reads_the_table_every_time(client, published, settings,
                                              django_assert_num_queries):  # fmt: skip
    settings.VNEMIS_LOOKUP_CACHE_SECONDS = 0
    for _ in range(2):
        with django_assert_num_queries(1):
            assert _api(client, AN).status_code == 200


def test_appeal_refresh_invalidates_the_cache(
    client, published, exam_users, django_capture_on_commit_callbacks, django_assert_num_queries
):
    an = published["an"]
    assert _api(client, AN).json()["scores"][1] == {
        "subject": "TOAN", "name_vi": "Toán", "name_en": "Mathematics", "score": "8.50",
        "exempt": False,
    }  # fmt: skip
    with django_assert_num_queries(0):
        _api(client, AN)  # cached
    an.refresh_from_db()
    appeal = actions_results.appeal_file(actor=exam_users["hn1"], candidate=an,
                                         subject_code="TOAN")  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        actions_results.appeal_decide(
            actor=exam_users["so_hn"], appeal=appeal, new_score="9", reason="Chấm sót ý"
        )
    with django_assert_num_queries(1):  # a new generation: read again
        body = _api(client, AN).json()
    assert body["scores"][1]["score"] == "9.00"
    assert body["graduation_score"] == "8.27"


def test_a_generation_bumped_elsewhere_or_evicted_is_noticed(client, published,
                                                             django_assert_num_queries):  # fmt: skip
    _api(client, AN)
    lookup_generation_bump(year=2026)  # as another process refreshing the table would
    with django_assert_num_queries(1):
        assert _api(client, AN).status_code == 200
    cache.delete(lookup_generation_key(2026))  # evicted from Redis
    with django_assert_num_queries(1):
        assert _api(client, AN).status_code == 200
    with django_assert_num_queries(0):
        assert _api(client, AN).status_code == 200


# -- rate limit -------------------------------------------------------------------------------


def test_rate_limit_answers_429_with_retry_after(client, published, settings):
    settings.VNEMIS_LOOKUP_RATE_PER_MINUTE = 3
    assert [_api(client, n).status_code for n in (AN, "01009999", "x")] == [200, 404, 422]
    response = _api(client, AN)
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    body = response.json()
    assert body["code"] == "rate_limited"
    assert "tối đa 3 lần mỗi phút" in body["message_vi"]
    assert f"Try again in {response['Retry-After']} seconds" in body["message_en"]
    assert _by_id(client, AN_CID).status_code == 429
    page = _page(client, AN)
    assert page.status_code == 429 and "Retry-After" in page
    assert "tối đa 3 lần mỗi phút" in page.content.decode()
    assert "Nguyễn Văn An" not in page.content.decode()
    # Another client is counted on its own.
    assert _api(client, AN, REMOTE_ADDR="198.51.100.7").status_code == 200


def test_rate_limit_client_behind_a_trusted_proxy(client, published, settings):
    settings.VNEMIS_LOOKUP_RATE_PER_MINUTE = 1
    settings.VNEMIS_TRUSTED_PROXIES = ["10.0.0.1"]
    proxied = {"REMOTE_ADDR": "10.0.0.1"}
    assert _api(client, AN, HTTP_X_FORWARDED_FOR="203.0.113.5", **proxied).status_code == 200
    assert _api(client, AN, HTTP_X_FORWARDED_FOR="203.0.113.6", **proxied).status_code == 200
    assert _api(client, AN, HTTP_X_FORWARDED_FOR="203.0.113.5", **proxied).status_code == 429
    # A client that is not our proxy cannot pick its address with the header.
    direct = {"REMOTE_ADDR": "192.0.2.9"}
    assert _api(client, AN, HTTP_X_FORWARDED_FOR="203.0.113.7", **direct).status_code == 200
    assert _api(client, AN, HTTP_X_FORWARDED_FOR="203.0.113.8", **direct).status_code == 429


def test_rate_limit_window_rolls_over():
    t = 1_000_040.0  # 20 s into a 60-s window
    for i in range(1, 3):
        decision = rate_limit_hit(scope="t", client="a", limit=2, now=t)
        assert (decision.allowed, decision.count) == (True, i)
    refused = rate_limit_hit(scope="t", client="a", limit=2, now=t + 5)
    assert (refused.allowed, refused.count, refused.retry_after) == (False, 3, 35)
    assert rate_limit_hit(scope="t", client="a", limit=2, now=t + 40).allowed  # the next window
    assert rate_limit_hit(scope="t", client="b", limit=2, now=t + 5).allowed
    assert rate_limit_hit(scope="t", client="a", limit=0, now=t + 5).allowed  # off


# -- what an answer may hold ------------------------------------------------------------------


def _cache_keys() -> list[str]:
    if hasattr(cache, "_cache") and hasattr(cache._cache, "get_client"):  # Redis
        return [k.decode() for k in cache._cache.get_client().keys("*")]
    return list(cache._cache)  # local memory


def test_no_personal_data_beyond_the_answer(client, published, caplog):
    person = published["an"].person
    forbidden = [AN_CID, person.education_id, "Chu Văn An", "Phường Ba Đình", "12A1"]
    caplog.set_level(logging.DEBUG)
    responses = [_api(client, AN), _by_id(client, AN_CID), _page(client, AN), _page(client, AN_CID),
                 _api(client, "01009999"), _by_id(client, "001208999999"), _page(client, "01009999")]  # fmt: skip
    assert set(responses[0].json()) == ANSWER_KEYS | {"candidate_number"}
    assert set(responses[1].json()) == ANSWER_KEYS
    for response in responses:
        text = response.content.decode()
        for value in forbidden:
            assert value not in text, value
    keys = _cache_keys()
    assert any(":c:" in key for key in keys)  # by citizen ID: cached under the keyed hash
    for key in keys:
        assert AN_CID not in key
    for record in caplog.records:  # no "Not Found: /exams/results/api/2026/01009999"
        message = record.getMessage()
        assert "01009999" not in message and AN_CID not in message and AN not in message


# -- English ----------------------------------------------------------------------------------


def test_english_ui(client, published):
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    html = client.get(PAGE).content.decode()
    assert (
        "Graduation exam results" in html and "Candidate number or personal identification" in html
    )
    assert "Tra cứu điểm thi tốt nghiệp THPT" not in html
    html = _page(client, AN).content.decode()
    for text in ("Date of birth", "Mathematics", "Physics", "Graduation score", "Passed",
                 "01/03/2008"):  # fmt: skip
        assert text in html
    assert "Đỗ tốt nghiệp" not in html and "Toán" not in html
    bad = _page(client, "12345").content.decode()
    assert "You typed 5 digits" in bad
    gone = _page(client, "01009999").content.decode()
    assert "No exam result was found for this candidate number in the 2026 exam" in gone


def test_cache_warm_only_after_publication(client, built, exam_session, django_assert_num_queries):
    assert public.lookup_cache_warm(year=2026) == 0  # before publication: nothing cached
    assert not [k for k in _cache_keys() if ":n:" in k or ":c:" in k]
    past(exam_session)
    # Five candidates by number, and by citizen key those who have a citizen ID (all five).
    assert public.lookup_cache_warm(year=2026) == 10
    with django_assert_num_queries(0):
        assert _api(client, AN).json()["full_name"] == "Nguyễn Văn An"
        assert _by_id(client, AN_CID).json()["graduation_score"] == "8.21"
    assert public.lookup_cache_warm(year=2031) == 0
