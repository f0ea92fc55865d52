"""``vnemis periods create --year 2025-2026``, ``vnemis periods list`` and
``vnemis periods remind --period ID``.

``create`` makes the year's three reporting periods with the default dates (Circular 25/2024
for start and end of year; end of term I from the year's term dates) and a draft submission for
every open school; run again it adds only what is missing. ``remind`` e-mails the users of every
late school (at most once per school per day).
"""

from django.core.management.base import BaseCommand, CommandError

from vnemis.exchange import selectors_submissions as selectors
from vnemis.exchange import submissions as actions
from vnemis.exchange.submission_errors import SubmissionError
from vnemis.exchange.submission_reminders import submissions_remind
from vnemis.registry.models import SchoolYear


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
        result = submissions_remind(
            actor=None, period=period, base_url=options["base_url"].rstrip("/")
        )
        self.stdout.write(
            f"Reminded {len(result.reminded)} school(s), {result.recipients} e-mail address(es); "
            f"{len(result.already_today)} already reminded today. / Đã nhắc "
            f"{len(result.reminded)} trường; {len(result.already_today)} trường đã được nhắc "
            "hôm nay."
        )
