"""Linkage runs: records without a usable ID linked to the registry, and duplicates found.

``link_run`` takes the persons of a province that have no usable citizen ID or were not found,
asks the registry for the cohort extract of their birth years (at most five years a request,
as the data-sharing agreement allows), and scores them with the saved link model (trained on
the first run from a sample, then reused): pairs above the upper threshold are accepted — the
person gets the registry's citizen ID and counts as verified by linkage — and pairs between the
thresholds wait in the review queue. ``duplicates_run`` scores this year's enrolled pupils of a
province against each other with the dedupe model; every candidate pair goes to review (a merge
is always a Department officer's decision). Both are idempotent: a pair already in the queue is
not added again.
"""

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import polars as pl
from django.conf import settings
from django.db import transaction

from vnemis.core.crypto import blind_index, encrypt_identifier
from vnemis.registry.models import ACTIVE_STATUSES, Enrolment, Person, SchoolYear

from . import linkage_engine as engine
from .models import ReviewItem, VerificationMethod, VerificationStatus
from .registry_client import ClientConfig, RegistryClient
from .review import link_apply

log = logging.getLogger(__name__)

MAX_EXTRACT_YEARS = 5
UNLINKED = (VerificationStatus.NO_ID, VerificationStatus.NOT_FOUND)


def models_dir() -> Path:
    return Path(settings.VAR_DIR) / "models" / "linkage"


def _records(persons) -> pl.DataFrame:
    rows = list(persons.values_list("id", "full_name", "birth_date", "sex", "birth_province__code"))
    return pl.DataFrame(
        {
            "record_id": [r[0] for r in rows],
            "full_name": [r[1] for r in rows],
            "birth_date": [r[2] for r in rows],
            "sex": [r[3] for r in rows],
            "birth_province_code": [r[4] for r in rows],
            "father_name": [None] * len(rows),
            "mother_name": [None] * len(rows),
        },
        schema=engine.RECORD_COLUMNS,
    )


def unlinked_persons(province_code: str | None = None):
    persons = Person.objects.filter(verification__status__in=UNLINKED)
    if province_code:
        persons = persons.filter(province_code=province_code)
    return persons.order_by("id")


def _year_groups(years: list[int]) -> Iterator[list[int]]:
    years = sorted(set(years))
    for start in range(0, len(years), MAX_EXTRACT_YEARS):
        yield years[start : start + MAX_EXTRACT_YEARS]


def link_run(
    *, province_code: str | None = None, client: RegistryClient | None = None
) -> dict[str, int]:
    """Link the province's unlinked persons to the registry; returns what happened."""
    records = _records(unlinked_persons(province_code))
    counts = {"records": len(records), "accepted": 0, "review": 0, "rejected": 0}
    if records.is_empty():
        return counts
    own = client is None
    client = client or RegistryClient(ClientConfig.from_settings())
    try:
        years = records["birth_date"].dt.year().unique().to_list()
        for group in _year_groups(years):
            extract = pl.read_parquet(io.BytesIO(client.cohort_extract(birth_years=group)))
            cohort = records.filter(pl.col("birth_date").dt.year().is_in(group))
            model = engine.model_for("link", cohort, extract, models_dir=models_dir())
            pairs = engine.link_pairs(model, cohort, extract)
            _apply_links(pairs, extract, model, counts)
    finally:
        if own:
            client.close()
    return counts


def _province_of(person_ids: list[int]) -> dict[int, str]:
    return dict(Person.objects.filter(pk__in=person_ids).values_list("id", "province_code"))


def _apply_links(pairs: pl.DataFrame, extract: pl.DataFrame, model, counts: dict) -> None:
    """Accepted pairs linked at once; review pairs queued with what the clerk must see."""
    shown = extract.select(
        "citizen_id", "full_name", "birth_date", "sex", "birth_province_code",
        "father_name", "mother_name",
    ).unique("citizen_id")  # fmt: skip
    pairs = pairs.join(shown, on="citizen_id", how="left")
    provinces = _province_of(pairs["record_id"].to_list())
    for row in pairs.iter_rows(named=True):
        decision = row["decision"]
        if decision == "reject":
            counts["rejected"] += 1
            continue
        person = Person.objects.filter(pk=row["record_id"]).first()
        if person is None:
            continue
        with transaction.atomic():
            status = ReviewItem.Status.PENDING
            if decision == "accept":
                link_apply(
                    actor=None,
                    person=person,
                    citizen_id=row["citizen_id"],
                    method=VerificationMethod.LINKAGE,
                )
                status = ReviewItem.Status.AUTO_ACCEPTED
            _, made = ReviewItem.objects.get_or_create(
                kind=ReviewItem.Kind.REGISTRY_LINK,
                person=person,
                citizen_id_index=blind_index(row["citizen_id"]),
                defaults={
                    "status": status,
                    "citizen_id_ciphertext": encrypt_identifier(row["citizen_id"]),
                    "candidate": _candidate(row),
                    "match_probability": row["match_probability"],
                    "match_weight": row["match_weight"],
                    "explanation": _explanation(row["explanation"]),
                    "model_version": model.name,
                    "province_code": provinces.get(row["record_id"], ""),
                },
            )
        counts["accepted" if decision == "accept" else "review"] += made or decision == "accept"


def _explanation(value) -> list:
    """The engine's per-field explanation (JSON text) as the review item keeps it."""
    return json.loads(value) if isinstance(value, str) else list(value or [])


def _candidate(row: dict) -> dict:
    born = row.get("birth_date")
    sexes = {"M": "Nam", "F": "Nữ"}
    return {
        "full_name": row.get("full_name") or "",
        "birth_date": born.strftime("%d/%m/%Y") if born else "",
        "sex": sexes.get(row.get("sex"), row.get("sex") or ""),
        "birth_province": row.get("birth_province_code") or "",
        "father_name": row.get("father_name") or "",
        "mother_name": row.get("mother_name") or "",
    }


def enrolled_persons(province_code: str):
    year = SchoolYear.objects.filter(is_current=True).first()
    enrolled = Enrolment.objects.filter(
        school_year=year, province_code=province_code, status__in=ACTIVE_STATUSES
    ).values("pupil_id")
    return Person.objects.filter(id__in=enrolled).order_by("id")


def _link_model(records: pl.DataFrame, client: RegistryClient | None):
    """The saved link model, or one trained now on the registry's extract of the records'
    most common birth years (a dedupe model borrows its non-name parameters from it)."""
    found = engine.latest("link", models_dir())
    if found is not None:
        return found
    years = (
        (records["birth_date"].dt.year().value_counts(sort=True).head(MAX_EXTRACT_YEARS))
        .to_series()
        .to_list()
    )
    own = client is None
    client = client or RegistryClient(ClientConfig.from_settings())
    try:
        extract = pl.read_parquet(io.BytesIO(client.cohort_extract(birth_years=years)))
    finally:
        if own:
            client.close()
    cohort = records.filter(pl.col("birth_date").dt.year().is_in(years))
    return engine.model_for("link", cohort, extract, models_dir=models_dir())


def duplicates_run(*, province_code: str, client: RegistryClient | None = None) -> dict[str, int]:
    """Queue likely duplicate pupils of a province's current enrolments for review."""
    records = _records(enrolled_persons(province_code))
    counts = {"records": len(records), "review": 0}
    if len(records) < 2:
        return counts
    model = engine.latest("dedupe", models_dir()) or engine.model_for(
        "dedupe", records, None, models_dir=models_dir(), link_model=_link_model(records, client)
    )
    pairs = engine.duplicate_pairs(model, records)
    for row in pairs.filter(pl.col("decision") != "reject").iter_rows(named=True):
        low, high = sorted((row["record_id_l"], row["record_id_r"]))
        _, made = ReviewItem.objects.get_or_create(
            kind=ReviewItem.Kind.DUPLICATE,
            person_id=high,  # the later record is the likely re-registration
            other_person_id=low,
            defaults={
                "match_probability": row["match_probability"],
                "match_weight": row["match_weight"],
                "explanation": _explanation(row["explanation"]),
                "model_version": model.name,
                "province_code": province_code,
            },
        )
        counts["review"] += made
    return counts
