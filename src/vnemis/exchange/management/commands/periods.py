"""``vnemis periods create --year 2026-2027``, ``vnemis periods list``,
``vnemis periods remind --period ID`` and ``vnemis periods demo`` (used by ``vnemis demo``).

``create`` makes the year's three reporting periods with the default dates (Circular 25/2024
for start and end of year; end of term I from the year's term dates) and a draft submission for
every open school; run again it adds only what is missing. ``remind`` reminds every late school
(at most once per school per day): each sees the reminder on its submission page, and its users
who have an e-mail address get an e-mail.

``demo`` creates the current year's periods and, for the period being collected, puts a few of
the Department's schools through the workflow with real actions (one approved, a few submitted,
on time and late, and the demo school returned with a reason and reminded), then dates their
history as if it had happened over the weeks around the due date. It does nothing when the year
already has periods, so a rerun of the demo keeps what its users did.
"""

from datetime import date, datetime, time, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from vnemis.exchange import selectors_submissions as selectors
from vnemis.exchange import submissions as actions
from vnemis.exchange.models import Reminder, ReportingPeriod, Submission, SubmissionEvent
from vnemis.exchange.submission_checks import checks_blocking_failures, checks_run
from vnemis.exchange.submission_errors import SubmissionError
from vnemis.exchange.submission_reminders import submissions_remind
from vnemis.orgs.models import Organisation, User
from vnemis.orgs.scope import org_ids_in_scope
from vnemis.registry.models import SchoolYear

# Data officers of the other demo schools (accounts that cannot log in), so their history names
# people too.
OFFICERS = ("Phạm Thị Hoa", "Đỗ Văn Nam", "Vũ Thị Mai", "Hoàng Văn Đức", "Bùi Thị Thu")
RETURN_REASON = (
    "Sĩ số lớp chưa khớp với danh sách học sinh và còn giáo viên chưa có vị trí công tác; đề "
    "nghị nhà trường rà soát, bổ sung rồi nộp lại."
)
REMINDER_NOTE = "Đề nghị nhà trường hoàn thiện và nộp lại báo cáo trong tuần này."


class Command(BaseCommand):
    help = "Reporting periods and reminders. / Kỳ báo cáo định kỳ và nhắc nhở."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create a year's periods / Tạo các kỳ báo cáo")
        create.add_argument("--year", required=True, help="e.g. 2025-2026")
        sub.add_parser("list", help="List periods / Liệt kê các kỳ báo cáo")
        remind = sub.add_parser("remind", help="Remind late schools / Nhắc trường nộp muộn")
        remind.add_argument("--period", required=True, type=int)
        remind.add_argument("--base-url", default="", help="e.g. https://csdl.example.vn")
        remind.add_argument("--note", default="", help="a note to the schools / lời nhắn")
        demo = sub.add_parser("demo", help="Seed a demonstration / Dữ liệu trình diễn")
        demo.add_argument("--school", required=True, help="the demo school's code")
        demo.add_argument("--department-user", required=True, help="its Department's log-in")
        demo.add_argument("--school-user", required=True, help="the demo school's log-in")
        demo.add_argument("--others", type=int, default=5, help="other schools to put through")

    def handle(self, *args, action, **options):
        if action == "create":
            year = SchoolYear.objects.filter(code=options["year"]).first()
            if year is None:
                raise CommandError(
                    f"No school year {options['year']!r} (expected e.g. 2025-2026). "
                    f"/ Không có năm học {options['year']!r}."
                )
            for p in actions.reporting_periods_create(school_year=year):
                self.stdout.write(
                    f"{p.pk}\t{p.kind}\tas_of={p.as_of}\topens_on={p.opens_on}\tdue_on={p.due_on}"
                )
            return
        if action == "demo":
            self._demo(options)
            return
        if action == "list":
            for p in selectors.periods_all():
                self.stdout.write(
                    f"{p.pk}\t{p.school_year.code}\t{p.kind}\tas_of={p.as_of}"
                    f"\topens_on={p.opens_on}\tdue_on={p.due_on}"
                )
            return
        try:
            period = selectors.period_get(period_id=options["period"])
        except SubmissionError as exc:
            raise CommandError(f"{exc.message_en} / {exc.message_vi}") from None
        try:
            result = submissions_remind(
                actor=None,
                period=period,
                base_url=options["base_url"].rstrip("/"),
                note=options["note"],
            )
        except SubmissionError as exc:
            raise CommandError(f"{exc.message_en} / {exc.message_vi}") from None
        sent = result.recipients if result.emails_sent is None else result.emails_sent
        n, emailed = len(result.reminded), result.emailed_schools
        self.stdout.write(
            f"Reminded {n} school(s) in the app; sent {sent} e-mail(s) to {emailed} of them; "
            f"{len(result.already_today)} already reminded today. / Đã nhắc {n} trường trên hệ "
            f"thống; đã gửi {sent} e-mail tới {emailed} trường; "
            f"{len(result.already_today)} trường đã được nhắc hôm nay."
        )
        if result.email_error:
            self.stderr.write(
                f"E-mail not sent ({result.email_error}); the reminders are recorded. / Không "
                "gửi được e-mail; lời nhắc vẫn được ghi trên hệ thống."
            )

    # -- demo ------------------------------------------------------------------------------

    def _demo(self, options) -> None:
        year = SchoolYear.objects.filter(is_current=True).first()
        if year is None:
            raise CommandError("No current school year. / Chưa có năm học hiện tại.")
        if ReportingPeriod.objects.filter(school_year=year).exists():
            self.stdout.write(
                f"Periods of {year.code} already there, kept. / Các kỳ báo cáo năm học "
                f"{year.code} đã có, giữ nguyên."
            )
            return
        try:
            department = User.objects.get(username=options["department_user"])
            officer = User.objects.get(username=options["school_user"])
            school = Organisation.objects.get(code=options["school"], kind="school")
        except (User.DoesNotExist, Organisation.DoesNotExist) as exc:
            raise CommandError(f"{exc} / Không tìm thấy tài khoản hoặc trường.") from None
        with transaction.atomic():
            periods = actions.reporting_periods_create(school_year=year)
            for p in periods:
                self.stdout.write(
                    f"{p.get_kind_display()} {year.code}: as of {p.as_of:%d/%m/%Y}, open "
                    f"{p.opens_on:%d/%m/%Y}, due {p.due_on:%d/%m/%Y}"
                )
            today = timezone.localdate()
            period = selectors.period_current(today=today)
            if period is None or period.school_year_id != year.pk or period.opens_on > today:
                self.stdout.write("No period open yet. / Chưa có kỳ nào mở.")
                return
            summary = _DemoTimeline(period, today).run(
                school=school,
                officer=officer,
                department=department,
                others=max(0, options["others"]),
            )
        self.stdout.write(f"{period.get_kind_display()}: {summary}")


class _DemoTimeline:
    """Puts schools through the workflow with the actions, then dates what they did."""

    def __init__(self, period: ReportingPeriod, today: date) -> None:
        self.period, self.today = period, today
        # Not before the data date (or today, while it is ahead): a submission's figures are
        # taken at the same date whichever day in that range it was made.
        self.floor = max(period.opens_on, min(period.as_of, today))

    def day(self, days_from_due: int) -> date:
        return min(max(self.period.due_on + timedelta(days=days_from_due), self.floor), self.today)

    @staticmethod
    def at(day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), tzinfo=timezone.get_current_timezone())

    def dated(self, sub: Submission, *, submitted: datetime, decided: datetime | None = None):
        Submission.objects.filter(pk=sub.pk).update(submitted_at=submitted)
        SubmissionEvent.objects.filter(submission=sub, to_status="submitted").update(at=submitted)
        if decided is not None:
            Submission.objects.filter(pk=sub.pk).update(decided_at=decided)
            SubmissionEvent.objects.filter(
                submission=sub, to_status__in=["approved", "returned"]
            ).update(at=decided)

    def submit(self, school: Organisation, actor) -> Submission:
        sub = actions.submission_get_or_create(school=school, period=self.period)
        return actions.submission_submit(actor=actor, submission=sub)

    def run(self, *, school: Organisation, officer, department, others: int) -> str:
        period = self.period
        candidates = list(
            Organisation.objects.filter(
                kind=Organisation.Kind.SCHOOL,
                status=Organisation.Status.OPEN,
                id__in=org_ids_in_scope(department),
            )
            .exclude(pk=school.pk)
            .order_by("code")
        )
        checks = checks_run(school_ids=[s.pk for s in candidates], period=period)
        ready = [s for s in candidates if not checks_blocking_failures(checks[s.pk])]
        step = max(1, len(ready) // max(1, others))
        chosen = ready[::step][:others]
        done = {"approved": 0, "submitted": 0, "late": 0}
        # (days from the due date it was submitted, approved?) for each other school in turn.
        plan = [(-12, True), (-5, False), (-2, False), (4, False), (9, False)]
        for i, other in enumerate(chosen):
            days, approve = plan[i % len(plan)]
            user, _created = User.objects.get_or_create(
                username=f"vanthu_{other.code}",
                defaults={
                    "role": User.Role.SCHOOL,
                    "scope": other,
                    "first_name": OFFICERS[i % len(OFFICERS)],
                },
            )
            if _created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
            sub = self.submit(other, user)
            submitted = self.at(self.day(days), 9, 30)
            decided = None
            if approve:
                sub = actions.submission_approve(actor=department, submission=sub)
                decided = self.at(self.day(days + 4), 15, 10)
                done["approved"] += 1
            else:
                done["submitted"] += 1
                done["late"] += int(submitted.date() > period.due_on)
            self.dated(sub, submitted=submitted, decided=decided)

        # The demo school: submitted on time, returned with a reason, reminded once late.
        try:
            sub = self.submit(school, officer)
        except SubmissionError as exc:
            return f"{done['approved']} approved, {done['submitted']} submitted; {exc.message_en}"
        sub = actions.submission_return(actor=department, submission=sub, reason=RETURN_REASON)
        self.dated(
            sub, submitted=self.at(self.day(-3), 10, 5), decided=self.at(self.day(-1), 16, 40)
        )
        reminded = ""
        if period.due_on < self.today:
            result = submissions_remind(
                actor=department, period=period, school_ids=[school.pk], note=REMINDER_NOTE
            )
            if result.reminded:
                day = self.day(7)
                Reminder.objects.filter(submission=sub).update(
                    sent_on=day, sent_at=self.at(day, 8, 15)
                )
                reminded = f", reminded on {day:%d/%m/%Y}"
        return (
            f"{done['approved']} approved, {done['submitted']} submitted "
            f"({done['late']} after the due date), {school.code} returned with a reason"
            f"{reminded}; the other schools have not submitted. / {done['approved']} trường đã "
            f"duyệt, {done['submitted']} trường đã nộp, trường {school.code} bị trả lại."
        )
