"""Can the attacks see a leak? The targeted shadow-model attack against DCR, and the empirical
epsilon lower bound beside the claimed epsilon.

Tables of 4,000 rows, split 2,000 training / 2,000 holdout (the attacker's auxiliary data):

* ``sample``: the workshop's bank-customer sample (clean, its direct identifiers dropped);
* ``bank``: ../shared/datasets/bank-marketing-full.csv (skipped with a note when absent).

For each table and each model (no DP, epsilon 3, epsilon 1), our synthesizer at its default
settings is the target model. The shadow attack runs at ``ShadowSettings.full()`` (or
``--shadows``) and prints per target AUC, TPR at 1% FPR, the AUC of DCR on the same games and
the empirical epsilon; then, for the rare targets pooled, the same; then the untargeted DCR
attack (1,000 members, 1,000 non-members) on one real fit.

    .venv/bin/python benchmarks/bench_attacks.py [--tables sample bank] [--epsilons none 3 1] [--shadows 48]
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from workshop_utils import attacks, cleaning, sample_data
from workshop_utils.metadata import TableMetadata, types_from_dtypes
from workshop_utils.synth import DPTVAESynthesizer
from workshop_utils.targeted_attack import ShadowSettings, shadow_attack, shadows_of

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
ROWS = 2000
IDENTIFIERS = [  # the sample's direct identifiers: notebook 03 removes them before any model sees the table
    "Customer ID",
    "Full Name",
    "EMAIL",
    "phone_number",
    "SSN",
    "Street Address",
    "City",
    "ZIP Code",
    "Account Number",
    "IBAN",
    "Credit Card Number",
    "IP Address",
    "Notes",
    "Date of Birth",
    "Application Date",
]


def load(table: str) -> tuple[pd.DataFrame, pd.DataFrame, str] | None:
    if table == "sample":
        df = sample_data._clean_customers(2 * ROWS, np.random.default_rng(7), 7).drop(columns=IDENTIFIERS)
        target = "Default"
    else:
        path = SHARED / "bank-marketing-full.csv"
        if not path.exists():
            print(f"skipping bank: {path} is absent")
            return None
        raw = pd.read_csv(path, dtype=str).sample(2 * ROWS, random_state=7)
        df = cleaning.run_job(raw, cleaning.infer_job(raw, "bank_marketing")).table
        target = "y"
    df = df.reset_index(drop=True)
    return df.iloc[:ROWS].reset_index(drop=True), df.iloc[ROWS:].reset_index(drop=True), target


def metadata(train: pd.DataFrame, target: str) -> TableMetadata:
    meta = TableMetadata.detect(train, types=types_from_dtypes(train))
    return meta.set_role(target, "target", task="classification")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tables", nargs="+", default=["sample", "bank"])
    parser.add_argument("--epsilons", nargs="+", default=["none", "3", "1"])
    parser.add_argument("--shadows", type=int, default=None, help="shadow synthesizers (default: full setting)")
    parser.add_argument("--epochs", type=int, nargs="+", default=[None], help="target model epochs (default: ours)")
    args = parser.parse_args()
    full = ShadowSettings.full()
    settings = full if args.shadows is None else ShadowSettings(**{**full.__dict__, "n_shadows": args.shadows})
    print(f"threads: torch {os.environ.get('OMP_NUM_THREADS', 'default')}; settings: {settings}")
    for table in args.tables:
        loaded = load(table)
        if loaded is None:
            continue
        train, holdout, target = loaded
        meta = metadata(train, target)
        for eps_text, epochs in itertools.product(args.epsilons, args.epochs):
            epsilon = None if eps_text == "none" else float(eps_text)
            model = DPTVAESynthesizer(meta, epsilon=epsilon, progress=False, **({"epochs": epochs} if epochs else {}))
            start = time.perf_counter()
            result = shadow_attack(train, holdout, shadows_of(model, settings), settings, progress=False)
            seconds = time.perf_counter() - start
            real = model.fit(train)
            untargeted = attacks.membership_inference(train, holdout, real.sample(len(train)), delta=real.plan_.delta)
            claimed = "none" if epsilon is None else f"{real.epsilon_spent:.2f}"
            print(
                f"\n== {table}, epsilon {eps_text}, {model.epochs} epochs: {settings.n_shadows} shadows in {seconds:.0f} s"
            )
            print(pd.DataFrame(result["targets"]).round(3).to_string(index=False))
            r = result["rare_targets"]
            print(
                f"rare targets pooled: AUC {r['auc']:.3f}, TPR@1%FPR {r['tpr_at_1pct_fpr']:.3f}, "
                f"TPR@0.1%FPR {r['tpr_at_01pct_fpr']:.3f}; DCR on the same games: AUC {r['dcr_auc']:.3f}"
            )
            print(
                f"empirical epsilon lower bound (95%, shadow attack): {result['empirical_epsilon_lower_bound']:.2f}"
                f" vs claimed {claimed}"
            )
            for a in untargeted["attacks"]:
                print(
                    f"untargeted {a['attack']}: AUC {a['auc']:.3f}, empirical eps {a['empirical_epsilon_lower_bound']:.2f}"
                )


if __name__ == "__main__":
    main()
