"""Completeness checks of a school's data for a reporting period, set-wise.

Each check is one GROUP BY over the registry for a set of schools, so checking one school and
checking a page of a hundred schools on the Department's page cost the same few queries: no
per-pupil or per-school Python. A check yields, per school, how many items fail out of how
many there are; ``checks_run`` turns that into the result dicts stored on ``Submission.checks``
and shown on the pages and the API:

    {"code", "ok", "blocking", "count", "total", "message_vi", "message_en", "fix_url", "items"}

``items`` (only when one school is checked in detail) names up to ``ITEM_LIMIT`` classes where
the problem is, each with a link to the class page, so a school fixes classes, not rows.

The population of a period is the school's enrolments of the period's school year that were
live on the reference date (the period's "data as of" date, or today if that is still ahead):
started on or before it and not ended before it, whatever their status today (a pupil who left
after that date still counts; one who arrived after it does not). This is why a period's pupil
count can differ from the home page's "pupils studying now": the pages say which date they count.
Staff: distinct people with a post at the school on that date. Classes: the school year's.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

from django.db.models import Count, Exists, F, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from vnemis.registry.models import (
    Enrolment,
    Period,
    ResultSummary,
    SchoolClass,
    StaffAssignment,
    SubjectResult,
)

from .models_submissions import ReportingPeriod

ITEM_LIMIT = 10
Kind = ReportingPeriod.Kind
ALL_KINDS = frozenset(Kind.values)


def reference_date(period: ReportingPeriod, *, today: date | None = None) -> date:
    """The day whose data the checks look at: "data as of", or today while that is ahead."""
    today = today or timezone.localdate()
    return min(period.as_of, today)


def _population(school_ids, period: ReportingPeriod, ref: date):
    """Enrolments live at the school on the reference date (one indexed range per school)."""
    return Enrolment.objects.filter(
        school_id__in=school_ids,
        school_year_id=period.school_year_id,
        started_on__lte=ref,
    ).filter(Q(ended_on__isnull=True) | Q(ended_on__gte=ref))


def _assessed(qs):
    # Preschool groups (grade 0) have no subject results or summaries (no grading at that level).
    return qs.filter(school_class__grade__gte=1)


def _live_post(ref: date, school_field: str = "school_id"):
    return StaffAssignment.objects.filter(
        Q(ends_on__isnull=True) | Q(ends_on__gte=ref),
        starts_on__lte=ref,
        school_id=OuterRef(school_field),
    )


# --- the checks: each returns {school_id: (failing, total)} and, per class, a failing query --


def _homeroom(school_ids, period, ref):
    rows = (
        SchoolClass.objects.filter(school_id__in=school_ids, school_year_id=period.school_year_id)
        .values("school_id")
        .annotate(total=Count("id"), failing=Count("id", filter=Q(homeroom_teacher__isnull=True)))
        .order_by()
    )
    return {r["school_id"]: (r["failing"], r["total"]) for r in rows}


def _homeroom_classes(school_ids, period, ref):
    return SchoolClass.objects.filter(
        school_id__in=school_ids,
        school_year_id=period.school_year_id,
        homeroom_teacher__isnull=True,
    ).values("id", "name", n=Count("id"))


def _has_classes(school_ids, period, ref):
    present = set(
        SchoolClass.objects.filter(school_id__in=school_ids, school_year_id=period.school_year_id)
        .values_list("school_id", flat=True)
        .distinct()
        .order_by()
    )
    return {sid: (0 if sid in present else 1, 1) for sid in _ids(school_ids)}


def _in_class(school_ids, period, ref):
    # The class must belong to the same school and year as the enrolment: a pupil whose class is
    # another school's (a half-done transfer, a bad import) is not counted anywhere correctly.
    misplaced = ~Q(school_class__school_id=F("school_id")) | ~Q(
        school_class__school_year_id=F("school_year_id")
    )
    rows = (
        _population(school_ids, period, ref)
        .values("school_id")
        .annotate(total=Count("id"), failing=Count("id", filter=misplaced))
        .order_by()
    )
    return {r["school_id"]: (r["failing"], r["total"]) for r in rows}


def _missing(model, period_code: str, extra: Q | None = None):
    qs = model.objects.filter(enrolment_id=OuterRef("pk"), period=period_code)
    if extra is not None:
        qs = qs.filter(extra)
    return ~Exists(qs)


def _count_missing(missing_factory: Callable[[], object]):
    def check(school_ids, period, ref):
        rows = (
            _assessed(_population(school_ids, period, ref))
            .values("school_id")
            .annotate(total=Count("id"), failing=Count("id", filter=missing_factory()))
            .order_by()
        )
        return {r["school_id"]: (r["failing"], r["total"]) for r in rows}

    return check


def _classes_missing(missing_factory: Callable[[], object]):
    def classes(school_ids, period, ref):
        return (
            _assessed(_population(school_ids, period, ref))
            .filter(missing_factory())
            .values("school_class_id", "school_class__name")
            .annotate(n=Count("id"))
            .values("school_class_id", "school_class__name", "n")
        )

    return classes


def _term1_results():
    return _missing(SubjectResult, Period.TERM1)


def _term1_summary():
    return _missing(ResultSummary, Period.TERM1)


def _year_results():
    return _missing(SubjectResult, Period.YEAR)


def _year_outcome():
    return _missing(ResultSummary, Period.YEAR, ~Q(outcome=""))


def _has_staff(school_ids, period, ref):
    from vnemis.orgs.models import Organisation

    rows = (
        Organisation.objects.filter(id__in=school_ids)
        .annotate(posted=Exists(_live_post(ref, "pk")))
        .values_list("id", "posted")
    )
    return {sid: (0 if posted else 1, 1) for sid, posted in rows}


def _homeroom_posted(school_ids, period, ref):
    # A homeroom teacher (giáo viên chủ nhiệm) must hold a live post at the class's school.
    unposted = ~Exists(
        StaffAssignment.objects.filter(
            Q(ends_on__isnull=True) | Q(ends_on__gte=ref),
            starts_on__lte=ref,
            school_id=OuterRef("school_id"),
            person_id=OuterRef("homeroom_teacher_id"),
        )
    )
    rows = (
        SchoolClass.objects.filter(
            school_id__in=school_ids,
            school_year_id=period.school_year_id,
            homeroom_teacher__isnull=False,
        )
        .values("school_id")
        .annotate(total=Count("id"), failing=Count("id", filter=unposted))
        .order_by()
    )
    return {r["school_id"]: (r["failing"], r["total"]) for r in rows}


def _ids(school_ids) -> list[int]:
    if isinstance(school_ids, list | tuple | set | frozenset):
        return list(school_ids)
    return list(school_ids)


@dataclass(frozen=True)
class Check:
    code: str
    blocking: bool  # a failing blocking check refuses the submission; others are warnings
    kinds: frozenset[str]
    count: Callable  # (school_ids, period, ref) -> {school_id: (failing, total)}
    message_vi: str  # formatted with count and total
    message_en: str
    ok_vi: str
    ok_en: str
    classes: Callable | None = None  # failing classes of one school (for the fix links)


CHECKS: tuple[Check, ...] = (
    Check(
        code="has_classes",
        blocking=True,
        kinds=ALL_KINDS,
        count=_has_classes,
        message_vi="Trường chưa có lớp nào trong năm học này; hãy nhập danh sách lớp.",
        message_en="The school has no classes in this school year; import its classes.",
        ok_vi="Trường đã có lớp trong năm học.",
        ok_en="The school has classes in this school year.",
    ),
    Check(
        code="class_homeroom",
        blocking=True,
        kinds=ALL_KINDS,
        count=_homeroom,
        classes=_homeroom_classes,
        message_vi="{count}/{total} lớp chưa có giáo viên chủ nhiệm.",
        message_en="{count} of {total} classes have no homeroom teacher.",
        ok_vi="Tất cả {total} lớp đều có giáo viên chủ nhiệm.",
        ok_en="All {total} classes have a homeroom teacher.",
    ),
    Check(
        code="pupil_in_class",
        blocking=True,
        kinds=ALL_KINDS,
        count=_in_class,
        message_vi="{count}/{total} học sinh có tên ở trường vào ngày chốt số liệu được xếp vào "
        "lớp của trường hoặc năm học khác.",
        message_en="{count} of {total} pupils on the roll at the data date are placed in a class "
        "of another school or year.",
        ok_vi="Tất cả {total} học sinh có tên ở trường vào ngày chốt số liệu đều thuộc một lớp "
        "của trường.",
        ok_en="All {total} pupils on the roll at the data date are in a class of the school.",
    ),
    Check(
        code="has_staff",
        blocking=True,
        kinds=ALL_KINDS,
        count=_has_staff,
        message_vi="Trường chưa có cán bộ, giáo viên nào đang công tác; hãy nhập danh sách "
        "nhân sự.",
        message_en="The school has no staff with a current post; import its staff.",
        ok_vi="Trường có cán bộ, giáo viên đang công tác.",
        ok_en="The school has staff with a current post.",
    ),
    Check(
        code="homeroom_posted",
        blocking=False,
        kinds=ALL_KINDS,
        count=_homeroom_posted,
        message_vi="{count}/{total} lớp có giáo viên chủ nhiệm không có vị trí công tác tại "
        "trường.",
        message_en="{count} of {total} classes have a homeroom teacher without a post at the "
        "school.",
        ok_vi="Giáo viên chủ nhiệm của {total} lớp đều đang công tác tại trường.",
        ok_en="The homeroom teachers of all {total} classes hold a post at the school.",
    ),
    Check(
        code="term1_results",
        blocking=True,
        kinds=frozenset({Kind.END_OF_TERM1}),
        count=_count_missing(_term1_results),
        classes=_classes_missing(_term1_results),
        message_vi="{count}/{total} học sinh chưa có kết quả môn học học kỳ I.",
        message_en="{count} of {total} pupils have no term I subject results.",
        ok_vi="Tất cả {total} học sinh đã có kết quả môn học học kỳ I.",
        ok_en="All {total} pupils have term I subject results.",
    ),
    Check(
        code="term1_summary",
        blocking=True,
        kinds=frozenset({Kind.END_OF_TERM1}),
        count=_count_missing(_term1_summary),
        classes=_classes_missing(_term1_summary),
        message_vi="{count}/{total} học sinh chưa có đánh giá tổng hợp học kỳ I.",
        message_en="{count} of {total} pupils have no term I summary assessment.",
        ok_vi="Tất cả {total} học sinh đã có đánh giá tổng hợp học kỳ I.",
        ok_en="All {total} pupils have a term I summary assessment.",
    ),
    Check(
        code="year_results",
        blocking=False,
        kinds=frozenset({Kind.END_OF_YEAR}),
        count=_count_missing(_year_results),
        classes=_classes_missing(_year_results),
        message_vi="{count}/{total} học sinh chưa có kết quả môn học cả năm.",
        message_en="{count} of {total} pupils have no whole-year subject results.",
        ok_vi="Tất cả {total} học sinh đã có kết quả môn học cả năm.",
        ok_en="All {total} pupils have whole-year subject results.",
    ),
    Check(
        code="year_outcome",
        blocking=True,
        kinds=frozenset({Kind.END_OF_YEAR}),
        count=_count_missing(_year_outcome),
        classes=_classes_missing(_year_outcome),
        message_vi="{count}/{total} học sinh chưa có kết quả cả năm (lên lớp, ở lại lớp...).",
        message_en="{count} of {total} pupils have no end-of-year outcome (promoted, repeat...).",
        ok_vi="Tất cả {total} học sinh đã có kết quả cả năm.",
        ok_en="All {total} pupils have an end-of-year outcome.",
    ),
)
CHECKS_BY_CODE = {c.code: c for c in CHECKS}


def checks_for(kind: str) -> list[Check]:
    return [c for c in CHECKS if kind in c.kinds]


def _result(check: Check, failing: int, total: int, fix_url: str, items: list) -> dict:
    ok = failing == 0
    vi, en = (check.ok_vi, check.ok_en) if ok else (check.message_vi, check.message_en)
    return {
        "code": check.code,
        "ok": ok,
        "blocking": check.blocking,
        "count": failing,
        "total": total,
        "message_vi": vi.format(count=failing, total=total),
        "message_en": en.format(count=failing, total=total),
        "fix_url": fix_url,
        "items": items,
    }


def checks_run(
    *,
    school_ids: Iterable[int],
    period: ReportingPeriod,
    school_codes: dict[int, str] | None = None,
    detail: bool = False,
    today: date | None = None,
) -> dict[int, list[dict]]:
    """Every check of the period's kind for every school in ``school_ids``, one query per check.

    With ``detail`` (one school's own page), failing checks also list up to ``ITEM_LIMIT``
    classes with links to their pages (one more query per failing check).
    """
    ids = list(school_ids)
    if not ids:
        return {}
    ref = reference_date(period, today=today)
    codes = school_codes or {}
    out: dict[int, list[dict]] = {sid: [] for sid in ids}
    for check in checks_for(period.kind):
        counts = check.count(ids, period, ref)
        for sid in ids:
            failing, total = counts.get(sid, (0, 0))
            code = codes.get(sid)
            fix_url = reverse("school_detail", args=[code]) if code else ""
            items = []
            if detail and failing and check.classes is not None:
                for row in check.classes([sid], period, ref).order_by("-n")[:ITEM_LIMIT]:
                    class_id = row.get("id", row.get("school_class_id"))
                    name = row.get("name", row.get("school_class__name"))
                    items.append(
                        {
                            "class_id": class_id,
                            "name": name,
                            "count": row["n"],
                            "url": reverse("class_detail", args=[class_id]),
                        }
                    )
                if items:
                    fix_url = items[0]["url"]
            out[sid].append(_result(check, failing, total, fix_url, items))
    return out


def checks_blocking_failures(checks: list[dict]) -> list[dict]:
    """The failing blocking checks of a result list (empty: the school may submit)."""
    return [c for c in checks if c["blocking"] and not c["ok"]]


def _live_on(ref: date) -> Q:
    return Q(started_on__lte=ref) & (Q(ended_on__isnull=True) | Q(ended_on__gte=ref))


def counts_at(*, school_id: int, wanted: Iterable[tuple[ReportingPeriod, date]]) -> dict[int, dict]:
    """One school's headline counts for several periods, each at a reference date of its own
    (the date a submission's figures were taken), keyed by period id: the same definitions as
    ``counts_of``, in three queries whatever the number of periods."""
    wanted = list(wanted)
    if not wanted:
        return {}
    classes = SchoolClass.objects.filter(school_id=school_id).aggregate(
        **{f"p{p.pk}": Count("id", filter=Q(school_year_id=p.school_year_id)) for p, _ref in wanted}
    )
    pupils = Enrolment.objects.filter(school_id=school_id).aggregate(
        **{
            f"p{p.pk}": Count("id", filter=Q(school_year_id=p.school_year_id) & _live_on(ref))
            for p, ref in wanted
        }
    )
    staff = StaffAssignment.objects.filter(school_id=school_id).aggregate(
        **{
            f"p{p.pk}": Count(
                "person_id",
                distinct=True,
                filter=Q(starts_on__lte=ref) & (Q(ends_on__isnull=True) | Q(ends_on__gte=ref)),
            )
            for p, ref in wanted
        }
    )
    return {
        p.pk: {
            "classes": classes[f"p{p.pk}"] or 0,
            "pupils": pupils[f"p{p.pk}"] or 0,
            "staff": staff[f"p{p.pk}"] or 0,
        }
        for p, _ref in wanted
    }


def counts_of(*, school_ids: Iterable[int], period: ReportingPeriod) -> dict[int, dict]:
    """Headline counts per school: classes of the year, pupils and staff live at the reference
    date. Three GROUP BY queries whatever the number of schools."""
    ids = list(school_ids)
    ref = reference_date(period)
    out = {sid: {"classes": 0, "pupils": 0, "staff": 0} for sid in ids}
    classes = (
        SchoolClass.objects.filter(school_id__in=ids, school_year_id=period.school_year_id)
        .values_list("school_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    pupils = (
        _population(ids, period, ref).values_list("school_id").annotate(n=Count("id")).order_by()
    )
    staff = (
        StaffAssignment.objects.filter(Q(ends_on__isnull=True) | Q(ends_on__gte=ref))
        .filter(school_id__in=ids, starts_on__lte=ref)
        .values_list("school_id")
        .annotate(n=Count("person_id", distinct=True))
        .order_by()
    )
    for key, rows in (("classes", classes), ("pupils", pupils), ("staff", staff)):
        for sid, n in rows:
            out[sid][key] = n
    return out
