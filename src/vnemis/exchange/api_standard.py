"""API of the published data standard: /api/v1/standard (public, no token needed).

Software vendors read the standard before they hold a token, so these read-only endpoints take
no authentication. Everything comes from ``registry.exchange_format`` through
``exchange.standard``, the same definition as the pages and the committed files.
"""

from ninja import Router, Schema

from vnemis.core.api_errors import ApiError, ErrorOut
from vnemis.registry.exchange_format import ENTITIES, FORMAT_VERSION, LAYOUTS, LAYOUTS_BY_NAME

from .standard import definition, json_schema

router = Router()


class LayoutSummary(Schema):
    name: str
    title_vi: str
    title_en: str
    natural_key: list[str]
    load_order: int | None
    composite: bool
    columns: int
    definition_url: str
    schema_url: str


class StandardOut(Schema):
    version: str
    entities: list[LayoutSummary]


def _layout(entity: str):
    try:
        return LAYOUTS_BY_NAME[entity]
    except KeyError:
        raise ApiError(
            404,
            "unknown_entity",
            f"Chuẩn dữ liệu {FORMAT_VERSION} không có loại dữ liệu '{entity}'.",
            f"The data standard {FORMAT_VERSION} has no entity '{entity}'.",
        ) from None


@router.get("", response={200: StandardOut}, auth=None, url_name="standard_list")
def standard_list(request):
    """The data standard's version and its entities (load order) and composite layouts."""
    order = [e.name for e in ENTITIES]
    return {
        "version": FORMAT_VERSION,
        "entities": [
            {
                "name": e.name,
                "title_vi": e.title_vi,
                "title_en": e.title_en,
                "natural_key": list(e.natural_key),
                "load_order": order.index(e.name) + 1 if e.name in order else None,
                "composite": bool(e.parts),
                "columns": len(e.columns),
                "definition_url": f"/api/v1/standard/{e.name}",
                "schema_url": f"/api/v1/standard/{e.name}/schema",
            }
            for e in LAYOUTS
        ],
    }


@router.get("/{entity}", response={200: dict, 404: ErrorOut}, auth=None, url_name="standard_entity")
def standard_entity(request, entity: str):
    """One entity's full definition: columns (headers, types, limits, code lists), natural key."""
    return definition(_layout(entity))


@router.get(
    "/{entity}/schema", response={200: dict, 404: ErrorOut}, auth=None, url_name="standard_schema"
)
def standard_schema(request, entity: str):
    """JSON Schema (2020-12) of one record of the entity."""
    return json_schema(_layout(entity))
