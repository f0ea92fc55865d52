"""The analytics snapshot: the registry copied to Parquet, partitioned by school year and province.

``snapshot_refresh`` is the one writer (layout: docs/stats.md; operation: docs/stats-snapshot.md).
Each partition is read with one set-wise SQL query (``snapshot_sql``), streamed from the
database in chunks (``fetchmany`` on a server-side cursor on PostgreSQL) into pyarrow record
batches, written to a temporary file beside its final name and renamed over it, so a reader
sees the old file or the new one, never half of one. Memory stays bounded by the chunk size,
whatever the size of the partition.

Incremental: every tracked registry row carries a change number (``change_seq``) and removals
leave tombstones (``registry.change_tracking``). Per dataset, ``SnapshotMark`` keeps the number
up to which every partition is written, and ``SnapshotPartition`` the number each partition was
last written at; a refresh rewrites only the partitions with rows or tombstones above their
number. The partition of a removed row comes from its tombstone (school, school year); persons
moved to another province (or removed) are found in the previous snapshot itself, with DuckDB.
"""

import fcntl
import json
import logging
import os
import shutil
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.db import connection
from django.utils import timezone

from . import snapshot_sql as q
from .cube import cube_write
from .models import SnapshotMark, SnapshotPartition
from .snapshot_files import is_bucketed, partition_files, partition_merge, partition_write

logger = logging.getLogger(__name__)

CHUNK_ROWS = 50_000
# Above this many changed persons, finding each one's previous partition is not worth it:
# every persons partition is rewritten instead.
MOVED_LOOKUP_MAX = 200_000
# Above this many changed schools (persons) in one partition, it is rewritten whole.
MERGE_MAX_KEYS = 2_000


# The snapshot datasets the aggregate cube is reduced from (stats/cube.py).
CUBE_INPUTS = ("enrolments", "staff")


def snapshot_dir() -> Path:
    """The snapshot's root directory (``settings.STATS_SNAPSHOT_DIR``)."""
    return Path(getattr(settings, "STATS_SNAPSHOT_DIR", settings.VAR_DIR / "snapshot"))


def partition_path(dataset: str, school_year: int = 0, province: str = "") -> str:
    """The partition's directory relative to the root, e.g. ``enrolments/school_year=2025/province=01``."""
    if dataset in q.BY_YEAR:
        return f"{dataset}/school_year={school_year}/province={province}"
    if dataset in q.BY_PROVINCE:
        return f"{dataset}/province={province}"
    return f"{dataset}.parquet"


# --- reading the database in chunks --------------------------------------------------------------


def _fetch(sql: str, params: list) -> Iterator[list[tuple]]:
    """Rows of one query, in chunks of ``CHUNK_ROWS`` (a server-side cursor on PostgreSQL)."""
    cursor = connection.chunked_cursor()
    try:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(CHUNK_ROWS):
            yield rows
    finally:
        cursor.close()


def _all(sql: str, params: list | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchall()


def _json_list(value) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = json.loads(value)
    return [str(v) for v in value] if isinstance(value, list) else []


def _column(values: list, dtype: pa.DataType) -> pa.Array:
    if dtype == pa.date32():
        if any(isinstance(v, str) for v in values):  # SQLite returns ISO strings
            return pa.array(values, pa.string()).cast(pa.date32())
        return pa.array(values, pa.date32())
    if dtype == pa.bool_():
        return pa.array([None if v is None else bool(v) for v in values], pa.bool_())
    if pa.types.is_list(dtype):
        return pa.array([_json_list(v) for v in values], dtype)
    if dtype == pa.string():
        return pa.array([None if v is None else str(v) for v in values], pa.string())
    return pa.array(values, dtype)


def _batch(rows: list[tuple], schema: pa.Schema) -> pa.RecordBatch:
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(schema)
    return pa.record_batch(
        [_column(list(values), f.type) for values, f in zip(columns, schema, strict=True)],
        schema=schema,
    )


# --- writing files atomically ------------------------------------------------------------------


def _write_file(path: Path, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> int:
    """Write the batches to ``path`` through a temporary file and a rename; 0 rows: no file."""
    # Same directory (a rename within one file system); a name no reader's glob matches.
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    rows, writer = 0, None
    try:
        for batch in batches:
            if not batch.num_rows:
                continue
            if writer is None:
                path.parent.mkdir(parents=True, exist_ok=True)
                writer = pq.ParquetWriter(tmp, schema, compression="zstd")
            writer.write_batch(batch)
            rows += batch.num_rows
        if writer is None:
            return 0
        writer.close()
        writer = None
        os.replace(tmp, path)
        return rows
    finally:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)


def _write_single(path: Path, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> int:
    """A single-file dataset: written even when empty (readers can rely on it being there)."""
    rows = _write_file(path, schema, batches)
    if rows == 0:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        pq.write_table(schema.empty_table(), tmp, compression="zstd")
        os.replace(tmp, path)
    return rows


def _remove_partition(root: Path, relative: str) -> bool:
    """Remove a partition directory (and a school-year directory left empty)."""
    directory = root / relative
    if not directory.exists():
        return False
    shutil.rmtree(directory)
    parent = directory.parent
    if parent != root and parent.name.startswith("school_year=") and not any(parent.iterdir()):
        parent.rmdir()
    return True


@contextmanager
def _refresh_lock(root: Path):
    """One refresh at a time per snapshot directory (a second one waits for the first)."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".refresh.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- the registry's reference data -------------------------------------------------------------


@dataclass
class Year:
    id: int
    code: str
    start_year: int
    starts_on: date
    ends_on: date
    before: date | None = None  # the next year's start (health: measured_on < before)

    @property
    def reference_date(self) -> date:
        """30 September of the start year: the staff count's reference date."""
        return date(self.start_year, 9, 30)


def _as_date(value) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


@dataclass
class Reference:
    years: list[Year]
    provinces: dict[str, int]  # code → id
    school_province: dict[int, str]  # school id → province code
    code_province: dict[str, str]  # school code → province code
    has_verification: bool
    by_start: dict[int, Year] = field(default_factory=dict)
    by_code: dict[str, Year] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.years.sort(key=lambda y: y.start_year)
        for this, following in zip(self.years, self.years[1:], strict=False):
            this.before = following.starts_on
        self.by_start = {y.start_year: y for y in self.years}
        self.by_code = {y.code: y for y in self.years}

    def year_of_measurement(self, measured_on) -> int | None:
        """The school year a measurement belongs to: the one whose dates hold it; a date in the
        summer break belongs to the year just ended; before the first year, to none."""
        measured_on = _as_date(measured_on)
        found = None
        for year in self.years:
            if year.starts_on <= measured_on:
                found = year.start_year
        return found


def _reference() -> Reference:
    years = [
        Year(
            id=r[0],
            code=r[1],
            start_year=int(r[2]),
            starts_on=_as_date(r[3]),
            ends_on=_as_date(r[4]),
        )
        for r in _all("SELECT id, code, start_year, starts_on, ends_on FROM registry_schoolyear")
    ]
    provinces = {code: pk for pk, code in _all("SELECT id, code FROM geo_province")}
    school_province, code_province = {}, {}
    for pk, code, province in _all(
        "SELECT o.id, o.code, pr.code FROM orgs_organisation o "
        "LEFT JOIN geo_province pr ON pr.id = o.province_id"
    ):
        if province:
            school_province[pk] = province
            code_province[code] = province
    tables = set(connection.introspection.table_names())
    return Reference(
        years=years,
        provinces=provinces,
        school_province=school_province,
        code_province=code_province,
        has_verification="identity_verification" in tables,
    )


# --- partition readers -------------------------------------------------------------------------


def _staff_levels(ref: Reference, province_id: int, year: Year):
    """(person, school) → the level taught most, and school → the level of most classes."""
    taught: dict[tuple[int, int], Counter] = defaultdict(Counter)
    for person, school, grade, n in _all(q.TEACHING_GRADES, [province_id, year.id]):
        taught[(person, school)][_level(grade)] += n
    classes: dict[int, Counter] = defaultdict(Counter)
    for school, grade, n in _all(q.SCHOOL_GRADES, [province_id, year.id]):
        classes[school][_level(grade)] += n

    def most(counter: Counter) -> str:
        # Ties go to the lower level (a stable, documented choice).
        return max(counter.items(), key=lambda kv: (kv[1], -q.LEVELS.index(kv[0])))[0]

    return {k: most(c) for k, c in taught.items()}, {k: most(c) for k, c in classes.items()}


def _level(grade: int) -> str:
    if grade == 0:
        return "preschool"
    if grade <= 5:
        return "primary"
    if grade <= 9:
        return "lower_secondary"
    return "upper_secondary"


def _partition_batches(
    ref: Reference, dataset: str, school_year: int, province: str, keys: list[int] | None = None
) -> Iterator[pa.RecordBatch]:
    """The partition's rows, or with ``keys`` only the rows of those schools (persons)."""
    vendor = connection.vendor
    schema = q.SCHEMAS[dataset]
    province_id = ref.provinces.get(province)
    extra = list(keys or ())

    def select(sql: str) -> str:
        return q.keyed(sql, dataset, len(extra)) if keys is not None else sql

    if dataset == "persons":
        sql = q.persons_select(vendor, with_verification=ref.has_verification)
        for rows in _fetch(select(sql), [province, *extra]):
            yield _batch(rows, schema)
        return
    year = ref.by_start.get(school_year)
    if year is None or (province_id is None and dataset != "health"):
        return
    if dataset == "staff":
        taught, by_classes = _staff_levels(ref, province_id, year)
        ref_date = year.reference_date
        params = [province_id, ref_date, ref_date, *extra]
        for rows in _fetch(select(q.staff_select(vendor)), params):
            fixed = []
            for row in rows:
                school_level = row[4] if row[4] in q.LEVELS else by_classes.get(row[2], "")
                level = taught.get((row[1], row[2]), school_level)
                fixed.append((*row[:4], level, *row[5:]))
            yield _batch(fixed, schema)
        return
    if dataset == "health":
        before = year.before or date(9999, 12, 31)
        params = [province_id, province, year.starts_on, before, *extra]
        for rows in _fetch(select(q.health_select(vendor)), params):
            yield _batch(rows, schema)
        return
    for rows in _fetch(select(q.SELECTS[dataset](vendor)), [province_id, year.id, *extra]):
        yield _batch(rows, schema)


def _single_batches(dataset: str) -> Iterator[pa.RecordBatch]:
    if dataset == "schools":
        sql = q.schools_select(connection.vendor)
    elif dataset == "submissions":
        sql = q.submissions_select(connection.vendor)
    else:
        sql = q.POPULATION_SELECT
    for rows in _fetch(sql, []):
        yield _batch(rows, q.SCHEMAS[dataset])


# --- which partitions to write -----------------------------------------------------------------

Key = tuple[str, int, str]  # (dataset, school_year or 0, province)


def _all_partitions(ref: Reference, datasets: Iterable[str]) -> set[Key]:
    """Every partition that can hold rows: each school year × each province with a school;
    persons: each province a person belongs to. Empty ones are written as nothing (removed)."""
    provinces = {p for p in ref.school_province.values()}
    keys: set[Key] = set()
    for dataset in datasets:
        if dataset in q.BY_YEAR:
            extra = set()
            if dataset == "health":  # a measurement without a school: the row's own province
                extra = {
                    r[0]
                    for r in _all(
                        "SELECT DISTINCT province_code FROM registry_healthrecord "
                        "WHERE school_id IS NULL"
                    )
                }
            keys |= {(dataset, y.start_year, p) for y in ref.years for p in provinces | extra}
        else:
            keys |= {
                (dataset, 0, r[0])
                for r in _all("SELECT DISTINCT province_code FROM registry_person")
            }
    return keys


def _existing_partitions(root: Path, dataset: str) -> set[Key]:
    """The partitions on disk now (whatever the database says)."""
    keys: set[Key] = set()
    base = root / dataset
    if not base.is_dir():
        return keys
    if dataset in q.BY_YEAR:
        for path in base.glob("school_year=*/province=*"):
            if partition_files(path):
                year = int(path.parent.name.split("=", 1)[1])
                keys.add((dataset, year, path.name.split("=", 1)[1]))
    else:
        for path in base.glob("province=*"):
            if partition_files(path):
                keys.add((dataset, 0, path.name.split("=", 1)[1]))
    return keys


@dataclass
class Dirty:
    """What changed in one partition: the highest change number, and the keys (schools;
    persons for persons) whose rows changed, or None when the whole partition must be read."""

    seq: int = 0
    keys: set[int] | None = field(default_factory=set)

    def add(self, key, seq) -> None:
        self.seq = max(self.seq, int(seq or 0))
        if self.keys is None:
            return
        if key is None:
            self.keys = None
        else:
            self.keys.add(int(key))
            if len(self.keys) > MERGE_MAX_KEYS:
                self.keys = None  # so many changes: a full rewrite of the partition is cheaper


def _dirty(ref: Reference, root: Path, dataset: str, since: int, as_of) -> dict[tuple, Dirty]:
    """(school_year, province) → what changed there above ``since`` (school_year 0: every
    year for staff, none for persons)."""
    found: dict[tuple, Dirty] = defaultdict(Dirty)

    def mark(year: int, province: str | None, seq: int, key=None) -> None:
        if not province:
            return
        years = (
            [y.start_year for y in ref.years] if (year == 0 and dataset in q.BY_YEAR) else [year]
        )
        for y in years:
            found[(y, province)].add(key, seq)

    for sql in q.DIRTY.get(dataset, ()):
        for rows in _fetch(sql, [since]):
            for year, province, key, seq in rows:
                mark(int(year), province, seq, key)
    if dataset == "health":
        for rows in _fetch(q.HEALTH_DIRTY_DATES, [since]):
            for measured_on, province, school_id, seq in rows:
                year = ref.year_of_measurement(measured_on)
                if year is not None:
                    mark(year, province, seq, school_id)
    entities = q.TOMBSTONE_ENTITIES.get(dataset, ())
    if entities:
        for rows in _fetch(
            q.tombstones_select(len(entities)),
            [since, *entities],
        ):
            for entity, school_id, natural_key, seq in rows:
                key = (
                    natural_key
                    if isinstance(natural_key, dict)
                    else json.loads(natural_key or "{}")
                )
                province = ref.school_province.get(school_id) or ref.code_province.get(
                    key.get("school_code") or ""
                )
                school = school_id if school_id in ref.school_province else None
                if dataset == "health":
                    year = (
                        ref.year_of_measurement(key.get("measured_on"))
                        if key.get("measured_on")
                        else None
                    )
                    if year is None:
                        continue
                    if province is None:  # no school: any province's partition of that year
                        for _, y, p in _existing_partitions(root, "health"):
                            if y == year:
                                mark(y, p, seq)
                        continue
                    mark(year, province, seq, school)
                elif entity in ("staff",) and dataset == "staff":
                    mark(0, province, seq, school)
                else:
                    year_obj = ref.by_code.get(key.get("school_year") or "")
                    mark(year_obj.start_year if year_obj else 0, province, seq, school)
    if dataset == "persons":
        _persons_moved_or_removed(ref, root, since, mark)
        if as_of is not None and ref.has_verification:
            for rows in _fetch(q.PERSON_VERIFIED_SINCE, [as_of]):
                for province, person_id in rows:
                    mark(0, province, since + 1, person_id)
    return dict(found)


def _persons_moved_or_removed(ref: Reference, root: Path, since: int, mark) -> None:
    """Persons changed or removed since ``since`` may sit in another province's partition of the
    previous snapshot (a move, a removal): find those partitions there."""
    existing = _existing_partitions(root, "persons")
    if not existing:
        return
    ids: list[int] = []
    seqs: list[int] = []
    for rows in _fetch(q.PERSON_CHANGED_IDS, [since]):
        for pk, seq in rows:
            ids.append(pk)
            seqs.append(seq)
    for rows in _fetch(
        "SELECT object_id, change_seq FROM registry_tombstone WHERE change_seq > %s "
        "AND entity = 'persons'",
        [since],
    ):
        for pk, seq in rows:
            ids.append(pk)
            seqs.append(seq)
        if len(ids) > MOVED_LOOKUP_MAX:
            break
    if not ids:
        return
    if len(ids) > MOVED_LOOKUP_MAX:
        top = max(seqs)
        for _, _, province in existing:
            mark(0, province, top)  # no key: the whole partition
        return
    import duckdb

    changed = pa.table({"person_id": pa.array(ids, pa.int64()), "seq": pa.array(seqs, pa.int64())})
    con = duckdb.connect()
    try:
        con.register("changed", changed)
        pattern = str(root / "persons" / "province=*" / "*.parquet")
        rows = con.execute(
            "SELECT s.province, s.person_id, c.seq "
            "FROM read_parquet(?, hive_partitioning = true, hive_types = {'province': VARCHAR}) s "
            "JOIN changed c USING (person_id)",
            [pattern],
        ).fetchall()
    finally:
        con.close()
    for province, person_id, seq in rows:
        mark(0, str(province).zfill(2), seq, person_id)


# --- the refresh -------------------------------------------------------------------------------


def _high_water() -> int:
    return int(_all(q.HIGH_WATER)[0][0] or 0)


def _selected(key: Key, provinces: set[str] | None, years: set[int] | None) -> bool:
    dataset, year, province = key
    if provinces is not None and province not in provinces:
        return False
    return not (years is not None and dataset in q.BY_YEAR and year not in years)


def snapshot_refresh(
    *,
    provinces: Iterable[str] | None = None,
    years: Iterable[int] | None = None,
    full: bool = False,
    datasets: Iterable[str] | None = None,
) -> dict:
    """Rewrite the partitions that changed since the last refresh (``full``: every partition);
    ``provinces``/``years`` limit what is looked at. Returns what it rewrote."""
    started = time.perf_counter()
    as_of = timezone.now()
    root = snapshot_dir()
    provinces = {str(p).zfill(2) for p in provinces} if provinces else None
    years = {int(y) for y in years} if years else None
    restricted = provinces is not None or years is not None
    chosen = list(datasets) if datasets else list(q.PARTITIONED)
    written: list[str] = []
    removed: list[str] = []
    total = 0
    touched: set[tuple[int, str]] = set()  # partitions whose aggregate cube must follow
    with _refresh_lock(root):
        high = _high_water()
        ref = _reference()
        marks = {m.dataset: m for m in SnapshotMark.objects.filter(dataset__in=chosen)}
        stored = {
            (p.dataset, p.school_year, p.province): p
            for p in SnapshotPartition.objects.filter(dataset__in=chosen)
        }
        for dataset in chosen:
            floor_mark = marks.get(dataset)
            since = floor_mark.change_seq if floor_mark else 0
            last_as_of = floor_mark.as_of if floor_mark else None
            if full or floor_mark is None:
                todo = _all_partitions(ref, [dataset]) | _existing_partitions(root, dataset)
            else:
                todo = {}
                for (year, province), dirty in _dirty(
                    ref, root, dataset, since, last_as_of
                ).items():
                    key = (dataset, year, province)
                    if dirty.seq > max(since, getattr(stored.get(key), "change_seq", 0) or 0):
                        todo[key] = dirty.keys
                # a partition on disk the database no longer knows of (manual copy, crash)
                todo |= {k: None for k in _existing_partitions(root, dataset) if k not in stored}
            if isinstance(todo, set):
                todo = dict.fromkeys(todo)
            todo = {k: v for k, v in todo.items() if _selected(k, provinces, years)}
            for key in sorted(todo, key=lambda k: (k[1], k[2])):
                _, year, province = key
                if dataset in CUBE_INPUTS:
                    touched.add((year, province))
                relative = partition_path(dataset, year, province)
                rows = _partition_rewrite(ref, root / relative, dataset, year, province, todo[key])
                if rows:
                    SnapshotPartition.objects.update_or_create(
                        dataset=dataset,
                        school_year=year,
                        province=province,
                        defaults={"rows": rows, "written_at": timezone.now(), "change_seq": high},
                    )
                    written.append(relative)
                    total += rows
                else:
                    SnapshotPartition.objects.filter(
                        dataset=dataset, school_year=year, province=province
                    ).delete()
                    if _remove_partition(root, relative):
                        removed.append(relative)
            if not restricted:
                SnapshotMark.objects.update_or_create(
                    dataset=dataset, defaults={"change_seq": high, "as_of": as_of}
                )
        if datasets is None:
            for single in q.SINGLE:
                if _single_due(single, root, full, high):
                    rows = _write_single(
                        root / f"{single}.parquet", q.SCHEMAS[single], _single_batches(single)
                    )
                    SnapshotPartition.objects.update_or_create(
                        dataset=single,
                        school_year=0,
                        province="",
                        defaults={"rows": rows, "written_at": timezone.now(), "change_seq": high},
                    )
                    written.append(f"{single}.parquet")
                    total += rows
        for year, province in sorted(touched):
            cube_write(school_year=year, province=province, root=root)
    seconds = time.perf_counter() - started
    logger.info(
        "snapshot refresh: %s partitions, %s removed, %s rows in %.1f s",
        len(written),
        len(removed),
        total,
        seconds,
    )
    return {"partitions": written, "removed": removed, "rows": total, "seconds": seconds}


def _partition_rewrite(
    ref: Reference, directory: Path, dataset: str, year: int, province: str, keys: set | None
) -> int:
    """Rewrite a partition: only the changed keys' rows when it can (``snapshot_files``),
    else the whole of it. Returns the partition's rows."""
    column = q.KEY_COLUMN[dataset]
    schema = q.SCHEMAS[dataset]
    if keys is not None and is_bucketed(directory):
        ordered = sorted(keys)
        fresh = pa.Table.from_batches(
            list(_partition_batches(ref, dataset, year, province, ordered)), schema
        )
        return partition_merge(directory, schema, fresh, column, ordered)
    return partition_write(
        directory, schema, _partition_batches(ref, dataset, year, province), column
    )


def _single_due(dataset: str, root: Path, full: bool, high: int) -> bool:
    """schools.parquet when a school changed; population.parquet when the table was loaded."""
    if full or not (root / f"{dataset}.parquet").exists():
        return True
    last = SnapshotPartition.objects.filter(dataset=dataset, school_year=0, province="").first()
    if last is None:
        return True
    if dataset == "submissions":  # no change numbers here: the last update time tells
        from vnemis.exchange.models_submissions import Submission

        newest = Submission.objects.order_by("-updated_at").values_list("updated_at", flat=True)
        return newest.first() is not None and newest.first() > last.written_at
    if dataset == "schools":
        return bool(
            _all("SELECT 1 FROM orgs_organisation WHERE change_seq > %s LIMIT 1", [last.change_seq])
        )
    from .models import PopulationEstimate

    newest = (
        PopulationEstimate.objects.order_by("-loaded_at")
        .values_list("loaded_at", flat=True)
        .first()
    )
    return newest is not None and newest > last.written_at


def snapshot_partitions() -> list[SnapshotPartition]:
    """The partitions as last written, for the page (a few thousand rows nationally)."""
    return list(SnapshotPartition.objects.all())
