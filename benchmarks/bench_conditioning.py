"""Why the decoder is conditioned on every declared target: on the workshop sample at epsilon 3,
the latent code of a DP fit learns almost nothing, so a column keeps little dependence on the
others except through the condition.

Prints, for a DP fit conditioned on ``default`` alone and one also conditioned on ``interest_rate``:
the correlation of credit score and interest rate (real vs synthetic), the R^2 ratio (TSTR/TRTR) for
``interest_rate`` and the ROC AUC ratio for ``default``, the encoder's share of each row's gradient
norm (median over 500 rows) and the spread of the posterior means across rows.

    .venv/bin/python benchmarks/bench_conditioning.py [--epochs 100] [--epsilon 3]
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workshop_utils import cleaning, evaluation, sample_data  # noqa: E402
from workshop_utils.dataset import load_spec  # noqa: E402
from workshop_utils.dpsgd import GhostClipper  # noqa: E402
from workshop_utils.stages.train_dp_tvae import metadata_for  # noqa: E402
from workshop_utils.synth import DPTVAESynthesizer  # noqa: E402

MODELED = [  # the columns the de-identified sample keeps (PII removed)
    "age", "marital_status", "education", "occupation", "employment_length_years", "annual_income",
    "home_ownership", "credit_score", "num_credit_lines", "delinquencies_2y", "debt_to_income",
    "loan_amount", "loan_purpose", "term_months", "interest_rate", "application_date", "email_opt_in",
    "default",
]  # fmt: skip


def encoder_share(synth: DPTVAESynthesizer, train) -> tuple[float, float]:
    """(median share of the encoder in each row's squared gradient norm, mean variance of the posterior means)."""
    x = torch.tensor(synth._encode(train.head(500)), dtype=torch.float32)
    spans = list(zip(synth._layout(), synth._span_weights()))
    cond = synth._cond_spans()
    index = torch.cat([torch.arange(st, ed) for _, st, ed in cond]) if cond else None
    clipper = GhostClipper(synth.model_)
    losses = synth._loss_per_sample(x, torch.Generator().manual_seed(0), spans, index)
    grads = torch.autograd.grad(losses.sum(), [clipper._outputs[m] for m in clipper.layers], allow_unused=True)
    names = {id(m): n for n, m in synth.model_.named_modules()}
    total, encoder = torch.zeros(len(x)), torch.zeros(len(x))
    for layer, g in zip(clipper.layers, grads):
        if g is None:
            continue
        sq = g.pow(2).sum(1) * (clipper._inputs[layer].pow(2).sum(1) + (layer.bias is not None))
        total += sq
        if names[id(layer)].startswith("encoder"):
            encoder += sq
    clipper.close()
    with torch.no_grad():
        mu, _ = synth.model_.encoder(x)
    return float((encoder / total).median()), float(mu.var(0).mean())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--epsilon", type=float, default=3.0)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    job = cleaning.load_job(None)
    table = cleaning.run_job(sample_data.generate_bank_customers(), job).table[MODELED]
    types = {m["target"]: m["type"] for step in job["steps"] for m in step.get("ApplyMapping", {}).get("mappings", [])}
    meta, _ = metadata_for(load_spec(None), table, job, types)
    order = np.random.default_rng(0).permutation(len(table))
    cut = int(0.8 * len(table))
    train, holdout = (table.iloc[i].reset_index(drop=True) for i in (order[:cut], order[cut:]))
    print(f"sample: {len(train):,} training rows; real corr(credit_score, interest_rate) "
          f"{train['credit_score'].corr(train['interest_rate']):.2f}")  # fmt: skip
    for condition_on in ([], ["interest_rate"]):
        synth = DPTVAESynthesizer(
            meta, epsilon=args.epsilon, epochs=args.epochs, condition_on=condition_on, progress=False
        ).fit(train)
        syn = synth.sample(len(train))
        rate = evaluation.ml_utility(train, syn, holdout, "interest_rate", task="regression")["headline"]["ratio"]
        default = evaluation.ml_utility(train, syn, holdout, "default")["headline"]["ratio"]
        share, spread = encoder_share(synth, train)
        print(
            f"conditioned on {['default', *condition_on]}: corr {syn['credit_score'].corr(syn['interest_rate']):.2f}, "
            f"interest_rate R2 ratio {rate:.2f}, default ROC AUC ratio {default:.2f}, encoder's gradient share "
            f"{share:.2%}, posterior-mean variance {spread:.4f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
