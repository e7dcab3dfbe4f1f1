"""Quality of our synthesizer on tables nobody tuned it for, at its defaults, nothing declared public.

Each table from ../shared/datasets goes the pipeline's way: read as text, the cleaning job that
``cleaning.infer_job`` writes (its types become the declared schema; its category lists stay
undeclared), ``TableMetadata.detect`` on those types, and the target. Then one fixed split:

* ``--split test`` (the default, what the results page reports): train on 80%, score on the
  held-out 20% (seed 0);
* ``--split validation`` (what defaults are tuned on): the 80% alone, cut again 75/25 (seed 1),
  so the reported 20% is never looked at while tuning;
* ``--train-rows N``: fit on N of the split's training rows (a random subset, seed 2), scored on the
  same held-out rows: a smaller table of the same kind.

Per table and epsilon it prints fidelity (columns and pairs, exp(-KL)), their ceiling (the real
training rows scored the same way, with the categories the DP fit could not keep read as
``other``: up to sampling noise, no synthesizer can score above it with nothing declared), utility (TSTR/TRTR ROC AUC
for classification, R^2 ratio for regression), the share of synthetic values that are ``other``,
the share of real values outside the synthesizer's bounds (clipped), the share of synthetic
nulls in columns whose real rows have none, the share of synthetic rows that break a rule every real
row keeps (taxis' drop-off before its pick-up; found by the fit under DP, or declared with ``--rules``), the share
whose named child sits under a parent no training row gives it (a zone in another borough; declared with
``--hierarchies``), the time, and the
ledger's total and thresholds.

    .venv/bin/python benchmarks/bench_quality.py [--tables bank diamonds taxis penguins]
        [--epsilons 1 3 none] [--split test|validation] [--set preprocessing_share=0.2 ...] [--rules] [--hierarchies]
        [--out benchmarks/results/quality.md]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workshop_utils import cleaning, hierarchies  # noqa: E402
from workshop_utils.encoding import OTHER, to_float  # noqa: E402
from workshop_utils.evaluation import fidelity_score, misplaced_children, ml_utility  # noqa: E402
from workshop_utils.metadata import TableMetadata  # noqa: E402
from workshop_utils.synth import DPTVAESynthesizer, SynthesizerError  # noqa: E402

DATA = ROOT.parent / "shared" / "datasets"
TABLES = {  # file, target, task
    "bank": ("bank-marketing-full.csv", "y", "classification"),
    "diamonds": ("diamonds.csv", "price", "regression"),
    "taxis": ("taxis.csv", "payment", "classification"),
    "penguins": ("penguins.csv", "species", "classification"),
}
# Rules every real row keeps (low <= high): counted as broken in every run, declared with --rules.
RULES = {"taxis": [("pickup", "dropoff")]}
# (parent, child) pairs every real row keeps (a zone lies in one borough), declared with --hierarchies.
HIERARCHIES = {"taxis": [("pickup_borough", "pickup_zone"), ("dropoff_borough", "dropoff_zone")]}


def load(name: str) -> tuple[pd.DataFrame, TableMetadata, str, str]:
    file, target, task = TABLES[name]
    raw = pd.read_csv(DATA / file, dtype=str, keep_default_na=False, na_values=[""])
    job = cleaning.infer_job(raw, name)
    table = cleaning.run_job(raw, job).table
    types = {m["target"]: m["type"] for step in job["steps"] for m in step.get("ApplyMapping", {}).get("mappings", [])}
    meta = TableMetadata.detect(table, types={c: t for c, t in types.items() if c in table.columns})
    meta.set_role(target, "target", task=task)
    table = table[table[target].notna()].reset_index(drop=True)
    return table, meta, target, task


def declare_public_domain(table: pd.DataFrame, meta) -> None:
    """Bounds, categories and nullability as a data dictionary of the public table would state them."""
    for name in meta.modeled:
        col, kind = table[name], meta.columns[name].modeled_kind()
        meta.set_nullable(name, bool(col.isna().any()))
        if kind == "numerical":
            lo, hi = float(np.floor(col.min())), float(np.ceil(col.max()))
            meta.set_bounds(name, lo, hi if hi > lo else lo + 1)
        elif kind == "datetime":
            meta.set_bounds(name, col.min().floor("D"), col.max().floor("D") + pd.Timedelta(days=1))
        elif kind == "categorical":
            meta.set_categories(name, sorted(col.dropna().astype(str).unique()))


def split(table: pd.DataFrame, target: str, task: str, which: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    strat = table[target].astype(str) if task == "classification" else None
    train, test = train_test_split(table, test_size=0.2, stratify=strat, random_state=0)
    if which == "validation":
        strat = train[target].astype(str) if task == "classification" else None
        train, test = train_test_split(train, test_size=0.25, stratify=strat, random_state=1)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def shares(synth: DPTVAESynthesizer, train: pd.DataFrame, test: pd.DataFrame, out: pd.DataFrame) -> dict:
    other, clipped, nulls = [], [], []
    for enc in synth.encodings_:
        col = enc.name
        if col in synth.rules_:
            continue  # modeled as its gap from another column: its bounds are the gap's
        if enc.kind == "categorical":
            other.append(float((out[col].astype(object) == OTHER).mean()))
        if enc.kind in ("numerical", "datetime"):
            x = to_float(test[col], enc.kind)
            x = x[~np.isnan(x)]
            clipped.append(float(((x < enc.lo) | (x > enc.top)).mean()) if len(x) else 0.0)
        if train[col].notna().all():
            nulls.append(float(out[col].isna().mean()))
    mean = lambda v: float(np.mean(v)) if v else 0.0  # noqa: E731
    return {
        "other": mean(other),
        "other_max": max(other, default=0.0),
        "clipped": mean(clipped),
        "clipped_max": max(clipped, default=0.0),
        "null_where_none": mean(nulls),
    }


def ceiling(synth: DPTVAESynthesizer, train: pd.DataFrame, test: pd.DataFrame, columns: list[str]) -> dict:
    """The best score any synthesizer could reach with the categories this fit kept: the real
    training rows themselves, with every value outside the kept categories read as ``other`` (the
    DP domain cannot reveal them). Numbers and dates stay exact, so up to sampling noise this is an
    upper bound: where it is under a goal, no model can meet that goal at this epsilon with nothing
    declared."""
    fid = ceiling_of(train[columns], test, kept_values(synth))
    return {"ceiling": fid["overall"], "ceiling_pairs": fid["pairs_overall"]}


def kept_values(synth: DPTVAESynthesizer) -> dict[str, set]:
    """Each categorical column's kept values; a declared child's are its (parent, child) pairs' child
    values (on a true hierarchy each child has one parent, so the same rows)."""
    children = hierarchies.parents(synth.metadata)
    return {
        enc.name: {hierarchies.child_value(v) for v in enc.categories} if enc.name in children else set(enc.categories)
        for enc in synth.encodings_
        if enc.kind == "categorical"
    }


def ceiling_of(train: pd.DataFrame, test: pd.DataFrame, kept: dict[str, set]) -> dict:
    """Fidelity of the training rows with each value of ``kept``'s columns outside its set read as ``other``."""
    oracle = train.copy()
    for col, values in kept.items():
        oracle[col] = [v if pd.isna(v) or v in values else OTHER for v in train[col].astype(object)]
    return fidelity_score(test, oracle, list(train.columns), pairs=True, max_pairs=150)


def broken(name: str, out: pd.DataFrame) -> float:
    """The share of synthetic rows that break one of the table's rules (no real row does)."""
    rules = RULES.get(name, [])
    return float(np.mean([(out[high] < out[low]).mean() for low, high in rules])) if rules else 0.0


def misplaced(name: str, train: pd.DataFrame, out: pd.DataFrame) -> float:
    """The share of synthetic rows whose named child (not ``other``) sits under a parent that no
    training row puts it under (a zone in another borough), over the table's HIERARCHIES."""
    shares = [misplaced_children(train, out, parent, child) for parent, child in HIERARCHIES.get(name, [])]
    return float(np.mean(shares)) if shares else 0.0


def run(
    name: str,
    epsilon: float | None,
    which: str,
    overrides: dict,
    declare: bool = False,
    rules: bool = False,
    train_rows: int | None = None,
    hierarchies: bool = False,
) -> dict:
    table, meta, target, task = load(name)
    if declare:
        declare_public_domain(table, meta)
    for low, high in RULES.get(name, []) if rules else []:
        meta.set_inequality(low, high)
    for parent, child in HIERARCHIES.get(name, []) if hierarchies else []:
        meta.set_hierarchy(parent, child)
    train, test = split(table, target, task, which)
    if train_rows is not None and train_rows < len(train):  # a smaller table of the same kind (same holdout)
        train = train.sample(train_rows, random_state=2).reset_index(drop=True)
    row = {"table": name, "epsilon": epsilon, "train_rows": len(train), "test_rows": len(test)}
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            synth = DPTVAESynthesizer(meta, epsilon=epsilon, progress=False, **overrides).fit(train)
        except SynthesizerError as exc:
            return row | {"refused": str(exc)}
    row["fit_s"] = time.perf_counter() - start
    row["warnings"] = [str(w.message) for w in caught if "Synthesizer" in type(w.message).__name__]
    out = synth.sample(len(train))
    columns = [e.name for e in synth.encodings_]
    fid = fidelity_score(test, out, columns, pairs=True, max_pairs=150)
    util = ml_utility(train[columns], out[columns], test[columns], target, task)["headline"]
    ledger = synth.privacy_ledger()
    row |= (
        {
            "fidelity": fid["overall"],
            "pairs": fid["pairs_overall"],
            "utility": util["ratio"],
            "utility_metric": util["metric"],
            "epsilon_spent": synth.epsilon_spent,
            "ledger": ledger[["step", "column", "epsilon", "delta", "detail"]].to_dict("records"),
            "worst_columns": sorted(fid["columns"].items(), key=lambda kv: kv[1])[:3],
            "broken": broken(name, out),
            "misplaced": misplaced(name, train, out),
        }
        | shares(synth, train, test, out)
        | ceiling(synth, train, test, columns)
    )
    return row


def fmt(r: dict) -> str:
    eps = "none" if r["epsilon"] is None else f"{r['epsilon']:g}"
    if "refused" in r:
        return f"| {r['table']} | {eps} | refused: {r['refused'][:160]} |"
    return (
        f"| {r['table']} | {eps} | {r['fidelity']:.3f} | {r['pairs']:.3f} | {r['ceiling']:.3f} / {r['ceiling_pairs']:.3f} "
        f"| {r['utility']:.3f} ({r['utility_metric']}) "
        f"| {r['other']:.1%} (max {r['other_max']:.1%}) | {r['clipped']:.2%} (max {r['clipped_max']:.1%}) "
        f"| {r['null_where_none']:.2%} | {r.get('broken', 0.0):.1%} | {r.get('misplaced', 0.0):.1%} | {r['fit_s']:.0f} s | {', '.join(f'{c} {v:.2f}' for c, v in r['worst_columns'])} |"
    )


HEADER = (
    "| table | ε | fidelity | pairs | ceiling (fidelity / pairs) | utility | other | clipped | null where none "
    "| rules broken | children misplaced | fit | weakest columns |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tables", nargs="+", default=list(TABLES))
    parser.add_argument("--epsilons", nargs="+", default=["1", "3", "none"])
    parser.add_argument("--split", choices=("test", "validation"), default="test")
    parser.add_argument("--set", nargs="*", default=[], help="synthesizer overrides, key=value")
    parser.add_argument(
        "--declare", action="store_true", help="declare the public domain (bounds, categories) as compare.py does"
    )
    parser.add_argument(
        "--rules", action="store_true", help="declare each table's rules (RULES: taxis' pickup <= dropoff)"
    )
    parser.add_argument(
        "--hierarchies",
        action="store_true",
        help="declare each table's hierarchies (HIERARCHIES: taxis' zones within their boroughs)",
    )
    parser.add_argument(
        "--train-rows", type=int, default=None, help="fit on this many of the split's training rows (a smaller table)"
    )
    parser.add_argument("--out", type=Path, default=None, help="write the table (markdown) and rows (json) here")
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"{DATA} is missing: the benchmark reads the public tables from ../shared/datasets.")
    torch.set_num_threads(max(1, torch.get_num_threads()))
    overrides = {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)}
    print(
        f"split: {args.split}; overrides: {overrides or 'none (defaults)'}; declared domain: {args.declare}; "
        f"rules declared: {args.rules}; hierarchies declared: {args.hierarchies}"
    )
    print(HEADER, flush=True)
    rows = []
    for name in args.tables:
        for e in args.epsilons:
            eps = None if e == "none" else float(e)
            label = name if args.train_rows is None else f"{name} ({args.train_rows:,} rows)"
            tries = [
                run(name, eps, args.split, overrides, args.declare, args.rules, args.train_rows, args.hierarchies)
                | {"table": label}
            ]
            if "batch_size" in tries[0].get("refused", "") and "batch_size" not in overrides:
                # a small table: also the README's setting for it (batch 64), labelled as such
                tries.append(
                    run(
                        name,
                        eps,
                        args.split,
                        overrides | {"batch_size": 64},
                        args.declare,
                        args.rules,
                        args.train_rows,
                        args.hierarchies,
                    )
                    | {"table": f"{label} (batch 64)"}
                )
            for r in tries:
                rows.append(r)
                print(fmt(r), flush=True)
                for w in r.get("warnings", []):
                    print(f"    warning: {w}", flush=True)
    if args.out:
        args.out.write_text(HEADER + "\n" + "\n".join(fmt(r) for r in rows) + "\n")
        args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1, default=str))


if __name__ == "__main__":
    main()
