"""Who may do what in the exam, as small checks every action and selector calls.

``actor=None`` is the operator at the console (the CLI without ``--user``): the whole exam.
The Ministry runs the sessions, graduation and publication; a Department runs its province's
council (venues, rooms, numbers, scores, re-marking); schools register their pupils; a
Department or school takes free candidates' dossiers. Scope follows the organisation tree.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.translation import gettext as _

from vnemis.orgs.models import Organisation, OrgClosure, User
from vnemis.orgs.scope import can_write, is_unrestricted


def is_ministry(actor) -> bool:
    """The operator, an unrestricted superuser or a Ministry account."""
    if actor is None or is_unrestricted(actor):
        return True
    return actor.is_authenticated and actor.role == User.Role.MINISTRY


def ministry_ensure(actor) -> None:
    if not is_ministry(actor):
        raise PermissionDenied(_("Chỉ Bộ GD&ĐT được thực hiện thao tác này của kỳ thi."))


def province_of(actor) -> str | None:
    """The province a Department account runs (None for others)."""
    if actor is None or not actor.is_authenticated or actor.role != User.Role.DEPARTMENT:
        return None
    scope = actor.scope
    return scope.province.code if scope is not None and scope.province_id else None


def province_ensure(actor, province_code: str) -> None:
    """The Ministry, or the Department of that province."""
    if is_ministry(actor):
        return
    if province_of(actor) != province_code:
        raise PermissionDenied(
            _("Chỉ Sở GD&ĐT của tỉnh %(province)s hoặc Bộ GD&ĐT được thực hiện thao tác này.")
            % {"province": province_code}
        )


def unit_reached(actor, unit: Organisation) -> bool:
    if actor is None or is_unrestricted(actor):
        return True
    if not actor.is_authenticated or actor.scope_id is None:
        return False
    return OrgClosure.objects.filter(ancestor_id=actor.scope_id, descendant_id=unit.pk).exists()


def unit_writer_ensure(actor, unit: Organisation) -> None:
    """A writer (school, Department, Ministry, system) whose scope holds ``unit``."""
    if actor is None or is_unrestricted(actor):
        return
    if not can_write(actor) or actor.role == User.Role.SYSTEM or not unit_reached(actor, unit):
        raise PermissionDenied(_("Bạn không có quyền đăng ký dự thi cho đơn vị này."))


def results_published(session, *, now=None) -> bool:
    """Results are public from the session's publication time on, never before."""
    at = session.results_publish_at
    return at is not None and (now or timezone.now()) >= at


def results_visible(session, viewer, *, now=None) -> bool:
    """Scores and results: the Ministry always (it prepares publication), others once
    published."""
    return is_ministry(viewer) or results_published(session, now=now)
