"""API shapes of administrative units: identified by their official codes only."""

from ninja import Schema


class ProvinceOut(Schema):
    code: str
    name: str
    division_type: str


class ProvincePage(Schema):
    items: list[ProvinceOut]
    next_cursor: str | None


class CommuneOut(Schema):
    code: str
    name: str
    kind: str
    province_code: str

    @staticmethod
    def resolve_province_code(obj) -> str:
        return obj.province.code


class CommunePage(Schema):
    items: list[CommuneOut]
    next_cursor: str | None


class SuccessorOut(Schema):
    """A current commune that (part of) the old commune went into."""

    code: str
    name: str
    kind: str
    province_code: str
    is_default: bool


class LegacyCommuneOut(Schema):
    code: str
    name: str
    district_code: str
    district_name: str
    province_code: str
    province_name: str
    successors: list[SuccessorOut]
