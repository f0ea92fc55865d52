"""Probabilistic record linkage (Splink, DuckDB backend): pure data, no Django models.

Two models: ``link`` finds, for our records without a usable citizen ID, their citizen in the
population registry's cohort extract; ``dedupe`` finds pupils enrolled twice in our registry.

    records, extract = prepare_records(ours), prepare_extract(cohort)          # prepare.py
    model = train_model("link", records, extract, models_dir=VAR_DIR / "models" / "linkage",
                        prepared=True)                    # model.py: link-v<N>.json
    pairs = predict_pairs(model, records, extract, prepared=True)      # predict.py
    decided = classify_pairs(pairs, **model.thresholds)   # accept / review / reject
    evaluate_links(decided, truth)                        # evaluate.py, on generated data

See docs/linkage.md for the comparisons, blocking rules, thresholds and measured figures.
"""

from .evaluate import evaluate_duplicates, evaluate_links
from .model import TrainedModel, latest_model, load_model, save_metrics, train_model
from .predict import ChunkStats, classify_pairs, predict_pairs
from .prepare import derive_extract_columns, prepare_extract, prepare_records

__all__ = [
    "ChunkStats",
    "TrainedModel",
    "classify_pairs",
    "derive_extract_columns",
    "evaluate_duplicates",
    "evaluate_links",
    "latest_model",
    "load_model",
    "predict_pairs",
    "prepare_extract",
    "prepare_records",
    "save_metrics",
    "train_model",
]
