"""Organisations in the caller's scope: the Ministry, Departments, schools, universities.

Scope comes from ``orgs.scope.organisations_visible`` (the closure table), so a Department
token lists only its province's tree and a school token only its own school.
"""

from django.db.models import Q
from django.http import HttpRequest
from ninja import Path, Query, Router

from vnemis.core.api_errors import ERROR_RESPONSES, not_found, unknown_value
from vnemis.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, keyset_page
from vnemis.core.text import search_key
from vnemis.geo.models import Province

from .models import Organisation
from .schemas import OrganisationOut, OrganisationPage
from .scope import organisations_visible

router = Router(tags=["organisations"])

_RELATED = ("parent", "province", "commune", "merged_into")


@router.get("", response={200: OrganisationPage, **ERROR_RESPONSES})
def organisation_list(
    request: HttpRequest,
    kind: Organisation.Kind | None = None,
    province: str | None = Query(None, pattern=r"^\d{2}$", description="current province code"),
    level: Organisation.Level | None = None,
    ownership: Organisation.Ownership | None = None,
    q: str | None = Query(None, max_length=100, description="name (diacritics ignored) or code"),
    cursor: str | None = Query(None, max_length=512),
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
):
    """Organisations in your scope, by code; filter by kind, province, level, ownership, name."""
    qs = organisations_visible(request.auth).select_related(*_RELATED)
    if kind:
        qs = qs.filter(kind=kind)
    if province:
        province_id = Province.objects.filter(code=province).values_list("id", flat=True).first()
        if province_id is None:
            raise unknown_value("province", province)
        qs = qs.filter(province_id=province_id)
    if level:
        qs = qs.filter(level=level)
    if ownership:
        qs = qs.filter(ownership=ownership)
    if q and q.strip():
        qs = qs.filter(Q(name_search__contains=search_key(q)) | Q(code=q.strip()))
    return keyset_page(qs, order=("code",), cursor=cursor, limit=limit, namespace="organisations")


@router.get("/{code}", response={200: OrganisationOut, **ERROR_RESPONSES})
def organisation_get(request: HttpRequest, code: str = Path(..., max_length=20)):
    """One organisation in your scope, by its official code."""
    org = organisations_visible(request.auth).select_related(*_RELATED).filter(code=code).first()
    if org is None:
        raise not_found("Đơn vị", "Organisation")
    return org
