"""API shapes of organisations: identified by their official codes, never internal ids."""

from datetime import date

from ninja import Schema


class OrganisationOut(Schema):
    code: str
    name: str
    kind: str
    level: str
    ownership: str
    status: str
    parent_code: str | None
    province_code: str | None
    commune_code: str | None
    address: str
    opened_on: date | None
    closed_on: date | None
    merged_into_code: str | None

    @staticmethod
    def resolve_parent_code(obj) -> str | None:
        return obj.parent.code if obj.parent_id else None

    @staticmethod
    def resolve_province_code(obj) -> str | None:
        return obj.province.code if obj.province_id else None

    @staticmethod
    def resolve_commune_code(obj) -> str | None:
        return obj.commune.code if obj.commune_id else None

    @staticmethod
    def resolve_merged_into_code(obj) -> str | None:
        return obj.merged_into.code if obj.merged_into_id else None


class OrganisationPage(Schema):
    items: list[OrganisationOut]
    next_cursor: str | None
