"""Reference data on administrative units: provinces, communes, and where old communes went.

Public data, but still behind authentication like the rest of the API (rate and use are
accountable per client). Reads are small indexed look-ups on reference tables, so they sit here
rather than in a selectors module.
"""

from django.http import HttpRequest
from ninja import Path, Query, Router

from vnemis.core.api_errors import ERROR_RESPONSES, not_found
from vnemis.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, keyset_page

from .models import Commune, LegacyCommune, Province
from .schemas import CommunePage, LegacyCommuneOut, ProvincePage

router = Router(tags=["units"])

PROVINCE_CODE = r"^\d{2}$"
COMMUNE_CODE = r"^\d{5}$"


@router.get("/provinces", response={200: ProvincePage, **ERROR_RESPONSES})
def province_list(
    request: HttpRequest,
    cursor: str | None = Query(None, max_length=512),
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
):
    """The current provinces and centrally-run cities (since 1 July 2025), by code."""
    return keyset_page(
        Province.objects.all(), order=("code",), cursor=cursor, limit=limit, namespace="provinces"
    )


@router.get("/provinces/{code}/communes", response={200: CommunePage, **ERROR_RESPONSES})
def commune_list(
    request: HttpRequest,
    code: str = Path(..., pattern=PROVINCE_CODE),
    cursor: str | None = Query(None, max_length=512),
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
):
    """The communes, wards and special zones of one current province, by code."""
    province = Province.objects.filter(code=code).first()
    if province is None:
        raise not_found("Tỉnh/thành phố", "Province")
    qs = Commune.objects.filter(province=province).select_related("province")
    return keyset_page(qs, order=("code",), cursor=cursor, limit=limit, namespace="communes")


@router.get("/legacy/communes/{code}", response={200: LegacyCommuneOut, **ERROR_RESPONSES})
def legacy_commune_get(request: HttpRequest, code: str = Path(..., pattern=COMMUNE_CODE)):
    """A pre-2025 commune and the current commune(s) it became part of.

    A commune split between several new ones lists each; ``is_default`` marks the one used when
    no finer location is known.
    """
    legacy = (
        LegacyCommune.objects.filter(code=code)
        .select_related("district", "province")
        .prefetch_related("successors__commune__province")
        .first()
    )
    if legacy is None:
        raise not_found("Xã/phường cũ", "Legacy commune")
    successors = sorted(legacy.successors.all(), key=lambda m: (not m.is_default, m.commune.code))
    return {
        "code": legacy.code,
        "name": legacy.name,
        "district_code": legacy.district.code,
        "district_name": legacy.district.name,
        "province_code": legacy.province.code,
        "province_name": legacy.province.name,
        "successors": [
            {
                "code": m.commune.code,
                "name": m.commune.name,
                "kind": m.commune.kind,
                "province_code": m.commune.province.code,
                "is_default": m.is_default,
            }
            for m in successors
        ],
    }
