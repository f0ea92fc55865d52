"""Setting up a vnemis instance as one side of an edXML exchange (the two-instance tests, the
bench, a demonstration): one organisation with its e-office, a clerk and a leader, its seal
credential and its partners; and issued documents made in bulk for the bench.

Run inside the instance's own settings (its database), e.g.::

    vnemis shell -c "from vnemis.office.exchange_instance import instance_seed; instance_seed(...)"

or ``python -m vnemis.office.exchange_instance seed '<json>'`` (what the tests and bench do).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from django.db import transaction
from django.utils import timezone


def instance_seed(
    *,
    code: str,
    name: str,
    organ_id: str,
    abbreviation: str,
    p12_path: str,
    password: str,
    partners: list[dict],
) -> dict:
    """The organisation (kind ministry, at the top of this instance's tree), its e-office, the
    users ``<code>_vanthu`` (clerk) and ``<code>_lanhdao`` (leader), password ``pw``, its seal
    and its partners (``organ_id``, ``name``, ``inbox_url``, ``trusted_ca_pem``)."""
    from vnemis.office import actions, actions_signing
    from vnemis.office.models_exchange import ExchangePartner
    from vnemis.orgs.actions import organisation_create
    from vnemis.orgs.models import Organisation, User

    org = Organisation.objects.filter(code=code).first() or organisation_create(
        code=code, name=name, kind="ministry"
    )
    actions.office_organisation_set(
        actor=None, organisation=org, abbreviation=abbreviation, place="Hà Nội", organ_id=organ_id
    )
    unit = actions.office_unit_create(
        actor=None, organisation=org, name="Văn phòng", abbreviation="VP"
    )
    users = {}
    for suffix, flags in (("vanthu", {"is_clerk": True}), ("lanhdao", {"is_leader": True})):
        user = User.objects.create_user(
            f"{code.lower()}_{suffix}",
            password="pw",  # noqa: S106 - a demonstration instance's users
            role="ministry",
            scope=org,
        )
        actions.office_member_set(actor=None, user=user, organisation=org, unit=unit, **flags)
        users[suffix] = user
    actions_signing.credential_import(
        actor=users["vanthu"],
        p12_bytes=Path(p12_path).read_bytes(),
        password=password,
        kind="seal",
    )
    for partner in partners:
        ExchangePartner.objects.update_or_create(
            organisation=org, organ_id=partner["organ_id"], defaults=partner
        )
    return {"organisation": org.pk, "unit": unit.pk}


def issued_documents_create(
    *, code: str, recipient_name: str, recipient_organ_id: str, pdfs: list[bytes]
) -> list[int]:
    """Issued official letters of the organisation to one recipient, one per PDF, written in
    bulk (the bench's sending side: the workflow that issues them is measured elsewhere)."""
    from vnemis.office.actions_files import blob_store, pdf_check
    from vnemis.office.models import (
        Attachment,
        Document,
        DocumentRecipient,
        DocumentType,
        DocumentVersion,
        Register,
    )
    from vnemis.orgs.models import Organisation

    org = Organisation.objects.get(code=code)
    today = timezone.localdate()
    letter = DocumentType.objects.get(code="CV")
    count = len(pdfs)
    with transaction.atomic():
        blobs = [blob_store(pdf_check(name="cong-van.pdf", data=pdf, text=False)) for pdf in pdfs]
        register, _ = Register.objects.get_or_create(
            organisation=org, kind="outgoing", year=today.year
        )
        first = register.last_number + 1
        documents = Document.objects.bulk_create(
            Document(
                direction="outgoing",
                status="issued",
                organisation=org,
                doc_type=letter,
                issuer=org,
                issuer_name=org.name,
                issuer_key=f"org:{org.pk}",
                number=first + i,
                notation=f"{org.office.abbreviation}-VP",
                issued_on=today,
                issued_year=today.year,
                place="Hà Nội",
                subject=f"Công văn thử nghiệm liên thông số {first + i}",
                signer_name="Nguyễn Văn An",
                signer_position="Chánh Văn phòng",
                register=register,
                register_number=first + i,
            )
            for i in range(count)
        )
        register.last_number = first + count - 1
        register.last_date = today
        register.save(update_fields=["last_number", "last_date"])
        DocumentRecipient.objects.bulk_create(
            DocumentRecipient(document=d, name=recipient_name, organ_id=recipient_organ_id)
            for d in documents
        )
        versions = DocumentVersion.objects.bulk_create(
            DocumentVersion(document=d, number=1, signed=True) for d in documents
        )
        Attachment.objects.bulk_create(
            Attachment(version=v, name="cong-van.pdf", is_main=True, blob=blob)
            for v, blob in zip(versions, blobs, strict=True)
        )
    return [d.pk for d in documents]


def postgres_database_fresh(server: str, name: str) -> str:
    """An empty PostgreSQL database ``name`` on ``server`` (``postgres://user@host:port``), any
    earlier one of that name dropped first; returns its URL."""
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


def postgres_database_drop(url: str) -> None:
    import psycopg

    server, name = url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _wait_or_kill(process) -> None:
    """Wait for a process told to stop; killed if it has not stopped within 20 s."""
    if process is None:
        return
    try:
        process.wait(timeout=20)
    except Exception:
        process.kill()
        process.wait(timeout=10)


class Instance:
    """One vnemis instance in processes of its own: its database (a SQLite file in its var
    directory, or ``database_url``), migrated and seeded by ``run``, served by granian
    (``start``/``stop``). With ``worker``, tasks are queued in its database and run by a
    ``db_worker`` process started and stopped with the server (otherwise they run at once,
    in the request that enqueues them)."""

    def __init__(
        self,
        directory: Path,
        port: int,
        *,
        workers: int = 2,
        database_url: str = "",
        worker: bool = False,
    ):
        self.directory, self.port, self.workers = Path(directory), port, workers
        self.directory.mkdir(parents=True, exist_ok=True)
        self.database = self.directory / "vnemis.sqlite3"
        self.database_url, self.worker = database_url, worker
        self.process = self.worker_process = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict:
        import os

        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(
            DJANGO_SETTINGS_MODULE="vnemis.config.settings."
            + ("instance" if self.worker else "test"),
            VNEMIS_VAR_DIR=str(self.directory),
            VNEMIS_SQLITE_PATH=str(self.database),
            VNEMIS_ALLOWED_HOSTS="127.0.0.1,localhost",
        )
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        return env

    def run(self, *args: str, timeout: float = 600) -> str:
        import subprocess  # nosec: our own interpreter and module, fixed arguments

        done = subprocess.run(  # noqa: S603
            [sys.executable, *args], env=self.env(), capture_output=True, text=True,
            timeout=timeout, cwd=self.directory,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"{args[:3]} failed: {done.stderr[-3000:]}")
        return done.stdout

    def migrate(self) -> None:
        self.run("-m", "django", "migrate", "--verbosity", "0")

    def command(self, name: str, payload: dict) -> dict:
        out = self.run("-m", "vnemis.office.exchange_instance", name, json.dumps(payload))
        return json.loads(out.strip().splitlines()[-1])

    def start(self, *, wait: float = 60, previous_worker=None) -> None:
        import socket
        import subprocess  # nosec
        import time

        log = open(self.directory / "server.log", "ab")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "vnemis.cli", "serve", "--host", "127.0.0.1",
             "--port", str(self.port), "--workers", str(self.workers), "--backpressure", "1"],
            env=self.env(), stdout=log, stderr=subprocess.STDOUT, cwd=self.directory,
        )  # fmt: skip
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server on {self.port} exited: see {self.directory}/server.log")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"server on {self.port} did not start")
        import httpx  # the workers import Django lazily: wait until one answers

        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/office/edxml/inbox/", timeout=5)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"server on {self.port} does not answer")
        # The task worker starts once the server answers (a restart serves first), and its
        # background work yields to the requests, as a service's Nice= would.
        if self.worker:
            _wait_or_kill(previous_worker)
            self.worker_process = subprocess.Popen(
                ["/usr/bin/nice", "-n", "10", sys.executable, "-m", "vnemis.cli", "worker", "--interval", "0.2"],
                env=self.env(), stdout=log, stderr=subprocess.STDOUT, cwd=self.directory,
            )  # fmt: skip

    def stop(self) -> None:
        running = [p for p in (self.process, self.worker_process) if p and p.poll() is None]
        for process in running:  # all told at once: they wind down side by side
            process.terminate()
        for process in running:
            _wait_or_kill(process)
        self.process = self.worker_process = None

    def restart(self) -> float:
        """Both services restarted at once, as two units of one host would be: the server
        serves again as soon as it can, while the old task worker (niced, so slower to wind
        down under load) finishes; the new worker starts after it has. Returns the seconds
        the old server took to stop."""
        import time

        began = time.perf_counter()
        server, worker = self.process, self.worker_process
        for process in (server, worker):
            if process is not None and process.poll() is None:
                process.terminate()
        _wait_or_kill(server)
        stopped = time.perf_counter() - began
        self.process = self.worker_process = None
        try:
            self.start(previous_worker=worker)
        except Exception:
            _wait_or_kill(worker)  # not left behind when the new server does not come up
            raise
        return stopped

    def query(self, sql: str, params=()) -> list[tuple]:
        """Rows of one statement on the instance's database (``?`` placeholders for both; none
        for a statement that returns none)."""
        if self.database_url:
            import psycopg

            with psycopg.connect(self.database_url) as db:
                cursor = db.execute(sql.replace("?", "%s"), params)
                return cursor.fetchall() if cursor.description else []
        import sqlite3

        with sqlite3.connect(self.database, timeout=30) as db:
            return db.execute(sql, params).fetchall()


def _main(argv: list[str]) -> None:
    import django

    django.setup()
    command, payload = argv[1], json.loads(argv[2]) if len(argv) > 2 else {}
    if command == "seed":
        print(json.dumps(instance_seed(**payload)))
    elif command == "assign":  # the leader assigns the incoming document to the unit
        from vnemis.office import workflow
        from vnemis.office.models import Document, OfficeUnit
        from vnemis.orgs.models import User

        document = Document.objects.get(external_id=payload["external_id"])
        workflow.assignment_create(
            actor=User.objects.get(username=payload["leader"]),
            document=document,
            unit=OfficeUnit.objects.get(organisation_id=document.organisation_id),
        )
        print(json.dumps({"document": document.pk, "status": document.status}))
    else:
        raise SystemExit(f"unknown command {command!r}: seed, assign")


if __name__ == "__main__":
    _main(sys.argv)
