"""The registry's pages: home per role, school list and page, class roster, pupil page, search.

Views only translate between HTTP and the selectors, then render a template: scope checks and
the audit of personal-data reads live in ``selectors`` so the API and exports obey the same
rules. A selector refusing access raises ``PermissionDenied``, which Django turns into our 403
page carrying the selector's (translated) message and nothing else.
"""

from decimal import Decimal

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.utils import formats
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from vnemis.core.pagination import CursorError, Page
from vnemis.geo.models import Commune, Province
from vnemis.orgs.models import Organisation, User
from vnemis.orgs.scope import can_read_sensitive

from . import selectors
from .models import ACTIVE_STATUSES, Period, ResultSummary, Sex

PAGE_SIZE = 50
SEARCH_MAX_LENGTH = 100
CURSOR_MAX_LENGTH = 512

# Ratings stored as short codes (Circular 22/2021 and 27/2020), shown as words.
RATING_LABELS = {
    "D": gettext_lazy("Đạt"),
    "CD": gettext_lazy("Chưa đạt"),
    "T": gettext_lazy("Hoàn thành tốt"),
    "H": gettext_lazy("Hoàn thành"),
    "C": gettext_lazy("Chưa hoàn thành"),
}
# Roles that work on organisations rather than on one class or one person.
ORG_ROLES = {User.Role.MINISTRY, User.Role.DEPARTMENT, User.Role.SCHOOL, User.Role.SYSTEM}


def _effective_role(user: User) -> str:
    """A superuser without a working role sees the national (Ministry) pages."""
    if user.is_superuser and user.role == User.Role.CITIZEN and not user.person_id:
        return User.Role.MINISTRY
    return user.role


def _format_score(score: Decimal | None) -> str:
    """A 0–10 score with as few decimals as it needs, in the page's number format (7,5)."""
    if score is None:
        return ""
    value = score.quantize(Decimal("0.01"))
    if value == value.to_integral_value():
        value = value.quantize(Decimal("1"))
    elif value * 10 == (value * 10).to_integral_value():
        value = value.quantize(Decimal("0.1"))
    return formats.number_format(value)


# --- Home ---------------------------------------------------------------------------------


@login_required
def home(request):
    """The landing page: what each role needs first."""
    user = request.user
    role = _effective_role(user)
    context = {"role": role}
    if role == User.Role.MINISTRY:
        context["figures"] = selectors.home_figures(viewer=user)
        template = "registry/home_ministry.html"
    elif role == User.Role.DEPARTMENT:
        figures = selectors.home_figures(viewer=user)
        context["figures"] = figures
        # In the order of the education system (preschool first), not alphabetically by code.
        order = {value: i for i, value in enumerate(Organisation.Level.values)}
        context["levels"] = [
            (Organisation.Level(level).label if level in order else _("Khác"), n)
            for level, n in sorted(figures["levels"], key=lambda row: order.get(row[0], 99))
        ]
        template = "registry/home_department.html"
    elif role == User.Role.SCHOOL:
        year = selectors.school_year_current()
        context["figures"] = selectors.home_figures(viewer=user)
        context["school"] = user.scope
        context["classes"] = selectors.classes_with_counts(
            viewer=user, school=user.scope, school_year=year
        )
        context["school_year"] = year
        template = "registry/home_school.html"
    elif role == User.Role.TEACHER:
        year = selectors.school_year_current()
        context["classes"] = selectors.classes_with_counts(viewer=user, school_year=year)
        context["school_year"] = year
        template = "registry/home_teacher.html"
    elif role == User.Role.SYSTEM:
        # The client's own tokens, never their secrets: only the stored prefix is shown.
        context["tokens"] = list(user.api_tokens.order_by("-created_at")[:20])
        template = "registry/home_system.html"
    else:
        template = "registry/home_citizen.html"
    return render(request, template, context)


# --- Schools --------------------------------------------------------------------------------


class SchoolFilterForm(forms.Form):
    """The school list's filters; every field optional, invalid values simply ignored."""

    province = forms.ChoiceField(label=gettext_lazy("Tỉnh/thành phố"), required=False)
    commune = forms.ChoiceField(label=gettext_lazy("Xã/phường"), required=False)
    level = forms.ChoiceField(
        label=gettext_lazy("Cấp học"),
        required=False,
        choices=[("", gettext_lazy("Tất cả")), *Organisation.Level.choices],
    )
    ownership = forms.ChoiceField(
        label=gettext_lazy("Loại hình"),
        required=False,
        choices=[("", gettext_lazy("Tất cả")), *Organisation.Ownership.choices],
    )
    q = forms.CharField(
        label=gettext_lazy("Tên hoặc mã trường"), required=False, max_length=SEARCH_MAX_LENGTH
    )

    def __init__(self, *args, provinces, communes, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["province"].choices = [("", _("Tất cả")), *provinces]
        self.fields["commune"].choices = [("", _("Tất cả")), *communes]


def _provinces_for(user: User) -> list[tuple[str, str]]:
    """Provinces worth offering: a provincial user's own province, else all 34 (small table)."""
    scope = user.scope
    if scope is not None and scope.province_id and _effective_role(user) != User.Role.MINISTRY:
        return [(scope.province.code, scope.province.name)]
    return list(Province.objects.order_by("code").values_list("code", "name"))


def _communes_of(province_code: str) -> list[tuple[str, str]]:
    if not province_code:
        return []
    return list(
        Commune.objects.filter(province__code=province_code)
        .order_by("name")
        .values_list("code", "name")[:1000]
    )


def _refuse_citizens(user: User) -> None:
    if _effective_role(user) == User.Role.CITIZEN:
        raise PermissionDenied(_("Trang này không dành cho vai trò của bạn."))


@login_required
@require_GET
def school_list(request):
    """Schools in the viewer's scope, filtered, paged by code (keyset: ``after`` = last code)."""
    user = request.user
    _refuse_citizens(user)
    province_code = request.GET.get("province", "")
    form = SchoolFilterForm(
        request.GET,
        provinces=_provinces_for(user),
        communes=_communes_of(province_code[:2]),
    )
    filters = form.cleaned_data if form.is_valid() else {}
    queryset = selectors.schools_visible(
        viewer=user,
        province_code=filters.get("province", ""),
        commune_code=filters.get("commune", ""),
        level=filters.get("level", ""),
        ownership=filters.get("ownership", ""),
        q=filters.get("q", ""),
    )
    after = request.GET.get("after", "")[:20]
    if after:
        queryset = queryset.filter(code__gt=after)
    rows = list(queryset[: PAGE_SIZE + 1])
    next_after = rows[PAGE_SIZE - 1].code if len(rows) > PAGE_SIZE else ""
    return render(
        request,
        "registry/school_list.html",
        {
            "form": form,
            "schools": rows[:PAGE_SIZE],
            "next_after": next_after,
            "is_first_page": not after,
        },
    )


@login_required
@require_GET
def school_communes(request):
    """The commune drop-down for a province (an htmx fragment of the school-list filters)."""
    _refuse_citizens(request.user)
    province_code = request.GET.get("province", "")[:2]
    allowed = {code for code, _name in _provinces_for(request.user)}
    communes = _communes_of(province_code) if province_code in allowed else []
    return render(request, "registry/_commune_select.html", {"communes": communes})


@login_required
@require_GET
def school_detail(request, code: str):
    """A school: its classes this year, its staff (names and roles), pupils by grade and sex."""
    user = request.user
    school = selectors.organisation_get(viewer=user, code=code)
    year = selectors.school_year_current()
    counts = selectors.enrolment_counts_by_grade_sex(viewer=user, school=school, school_year=year)
    by_grade: dict[int, dict] = {}
    for row in counts:
        grade = by_grade.setdefault(
            row["school_class__grade"], {"grade": row["school_class__grade"], "M": 0, "F": 0}
        )
        grade[row["pupil__sex"]] = row["n"]
    grades = sorted(by_grade.values(), key=lambda g: g["grade"])
    for grade in grades:
        grade["total"] = grade["M"] + grade["F"]
    totals = {
        "M": sum(g["M"] for g in grades),
        "F": sum(g["F"] for g in grades),
        "total": sum(g["total"] for g in grades),
    }
    return render(
        request,
        "registry/school_detail.html",
        {
            "school": school,
            "school_year": year,
            "classes": selectors.classes_with_counts(viewer=user, school=school, school_year=year),
            "staff": selectors.staff_of_school(viewer=user, school=school),
            "grades": grades,
            "totals": totals,
            "sex_labels": dict(Sex.choices),
        },
    )


# --- Classes and persons --------------------------------------------------------------------


@login_required
@require_GET
def class_detail(request, class_id: int):
    """A class roster, sorted by given name (the Vietnamese way); the read is audited."""
    user = request.user
    school_class = selectors.class_get(viewer=user, class_id=class_id)
    roster = selectors.class_roster(viewer=user, school_class=school_class)
    studying = sum(1 for e in roster if e.status in ACTIVE_STATUSES)
    return render(
        request,
        "registry/class_detail.html",
        {"school_class": school_class, "roster": roster, "studying": studying},
    )


def _results_by_enrolment(results, summaries) -> dict[int, dict]:
    """Results arranged for display: per enrolment, one row per subject, one column per period."""
    english = (get_language() or "").startswith("en")
    tables: dict[int, dict] = {}
    for result in results:
        table = tables.setdefault(result.enrolment_id, {"subjects": {}, "summaries": []})
        subject = result.subject
        row = table["subjects"].setdefault(
            subject.code,
            {"name": (subject.name_en if english else "") or subject.name_vi, "cells": {}},
        )
        parts = [_format_score(result.score)] if result.score is not None else []
        if result.rating:
            parts.append(str(RATING_LABELS.get(result.rating, result.rating)))
        row["cells"][result.period] = " · ".join(parts)
    periods = [value for value, _label in Period.choices]
    for table in tables.values():
        for row in table["subjects"].values():
            row["values"] = [row["cells"].get(p, "") for p in periods]
        table["subjects"] = list(table["subjects"].values())
    rating_labels = dict(ResultSummary.Rating.choices)
    outcome_labels = dict(ResultSummary.Outcome.choices)
    period_labels = dict(Period.choices)
    for summary in summaries:
        table = tables.setdefault(summary.enrolment_id, {"subjects": [], "summaries": []})
        table["summaries"].append(
            {
                "period": period_labels.get(summary.period, summary.period),
                "learning": rating_labels.get(summary.learning_rating, ""),
                "conduct": rating_labels.get(summary.conduct_rating, ""),
                "outcome": outcome_labels.get(summary.outcome, ""),
            }
        )
    return tables


@login_required
@require_GET
def person_detail(request, person_id: int):
    """A person's record as far as the viewer may see it; every view is audited."""
    user = request.user
    person = selectors.person_get(viewer=user, person_id=person_id)
    sensitive = can_read_sensitive(user, person)
    enrolments = list(selectors.enrolments_of_person(viewer=user, person=person)[:50])
    tables = _results_by_enrolment(
        selectors.results_of_person(viewer=user, person=person),
        selectors.summaries_of_person(viewer=user, person=person),
    )
    history = [(enrolment, tables.get(enrolment.pk)) for enrolment in enrolments]
    health = (
        list(selectors.health_records_of_person(viewer=user, person=person)[:20])
        if sensitive
        else None
    )
    policy_labels = [
        str(person.POLICY_CATEGORIES.get(code, code)) for code in person.policy_categories or []
    ]
    return render(
        request,
        "registry/person_detail.html",
        {
            "person": person,
            "sensitive": sensitive,
            # Only the last three digits are kept in clear; the rest is never decrypted here.
            "citizen_id_masked": ("•" * 9 + person.citizen_id_last3)
            if person.citizen_id_last3
            else "",
            "history": history,
            "period_labels": [label for _value, label in Period.choices],
            "health": health,
            "policy_labels": policy_labels,
        },
    )


@login_required
@require_GET
def search(request):
    """Find persons in scope by name (diacritics and case ignored) or by education ID."""
    q = request.GET.get("q", "").strip()[:SEARCH_MAX_LENGTH]
    # ``after`` is the opaque cursor of the previous page; one not issued for this query (edited,
    # stale, from another search) simply starts again from the first page.
    after = request.GET.get("after", "")[:CURSOR_MAX_LENGTH] or None
    page = Page(items=[], next_cursor=None)
    if q:
        try:
            page = selectors.persons_search(viewer=request.user, q=q, after=after, limit=PAGE_SIZE)
        except CursorError:
            after = None
            page = selectors.persons_search(viewer=request.user, q=q, limit=PAGE_SIZE)
    return render(
        request,
        "registry/search.html",
        {
            "q": q,
            "results": page.items,
            "next_after": page.next_cursor or "",
            "is_first_page": after is None,
            "searched": bool(q),
        },
    )
