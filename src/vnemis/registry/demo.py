"""The demo's dataset as the registry would hold it today: a generated year cut at today's date.

``vnemis generate`` writes a whole school year: pupils who transfer in until March, pupils who
drop out until April, results of both terms and of the year. The demo runs in the school year
that contains today, so it loads only what has happened by today (``dataset_as_of``):

- a pupil who transfers in after today is not at the school yet: their records are left out;
- a pupil whose drop-out date is after today is still studying (no end date);
- term I results exist once term I has ended, term II and year results once the year has;
- health measurements after today are left out; staff posts and schools that would start after
  today start on the first day of the school year instead (or today, before that day).

So every page counts the same pupils: "studying now" by status and "on the roll today" by dates
agree, and the period submissions see the data a school would really have on that day.
"""

import json
from datetime import date
from pathlib import Path

import polars as pl

from .generate.pupils import school_year_dates

# Enrolment statuses of a pupil still at the school (registry.models.ACTIVE_STATUSES).
STILL_HERE = ("studying", "transferred_in", "repeating")
PUPIL_KEY = ["school_code", "pupil_code"]


def school_year_start(today: date) -> int:
    """The calendar year in which the school year containing ``today`` started (September)."""
    return today.year if today.month >= 9 else today.year - 1


def _ended_periods(year: int, today: date) -> list[str]:
    dates = school_year_dates(year)
    ended = []
    if today >= dates["term1_end"].astype(date):
        ended.append("term1")
    if today >= dates["end"].astype(date):
        ended += ["term2", "year"]
    return ended


def _rewrite(path: Path, frame: pl.DataFrame) -> int:
    frame.write_parquet(path, compression="snappy")
    return frame.height


def dataset_as_of(directory: Path, *, year: int, today: date) -> dict[str, int]:
    """Cut the generated Parquet dataset in ``directory`` (school year ``year``) at ``today``, in
    place; returns the new row counts per entity and records the date in ``manifest.json``."""
    manifest_path = directory / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    files = {name: directory / rel for name, rel in manifest["files"].items()}
    first_day = school_year_dates(year)["start"].astype(date)
    start_floor = first_day if first_day <= today else today
    counts: dict[str, int] = {}

    enrolments = pl.read_parquet(files["enrolments"])
    not_yet = enrolments.filter(pl.col("started_on") > today).select(PUPIL_KEY)
    later_end = pl.col("ended_on") > today
    enrolments = enrolments.join(not_yet, on=PUPIL_KEY, how="anti").with_columns(
        status=pl.when(later_end & ~pl.col("status").is_in(STILL_HERE))
        .then(pl.lit("studying"))
        .otherwise(pl.col("status")),
        ended_on=pl.when(later_end).then(None).otherwise(pl.col("ended_on")),
    )
    counts["enrolments"] = _rewrite(files["enrolments"], enrolments)

    ended = _ended_periods(year, today)
    for name in ("pupils", "subject_results", "result_summaries", "health_records"):
        frame = pl.read_parquet(files[name]).join(not_yet, on=PUPIL_KEY, how="anti")
        if name in ("subject_results", "result_summaries"):
            frame = frame.filter(pl.col("period").is_in(ended))
        if name == "health_records":
            frame = frame.filter(pl.col("measured_on") <= today)
        counts[name] = _rewrite(files[name], frame)

    for name, column in (("staff", "starts_on"), ("schools", "opened_on")):
        frame = pl.read_parquet(files[name]).with_columns(
            pl.when(pl.col(column) > today)
            .then(pl.lit(start_floor))
            .otherwise(pl.col(column))
            .alias(column)
        )
        counts[name] = _rewrite(files[name], frame)

    truth = manifest.get("ground_truth", {}).get("files", {}).get("pupils")
    if truth:
        path = directory / truth
        frame = pl.read_parquet(path).join(not_yet, on=PUPIL_KEY, how="anti")
        manifest["ground_truth"]["counts"]["pupils"] = _rewrite(path, frame)

    manifest["counts"].update(counts)
    manifest["as_of"] = today.isoformat()
    manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
    return counts


def dataset_as_of_date(directory: Path) -> date | None:
    """The date a demo dataset was cut at (None: not cut, or no dataset)."""
    try:
        raw = json.loads((directory / "manifest.json").read_text()).get("as_of")
    except (OSError, ValueError):
        return None
    return date.fromisoformat(raw) if raw else None
