# ruff: noqa: S608 -- table names from the fixed aggregate TABLES list.
"""Aggregate figures kept beside the snapshot: years before unit records, units with totals only.

``aggregates_import(directory)`` checks the aggregate CSV files (the same checks and formats as
``vnemis stats compute --aggregates``), puts their grades in national numbering (1–12), maps
provinces of the old map (63 provinces, before 1 July 2025) to today's through the foundation's
mapping, and stores them as ``aggregates/<table>.parquet`` under the snapshot. The cube then
takes a (year, province) from the aggregates only where unit records have none, so a province
counted both ways is counted once, from its unit records.
"""

from pathlib import Path

import duckdb
import polars as pl

from .cube import snapshot_root
from .indicators.aggregates import TABLES, AggregateError, aggregates_engine
from .indicators.definitions import NATIONAL_LEVELS

STORED = tuple(t for t in TABLES if t != "levels")
NATIONAL_FIRST = {lv.code: lv.first_grade for lv in NATIONAL_LEVELS}


def _legacy_map(codes: set[str]) -> dict[str, str]:
    from vnemis.geo.models import LegacyProvinceMapping

    found: dict[str, set[str]] = {}
    for legacy, current in LegacyProvinceMapping.objects.filter(
        legacy_province__code__in=codes
    ).values_list("legacy_province__code", "province__code"):
        found.setdefault(legacy, set()).add(current)
    mapping = {}
    for code in sorted(codes):
        successors = sorted(found.get(code, ()))
        if not successors:
            raise AggregateError(
                f"Mã tỉnh cũ '{code}' không có trong bản đồ hành chính trước 01/7/2025",
                f"Old province code '{code}' is not on the pre-1 July 2025 map",
            )
        if len(successors) > 1:
            raise AggregateError(
                f"Tỉnh cũ {code} đã chia cho {', '.join(successors)}: hãy ghi số liệu theo tỉnh "
                "mới (cột 'province')",
                f"Old province {code} was split between {', '.join(successors)}: give the "
                "figures per new province (column 'province')",
            )
        mapping[code] = successors[0]
    return mapping


def _provinces(frame: pl.DataFrame, name: str, known: set[str]) -> pl.DataFrame:
    if "legacy_province" in frame.columns:
        legacy = frame["legacy_province"].cast(pl.String).str.zfill(2)
        mapping = _legacy_map(set(legacy.unique().to_list()))
        frame = frame.with_columns(province=legacy.replace_strict(mapping)).drop("legacy_province")
    if "province" not in frame.columns:
        raise AggregateError(
            f"{name}.csv: thiếu cột 'province' (hoặc 'legacy_province' cho tỉnh cũ)",
            f"{name}.csv: missing column 'province' (or 'legacy_province' for old provinces)",
        )
    if frame["province"].is_null().any():
        raise AggregateError(
            f"{name}.csv: cột 'province' trống ở một số dòng",
            f"{name}.csv: column 'province' is empty in some rows",
        )
    frame = frame.with_columns(pl.col("province").cast(pl.String).str.zfill(2))
    unknown = sorted(set(frame["province"].unique().to_list()) - known)
    if unknown:
        raise AggregateError(
            f"{name}.csv: mã tỉnh không tồn tại: {', '.join(unknown[:5])}",
            f"{name}.csv: unknown province codes: {', '.join(unknown[:5])}",
        )
    return frame


def aggregates_import(directory: Path, *, root: Path | None = None) -> dict[str, int]:
    """Check and store every aggregate file present in ``directory``; returns rows per table."""
    from vnemis.geo.models import Province

    directory, root = Path(directory), root or snapshot_root()
    present = {t for t in STORED if (directory / f"{t}.csv").is_file()}
    if not present:
        raise AggregateError(
            f"Không có tệp số liệu tổng hợp nào trong {directory}",
            f"No aggregate file in {directory}",
        )
    engine = aggregates_engine(directory, present)
    first = {
        level: first_grade
        for level, first_grade in engine.con.execute(
            "SELECT level, first_grade FROM levels"
        ).fetchall()
    }
    known = set(Province.objects.values_list("code", flat=True))
    frames = {}
    for table in sorted(present):
        frame = engine.con.sql(f'SELECT * FROM "{table}"').pl()
        frame = _provinces(frame, table, known)
        if "grade" in frame.columns:
            shift = pl.col("level").replace_strict(
                {lv: NATIONAL_FIRST[lv] - first[lv] for lv in first}, default=0
            )
            frame = frame.with_columns((pl.col("grade") + shift).alias("grade"))
        frames[table] = frame
    store = root / "aggregates"
    store.mkdir(parents=True, exist_ok=True)
    written = {}
    for table, frame in frames.items():
        path = store / f"{table}.parquet"
        if path.is_file():
            keys = frame.select("year", "province").unique()
            kept = pl.read_parquet(path).join(keys, on=["year", "province"], how="anti")
            frame = pl.concat([kept, frame], how="diagonal_relaxed")
        temp = path.with_suffix(".tmp")
        frame.write_parquet(temp)
        temp.replace(path)  # atomic: a reader sees the old file or the new one
        written[table] = len(frame)
    (root / "VERSION").unlink(missing_ok=True)
    return written


def aggregates_union(con: duckdb.DuckDBPyConnection, root: Path) -> None:
    """Add stored aggregate rows to the cube tables for (year, province) without unit records."""
    for table in STORED:
        path = root / "aggregates" / f"{table}.parquet"
        if not path.is_file():
            continue
        source = str(path).replace("'", "''")
        con.execute(
            f"INSERT INTO {table} BY NAME SELECT a.* FROM read_parquet('{source}') AS a "
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} AS u WHERE u.year = a.year "
            "AND u.province = a.province)"
        )
