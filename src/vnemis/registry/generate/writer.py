"""Writes frames chunk by chunk into one file per entity: Parquet, CSV or (small) XLSX.

Columns are cast to the exchange format's types and order before writing, so every chunk has
the same schema and the files match ``exchange_format`` exactly. Parquet is appended one row
group per chunk (memory stays bounded); CSV is appended with the header written once. Output is
byte-identical for identical frames: no timestamps or host names go into the files.
"""

import json
from datetime import UTC
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from vnemis.registry.exchange_format import Entity

POLARS_TYPES = {
    "str": pl.String,
    "int": pl.Int32,
    "float": pl.Float64,
    "date": pl.Date,
    "bool": pl.Boolean,
}


def schema_of(entity: Entity) -> dict[str, pl.DataType]:
    return {c.name: POLARS_TYPES[c.dtype] for c in entity.columns}


class EntityWriter:
    """One output file; ``columns`` fixes its column order and types."""

    def __init__(self, path: Path, fmt: str, schema: dict[str, pl.DataType]) -> None:
        self.path, self.fmt, self.schema = path, fmt, schema
        self.rows = 0
        self._parquet: pq.ParquetWriter | None = None
        self._csv = None
        self._frames: list[pl.DataFrame] = []

    def _conform(self, frame: pl.DataFrame) -> pl.DataFrame:
        return frame.select([pl.col(name).cast(dtype) for name, dtype in self.schema.items()])

    def write(self, frame: pl.DataFrame) -> None:
        frame = self._conform(frame)
        self.rows += len(frame)
        if self.fmt == "parquet":
            table = frame.to_arrow()
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self.path, table.schema, compression="snappy")
            self._parquet.write_table(table)
        elif self.fmt == "csv":
            header = self._csv is None
            if self._csv is None:
                self._csv = open(self.path, "wb")  # noqa: SIM115 - closed in close()
            frame.write_csv(self._csv, include_header=header, date_format="%Y-%m-%d")
        else:
            self._frames.append(frame)

    def close(self) -> None:
        if self.rows == 0 and self._parquet is None and self._csv is None and not self._frames:
            self.write(pl.DataFrame(schema=self.schema))  # an empty file with the right columns
        if self._parquet is not None:
            self._parquet.close()
        if self._csv is not None:
            self._csv.close()
        if self.fmt == "xlsx":
            _write_xlsx(
                self.path,
                pl.concat(self._frames) if self._frames else pl.DataFrame(schema=self.schema),
            )


def _write_xlsx(path: Path, frame: pl.DataFrame) -> None:
    # A fixed creation date keeps the workbook byte-identical across runs.
    from datetime import datetime

    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    workbook.set_properties({"created": datetime(2000, 1, 1, tzinfo=UTC)})
    sheet = workbook.add_worksheet(path.stem[:31])
    bold = workbook.add_format({"bold": True})
    for col, name in enumerate(frame.columns):
        sheet.write_string(0, col, name, bold)
    text = frame.with_columns(pl.col(pl.Date).dt.strftime("%Y-%m-%d"))
    for r, row in enumerate(text.iter_rows(), start=1):
        for col, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, bool):
                sheet.write_boolean(r, col, value)
            elif isinstance(value, int | float):
                sheet.write_number(r, col, value)
            else:
                sheet.write_string(r, col, value)
    workbook.close()


class DatasetWriter:
    """All the files of one dataset directory (or of its ``ground_truth`` sub-directory)."""

    def __init__(self, out: Path, fmt: str) -> None:
        self.out, self.fmt = out, fmt
        self.writers: dict[str, EntityWriter] = {}
        out.mkdir(parents=True, exist_ok=True)

    def add(self, name: str, schema: dict[str, pl.DataType]) -> None:
        self.writers[name] = EntityWriter(self.out / f"{name}.{self.fmt}", self.fmt, schema)

    def write(self, name: str, frame: pl.DataFrame | None) -> None:
        if frame is not None and len(frame):
            self.writers[name].write(frame)

    def close(self) -> dict[str, int]:
        for w in self.writers.values():
            w.close()
        return {name: w.rows for name, w in self.writers.items()}


def write_manifest(path: Path, manifest: dict) -> None:
    path.write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=False) + "\n", encoding="utf-8"
    )
