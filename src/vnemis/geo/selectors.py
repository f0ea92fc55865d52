"""Reads over the administrative units: where old-map data lies on today's map."""

from .models import Commune, LegacyCommuneMapping, Province


def _legacy_code(code: str | int, width: int) -> str:
    # Old files often lost the leading zeros ('1' for Phúc Xá, 00001).
    text = str(code).strip()
    return text.zfill(width) if text.isdigit() else text


def current_commune_for_legacy(code: str | int) -> Commune | None:
    """The commune an old commune is reported under today (its default successor), or None."""
    return (
        Commune.objects.select_related("province")
        .filter(
            predecessors__legacy_commune__code=_legacy_code(code, 5),
            predecessors__is_default=True,
        )
        .first()
    )


def current_province_for_legacy(code: str | int) -> list[Province]:
    """The province(s) today covering an old province (several if it was split); [] if unknown."""
    return list(
        Province.objects.filter(predecessors__legacy_province__code=_legacy_code(code, 2)).order_by(
            "code"
        )
    )


def legacy_commune_to_current_map() -> dict[str, str]:
    """Old commune code → default new commune code, for every old commune, in one query."""
    return dict(
        LegacyCommuneMapping.objects.filter(is_default=True).values_list(
            "legacy_commune__code", "commune__code"
        )
    )
