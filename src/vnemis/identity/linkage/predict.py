"""Scoring candidate pairs in bounded chunks, explaining each score, and deciding on them.

``predict_pairs`` splits the records by birth year into groups of about ``chunk_records``
(every blocking rule requires the same birth date or year, so no pair crosses a group) and
scores each group in its own DuckDB database against the citizens of the same years; a single
year larger than that is split further by Splink's own chunking. Memory is bounded by one
group, whatever the national size. Each pair carries, per comparison, the level it fell in and
its match weight (``explanation``: the review page's "why"). ``classify_pairs`` turns
probabilities into accept / review / reject, one-to-one for registry links.
"""

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

from .model import (
    DATASETS,
    DUCKDB_THREADS,
    FIELD_LABELS,
    TrainedModel,
    duckdb_api,
    linker_for,
    prior_for,
    rule_names,
)
from .prepare import MODEL_COLUMNS, prepare_extract, prepare_records

DEFAULT_CHUNK_RECORDS = 150_000
# Pairs below this probability are not returned (they are neither accepted nor reviewed).
DEFAULT_MIN_PROBABILITY = 0.01
DECISIONS = ("accept", "review", "reject")


@dataclass
class ChunkStats:
    """What one chunk did, for progress reports and the benchmark."""

    chunk: int
    chunks: int
    years: tuple[int, ...]
    records: int
    extract: int
    prior: float  # the probability_two_random_records_match used for the data given
    comparisons: dict[str, int] = field(default_factory=dict)  # per blocking rule
    pairs_kept: int = 0
    seconds: float = 0.0


def _year_groups(records: pl.DataFrame, chunk_records: int) -> list[list[int]]:
    """Consecutive birth years, grouped so that each group holds about ``chunk_records``."""
    counts = records.group_by("birth_year").len().drop_nulls().sort("birth_year")
    groups: list[list[int]] = []
    size = 0
    for year, n in counts.iter_rows():
        if groups and size + n <= chunk_records:
            groups[-1].append(year)
            size += n
        else:
            groups.append([year])
            size = n
    return groups


def _level_labels(comparison: dict) -> dict[float, str]:
    """Each level's match weight (as Splink computes it: log2 m/u, 0 for null) → its label.

    Splink's output carries the partial weights, not the level numbers (those come only with all
    the compared values), and within a comparison the weight tells the level. Levels that weigh
    the same (an untrained comparison) share one entry with both labels.
    """
    labels: dict[float, list[str]] = {}
    for lv in comparison["comparison_levels"]:
        if lv.get("is_null_level"):
            weight = 0.0
        else:
            weight = math.log2(lv["m_probability"] / lv["u_probability"])
        labels.setdefault(round(weight, 6), []).append(lv["label_for_charts"])
    return {w: " / ".join(names) for w, names in labels.items()}


def _level_expr(comparison: dict, *, as_json: bool = False) -> pl.Expr:
    weight = pl.col(f"mw_{comparison['output_column_name']}")
    level = pl.when(pl.lit(False)).then(pl.lit(""))
    for w, label in _level_labels(comparison).items():
        level = level.when((weight - w).abs() < 1e-6).then(
            pl.lit(json.dumps(label, ensure_ascii=False) if as_json else label)
        )
    return level.otherwise(pl.lit('""' if as_json else ""))


def explanation_expr(settings: dict) -> pl.Expr:
    """Per pair, a JSON array of {"field", "level", "weight"} for every comparison (weights in
    bits), ready for ``ReviewItem.explanation``: ``json.loads(row["explanation"])``.

    JSON text rather than a list of structs: Polars builds the text twenty times faster.
    """
    pieces: list[pl.Expr] = []
    for i, c in enumerate(settings["comparisons"]):
        name = c["output_column_name"]
        field = json.dumps(FIELD_LABELS.get(name, name), ensure_ascii=False)
        pieces += [
            pl.lit(("[" if i == 0 else ",") + '{"field":' + field + ',"level":'),
            _level_expr(c, as_json=True),
            pl.lit(',"weight":'),
            pl.col(f"mw_{name}").round(3).cast(pl.String),
            pl.lit("}"),
        ]
    return pl.concat_str([*pieces, pl.lit("]")]).alias("explanation")


def level_columns(settings: dict) -> list[pl.Expr]:
    """``level_<comparison>``: each comparison's level label, as columns (for analysis)."""
    return [
        _level_expr(c).alias(f"level_{c['output_column_name']}") for c in settings["comparisons"]
    ]


def predict_pairs(
    model: TrainedModel,
    records: pl.DataFrame,
    extract: pl.DataFrame | None = None,
    *,
    chunk_records: int = DEFAULT_CHUNK_RECORDS,
    min_probability: float = DEFAULT_MIN_PROBABILITY,
    threads: int = DUCKDB_THREADS,
    prepared: bool = False,
    on_chunk: Callable[[ChunkStats], None] | None = None,
) -> pl.DataFrame:
    """Scored candidate pairs of a ``link`` model (records ↔ extract) or a ``dedupe`` model.

    link → ``record_id``, ``citizen_id``; dedupe → ``record_id_l`` < ``record_id_r``; then
    ``match_probability``, ``match_weight``, ``match_key`` (the first blocking rule that found
    the pair), ``mw_<comparison>`` (partial weights) and ``explanation`` (JSON text, see
    ``explanation_expr``). Only pairs with a
    probability of at least ``min_probability`` are returned. ``on_chunk`` is called after each
    chunk (for progress). The prior is set for the size of the data given (model.match_rate).
    """
    kind = model.kind
    if kind == "link" and extract is None:
        raise ValueError("Linking to the registry needs the registry extract.")
    rec = records if prepared else prepare_records(records)
    rec = rec.select(MODEL_COLUMNS).filter(pl.col("birth_year").is_not_null())
    ext = citizen_ids = None
    if kind == "link":
        ext = extract if prepared else prepare_extract(extract)
        if "citizen_id" not in ext.columns:
            raise ValueError("The prepared extract has lost its 'citizen_id' column.")
        ext = ext.filter(pl.col("birth_year").is_in(rec["birth_year"].unique().implode()))
        citizen_ids = ext.select("unique_id", "citizen_id")
        ext = ext.select(MODEL_COLUMNS)
    settings = {
        **model.settings,
        "probability_two_random_records_match": prior_for(
            kind,
            model.match_rate,
            n_records=len(rec),
            n_extract=len(ext) if ext is not None else 0,
        ),
    }
    names = rule_names()
    groups = _year_groups(rec, chunk_records)
    explain = explanation_expr(settings)
    weights = [f"mw_{c['output_column_name']}" for c in settings["comparisons"]]
    out = []
    for i, years in enumerate(groups, start=1):
        started = time.perf_counter()
        rec_g = rec.filter(pl.col("birth_year").is_in(years))
        ext_g = ext.filter(pl.col("birth_year").is_in(years)) if ext is not None else None
        stats = ChunkStats(
            chunk=i,
            chunks=len(groups),
            years=tuple(years),
            records=len(rec_g),
            extract=len(ext_g) if ext_g is not None else 0,
            prior=settings["probability_two_random_records_match"],
        )
        pairs = _predict_chunk(
            kind, settings, rec_g, ext_g, chunk_records, min_probability, threads, stats, names
        )
        if len(pairs):
            out.append(pairs.with_columns(explain))
        stats.pairs_kept = len(pairs)
        stats.seconds = time.perf_counter() - started
        if on_chunk is not None:
            on_chunk(stats)
    id_cols = ["record_id", "citizen_id"] if kind == "link" else ["record_id_l", "record_id_r"]
    if not out:
        return _empty(id_cols, weights)
    result = pl.concat(out, how="vertical_relaxed")
    if kind == "link":
        # unique_id of the extract is its row number: give the citizen ID back.
        result = result.rename({"citizen_id": "unique_id"}).join(
            citizen_ids, on="unique_id", how="left"
        )
    return result.select(
        *id_cols, "match_probability", "match_weight", "match_key", *weights, "explanation"
    ).sort(id_cols)


def _empty(id_cols: list[str], weights: list[str]) -> pl.DataFrame:
    schema = {c: pl.Int64 for c in id_cols}
    if "citizen_id" in schema:
        schema["citizen_id"] = pl.String
    schema |= {"match_probability": pl.Float64, "match_weight": pl.Float64, "match_key": pl.Int32}
    schema |= dict.fromkeys(weights, pl.Float64)
    schema["explanation"] = pl.String
    return pl.DataFrame(schema=schema)


def _predict_chunk(
    kind,
    settings,
    rec_g,
    ext_g,
    chunk_records,
    min_probability,
    threads,
    stats: ChunkStats,
    names: list[str],
) -> pl.DataFrame:
    db_api = duckdb_api(threads=threads)
    try:
        linker = linker_for(kind, settings, records=rec_g, extract=ext_g, db_api=db_api)
        k = max(1, math.ceil(len(rec_g) / chunk_records))
        scored = linker.inference.predict(
            num_chunks_left=k if k > 1 else None,
            num_chunks_right=k if k > 1 else None,
            warning_mode="never",
        )
        rel = scored.as_duckdbpyrelation()
        counts = rel.aggregate("match_key, count(*) AS n", "match_key").fetchall()
        stats.comparisons = {names[int(key)]: int(n) for key, n in counts}
        kept = rel.filter(f"match_probability >= {float(min_probability)!r}")
        if kind == "link":
            # The two inputs' order in a pair follows their names: put records on the left.
            left_is_records = f"source_dataset_l = '{DATASETS[0]}'"
            ids = (
                f"CASE WHEN {left_is_records} THEN unique_id_l ELSE unique_id_r END AS record_id, "
                f"CASE WHEN {left_is_records} THEN unique_id_r ELSE unique_id_l END AS citizen_id"
            )
        else:
            ids = (
                "least(unique_id_l, unique_id_r) AS record_id_l, "
                "greatest(unique_id_l, unique_id_r) AS record_id_r"
            )
        extra = [c for c in kept.columns if c.startswith("mw_")]
        return kept.project(
            f"{ids}, match_probability, match_weight, CAST(match_key AS INTEGER) AS match_key, "
            + ", ".join(extra)
        ).pl()
    finally:
        db_api.duckdb_con.close()


def classify_pairs(
    pairs: pl.DataFrame,
    *,
    upper: float,
    lower: float,
    margin: float = 3.0,
    one_to_one: bool | None = None,
) -> pl.DataFrame:
    """Adds ``decision`` (accept / review / reject) and ``reason`` to scored pairs.

    accept: probability ≥ ``upper`` and, for registry links (``one_to_one``, the default when
    the pairs have a ``citizen_id``), the best pair of its record and of its citizen, ahead of
    either side's next candidate by at least ``margin`` match-weight bits ("auto"); so a record
    gets at most one citizen and a citizen at most one record. A pair above ``upper`` that
    loses or ties goes to review ("conflict"), as does any pair from ``lower`` up
    ("uncertain") — unless its record already has an accepted pair: then it is rejected
    ("superseded"). Below ``lower``: rejected ("low").
    """
    if not 0 <= lower <= upper <= 1:
        raise ValueError("Thresholds must satisfy 0 ≤ lower ≤ upper ≤ 1.")
    link = "citizen_id" in pairs.columns
    one_to_one = link if one_to_one is None else one_to_one
    high = pl.col("match_probability") >= upper
    low = pl.col("match_probability") < lower
    if not one_to_one:
        return pairs.with_columns(
            decision=pl.when(high)
            .then(pl.lit("accept"))
            .when(low)
            .then(pl.lit("reject"))
            .otherwise(pl.lit("review")),
            reason=pl.when(high)
            .then(pl.lit("auto"))
            .when(low)
            .then(pl.lit("low"))
            .otherwise(pl.lit("uncertain")),
        )
    a, b = ("record_id", "citizen_id") if link else ("record_id_l", "record_id_r")
    w = pl.col("match_weight")

    def _best_and_gap(side: str) -> list[pl.Expr]:
        second = pl.when(pl.len().over(side) > 1).then(w.top_k(2).min().over(side))
        return [
            (w.rank("ordinal", descending=True).over(side) == 1).alias(f"_best_{side}"),
            (w - second.fill_null(-math.inf)).alias(f"_gap_{side}"),
        ]

    frame = pairs.with_columns(*_best_and_gap(a), *_best_and_gap(b))
    wins = (
        high
        & pl.col(f"_best_{a}")
        & pl.col(f"_best_{b}")
        & (pl.col(f"_gap_{a}") >= margin)
        & (pl.col(f"_gap_{b}") >= margin)
    )
    frame = frame.with_columns(_accepted=wins)
    # Once a record is settled, its weaker candidates need no clerk; a strong one still does.
    superseded = pl.col("_accepted").any().over(a) & ~pl.col("_accepted") & ~high
    return frame.with_columns(
        decision=pl.when("_accepted")
        .then(pl.lit("accept"))
        .when(low | superseded)
        .then(pl.lit("reject"))
        .otherwise(pl.lit("review")),
        reason=pl.when("_accepted")
        .then(pl.lit("auto"))
        .when(low)
        .then(pl.lit("low"))
        .when(superseded)
        .then(pl.lit("superseded"))
        .when(high)
        .then(pl.lit("conflict"))
        .otherwise(pl.lit("uncertain")),
    ).drop(f"_best_{a}", f"_best_{b}", f"_gap_{a}", f"_gap_{b}", "_accepted")
