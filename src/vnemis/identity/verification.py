"""Verification runs: every unverified or changed person of a scope, checked with the registry.

The run reads persons in id order (keyset, a chunk at a time) and skips those whose identifying
fields are unchanged since their last check (the fingerprint), so a record is never sent twice.
The others go out in batches of up to 1,000 through a thread pool (``concurrency`` requests in
flight); answers are saved in the order the batches were made, each with the run's cursor in one
transaction, so a crashed or paused run resumes after the last saved batch. A registry that
stays unavailable (retries spent, circuit open) pauses the run instead of failing persons.
"""

import hashlib
import json
import logging
import time
import unicodedata
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from vnemis.core.crypto import decrypt_identifier
from vnemis.core.models import Job
from vnemis.orgs.models import Organisation, OrgClosure
from vnemis.registry.models import ACTIVE_STATUSES, Enrolment, Person, StaffAssignment

from .models import (
    Verification,
    VerificationMethod,
    VerificationRun,
    VerificationStatus,
)
from .registry_client import BATCH_LIMIT, ClientConfig, RegistryClient, RegistryError

log = logging.getLogger(__name__)

READ_CHUNK = 5_000
STALE_AFTER = timedelta(minutes=5)
Status = VerificationStatus
FIELDS_ASKED = ("citizen_id", "full_name", "birth_date", "sex")


class RunBusy(Exception):
    """Another worker holds the run (its heartbeat is fresh), or it has finished."""


def fingerprint(citizen_id_index: str, full_name: str, birth_date, sex: str) -> str:
    """Digest of the identifying fields as compared by the registry (case and spacing aside)."""
    name = " ".join(unicodedata.normalize("NFC", full_name).casefold().split())
    raw = f"{citizen_id_index}|{name}|{birth_date.isoformat()}|{sex}"
    return hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()


def outcome_of(answer: dict) -> tuple[str, list[str]]:
    """A registry answer as (status, mismatched fields)."""
    if answer.get("result") != "found":
        return Status.NOT_FOUND, []
    fields = answer.get("fields") or {}
    mismatched = [f for f in FIELDS_ASKED if fields.get(f) == "mismatch"]
    return (Status.MISMATCH if mismatched else Status.VERIFIED), mismatched


def scope_person_ids(scope: Organisation):
    """Persons of a scope: pupils with an active enrolment or staff with a current post there.

    The nation (the Ministry, the tree's root) is every person."""
    if scope.parent_id is None:
        return None
    under = OrgClosure.objects.filter(ancestor_id=scope.id).values("descendant_id")
    today = timezone.localdate()
    enrolled = Enrolment.objects.filter(
        pupil_id=OuterRef("pk"), school_id__in=under, status__in=ACTIVE_STATUSES
    )
    posted = StaffAssignment.objects.filter(
        Q(ends_on__isnull=True) | Q(ends_on__gte=today),
        person_id=OuterRef("pk"),
        school_id__in=under,
    )
    return Person.objects.filter(Exists(enrolled) | Exists(posted)).values("id")


@dataclass
class Candidate:
    person_id: int
    status: str
    mismatched: list[str]
    fingerprint: str


def candidate_of(person: Person, status: str, mismatched=()) -> Candidate:
    """An outcome for ``person`` as its fields are now (what a save records as checked)."""
    return Candidate(
        person.pk,
        status,
        list(mismatched),
        fingerprint(person.citizen_id_index, person.full_name, person.birth_date, person.sex),
    )


@dataclass
class Unit:
    """Persons in id order up to ``last_id``: what is sent, what is settled without sending."""

    last_id: int = 0
    items: list[dict] = field(default_factory=list)
    sent: list[Candidate] = field(default_factory=list)
    local: list[Candidate] = field(default_factory=list)
    skipped: int = 0


def _candidates(run: VerificationRun) -> Iterator[tuple[int, Candidate | None, dict | None]]:
    """(person id, a settled outcome or None, the item to send or None), in id order."""
    base = Person.objects.order_by("id")
    scoped = scope_person_ids(run.scope)
    if scoped is not None:
        base = base.filter(id__in=scoped)
    cursor = run.cursor
    while True:
        rows = list(
            base.filter(id__gt=cursor).values_list(
                "id",
                "citizen_id_ciphertext",
                "citizen_id_index",
                "full_name",
                "birth_date",
                "sex",
                "verification__fingerprint",
            )[:READ_CHUNK]
        )
        if not rows:
            return
        for pid, cipher, index, name, born, sex, known in rows:
            print_ = fingerprint(index, name, born, sex)
            if print_ == known:
                yield pid, None, None  # unchanged since its last check
                continue
            citizen_id = decrypt_identifier(cipher) if cipher else ""
            if len(citizen_id) != 12:  # none, or an old 9-digit ID card: no usable number
                yield pid, Candidate(pid, Status.NO_ID, [], print_), None
                continue
            item = {
                "ref": str(pid),
                "citizen_id": citizen_id,
                "full_name": name,
                "birth_date": born.isoformat(),
                "sex": sex,
            }
            yield pid, Candidate(pid, Status.UNVERIFIED, [], print_), item
        cursor = rows[-1][0]


def _units(run: VerificationRun) -> Iterator[Unit]:
    unit = Unit()
    for pid, candidate, item in _candidates(run):
        unit.last_id = pid
        if candidate is None:
            unit.skipped += 1
        elif item is None:
            unit.local.append(candidate)
        else:
            unit.items.append(item)
            unit.sent.append(candidate)
        if len(unit.items) >= BATCH_LIMIT or unit.skipped + len(unit.local) >= READ_CHUNK:
            yield unit
            unit = Unit()
    if unit.last_id:
        yield unit


_UPSERT_SET = (
    "ON CONFLICT (person_id) DO UPDATE SET status = excluded.status, method = excluded.method, "
    "mismatched = excluded.mismatched, fingerprint = excluded.fingerprint, "
    "checked_at = excluded.checked_at, run_id = excluded.run_id"
)
# PostgreSQL: the whole batch as arrays, one statement for the outcomes and history together.
_PG_SAVE = """
WITH batch AS (
  SELECT * FROM unnest(%s::bigint[], %s::text[], %s::jsonb[], %s::text[])
         AS b(person_id, status, mismatched, fingerprint)
), saved AS (
  INSERT INTO identity_verification
         (person_id, status, method, mismatched, fingerprint, checked_at, run_id)
  SELECT person_id, status, %s, mismatched, fingerprint, %s, %s FROM batch
  ON CONFLICT (person_id) DO UPDATE SET status = excluded.status, method = excluded.method,
     mismatched = excluded.mismatched, fingerprint = excluded.fingerprint,
     checked_at = excluded.checked_at, run_id = excluded.run_id
)
INSERT INTO identity_verificationevent (person_id, status, method, mismatched, at, run_id)
SELECT person_id, status, %s, mismatched, %s, %s FROM batch
"""


def outcomes_save(
    candidates: list[Candidate], *, method: str, run_id: int | None, now=None
) -> None:
    """Upsert the current outcome of each person and append it to their history (set-wise)."""
    if not candidates:
        return
    now = now or timezone.now()
    mismatched = [json.dumps(c.mismatched) for c in candidates]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                _PG_SAVE,
                [
                    [c.person_id for c in candidates],
                    [c.status for c in candidates],
                    mismatched,
                    [c.fingerprint for c in candidates],
                    method,
                    now,
                    run_id,
                    method,
                    now,
                    run_id,
                ],
            )
            return
        rows = [
            (c.person_id, c.status, method, m, c.fingerprint, now, run_id)
            for c, m in zip(candidates, mismatched, strict=True)
        ]
        cursor.executemany(
            "INSERT INTO identity_verification "
            "(person_id, status, method, mismatched, fingerprint, checked_at, run_id) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s) " + _UPSERT_SET,
            rows,
        )
        cursor.executemany(
            "INSERT INTO identity_verificationevent "
            "(person_id, status, method, mismatched, at, run_id) VALUES (%s, %s, %s, %s, %s, %s)",
            [(r[0], r[1], r[2], r[3], r[5], r[6]) for r in rows],
        )


# --- runs --------------------------------------------------------------------------------------


def run_create(*, actor, scope: Organisation, enqueue: bool = True) -> VerificationRun:
    """A new run over ``scope``, queued for the worker."""
    job = Job.objects.create(
        kind="identity.verify", params={"scope": scope.code}, created_by=_user(actor)
    )
    run = VerificationRun.objects.create(job=job, scope=scope, created_by=_user(actor))
    if enqueue:
        from .tasks import verification_execute

        transaction.on_commit(lambda: verification_execute.enqueue(run.pk))
    return run


def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) else None


def _claim(run_id: int) -> VerificationRun:
    now = timezone.now()
    takeable = Q(status__in=[VerificationRun.Status.PENDING, VerificationRun.Status.PAUSED])
    takeable |= Q(status=VerificationRun.Status.FAILED)
    takeable |= Q(status=VerificationRun.Status.RUNNING, heartbeat_at__lt=now - STALE_AFTER)
    claimed = (
        VerificationRun.objects.filter(takeable, pk=run_id)
        .exclude(status=VerificationRun.Status.SUCCEEDED)
        .update(status=VerificationRun.Status.RUNNING, heartbeat_at=now)
    )
    if not claimed:
        raise RunBusy(run_id)
    run = VerificationRun.objects.select_related("scope", "job").get(pk=run_id)
    Job.objects.filter(pk=run.job_id).update(
        status=Job.Status.RUNNING, started_at=run.job.started_at or now, error=""
    )
    return run


def _total(run: VerificationRun) -> int:
    base = Person.objects.filter(id__gt=run.cursor)
    scoped = scope_person_ids(run.scope)
    return (base.filter(id__in=scoped) if scoped is not None else base).count()


def run_execute(
    run_id: int,
    *,
    client: RegistryClient | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> VerificationRun:
    """Run or resume a verification run; returns it as it ended (succeeded or paused)."""
    run = _claim(run_id)
    own_client = client is None
    client = client or RegistryClient(ClientConfig.from_settings())
    counts = {k: 0 for k in ("sent", "skipped", *Status.values)}
    counts.update({k: v for k, v in run.counts.items() if k in counts})
    done = run.job.done
    total = done + _total(run)
    Job.objects.filter(pk=run.job_id).update(total=total)
    started = time.perf_counter()
    waited = 0.0
    in_flight: deque[tuple[Future, Unit]] = deque()
    pool = ThreadPoolExecutor(max_workers=client.config.concurrency)

    def settle() -> None:
        nonlocal done, waited
        future, unit = in_flight.popleft()
        before = time.perf_counter()
        answers = future.result()
        waited += time.perf_counter() - before
        for candidate, answer in zip(unit.sent, answers, strict=True):
            candidate.status, candidate.mismatched = outcome_of(answer)
        settled = unit.sent + unit.local
        with transaction.atomic():
            outcomes_save(settled, method=VerificationMethod.ID_CHECK, run_id=run.pk)
            for candidate in settled:
                counts[candidate.status] += 1
            counts["sent"] += len(unit.sent)
            counts["skipped"] += unit.skipped
            done += unit.skipped + len(settled)
            VerificationRun.objects.filter(pk=run.pk).update(
                cursor=unit.last_id, counts=counts, heartbeat_at=timezone.now()
            )
            Job.objects.filter(pk=run.job_id).update(done=done)
        if progress is not None:
            progress(done, total)

    try:
        for unit in _units(run):
            if unit.items:
                in_flight.append((pool.submit(client.verify_batch, unit.items), unit))
            else:
                resolved: Future = Future()
                resolved.set_result([])
                in_flight.append((resolved, unit))
            while len(in_flight) > client.config.concurrency * 2 or (
                in_flight and in_flight[0][0].done()
            ):
                settle()
        while in_flight:
            settle()
    except RegistryError as exc:
        for future, _unit in in_flight:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        log.warning("verification run %s paused: %s", run.pk, exc.code)
        return _finish(
            run,
            counts,
            started,
            waited,
            client,
            status=VerificationRun.Status.PAUSED,
            error=exc.code,
        )
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if own_client:
            client.close()
    return _finish(run, counts, started, waited, client, status=VerificationRun.Status.SUCCEEDED)


def _finish(run, counts, started, waited, client, *, status, error=""):
    seconds = time.perf_counter() - started
    counts = {
        **counts,
        "seconds": round(seconds, 3),
        "wait_seconds": round(waited, 3),  # the run blocked on answers not yet in
        "network_seconds": round(client.stats.network_seconds, 3),  # all requests, summed
        "requests": client.stats.requests,
        "retries": client.stats.retries,
    }
    now = timezone.now()
    VerificationRun.objects.filter(pk=run.pk).update(status=status, counts=counts, heartbeat_at=now)
    succeeded = status == VerificationRun.Status.SUCCEEDED
    Job.objects.filter(pk=run.job_id).update(
        status=Job.Status.SUCCEEDED if succeeded else Job.Status.FAILED,
        result=counts,
        error="" if succeeded else error,
        finished_at=now,
    )
    if succeeded:
        from .rates import rates_refresh

        rates_refresh()
    run.refresh_from_db()
    return run


# --- one person, at once (after a correction) ----------------------------------------------------


def verify_person_now(person: Person, *, client: RegistryClient | None = None) -> Verification:
    """Check one person straight away; a registry that does not answer leaves them unverified
    (raises ``RegistryError`` so the page can say so)."""
    person.refresh_from_db()
    citizen_id = (
        decrypt_identifier(person.citizen_id_ciphertext) if person.citizen_id_ciphertext else ""
    )
    candidate = candidate_of(person, Status.NO_ID)
    if len(citizen_id) == 12:
        own = client is None
        client = client or RegistryClient(ClientConfig.from_settings(retries=1, timeout=5))
        try:
            answer = client.verify_one(
                {
                    "citizen_id": citizen_id,
                    "full_name": person.full_name,
                    "birth_date": person.birth_date.isoformat(),
                    "sex": person.sex,
                }
            )
        finally:
            if own:
                client.close()
        candidate.status, candidate.mismatched = outcome_of(answer)
    with transaction.atomic():
        outcomes_save([candidate], method=VerificationMethod.ID_CHECK, run_id=None)
    return Verification.objects.get(person=person)
