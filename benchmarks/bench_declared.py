"""What measuring the declared columns does on the workshop sample: the gate's targets, one fit each.

Runs notebooks 00-03 in a fresh WORKSHOP_HOME (the local S3 server), then fits the synthesizer the
way notebook 04 does (epsilon 3, 200 epochs, the spec's also_predict generated last, the cleaning
job's declared bounds and lists) once per variant, and prints per variant: the utility ratio of each
gate target (gradient boosting, as notebook 06's gate reads it), fidelity, pairs and the
credit_score / interest_rate correlation (real holdout vs synthetic).

    .venv/bin/python benchmarks/bench_declared.py                  # defaults, measure_declared=False, ... (~20 min)
    .venv/bin/python benchmarks/bench_declared.py --variants "" "measure_declared=False"

A variant is comma-separated synthesizer keyword arguments; ``uniform_bins=True`` (not an option of
the synthesizer) makes the declared bounds keep uniform bins whose counts are measured.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workshop_utils.cli import _parse_param  # noqa: E402

VARIANTS = ["", "measure_declared=False", "calibrate_marginals=False", "uniform_bins=True"]


def parse(variant: str) -> dict:
    """ "a=1,b=True" -> synthesizer keyword arguments, read as `workshop run -p` reads them."""
    return dict(_parse_param(item) for item in filter(None, variant.split(",")))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", nargs="+", default=VARIANTS)
    parser.add_argument("--epochs", type=int, default=200, help="notebook 04's default")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-declared-"))
    os.environ["WORKSHOP_HOME"] = str(home)
    runs = home / "runs"
    cli = [sys.executable, "-m", "workshop_utils.cli", "run", "--only", "00,01,02,03", "--runs-dir", str(runs)]
    subprocess.run(cli, check=True, cwd=ROOT)
    run_id = sorted(p.name for p in runs.iterdir())[-1]

    import workshop_utils.synth as synth_module
    from workshop_utils import catalog, encoding_fit, evaluation
    from workshop_utils.config import Settings
    from workshop_utils.dataset import load_spec
    from workshop_utils.stages import glue_cleaning, train_dp_tvae
    from workshop_utils.storage import S3Store

    settings = Settings.from_notebook({"run_id": run_id})
    spec = load_spec(settings.dataset)
    store = S3Store.connect(settings)
    train, holdout, entries = train_dp_tvae.split_holdout(store, settings, spec)
    job = glue_cleaning.job_of_table(store, settings, entries["train"])
    print(f"{len(train):,} training rows, {len(holdout):,} holdout rows; epsilon 3, {args.epochs} epochs", flush=True)
    for variant in args.variants:
        kwargs = parse(variant)
        uniform = kwargs.pop("uniform_bins", False)
        synth_module.tree_resolves = (lambda *a, **k: False) if uniform else encoding_fit.tree_resolves
        meta, _ = train_dp_tvae.metadata_for(spec, train, job, catalog.column_types(entries["train"]))
        start = time.perf_counter()
        kwargs.setdefault("also_predict", list(spec.also_predict))  # as notebook 04 does
        synth = synth_module.DPTVAESynthesizer(meta, epsilon=3.0, epochs=args.epochs, progress=False, **kwargs)
        synth.fit(train)
        synthetic = synth.sample(len(train))
        cols = meta.modeled
        row = {"variant": variant or "defaults", "fit_s": round(time.perf_counter() - start)}
        for target, task in spec.targets.items():
            u = evaluation.ml_utility(train[cols], synthetic[cols], holdout[cols], target, task)["headline"]
            row[f"{target} utility"] = round(u["ratio"], 3)
        fid = evaluation.fidelity_score(holdout, synthetic, cols, pairs=True, max_pairs=150)
        row |= {"fidelity": round(fid["overall"], 3), "pairs": round(fid["pairs_overall"], 3)}
        pair = ["credit_score", "interest_rate"]
        if all(c in cols for c in pair):
            real = holdout[pair].astype(float).corr().iloc[0, 1]
            row["corr credit_score/interest_rate"] = [
                round(real, 3),
                round(synthetic[pair].astype(float).corr().iloc[0, 1], 3),
            ]
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
