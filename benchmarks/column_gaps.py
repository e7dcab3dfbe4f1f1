"""Where one DP fit falls short of its ceiling, column by column and pair by pair.

One fit of a table at one epsilon (defaults, nothing declared, ``bench_quality``'s split), scored
against the held-out rows beside its ceiling (the training rows with every category the fit did not
keep read as ``other``; see ``bench_quality.ceiling``). It prints each column's fidelity and the
ceiling's, each column's mean gap over its pairs, and the widest pair gaps: the columns worth work
are those far under their own ceiling (2026-12-06, taxis at epsilon 3: `passengers` 0.936 against
0.999, the zone columns at theirs).

    .venv/bin/python benchmarks/column_gaps.py [--table taxis] [--epsilon 3] [--split validation]
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_quality import DATA, TABLES, ceiling_of, kept_values, load, split  # noqa: E402

from workshop_utils.evaluation import fidelity_score  # noqa: E402
from workshop_utils.synth import DPTVAESynthesizer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--table", choices=list(TABLES), default="taxis")
    parser.add_argument("--epsilon", type=float, default=3.0)
    parser.add_argument("--split", choices=("test", "validation"), default="validation")
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"{DATA} is missing: the benchmark reads the public tables from ../shared/datasets.")
    table, meta, target, task = load(args.table)
    train, test = split(table, target, task, args.split)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        synth = DPTVAESynthesizer(meta, epsilon=args.epsilon, progress=False).fit(train)
    columns = [e.name for e in synth.encodings_]
    kept = kept_values(synth)
    ours = fidelity_score(test, synth.sample(len(train)), columns, pairs=True, max_pairs=150)
    best = ceiling_of(train[columns], test, kept)  # the same 150 pairs (seed 0)
    print(f"{args.table}, epsilon {args.epsilon:g}, {args.split} split: fidelity / ceiling")
    print(
        f"overall {ours['overall']:.3f} / {best['overall']:.3f}, pairs {ours['pairs_overall']:.3f} / {best['pairs_overall']:.3f}"
    )
    print("| column | fidelity | ceiling | gap | mean pair gap |")
    print("|---|---|---|---|---|")
    for col in sorted(columns, key=lambda c: ours["columns"][c] - best["columns"][c]):
        gaps = [best["pairs"][p] - ours["pairs"][p] for p in ours["pairs"] if col in p.split(" x ")]
        print(
            f"| {col} | {ours['columns'][col]:.3f} | {best['columns'][col]:.3f} | "
            f"{best['columns'][col] - ours['columns'][col]:+.3f} | {np.mean(gaps) if gaps else 0.0:+.3f} |"
        )
    print("widest pair gaps:")
    for pair in sorted(ours["pairs"], key=lambda p: ours["pairs"][p] - best["pairs"][p])[:10]:
        print(f"  {pair}: {ours['pairs'][pair]:.3f} / {best['pairs'][pair]:.3f}")


if __name__ == "__main__":
    main()
