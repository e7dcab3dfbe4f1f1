"""Side-by-side benchmark: our DP-TVAE against SDV and smartnoise-synth on bank-marketing.

One fixed 80/20 split of ../shared/datasets/bank-marketing-full.csv (stratified on y,
seed 0); every contender fits on the 80% in its own process (fit and sample time, peak
memory) and is scored on the 20% with the project's evaluation module: fidelity, SDMetrics'
quality score, TSTR/TRTR ROC AUC ratio, the distance and density-ratio attack AUCs.

smartnoise-synth pins an old opacus, so it is installed into benchmarks/peers/.venv,
created here on first use; data goes to and from it as CSV. SDV comes from the project's
optional "bench" dependencies (pip install -e ".[bench]").

    .venv/bin/python benchmarks/compare.py            # everything, about an hour on 2 cores
    .venv/bin/python benchmarks/compare.py --quick    # 3,000 rows, 2 epochs: checks the plumbing

Writes benchmarks/results/compare-bank.md, compare-bank.json and compare-bank-frontier.png.
Results are saved after each contender; --resume skips contenders already in the JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from bench_training import load_split

from workshop_utils import attacks, evaluation

HERE = Path(__file__).resolve().parent
PEERS = HERE / "peers"
PEERS_PYTHON = PEERS / ".venv" / "bin" / "python"
PEERS_REQUIREMENTS = ["torch==2.13.0", "smartnoise-synth==1.0.8", "packaging"]
RESULTS = HERE / "results"
TARGET = "y"

CONTENDERS = (
    [("ours", eps) for eps in (1.0, 3.0, 10.0, None)]
    + [("sdv_tvae", None), ("sdv_gaussian_copula", None)]
    + [(peer, eps) for peer in ("dpctgan", "mst", "aim") for eps in (1.0, 3.0)]
)
LABELS = {
    "ours": "ours (DP-TVAE)",
    "sdv_tvae": "SDV TVAE",
    "sdv_gaussian_copula": "SDV GaussianCopula",
    "dpctgan": "smartnoise DP-CTGAN",
    "mst": "smartnoise MST",
    "aim": "smartnoise AIM",
}


def ensure_peers_env() -> None:
    """benchmarks/peers/.venv with smartnoise-synth; torch first, so pip takes the CPU wheel on disk."""
    stamp = PEERS / ".venv" / ".installed"
    if stamp.exists() and stamp.read_text() == " ".join(PEERS_REQUIREMENTS):
        return
    print("creating benchmarks/peers/.venv with smartnoise-synth (one time, a few minutes) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(PEERS / ".venv")], check=True)
    pip = [str(PEERS_PYTHON), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, PEERS_REQUIREMENTS[0]], check=True)
    subprocess.run([*pip, *PEERS_REQUIREMENTS[1:]], check=True)
    stamp.write_text(" ".join(PEERS_REQUIREMENTS))


def schema_of(df: pd.DataFrame) -> dict[str, str]:
    kinds = {}
    for c in df.columns:
        if pd.api.types.is_bool_dtype(df[c]):
            kinds[c] = "boolean"
        elif pd.api.types.is_integer_dtype(df[c]):
            kinds[c] = "integer"
        elif pd.api.types.is_float_dtype(df[c]):
            kinds[c] = "float"
        else:
            kinds[c] = "categorical"
    return kinds


def read_synthetic(path: Path, train: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The contender's CSV in the training table's dtypes; values that do not fit become null."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=["", "nan", "NaN", "None", "<NA>"])
    missing = [c for c in train.columns if c not in raw.columns]
    if missing:
        return raw, f"missing columns {missing}"
    out = {}
    for c in train.columns:
        dtype = train[c].dtype
        if pd.api.types.is_bool_dtype(dtype):
            out[c] = (
                raw[c].str.lower().map({"true": True, "false": False, "1": True, "0": False, "1.0": True, "0.0": False})
            )
            out[c] = out[c].astype("boolean")
        elif pd.api.types.is_numeric_dtype(dtype):
            x = pd.to_numeric(raw[c], errors="coerce")
            out[c] = x.round().astype("Int64") if pd.api.types.is_integer_dtype(dtype) else x
        else:
            out[c] = pd.Categorical(raw[c], categories=train[c].cat.categories)
    frame = pd.DataFrame(out)
    notes = []
    # Nulls beyond the training table's own rate: values outside the training domain
    # (such as a DP "other" category) or made-up missing values.
    extra = frame.isna().mean() - train.isna().mean()
    if (extra > 0.05).any():
        notes.append(
            "values outside the training domain or extra nulls: "
            + ", ".join(f"{c} {v:.0%}" for c, v in extra[extra > 0.05].items())
        )
    if frame[TARGET].nunique() < 2:
        notes.append(f"degenerate: one class in {TARGET}")
    return frame, "; ".join(notes)


def run_contender(name: str, eps: float | None, args: argparse.Namespace, work: Path, rows: int) -> dict:
    tag = f"{name}-eps{eps:g}" if eps is not None else f"{name}-nodp"
    out, rep = work / f"{tag}.csv", work / f"{tag}.json"
    python = PEERS_PYTHON if name in ("dpctgan", "mst", "aim") else Path(sys.executable)
    epochs = args.peer_epochs if name == "dpctgan" else args.epochs
    cmd = [str(python), str(HERE / "contender.py"), "--name", name, "--epochs", str(epochs), "--rows", str(rows)]
    cmd += ["--train", str(work / "train.csv"), "--schema", str(work / "schema.json")]
    cmd += ["--out", str(out), "--report", str(rep)] + (["--epsilon", str(eps)] if eps is not None else [])
    print(f"-> {tag}", flush=True)
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
        result = json.loads(rep.read_text()) if rep.exists() else {"error": proc.stderr[-500:] or "no report"}
    except subprocess.TimeoutExpired:
        result = {"error": f"timed out after {args.timeout} s"}
    result.update(name=name, epsilon=eps, wall_s=time.perf_counter() - start, output=str(out))
    return result


def score(result: dict, train: pd.DataFrame, test: pd.DataFrame) -> dict:
    if "error" in result:
        return result
    synthetic, note = read_synthetic(Path(result["output"]), train)
    if note.startswith("missing"):
        return result | {"error": note}
    u = evaluation.ml_utility(train, synthetic, test, TARGET)["headline"]
    mia = attacks.membership_inference(train, test, synthetic, seed=0)
    return result | {
        "fidelity": evaluation.fidelity_score(test, synthetic)["overall"],
        "sdmetrics": evaluation.sdmetrics_quality(test, synthetic),
        "tstr": u["TSTR"]["roc_auc"],
        "trtr": u["TRTR"]["roc_auc"],
        "tstr_ratio": u["ratio"],
        "auc_dcr": mia["attacks"][0]["auc"],
        "auc_density": mia["attacks"][1]["auc"],
        "exact_copy_rate": mia["exact_copy_rate"],
        "note": note,
    }


def fmt(v: float | None, spec: str) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def markdown(results: list[dict], header: str) -> str:
    lines = [
        "# Peer comparison on bank-marketing",
        "",
        header,
        "",
        "| synthesizer | ε asked | ε claimed | fit s | sample s | peak MB | fidelity | SDMetrics | TSTR/TRTR | attack AUC (DCR) | attack AUC (density) | note |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        eps = "no DP" if r["epsilon"] is None else f"{r['epsilon']:g}"
        claimed = "∞ (no DP)" if r["epsilon"] is None else fmt(r.get("claimed_epsilon"), ".3g")
        note = r.get("error") or r.get("note") or ""
        lines.append(
            f"| {LABELS[r['name']]} | {eps} | {claimed} | {fmt(r.get('fit_s'), '.1f')} | {fmt(r.get('sample_s'), '.1f')} | "
            f"{fmt(r.get('peak_rss_mb'), ',.0f')} | {fmt(r.get('fidelity'), '.3f')} | {fmt(r.get('sdmetrics'), '.3f')} | "
            f"{fmt(r.get('tstr_ratio'), '.3f')} | {fmt(r.get('auc_dcr'), '.3f')} | {fmt(r.get('auc_density'), '.3f')} | "
            f"{note.replace('|', '/')[:160]} |"
        )
    lines += ["", "## Reading", "", *reading(results), ""]
    return "\n".join(lines)


def reading(results: list[dict]) -> list[str]:
    """Sentences computed from the table: where ours is ahead and where it is not."""
    ok = [r for r in results if "fidelity" in r]

    def find(name: str, eps: float | None) -> dict | None:
        return next((r for r in ok if r["name"] == name and r["epsilon"] == eps), None)

    out = []
    ours3 = find("ours", 3.0)
    peers3 = [r for r in ok if r["name"] in ("dpctgan", "mst", "aim") and r["epsilon"] == 3.0]
    failed = [r for r in results if "error" in r]
    if ours3:
        for metric, label in (("fidelity", "fidelity"), ("tstr_ratio", "TSTR/TRTR")):
            if not peers3:
                out.append(f"- No DP peer produced a usable table at ε=3, so {label} has no comparison.")
                continue
            best = max(peers3, key=lambda r: r[metric])
            verdict = "ahead of" if ours3[metric] > best[metric] else "NOT ahead of"
            out.append(
                f"- At ε=3, ours reaches {label} {ours3[metric]:.3f}: {verdict} the best DP peer "
                f"({LABELS[best['name']]}, {best[metric]:.3f})."
            )
    if ours3 and peers3:  # the second opinion, reported whichever way it goes
        best = max(peers3, key=lambda r: r["sdmetrics"])
        verdict = "ahead of" if ours3["sdmetrics"] > best["sdmetrics"] else "NOT ahead of"
        out.append(
            f"- On SDMetrics' quality score at ε=3, ours ({ours3['sdmetrics']:.3f}) is {verdict} the best DP peer "
            f"({LABELS[best['name']]}, {best['sdmetrics']:.3f}); that score averages column shapes with pair trends "
            "and weighs them differently from our KL-based fidelity."
        )
    ours_plain, sdv = find("ours", None), find("sdv_tvae", None)
    if ours_plain and sdv:
        for metric, label in (("fidelity", "fidelity"), ("tstr_ratio", "TSTR/TRTR")):
            gap = ours_plain[metric] - sdv[metric]
            verdict = "within 0.02 of or above" if gap >= -0.02 else "more than 0.02 below"
            out.append(
                f"- Without DP, ours is {verdict} SDV TVAE on {label} ({ours_plain[metric]:.3f} vs {sdv[metric]:.3f})."
            )
    for r in failed:
        eps = "no DP" if r["epsilon"] is None else f"ε={r['epsilon']:g}"
        out.append(f"- {LABELS[r['name']]} at {eps} failed: {r['error'][:200]}")
    out.append(
        "- smartnoise reports the ε it was asked for; DP-CTGAN may stop early having spent less, so for it "
        "the claimed ε is an upper bound. Fit times come from one run on a shared 2-core machine."
    )
    out.append(
        "- Attack AUCs near 0.5 mean the simulated attacker could not tell training rows from holdout rows; "
        "they are evidence, not a guarantee. The guarantee is the claimed ε (∞ without DP)."
    )
    return out


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in results if "fidelity" in r]
    finite = [r["epsilon"] for r in ok if r["epsilon"] is not None]
    no_dp_x = max(finite, default=10) * 3
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for ax, metric, title in (
        (axes[0], "fidelity", "fidelity (mean exp(-KL))"),
        (axes[1], "tstr_ratio", "TSTR / TRTR ROC AUC"),
    ):
        for k, name in enumerate(LABELS):
            color = f"C{k}"
            dp_pts = sorted((r["epsilon"], r[metric]) for r in ok if r["name"] == name and r["epsilon"] is not None)
            plain = [r[metric] for r in ok if r["name"] == name and r["epsilon"] is None]
            if dp_pts:
                x, y = zip(*dp_pts)
                ax.plot(x, y, "o-", color=color, label=LABELS[name])
            if plain:  # no DP: a diamond at the right edge, not joined to the DP line
                ax.plot([no_dp_x], plain, "D", color=color, label=None if dp_pts else LABELS[name])
        ax.axvline(no_dp_x / 1.7, color="grey", lw=0.8, ls=":")
        ax.set_xscale("log")
        ax.set_xlabel(f"epsilon (points at {no_dp_x:g}: no DP)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=60, help="ours and SDV TVAE")
    parser.add_argument(
        "--peer-epochs", type=int, default=20, help="DP-CTGAN (opacus 0.14 per-sample gradients are slow)"
    )
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per contender")
    parser.add_argument(
        "--quick", action="store_true", help="3,000 training rows, 2 epochs, results under a -quick name"
    )
    parser.add_argument("--only", nargs="*", help="contender names to run (default: all)")
    parser.add_argument("--resume", action="store_true", help="keep contenders already in the JSON")
    args = parser.parse_args()
    train, test = load_split()
    suffix = "-quick" if args.quick else ""
    if args.quick:
        train = train.sample(3000, random_state=0).reset_index(drop=True)
        test = test.sample(1500, random_state=0).reset_index(drop=True)
        args.epochs = args.peer_epochs = 2
    work = PEERS / f"work{suffix}"
    work.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(exist_ok=True)
    train.to_csv(work / "train.csv", index=False)
    (work / "schema.json").write_text(json.dumps(schema_of(train)))
    ensure_peers_env()
    json_path = RESULTS / f"compare-bank{suffix}.json"
    done = json.loads(json_path.read_text())["results"] if args.resume and json_path.exists() else []
    key = lambda r: (r["name"], r["epsilon"])  # noqa: E731
    results = {key(r): r for r in done}
    for name, eps in CONTENDERS:
        if (args.only and name not in args.only) or (name, eps) in results:
            continue
        results[(name, eps)] = score(run_contender(name, eps, args, work, len(train)), train, test)
        r = results[(name, eps)]
        if "error" in r:
            print(f"   FAILED {r['error'][:150]}", flush=True)
        else:
            print(f"   fidelity {r['fidelity']:.3f}, TSTR/TRTR {r['tstr_ratio']:.3f}", flush=True)
        ordered = [results[k] for k in CONTENDERS if k in results]
        json_path.write_text(json.dumps({"results": ordered}, indent=1, default=float))
    ordered = [results[k] for k in CONTENDERS if k in results]
    trtr = next((r["trtr"] for r in ordered if "trtr" in r), float("nan"))
    header = (
        f"{len(train):,} training rows, {len(test):,} holdout rows (80/20 split of "
        f"bank-marketing-full.csv, stratified on y, seed 0); ours and SDV TVAE {args.epochs} epochs, "
        f"DP-CTGAN {args.peer_epochs} epochs; 2-core CPU; TRTR ROC AUC {trtr:.3f} (gradient boosting). "
        f"Regenerate: `.venv/bin/python benchmarks/compare.py{' --quick' if args.quick else ''}`. "
        f"Generated {time.strftime('%Y-%m-%d')}."
    )
    (RESULTS / f"compare-bank{suffix}.md").write_text(markdown(ordered, header))
    plot(ordered, RESULTS / f"compare-bank{suffix}-frontier.png")
    print((RESULTS / f"compare-bank{suffix}.md").read_text())


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
