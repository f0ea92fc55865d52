"""Reads of the submission workflow, scoped to the viewer, and the lock the engine obeys.

Progress figures are GROUP BY queries over the schools in scope with each school's status for
the period as a correlated sub-query (a school without a submission row counts as a draft), so
the Department's page costs the same few queries for 50 schools or 3,000, and the Ministry sees
34 provincial rows, never 54,000 schools. School lists are keyset-paged by school code.
"""

from dataclasses import dataclass
from datetime import date

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from vnemis.core.pagination import Page, keyset_page
from vnemis.orgs.models import Organisation, User
from vnemis.orgs.scope import is_unrestricted, org_ids_in_scope

from .models_submissions import Reminder, ReportingPeriod, Submission, SubmissionEvent
from .submission_checks import checks_run, counts_of
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
    """The period being collected: the latest one already open, else the next to open."""
    today = today or timezone.localdate()
    qs = ReportingPeriod.objects.select_related("school_year")
    return (
        qs.filter(opens_on__lte=today).order_by("-opens_on", "-as_of").first()
        or qs.order_by("opens_on").first()
    )


def period_is_late(period: ReportingPeriod, *, today: date | None = None) -> bool:
    return period.due_on < (today or timezone.localdate())


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


def submission_events(*, submission: Submission) -> list[SubmissionEvent]:
    """The history of one submission (a handful of rows), oldest first."""
    return list(submission.events.select_related("by").order_by("at", "id")[:500])


def submissions_of_school(*, viewer: User, school_code: str) -> tuple[Organisation, list[dict]]:
    """A school and, for the periods of the last three years (newest first), its submission or
    None (not started: a draft) and the submission's history; four queries in all."""
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
        for s in Submission.objects.filter(school=school, period__in=[p.pk for p in periods])
    }
    events: dict[int, list[SubmissionEvent]] = {}
    for e in (
        SubmissionEvent.objects.filter(submission__in=[s.pk for s in subs.values()])
        .select_related("by")
        .order_by("at", "id")[:2000]
    ):
        events.setdefault(e.submission_id, []).append(e)
    return school, [
        {
            "period": p,
            "submission": subs.get(p.pk),
            "events": events.get(subs[p.pk].pk, []) if p.pk in subs else [],
        }
        for p in periods
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
    late: int = 0

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
            "done_pct": self.done_pct,
            "approved_pct": self.approved_pct,
        }


def _group(rows, *, late: bool, label_of=None) -> list[Progress]:
    groups: dict[str, Progress] = {}
    for key, label, status, n in rows:
        key = key or ""
        g = groups.setdefault(key, Progress(key=key, label=(label_of or {}).get(key, label or "")))
        setattr(g, status, getattr(g, status) + n)
        if late and status in (Status.DRAFT, Status.RETURNED):
            g.late += n
    return list(groups.values())


def overview_progress(
    *, viewer: User, period: ReportingPeriod, province_code: str = "", by: str = "level"
) -> list[Progress]:
    """Schools by status per level, commune or province (one GROUP BY)."""
    _require_viewer(viewer, OVERVIEW_VIEWERS)
    late = period_is_late(period)
    qs = _schools(viewer, province_code=province_code).annotate(st=_status_of(period))
    if by == "level":
        rows = [
            (lvl, "", st, n)
            for lvl, st, n in qs.values_list("level", "st").annotate(n=Count("id")).order_by()
        ]
        order = {v: i for i, v in enumerate(Organisation.Level.values)}
        groups = _group(rows, late=late, label_of=dict(Organisation.Level.choices))
        return sorted(groups, key=lambda g: order.get(g.key, 99))
    if by == "commune":
        rows = (
            qs.values_list("commune__code", "commune__name", "st")
            .annotate(n=Count("id"))
            .order_by()
        )
        return sorted(_group(rows, late=late), key=lambda g: g.label)[:COMMUNE_LIMIT]
    if by == "province":
        rows = (
            qs.values_list("province__code", "province__name", "st")
            .annotate(n=Count("id"))
            .order_by()
        )
        return sorted(_group(rows, late=late), key=lambda g: g.key)
    raise ValueError(by)


def overview_total(groups: list[Progress]) -> Progress:
    total = Progress(key="", label="")
    for g in groups:
        for name in ("draft", "submitted", "approved", "returned", "late"):
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
                "counts": counts.get(s.pk, {}),
                "blocking_failed": sum(1 for c in results if c["blocking"] and not c["ok"]),
                "warnings": sum(1 for c in results if not c["blocking"] and not c["ok"]),
            }
        )
    return rows, (schools[-1].code if more else None)
