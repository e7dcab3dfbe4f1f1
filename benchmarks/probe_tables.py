"""Generated tables of shapes our users bring, nobody tuned for: does a default fit keep them whole?

* ``hospital``: 4,000 patients with day-first birth dates (31/12/1980) over 80 years, admission
  timestamps over one, a 300-value diagnosis, stays, costs, temperatures, a free-text note, a rare flag.
  Shows whether the birth dates are read as dates and whether the admissions keep their year.
* ``customers``: 3,000 customers in 40 cities of 8 states, a heavy-tailed balance with nulls, an
  income with a third at 0, products, an activity flag. Shows how many synthetic customers live in a
  city of another state, without and with ``set_hierarchy("state", "city")``.

Each goes the pipeline's way (read as text, ``infer_job``, ``run_job``, ``TableMetadata.detect`` on its
types), trained on 80% at epsilon 3 with the defaults and scored on the other 20%: per-column
fidelity, pairs, the warnings. One fit each; DP noise comes from the OS, so figures move by a point.

    .venv/bin/python benchmarks/probe_tables.py [--epsilon 3]
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workshop_utils import cleaning  # noqa: E402
from workshop_utils.evaluation import fidelity_score, misplaced_children  # noqa: E402
from workshop_utils.metadata import TableMetadata  # noqa: E402
from workshop_utils.synth import DPTVAESynthesizer  # noqa: E402


def hospital(rng: np.random.Generator, n: int = 4000) -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "patient_id": [f"P{i:06d}" for i in range(n)],
            "birth_date": (pd.Timestamp("1935-01-01") + pd.to_timedelta(rng.integers(0, 365 * 80, n), unit="D")),
            "admitted": pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 365 * 24 * 3600, n), unit="s"),
            "ward": rng.choice(["A", "B", "C", "D"], n),
            "diagnosis": rng.choice(
                [f"D{i:03d}" for i in range(300)], n, p=np.r_[np.full(20, 0.03), np.full(280, 0.4 / 280)]
            ),
            "los_days": rng.geometric(0.2, n),
            "cost": np.round(rng.lognormal(8, 1.2, n), 2),
            "temp_c": np.round(rng.normal(37.2, 0.6, n), 1),
            "smoker": rng.choice(["yes", "no", ""], n, p=[0.2, 0.7, 0.1]),
            "notes": [f"free text note {rng.integers(1e9)}" for _ in range(n)],
            "flag": rng.choice([0, 1], n, p=[0.99, 0.01]),
        }
    )
    df["birth_date"] = df["birth_date"].dt.strftime("%d/%m/%Y")
    df["readmitted"] = np.where(rng.random(n) < 0.05 + 0.1 * (df["los_days"] > 8), "Y", "N")
    return df


def customers(rng: np.random.Generator, n: int = 3000) -> pd.DataFrame:
    states = [f"S{i}" for i in range(8)]
    cities = {f"City{j}": states[j % 8] for j in range(40)}
    city = rng.choice(list(cities), n, p=np.r_[np.full(10, 0.06), np.full(30, 0.4 / 30)])
    df = pd.DataFrame(
        {
            "customer_id": [f"C{100000 + i}" for i in rng.permutation(n)],
            "city": city,
            "state": [cities[c] for c in city],
            "balance": np.where(rng.random(n) < 0.2, np.nan, np.round(rng.standard_t(3, n) * 2000 + 500, 2)),
            "n_products": rng.integers(1, 5, n),
            "is_active": rng.choice(["Y", "N"], n, p=[0.7, 0.3]),
            "income": np.where(rng.random(n) < 0.3, 0.0, np.round(np.exp(rng.normal(10.5, 0.8, n)), -2)),
        }
    )
    logit = df["n_products"].to_numpy() - 2.5 - (df["is_active"] == "Y") * 1.0
    df["churn"] = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    return df


TABLES = {"hospital": (hospital, "readmitted"), "customers": (customers, "churn")}


def probe(name: str, epsilon: float, hierarchy: bool = False) -> None:
    make, target = TABLES[name]
    raw = make(np.random.default_rng(7)).astype(str).replace({"nan": ""})
    job = cleaning.infer_job(raw, name)
    table = cleaning.run_job(raw, job).table
    types = {m["target"]: m["type"] for m in job["steps"][0]["ApplyMapping"]["mappings"]}
    meta = TableMetadata.detect(table, types={c: t for c, t in types.items() if c in table.columns})
    meta.set_role(target, "target", task="classification")
    if hierarchy:
        meta.set_hierarchy("state", "city")
    train = table.sample(frac=0.8, random_state=0)
    test = table.drop(train.index)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        synth = DPTVAESynthesizer(meta, epsilon=epsilon, progress=False).fit(train)
    out = synth.sample(len(test))
    columns = [e.name for e in synth.encodings_]
    fid = fidelity_score(test, out, columns, pairs=True)
    label = f"{name}{' (state > city declared)' if hierarchy else ''}"
    print(f"\n{label}, epsilon {epsilon:g}: fidelity {fid['overall']:.3f}, pairs {fid['pairs_overall']:.3f}")
    print("  types: " + ", ".join(f"{c} {t}" for c, t in types.items()))
    print("  columns: " + ", ".join(f"{c} {v:.3f}" for c, v in fid["columns"].items()))
    print(f"  rules found: {synth.rules_ or 'none'}")
    if "city" in table.columns:
        print(
            f"  synthetic customers in a city of another state: {misplaced_children(train, out, 'state', 'city'):.1%}"
        )
    for w in caught:
        if "Synthesizer" in type(w.message).__name__:
            print(f"  warning: {str(w.message)[:200]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epsilon", type=float, default=3.0)
    args = parser.parse_args()
    probe("hospital", args.epsilon)
    probe("customers", args.epsilon)
    probe("customers", args.epsilon, hierarchy=True)


if __name__ == "__main__":
    main()
