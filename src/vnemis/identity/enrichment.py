"""Education attributes sent back to the population registry for verified citizens, as deltas.

Each export holds the verified persons whose record or enrolment changed (change number above
the previous export's) or who were verified since the previous export: citizen ID, education
ID and the current (or latest) school, level, grade, class and status. It is written as a
Parquet file, streamed in keyset chunks, and readable page by page through the API.
"""

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from vnemis.core.audit import audit_record
from vnemis.core.crypto import decrypt_identifier

from .models import EnrichmentExport

CHUNK = 10_000
COLUMNS = (
    "citizen_id",
    "education_id",
    "school_code",
    "school_name",
    "school_level",
    "school_year",
    "grade",
    "class_name",
    "status",
)
SCHEMA = pa.schema([(c, pa.int32() if c == "grade" else pa.string()) for c in COLUMNS])

# The latest enrolment of each verified person changed since the cursor (PostgreSQL and SQLite).
_DELTA_SQL = """
SELECT p.id, p.citizen_id_ciphertext, p.education_id, o.code, o.name, o.level, y.code,
       c.grade, c.name, e.status
  FROM identity_verification v
  JOIN registry_person p ON p.id = v.person_id
  JOIN registry_enrolment e ON e.id = (
       SELECT e2.id FROM registry_enrolment e2 JOIN registry_schoolyear y2
           ON y2.id = e2.school_year_id
        WHERE e2.pupil_id = p.id ORDER BY y2.start_year DESC, e2.started_on DESC, e2.id DESC
        LIMIT 1)
  JOIN orgs_organisation o ON o.id = e.school_id
  JOIN registry_schoolyear y ON y.id = e.school_year_id
  JOIN registry_schoolclass c ON c.id = e.school_class_id
 WHERE v.status = 'verified' AND p.id > %s
   AND (p.change_seq > %s OR e.change_seq > %s OR v.checked_at > %s)
 ORDER BY p.id
 LIMIT %s
"""


def _latest_seq() -> int:
    from vnemis.exchange.changes import change_seq_latest

    return change_seq_latest()


def delta_rows(*, since_seq: int, since_time, after: int = 0, limit: int = CHUNK) -> list[tuple]:
    """Up to ``limit`` rows (person id first, then ``COLUMNS``) after person id ``after``."""
    with connection.cursor() as cursor:
        cursor.execute(_DELTA_SQL, [after, since_seq, since_seq, since_time, limit])
        found = cursor.fetchall()
    return [(pid, decrypt_identifier(cipher), *rest) for pid, cipher, *rest in found if cipher]


def export_create(*, actor) -> EnrichmentExport:
    """Write the delta since the previous export to a Parquet file and record it."""
    previous = EnrichmentExport.objects.order_by("-until_seq").first()
    since_seq = previous.until_seq if previous else 0
    since_time = (
        previous.created_at if previous else timezone.make_aware(timezone.datetime(2000, 1, 1))
    )
    until_seq, now = _latest_seq(), timezone.now()
    folder = Path(settings.VAR_DIR) / "exports" / "enrichment"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"enrichment-{since_seq}-{until_seq}.parquet"
    rows = 0
    with pq.ParquetWriter(folder / name, SCHEMA) as writer:
        after = 0
        while chunk := delta_rows(since_seq=since_seq, since_time=since_time, after=after):
            columns = list(zip(*chunk, strict=True))
            writer.write_table(
                pa.table(dict(zip(COLUMNS, columns[1:], strict=True)), schema=SCHEMA)
            )
            rows += len(chunk)
            after = chunk[-1][0]
    with transaction.atomic():
        export = EnrichmentExport.objects.create(
            since_seq=since_seq,
            until_seq=until_seq,
            rows=rows,
            file_name=name,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        EnrichmentExport.objects.filter(pk=export.pk).update(created_at=now)
        audit_record(
            actor=actor,
            action="export",
            object_type="enrichment_export",
            object_id=export.pk,
            detail={"rows": rows, "since_seq": since_seq, "until_seq": until_seq},
        )
    export.refresh_from_db()
    return export


def export_path(export: EnrichmentExport) -> Path:
    return Path(settings.VAR_DIR) / "exports" / "enrichment" / export.file_name
