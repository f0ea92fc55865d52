"""Reads of the submission workflow, scoped to the viewer, and the lock the engine obeys.

Progress figures are GROUP BY queries over the schools in scope with each school's status for
the period as a correlated sub-query (a school without a submission row counts as a draft), so
the Department's page costs the same few queries for 50 schools or 3,000, and the Ministry sees
34 provincial rows, never 54,000 schools. School lists are keyset-paged by school code.

What a page says about a submission comes from here too, so every page tells the same truth:
``submission_facts`` (late or submitted late, by how many days; whether it locks the school's
data now, or no longer because a later period opened) and ``counts_now`` (the figures as they
stand today at the date the submitted ones were taken, to show that data changed since).
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from vnemis.core.pagination import Page, keyset_page
from vnemis.orgs.models import Organisation, User
from vnemis.orgs.scope import is_unrestricted, org_ids_in_scope

from .models_submissions import Reminder, ReportingPeriod, Submission, SubmissionEvent
from .submission_checks import checks_run, counts_at, counts_of, reference_date
from .submission_errors import SubmissionError, forbidden_role, not_found

Status = Submission.Status
VIEWERS = {User.Role.MINISTRY, User.Role.DEPARTMENT, User.Role.SCHOOL, User.Role.SYSTEM}
OVERVIEW_VIEWERS = {User.Role.MINISTRY, User.Role.DEPARTMENT}
SCHOOL_PAGE_SIZE = 100
COMMUNE_LIMIT = 300
SCHOOL_PERIODS_SHOWN = 9  # three school years
STATUSES = [s.value for s in Status]


# --- the lock -----------------------------------------------------------------------------------


def _locking() -> QuerySet[Submission]:
    """Submissions that freeze their school's data of the period's school year.

    Submitted: always (the Department reviews what was sent). Approved: until the next period
    of the same year opens, when the school must work on its data again (an end-of-year
    approval therefore locks the year for good, unless the submission is reopened).
    """
    later_open = ReportingPeriod.objects.filter(
        school_year_id=OuterRef("period__school_year_id"),
        as_of__gt=OuterRef("period__as_of"),
        opens_on__lte=timezone.localdate(),
    )
    return Submission.objects.filter(
        Q(status=Status.SUBMITTED) | (Q(status=Status.APPROVED) & ~Exists(later_open))
    )


def locked_pairs() -> set[tuple[int, int]]:
    """(school_id, school_year_id) whose data imports and sync must not change (one query)."""
    return set(_locking().values_list("school_id", "period__school_year_id").distinct().order_by())


def school_year_locked(*, school_id: int, school_year_id: int) -> bool:
    return _locking().filter(school_id=school_id, period__school_year_id=school_year_id).exists()


# --- periods ------------------------------------------------------------------------------------


def periods_all() -> list[ReportingPeriod]:
    """Every reporting period, newest year first (three a year: a small table)."""
    return list(
        ReportingPeriod.objects.select_related("school_year").order_by(
            "-school_year__start_year", "as_of"
        )[:300]
    )


def period_get(*, period_id: int) -> ReportingPeriod:
    period = ReportingPeriod.objects.select_related("school_year").filter(pk=period_id).first()
    if period is None:
        raise SubmissionError(
            "not_found",
            "period_not_found",
            f"Không có kỳ báo cáo số {period_id}.",
            f"There is no reporting period {period_id}.",
        )
    return period


def period_current(*, today: date | None = None) -> ReportingPeriod | None:
    """The period being collected: the latest open one whose data date has come, else the latest
    open one, else the next to open.

    A period opens the day after the previous one is due, long before its data date (the end of
    term I opens in October for data as of January): until that date, schools and Departments are
    still busy with the previous period, so that is the one the pages show first.
    """
    today = today or timezone.localdate()
    qs = ReportingPeriod.objects.select_related("school_year")
    open_ = qs.filter(opens_on__lte=today)
    return (
        open_.filter(as_of__lte=today).order_by("-as_of", "-opens_on").first()
        or open_.order_by("-opens_on", "-as_of").first()
        or qs.order_by("opens_on").first()
    )


def period_is_late(period: ReportingPeriod, *, today: date | None = None) -> bool:
    return period.due_on < (today or timezone.localdate())


def _day_after(day: date) -> datetime:
    """The first instant of the next Vietnamese calendar day (a due date ends at midnight)."""
    return datetime.combine(
        day + timedelta(days=1), time.min, tzinfo=timezone.get_current_timezone()
    )


# --- what pages say about a submission ----------------------------------------------------------


def user_label(user: User | None) -> str:
    """A person's name and organisation for histories ("Nguyễn Thị Lan (Sở GD&ĐT Hà Nội)"); the
    log-in name only when the account has no name, beside its organisation. Needs ``person``
    and ``scope`` selected with the user."""
    if user is None:
        return ""
    person = user.person if user.person_id else None
    name = (person.full_name if person else "") or user.get_full_name().strip()
    org = user.scope.name if user.scope_id else ""
    if name and org:
        return f"{name} ({org})"
    if name:
        return name
    if org:
        return f"{org} ({user.get_username()})"
    return user.get_username()


@dataclass
class Facts:
    """What a page says about one submission (or a school that has none yet) for a period."""

    overdue: bool = False  # past the due date and not submitted (draft or returned)
    overdue_days: int = 0
    submitted_late: bool = False  # (last) submitted after the due date
    submitted_late_days: int = 0
    # The lock: "" (none), "submitted" (until the Department decides), "approved" (until
    # ``next_period`` opens on ``next_opens_on``), "approved_final" (the year's last period:
    # until reopened) or "released" (approved, but ``next_period`` opened on ``next_opens_on``).
    lock: str = ""
    next_period: ReportingPeriod | None = None
    next_opens_on: date | None = None
    reference: date | None = None  # the date the submitted figures count at

    @property
    def locked(self) -> bool:
        return self.lock in ("submitted", "approved", "approved_final")


def submission_facts(
    *,
    period: ReportingPeriod,
    submission: Submission | None,
    periods_of_year: list[ReportingPeriod],
    today: date | None = None,
) -> Facts:
    """Lateness and lock of one submission, from the periods of its year (no query).

    The lock is ``_locking``'s rule, said in words: submitted always locks; approved locks until
    a later period of the same year opens."""
    today = today or timezone.localdate()
    facts = Facts()
    status = submission.status if submission is not None else Status.DRAFT
    if status in (Status.DRAFT, Status.RETURNED) and period.due_on < today:
        facts.overdue = True
        facts.overdue_days = (today - period.due_on).days
    if submission is not None and submission.submitted_at is not None:
        day = timezone.localdate(submission.submitted_at)
        facts.reference = reference_date(period, today=day)
        if status in (Status.SUBMITTED, Status.APPROVED) and day > period.due_on:
            facts.submitted_late = True
            facts.submitted_late_days = (day - period.due_on).days
    if status == Status.SUBMITTED:
        facts.lock = "submitted"
    elif status == Status.APPROVED:
        later = sorted(
            (
                p
                for p in periods_of_year
                if p.school_year_id == period.school_year_id and p.as_of > period.as_of
            ),
            key=lambda p: (p.opens_on, p.as_of),
        )
        opened = [p for p in later if p.opens_on <= today]
        if opened:
            facts.lock, facts.next_period = "released", opened[0]
        elif later:
            facts.lock, facts.next_period = "approved", later[0]
        else:
            facts.lock = "approved_final"
        if facts.next_period is not None:
            facts.next_opens_on = facts.next_period.opens_on
    return facts


def periods_of_year(*, school_year_id: int) -> list[ReportingPeriod]:
    """The (at most three) periods of one school year."""
    return list(ReportingPeriod.objects.filter(school_year_id=school_year_id).order_by("as_of"))


@dataclass
class CountsNow:
    """The figures of a submission as they stand now, beside those submitted."""

    reference: date
    now: dict = field(default_factory=dict)
    differs: dict = field(default_factory=dict)  # key → True where now ≠ submitted

    @property
    def any_differ(self) -> bool:
        return any(self.differs.values())


def counts_now(
    *, school_id: int, items: list[tuple[ReportingPeriod, Submission, Facts]]
) -> dict[int, CountsNow]:
    """For each submission with frozen counts, today's counts at the same reference date, keyed
    by period id (three queries whatever the number of periods)."""
    wanted = [
        (period, facts.reference)
        for period, sub, facts in items
        if sub is not None and sub.counts and facts.reference is not None
    ]
    now = counts_at(school_id=school_id, wanted=wanted)
    out = {}
    for period, sub, facts in items:
        if period.pk not in now:
            continue
        figures = now[period.pk]
        out[period.pk] = CountsNow(
            reference=facts.reference,
            now=figures,
            differs={k: sub.counts.get(k) != v for k, v in figures.items() if k in sub.counts},
        )
    return out


# --- submissions --------------------------------------------------------------------------------


def _require_viewer(viewer: User, roles=VIEWERS) -> None:
    if is_unrestricted(viewer):
        return
    if not viewer.is_authenticated or viewer.role not in roles:
        raise forbidden_role()


def submissions_visible(*, viewer: User) -> QuerySet[Submission]:
    _require_viewer(viewer)
    qs = Submission.objects.select_related("school", "period__school_year")
    if is_unrestricted(viewer):
        return qs
    return qs.filter(school_id__in=org_ids_in_scope(viewer))


def submission_get(*, viewer: User, submission_id: int) -> Submission:
    sub = submissions_visible(viewer=viewer).filter(pk=submission_id).first()
    if sub is None:
        raise not_found()
    return sub


def submissions_page(
    *,
    viewer: User,
    period: ReportingPeriod,
    status: str = "",
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """The viewer's submissions of a period, in id order, keyset-paged."""
    qs = submissions_visible(viewer=viewer).filter(period=period)
    if status:
        if status not in STATUSES:
            raise SubmissionError(
                "invalid",
                "unknown_status",
                f"Trạng thái '{status}' không tồn tại; dùng một trong: {', '.join(STATUSES)}.",
                f"Unknown status '{status}'; use one of: {', '.join(STATUSES)}.",
            )
        qs = qs.filter(status=status)
    return keyset_page(
        qs, order=["id"], cursor=cursor, limit=limit, namespace="exchange.submissions"
    )


def _labelled(events) -> list[SubmissionEvent]:
    events = list(events)
    for e in events:
        e.by_label = user_label(e.by)
    return events


def submission_events(*, submission: Submission) -> list[SubmissionEvent]:
    """The history of one submission (a handful of rows), oldest first, each with ``by_label``
    (who, by name and organisation)."""
    return _labelled(
        submission.events.select_related("by__person", "by__scope").order_by("at", "id")[:500]
    )


def _reminders_labelled(reminders) -> list[Reminder]:
    reminders = list(reminders)
    for r in reminders:
        r.by_label = user_label(r.sent_by)
    return reminders


def submission_reminders(*, submission: Submission) -> list[Reminder]:
    """The reminders the school got for this submission, newest first."""
    return _reminders_labelled(
        submission.reminders.select_related("sent_by__person", "sent_by__scope").order_by(
            "-sent_at"
        )[:100]
    )


def submissions_of_school(*, viewer: User, school_code: str) -> tuple[Organisation, list[dict]]:
    """A school and, for the periods of the last three years (newest first), its submission or
    None (not started: a draft), the submission's history, the reminders the school got, what
    to say about it (``facts``) and its figures now (``counts_now``); at most eight queries."""
    _require_viewer(viewer)
    schools = Organisation.objects.filter(code=school_code, kind=Organisation.Kind.SCHOOL)
    if not is_unrestricted(viewer):
        schools = schools.filter(id__in=org_ids_in_scope(viewer))
    school = schools.select_related("province", "parent").first()
    if school is None:
        raise SubmissionError(
            "not_found",
            "not_found",
            "Trường không tồn tại hoặc nằm ngoài phạm vi của bạn.",
            "The school does not exist or is outside your scope.",
        )
    periods = periods_all()[:SCHOOL_PERIODS_SHOWN]
    subs = {
        s.period_id: s
        for s in Submission.objects.filter(
            school=school, period__in=[p.pk for p in periods]
        ).select_related("decided_by__person", "decided_by__scope")
    }
    events: dict[int, list[SubmissionEvent]] = {}
    for e in _labelled(
        SubmissionEvent.objects.filter(submission__in=[s.pk for s in subs.values()])
        .select_related("by__person", "by__scope")
        .order_by("at", "id")[:2000]
    ):
        events.setdefault(e.submission_id, []).append(e)
    reminders: dict[int, list[Reminder]] = {}
    for r in _reminders_labelled(
        Reminder.objects.filter(submission__in=[s.pk for s in subs.values()])
        .select_related("sent_by__person", "sent_by__scope")
        .order_by("-sent_at")[:500]
    ):
        reminders.setdefault(r.submission_id, []).append(r)
    today = timezone.localdate()
    items = [
        (
            p,
            subs.get(p.pk),
            submission_facts(
                period=p, submission=subs.get(p.pk), periods_of_year=periods, today=today
            ),
        )
        for p in periods
    ]
    now = counts_now(school_id=school.pk, items=items)
    return school, [
        {
            "period": p,
            "submission": sub,
            "events": events.get(sub.pk, []) if sub else [],
            "reminders": reminders.get(sub.pk, []) if sub else [],
            "facts": facts,
            "counts_now": now.get(p.pk),
            "reference": reference_date(p, today=today),
        }
        for p, sub, facts in items
    ]


def submission_checks_live(*, viewer: User, submission: Submission) -> list[dict]:
    """The checks as they stand now, without storing them (for read-only viewers)."""
    _require_viewer(viewer)
    school = submission.school
    return checks_run(
        school_ids=[school.pk],
        period=submission.period,
        school_codes={school.pk: school.code},
        detail=True,
    )[school.pk]


# --- the Department's and the Ministry's overview -----------------------------------------------


def _status_of(period: ReportingPeriod):
    sub = Submission.objects.filter(school_id=OuterRef("pk"), period=period).values("status")[:1]
    return Coalesce(Subquery(sub), Value(Status.DRAFT.value))


def _submitted_late(period: ReportingPeriod):
    """Submitted or approved, (last) submitted after the due date."""
    return Exists(
        Submission.objects.filter(
            school_id=OuterRef("pk"),
            period=period,
            status__in=[Status.SUBMITTED, Status.APPROVED],
            submitted_at__gte=_day_after(period.due_on),
        )
    )


def _schools(viewer: User, *, province_code: str = "", level: str = "", commune_code: str = ""):
    qs = Organisation.objects.filter(kind=Organisation.Kind.SCHOOL, status=Organisation.Status.OPEN)
    if not is_unrestricted(viewer):
        qs = qs.filter(id__in=org_ids_in_scope(viewer))
    if province_code:
        qs = qs.filter(province__code=province_code)
    if level:
        qs = qs.filter(level=level)
    if commune_code:
        qs = qs.filter(commune__code=commune_code)
    return qs


@dataclass
class Progress:
    """Schools by status for one group (all, a level, a commune, a province)."""

    key: str
    label: str
    draft: int = 0
    submitted: int = 0
    approved: int = 0
    returned: int = 0
    late: int = 0  # past due and not submitted (draft or returned)
    submitted_late: int = 0  # submitted or approved, but after the due date

    @property
    def total(self) -> int:
        return self.draft + self.submitted + self.approved + self.returned

    @property
    def done(self) -> int:
        """Submitted or approved: the school has done its part."""
        return self.submitted + self.approved

    def pct(self, n: int) -> float:
        return round(100.0 * n / self.total, 1) if self.total else 0.0

    @property
    def done_pct(self) -> float:
        return self.pct(self.done)

    @property
    def approved_pct(self) -> float:
        return self.pct(self.approved)

    @property
    def submitted_only_pct(self) -> float:
        return self.pct(self.submitted)

    def as_dict(self) -> dict:
        return {
            "key": self.key,
            "label": self.label,
            "total": self.total,
            "draft": self.draft,
            "submitted": self.submitted,
            "approved": self.approved,
            "returned": self.returned,
            "late": self.late,
            "submitted_late": self.submitted_late,
            "done_pct": self.done_pct,
            "approved_pct": self.approved_pct,
        }


def _group(rows, *, late: bool, label_of=None) -> list[Progress]:
    groups: dict[str, Progress] = {}
    for key, label, status, submitted_late, n in rows:
        key = key or ""
        g = groups.setdefault(key, Progress(key=key, label=(label_of or {}).get(key, label or "")))
        setattr(g, status, getattr(g, status) + n)
        if late and status in (Status.DRAFT, Status.RETURNED):
            g.late += n
        if submitted_late:
            g.submitted_late += n
    return list(groups.values())


def overview_progress(
    *, viewer: User, period: ReportingPeriod, province_code: str = "", by: str = "level"
) -> list[Progress]:
    """Schools by status per level, commune or province (one GROUP BY)."""
    _require_viewer(viewer, OVERVIEW_VIEWERS)
    late = period_is_late(period)
    qs = _schools(viewer, province_code=province_code).annotate(
        st=_status_of(period), sl=_submitted_late(period)
    )
    if by == "level":
        rows = [
            (lvl, "", st, sl, n)
            for lvl, st, sl, n in qs.values_list("level", "st", "sl")
            .annotate(n=Count("id"))
            .order_by()
        ]
        order = {v: i for i, v in enumerate(Organisation.Level.values)}
        groups = _group(rows, late=late, label_of=dict(Organisation.Level.choices))
        return sorted(groups, key=lambda g: order.get(g.key, 99))
    if by == "commune":
        rows = (
            qs.values_list("commune__code", "commune__name", "st", "sl")
            .annotate(n=Count("id"))
            .order_by()
        )
        return sorted(_group(rows, late=late), key=lambda g: g.label)[:COMMUNE_LIMIT]
    if by == "province":
        rows = (
            qs.values_list("province__code", "province__name", "st", "sl")
            .annotate(n=Count("id"))
            .order_by()
        )
        return sorted(_group(rows, late=late), key=lambda g: g.key)
    raise ValueError(by)


def overview_total(groups: list[Progress]) -> Progress:
    total = Progress(key="", label="")
    for g in groups:
        for name in ("draft", "submitted", "approved", "returned", "late", "submitted_late"):
            setattr(total, name, getattr(total, name) + getattr(g, name))
    return total


def overview_schools(
    *,
    viewer: User,
    period: ReportingPeriod,
    province_code: str = "",
    level: str = "",
    commune_code: str = "",
    status: str = "",
    late_only: bool = False,
    after: str = "",
    limit: int = SCHOOL_PAGE_SIZE,
    with_checks: bool = True,
) -> tuple[list[dict], str | None]:
    """One page of schools (by code after ``after``) with status, counts and check summary.

    A bounded number of queries per page: the page itself, three counts and one per check.
    """
    _require_viewer(viewer, OVERVIEW_VIEWERS)
    today = timezone.localdate()
    subs = Submission.objects.filter(school_id=OuterRef("pk"), period=period)
    qs = (
        _schools(viewer, province_code=province_code, level=level, commune_code=commune_code)
        .annotate(
            st=_status_of(period),
            sub_id=Subquery(subs.values("id")[:1]),
            submitted_at=Subquery(subs.values("submitted_at")[:1]),
            reminded_on=Subquery(
                Reminder.objects.filter(school_id=OuterRef("pk"), submission__period=period)
                .order_by("-sent_on")
                .values("sent_on")[:1]
            ),
        )
        .select_related("commune")
    )
    if status in STATUSES:
        qs = qs.filter(st=status)
    if late_only:
        if not period_is_late(period, today=today):
            qs = qs.none()
        qs = qs.filter(st__in=[Status.DRAFT, Status.RETURNED])
    if after:
        qs = qs.filter(code__gt=after)
    schools = list(qs.order_by("code")[: limit + 1])
    more = len(schools) > limit
    schools = schools[:limit]
    ids = [s.pk for s in schools]
    counts = counts_of(school_ids=ids, period=period) if ids else {}
    checks = (
        checks_run(school_ids=ids, period=period, school_codes={s.pk: s.code for s in schools})
        if ids and with_checks
        else {}
    )
    late = period_is_late(period, today=today)
    rows = []
    for s in schools:
        results = checks.get(s.pk, [])
        submitted_day = timezone.localdate(s.submitted_at) if s.submitted_at else None
        rows.append(
            {
                "school": s,
                "status": s.st,
                "status_label": Status(s.st).label,
                "submission_id": s.sub_id,
                "submitted_at": s.submitted_at,
                "reminded_today": s.reminded_on == today,
                "reminded_on": s.reminded_on,
                "late": late and s.st in (Status.DRAFT, Status.RETURNED),
                "overdue_days": (today - period.due_on).days if late else 0,
                "submitted_late": s.st in (Status.SUBMITTED, Status.APPROVED)
                and submitted_day is not None
                and submitted_day > period.due_on,
                "submitted_late_days": (submitted_day - period.due_on).days if submitted_day else 0,
                "counts": counts.get(s.pk, {}),
                "blocking_failed": sum(1 for c in results if c["blocking"] and not c["ok"]),
                "warnings": sum(1 for c in results if not c["blocking"] and not c["ok"]),
            }
        )
    return rows, (schools[-1].code if more else None)


@dataclass
class RemindPreview:
    """Who a "remind every late school" would reach, for the confirmation page."""

    late: int = 0  # late schools in scope
    already_today: int = 0  # of those, reminded today already (skipped)
    with_email: int = 0  # of the others, schools with at least one user e-mail address

    @property
    def to_remind(self) -> int:
        return self.late - self.already_today


def remind_preview(*, viewer: User, period: ReportingPeriod) -> RemindPreview:
    """How many late schools a reminder to all would reach, and how many by e-mail (3 queries)."""
    _require_viewer(viewer, OVERVIEW_VIEWERS)
    today = timezone.localdate()
    if not period_is_late(period, today=today):
        return RemindPreview()
    late = (
        _schools(viewer)
        .annotate(st=_status_of(period))
        .filter(st__in=[Status.DRAFT, Status.RETURNED])
    )
    reminded = Reminder.objects.filter(school_id=OuterRef("pk"), sent_on=today)
    emailed = User.objects.filter(
        role=User.Role.SCHOOL, is_active=True, scope_id=OuterRef("pk")
    ).exclude(email="")
    counts = late.aggregate(
        late=Count("id"),
        already=Count("id", filter=Q(Exists(reminded))),
        with_email=Count("id", filter=Q(Exists(emailed)) & ~Q(Exists(reminded))),
    )
    return RemindPreview(
        late=counts["late"], already_today=counts["already"], with_email=counts["with_email"]
    )
