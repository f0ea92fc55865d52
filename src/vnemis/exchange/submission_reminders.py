"""Reminders to schools late with their period submission: a row per school and day, which the
school sees on its submission page (date, period, the Department's note), and an e-mail in
Vietnamese to those of the school's users who have an address.

At most one reminder per school per day: the unique constraint on ``Reminder(school, sent_on)``
holds that even when two officers press "Nhắc nhở" at the same moment. E-mails go out after the
transaction commits, through Django's mail API (``EMAIL_BACKEND``); the result says how many were
handed to the mail server, and whether that failed, so no page claims a delivery that did not
happen.
"""

import logging
from dataclasses import dataclass, field

from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from vnemis.core.audit import audit_record_many
from vnemis.orgs.models import Organisation, User
from vnemis.orgs.scope import is_unrestricted, org_ids_in_scope

from .models_submissions import Reminder, ReportingPeriod, Submission
from .submission_errors import SubmissionError
from .submissions import DECIDERS, _require, submissions_ensure

logger = logging.getLogger(__name__)
Status = Submission.Status
Kind = ReportingPeriod.Kind


NOTE_MAX_LENGTH = 1000


@dataclass
class RemindResult:
    reminded: list[int] = field(default_factory=list)  # school ids reminded (shown in the app)
    recipients: int = 0  # e-mail addresses written to
    emailed_schools: int = 0  # reminded schools with at least one address
    already_today: list[int] = field(default_factory=list)  # rate-limited
    not_late: int = 0
    # Filled after commit: messages the mail server accepted, or the failure's type name.
    emails_sent: int | None = None
    email_error: str = ""


def _mail_body(
    *, school_name: str, period: ReportingPeriod, url: str, sender: str, note: str = ""
) -> tuple:
    kind = dict(Kind.choices)[period.kind]
    subject = _("[CSDL ngành Giáo dục] Nhắc nộp báo cáo kỳ %(kind)s, năm học %(year)s") % {
        "kind": kind,
        "year": period.school_year.code,
    }
    body = _(
        "Kính gửi %(school)s,\n\n"
        "Hạn nộp báo cáo kỳ %(kind)s, năm học %(year)s (số liệu tính đến ngày %(as_of)s) là ngày "
        "%(due)s. Đến nay nhà trường chưa nộp báo cáo.\n\n"
        "%(note)s"
        "Đề nghị nhà trường kiểm tra, hoàn thiện dữ liệu và nộp báo cáo tại: %(url)s\n\n"
        "Trân trọng,\n%(sender)s"
    ) % {
        "note": f"{note}\n\n" if note else "",
        "school": school_name,
        "kind": kind,
        "year": period.school_year.code,
        "as_of": f"{period.as_of:%d/%m/%Y}",
        "due": f"{period.due_on:%d/%m/%Y}",
        "url": url,
        "sender": sender,
    }
    return subject, body


def submissions_remind(
    *,
    actor,
    period: ReportingPeriod,
    school_ids: list[int] | None = None,
    base_url: str = "",
    note: str = "",
) -> RemindResult:
    """Remind late schools (past due, not submitted) in the actor's scope: a reminder each school
    sees on its page, and an e-mail to its users who have an address.

    At most one reminder per school per day (the unique constraint on ``Reminder``). E-mails
    go out in Vietnamese after the transaction commits.
    """
    _require(actor, DECIDERS, what="remind")
    note = (note or "").strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise SubmissionError(
            "invalid",
            "note_too_long",
            f"Lời nhắn không được dài quá {NOTE_MAX_LENGTH} ký tự.",
            f"The note must not be longer than {NOTE_MAX_LENGTH} characters.",
            errors=[{"field": "note", "type": "too_long", "message": str(len(note))}],
        )
    today = timezone.localdate()
    result = RemindResult()
    with transaction.atomic():
        schools = Organisation.objects.filter(
            kind=Organisation.Kind.SCHOOL, status=Organisation.Status.OPEN
        )
        if actor is not None and not is_unrestricted(actor):
            schools = schools.filter(id__in=org_ids_in_scope(actor))
        if school_ids is not None:
            schools = schools.filter(id__in=school_ids)
        if period.due_on >= today:
            result.not_late = schools.count()
            return result
        submissions_ensure(period=period, school_ids=list(schools.values_list("id", flat=True)))
        late = (
            Submission.objects.select_for_update(of=("self",))
            .filter(period=period, school__in=schools, status__in=[Status.DRAFT, Status.RETURNED])
            .select_related("school")
            .order_by("school_id")
        )
        late = list(late)
        result.not_late = schools.count() - len(late)
        done_today = set(
            Reminder.objects.filter(
                school_id__in=[s.school_id for s in late], sent_on=today
            ).values_list("school_id", flat=True)
        )
        result.already_today = sorted(done_today)
        todo = [s for s in late if s.school_id not in done_today]
        if not todo:
            return result
        emails: dict[int, list[str]] = {}
        for scope_id, email in (
            User.objects.filter(
                role=User.Role.SCHOOL,
                is_active=True,
                scope_id__in=[s.school_id for s in todo],
            )
            .exclude(email="")
            .values_list("scope_id", "email")
        ):
            emails.setdefault(scope_id, []).append(email)
        user = actor if getattr(actor, "pk", None) else None
        try:
            with transaction.atomic():
                Reminder.objects.bulk_create(
                    [
                        Reminder(
                            submission=s,
                            school_id=s.school_id,
                            sent_by=user,
                            sent_on=today,
                            recipients=len(emails.get(s.school_id, [])),
                            note=note,
                        )
                        for s in todo
                    ]
                )
        except IntegrityError:  # a concurrent reminder won the day for one of them
            result.already_today = sorted(
                set(result.already_today)
                | set(
                    Reminder.objects.filter(
                        school_id__in=[s.school_id for s in todo], sent_on=today
                    ).values_list("school_id", flat=True)
                )
            )
            return result
        audit_record_many(
            actor=actor,
            action="create",
            object_type="submission_reminder",
            object_ids=[s.pk for s in todo],
            detail={"period": period.pk},
        )
        result.reminded = [s.school_id for s in todo]
        result.recipients = sum(len(emails.get(s.school_id, [])) for s in todo)
        result.emailed_schools = sum(1 for s in todo if emails.get(s.school_id))
        sender = actor.scope.name if user is not None and actor.scope_id else ""
        messages = []
        with translation.override("vi"):
            sender = sender or _("Sở Giáo dục và Đào tạo")
            for s in todo:
                to = emails.get(s.school_id)
                if not to:
                    continue
                url = base_url + reverse("submission_school", args=[s.school.code])
                subject, body = _mail_body(
                    school_name=s.school.name, period=period, url=url, sender=sender, note=note
                )
                messages.append(EmailMessage(subject=subject, body=body, to=to))

        def send() -> None:
            # After commit: a mail server that is down must not undo the recorded reminders
            # (they say who was reminded when), so a failure is logged, not raised.
            if not messages:
                result.emails_sent = 0
                return
            try:
                result.emails_sent = get_connection().send_messages(messages) or 0
            except Exception as exc:  # any transport error (SMTP, DNS, TLS)
                # The exception's text may hold addresses: log its type only.
                result.emails_sent = 0
                result.email_error = type(exc).__name__
                logger.warning(
                    "Reminder e-mails not sent (%d messages): %s", len(messages), type(exc).__name__
                )

        transaction.on_commit(send)
    return result
