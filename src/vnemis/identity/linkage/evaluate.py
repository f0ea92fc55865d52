"""Precision and recall of classified pairs against the generator's ground truth.

Registry links: of the auto-accepted pairs, the share linking a record to its person's citizen
(precision), and the share of records whose citizen is in the extract that were so linked
(recall); the review queue (pairs, records, and records with no accepted pair — whose true pair
should be in it), and the recall of the blocking (the true pair among the candidates at all). Duplicates: the same over pairs of
records of one person.
"""

import polars as pl


def _ratio(a: int, b: int) -> float:
    return round(a / b, 6) if b else 1.0


def evaluate_links(classified: pl.DataFrame, truth: pl.DataFrame) -> dict:
    """Figures for ``classify_pairs`` output of a link model; ``truth`` (``GeneratedData.truth``)
    restricted to the records that were linked."""
    truth = truth.select("record_id", "true_citizen_id", "noise")
    linkable = truth.filter(pl.col("true_citizen_id").is_not_null())
    pairs = classified.join(truth, on="record_id", how="left").with_columns(
        correct=(pl.col("citizen_id") == pl.col("true_citizen_id")).fill_null(False)
    )
    accepted = pairs.filter(pl.col("decision") == "accept")
    review = pairs.filter(pl.col("decision") == "review")
    correct = int(accepted["correct"].sum())
    found = pairs.filter("correct")["record_id"].n_unique()
    review_records = review["record_id"].n_unique()
    # Records left to the clerk (no pair accepted), and whether their citizen is among the pairs.
    open_review = review.filter(~pl.col("record_id").is_in(accepted["record_id"].implode()))
    open_records = open_review["record_id"].n_unique()
    open_found = open_review.filter("correct")["record_id"].n_unique()
    per_noise = (
        linkable.with_columns(pl.col("noise").fill_null("none").str.split(";").list.first())
        .join(
            accepted.filter("correct").select("record_id").with_columns(linked=pl.lit(True)),
            on="record_id",
            how="left",
        )
        .group_by("noise")
        .agg(pl.len().alias("records"), pl.col("linked").fill_null(False).mean().alias("recall"))
        .sort("noise")
    )
    return {
        "records": len(truth),
        "linkable": len(linkable),
        "accepted": len(accepted),
        "accepted_correct": correct,
        "precision": _ratio(correct, len(accepted)),
        "recall": _ratio(correct, len(linkable)),
        "review_queue": len(review),
        "review_records": review_records,
        "review_open_records": open_records,
        "review_with_true_pair": _ratio(open_found, open_records),
        "candidate_recall": _ratio(found, len(linkable)),
        "recall_by_noise": {
            row["noise"]: {"records": row["records"], "recall": round(row["recall"], 4)}
            for row in per_noise.iter_rows(named=True)
        },
    }


def true_duplicate_pairs(truth: pl.DataFrame) -> pl.DataFrame:
    """Pairs (record_id_l < record_id_r) of records of one person."""
    people = truth.select("record_id", "person_id").filter(pl.col("person_id").is_not_null())
    pairs = people.join(people, on="person_id", suffix="_r").filter(
        pl.col("record_id") < pl.col("record_id_r")
    )
    return pairs.select(
        pl.col("record_id").alias("record_id_l"), pl.col("record_id_r").alias("record_id_r")
    )


def evaluate_duplicates(classified: pl.DataFrame, truth: pl.DataFrame) -> dict:
    """Figures for ``classify_pairs`` output of a dedupe model over the records in ``truth``."""
    true_pairs = true_duplicate_pairs(truth).with_columns(true=pl.lit(True))
    pairs = classified.join(true_pairs, on=["record_id_l", "record_id_r"], how="left").with_columns(
        pl.col("true").fill_null(False)
    )
    accepted = pairs.filter(pl.col("decision") == "accept")
    review = pairs.filter(pl.col("decision") == "review")
    correct = int(accepted["true"].sum())
    return {
        "records": len(truth),
        "true_pairs": len(true_pairs),
        "accepted": len(accepted),
        "accepted_correct": correct,
        "precision": _ratio(correct, len(accepted)),
        "recall": _ratio(correct, len(true_pairs)),
        "review_queue": len(review),
        "review_true": int(review["true"].sum()),
        "candidate_recall": _ratio(int(pairs["true"].sum()), len(true_pairs)),
    }
