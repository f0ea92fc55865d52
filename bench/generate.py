"""Benchmark ``vnemis generate``: N pupils with enrolments, results and health into a temp dir.

Prints a human summary, then as the last line one JSON object. The reference, measured in the
same run, is Polars' own Parquet writer on the very same data: the generated files are read back
and only the ``write_parquet`` calls are timed, so ``ratio_vs_reference`` says how many times
longer generating the data takes than merely writing it (1.0 would be free generation).
"""

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import polars as pl

from vnemis.registry.generate import GenerateConfig, generate

NATIONAL_PUPILS = 24_000_000


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--format", default="parquet", choices=["parquet", "csv"])
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="vnemis-bench-") as tmp:
        out = Path(tmp) / "data"
        started = time.perf_counter()
        summary = generate(
            GenerateConfig(out=out, students=args.students, seed=args.seed, fmt=args.format)
        )
        seconds = time.perf_counter() - started
        peak = peak_rss_mb()  # before the reference step reads files back
        rows = sum(summary["counts"].values())
        size_mb = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 1e6

        ref_seconds = 0.0
        ref_dir = Path(tmp) / "reference"
        ref_dir.mkdir()
        for name in summary["entities"]:
            path = out / f"{name}.{args.format}"
            frame = pl.read_parquet(path) if args.format == "parquet" else pl.read_csv(path)
            t = time.perf_counter()
            frame.write_parquet(ref_dir / f"{name}.parquet")
            ref_seconds += time.perf_counter() - t
            del frame

    print(f"vnemis generate: {args.students:,} pupils, {os.cpu_count()} cores, {args.format}")
    for name, count in summary["counts"].items():
        print(f"  {name:<18} {count:>12,} rows")
    print(f"  total              {rows:>12,} rows, {size_mb:,.0f} MB on disk")
    print(f"  generated in {seconds:.1f} s ({rows / seconds:,.0f} rows/s), peak RSS {peak:,.0f} MB")
    print(
        f"  reference: polars write_parquet of the same frames {ref_seconds:.1f} s "
        f"→ generation takes {seconds / ref_seconds:.1f}× a bare write"
    )
    projected = seconds * NATIONAL_PUPILS / args.students
    print(f"  projected national (24 M pupils, chunked, linear): {projected / 60:.1f} min")
    print(
        json.dumps(
            {
                "students": args.students,
                "seconds": round(seconds, 2),
                "rows": rows,
                "rows_per_s": round(rows / seconds),
                "peak_rss_mb": round(peak),
                "projected_national_s": round(projected),
                "reference": "polars write_parquet of the same frames (write only)",
                "reference_seconds": round(ref_seconds, 2),
                "ratio_vs_reference": round(seconds / ref_seconds, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
