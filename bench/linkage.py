"""Benchmark: probabilistic linkage of pupils without a usable citizen ID to the population
registry, and the search for pupils enrolled twice (``vnemis.identity.linkage``).

Generates, in a child process and not timed, N persons with ``vnemis generate`` at realistic
noise — by default 5% each of typing errors, names without diacritics, names in NFD, day and
month swapped, and 1% of pupils enrolled a second time at another school under another spelling
— into a temporary directory. The N noisy pupil records (the planted second enrolments aside)
are the records, all treated as having no usable citizen ID; the extract is the registry's
citizens of the same birth years (``registry/citizens.parquet``: about 2 N, with people not in
school, look-alikes and twins of pupils). Then times, in this process:

(a) preparing both sides (normalised names and dates), (b) training the link model on a sample
(u from random pairs, m by EM), (c) predicting all N in chunks by birth year and classifying the
pairs (accept, review, reject; one-to-one); then, on all pupil rows (N and the planted copies):
(d) training the dedupe model (names learnt from the records, the other fields from the link
model) and (e) predicting and classifying duplicate pairs.

Precision and recall of auto-accepted pairs are measured against the generator's ground truth;
``review_queue`` is the number of pairs left for a clerk. DuckDB uses ``--threads`` threads.

    .venv/bin/python bench/linkage.py [--persons 200000] [--noise-rate 0.05]
        [--duplicate-rate 0.01] [--seed 1] [--threads 2]

The last line is one JSON object: persons, seconds (a–e: end to end, training included,
generation excluded), peak_rss_mb (this process and its children, generator included),
precision, recall, review_queue, dup_precision, dup_recall, and the parts: prepare_seconds,
train_seconds, predict_seconds, dedupe_seconds, comparisons (per blocking rule), thresholds, ...
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def _generate(out: Path, persons: int, noise_rate: float, duplicate_rate: float, seed: int):
    from vnemis.registry.generate import GenerateConfig, NoiseConfig, generate

    noise = NoiseConfig(
        typo=noise_rate,
        no_diacritics=noise_rate,
        nfd=noise_rate,
        date_swap=noise_rate,
        duplicate=duplicate_rate,
    )
    summary = generate(GenerateConfig(out=out, students=persons, seed=seed, noise=noise))
    print(json.dumps({"seconds": summary["seconds"], "peak_rss_mb": peak_rss_mb()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=200_000)
    parser.add_argument("--noise-rate", type=float, default=0.05)
    parser.add_argument("--duplicate-rate", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--generate-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate_only:
        _generate(args.generate_only, args.persons, args.noise_rate, args.duplicate_rate, args.seed)
        return

    with tempfile.TemporaryDirectory(prefix="vnemis-bench-linkage-") as tmp:
        data = Path(tmp) / "data"
        child = subprocess.run(
            [sys.executable, __file__, "--generate-only", str(data), *sys.argv[1:]],
            check=True,
            capture_output=True,
            text=True,
        )
        generated = json.loads(child.stdout.strip().splitlines()[-1])
        result = _run(data, Path(tmp) / "models", args)
    result["generate_seconds"] = round(generated["seconds"], 2)
    result["generate_peak_rss_mb"] = round(generated["peak_rss_mb"], 1)
    result["peak_rss_mb"] = round(max(peak_rss_mb(), peak_rss_mb(resource.RUSAGE_CHILDREN)), 1)
    _summary(result)
    print(json.dumps(result))


def _run(data: Path, models: Path, args) -> dict:
    import polars as pl

    from vnemis.identity.linkage import (
        classify_pairs,
        evaluate_duplicates,
        evaluate_links,
        predict_pairs,
        prepare_extract,
        prepare_records,
        train_model,
    )
    from vnemis.identity.linkage.dataset import load_generated

    loaded = load_generated(data)
    link_ids = loaded.truth.filter(~pl.col("is_copy"))["record_id"].implode()
    records = loaded.records.filter(pl.col("record_id").is_in(link_ids))
    truth = loaded.truth.filter(pl.col("record_id").is_in(link_ids))

    started = time.perf_counter()
    rec = prepare_records(records)
    ext = prepare_extract(loaded.extract)
    prepared = time.perf_counter()
    link = train_model("link", rec, ext, models_dir=models, prepared=True)
    trained = time.perf_counter()
    chunks = []
    pairs = predict_pairs(
        link, rec, ext, prepared=True, threads=args.threads, on_chunk=chunks.append
    )
    decided = classify_pairs(pairs, **link.thresholds, margin=link.metadata["margin"])
    linked = time.perf_counter()

    all_rec = prepare_records(loaded.records)
    dedupe = train_model("dedupe", all_rec, models_dir=models, link_model=link, prepared=True)
    dedupe_trained = time.perf_counter()
    dup_pairs = predict_pairs(dedupe, all_rec, prepared=True, threads=args.threads)
    dup_decided = classify_pairs(dup_pairs, **dedupe.thresholds)
    done = time.perf_counter()

    links = evaluate_links(decided, truth)
    dups = evaluate_duplicates(dup_decided, loaded.truth)
    comparisons: dict[str, int] = {}
    for chunk in chunks:
        for rule, n in chunk.comparisons.items():
            comparisons[rule] = comparisons.get(rule, 0) + n
    return {
        "persons": len(records),
        "seconds": round(done - started, 2),
        "peak_rss_mb": None,  # filled in by main
        "precision": links["precision"],
        "recall": links["recall"],
        "review_queue": links["review_queue"],
        "dup_precision": dups["precision"],
        "dup_recall": dups["recall"],
        "link_seconds": round(linked - started, 2),
        "prepare_seconds": round(prepared - started, 2),
        "train_seconds": round(trained - prepared, 2),
        "predict_seconds": round(linked - trained, 2),
        "dedupe_seconds": round(done - linked, 2),
        "dedupe_train_seconds": round(dedupe_trained - linked, 2),
        "dedupe_predict_seconds": round(done - dedupe_trained, 2),
        "extract": len(loaded.extract),
        "extract_source": loaded.source,
        "comparisons": comparisons,
        "comparisons_total": sum(comparisons.values()),
        "candidate_pairs": len(pairs),
        "chunks": len(chunks),
        "accepted": links["accepted"],
        "review_records": links["review_records"],
        "review_open_records": links["review_open_records"],
        "review_with_true_pair": links["review_with_true_pair"],
        "candidate_recall": links["candidate_recall"],
        "recall_by_noise": {k: v["recall"] for k, v in links["recall_by_noise"].items()},
        "dup_records": dups["records"],
        "dup_true_pairs": dups["true_pairs"],
        "dup_accepted": dups["accepted"],
        "dup_review_queue": dups["review_queue"],
        "dup_review_true": dups["review_true"],
        "dup_candidate_recall": dups["candidate_recall"],
        "dup_found": round(
            (dups["accepted_correct"] + dups["review_true"]) / max(dups["true_pairs"], 1), 4
        ),
        "thresholds": {"link": link.thresholds, "dedupe": dedupe.thresholds},
        "margin": link.metadata["margin"],
        "models": {"link": link.name, "dedupe": dedupe.name},
        "match_rate": round(link.match_rate, 4),
        "dup_match_rate": round(dedupe.match_rate, 5),
        "sample_records": link.metadata["sample_records"],
        "threads": args.threads,
        "noise_rate": args.noise_rate,
        "duplicate_rate": args.duplicate_rate,
        "seed": args.seed,
    }


def _summary(r: dict) -> None:
    print(
        f"linkage of {r['persons']:,} pupils without a citizen ID to {r['extract']:,} registry "
        f"citizens ({r['extract_source']}), noise {r['noise_rate']:.0%} per kind, "
        f"{r['threads']} DuckDB threads"
    )
    print(
        f"  prepare {r['prepare_seconds']:.1f} s · train {r['train_seconds']:.1f} s (sample "
        f"{r['sample_records']:,}) · predict + classify {r['predict_seconds']:.1f} s "
        f"({r['comparisons_total']:,} comparisons, {r['chunks']} chunks)"
    )
    for rule, n in r["comparisons"].items():
        print(f"    {rule:<48} {n:>12,}")
    print(
        f"  auto-accepted {r['accepted']:,}: precision {r['precision']:.4f}, recall "
        f"{r['recall']:.4f}; review {r['review_queue']:,} pairs for {r['review_records']:,} "
        f"records, {r['review_open_records']:,} of them without an accepted pair (their true "
        f"pair among the reviewed: {r['review_with_true_pair']:.1%})"
    )
    print(
        f"  duplicates among {r['dup_records']:,} rows ({r['dup_true_pairs']:,} planted): "
        f"{r['dedupe_seconds']:.1f} s, accepted {r['dup_accepted']:,}, precision "
        f"{r['dup_precision']:.4f}, recall {r['dup_recall']:.4f}; review "
        f"{r['dup_review_queue']:,} ({r['dup_review_true']:,} true; accepted or reviewed: "
        f"{r['dup_found']:.1%} of the planted)"
    )
    print(
        f"  end to end {r['seconds']:.1f} s (generation {r['generate_seconds']:.1f} s apart), "
        f"peak RSS {r['peak_rss_mb']:,.0f} MB"
    )


if __name__ == "__main__":
    main()
