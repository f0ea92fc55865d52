"""The edXML exchange between agencies: sending issued documents, receiving them, status reports.

Sending (``document_send``): an issued outgoing document addressed to partner agencies
(``ExchangePartner``: recipients by OrganId) is packaged as one edXML message (the header from
the document, its current PDF files as attachments), signed with the organisation's seal
credential, and queued as one ``OutboxMessage`` per partner. ``outbox_deliver`` POSTs it to the
partner's inbox (httpx, timeouts); a refused connection, a timeout or a 5xx answer is retried
later with exponential backoff (``exchange_outbox_deliver`` task, ``outbox_due_deliver``); a 4xx
answer is final. Retrying is safe: the receiver keeps every DocumentId it registered and answers
a replay "already received" without registering it again.

Receiving (``inbox_receive``, behind ``POST /office/edxml/inbox/``): parse, find which of our
organisations is addressed (none: refused), the sender among its partners (unknown: refused),
verify the signature against the partner's trusted CA (and certificate fingerprint), refuse a
DocumentId already received with other content, check the PDFs, then register the incoming
document (channel electronic) with its files and the ``InboxMessage`` in one transaction. The
answer is a signed status message: 03 with the arrival number, or 02 saying why (both
languages), nothing registered. Recalls and updates (BussinessDocType 1, 2) go to
``exchange_business``; a replacement (3) is registered here like a new document and marks the
document it replaces (``exchange_replace``).

Status reports: when a received document is assigned (04), in progress (05) or completed (06),
``step_recorded`` (called for every new workflow step) queues a signed status message to the
sender's status endpoint, once per code; ``status_receive`` (``POST /office/edxml/status/``)
verifies one and records it on the outbox message of our document (``ExchangeStatus``).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

import httpx
from cryptography.hazmat.primitives.serialization import pkcs12
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models.signals import post_save
from django.utils import timezone
from django.utils.translation import get_language

from vnemis.core.crypto import decrypt_identifier
from vnemis.core.memo import Memo
from vnemis.orgs.models import Organisation

from .actions import _rights_ensure
from .actions_errors import OfficeError
from .actions_files import pdf_check_open
from .edxml import (
    Attachment,
    Code,
    DocumentType,
    EdxmlError,
    Message,
    MessageHeader,
    Organ,
    OtherInfo,
    PromulgationInfo,
    ResponseFor,
    SignerInfo,
    StatusMessage,
    TraceHeader,
    TraceHeaderList,
    message_build,
    message_parse,
    message_sign,
    message_verify,
    status_build,
    status_parse,
    trusted_load,
)
from .edxml.codes import ADMINISTRATIVE, DOCUMENT_TYPES, NAMESPACE, STATUS_CODES
from .edxml.parse import xml_load
from .models import Document, OfficeOrganisation
from .models import DocumentType as DocType
from .models_exchange import ExchangePartner, ExchangeStatus, InboxMessage, OutboxMessage
from .models_signing import SigningCredential
from .signing.errors import SigningError
from .signing.verify import OUTCOME_TEXT, Outcome, pdf_verify, trust_roots_load
from .texts import texts_enqueue

logger = logging.getLogger(__name__)
State = OutboxMessage.State

CONTENT_TYPE = "application/xml; charset=utf-8"
DEFAULT_TIMEOUT = 15.0
DEFAULT_MAX_ATTEMPTS = 12
DEFAULT_BACKOFF = 30.0  # seconds before the 2nd attempt; doubles, at most an hour
MAX_BACKOFF = 3600.0
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
# The workflow state of a received document → the status code its sender is told.
STATUS_FOR = {"assigned": "04", "in_progress": "05", "completed": "06", "sent_back": "02"}


def _setting(name: str, default):
    return getattr(settings, name, default)


def max_message_bytes() -> int:
    return int(_setting("VNEMIS_OFFICE_EXCHANGE_MAX_BYTES", DEFAULT_MAX_BYTES))


def status_label(code: str) -> str:
    """'04 · Lãnh đạo đã phân công xử lý' (English when the page is in English)."""
    vi, en = STATUS_CODES.get(code, (code, code))
    return f"{code} · {en if (get_language() or '').startswith('en') else vi}"


def _error(code: str, vi: str, en: str) -> EdxmlError:
    return EdxmlError(code, vi, en)


# -- keys and trust ----------------------------------------------------------------------------

_cache_lock = threading.Lock()
_keys: dict[tuple, SigningKey] = {}  # by (credential id, certificate fingerprint)
_trust: dict[tuple, object] = {}  # trust material per partner and CA fingerprint
# Read for every message, changed rarely: kept a few seconds (vnemis.core.memo). Partners are
# not: a deactivated partner is refused from its next message.
_seals = Memo(5).clear_on_save(SigningCredential)
_offices = Memo(10).clear_on_save(OfficeOrganisation, Organisation)
_doc_types = Memo(30).clear_on_save(DocType)


@dataclass(frozen=True)
class SigningKey:
    key: object
    certificate: object
    chain: tuple


def signing_key(organisation_id: int) -> SigningKey | None:
    """The organisation's active seal credential, opened (cached per credential row and
    certificate: a row id can come back with another certificate, e.g. after a rollback)."""
    found = _seals.get(
        organisation_id,
        lambda: (
            SigningCredential.objects.filter(
                organisation_id=organisation_id, kind="seal", active=True
            )
            .values_list("pk", "fingerprint")
            .first()
        ),
    )
    if found is None:
        return None
    with _cache_lock:
        cached = _keys.get(found)
    if cached is None:
        stored = SigningCredential.objects.only("p12_encrypted", "password_encrypted").get(
            pk=found[0]
        )
        data = base64.b64decode(decrypt_identifier(stored.p12_encrypted))
        password = decrypt_identifier(stored.password_encrypted or b"")
        key, certificate, chain = pkcs12.load_key_and_certificates(data, password.encode())
        cached = SigningKey(key, certificate, tuple(chain or ()))
        with _cache_lock:
            _keys[found] = cached
    return cached


def _sign(data: bytes, organisation_id: int) -> bytes | None:
    key = signing_key(organisation_id)
    if key is None:
        return None
    return message_sign(data, key=key.key, certificate=key.certificate, chain=key.chain)


def _partner_trust(partner: ExchangePartner) -> tuple:
    fingerprint = hashlib.sha256(partner.trusted_ca_pem.encode()).hexdigest()
    with _cache_lock:
        cached = _trust.get((partner.pk, fingerprint))
    if cached is None:
        cached = trusted_load(partner.trusted_ca_pem.encode())
        with _cache_lock:
            _trust[(partner.pk, fingerprint)] = cached
    return cached


def _verify(data: bytes, partner: ExchangePartner, *, max_bytes: int):
    signer = message_verify(data, trusted=_partner_trust(partner), max_bytes=max_bytes)
    wanted = partner.certificate_fingerprint.strip().lower().replace(":", "")
    if wanted and signer.fingerprint_sha256.lower() != wanted:
        raise _error(
            "edxml_signer_not_partner",
            f"Chứng thư ký ({signer.common_name}) không phải chứng thư đã đăng ký của "
            f"{partner.name}.",
            f"The signing certificate ({signer.common_name}) is not the one registered for "
            f"{partner.name}.",
        )
    return signer


def organ_of(organisation_id: int) -> Organ:
    office = OfficeOrganisation.objects.select_related("organisation").get(pk=organisation_id)
    if not office.organ_id:
        raise OfficeError(
            "exchange_no_organ_id",
            "Cơ quan chưa có mã định danh (OrganId) để liên thông văn bản.",
            "The organisation has no exchange identifier (OrganId) yet.",
        )
    return Organ(office.organ_id, office.organisation.name)


# -- sending -----------------------------------------------------------------------------------


def _document_type(doc_type: DocType) -> DocumentType:
    if doc_type.edxml_code.isdigit():
        return DocumentType(ADMINISTRATIVE, int(doc_type.edxml_code), doc_type.name)
    abbreviation = "" if doc_type.is_letter else doc_type.abbreviation
    for row in DOCUMENT_TYPES:
        if (abbreviation and row.abbreviation == abbreviation) or (
            not abbreviation and row.detail == 18
        ):
            return DocumentType(ADMINISTRATIVE, row.detail, doc_type.name)
    return DocumentType(1, 0, doc_type.name)  # legal normative (circulars) and the rest


def _code(document: Document) -> Code:
    number, _, notation = document.number_notation.partition("/")
    return Code(number, notation)


def message_for(document: Document, partners) -> Message:
    """The edXML message of an issued document to ``partners`` (its current PDF files)."""
    version = document.versions.order_by("-number").first()
    files = list(version.files.select_related("blob")) if version else []
    response_for = ()
    reply = document.in_reply_to
    if reply is not None and reply.issuer_organ_id and reply.number and reply.issued_on:
        inbox = InboxMessage.objects.filter(document=reply).first()
        if inbox is not None:
            organ, _day, code = inbox.edxml_id.split(",", 2)
            response_for = (ResponseFor(organ, code, reply.issued_on, inbox.edxml_id),)
        else:
            response_for = (
                ResponseFor.to(reply.issuer_organ_id, reply.number_notation, reply.issued_on),
            )
    sender = organ_of(document.organisation_id)
    header = MessageHeader(
        from_organ=sender,
        to_organs=[Organ(p.organ_id, p.name) for p in partners],
        code=_code(document),
        promulgation=PromulgationInfo(document.place, document.issued_on),
        document_type=_document_type(document.doc_type),
        subject=document.subject,
        signer=SignerInfo(
            document.signer_name or "—", document.signer_position, document.signer_competence
        ),
        due_date=document.due_on,
        other_info=OtherInfo(
            priority=document.priority,
            promulgation_amount=document.copies,
            page_amount=document.page_count,
        ),
        response_for=response_for,
        steering_type=document.steering_type,
    )
    attachments = [
        Attachment.new(name=f.name, content_type=f.content_type, data=bytes(f.blob.data))
        for f in sorted(files, key=lambda f: (not f.is_main, f.position))
    ]
    from .exchange_replace import replacement_business

    return Message(
        header=header,
        trace=TraceHeaderList(
            [TraceHeader(sender.organ_id, timezone.now())],
            replacement_business(document, header),
        ),
        attachments=attachments,
    )


def partners_for(document: Document) -> list[ExchangePartner]:
    """The active partners among the document's recipients (by OrganId)."""
    organ_ids = {r.organ_id for r in document.recipients.all() if r.organ_id} | set(
        OfficeOrganisation.objects.filter(
            organisation__in=[r.organisation_id for r in document.recipients.all()],
        )
        .exclude(organ_id="")
        .values_list("organ_id", flat=True)
    )
    return list(
        ExchangePartner.objects.filter(
            organisation_id=document.organisation_id, organ_id__in=organ_ids, active=True
        ).order_by("organ_id")
    )


def document_send(*, actor, document: Document, partners=None) -> list[OutboxMessage]:
    """Queue an issued document for its partner recipients: one signed message, one outbox row
    per partner (a partner already queued for it is not queued again). Delivery is a task."""
    _rights_ensure(actor, document.organisation_id, leader=True, clerk=True)
    if document.direction != Document.Direction.OUTGOING or document.status != "issued":
        raise OfficeError(
            "exchange_not_issued",
            "Chỉ gửi liên thông được văn bản đi đã cấp số, phát hành.",
            "Only an issued outgoing document can be sent through the exchange.",
        )
    if document.is_secret:
        raise OfficeError(
            "exchange_secret",
            "Văn bản mật không gửi qua trục liên thông.",
            "A secret document is not sent through the exchange.",
        )
    partners = list(partners) if partners is not None else partners_for(document)
    if not partners:
        raise OfficeError(
            "exchange_no_partner",
            "Không có nơi nhận nào là cơ quan liên thông (theo mã định danh).",
            "None of the recipients is an exchange partner (by OrganId).",
        )
    message = message_for(document, partners)
    data = _sign(message_build(message), document.organisation_id)
    if data is None:
        raise OfficeError(
            "exchange_no_credential",
            "Cơ quan chưa có chứng thư số (con dấu) đang hiệu lực để ký thông điệp liên thông.",
            "The organisation has no active seal certificate to sign exchange messages with.",
        )
    created = []
    with transaction.atomic():
        for partner in partners:
            row, made = OutboxMessage.objects.get_or_create(
                partner=partner,
                kind=OutboxMessage.Kind.DOCUMENT,
                edxml_id=message.document_id,
                status_code="",
                defaults={
                    "organisation_id": document.organisation_id,
                    "document": document,
                    "data": data,
                },
            )
            if made:
                created.append(row)
        ids = [row.pk for row in created]
        transaction.on_commit(lambda: _enqueue(ids))
    return created


def _enqueue(ids, run_after=None) -> None:
    from .tasks import exchange_outbox_deliver

    for pk in ids:
        try:
            task = exchange_outbox_deliver
            if run_after is not None:
                if not task.get_backend().supports_defer:
                    continue  # picked up by exchange_outbox_retry_run
                task = task.using(run_after=run_after)
            task.enqueue(message_id=pk)
        except Exception:  # the row stays queued; the periodic run delivers it
            logger.exception("exchange: could not enqueue outbox message %s", pk)


def _backoff(attempts: int) -> timedelta:
    base = float(_setting("VNEMIS_OFFICE_EXCHANGE_BACKOFF", DEFAULT_BACKOFF))
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), MAX_BACKOFF))


def _answer_description(content: bytes) -> str:
    """The Description of an answer (a status message, or a plain one), for the error text."""
    try:
        root = xml_load(content, max_bytes=1024 * 1024)
        text = root.findtext(f"{{{NAMESPACE}}}Description")
        return (text or "").strip()[:1000]
    except EdxmlError:
        return content[:300].decode("utf-8", "replace")


_clients = threading.local()


def _client() -> httpx.Client:
    client = getattr(_clients, "client", None)
    if client is None:
        timeout = float(_setting("VNEMIS_OFFICE_EXCHANGE_TIMEOUT", DEFAULT_TIMEOUT))
        # A fresh connection per message by default: a kept-alive one stays pinned to one
        # worker process of the partner's server, which then does the work of all the others
        # (measured: 4 to 1 between two granian workers).
        keep = bool(_setting("VNEMIS_OFFICE_EXCHANGE_KEEP_ALIVE", False))
        client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            limits=httpx.Limits(max_keepalive_connections=None if keep else 0),
        )
        _clients.client = client
    return client


def outbox_deliver(*, message_id: int, force: bool = False) -> str:
    """Deliver one outbox message if it is due; returns its state afterwards."""
    rows = OutboxMessage.objects.select_related("partner")
    if _holding():  # a partner is held: its messages wait without their bytes being read
        rows = rows.defer("data")
    row = rows.filter(pk=message_id).first()
    if row is None:
        return "missing"
    if row.state in (State.ACKNOWLEDGED, State.FAILED) or (
        row.state == State.SENT and row.kind == OutboxMessage.Kind.STATUS
    ):
        return row.state
    now = timezone.now()
    if not force and row.state == State.QUEUED and row.next_attempt_at > now:
        return row.state
    if row.state == State.SENT:  # delivered, answer not yet 03: nothing to resend
        return row.state
    partner = row.partner
    held = _unreachable_until(partner.pk)
    if held:
        return _wait_for_partner(row, held)
    url = partner.inbox_url if row.kind != OutboxMessage.Kind.STATUS else partner.status_endpoint
    try:
        answer = _client().post(
            url, content=bytes(row.data), headers={"Content-Type": CONTENT_TYPE}
        )
    except httpx.HTTPError as exc:
        if isinstance(exc, httpx.ConnectError):
            _unreachable_hold(partner.pk)
        return _retry_later(row, f"{type(exc).__name__}: {exc}"[:1000])
    _unreachable.pop(partner.pk, None)
    if answer.status_code >= 500 or answer.status_code in (408, 429):
        return _retry_later(
            row, f"HTTP {answer.status_code}: {_answer_description(answer.content)}"
        )
    row.attempts += 1
    fields = ["state", "attempts", "last_error", "sent_at"]
    if answer.status_code >= 400:
        row.state = State.FAILED
        row.last_error = f"HTTP {answer.status_code}: {_answer_description(answer.content)}"
        row.sent_at = None
        row.save(update_fields=fields)
        logger.warning("exchange: %s refused by partner %s", row.kind, partner.pk)
        return row.state
    row.sent_at, row.last_error = now, ""
    row.state = State.ACKNOWLEDGED if row.kind == OutboxMessage.Kind.STATUS else State.SENT
    status = None
    if row.kind != OutboxMessage.Kind.STATUS:  # a document, recall or update: answered
        try:
            status = _answer_status(row, answer.content)
        except EdxmlError as exc:
            row.last_error = exc.bilingual()[:1000]
    with transaction.atomic():
        if status is not None and _status_record(row, status):
            row.state = State.ACKNOWLEDGED
        row.save(update_fields=fields)
        if row.attempts > 1:  # it had failed before: the partner may have been away
            _backlog_release(partner.pk)
    return row.state


# partner id → (monotonic, wall clock) until which it is not tried: it refused a connection
_unreachable: dict[int, tuple[float, object]] = {}


UNREACHABLE_HOLD = 1.0  # seconds (at most the base backoff)


def _unreachable_hold(partner_id: int) -> None:
    """The partner refused a connection (its server is down or restarting): for a second its
    other messages wait without trying, instead of each failing on its own (a batch of them
    would only load this host and the database while the partner comes back). Saving the
    partner ends the hold."""
    hold = min(_backoff(1), timedelta(seconds=UNREACHABLE_HOLD))
    _unreachable[partner_id] = (time.monotonic() + hold.total_seconds(), timezone.now() + hold)


def _unreachable_forget(sender, instance, **kwargs) -> None:  # a signal receiver
    _unreachable.pop(instance.pk, None)


post_save.connect(_unreachable_forget, sender=ExchangePartner, weak=False)


def _holding() -> bool:
    """Whether any partner is held now (ended holds are dropped)."""
    if not _unreachable:
        return False
    now = time.monotonic()
    for partner_id, entry in list(_unreachable.items()):
        if entry[0] <= now:
            _unreachable.pop(partner_id, None)
    return bool(_unreachable)


def _unreachable_until(partner_id: int):
    """When a held partner may be tried again (a datetime), or None."""
    entry = _unreachable.get(partner_id)
    if entry is None:
        return None
    if entry[0] <= time.monotonic():
        _unreachable.pop(partner_id, None)
        return None
    return entry[1]


def _wait_for_partner(row: OutboxMessage, until) -> str:
    """Not tried: due again when the partner's hold ends, the attempt not counted."""
    row.next_attempt_at = until
    row.last_error = (
        "ConnectError: the partner refused a connection moments ago; tried again after"
        f" {timezone.localtime(until):%H:%M:%S}"
    )
    row.save(update_fields=["last_error", "next_attempt_at"])
    pk = row.pk
    transaction.on_commit(lambda: _enqueue([pk], run_after=until))
    return row.state


_released: dict[int, float] = {}  # partner id → when its backlog was last released


def _backlog_release(partner_id: int) -> None:
    """The partner answers again after failures: what waits for it on backoff is due now, so
    its backlog goes out at once instead of trickling by each message's own backoff (at most
    once a second a partner and process)."""
    moment = time.monotonic()
    with _cache_lock:
        if _released.get(partner_id, -1.0) > moment - 1:
            return
        _released[partner_id] = moment
    now = timezone.now()
    waiting = OutboxMessage.objects.filter(
        partner_id=partner_id, state=State.QUEUED, next_attempt_at__gt=now
    )
    ids = list(waiting.order_by("next_attempt_at").values_list("pk", flat=True)[:1000])
    if ids:
        OutboxMessage.objects.filter(pk__in=ids, state=State.QUEUED).update(next_attempt_at=now)
        transaction.on_commit(lambda: _enqueue(ids))


def _retry_later(row: OutboxMessage, error: str) -> str:
    row.attempts += 1
    row.last_error = error
    if row.attempts >= int(_setting("VNEMIS_OFFICE_EXCHANGE_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS)):
        row.state = State.FAILED
    else:
        row.next_attempt_at = timezone.now() + _backoff(row.attempts)
    row.save(update_fields=["attempts", "last_error", "state", "next_attempt_at"])
    if row.state == State.QUEUED:
        pk, when = row.pk, row.next_attempt_at
        transaction.on_commit(lambda: _enqueue([pk], run_after=when))
    return row.state


def outbox_due_deliver(*, now=None, limit: int = 500) -> dict:
    """Deliver every queued message whose next attempt is due (the periodic retry run)."""
    now = now or timezone.now()
    ids = list(
        OutboxMessage.objects.filter(state=State.QUEUED, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    counts: dict[str, int] = {}
    for pk in ids:
        state = outbox_deliver(message_id=pk, force=True)
        counts[state] = counts.get(state, 0) + 1
    return counts


ACKNOWLEDGING = ("03", "04", "05", "06")  # the partner has the document in its register


def _status_record(row: OutboxMessage, status: StatusMessage) -> bool:
    """Record a partner's status about our message (each code once, every 02); returns whether
    it acknowledges the message. The caller saves ``row`` (its state then), inside its
    transaction; a status recorded twice (a replayed answer) is not an error."""
    if status.status_code not in STATUS_CODES:
        return False
    if status.status_code in ("13", "15", "16"):  # about a recall or update we sent
        from .exchange_business import BUSINESS_KINDS, business_status_record

        business_status_record(row, status)  # marks the request it answers acknowledged
        return row.kind in BUSINESS_KINDS
    record = ExchangeStatus(
        outbox=row,
        status_code=status.status_code,
        description=status.description[:4000],
        timestamp=status.timestamp,
    )
    if status.status_code == "02":
        record.save()
    else:  # the unique (outbox, code) keeps the first; no savepoint needed to find out
        ExchangeStatus.objects.bulk_create([record], ignore_conflicts=True)
    return status.status_code in ACKNOWLEDGING


def _answer_status(row: OutboxMessage, content: bytes) -> StatusMessage:
    """The inbox's answer to a delivered message: a signed status (01/03), verified."""
    status = status_parse(content)
    if status.response_for.document_id != row.edxml_id:
        raise _error(
            "edxml_answer_mismatch",
            "Trả lời của bên nhận không nói về văn bản đã gửi.",
            "The receiver's answer is not about the document sent.",
        )
    _verify(content, row.partner, max_bytes=1024 * 1024)
    return status


# -- answers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    http_status: int
    body: bytes
    code: str = ""  # the status code answered (01, 02, 03), or the refusal's error code
    document: Document | None = None


def _status_bytes(
    *, response_for: ResponseFor | None, us: Organ | None, organisation_id, code, vi, en
) -> bytes:
    """A status message (signed by the organisation when it has a seal), or, when the refused
    message is too broken to name, a plain ``Status`` with the code, reason and time."""
    description = f"{vi} / {en}" if en and en != vi else vi
    if response_for is not None and us is not None:
        status = StatusMessage(
            response_for=response_for,
            from_organ=us,
            status_code=code,
            timestamp=timezone.now(),
            description=description,
        )
        data = status_build(status)
        if organisation_id is not None:
            try:
                signed = _sign(data, organisation_id)
            except Exception:  # an answer must go out even if our seal cannot be opened
                logger.exception("exchange: status answer left unsigned")
                signed = None
            return signed or data
        return data
    from lxml import etree

    root = etree.Element(f"{{{NAMESPACE}}}Status", nsmap={"edXML": NAMESPACE})
    etree.SubElement(root, f"{{{NAMESPACE}}}StatusCode").text = code
    etree.SubElement(root, f"{{{NAMESPACE}}}Description").text = description
    from .edxml.build import time_format

    etree.SubElement(root, f"{{{NAMESPACE}}}Timestamp").text = time_format(timezone.now())
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _refuse(
    http_status: int, exc: EdxmlError | OfficeError, *, response_for=None, us=None, org_id=None
) -> Answer:
    body = _status_bytes(
        response_for=response_for,
        us=us,
        organisation_id=org_id,
        code="02",
        vi=exc.message_vi,
        en=exc.message_en,
    )
    return Answer(http_status, body, exc.code)


def refusal_plain(http_status: int, code: str, vi: str, en: str) -> Answer:
    """A refusal before the message could be read (too large, wrong method)."""
    return _refuse(http_status, _error(code, vi, en))


# -- receiving ---------------------------------------------------------------------------------

SIGNATURE_HTTP = {"edxml_signer_untrusted": 403, "edxml_signer_not_partner": 403}


def _doc_type_for(message: Message) -> DocType:
    """Our type of a received document: by its edXML code, else its type name, else the
    abbreviation in its notation, else an official letter (CV)."""
    types = _doc_types.get(None, lambda: list(DocType.objects.order_by("pk")))

    def first(test):
        return next((t for t in types if test(t)), None)

    detail = message.header.document_type.type_detail
    row = next((r for r in DOCUMENT_TYPES if r.detail == detail), None)
    found = None
    if row is not None and message.header.document_type.type == ADMINISTRATIVE:
        if row.abbreviation:
            found = first(lambda t: t.abbreviation == row.abbreviation and t.active)
        elif detail == 18:
            found = first(lambda t: t.is_letter)
    name = message.header.document_type.type_name.casefold()
    if found is None and name:
        found = first(lambda t: t.name.casefold() == name)
    if found is None:
        abbreviation = message.header.code.notation.split("-", 1)[0].rsplit("/", 1)[-1]
        found = first(lambda t: t.abbreviation == abbreviation)
    found = found or first(lambda t: t.code == "CV")
    if found is None:
        raise DocType.DoesNotExist("no document type CV")
    return found


def _files(message: Message, partner: ExchangePartner):
    """The attachments checked as PDFs (text left for after the commit), and the reports of
    the signed ones: a file altered after signing, or whose signature is broken, refuses the
    message (an unknown signer is recorded and shown, not refused)."""
    files, reports = [], {}
    for attachment in message.attachments:
        if attachment.content_type.split(";")[0].strip().lower() != "application/pdf":
            raise OfficeError(
                "exchange_not_pdf",
                f"Tệp đính kèm “{attachment.name[:80]}” không phải PDF ({attachment.content_type[:60]}).",
                f"The attachment “{attachment.name[:80]}” is not a PDF ({attachment.content_type[:60]}).",
            )
        pdf, reader = pdf_check_open(name=attachment.name, data=attachment.data, text=False)
        files.append(pdf)
        if pdf.signature_count and pdf.sha256 not in reports:
            reports[pdf.sha256] = _pdf_report(pdf, reader, partner)
    return files, reports


def _pdf_report(pdf, reader, partner: ExchangePartner):
    from .actions_signing import trusted_roots

    try:
        roots = trusted_roots() + _partner_pdf_roots(partner)
        report = pdf_verify(pdf=pdf.data, trust=roots, reader=reader)
    except SigningError as exc:
        raise OfficeError(exc.code, exc.message_vi, exc.message_en) from None
    broken = [r for r in report.signatures if r.outcome in (Outcome.MODIFIED, Outcome.INVALID)]
    if broken:
        first = broken[0]
        vi, en = OUTCOME_TEXT[first.outcome]
        raise OfficeError(
            "exchange_pdf_signature_bad",
            f"Chữ ký số thứ {first.index} của tệp “{pdf.name[:80]}” không đạt ({vi.lower()}):"
            f" {first.detail_vi}",
            f"Digital signature {first.index} of the file “{pdf.name[:80]}” fails ({en.lower()}):"
            f" {first.detail_en}",
        )
    return report


def _partner_pdf_roots(partner: ExchangePartner) -> list:
    """The partner's CA as a root for its files' signatures too (cached like its XML trust)."""
    key = ("pdf", partner.pk, hashlib.sha256(partner.trusted_ca_pem.encode()).hexdigest())
    with _cache_lock:
        cached = _trust.get(key)
    if cached is None:
        cached = trust_roots_load(partner.trusted_ca_pem.encode())
        with _cache_lock:
            _trust[key] = cached
    return cached


def _response_for(message: Message) -> ResponseFor:
    h = message.header
    return ResponseFor(h.from_organ.organ_id, str(h.code), h.promulgation.date, h.document_id)


def _registered_answer(
    inbox: InboxMessage, response_for, us, org_id, *, again: bool, note=("", "")
) -> Answer:
    document = inbox.document
    number = f"{document.register_number:02d}/{document.register.year}"
    if again:
        vi = f"Văn bản đã được nhận trước đó, vào sổ văn bản đến số {number}; không vào sổ lại."
        en = f"The document was received before, incoming register number {number}; not registered again."
    else:
        vi = f"Văn thư đã tiếp nhận và vào sổ văn bản đến số {number}."
        en = f"Received and registered as incoming number {number}."
    if note[0]:
        vi, en = f"{vi} {note[0]}", f"{en} {note[1]}"
    body = _status_bytes(
        response_for=response_for, us=us, organisation_id=org_id, code="03", vi=vi, en=en
    )
    return Answer(200, body, "03", document)


def inbox_receive(data: bytes) -> Answer:
    """Receive one edXML message: verified, deduplicated, registered, answered (never raises
    for bad input: the answer says why)."""
    try:
        message = message_parse(data, max_bytes=max_message_bytes())
    except EdxmlError as exc:
        return _refuse(400 if exc.code != "edxml_too_large" else 413, exc)
    response_for = _response_for(message)
    to_ids = [o.organ_id for o in message.header.to_organs]
    ours = {organ_id: office for organ_id in to_ids if (office := _office(organ_id))}
    if not ours:
        named = ", ".join(to_ids)[:200]
        return _refuse(
            403,
            _error(
                "exchange_wrong_recipient",
                f"Văn bản không gửi cho cơ quan nào tại đây (nơi nhận: {named}).",
                f"The document is not addressed to any organisation here (recipients: {named}).",
            ),
            response_for=response_for,
            us=message.header.to_organs[0],
        )
    sender_id = message.header.from_organ.organ_id
    answer = None
    for organ_id in to_ids:  # every one of our organisations addressed (usually one)
        office = ours.get(organ_id)
        if office is None:
            continue
        result = _receive_for(message, data, office, response_for, sender_id)
        answer = answer or result
        if result.http_status >= 400:
            return result
    return answer


def _office(organ_id: str) -> OfficeOrganisation | None:
    """Our organisation with this OrganId, if any (its organisation loaded)."""
    return _offices.get(
        organ_id,
        lambda: (
            OfficeOrganisation.objects.select_related("organisation")
            .filter(organ_id=organ_id)
            .first()
        ),
    )


def _receive_for(message, data, office, response_for, sender_id) -> Answer:
    org_id = office.pk
    us = Organ(office.organ_id, office.organisation.name)
    refuse = lambda status, exc: _refuse(  # noqa: E731
        status, exc, response_for=response_for, us=us, org_id=org_id
    )
    partner = ExchangePartner.objects.filter(
        organisation_id=org_id, organ_id=sender_id, active=True
    ).first()
    if partner is None:
        return refuse(
            403,
            _error(
                "exchange_unknown_sender",
                f"Cơ quan gửi ({sender_id}) không phải cơ quan liên thông đã đăng ký.",
                f"The sender ({sender_id}) is not a registered exchange partner.",
            ),
        )
    try:
        signer = _verify(data, partner, max_bytes=max_message_bytes())
    except EdxmlError as exc:
        return refuse(SIGNATURE_HTTP.get(exc.code, 400), exc)
    doc_type = message.trace.business.doc_type
    if doc_type not in (0, 3):  # recall, update: exchange_business
        from .exchange_business import business_receive

        return business_receive(
            message=message, data=data, office=office, partner=partner,
            response_for=response_for, us=us,
        )  # fmt: skip
    replaced, outcome = [], None
    if doc_type == 3:  # a replacement is a new document that also replaces: exchange_replace
        from .exchange_replace import replaced_ids

        try:
            replaced = replaced_ids(message, partner, office.organ_id)
        except OfficeError as exc:
            return refuse(403 if exc.code == "exchange_business_not_sender" else 400, exc)
    digest = hashlib.sha256(data).hexdigest()
    # A message received before is found by the unique DocumentId when it is registered again
    # (below): looking first would cost every new message a query.
    try:
        files, reports = _files(message, partner)
        main, appendices = (files[0], files[1:]) if files else (None, [])
        from .actions import incoming_register
        from .actions_signing import reports_known

        inbox = None

        def inbox_record(document: Document) -> None:
            nonlocal inbox, outcome
            inbox = InboxMessage.objects.create(
                organisation_id=org_id,
                partner=partner,
                edxml_id=message.document_id,
                document=document,
                sha256=digest,
                signer_fingerprint=signer.fingerprint_sha256,
            )
            if replaced:
                from .exchange_replace import replacement_apply

                outcome = replacement_apply(document, replaced, partner)
            texts_enqueue(f.sha256 for f in files if f.text_status == "pending")

        with reports_known(reports):
            incoming_register(
                actor=None,
                organisation=office.organisation,
                doc_type=_doc_type_for(message),
                subject=message.header.subject,
                issued_on=message.header.promulgation.date,
                issuer_name=message.header.from_organ.organ_name,
                issuer_organ_id=sender_id,
                number=int(message.header.code.number),
                notation=message.header.code.notation,
                place=message.header.promulgation.place,
                signer_name=message.header.signer.full_name,
                signer_position=message.header.signer.position,
                signer_competence=message.header.signer.competence,
                priority=message.header.other_info.priority,
                steering_type=message.header.steering_type,
                due_on=message.header.due_date,
                channel=Document.Channel.ELECTRONIC,
                main=main,
                appendices=appendices,
                external_id=message.document_id,
                page_count=message.header.other_info.page_amount,
                also=inbox_record,
            )
    except OfficeError as exc:
        seen = InboxMessage.objects.filter(organisation_id=org_id, edxml_id=message.document_id)
        if exc.code == "duplicate_incoming" and seen.exists():
            return _seen_answer(seen.get(), digest, message, response_for, us, org_id)
        return refuse(409 if exc.code == "duplicate_incoming" else 422, exc)
    except IntegrityError:  # the same DocumentId registered by a concurrent request
        seen = InboxMessage.objects.filter(
            organisation_id=org_id, edxml_id=message.document_id
        ).first()
        if seen is None:
            raise
        return _seen_answer(seen, digest, message, response_for, us, org_id)
    logger.info("exchange: document registered from partner %s", partner.pk)
    note = outcome.note() if outcome is not None else ("", "")
    return _registered_answer(inbox, response_for, us, org_id, again=False, note=note)


def _seen_answer(seen, digest, message, response_for, us, org_id) -> Answer:
    if seen.sha256 != digest and _content_digest(message) != _stored_digest(seen):
        return _refuse(
            409,
            _error(
                "exchange_conflicting_duplicate",
                f"Văn bản {message.document_id} đã được nhận trước đó với nội dung khác; không"
                " vào sổ.",
                f"Document {message.document_id} was received before with different content;"
                " not registered.",
            ),
            response_for=response_for,
            us=us,
            org_id=org_id,
        )
    return _registered_answer(seen, response_for, us, org_id, again=True)


def _content_digest(message: Message) -> str:
    """What makes two sendings of a document the same: the subject and the files' bytes (the
    trace time and the content ids differ between re-signed copies)."""
    h = hashlib.sha256(message.header.subject.encode())
    for attachment in message.attachments:
        h.update(hashlib.sha256(attachment.data).digest())
    return h.hexdigest()


def _stored_digest(seen: InboxMessage) -> str:
    document = seen.document
    h = hashlib.sha256(document.subject.encode())
    version = document.versions.order_by("number").first()
    if version is not None:
        for f in version.files.select_related("blob").order_by("position"):
            h.update(bytes.fromhex(f.blob.sha256))
    return h.hexdigest()


# -- status reports ----------------------------------------------------------------------------


def step_recorded(step) -> None:
    """Called for every new workflow step: a received document whose handling moved on owes
    its sender a status report (04, 05, 06; 02 when sent back), queued once per code. Never breaks the step."""
    document = step.document
    if (
        document.direction != Document.Direction.INCOMING
        or document.channel != Document.Channel.ELECTRONIC
        or not document.external_id
    ):
        return
    code = STATUS_FOR.get(document.status)
    if code is None:
        return
    try:
        with transaction.atomic():
            _status_queue(document, code, step)
    except Exception:
        logger.exception("exchange: status %s of document %s not queued", code, document.pk)


def _status_queue(document: Document, code: str, step) -> OutboxMessage | None:
    inbox = InboxMessage.objects.select_related("partner").filter(document=document).first()
    if inbox is None or not inbox.partner.active:
        return None
    existing = OutboxMessage.objects.filter(
        partner=inbox.partner, kind=OutboxMessage.Kind.STATUS, edxml_id=inbox.edxml_id,
        status_code=code,
    )  # fmt: skip
    if existing.exists():
        return None
    vi, en = STATUS_CODES[code]
    if code == "02":  # sent back after registration: the reason, as the receiver wrote it
        vi = f"Văn bản bị trả lại sau khi vào sổ. Lý do: {step.comment}"
        en = f"The document was returned after registration. Reason (in Vietnamese): {step.comment}"
    return status_report_queue(inbox, document, code, vi, en)


def status_report_queue(
    inbox: InboxMessage, document: Document, code: str, vi: str, en: str, business_key: str = ""
) -> OutboxMessage:
    """A signed status message about a document we received, to the partner that sent it: an
    outbox row, delivered after the commit."""
    organ, _day, number_notation = inbox.edxml_id.split(",", 2)
    data = _status_bytes(
        response_for=ResponseFor(organ, number_notation, document.issued_on, inbox.edxml_id),
        us=organ_of(document.organisation_id),
        organisation_id=document.organisation_id,
        code=code,
        vi=vi,
        en=en,
    )
    row = OutboxMessage.objects.create(
        kind=OutboxMessage.Kind.STATUS,
        organisation_id=document.organisation_id,
        document=document,
        partner=inbox.partner,
        edxml_id=inbox.edxml_id,
        status_code=code,
        business_key=business_key,
        data=data,
    )
    pk = row.pk
    transaction.on_commit(lambda: _enqueue([pk]))
    return row


def status_receive(data: bytes) -> Answer:
    """A partner's status report about one of our documents: verified, then recorded."""
    try:
        status = status_parse(data)
    except EdxmlError as exc:
        return _refuse(400 if exc.code != "edxml_too_large" else 413, exc)
    ref = status.response_for
    office = (
        OfficeOrganisation.objects.select_related("organisation")
        .filter(organ_id=ref.organ_id)
        .first()
    )
    if office is None:
        return _refuse(
            403,
            _error(
                "exchange_wrong_recipient",
                f"Văn bản {ref.document_id} không phải của cơ quan nào tại đây.",
                f"Document {ref.document_id} is not one of an organisation here.",
            ),
        )
    us = Organ(office.organ_id, office.organisation.name)
    partner = ExchangePartner.objects.filter(
        organisation_id=office.pk, organ_id=status.from_organ.organ_id, active=True
    ).first()
    refuse = lambda status_, exc: _refuse(  # noqa: E731
        status_, exc, response_for=ref, us=us, org_id=office.pk
    )
    if partner is None:
        return refuse(
            403,
            _error(
                "exchange_unknown_sender",
                f"Cơ quan gửi ({status.from_organ.organ_id}) không phải cơ quan liên thông đã"
                " đăng ký.",
                f"The sender ({status.from_organ.organ_id}) is not a registered exchange partner.",
            ),
        )
    try:
        _verify(data, partner, max_bytes=1024 * 1024)
    except EdxmlError as exc:
        return refuse(SIGNATURE_HTTP.get(exc.code, 400), exc)
    row = OutboxMessage.objects.filter(
        partner=partner, kind=OutboxMessage.Kind.DOCUMENT, edxml_id=ref.document_id
    ).first()
    if row is None:
        return refuse(
            404,
            _error(
                "exchange_unknown_document",
                f"Không có văn bản {ref.document_id} đã gửi cho {partner.name}.",
                f"No document {ref.document_id} was sent to {partner.name}.",
            ),
        )
    with transaction.atomic():
        if _status_record(row, status) and row.state != State.ACKNOWLEDGED:
            OutboxMessage.objects.filter(pk=row.pk).update(state=State.ACKNOWLEDGED)
    vi, en = "Đã ghi nhận trạng thái.", "Status recorded."
    body = _status_bytes(
        response_for=ref, us=us, organisation_id=None, code=status.status_code, vi=vi, en=en
    )
    return Answer(200, body, status.status_code)


def document_exchange(document: Document) -> list[OutboxMessage]:
    """The outbox messages of our document with their statuses (the document page)."""
    return list(
        document.exchange_outbox.filter(kind=OutboxMessage.Kind.DOCUMENT)
        .select_related("partner")
        .prefetch_related("statuses")
    )
