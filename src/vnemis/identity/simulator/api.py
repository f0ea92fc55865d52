"""The registry's API operations on decoded requests: checks, verification, cohort extract.

No HTTP here: each operation takes the JSON body and returns the answer, or raises ``ApiError``
with a status, a stable code and a sentence naming the field at fault. The answer is per field,
match or mismatch: the registry never sends its data back.
"""

import re
from datetime import date

import numpy as np

from vnemis.core.simserver import HttpError

from .citizens import Citizens

BATCH_LIMIT = 1_000
MAX_EXTRACT_YEARS = 5
MAX_NAME_LENGTH = 200
FIELDS = ("citizen_id", "full_name", "birth_date", "sex")
_ID = re.compile(r"[0-9]{12}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_PROVINCE = re.compile(r"[0-9]{2}")
_EPOCH = date(1970, 1, 1).toordinal()

NOT_FOUND = {"result": "not_found"}
# The eight possible answers for a found citizen, by (name, birth date, sex) matching.
_FOUND = {
    (n, d, s): {
        "result": "found",
        "fields": {
            "full_name": "match" if n else "mismatch",
            "birth_date": "match" if d else "mismatch",
            "sex": "match" if s else "mismatch",
        },
    }
    for n in (False, True)
    for d in (False, True)
    for s in (False, True)
}


class ApiError(HttpError):
    """An error answer that may name the request field at fault."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(status, code, message, headers=headers)
        self.field = field

    def body(self) -> dict:
        body = super().body()
        if self.field:
            body["error"]["field"] = self.field
        return body


def _problem(code: str, field: str | None, message: str) -> dict:
    return {"code": code, "field": field, "message": message}


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates, which JSON can carry
        return False
    return True


Parsed = tuple[int, str, int, bool]  # citizen ID as a number, name, day number, female


def parse_item(item) -> tuple[Parsed | None, dict | None]:
    """One person to verify, checked: (values, None) or (None, the problem naming the field)."""
    if not isinstance(item, dict):
        return None, _problem("not_an_object", None, "Each person to verify must be an object.")
    for name in FIELDS:
        value = item.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None, _problem("missing_field", name, f"The field {name} is required.")
    citizen_id, full_name, born, sex = (item[name] for name in FIELDS)
    if not isinstance(citizen_id, str) or not _ID.fullmatch(citizen_id):
        return None, _problem(
            "invalid_citizen_id", "citizen_id", "citizen_id must be a string of 12 digits."
        )
    if (
        not isinstance(full_name, str)
        or len(full_name) > MAX_NAME_LENGTH
        or not _encodable(full_name)
    ):
        return None, _problem(
            "invalid_full_name",
            "full_name",
            f"full_name must be text of at most {MAX_NAME_LENGTH} characters.",
        )
    day = None
    if isinstance(born, str) and _DATE.fullmatch(born):
        try:
            day = date.fromisoformat(born).toordinal() - _EPOCH
        except ValueError:
            day = None
    if day is None:
        return None, _problem(
            "invalid_date", "birth_date", "birth_date must be a real date written YYYY-MM-DD."
        )
    if sex not in ("M", "F"):
        return None, _problem("invalid_sex", "sex", "sex must be M or F.")
    return (int(citizen_id), full_name, day, sex == "F"), None


def _answers(citizens: Citizens, people: list[Parsed]) -> list[dict]:
    n = len(people)
    found = citizens.compare(
        ids=np.fromiter((p[0] for p in people), dtype=np.int64, count=n),
        names=[p[1] for p in people],
        days=np.fromiter((p[2] for p in people), dtype=np.int32, count=n),
        female=np.fromiter((p[3] for p in people), dtype=bool, count=n),
    )
    return [
        _FOUND[(name, born, sex)] if known else NOT_FOUND
        for known, name, born, sex in zip(
            found.found.tolist(),
            found.full_name.tolist(),
            found.birth_date.tolist(),
            found.sex.tolist(),
            strict=True,
        )
    ]


def verify_one(citizens: Citizens, payload) -> dict:
    """``{"result": "found"|"not_found", "fields": {...}}`` for one person."""
    person, problem = parse_item(payload)
    if problem:
        raise ApiError(400, problem["code"], problem["message"], field=problem["field"])
    return dict(_answers(citizens, [person])[0])


def verify_batch(citizens: Citizens, payload) -> tuple[dict, int]:
    """Answers in the order asked, each with the caller's ``ref``; malformed items answer
    ``"invalid"`` alone. Also returns how many persons were verified."""
    items = payload.get("items") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        raise ApiError(
            400, "missing_items", "The body must be an object with a list of items.", field="items"
        )
    if not items:
        raise ApiError(400, "missing_items", "The list of items is empty.", field="items")
    if len(items) > BATCH_LIMIT:
        raise ApiError(
            413,
            "batch_too_large",
            f"A batch holds at most {BATCH_LIMIT} items; this one has {len(items)}. "
            "Send the others in further batches.",
            field="items",
        )
    people: list[Parsed] = []
    answers: list[dict | None] = []
    for item in items:
        person, problem = parse_item(item)
        ref = item.get("ref") if isinstance(item, dict) else None
        if problem:
            answers.append({"ref": ref, "result": "invalid", "error": problem})
        else:
            people.append(person)
            answers.append({"ref": ref})
    found = iter(_answers(citizens, people))
    for answer in answers:
        if "result" not in answer:
            answer.update(next(found))
    return {"items": answers}, len(people)


def _years(payload) -> list[int]:
    years = payload.get("birth_years") if isinstance(payload, dict) else None
    if (
        not isinstance(years, list)
        or not years
        or not all(isinstance(y, int) and not isinstance(y, bool) for y in years)
    ):
        raise ApiError(
            400,
            "invalid_birth_years",
            "birth_years must be a non-empty list of years, such as [2012, 2013].",
            field="birth_years",
        )
    if not all(1900 <= y <= 2100 for y in years):
        raise ApiError(
            400,
            "invalid_birth_years",
            "Birth years lie between 1900 and 2100.",
            field="birth_years",
        )
    distinct = sorted(set(years))
    if len(distinct) > MAX_EXTRACT_YEARS:
        raise ApiError(
            400,
            "too_many_years",
            f"An extract covers at most {MAX_EXTRACT_YEARS} birth years; this request asks for "
            f"{len(distinct)}. Ask for the others in further extracts.",
            field="birth_years",
        )
    return distinct


def cohort_extract(citizens: Citizens, payload) -> bytes:
    """Parquet of the citizens born in some years (optionally some provinces of birth)."""
    years = _years(payload)
    provinces = payload.get("birth_province_codes")
    if provinces is not None and not (
        isinstance(provinces, list)
        and all(isinstance(p, str) and _PROVINCE.fullmatch(p) for p in provinces)
    ):
        raise ApiError(
            400,
            "invalid_provinces",
            'birth_province_codes must be a list of two-digit province codes, such as ["01"].',
            field="birth_province_codes",
        )
    return citizens.cohort_parquet(years=years, provinces=provinces or None)
