"""The linkage engine (``identity.linkage``) as the registry's runs use it: one model per kind,
trained once from a sample and reused, and pairs decided with the model's own thresholds."""

from pathlib import Path

import polars as pl

from .linkage import classify_pairs, latest_model, predict_pairs, train_model
from .linkage.prepare import RECORD_COLUMNS

__all__ = ["RECORD_COLUMNS", "duplicate_pairs", "link_pairs", "model_for"]


def model_for(
    kind: str,
    records: pl.DataFrame,
    extract: pl.DataFrame | None,
    *,
    models_dir: Path,
    link_model=None,
):
    """The latest saved model of ``kind``, or a new one trained on these data (a dedupe model
    takes its birth-date, province and parents' parameters from ``link_model``)."""
    found = latest_model(models_dir, kind)
    if found is not None:
        return found
    if kind == "dedupe":
        return train_model(kind, records, extract, models_dir=models_dir, link_model=link_model)
    return train_model(kind, records, extract, models_dir=models_dir)


def latest(kind: str, models_dir: Path):
    return latest_model(models_dir, kind)


def _decided(model, pairs: pl.DataFrame) -> pl.DataFrame:
    thresholds = model.thresholds
    return classify_pairs(
        pairs,
        upper=thresholds["upper"],
        lower=thresholds["lower"],
        margin=model.metadata.get("margin", 3.0),
    )


def link_pairs(model, records: pl.DataFrame, extract: pl.DataFrame) -> pl.DataFrame:
    """record_id, citizen_id, match_probability, match_weight, explanation, decision."""
    pairs = _decided(model, predict_pairs(model, records, extract))
    return pairs.select(
        "record_id", "citizen_id", "match_probability", "match_weight", "explanation", "decision"
    )


def duplicate_pairs(model, records: pl.DataFrame) -> pl.DataFrame:
    """record_id_l, record_id_r, match_probability, match_weight, explanation, decision."""
    pairs = _decided(model, predict_pairs(model, records))
    return pairs.select(
        "record_id_l", "record_id_r", "match_probability", "match_weight", "explanation",
        "decision",
    )  # fmt: skip
