"""The public exam-result look-up (no log-in): a page and a JSON API, for publication day.

Plain Django views on purpose (DESIGN.md §8: a plain view under granian serves about 1.6× the
requests of django-ninja). Every look-up goes the same way:

1. the input is checked (8-digit candidate number, 12-digit citizen ID, 4-digit year), with a
   message in Vietnamese and English naming the field (malformed requests count against the
   limit too);
2. in ONE Redis round trip (``core.ratelimit.rate_limit_hit_and_read``) the client's request is
   counted — 429 with ``Retry-After`` past ``VNEMIS_LOOKUP_RATE_PER_MINUTE`` — and the cached
   answer is read: the session's table generation and the answer (the response body itself,
   JSON bytes) cached under the generation this process last saw. ``lookup_refresh`` bumps the
   generation after every commit (publication, an appeal), so a refreshed row is never served
   stale; a process that sees a new generation reads again;
4. on a miss, one indexed query on ``ExamResultLookup`` joined to its session, which returns
   the row only once the session's publication time has passed; found answers are cached for
   ``VNEMIS_LOOKUP_CACHE_SECONDS``, "not found" for ``VNEMIS_LOOKUP_NEGATIVE_CACHE_SECONDS``.
   ``lookup_cache_warm`` fills the cache set-wise right after publication.

"Not found" is the same answer for an unknown number, an unknown year and a result not yet
published, so nobody learns before publication whether a number exists. A look-up by citizen
ID is keyed by ``lookup.citizen_key`` (a keyed hash) in the cache and the table; the ID itself
is never in a URL (POST body only: URLs end up in access logs), a cache key, a log line or an
answer. Nothing here is audited or logged: the answer is the candidate's own data, and Django's
"Not Found: <path>" lines (which would carry the number) are switched off for these responses.

Answers hold the name, birth date, per-paper scores, graduation score and result, and nothing
else (no citizen ID, no address, no school); a look-up by number echoes the number asked.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.core.cache import cache, caches
from django.db import connection
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from vnemis.core.api_errors import ApiError
from vnemis.core.i18n import english
from vnemis.core.middleware import client_ip
from vnemis.core.ratelimit import (
    cache_get_many,
    rate_limit_hit,
    rate_limit_hit_and_read,
    redis_client,
)

from .access import results_published
from .catalogue import SUBJECTS
from .lookup import EXEMPT_MARK, citizen_key, lookup_generation_key
from .models import ExamResultLookup, ExamSession

# -- settings ---------------------------------------------------------------------------------


def setting(name: str) -> int:
    """One of the VNEMIS_LOOKUP_* settings (config/settings/base.py, from the environment)."""
    return getattr(settings, name)


RATE_SCOPE = "exam-lookup"
YEAR_MIN, YEAR_MAX = 2000, 2099
YEARS_CACHE_KEY = "exams:lookup:years"
YEARS_CACHE_SECONDS = 60
SUBJECT_ORDER = {code: i for i, (code, *_rest) in enumerate(SUBJECTS)}
SUBJECT_NAMES = {code: (vi, en) for code, vi, en, _group in SUBJECTS}
RESULT_LABELS = {
    "passed": ("Đỗ tốt nghiệp", "Passed"),
    "failed": ("Không đỗ tốt nghiệp", "Did not pass"),
    "incomplete": ("Chưa đủ dữ liệu để xét tốt nghiệp", "Not enough data to decide"),
    "": ("Chưa xét tốt nghiệp", "Not yet decided"),
}
NO_STORE = "no-store"  # personal data: no shared or browser cache keeps a copy

# -- input ------------------------------------------------------------------------------------

_DIGITS = re.compile(r"[0-9]+")
_SPACES = re.compile(r"[\s.\-]+")


@dataclass(frozen=True)
class LookupInputError(Exception):
    """A malformed field, with what to fix in both languages."""

    field: str
    kind: str
    message_vi: str
    message_en: str

    def api_error(self) -> ApiError:
        return ApiError(
            422,
            "validation_error",
            self.message_vi,
            self.message_en,
            errors=[{"field": self.field, "type": self.kind, "message": self.message_en}],
        )

    def text(self) -> str:
        return self.message_en if english() else self.message_vi


def year_parse(raw: str | None, *, field: str = "year") -> int:
    """A 4-digit exam year from 2000 to 2099."""
    text = (raw or "").strip()
    if not (len(text) == 4 and _DIGITS.fullmatch(text)):
        raise LookupInputError(
            field,
            "year_format",
            "Năm thi phải là một số có 4 chữ số, ví dụ 2026.",
            "The exam year must be a 4-digit number, e.g. 2026.",
        )
    year = int(text)
    if not YEAR_MIN <= year <= YEAR_MAX:
        raise LookupInputError(
            field,
            "year_range",
            f"Năm thi phải từ {YEAR_MIN} đến {YEAR_MAX}.",
            f"The exam year must be between {YEAR_MIN} and {YEAR_MAX}.",
        )
    return year


def candidate_number_parse(raw: str | None, *, field: str = "candidate_number") -> str:
    """8 digits: the council's 2-digit province code, then a 6-digit sequence from 000001."""
    text = (raw or "").strip()
    if not (len(text) == 8 and _DIGITS.fullmatch(text)):
        raise LookupInputError(
            field,
            "candidate_number_format",
            "Số báo danh phải gồm đúng 8 chữ số: 2 chữ số mã hội đồng thi (mã tỉnh) và 6 chữ số "
            "thứ tự, ví dụ 01000123.",
            "A candidate number has exactly 8 digits: the 2-digit exam council (province) code "
            "and a 6-digit sequence, e.g. 01000123.",
        )
    if text[:2] == "00":
        raise LookupInputError(
            field,
            "candidate_number_council",
            "Số báo danh không bắt đầu bằng 00: hai chữ số đầu là mã hội đồng thi (mã tỉnh).",
            "A candidate number cannot start with 00: its first two digits are the exam "
            "council (province) code.",
        )
    if text[2:] == "000000":
        raise LookupInputError(
            field,
            "candidate_number_sequence",
            "Sáu chữ số cuối của số báo danh là số thứ tự, bắt đầu từ 000001.",
            "The last six digits of a candidate number are a sequence starting at 000001.",
        )
    return text


def citizen_id_parse(raw: str | None, *, field: str = "citizen_id") -> str:
    """12 digits, opening with a province-of-birth code (the message never repeats the ID)."""
    from vnemis.registry.reference import cccd_province_codes

    text = (raw or "").strip()
    if not text:
        raise LookupInputError(
            field,
            "citizen_id_missing",
            "Hãy nhập số định danh cá nhân (số căn cước công dân, 12 chữ số).",
            "Enter the personal identification number (citizen ID card number, 12 digits).",
        )
    if not (len(text) == 12 and _DIGITS.fullmatch(text)):
        raise LookupInputError(
            field,
            "citizen_id_format",
            "Số định danh cá nhân (số căn cước công dân) phải gồm đúng 12 chữ số, ví dụ "
            "001208012345.",
            "A personal identification number (citizen ID card number) has exactly 12 "
            "digits, e.g. 001208012345.",
        )
    if text[:3] not in cccd_province_codes():
        raise LookupInputError(
            field,
            "citizen_id_province",
            f"Ba chữ số đầu của số định danh cá nhân ({text[:3]}) không phải mã tỉnh nơi đăng ký "
            "khai sinh; hãy kiểm tra lại số trên thẻ căn cước.",
            f"The first three digits of the personal identification number ({text[:3]}) are "
            "not a province-of-birth code; check the number on the ID card.",
        )
    return text


def query_parse(raw: str | None) -> tuple[str, str]:
    """The page's one box: ("number", 8 digits) or ("citizen", 12 digits). Spaces, dots and
    dashes between digits are dropped; the message says which length was typed, never the
    digits themselves."""
    text = _SPACES.sub("", raw or "")
    field = "q"
    if not text:
        raise LookupInputError(
            field,
            "missing",
            "Hãy nhập số báo danh (8 chữ số) hoặc số định danh cá nhân (12 chữ số).",
            "Enter a candidate number (8 digits) or a personal identification number (12 digits).",
        )
    if not _DIGITS.fullmatch(text):
        raise LookupInputError(
            field,
            "not_digits",
            "Chỉ nhập chữ số (0–9): số báo danh có 8 chữ số, số định danh cá nhân có 12 chữ số.",
            "Type digits only (0–9): a candidate number has 8 digits, a personal "
            "identification number 12.",
        )
    if len(text) == 8:
        return "number", candidate_number_parse(text, field=field)
    if len(text) == 12:
        return "citizen", citizen_id_parse(text, field=field)
    raise LookupInputError(
        field,
        "length",
        f"Bạn đã nhập {len(text)} chữ số: số báo danh có đúng 8 chữ số (ví dụ 01000123), số "
        "định danh cá nhân có đúng 12 chữ số.",
        f"You typed {len(text)} digits: a candidate number has exactly 8 (e.g. 01000123), a "
        "personal identification number exactly 12.",
    )


# -- the cached read --------------------------------------------------------------------------

# The generation of each year's table this process saw last; checked on every read (the MGET),
# so it is a guess that saves a round trip, never a source of stale answers.
_generations: dict[int, int] = {}


def _generation_fetch(year: int) -> int:
    key = lookup_generation_key(year)
    generation = cache.get(key)
    if generation is None:  # never bumped, or evicted: start one every process agrees on
        cache.add(key, time.time_ns(), timeout=None)
        generation = cache.get(key)
    _generations[year] = generation
    return generation


def _cache_set(key: str, value: bytes, ttl: int) -> None:
    backend = caches["default"]
    client = redis_client(backend)
    if client is None:
        backend.set(key, value, ttl)
    elif ttl > 0:
        client.set(backend.make_key(key), backend._cache._serializer.dumps(value), ex=ttl)


def _answer_key(year: int, generation: int, kind: str, value: str) -> str:
    return f"exams:lookup:{year}:{generation}:{kind}:{value}"


def _row_sql(kind: str) -> str:
    """The look-up's one statement, built once per database vendor: compiling the ORM query on
    every miss cost about as much as running it (measured)."""
    q = connection.ops.quote_name
    lookup, session = ExamResultLookup._meta, ExamSession._meta

    def col(model, name: str) -> str:
        return q(model.get_field(name).column)

    where = col(lookup, "candidate_number" if kind == "n" else "citizen_key")
    picked = ", ".join(
        f"l.{col(lookup, f)}"
        for f in ("full_name", "birth_date", "scores", "graduation_score", "result")
    )
    return (
        f"SELECT {picked} FROM {q(lookup.db_table)} l "  # noqa: S608 - names from model metadata
        f"JOIN {q(session.db_table)} s ON s.{col(session, 'id')} = l.{col(lookup, 'session')} "
        f"WHERE s.{col(session, 'year')} = %s AND s.{col(session, 'results_publish_at')} <= %s "
        f"AND l.{where} = %s LIMIT 1"
    )


_SQL: dict[tuple[str, str], str] = {}


def _row_fetch(year: int, kind: str, value: str) -> tuple | None:
    """The published row: one query on the unique (session, number) index or the
    (session, citizen_key) one, joined to the session for its publication time."""
    sql = _SQL.get((connection.vendor, kind))
    if sql is None:
        sql = _SQL[(connection.vendor, kind)] = _row_sql(kind)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(sql, [year, now, value])
        found = cursor.fetchone()
    if found is None:
        return None
    name, born, scores, total, result = found
    if isinstance(scores, str):  # JSON comes as text (Django loads jsonb as text on PostgreSQL)
        scores = json.loads(scores)
    return name, born, scores, total, result


def _answer_body(year: int, row: tuple | None, number: str | None) -> bytes:
    """The JSON answer (b"" for not found): what the API sends and the page renders."""
    if row is None:
        return b""
    name, born, scores, total, result = row
    papers = []
    for code in sorted(scores, key=lambda c: (SUBJECT_ORDER.get(c, 99), c)):
        vi, en = SUBJECT_NAMES.get(code, (code, code))
        exempt = scores[code] == EXEMPT_MARK
        papers.append(
            {
                "subject": code,
                "name_vi": vi,
                "name_en": en,
                "score": None if exempt else scores[code],
                "exempt": exempt,
            }
        )
    result_vi, result_en = RESULT_LABELS.get(result, (result, result))
    answer = {"year": year}
    if number is not None:
        answer["candidate_number"] = number
    answer.update(
        {
            "full_name": name,
            "birth_date": born.isoformat() if isinstance(born, date) else str(born),
            "scores": papers,
            "graduation_score": None if total is None else f"{total:.2f}",
            "result": result,
            "result_vi": result_vi,
            "result_en": result_en,
        }
    )
    return json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()


def _answer_reads(year: int, kind: str, value: str) -> tuple[int, list[str]]:
    """The generation this process expects and the two keys to read: the generation's and the
    answer's under it."""
    generation = _generations.get(year)
    if generation is None:
        generation = _generation_fetch(year)
    return generation, [lookup_generation_key(year), _answer_key(year, generation, kind, value)]


def result_body(
    *, year: int, kind: str, value: str, prefetched: tuple[int, dict] | None = None
) -> bytes:
    """The answer for (year, number) or (year, citizen_key): b"" when there is none to show.
    ``prefetched``: the expected generation and what reading ``_answer_reads`` gave."""
    number = value if kind == "n" else None
    ttl = setting("VNEMIS_LOOKUP_CACHE_SECONDS")
    if ttl <= 0:
        return _answer_body(year, _row_fetch(year, kind, value), number)
    if prefetched is None:
        generation, reads = _answer_reads(year, kind, value)
        got = cache_get_many(caches["default"], reads)
    else:
        generation, got = prefetched
    key = _answer_key(year, generation, kind, value)
    current = got.get(lookup_generation_key(year))
    if current == generation:
        body = got.get(key)
    else:  # the table was refreshed (or the generation evicted): read under the new one
        generation = _generation_fetch(year) if current is None else current
        _generations[year] = generation
        key = _answer_key(year, generation, kind, value)
        body = cache_get_many(caches["default"], [key]).get(key)
    if body is not None:
        return body
    body = _answer_body(year, _row_fetch(year, kind, value), number)
    _cache_set(key, body, ttl if body else setting("VNEMIS_LOOKUP_NEGATIVE_CACHE_SECONDS"))
    return body


def lookup_cache_warm(*, year: int, chunk: int = 10_000) -> int:
    """Cache every published answer of the year, by number and by citizen key, set-wise (one
    pass over the table, pipelined writes): run right after the publication time, so the
    first wave of look-ups finds them cached. Writes nothing before publication, or with the
    cache off. Returns the answers written."""
    session = ExamSession.objects.filter(year=year).first()
    ttl = setting("VNEMIS_LOOKUP_CACHE_SECONDS")
    if session is None or not results_published(session) or ttl <= 0:
        return 0
    generation = _generation_fetch(year)  # read before the rows: a refresh meanwhile wins
    rows = (
        ExamResultLookup.objects.filter(session=session)
        .values_list(
            "candidate_number",
            "citizen_key",
            "full_name",
            "birth_date",
            "scores",
            "graduation_score",
            "result",
        )
        .iterator(chunk_size=chunk)
    )
    written, batch = 0, {}
    for number, key, *row in rows:
        batch[_answer_key(year, generation, "n", number)] = _answer_body(year, tuple(row), number)
        if key:
            batch[_answer_key(year, generation, "c", key)] = _answer_body(year, tuple(row), None)
        if len(batch) >= chunk:
            cache.set_many(batch, ttl)
            written, batch = written + len(batch), {}
    if batch:
        cache.set_many(batch, ttl)
        written += len(batch)
    return written


def session_years() -> dict:
    """Years with a session, newest first, the latest published one, and the next publication
    time ahead (cached for a minute, never past that publication time)."""
    found = cache.get(YEARS_CACHE_KEY)
    now = timezone.now()
    if found is not None and (found["next_at"] is None or found["next_at"] > now):
        return found
    sessions = list(ExamSession.objects.order_by("-year").values_list("year", "results_publish_at"))
    published = [y for y, at in sessions if at is not None and at <= now]
    ahead = [(at, y) for y, at in sessions if at is not None and at > now]
    upcoming = min(ahead) if ahead else None
    found = {
        "years": [y for y, _at in sessions],
        "latest_published": published[0] if published else None,
        "next_at": upcoming[0] if upcoming else None,
        "next_year": upcoming[1] if upcoming else None,
    }
    ttl = YEARS_CACHE_SECONDS
    if upcoming:
        ttl = max(1, min(ttl, int((upcoming[0] - now).total_seconds()) + 1))
    cache.set(YEARS_CACHE_KEY, found, ttl)
    return found


# -- responses --------------------------------------------------------------------------------


def _unlogged(response: HttpResponse) -> HttpResponse:
    # Django logs every 4xx as "Not Found: <path>", and the path holds the candidate number.
    response._has_been_logged = True
    response["Cache-Control"] = NO_STORE
    return response


def _json(body: bytes, status: int = 200) -> HttpResponse:
    response = HttpResponse(body, status=status, content_type="application/json")
    response["Cache-Control"] = NO_STORE
    return response


def _json_error(error: ApiError, *, retry_after: int | None = None) -> HttpResponse:
    body = json.dumps(error.body(), ensure_ascii=False, separators=(",", ":")).encode()
    response = _unlogged(_json(body, error.status))
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def _refusal(limit: int, seconds: int) -> tuple[ApiError, int]:
    error = ApiError(
        429,
        "rate_limited",
        f"Bạn đã tra cứu quá nhiều lần (tối đa {limit} lần mỗi phút). Hãy thử lại sau "
        f"{seconds} giây.",
        f"Too many look-ups (at most {limit} a minute). Try again in {seconds} seconds.",
    )
    return error, seconds


def _rate_limited(request) -> tuple[ApiError, int] | None:
    """Count a request that will not read an answer (malformed input): refused or None."""
    limit = setting("VNEMIS_LOOKUP_RATE_PER_MINUTE")
    decision = rate_limit_hit(scope=RATE_SCOPE, client=client_ip(request), limit=limit)
    return None if decision.allowed else _refusal(limit, decision.retry_after)


def _counted_lookup(request, *, year: int, kind: str, value: str):
    """Count the request and read its cached answer in one cache round trip; then the answer
    (b"" for none) and None, or b"" and the refusal (ApiError, seconds) past the limit."""
    limit = setting("VNEMIS_LOOKUP_RATE_PER_MINUTE")
    generation, reads = None, []
    if setting("VNEMIS_LOOKUP_CACHE_SECONDS") > 0:
        generation, reads = _answer_reads(year, kind, value)
    decision, got = rate_limit_hit_and_read(
        scope=RATE_SCOPE, client=client_ip(request), limit=limit, reads=reads
    )
    if not decision.allowed:
        return b"", _refusal(limit, decision.retry_after)
    prefetched = (generation, got) if reads else None
    return result_body(year=year, kind=kind, value=value, prefetched=prefetched), None


def _not_found(year: int, kind: str) -> ApiError:
    what_vi = "số báo danh này" if kind == "n" else "số định danh cá nhân này"
    what_en = "this candidate number" if kind == "n" else "this personal identification number"
    return ApiError(
        404,
        "not_found",
        f"Không tìm thấy kết quả thi của {what_vi} trong kỳ thi năm {year}. Hãy kiểm tra lại số "
        "đã nhập và năm thi; kết quả chỉ tra cứu được từ thời điểm Bộ GD&ĐT công bố.",
        f"No exam result was found for {what_en} in the {year} exam. Check the number and the "
        "year; results can be looked up only once the Ministry has published them.",
    )


def _method_not_allowed(allowed: str, hint_vi: str, hint_en: str) -> HttpResponse:
    response = _json_error(
        ApiError(
            405, "method_not_allowed", f"Hãy dùng {allowed}. {hint_vi}", f"Use {allowed}. {hint_en}"
        )
    )
    response["Allow"] = allowed
    return response


# -- JSON API ---------------------------------------------------------------------------------


def _input_refused(request, exc: LookupInputError) -> HttpResponse:
    """422 for malformed input, which counts against the limit too (429 past it)."""
    limited = _rate_limited(request)
    if limited is not None:
        return _json_error(limited[0], retry_after=limited[1])
    return _json_error(exc.api_error())


def api_by_number(request, year: str, candidate_number: str):
    """GET /exams/results/api/<year>/<candidate_number>: the published result, or 404."""
    if request.method != "GET":
        return _method_not_allowed("GET", "", "")
    try:
        number = candidate_number_parse(candidate_number)
        y = year_parse(year)
    except LookupInputError as exc:
        return _input_refused(request, exc)
    body, limited = _counted_lookup(request, year=y, kind="n", value=number)
    if limited is not None:
        return _json_error(limited[0], retry_after=limited[1])
    if not body:
        return _json_error(_not_found(y, "n"))
    return _json(body)


MAX_BODY_BYTES = 1024


def _posted_citizen_id(request) -> str | None:
    """The ID from a JSON body ``{"citizen_id": "…"}`` or a form field ``citizen_id``."""
    if len(request.body) > MAX_BODY_BYTES:
        raise LookupInputError(
            "body",
            "too_large",
            f"Thân yêu cầu quá dài (tối đa {MAX_BODY_BYTES} byte).",
            f"The request body is too long (at most {MAX_BODY_BYTES} bytes).",
        )
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"null")
        except ValueError:
            raise LookupInputError(
                "body",
                "json_invalid",
                'Thân yêu cầu không phải JSON hợp lệ; hãy gửi {"citizen_id": "001208012345"}.',
                'The request body is not valid JSON; send {"citizen_id": "001208012345"}.',
            ) from None
        value = data.get("citizen_id") if isinstance(data, dict) else None
        return value if isinstance(value, str) else None
    return request.POST.get("citizen_id")


@csrf_exempt  # public and read-only, no cookie sign-in involved
def api_by_citizen_id(request, year: str):
    """POST /exams/results/api/<year>/by-citizen-id with ``{"citizen_id": "…"}`` in the body:
    the published result, or 404. Never in the URL: URLs are written to access logs."""
    if request.method != "POST":
        return _method_not_allowed(
            "POST",
            'Gửi {"citizen_id": "…"} trong thân yêu cầu, không đặt số định danh trong URL.',
            'Send {"citizen_id": "…"} in the request body, never the ID in the URL.',
        )
    try:
        if "citizen_id" in request.GET:
            raise LookupInputError(
                "citizen_id",
                "citizen_id_in_url",
                "Không gửi số định danh cá nhân trong địa chỉ (URL) vì địa chỉ được ghi vào nhật "
                'ký máy chủ; hãy gửi {"citizen_id": "…"} trong thân yêu cầu POST.',
                "Do not put the personal identification number in the URL (URLs are written to "
                'server logs); send {"citizen_id": "…"} in the POST body.',
            )
        y = year_parse(year)
        citizen_id = citizen_id_parse(_posted_citizen_id(request))
    except LookupInputError as exc:
        return _input_refused(request, exc)
    key = citizen_key(year=y, citizen_id=citizen_id)
    body, limited = _counted_lookup(request, year=y, kind="c", value=key)
    if limited is not None:
        return _json_error(limited[0], retry_after=limited[1])
    if not body:
        return _json_error(_not_found(y, "c"))
    return _json(body)


# -- the page ---------------------------------------------------------------------------------


def _answer_for_page(body: bytes) -> dict:
    answer = json.loads(body)
    en = english()
    answer["birth"] = date.fromisoformat(answer["birth_date"])
    answer["result_label"] = answer["result_en"] if en else answer["result_vi"]
    for paper in answer["scores"]:
        paper["name"] = paper["name_en"] if en else paper["name_vi"]
    return answer


@require_http_methods(["GET", "POST"])
def lookup_page(request):
    """The form (GET) and the answer (POST: the citizen ID must not land in a query string)."""
    years = session_years()
    default_year = years["latest_published"] or (years["years"][0] if years["years"] else None)
    context = {
        "years": years["years"],
        "year": default_year,
        "next_at": years["next_at"],
        "next_year": years["next_year"],
        "q": "",
        "errors": {},
        "answer": None,
        "not_found": "",
        "rate_limited": "",
    }
    if request.method == "GET":
        return _page(request, context)
    raw_q = request.POST.get("q", "")
    raw_year = request.POST.get("year", "")
    kind = value = y = None
    try:
        kind, value = query_parse(raw_q)
    except LookupInputError as exc:
        context["errors"]["q"] = exc.text()
    try:
        y = year_parse(raw_year) if raw_year.strip() or default_year is None else default_year
        context["year"] = y
    except LookupInputError as exc:
        context["errors"]["year"] = exc.text()
    if kind == "number":
        context["q"] = value  # a citizen ID is never written back into the page
    if context["errors"]:
        limited = _rate_limited(request)
        if limited is not None:
            return _page_refused(request, context, limited)
        return _page(request, context, status=422)
    if kind == "number":
        body, limited = _counted_lookup(request, year=y, kind="n", value=value)
    else:
        key = citizen_key(year=y, citizen_id=value)
        body, limited = _counted_lookup(request, year=y, kind="c", value=key)
    if limited is not None:
        return _page_refused(request, context, limited)
    if not body:
        error = _not_found(y, "n" if kind == "number" else "c")
        context["not_found"] = error.message_en if english() else error.message_vi
        return _page(request, context, status=404)
    context["answer"] = _answer_for_page(body)
    return _page(request, context)


def _page_refused(request, context: dict, limited: tuple[ApiError, int]) -> HttpResponse:
    error, seconds = limited
    context.update(rate_limited=error.message_en if english() else error.message_vi,
                   errors={}, q="")  # fmt: skip
    response = _page(request, context, status=429)
    response["Retry-After"] = str(seconds)
    return response


def _page(request, context: dict, status: int = 200) -> HttpResponse:
    response = render(request, "exams/public/lookup.html", context, status=status)
    return _unlogged(response) if status >= 400 else _no_store(response)


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = NO_STORE
    return response
