"""How far the category selection could go on taxis with nothing declared, whatever the budget split.

For ε = 1 and 3 at the fit's δ (1/(10 n)) on the test split's training rows it prints, for a few shares
of the whole budget given to the category step (the default plan gives it 0.21: 0.45 preprocessing over
two full steps and the order counts' tenth of one; 0.14 before 2026-12-05's 0.3), the fewest rows a zone needs to be kept by our two-round Gaussian selection when its rows'
other zone is rare too (each such row gives the zone 1/sqrt(2)): one column alone (round 2's threshold
times sqrt(2)), and, once round 1 has found that the two zone columns share a domain, pick-ups and
drop-offs together (that threshold times sqrt(2) again, for the summed noise, each column listing the
zone only where its own count clears the noise floor). Then the ceiling (fidelity / pairs of the real
training rows with every zone the shared rule would not keep read as ``other``, the noise-free best
case). Last, the group-privacy bound for any (ε, δ)-DP mechanism: a value only r rows have is released
with probability at most δ (e^{rε} - 1) / (e^ε - 1), so values under r* rows (where that is 1/2) are
kept less often than not, however the budget is spent.

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

SHARES = (0.14, 0.21, 0.3, 0.5, 1.0)
ZONES = ("pickup_zone", "dropoff_zone")


def ceiling(train: pd.DataFrame, test: pd.DataFrame, together: float, alone: float) -> tuple[float, float]:
    """The ceiling with a zone kept in a column when its pick-ups and drop-offs together reach
    ``together`` rows and this column's reach ``alone`` (noise-free)."""
    counts = {col: train[col].value_counts() for col in ZONES}
    summed = counts[ZONES[0]].add(counts[ZONES[1]], fill_value=0)
    kept = {col: {v for v, r in c.items() if r >= alone and summed[v] >= together} for col, c in counts.items()}
    fid = ceiling_of(train, test, kept)
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
    print(
        "| ε | category step's share of the budget | rows a zone needs: one column / both together | ceiling (fidelity / pairs) |"
    )
    print("|---|---|---|---|")
    for eps in (1.0, 3.0):
        for share in SHARES:
            multiplier = accounting.preprocessing_noise_multiplier(eps, delta - selection, share, 1)
            sigma = math.sqrt(k) * multiplier
            tau1, tau2 = dp_domains.category_thresholds(sigma, k, selection, k)
            floor = dp_domains.NOISE_FLOOR * dp_domains.category_sigmas(sigma, k)[1]
            alone, together = tau2 * math.sqrt(2), dp_domains.shared_threshold(tau2, 2) * math.sqrt(2)
            # do the zones round 1 keeps (noise-free) show the shared domain?
            counts = {col: train[col].value_counts() for col in ZONES}
            first = {col: set(c.index[c > tau1]) for col, c in counts.items()}
            shared = len(dp_domains.shared_domains(first)) == 1
            if shared:
                fid, pairs = ceiling(train, test, together, floor * math.sqrt(2))
            else:
                fid, pairs = ceiling(train, test, 0, alone)
            rows = f"{alone:.0f} / {together:.0f}" if shared else f"{alone:.0f} / – (round 1 keeps too few zones)"
            print(f"| {eps:g} | {share:g} | {rows} | {fid:.3f} / {pairs:.3f} |", flush=True)
        r_star = math.log(1 + 0.5 * (math.exp(eps) - 1) / delta) / eps
        fid, pairs = ceiling(train, test, 0, math.ceil(r_star))
        print(f"| {eps:g} | any mechanism (group privacy) | {r_star:.1f} | {fid:.3f} / {pairs:.3f} |", flush=True)


if __name__ == "__main__":
    main()
