"""Training speed and quality on bank-marketing: our TVAE without DP, our DP-TVAE, SDV's TVAE.

At equal epochs on one fixed 80/20 stratified split (seed 0) of
../shared/datasets/bank-marketing-full.csv, prints fit time, time per epoch, rows/s, and
quality on the held-out real 20%: fidelity (mean over columns of exp(-KL), numbers on 20
real-quantile bins) and ML utility (gradient-boosting ROC AUC trained on synthetic, tested
on real: TSTR, against trained on real: TRTR). Ratios are taken within this run.

    .venv/bin/python benchmarks/bench_training.py [--epochs 60] [--epsilon 3] [--batch-size 1000] [--no-sdv]

SDV is installed with the package.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split

from workshop_utils import cleaning
from workshop_utils.evaluation import fidelity_score, ml_utility
from workshop_utils.metadata import TableMetadata, types_from_dtypes
from workshop_utils.synth import DPTVAESynthesizer

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "bank-marketing-full.csv"


def load_split(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    raw = pd.read_csv(DATA, dtype=str)
    table = cleaning.run_job(raw, cleaning.infer_job(raw, "bank_marketing")).table
    train, test = train_test_split(table, test_size=0.2, stratify=table["y"], random_state=seed)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def quality(train: pd.DataFrame, test: pd.DataFrame, synthetic: pd.DataFrame) -> dict[str, float]:
    u = ml_utility(train, synthetic, test, "y")["headline"]
    return {
        "fidelity": fidelity_score(test, synthetic)["overall"],
        "TSTR": u["TSTR"]["roc_auc"],
        "TRTR": u["TRTR"]["roc_auc"],
        "TSTR/TRTR": u["ratio"],
    }


def fit_ours(train: pd.DataFrame, epsilon: float | None, args: argparse.Namespace) -> dict:
    meta = TableMetadata.detect(train, types=types_from_dtypes(train))  # bank-marketing's documented schema
    for col in meta.columns:  # documented: no missing values
        meta.set_nullable(col, False)
    meta.set_role("y", "target", task="classification")
    synth = DPTVAESynthesizer(
        meta,
        epsilon=epsilon,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        target_weight=args.target_weight,
        condition_on_target=not args.no_condition,
        device=args.device,
        progress=False,
        seed=args.seed,
    )
    start = time.perf_counter()
    synth.fit(train)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    synthetic = synth.sample(len(train))
    return {
        "fit_s": fit_s,
        "epoch_s": float(np.median(synth.epoch_seconds_)),
        "sample_s": time.perf_counter() - start,
        "synthetic": synthetic,
        "epsilon": synth.epsilon_spent,
    }


def fit_sdv(train: pd.DataFrame, args: argparse.Namespace) -> dict:
    from contender import make_sdv, numpy_types

    data = numpy_types(train)
    synth = make_sdv("sdv_tvae", data, args.epochs)
    start = time.perf_counter()
    synth.fit(data)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    synthetic = synth.sample(len(train))
    synthetic["y"] = synthetic["y"].astype(bool)
    return {
        "fit_s": fit_s,
        "epoch_s": fit_s / args.epochs,
        "sample_s": time.perf_counter() - start,
        "synthetic": synthetic,
        "epsilon": float("inf"),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--epsilon", type=float, default=3.0)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--target-weight", type=float, default=1.0)
    parser.add_argument("--no-condition", action="store_true", help="do not condition the decoder on y")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-sdv", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    train, test = load_split()
    runs = {
        "ours, no DP": fit_ours(train, None, args),
        f"ours, DP eps={args.epsilon:g}": fit_ours(train, args.epsilon, args),
    }
    if not args.no_sdv:
        runs["SDV TVAE, no DP"] = fit_sdv(train, args)
    base = runs["ours, no DP"]
    device = "cuda" if (args.device != "cpu" and torch.cuda.is_available()) else "cpu"
    print(
        f"bank-marketing: {len(train):,} training rows, {len(test):,} holdout rows; {args.epochs} epochs, "
        f"batch {args.batch_size}, device {device}, torch threads {torch.get_num_threads()}"
    )
    header = f"{'synthesizer':22s} {'fit s':>8s} {'epoch s':>8s} {'rows/s':>9s} {'vs no-DP':>9s} {'fidelity':>9s} {'TSTR':>7s} {'TRTR':>7s} {'ratio':>7s} {'epsilon':>8s}"
    print(header)
    for name, r in runs.items():
        q = quality(train, test, r["synthetic"])
        print(
            f"{name:22s} {r['fit_s']:8.1f} {r['epoch_s']:8.2f} {len(train) / r['epoch_s']:9,.0f} "
            f"{r['epoch_s'] / base['epoch_s']:8.2f}x {q['fidelity']:9.4f} {q['TSTR']:7.4f} {q['TRTR']:7.4f} "
            f"{q['TSTR/TRTR']:7.3f} {r['epsilon']:8.3f}"
        )
    dp_run = runs[f"ours, DP eps={args.epsilon:g}"]
    print(f"DP epoch / non-DP epoch: {dp_run['epoch_s'] / base['epoch_s']:.2f}x (target <= 1.5x)")
    if "SDV TVAE, no DP" in runs:
        print(
            f"our DP fit / SDV non-private fit: {dp_run['fit_s'] / runs['SDV TVAE, no DP']['fit_s']:.2f}x (target <= 1.0x)"
        )


if __name__ == "__main__":
    main()
