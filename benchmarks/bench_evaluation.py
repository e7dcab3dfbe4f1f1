"""Full evaluation speed on bank-marketing: fidelity with pairs, ML utility, both attacks.

The table is ../shared/datasets/bank-marketing-full.csv split 80/20 (stratified on y, seed 0).
The "synthetic" table has as many rows as the training part; it comes from our TVAE trained
for a few epochs without DP (its quality does not matter here, only its size and types).
Prints the time of each part and the total against the 60 s goal (2 cores). As a reference
measured in the same run, it also prints the time of one gradient-boosting fit on the
training part, so the ratio can be compared across machines.

    .venv/bin/python benchmarks/bench_evaluation.py [--sdmetrics]
"""

from __future__ import annotations

import argparse
import time

from bench_training import load_split
from sklearn.ensemble import HistGradientBoostingClassifier

from workshop_utils import evaluation, report
from workshop_utils.metadata import TableMetadata, types_from_dtypes
from workshop_utils.synth import DPTVAESynthesizer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sdmetrics", action="store_true", help="also time SDMetrics' QualityReport")
    args = parser.parse_args()
    train, holdout = load_split()
    meta = TableMetadata.detect(train, types=types_from_dtypes(train))  # bank-marketing's documented schema
    for col in meta.columns:  # documented: no missing values
        meta.set_nullable(col, False)
    meta.set_role("y", "target", task="classification")
    synthetic = DPTVAESynthesizer(meta, epsilon=None, epochs=3, batch_size=1000, progress=False).fit(train)
    synthetic = synthetic.sample(len(train))

    start = time.perf_counter()
    X = evaluation._features([train], "y")[0]
    HistGradientBoostingClassifier(random_state=0).fit(X, train["y"].astype(int))
    reference_s = time.perf_counter() - start

    start = time.perf_counter()
    metrics = report.evaluate(train, holdout, synthetic, "y", sdmetrics=args.sdmetrics)
    total = time.perf_counter() - start
    rows = len(train) + len(holdout)
    print(
        f"bank-marketing: {len(train):,} training + {len(holdout):,} holdout rows ({rows:,} in all), "
        f"{len(synthetic):,} synthetic rows, {len(metrics['columns'])} columns, "
        f"{len(metrics['fidelity'].get('pairs', {}))} column pairs"
    )
    for part, seconds in metrics["seconds"].items():
        print(f"  {part:10s} {seconds:7.2f} s")
    print(f"full evaluation: {total:.1f} s (goal <= 60 s on 2 cores)")
    print(
        f"reference, one gradient-boosting fit on the training part: {reference_s:.2f} s -> ratio {total / reference_s:.1f}x"
    )


if __name__ == "__main__":
    main()
