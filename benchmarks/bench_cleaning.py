"""Time the default cleaning job on 1,000,000 generated rows with the sample's dirt.

Target (issue 3): <= 30 s and peak memory <= 4 GiB on a 2-core machine.
Also times the same job on the 20,000-row sample as a same-run reference, so the
per-row cost ratio shows whether the job scales linearly.

    .venv/bin/python benchmarks/bench_cleaning.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import resource
import time

from workshop_utils import catalog, cleaning
from workshop_utils.sample_data import generate_bank_customers


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux reports KiB


def time_job(n: int) -> tuple[float, float, int, dict]:
    raw = generate_bank_customers(n, seed=1).astype("string").astype(object)  # text, as read from CSV
    raw = raw.where(raw.notna(), None)
    start = time.perf_counter()
    result = cleaning.run_job(raw)
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    size = len(catalog.parquet_bytes(result.table, result.types))
    return seconds, time.perf_counter() - start, size, result.report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    ref_s, _, _, _ = time_job(20_000)
    seconds, write_s, size, report = time_job(args.rows)
    per_row_ratio = (seconds / args.rows) / (ref_s / 20_000)
    print(f"rows                     {args.rows:,}")
    print(f"default job              {seconds:.1f} s  ({args.rows / seconds:,.0f} rows/s)   target <= 30 s")
    steps = ", ".join(f"{s['step']} {s['seconds']:.1f}s" for s in report["steps"])
    print(f"  by step                {steps}")
    print(f"parquet encode           {write_s:.1f} s, {size / 2**20:.0f} MiB")
    print(f"peak memory (process)    {peak_rss_gib():.2f} GiB   target <= 4 GiB")
    print(f"per-row cost vs 20k rows {per_row_ratio:.2f}x  (1.0 = linear scaling)")
    print(
        f"rows out / quarantined / duplicates: {report['rows_out']:,} / {report['rows_quarantined']:,} / {report['duplicates_removed']:,}"
    )


if __name__ == "__main__":
    main()
