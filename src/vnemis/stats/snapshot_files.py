"""The files of one snapshot partition: rows split into buckets by school (or person), so a
refresh after a few schools changed rewrites a few small files, not the province.

A partition directory (``results/school_year=2025/province=01``) holds ``bucket-00.parquet`` to
``bucket-31.parquet``: the rows whose key (``school_id``; ``person_id`` for persons) modulo 32
is the bucket's number. Readers glob ``*.parquet`` and never see the split. Every file is
written to a temporary name beside it and renamed over the old one.

Two ways to write: ``partition_write`` streams the whole partition (a full refresh, or too
many changed keys) and removes every other file; ``partition_merge`` replaces the rows of some
keys with their current rows, in the buckets those keys fall in, and leaves the rest alone.
"""

import os
import re
import uuid
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

BUCKETS = 32
# Rows buffered per bucket before they go to the file as one row group.
FLUSH_ROWS = 65_536
BUCKET_FILE = re.compile(r"^bucket-(\d{2})\.parquet$")


def bucket_file(bucket: int) -> str:
    return f"bucket-{bucket:02d}.parquet"


def bucket_of(key: int | None) -> int:
    return 0 if key is None else int(key) % BUCKETS


def partition_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.parquet")) if directory.is_dir() else []


def is_bucketed(directory: Path) -> bool:
    """Written by this module (so it can be merged into): bucket files only, at least one."""
    files = partition_files(directory)
    return bool(files) and all(BUCKET_FILE.match(f.name) for f in files)


def partition_rows(directory: Path) -> int:
    """Rows in the partition, from the files' footers."""
    return sum(pq.ParquetFile(f).metadata.num_rows for f in partition_files(directory))


def _temporary(path: Path) -> Path:
    # Same directory (a rename within one file system); a name no reader's glob matches.
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")


class _Buckets:
    """One ParquetWriter per bucket, opened on its first row, each fed whole row groups."""

    def __init__(self, directory: Path, schema: pa.Schema):
        self.directory, self.schema = directory, schema
        self.writers: dict[int, tuple[pq.ParquetWriter, Path]] = {}
        self.pending: dict[int, list[pa.RecordBatch]] = {}
        self.pending_rows: dict[int, int] = {}
        self.rows = 0

    def add(self, bucket: int, batch: pa.RecordBatch) -> None:
        self.pending.setdefault(bucket, []).append(batch)
        self.pending_rows[bucket] = self.pending_rows.get(bucket, 0) + batch.num_rows
        self.rows += batch.num_rows
        if self.pending_rows[bucket] >= FLUSH_ROWS:
            self._flush(bucket)

    def _flush(self, bucket: int) -> None:
        batches = self.pending.pop(bucket, [])
        self.pending_rows.pop(bucket, None)
        if not batches:
            return
        if bucket not in self.writers:
            self.directory.mkdir(parents=True, exist_ok=True)
            temp = _temporary(self.directory / bucket_file(bucket))
            self.writers[bucket] = (pq.ParquetWriter(temp, self.schema, compression="zstd"), temp)
        self.writers[bucket][0].write_table(pa.Table.from_batches(batches, self.schema))

    def commit(self) -> None:
        for bucket in list(self.pending):
            self._flush(bucket)
        for bucket, (writer, temp) in self.writers.items():
            writer.close()
            os.replace(temp, self.directory / bucket_file(bucket))
        self.writers = {}

    def abort(self) -> None:
        for writer, temp in self.writers.values():
            writer.close()
            temp.unlink(missing_ok=True)
        self.writers = {}


def partition_write(
    directory: Path, schema: pa.Schema, batches: Iterable[pa.RecordBatch], key: str
) -> int:
    """Write the whole partition from ``batches`` (rows in id order); 0 rows: no file left."""
    buckets = _Buckets(directory, schema)
    try:
        for batch in batches:
            if not batch.num_rows:
                continue
            numbers = pc.fill_null(pc.bit_wise_and(batch.column(key), BUCKETS - 1), 0)
            # One stable sort by bucket, then a slice per bucket (rows keep their id order).
            order = pc.sort_indices(numbers)
            grouped, sorted_numbers = batch.take(order), numbers.take(order)
            counts = pc.value_counts(sorted_numbers)
            offset = 0
            for bucket, count in sorted(
                zip(
                    counts.field("values").to_pylist(),
                    counts.field("counts").to_pylist(),
                    strict=True,
                )
            ):
                buckets.add(bucket, grouped.slice(offset, count))
                offset += count
        written = set(buckets.writers) | set(buckets.pending)
        buckets.commit()
    except BaseException:
        buckets.abort()
        raise
    # Buckets left empty, and the files of an older layout.
    keep = {bucket_file(b) for b in written}
    for path in partition_files(directory):
        if path.name not in keep:
            path.unlink()
    return buckets.rows


def partition_merge(
    directory: Path, schema: pa.Schema, fresh: pa.Table, key: str, keys: Iterable[int]
) -> int:
    """Replace the rows of ``keys`` by ``fresh`` (every current row of those keys, and only
    those); returns the partition's rows."""
    by_bucket: dict[int, list[int]] = {}
    for value in keys:
        by_bucket.setdefault(bucket_of(value), []).append(int(value))
    for bucket, values in sorted(by_bucket.items()):
        path = directory / bucket_file(bucket)
        wanted = pa.array(values, pa.int64())
        parts = [fresh.filter(pc.is_in(fresh.column(key), value_set=wanted))]
        if path.exists():
            old = pq.read_table(path, schema=schema)
            parts.insert(0, old.filter(pc.invert(pc.is_in(old.column(key), value_set=wanted))))
        table = pa.concat_tables(parts)
        if not table.num_rows:
            path.unlink(missing_ok=True)
            continue
        # Rows in the order of the first column (the row's id), as a full write has them.
        table = table.sort_by(schema.names[0])
        directory.mkdir(parents=True, exist_ok=True)
        temp = _temporary(path)
        try:
            pq.write_table(table, temp, compression="zstd", row_group_size=FLUSH_ROWS)
            os.replace(temp, path)
        finally:
            temp.unlink(missing_ok=True)
    return partition_rows(directory)
