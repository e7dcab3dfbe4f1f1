"""Where the DP bounds of numeric columns land, on real tables with nothing declared.

For bank, diamonds and taxis (training rows of the test split) at ε = 1 and 3, every numeric column's
located histogram is built ``--fits`` times with the noise the fit's plan gives it (fresh OS randomness,
as in a fit), and the table prints per column: the real 99.9% quantile and maximum, the DP 99.9% quantile
(the top bin's edge) as median and worst over the fits, the share of real rows in no kept cell (clipped
to the bounds), and how many fits kept a cell past twice the data's span (noise read as a tail).

    .venv/bin/python benchmarks/tail_bounds.py [--fits 40]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_quality import DATA, load, split  # noqa: E402

from workshop_utils import dp  # noqa: E402
from workshop_utils.dp_domains import LocatedHistogram  # noqa: E402
from workshop_utils.encoding import on_whole_units, to_float  # noqa: E402
from workshop_utils.synth import DPTVAESynthesizer  # noqa: E402


def column_figures(x: np.ndarray, sigma: float, fits: int, whole_units: bool) -> tuple[float, float, float, int]:
    """(median and worst DP 99.9% quantile, mean share of rows in no kept cell, fits with far cells)."""
    x = x[~np.isnan(x)]
    span = x.max() - x.min()
    tops, clipped, far = [], [], 0
    for _ in range(fits):
        h = LocatedHistogram.build(x, sigma, np.random.default_rng(), whole_units=whole_units)
        tops.append(h.quantile(0.999))
        clipped.append(h.share_outside_kept(x))
        lo, hi = h.support()
        far += hi > x.max() + span or lo < x.min() - span
    return float(np.median(tops)), float(np.max(tops)), float(np.mean(clipped)), far


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fits", type=int, default=40)
    parser.add_argument("--tables", nargs="+", default=["bank", "diamonds", "taxis"])
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"{DATA} is missing: the benchmark reads the public tables from ../shared/datasets.")
    print(f"{args.fits} located histograms per column and ε, training rows of the test split")
    print("| table | ε | column | real 99.9% / max | DP 99.9%: median / worst | rows clipped | fits with far cells |")
    print("|---|---|---|---|---|---|---|")
    for name in args.tables:
        table, meta, target, task = load(name)
        train, _ = split(table, target, task, "test")
        n = len(train)
        for eps in (1.0, 3.0):
            synth = DPTVAESynthesizer(meta, epsilon=eps)
            # the plan the fit would make (public settings only): its noise for the numeric step
            mechanisms, plan = synth._mechanisms(meta, [], n, dp.default_delta(n), False)
            sigma = plan.step("numeric quantiles").sigma
            for col in mechanisms.numeric:
                kind = meta.columns[col].modeled_kind()
                x = to_float(train[col], kind)
                whole = on_whole_units(kind, meta.columns[col].integer)  # as the fit counts it
                med, worst, clipped, far = column_figures(x, sigma, args.fits, whole)
                q, top = np.nanquantile(x, 0.999), np.nanmax(x)
                print(
                    f"| {name} | {eps:g} | {col} | {q:.6g} / {top:.6g} | {med:.6g} / {worst:.6g} | {clipped:.2%} "
                    f"| {far}/{args.fits} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
