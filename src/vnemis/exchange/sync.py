# ruff: noqa: S608 -- SQL is built only from this module's constant table and column names.
"""The sync API's writes: batch upserts by natural key, and removals as status changes.

One transaction per request, in this order:

1. the change-number lock (``core.change_numbers.change_lock``): writers are serialised
   anyway at their first registry write; taking it first keeps the lock order (change lock,
   then audit lock) and makes two requests with one idempotency key run one after the other;
2. the idempotency check (``exchange.idempotency``): replay, refuse a reused key, or go on;
3. the target rows, looked up by natural key and locked (``SELECT … FOR UPDATE`` on
   PostgreSQL; SQLite holds the database write lock from BEGIN IMMEDIATE), and the optimistic
   version check: a record's ``version`` is the ``change_seq`` the client last saw (0: "I
   expect it not to exist"); any stale one → 409 ``stale_version`` and nothing of the batch;
4. the write through the same pipeline as files: the records go to a JSON Lines file in a job
   folder and ``exchange.imports.import_file`` runs intake (normalise, validate) and the engine
   (``registry.loaders.dataset_load``), with the caller's write scope and the locked periods;
5. per-record results (inserted / updated / unchanged from the versions before and after;
   rejected from the job's error rows), and the stored response for the idempotency key.

Removals never delete pupils or staff: an enrolment gets a leaving status and date (with its
history row), a staff post an end date. A teaching assignment is deleted (the trigger leaves a
tombstone for the change feed).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import polars as pl
from django.db import connection, transaction
from django.utils import timezone

from vnemis.core.api_errors import ApiError
from vnemis.core.audit import audit_record
from vnemis.core.change_numbers import change_lock
from vnemis.orgs.models import Organisation, User
from vnemis.orgs.scope import can_write, is_unrestricted, org_ids_in_scope
from vnemis.registry import exchange_format as xf

from . import idempotency
from .messages import message

MAX_RECORDS = 1000
UPSERT_ENTITIES = (
    "roster",  # pupil + enrolment on one row: how a new pupil arrives (see sync_upsert)
    "schools",
    "classes",
    "pupils",
    "enrolments",
    "staff",
    "teaching_assignments",
    "subject_results",
    "result_summaries",
    "health_records",
)
LEAVING_STATUSES = ("transferred_out", "dropped_out", "graduated", "completed")
MODES = ("all_or_nothing", "apply_valid")

# Natural key → (row id, change_seq) of each entity's target row. {values} is a VALUES list
# of key tuples; the locked table is aliased ``t``.
_O = "JOIN orgs_organisation o ON o.id = {a}.school_id"
_Y = "JOIN registry_schoolyear y ON y.id = {a}.school_year_id"
LOOKUP = {
    "schools": "SELECT t.code, t.id, t.change_seq FROM orgs_organisation t WHERE (t.code) IN",
    "classes": (
        "SELECT o.code, y.code, t.name, t.id, t.change_seq FROM registry_schoolclass t "
        f"{_O.format(a='t')} {_Y.format(a='t')} WHERE (o.code, y.code, t.name) IN"
    ),
    "pupils": (
        "SELECT o.code, e.pupil_code, t.id, t.change_seq FROM registry_person t "
        f"JOIN registry_enrolment e ON e.pupil_id = t.id {_O.format(a='e')} "
        "WHERE (o.code, e.pupil_code) IN"
    ),
    "enrolments": (
        "SELECT o.code, y.code, t.pupil_code, t.id, t.change_seq FROM registry_enrolment t "
        f"{_O.format(a='t')} {_Y.format(a='t')} WHERE (o.code, y.code, t.pupil_code) IN"
    ),
    "staff": (
        "SELECT o.code, t.staff_code, t.id, t.change_seq FROM registry_staffassignment t "
        f"{_O.format(a='t')} WHERE (o.code, t.staff_code) IN"
    ),
    "teaching_assignments": (
        "SELECT o.code, y.code, c.name, s.code, t.id, t.change_seq "
        "FROM registry_teachingassignment t "
        "JOIN registry_schoolclass c ON c.id = t.school_class_id "
        f"{_O.format(a='c')} {_Y.format(a='c')} "
        "JOIN registry_subject s ON s.id = t.subject_id "
        "WHERE (o.code, y.code, c.name, s.code) IN"
    ),
    "subject_results": (
        "SELECT o.code, y.code, e.pupil_code, s.code, t.period, t.id, t.change_seq "
        "FROM registry_subjectresult t JOIN registry_enrolment e ON e.id = t.enrolment_id "
        f"{_O.format(a='e')} {_Y.format(a='e')} "
        "JOIN registry_subject s ON s.id = t.subject_id "
        "WHERE (o.code, y.code, e.pupil_code, s.code, t.period) IN"
    ),
    "result_summaries": (
        "SELECT o.code, y.code, e.pupil_code, t.period, t.id, t.change_seq "
        "FROM registry_resultsummary t JOIN registry_enrolment e ON e.id = t.enrolment_id "
        f"{_O.format(a='e')} {_Y.format(a='e')} "
        "WHERE (o.code, y.code, e.pupil_code, t.period) IN"
    ),
    "health_records": (
        "SELECT o.code, e.pupil_code, t.measured_on, t.id, t.change_seq "
        "FROM registry_healthrecord t JOIN registry_enrolment e ON e.pupil_id = t.person_id "
        f"{_O.format(a='e')} WHERE (o.code, e.pupil_code, t.measured_on) IN"
    ),
}
# The roster row's version is the newer of its enrolment's and its pupil's numbers.
LOOKUP["roster"] = (
    "SELECT o.code, y.code, t.pupil_code, t.id, "
    "CASE WHEN p.change_seq > t.change_seq THEN p.change_seq ELSE t.change_seq END "
    f"FROM registry_enrolment t JOIN registry_person p ON p.id = t.pupil_id "
    f"{_O.format(a='t')} {_Y.format(a='t')} WHERE (o.code, y.code, t.pupil_code) IN"
)
LOCK_OF = {"roster": "t, p"}
DATE_KEYS = {"measured_on"}


def _natural_key(entity: str) -> tuple[str, ...]:
    if entity == "roster":
        return xf.BY_NAME["enrolments"].natural_key
    return xf.BY_NAME[entity].natural_key


@dataclass
class Request:
    """What identifies the HTTP request for its idempotency key."""

    key: str
    method: str
    path: str
    fingerprint: str


# --- small helpers ------------------------------------------------------------------------------


def _text(value) -> str:
    if value is None:
        return ""
    return unicodedata.normalize("NFC", str(value)).strip()


def _iso_date(value) -> str | None:
    text = _text(value)
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y"):
        try:
            return datetime.strptime(text, fmt).date().isoformat()  # noqa: DTZ007 - a date
        except ValueError:
            continue
    return None


def _key_of(entity: str, record: dict) -> tuple | None:
    """The record's natural key, normalised as intake does for comparison; None if incomplete."""
    parts = []
    for name in _natural_key(entity):
        value = _iso_date(record.get(name)) if name in DATE_KEYS else _text(record.get(name))
        if not value:
            return None
        parts.append(value)
    return tuple(parts)


def _key_dict(entity: str, record: dict) -> dict:
    return {name: record.get(name) for name in _natural_key(entity)}


# Codes of the removals that the shared catalogue (``exchange.messages``) does not hold.
OWN_MESSAGES = {
    "pupil_needs_enrolment": (
        "Học sinh mới (chưa có mã định danh giáo dục, chưa được xếp lớp ở trường) phải được gửi "
        "cùng với việc xếp lớp: dùng loại dữ liệu roster (thông tin học sinh và lớp trên một "
        "dòng).",
        "A new pupil (no education ID, not yet enrolled at the school) must be sent with the "
        "enrolment: use the roster entity (pupil and class on one row).",
    ),
    "unknown_teaching_assignment": (
        "Không có phân công giảng dạy nào với khoá này (trường, năm học, lớp, môn).",
        "No teaching assignment has this key (school, school year, class, subject).",
    ),
}


def _error(code: str, column: str | None = None) -> dict:
    vi, en = OWN_MESSAGES.get(code) or message(code)
    return {"column": column, "code": code, "message_vi": vi, "message_en": en}


def _plain_key(values) -> tuple:
    return tuple(v.isoformat() if isinstance(v, date) else str(v) for v in values)


def _versions(entity: str, keys: set[tuple], *, lock: bool) -> dict[tuple, list[tuple[int, int]]]:
    """key → [(id, change_seq)] of the existing rows, locked for this transaction."""
    if not keys:
        return {}
    width = len(next(iter(keys)))
    pg = connection.vendor == "postgresql"
    mark = ", ".join(
        "CAST(%s AS date)" if pg and name in DATE_KEYS else "%s" for name in _natural_key(entity)
    )
    keys = sorted(keys)
    sql = f"{LOOKUP[entity]} (VALUES {', '.join(f'({mark})' for _ in keys)})"
    if lock and pg:
        sql += f" FOR UPDATE OF {LOCK_OF.get(entity, 't')}"
    found: dict[tuple, list[tuple[int, int]]] = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(sql, [v for key in keys for v in key])
        for row in cursor.fetchall():
            key = _plain_key(row[:width])
            if (row[width], row[width + 1]) not in found[key]:
                found[key].append((row[width], row[width + 1]))
    return found


def _pupils_by_education_id(
    records: list[dict], keys: list, found: dict, *, lock: bool
) -> dict[tuple, list[tuple[int, int]]]:
    """Pupils whose (school, pupil code) names no enrolment yet, found by education ID."""
    wanted = {
        _text(r.get("education_id")): k
        for r, k in zip(records, keys, strict=True)
        if k is not None and k not in found and _text(r.get("education_id"))
    }
    if not wanted:
        return found
    marks = ", ".join(["%s"] * len(wanted))
    sql = f"SELECT education_id, id, change_seq FROM registry_person t WHERE education_id IN ({marks})"
    if lock and connection.vendor == "postgresql":
        sql += " FOR UPDATE OF t"
    with connection.cursor() as cursor:
        cursor.execute(sql, list(wanted))
        for eid, pk, seq in cursor.fetchall():
            found.setdefault(wanted[eid], []).append((pk, seq))
    return found


def _write_scope(actor) -> frozenset[int] | None:
    if actor is None or is_unrestricted(actor):
        return None
    return frozenset(
        Organisation.objects.filter(
            id__in=org_ids_in_scope(actor), kind=Organisation.Kind.SCHOOL
        ).values_list("id", flat=True)
    )


def _locked_pairs() -> set[tuple[int, int]]:
    """(school_id, school_year_id) pairs locked by approved submissions (helper H-G)."""
    try:
        from .selectors_submissions import locked_pairs
    except ImportError:  # submissions not built: nothing is locked
        return set()
    return set(locked_pairs())


def _require_writer(actor: User, entity: str) -> None:
    if not can_write(actor):
        raise ApiError(
            403,
            "forbidden",
            "Tài khoản của bạn không có quyền ghi dữ liệu.",
            "Your account may not write data.",
        )
    if entity == "schools" and not (
        is_unrestricted(actor) or actor.role in (User.Role.DEPARTMENT, User.Role.MINISTRY)
    ):
        raise ApiError(
            403,
            "forbidden",
            "Chỉ Sở và Bộ được đồng bộ danh sách trường.",
            "Only Departments and the Ministry may sync the list of schools.",
        )


def _stale(conflicts: list[dict]) -> ApiError:
    return ApiError(
        409,
        "stale_version",
        "Dữ liệu đã được thay đổi sau lần đọc cuối của bạn (phiên bản cũ); không bản ghi nào "
        "được ghi. Hãy đọc lại các bản ghi được liệt kê rồi gửi lại.",
        "The data changed after you last read it (stale version); nothing was written. Read "
        "the listed records again, then resend.",
        errors=conflicts,
    )


def _check_versions(entity: str, records: list[dict], keys: list, before: dict) -> None:
    conflicts = []
    for index, (record, key) in enumerate(zip(records, keys, strict=True), start=1):
        if "version" not in record or record["version"] is None or key is None:
            continue
        expected = record["version"]
        current = [seq for _id, seq in before.get(key, [])]
        stale = (expected == 0 and current) or (
            expected != 0 and (not current or any(seq != expected for seq in current))
        )
        if stale:
            conflicts.append(
                {
                    "field": f"records[{index}].version",
                    "type": "stale_version",
                    "message": (
                        f"record {index}: version {expected} sent, the registry holds "
                        + (f"version {max(current)}" if current else "no such record")
                    ),
                    "index": index,
                    "key": _key_dict(entity, record),
                    "version": expected,
                    "current_version": max(current) if current else None,
                }
            )
    if conflicts:
        raise _stale(conflicts)


def _totals(results: list[dict]) -> dict[str, int]:
    totals = {"records": len(results), "inserted": 0, "updated": 0, "unchanged": 0, "rejected": 0}
    for r in results:
        if r["status"] in totals:
            totals[r["status"]] += 1
    return totals


def _outcome(entity, mode, results, *, applied: bool) -> tuple[int, dict]:
    body = {
        "entity": entity,
        "mode": mode,
        "applied": applied,
        "totals": _totals(results),
        "results": results,
    }
    if applied:
        return 200, body
    codes = {e["code"] for r in results for e in r["errors"]}
    if "period_locked" in codes:
        vi, en = message("period_locked")
        status, code = 423, "period_locked"
    else:
        status, code = 422, "batch_rejected"
        vi = "Có bản ghi không hợp lệ; theo chế độ all_or_nothing, không bản ghi nào được ghi."
        en = "Some records are invalid; in all_or_nothing mode nothing was written."
    return status, {**body, "code": code, "message_vi": vi, "message_en": en}


def _in_transaction(actor, request: Request, work) -> tuple[int, dict, bool]:
    """Run ``work()`` under the change lock, with the idempotency key checked and stored;
    (status, body, replayed)."""
    with transaction.atomic():
        change_lock()
        replay = idempotency.idempotency_replay(
            owner=actor, key=request.key, fingerprint=request.fingerprint
        )
        if replay is not None:
            return (*replay, True)
        status, body = work()
        if status == 200:
            idempotency.idempotency_store(
                owner=actor,
                key=request.key,
                method=request.method,
                path=request.path,
                fingerprint=request.fingerprint,
                status=status,
                body=body,
            )
        return status, body, False


# --- batch upsert -------------------------------------------------------------------------------


def _errors_by_row(job) -> dict[int, list[dict]]:
    path = Path(job.workdir) / "errors.parquet"
    found: dict[int, list[dict]] = defaultdict(list)
    if not path.exists():
        return found
    frame = pl.read_parquet(path)
    for row in frame.iter_rows(named=True):
        if row.get("row") is None:
            continue
        error = _error(row["code"], row.get("column"))
        error["severity"] = row.get("severity") or "error"
        found[int(row["row"])].append(error)
    return found


def sync_upsert(
    *, actor: User, entity: str, records: list[dict], mode: str, request: Request
) -> tuple[int, dict, bool]:
    """Upsert a batch of one entity keyed by natural keys; (HTTP status, body, replayed)."""
    from .imports import import_file

    _require_writer(actor, entity)

    def work() -> tuple[int, dict]:
        keys = [_key_of(entity, r) for r in records]
        wanted = {k for k in keys if k is not None}
        before = _versions(entity, wanted, lock=True)
        if entity == "pupils":
            before = _pupils_by_education_id(records, keys, before, lock=True)
        _check_versions(entity, records, keys, before)
        # A pupil the registry cannot match (no enrolment with that code at the school, no
        # education ID) would be created again on every retry: new pupils come with their
        # enrolment (entity "roster"), which the engine matches in one run.
        refused = {
            i
            for i, (r, k) in enumerate(zip(records, keys, strict=True), start=1)
            if entity == "pupils" and k is not None and k not in before
            and not _text(r.get("education_id"))
        }  # fmt: skip
        if refused and mode == "all_or_nothing":
            results = [
                {
                    "index": i,
                    "key": _key_dict(entity, r),
                    "status": "rejected" if i in refused else "not_applied",
                    "version": None,
                    "errors": [_error("pupil_needs_enrolment", "pupil_code")]
                    if i in refused
                    else [],
                }
                for i, r in enumerate(records, start=1)
            ]
            return _outcome(entity, mode, results, applied=False)
        folder = Path(tempfile.mkdtemp(prefix="vnemis-sync-"))
        try:
            path = folder / f"{entity}.jsonl"
            with path.open("w", encoding="utf-8") as out:
                for index, record in enumerate(records, start=1):
                    line = {k: v for k, v in record.items() if k != "version"}
                    if index in refused:
                        line = {}  # keeps the line numbers; its result is set below
                    out.write(json.dumps(line, ensure_ascii=False) + "\n")
            job = import_file(
                path, actor=actor, school=None, entity=entity, mode=mode, origin="sync"
            )
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        if job.status not in ("succeeded", "rejected"):
            raise ApiError(
                500,
                "sync_failed",
                "Không ghi được lô dữ liệu do lỗi hệ thống; không có gì được ghi. Hãy gửi lại sau.",
                "The batch could not be written because of a system error; nothing was "
                "written. Try again later.",
            )
        errors = _errors_by_row(job)
        if job.status == "rejected" and not errors and job.error:
            vi, _sep, en = job.error.partition(" / ")
            raise ApiError(422, "batch_refused", vi, en or vi)
        rejected = {i for i, errs in errors.items() if any(e["severity"] == "error" for e in errs)}
        applied = job.status == "succeeded" and (mode == "apply_valid" or not rejected)
        after = _versions(entity, wanted, lock=False) if applied else {}
        if applied and entity == "pupils":
            after = _pupils_by_education_id(records, keys, after, lock=False)
        for index in refused:
            errors[index] = [{**_error("pupil_needs_enrolment", "pupil_code"), "severity": "error"}]
            rejected.add(index)
        results = []
        for index, (record, key) in enumerate(zip(records, keys, strict=True), start=1):
            errs = [{k: v for k, v in e.items() if k != "severity"} for e in errors.get(index, [])]
            was = before.get(key, []) if key else []
            now = after.get(key, []) if key else []
            version = max((seq for _id, seq in now), default=None)
            if index in rejected:
                status, version = "rejected", max((s for _i, s in was), default=None)
            elif not applied:
                status, version = "not_applied", max((s for _i, s in was), default=None)
            elif not was and now:
                status = "inserted"
            elif sorted(was) != sorted(now):
                status = "updated"
            else:
                status = "unchanged"
            results.append(
                {
                    "index": index,
                    "key": _key_dict(entity, record),
                    "status": status,
                    "version": version,
                    "errors": errs,
                }
            )
        return _outcome(entity, mode, results, applied=applied)

    return _in_transaction(actor, request, work)


# --- removals -----------------------------------------------------------------------------------


REMOVE_ENTITIES = ("enrolments", "staff", "teaching_assignments")
UNKNOWN = {
    "enrolments": "unknown_enrolment",
    "staff": "unknown_staff",
    "teaching_assignments": "unknown_teaching_assignment",
}


def _remove_rows(entity: str, ids: list[int]) -> dict[int, dict]:
    """The rows a removal touches (scope, period lock, dates), by id."""
    if not ids:
        return {}
    marks = ", ".join(["%s"] * len(ids))
    sql = {
        "enrolments": "SELECT id, school_id, school_year_id, started_on, status, ended_on "
        "FROM registry_enrolment WHERE id IN ({})",
        "staff": "SELECT id, school_id, NULL, starts_on, role, ends_on "
        "FROM registry_staffassignment WHERE id IN ({})",
        "teaching_assignments": "SELECT t.id, c.school_id, c.school_year_id, NULL, NULL, NULL "
        "FROM registry_teachingassignment t JOIN registry_schoolclass c "
        "ON c.id = t.school_class_id WHERE t.id IN ({})",
    }[entity].format(marks)
    with connection.cursor() as cursor:
        cursor.execute(sql, ids)
        names = ("id", "school_id", "school_year_id", "start", "status", "end")
        return {
            row[0]: {
                n: (date.fromisoformat(v) if n in ("start", "end") and isinstance(v, str) else v)
                for n, v in zip(names, row, strict=True)
            }
            for row in cursor.fetchall()
        }


def sync_remove(
    *, actor: User, entity: str, records: list[dict], mode: str, request: Request
) -> tuple[int, dict, bool]:
    """Removals as status changes: leave an enrolment, end a staff post, drop a teaching
    assignment (deleted; the change feed shows its tombstone)."""
    from vnemis.registry.models import EnrolmentStatusChange

    _require_writer(actor, entity)
    scope = _write_scope(actor)

    def work() -> tuple[int, dict]:
        keys = [_key_of(entity, r) for r in records]
        wanted = {k for k in keys if k is not None}
        before = _versions(entity, wanted, lock=True)
        _check_versions(entity, records, keys, before)
        rows = _remove_rows(entity, [i for k in wanted for i, _s in before.get(k, [])])
        locked = _locked_pairs()
        results, plan = [], []
        for index, (record, key) in enumerate(zip(records, keys, strict=True), start=1):
            errs: list[dict] = []
            targets = [rows[i] for i, _s in before.get(key, [])] if key else []
            when = _iso_date(record.get("date")) if entity != "teaching_assignments" else None
            status = _text(record.get("status")) if entity == "enrolments" else None
            if key is None:
                missing = [n for n in _natural_key(entity) if not _text(record.get(n))]
                errs.append(_error("missing", missing[0] if missing else None))
            elif not targets:
                errs.append(_error(UNKNOWN[entity]))
            if entity == "enrolments" and status not in LEAVING_STATUSES:
                errs.append(_error("bad_status", "status"))
            if entity != "teaching_assignments" and when is None:
                errs.append(_error("bad_date", "date"))
            for row in targets:
                if scope is not None and row["school_id"] not in scope:
                    errs.append(_error("out_of_scope", "school_code"))
                elif (row["school_id"], row["school_year_id"]) in locked:
                    errs.append(_error("period_locked", "school_year"))
                elif when and row["start"] and date.fromisoformat(when) < row["start"]:
                    errs.append(_error("dates_out_of_order", "date"))
            errs = list({e["code"]: e for e in errs}.values())
            unchanged = bool(targets) and all(
                (entity == "enrolments" and r["status"] == status and str(r["end"]) == when)
                or (entity == "staff" and str(r["end"]) == when)
                for r in targets
            )
            result = {
                "index": index,
                "key": _key_dict(entity, record),
                "status": "rejected" if errs else ("unchanged" if unchanged else "updated"),
                "version": max((s for _i, s in before.get(key, [])), default=None),
                "errors": errs,
            }
            if entity == "teaching_assignments" and not errs:
                result["status"], result["version"] = "deleted", None
            results.append(result)
            if not errs and not unchanged:
                plan.append((result, key, [r["id"] for r in targets], status, when))
        rejected = any(r["status"] == "rejected" for r in results)
        if rejected and mode == "all_or_nothing":
            for r in results:
                if r["status"] != "rejected":
                    r["status"] = "not_applied"
            return _outcome(entity, mode, results, applied=False)
        _apply_removals(entity, plan, actor, EnrolmentStatusChange)
        if entity != "teaching_assignments":
            after = _versions(entity, {p[1] for p in plan}, lock=False)
            for result, key, _ids, _status, _when in plan:
                result["version"] = max((s for _i, s in after.get(key, [])), default=None)
        counts = _totals(results)
        counts["deleted"] = sum(r["status"] == "deleted" for r in results)
        audit_record(
            actor=actor,
            action="delete" if entity == "teaching_assignments" else "update",
            object_type=f"sync_remove_{entity}",
            object_id="",
            detail={"counts": counts},
        )
        status_code, body = _outcome(entity, mode, results, applied=True)
        body["totals"] = counts
        return status_code, body

    return _in_transaction(actor, request, work)


def _apply_removals(entity: str, plan: list, actor, history_model) -> None:
    """Set-wise: one UPDATE (or DELETE) per (status, date) group, history rows in one insert."""
    from vnemis.registry.models import Enrolment, StaffAssignment, TeachingAssignment

    groups: dict[tuple, list[int]] = defaultdict(list)
    for _result, _key, ids, status, when in plan:
        groups[(status, when)] += ids
    for (status, when), ids in groups.items():
        if entity == "enrolments":
            Enrolment.objects.filter(id__in=ids).update(
                status=status, ended_on=when, updated_at=timezone.now()
            )
        elif entity == "staff":
            StaffAssignment.objects.filter(id__in=ids).update(ends_on=when)
        else:
            TeachingAssignment.objects.filter(id__in=ids).delete()
    if entity == "enrolments":
        history_model.objects.bulk_create(
            [
                history_model(
                    enrolment_id=i,
                    status=status,
                    effective_on=date.fromisoformat(when),
                    note="sync",
                    recorded_by=actor,
                )
                for _result, _key, ids, status, when in plan
                for i in ids
            ]
        )
