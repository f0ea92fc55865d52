"""Benchmark: edXML messages between two running vnemis instances, the receiver restarted mid-run.

Two instances (``vnemis.office.exchange_instance.Instance``), each its own SQLite file, var
directory and granian server: A (the Ministry, 000.00.00.G09) and B (a Department,
000.00.02.H48), each with its own development CA and seal, each the other's partner. Not timed:
migrating and seeding both, making --messages issued letters in A's database, and queuing them
(``exchange.document_send``: header, PDF attachment, XML signature, one outbox row each).

Timed: this process, working on A's database, delivers the outbox with --threads threads
(``exchange.outbox_deliver``: HTTP POST to B's inbox; B verifies the signature, checks the PDF,
registers the incoming document with its file and answers a signed 03, which A verifies and
records). When --restart-at messages are acknowledged, B is stopped (SIGTERM) and started again;
deliveries that fail meanwhile are retried by ``outbox_due_deliver`` after their backoff
(shortened to --backoff seconds here) until the outbox is empty.

Then counted in B's database: **lost** = messages acknowledged by nobody or missing at B;
**duplicated** = documents registered more than once for one DocumentId.

    .venv/bin/python bench/exchange.py [--messages 1000] [--threads 8] [--workers 2]

The last line is JSON: messages, messages_per_s, lost, duplicated, seconds, retried, restarts,
receiver_workers, goal (≥ 50 messages/s, none lost or duplicated).
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


def _pdf() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    pdf.add_page()
    pdf.multi_cell(0, 8, "Cong van thu nghiem lien thong van ban dien tu giua hai may chu.")
    return bytes(pdf.output())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="granian workers of B")
    parser.add_argument("--restart-at", type=int, default=None, help="default: half")
    parser.add_argument("--backoff", type=float, default=0.5)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    restart_at = args.restart_at if args.restart_at is not None else args.messages // 2

    from vnemis.office.exchange_instance import Instance
    from vnemis.office.signing.dev_ca import ca_create, certificate_issue, pkcs12_bytes

    work = Path(tempfile.mkdtemp(prefix="vnemis-exchange-bench-"))
    a = Instance(work / "a", _port(), workers=1)
    b = Instance(work / "b", _port(), workers=args.workers)
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
    from django.db import connections
    from django.utils import timezone

    from vnemis.office import exchange
    from vnemis.office.exchange_instance import issued_documents_create
    from vnemis.office.models import Document
    from vnemis.office.models_exchange import ExchangePartner, OutboxMessage

    ids = issued_documents_create(
        code="BGDDT",
        count=args.messages,
        recipient_name=seeds["b"][1],
        recipient_organ_id=seeds["b"][2],
        pdf=_pdf(),
    )
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

    def deliver(pk: int) -> str:
        nonlocal acknowledged, restarts
        try:
            state = exchange.outbox_deliver(message_id=pk, force=True)
        finally:
            connections.close_all()
        if state == "acknowledged":
            with lock:
                acknowledged += 1
                due = acknowledged >= restart_at and not restarted.is_set()
                if due:
                    restarted.set()
            if due:
                b.stop()
                b.start()
                restarts += 1
        return state

    t0 = time.perf_counter()
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
    a.stop()
    b.stop()

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
    print(f"{args.messages} edXML messages from A to B ({args.workers} receiver workers,")
    print(
        f"  {args.threads} sending threads), B restarted {restarts}× at {restart_at} acknowledged"
    )
    print(f"  setup {setup_seconds:.1f} s, queuing (build + sign) {queue_seconds:.1f} s")
    print(f"  delivered in {seconds:.1f} s: {rate:.1f} messages/s; {retried} needed a retry")
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
                "queue_seconds": round(queue_seconds, 2),
                "goal_met": goal,
            }
        )
    )


if __name__ == "__main__":
    main()
