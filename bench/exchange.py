"""Benchmark: edXML messages between two running vnemis instances, the receiver restarted mid-run.

Two instances (``vnemis.office.exchange_instance.Instance``), each its own database
(PostgreSQL by default, ``--database sqlite`` for SQLite files), var directory and server
(``vnemis serve``): A (the Ministry, 000.00.00.G09) and B (a Department,
000.00.02.H48), each with its own development CA and seal, each the other's partner. Not timed:
migrating and seeding both, making --messages issued letters in A's database, and queuing them
(``exchange.document_send``: header, PDF attachment, XML signature, one outbox row each).

Timed: this process, working on A's database, delivers the outbox with --threads threads
(``exchange.outbox_deliver``: HTTP POST to B's inbox; B verifies the signature, checks the PDF,
registers the incoming document with its file and answers a signed 03, which A verifies and
records). When --restart-at messages are acknowledged, B's server and task worker are stopped
(SIGTERM) and started again;
deliveries that fail meanwhile are retried by ``outbox_due_deliver`` after their backoff
(shortened to --backoff seconds here) until the outbox is empty.

Then counted in B's database: **lost** = messages acknowledged by nobody or missing at B;
**duplicated** = documents registered more than once for one DocumentId.

    .venv/bin/python bench/exchange.py [--messages 1000] [--threads 8] [--workers 2]

The last line is JSON: messages, messages_per_s, lost, duplicated, seconds, retried, restarts,
receiver_workers, the machine's speed in the same run (reference_sealed_per_s: the letters
sealed before delivery; ratio_vs_sealing = messages_per_s / it), goal (≥ 50 messages/s, none
lost or duplicated).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
PASSWORD = "mật-khẩu-bench"  # noqa: S105 - the throw-away seals of a benchmark


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pdfs(count: int, *, p12: bytes | None) -> list[bytes]:
    """One letter per message, each its own file; signed with A's seal (PAdES) unless p12 is
    None, so B validates a real signature on each, as it would on an issued document."""
    from fpdf import FPDF

    from vnemis.office.signing.batch import SignOptions, pdf_sign_many
    from vnemis.office.signing.sign import Kind

    pdfs = []
    for i in range(count):
        pdf = FPDF()
        pdf.set_font("helvetica", size=12)
        pdf.add_page()
        pdf.multi_cell(0, 8, f"Cong van so {i + 1}: thu nghiem lien thong van ban dien tu.")
        pdfs.append(bytes(pdf.output()))
    if p12 is None:
        return pdfs
    signed = pdf_sign_many(
        pdfs=pdfs, p12=p12, password=PASSWORD, options=SignOptions(kind=Kind.SEAL)
    )
    bad = [s for s in signed if not isinstance(s, bytes)]
    if bad:
        raise SystemExit(f"{len(bad)} letters not signed: {bad[0]}")
    return signed


def _databases(server: str) -> dict[str, str]:
    """Two fresh PostgreSQL databases, one per instance."""
    from vnemis.office.exchange_instance import postgres_database_fresh

    return {n: postgres_database_fresh(server, f"vnemis_bench_exchange_{n}") for n in ("a", "b")}


def _cpu_seconds(instance) -> tuple[float, float]:
    """User + system CPU seconds so far of an instance's processes (read before they stop):
    the granian server with its workers (the server's children), and the task worker with
    what it ran (text extraction)."""
    tick, totals = os.sysconf("SC_CLK_TCK"), []
    for process in (instance.process, instance.worker_process):
        total = 0
        if process is not None:
            pids = [process.pid]
            try:
                children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text()
                pids += [int(c) for c in children.split()]
            except OSError:
                pass
            for pid in pids:
                try:
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                # utime, stime, and cutime, cstime of its waited-for children
                total += sum(int(f) for f in fields[11:15])
        totals.append(total / tick)
    return totals[0], totals[1]


def _machine_busy_seconds() -> float:
    """CPU seconds every process of the machine has used so far (all cores, /proc/stat)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _pending_texts(instance) -> int:
    return instance.query("SELECT COUNT(*) FROM office_blob WHERE text_status = 'pending'")[0][0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="granian workers of B")
    parser.add_argument("--restart-at", type=int, default=None, help="default: half")
    parser.add_argument("--backoff", type=float, default=0.5)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--database",
        choices=("postgres", "sqlite"),
        default="postgres",
        help="both instances on PostgreSQL (production; default) or each on its SQLite file",
    )
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--unsigned", action="store_true", help="letters without a PAdES seal")
    args = parser.parse_args()
    restart_at = args.restart_at if args.restart_at is not None else args.messages // 2

    from vnemis.office.exchange_instance import Instance
    from vnemis.office.signing.dev_ca import ca_create, certificate_issue, pkcs12_bytes

    work = Path(tempfile.mkdtemp(prefix="vnemis-exchange-bench-"))
    urls = _databases(args.pg) if args.database == "postgres" else {"a": "", "b": ""}
    a = Instance(work / "a", _port(), workers=1, database_url=urls["a"])
    b = Instance(work / "b", _port(), workers=args.workers, database_url=urls["b"], worker=True)
    cas = {}
    for name, instance, organisation in (
        ("a", a, "Bộ Giáo dục và Đào tạo"),
        ("b", b, "Sở GD&ĐT Đà Nẵng"),
    ):
        ca = ca_create(common_name=f"Bench CA {name.upper()}", organisation=organisation)
        issued = certificate_issue(ca=ca, name=organisation, organisation=organisation)
        (instance.directory / "seal.p12").write_bytes(
            pkcs12_bytes(issued=issued, ca=ca, password=PASSWORD)
        )
        cas[name] = ca.certificate_pem().decode()
    t0 = time.perf_counter()
    for instance in (a, b):
        instance.migrate()
    seeds = {
        "a": ("BGDDT", "Bộ Giáo dục và Đào tạo", "000.00.00.G09", "BGDĐT"),
        "b": ("SGD48", "Sở GD&ĐT Đà Nẵng", "000.00.02.H48", "SGDĐT"),
    }
    for name, instance, peer, peer_instance in (("a", a, "b", b), ("b", b, "a", a)):
        code, org_name, organ_id, abbreviation = seeds[name]
        instance.command(
            "seed",
            {
                "code": code,
                "name": org_name,
                "organ_id": organ_id,
                "abbreviation": abbreviation,
                "p12_path": str(instance.directory / "seal.p12"),
                "password": PASSWORD,
                "partners": [
                    {
                        "organ_id": seeds[peer][2],
                        "name": seeds[peer][1],
                        "inbox_url": f"{peer_instance.url}/office/edxml/inbox/",
                        "trusted_ca_pem": cas[peer],
                    }
                ],
            },
        )
    setup_seconds = time.perf_counter() - t0

    # This process works on A's database (its own settings, no task runner: we deliver).
    os.environ.update(a.env())
    import django

    django.setup()
    from django.conf import settings

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    settings.VNEMIS_OFFICE_EXCHANGE_BACKOFF = args.backoff
    settings.VNEMIS_OFFICE_EXCHANGE_MAX_ATTEMPTS = 1000
    from django.utils import timezone

    from vnemis.office import exchange
    from vnemis.office.exchange_instance import issued_documents_create
    from vnemis.office.models import Document
    from vnemis.office.models_exchange import ExchangePartner, OutboxMessage

    t0 = time.perf_counter()
    pdfs = _pdfs(
        args.messages, p12=None if args.unsigned else (a.directory / "seal.p12").read_bytes()
    )
    pdf_seconds = time.perf_counter() - t0
    ids = issued_documents_create(
        code="BGDDT",
        recipient_name=seeds["b"][1],
        recipient_organ_id=seeds["b"][2],
        pdfs=pdfs,
    )
    del pdfs
    partner = ExchangePartner.objects.get(organ_id=seeds["b"][2])
    t0 = time.perf_counter()
    for document in Document.objects.filter(pk__in=ids).select_related("doc_type"):
        exchange.document_send(actor=None, document=document, partners=[partner])
    queue_seconds = time.perf_counter() - t0
    outbox = list(OutboxMessage.objects.order_by("pk").values_list("pk", flat=True))
    assert len(outbox) == args.messages, len(outbox)

    a.start()
    b.start()
    acknowledged = 0
    lock = threading.Lock()
    restarted = threading.Event()
    restarts = 0
    receiver_cpu: list[tuple[float, float]] = []  # (server, task worker) at each stop
    down: list[float] = []  # seconds B was away at each restart
    marks: list[tuple] = []  # (told to stop, server stopped, answered again), from the start

    def deliver(pk: int) -> str:
        nonlocal acknowledged, restarts
        # Each sending thread keeps its database connection, as the task worker that
        # delivers in production does.
        state = exchange.outbox_deliver(message_id=pk, force=True)
        if state == "acknowledged":
            with lock:
                acknowledged += 1
                due = acknowledged >= restart_at and not restarted.is_set()
                if due:
                    restarted.set()
            if due:
                t_down = time.perf_counter()
                receiver_cpu.append(_cpu_seconds(b))
                stopped = t_down + b.restart()
                down.append(time.perf_counter() - t_down)
                marks.append(
                    tuple(round(t - t0, 2) for t in (t_down, stopped, time.perf_counter()))
                )
                restarts += 1
        return state

    t0, sender_cpu, machine = time.perf_counter(), time.process_time(), _machine_busy_seconds()
    with ThreadPoolExecutor(args.threads) as pool:
        first = list(pool.map(deliver, outbox))
        retried = sum(1 for s in first if s != "acknowledged")
        while OutboxMessage.objects.filter(state="queued").exists():
            time.sleep(args.backoff / 2)
            due = list(
                OutboxMessage.objects.filter(
                    state="queued", next_attempt_at__lte=timezone.now()
                ).values_list("pk", flat=True)
            )
            list(pool.map(deliver, due))
            if time.perf_counter() - t0 > 1800:
                break
    seconds = time.perf_counter() - t0
    sender_cpu = time.process_time() - sender_cpu
    machine = _machine_busy_seconds() - machine
    # B's worker extracts the letters' text after each registration; wait until it is done.
    while _pending_texts(b) and time.perf_counter() - t0 < seconds + 600:
        time.sleep(0.2)
    texts_seconds = time.perf_counter() - t0
    receiver_cpu.append(_cpu_seconds(b))
    a.stop()
    b.stop()
    pending = _pending_texts(b)
    signatures = dict(
        b.query("SELECT all_valid, COUNT(*) FROM office_attachmentsignatures GROUP BY all_valid")
    )

    states = dict.fromkeys(OutboxMessage.State.values, 0)
    for state in OutboxMessage.objects.values_list("state", flat=True):
        states[state] += 1
    sent_ids = set(OutboxMessage.objects.values_list("edxml_id", flat=True))
    rows = b.query(
        "SELECT external_id, COUNT(*) FROM office_document WHERE direction = 'incoming'"
        " GROUP BY external_id"
    )
    at_b = {external_id: n for external_id, n in rows}
    # lost: sent by A but not registered at B, or never acknowledged to A
    lost = max(len(sent_ids - set(at_b)), args.messages - states["acknowledged"])
    duplicated = sum(n - 1 for n in at_b.values() if n > 1)
    rate = args.messages / seconds
    receiver_server = sum(server for server, _worker in receiver_cpu)
    receiver_worker = sum(worker for _server, worker in receiver_cpu)
    print(f"{args.messages} edXML messages from A to B ({args.workers} receiver workers,")
    print(
        f"  {args.threads} sending threads), B restarted {restarts}× at {restart_at} acknowledged"
    )
    print(
        f"  setup {setup_seconds:.1f} s, letters made and sealed {pdf_seconds:.1f} s,"
        f" queuing (build + sign) {queue_seconds:.1f} s"
    )
    print(f"  delivered in {seconds:.1f} s: {rate:.1f} messages/s; {retried} needed a retry")
    print(f"  B was away {sum(down):.1f} s while restarting")
    print(
        f"  B's worker had every text extracted {texts_seconds - seconds:.1f} s after the last"
        f" delivery ({pending} still pending); signatures at B: {signatures}"
    )
    print(
        f"  CPU: sender {sender_cpu:.1f} s, receiver (server, workers, task worker)"
        f" {sum(map(sum, receiver_cpu)):.1f} s (server {receiver_server:.1f}, task worker"
        f" {receiver_worker:.1f}); the whole machine {machine:.1f} s while delivering"
    )
    print(f"  outbox states: {states}")
    print(f"  at B: {sum(at_b.values())} registered, {lost} lost, {duplicated} duplicated")
    goal = rate >= 50 and lost == 0 and duplicated == 0
    print(f"  goal (≥ 50 messages/s, none lost or duplicated): {'met' if goal else 'NOT met'}")
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"  kept {work}")
    print(
        json.dumps(
            {
                "messages": args.messages,
                "messages_per_s": round(rate, 1),
                "lost": lost,
                "duplicated": duplicated,
                "seconds": round(seconds, 2),
                "retried": retried,
                "restarts": restarts,
                "receiver_workers": args.workers,
                "receiver_down_seconds": round(sum(down), 2),
                "restart_marks": marks,
                "cpu_seconds": {
                    "sender": round(sender_cpu, 1),
                    "receiver": round(receiver_server + receiver_worker, 1),
                    "receiver_server": round(receiver_server, 1),
                    "receiver_worker": round(receiver_worker, 1),
                    "machine_during_delivery": round(machine, 1),
                },
                "cores": os.cpu_count(),
                "queue_seconds": round(queue_seconds, 2),
                "texts_done_seconds": round(texts_seconds, 2),
                "texts_pending": pending,
                "signed": not args.unsigned,
                "signatures_valid_at_b": int(signatures.get(True, 0) or signatures.get(1, 0)),
                "database": args.database,
                # The machine's speed in this run (shared and noisy: its CPU varies by tens of
                # per cent between hours): the letters sealed before delivery, in 2 processes.
                # Compare runs by ratio_vs_sealing, not by messages_per_s.
                "reference_sealed_per_s": round(args.messages / pdf_seconds, 1),
                "ratio_vs_sealing": round(rate / (args.messages / pdf_seconds), 3),
                "goal_met": goal,
            }
        )
    )


if __name__ == "__main__":
    main()
