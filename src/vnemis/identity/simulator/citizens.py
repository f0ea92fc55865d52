"""The simulator's citizens: loaded once, looked up by ID in a dict, filtered by cohort for extracts."""

import io
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import polars as pl


def name_key(name: str) -> str:
    """How the registry compares names: NFC, case and spacing aside (never fuzzy)."""
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


def _name_key_expr(column: str) -> pl.Expr:
    return (
        pl.col(column)
        .str.normalize("NFC")
        .str.to_lowercase()
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
    )


@dataclass
class Citizens:
    frame: pl.DataFrame
    by_id: dict[str, tuple[str, str, str]]  # citizen ID → (name key, ISO birth date, sex)

    @classmethod
    def load(cls, path: Path) -> "Citizens":
        frame = pl.read_parquet(
            path,
            columns=[
                "citizen_id",
                "full_name",
                "birth_date",
                "sex",
                "birth_province_code",
                "father_name",
                "mother_name",
            ],
        )
        keys = frame.select(
            "citizen_id",
            _name_key_expr("full_name").alias("key"),
            pl.col("birth_date").cast(pl.String),
            "sex",
        )
        by_id = dict(
            zip(
                keys["citizen_id"].to_list(),
                zip(
                    keys["key"].to_list(),
                    keys["birth_date"].to_list(),
                    keys["sex"].to_list(),
                    strict=True,
                ),
                strict=True,
            )
        )
        return cls(frame=frame, by_id=by_id)

    def __len__(self) -> int:
        return len(self.by_id)

    def compare(self, citizen_id: str, full_name: str, birth_date: str, sex: str) -> dict:
        known = self.by_id.get(citizen_id)
        if known is None:
            return {"result": "not_found"}
        key, born, known_sex = known
        return {
            "result": "found",
            "fields": {
                "citizen_id": "match",
                "full_name": "match" if name_key(full_name) == key else "mismatch",
                "birth_date": "match" if birth_date == born else "mismatch",
                "sex": "match" if sex == known_sex else "mismatch",
            },
        }

    def cohort_parquet(self, years: list[int], provinces: list[str] | None) -> bytes:
        """The citizens born in ``years`` (and provinces), with the columns linkage needs."""
        rows = self.frame.filter(pl.col("birth_date").dt.year().is_in(years))
        if provinces:
            rows = rows.filter(pl.col("birth_province_code").is_in(provinces))
        words = pl.col("full_name").str.split(" ")
        rows = rows.with_columns(
            full_name_ascii=_name_key_expr("full_name")
            .str.normalize("NFD")
            .str.replace_all(r"\p{Mn}", "")
            .str.replace_all("đ", "d", literal=True),
            family_name=words.list.first(),
            given_name=words.list.last(),
        ).select(
            "citizen_id",
            "full_name",
            "full_name_ascii",
            "family_name",
            "given_name",
            "birth_date",
            "sex",
            "birth_province_code",
            "father_name",
            "mother_name",
        )
        out = io.BytesIO()
        rows.write_parquet(out)
        return out.getvalue()
