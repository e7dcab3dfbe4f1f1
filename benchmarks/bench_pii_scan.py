"""Time a PII scan of 1,000,000 rows x 30 columns (target <= 3 s on 2 cores), locally and on local Spark.

The table is the sample generator's data (30 of its columns) at a million rows. The scan
samples rows for large tables (the default, 20,000), as Macie does; the same run also
scans the whole 20,000-row sample without sampling as a reference.

    .venv/bin/python benchmarks/bench_pii_scan.py [--rows 1000000] [--spark]

With ``--spark`` the same table (as Parquet) is scanned by the Spark job of ``pii_spark`` on a
local session; its time includes Spark's start-up.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from workshop_utils import pii
from workshop_utils.sample_data import COLUMNS, generate_bank_customers


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--spark", action="store_true", help="also scan on a local Spark session")
    args = parser.parse_args()
    truth = {c.raw_name: c.pii_type for c in COLUMNS if c.pii_type}
    big = generate_bank_customers(args.rows, seed=3).iloc[:, :30]
    small = generate_bank_customers(20_000, seed=4).iloc[:, :30]
    start = time.perf_counter()
    pii.scan(small, "20k", sample_rows=None)
    ref_s = time.perf_counter() - start
    start = time.perf_counter()
    rep = pii.scan(big, "1M")
    seconds = time.perf_counter() - start
    expected = {k: v for k, v in truth.items() if k in big.columns}
    print(f"table                    {args.rows:,} rows x {big.shape[1]} columns")
    print(
        f"scan                     {seconds:.1f} s   target <= 3 s   (rows scanned: {rep.rows_scanned:,}, sampled: {rep.sampled})"
    )
    print(f"reference: 20k rows, all {ref_s:.1f} s   ratio {seconds / ref_s:.2f}x")
    print(
        f"findings                 {len(rep.findings)}; exact vs data dictionary: {({f.column: f.type for f in rep.findings}) == expected}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.csv"
        big.to_csv(path, index=False)
        start = time.perf_counter()
        from_file = pii.scan_file(path, "1M")
        file_s = time.perf_counter() - start
    same = {(f.column, f.type) for f in from_file.findings} == {(f.column, f.type) for f in rep.findings}
    print(f"from the CSV file        {file_s:.1f} s (Polars streams it: count + sample); same findings: {same}")
    if args.spark:
        from workshop_utils import pii_spark

        start = time.perf_counter()
        on_spark = pii_spark.scan(big, "1M")
        spark_s = time.perf_counter() - start
        same = {(f.column, f.type) for f in on_spark.findings} == {(f.column, f.type) for f in rep.findings}
        print(f"on local Spark           {spark_s:.1f} s (start-up included); same findings: {same}")


if __name__ == "__main__":
    main()
