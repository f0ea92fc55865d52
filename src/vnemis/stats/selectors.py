"""Scoped reads of the statistics pages: which node of the tree a viewer may see figures of.

A node is the nation, a province (its two-digit code) or a school (its code). The Ministry sees
every node; a Department its province and the schools under it; a school user its own school.
Teachers and citizens see none (they work with records, not aggregates). The node resolves to
the filters of an indicator request: nation → none, province → (("province", code),), school →
(("school_id", id),) — the snapshot's ``school_id`` is the organisation's id.
"""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _

from vnemis.geo.models import Province
from vnemis.orgs.models import Organisation, OrgClosure, User
from vnemis.orgs.scope import is_unrestricted

NATION = "national"
VIEWER_ROLES = (User.Role.MINISTRY, User.Role.DEPARTMENT, User.Role.SCHOOL, User.Role.SYSTEM)


@dataclass(frozen=True)
class Node:
    kind: str  # "nation", "province" or "school"
    code: str  # as in the URL: "national", "01", a school code
    name: str
    province: str | None = None  # two-digit code (a province, or a school's province)
    school_id: int | None = None

    @property
    def filters(self) -> tuple[tuple[str, object], ...]:
        if self.kind == "province":
            return (("province", self.province),)
        if self.kind == "school":
            return (("school_id", self.school_id),)
        return ()

    @property
    def has_population(self) -> bool:
        """Population-based indicators exist for the nation and provinces only."""
        return self.kind != "school"


def _nation() -> Node:
    return Node("nation", NATION, _("Toàn quốc"))


def _province(code: str) -> Node | None:
    province = Province.objects.filter(code=code).first()
    if province is None:
        return None
    return Node("province", code, province.name, province=code)


def _school(org: Organisation) -> Node:
    province = org.province.code if org.province_id else None
    return Node("school", org.code, org.name, province=province, school_id=org.pk)


def _refuse() -> PermissionDenied:
    return PermissionDenied(_("Số liệu của đơn vị này nằm ngoài phạm vi của bạn."))


def _scope_of(viewer: User) -> Organisation | None:
    """The viewer's scope node; None for an operator who reaches the whole tree."""
    if not viewer.is_authenticated:
        raise PermissionDenied(_("Hãy đăng nhập để xem số liệu thống kê."))
    if is_unrestricted(viewer):
        return None
    if viewer.role not in VIEWER_ROLES or viewer.scope_id is None:
        raise PermissionDenied(_("Trang thống kê dành cho cán bộ của Bộ, Sở GD&ĐT và nhà trường."))
    return viewer.scope


def stats_home_node(*, viewer: User) -> Node:
    """The node of the viewer's own scope: the nation, their province or their school."""
    scope = _scope_of(viewer)
    if scope is None or scope.kind == Organisation.Kind.MINISTRY:
        return _nation()
    if scope.kind == Organisation.Kind.DEPARTMENT and scope.province_id:
        return _province(scope.province.code) or _nation()
    if scope.kind in Organisation.SCHOOL_KINDS:
        return _school(scope)
    raise _refuse()


def stats_node_get(*, viewer: User, node: str) -> Node:
    """The node named ``node`` if the viewer may see it: PermissionDenied when it lies outside
    their scope, Http404 when it names nothing."""
    scope = _scope_of(viewer)
    national = scope is None or scope.kind == Organisation.Kind.MINISTRY
    node = (node or "").strip()
    if node == NATION:
        if not national:
            raise _refuse()
        return _nation()
    if len(node) == 2 and node.isascii() and node.isdigit():
        found = _province(node)
        if found is None:
            raise Http404(_("Không có tỉnh, thành phố mã %(code)s.") % {"code": node})
        if national or (
            scope.kind == Organisation.Kind.DEPARTMENT
            and scope.province_id
            and scope.province.code == node
        ):
            return found
        raise _refuse()
    org = (
        Organisation.objects.select_related("province")
        .filter(code=node, kind__in=Organisation.SCHOOL_KINDS)
        .first()
    )
    if org is None:
        raise Http404(_("Không có trường mã %(code)s.") % {"code": node})
    if not national and not OrgClosure.objects.filter(ancestor=scope, descendant=org).exists():
        raise _refuse()
    return _school(org)


def schools_named(*, ids) -> dict[int, tuple[str, str]]:
    """Code and name of the given schools (a page's top N, bounded by the caller)."""
    rows = Organisation.objects.filter(id__in=list(ids)).values_list("id", "code", "name")
    return {pk: (code, name) for pk, code, name in rows}


def province_names() -> dict[str, str]:
    """The 34 provinces' names by code."""
    return dict(Province.objects.values_list("code", "name"))
