"""How far the category selection could go on taxis with nothing declared, whatever the budget split.

For ε = 1 and 3 at the fit's δ (1/(10 n)) on the test split's training rows it prints, for a few shares
of the whole budget given to the category step (the default plan gives it 0.15: 0.3 preprocessing over
two steps), the fewest rows a zone needs to be kept by our two-round Gaussian selection when its rows'
other zone is rare too (round 2's threshold times sqrt(2)), and the ceiling (fidelity / pairs of the
real training rows with every zone under that many rows read as ``other``, the noise-free best case).
Then the group-privacy bound for any (ε, δ)-DP mechanism: a value only r rows have is released with
probability at most δ (e^{rε} - 1) / (e^ε - 1), so values under r* rows (where that is 1/2) are kept
less often than not, however the budget is spent.

    .venv/bin/python benchmarks/selection_bound.py
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_quality import DATA, ceiling_of, load, split  # noqa: E402

from workshop_utils import accounting, dp, dp_domains  # noqa: E402

SHARES = (0.15, 0.3, 0.5, 1.0)
ZONES = ("pickup_zone", "dropoff_zone")


def ceiling(train: pd.DataFrame, test: pd.DataFrame, rows: float) -> tuple[float, float]:
    """The ceiling with every zone under ``rows`` rows read as ``other`` (noise-free)."""
    counts = {col: train[col].value_counts() for col in ZONES}
    fid = ceiling_of(train, test, {col: set(c.index[c >= rows]) for col, c in counts.items()})
    return fid["overall"], fid["pairs_overall"]


def main() -> None:
    if not DATA.exists():
        sys.exit(f"{DATA} is missing: the benchmark reads the public tables from ../shared/datasets.")
    table, meta, target, task = load("taxis")
    train, test = split(table, target, task, "test")
    n, k = len(train), sum(meta.columns[c].modeled_kind() == "categorical" for c in meta.modeled)
    delta = dp.default_delta(n)
    selection = accounting.SELECTION_DELTA_SHARE * delta
    print(f"taxis, test split: {n:,} training rows, {k} categorical columns, delta {delta:g}")
    print("| ε | category step's share of the budget | rows a zone needs | ceiling (fidelity / pairs) |")
    print("|---|---|---|---|")
    for eps in (1.0, 3.0):
        for share in SHARES:
            multiplier = accounting.preprocessing_noise_multiplier(eps, delta - selection, share, 1)
            tau2 = dp_domains.category_thresholds(math.sqrt(k) * multiplier, k, selection, k)[1]
            rows = tau2 * math.sqrt(2)
            fid, pairs = ceiling(train, test, rows)
            print(f"| {eps:g} | {share:g} | {rows:.0f} | {fid:.3f} / {pairs:.3f} |", flush=True)
        r_star = math.log(1 + 0.5 * (math.exp(eps) - 1) / delta) / eps
        fid, pairs = ceiling(train, test, math.ceil(r_star))
        print(f"| {eps:g} | any mechanism (group privacy) | {r_star:.1f} | {fid:.3f} / {pairs:.3f} |", flush=True)


if __name__ == "__main__":
    main()
