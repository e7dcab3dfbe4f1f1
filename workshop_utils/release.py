"""The release bundle: what may leave the data owner, and nothing else.

Two artefacts, two audiences. The evaluation report under ``reports/`` reads real rows (holdout
distributions, associations, distances of training rows) and is the data owner's, internal.
The bundle under ``released/{run-id}/`` is what may be shared: the synthetic rows, the privacy
ledger, a model card without seed or loss curve, and a few scores that are labelled as computed
inside the owner's boundary (they are not DP). Every file and every JSON field is checked
against the allow-list below *before* anything is written.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

from .dp import ledger_totals
from .synth import GUARANTEE

SCORES_LABEL = (
    "Computed by the data owner, inside the owner's boundary, on real rows (training part and "
    "holdout). These scores are NOT differentially private and are not covered by the ledger; "
    "they are aggregates the owners chose to share with the release."
)

# file name pattern -> allowed JSON field paths ("a.b[].c"); None for the synthetic table itself
ALLOW_LIST: dict[str, set[str] | None] = {
    "*.parquet": None,
    "privacy_ledger.json": {
        "guarantee",
        "epsilon",
        "delta",
        "entries[].step",
        "entries[].column",
        "entries[].mechanism",
        "entries[].epsilon",
        "entries[].delta",
        "entries[].detail",
        "entries[].composed",
        "lifetime.spent_epsilon",
        "lifetime.spent_delta",
        "lifetime.cap_epsilon",
        "lifetime.remaining_epsilon",
        "lifetime.charges",
    },
    "model_card.json": {
        "model",
        "epsilon_requested",
        "epsilon_spent",
        "delta",
        "guarantee",
        "rows_synthetic",
        "columns[]",
        "hyperparameters.*",
        "metadata.columns.*",
        "metadata.columns.*.*",
        "metadata.columns.*.*[]",
    },
    "scores.json": {
        "label",
        "fidelity",
        "pair_fidelity",
        "utility_ratio",
        "utility_metric",
        "attack_auc_max",
        "exact_copy_rate",
        "gate",
        "gate_reasons[]",
    },
}
# Hyperparameters that may be shared: never the seed (it would let anyone replay a non-private
# fit) and never anything fitted from the data outside the ledger.
PUBLIC_HYPERPARAMETERS = (
    "epochs",
    "batch_size",
    "max_grad_norm",
    "learning_rate",
    "preprocessing_share",
    "hidden",
    "latent_dim",
    "loss_factor",
    "target_weight",
    "condition_on_target",
    "condition_on",
    "also_predict",
    "calibrate_marginals",
    "within_bin",
    "measure_declared",
    "autoregressive",
    "find_rules",
    "noise_multiplier",
    "sample_rate",
    "steps",
)


class ReleaseBundleError(ValueError):
    """A file or field outside the release allow-list."""


def field_paths(obj: Any, prefix: str = "") -> set[str]:
    """Every leaf path of a JSON value: ``a.b``, lists as ``a[]``."""
    if isinstance(obj, dict):
        if not obj and prefix:
            return {prefix}
        return set().union(*(field_paths(v, f"{prefix}.{k}" if prefix else str(k)) for k, v in obj.items()))
    if isinstance(obj, list):
        return set().union(*(field_paths(v, f"{prefix}[]") for v in obj)) if obj else {f"{prefix}[]"}
    return {prefix}


def _allowed(path: str, patterns: set[str]) -> bool:
    return any(fnmatch.fnmatchcase(path, p) and path.count(".") == p.count(".") for p in patterns)


def check_bundle(files: dict[str, Any]) -> None:
    """Raise if any file name or JSON field is outside the allow-list (files: name -> JSON value or bytes)."""
    problems = []
    for name, content in files.items():
        pattern = next((p for p in ALLOW_LIST if fnmatch.fnmatchcase(name, p)), None)
        if pattern is None:
            problems.append(f"file {name!r} is not on the release allow-list")
            continue
        fields = ALLOW_LIST[pattern]
        if fields is None:
            continue
        value = json.loads(content) if isinstance(content, (bytes, str)) else content
        problems += [
            f"{name}: field {p!r} is not allowed" for p in sorted(field_paths(value)) if not _allowed(p, fields)
        ]
    if problems:
        raise ReleaseBundleError("The release bundle would carry more than it may: " + "; ".join(problems))


def public_model_card(card: dict[str, Any], rows_synthetic: int, columns: list[str]) -> dict[str, Any]:
    params = card["params"]
    return {
        "model": "DP-TVAE (workshop_utils.synth.DPTVAESynthesizer)",
        "epsilon_requested": params["epsilon"],
        "epsilon_spent": card["epsilon_spent"],
        "delta": ledger_totals(card["privacy_ledger"])[1],
        "guarantee": GUARANTEE,
        "rows_synthetic": rows_synthetic,
        "columns": columns,
        "hyperparameters": {k: params[k] for k in PUBLIC_HYPERPARAMETERS if k in params},
        "metadata": card["metadata"],  # roles and what the owner declared public
    }


def public_ledger(ledger: list[dict[str, Any]], lifetime: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "guarantee": GUARANTEE,
        "epsilon": ledger_totals(ledger)[0],
        "delta": ledger_totals(ledger)[1],
        "entries": ledger,
    }
    if lifetime:  # the table hash stays home: it is a function of the raw data
        keep = ("spent_epsilon", "spent_delta", "cap_epsilon", "remaining_epsilon", "charges")
        out["lifetime"] = {k: lifetime[k] for k in keep if k in lifetime}
    return out


def public_scores(metrics: dict[str, Any], verdict: Any) -> dict[str, Any]:
    utility = (metrics.get("utility") or {}).get("headline") or {}
    return {
        "label": SCORES_LABEL,
        "fidelity": metrics["fidelity"]["overall"],
        "pair_fidelity": metrics["fidelity"].get("pairs_overall"),
        "utility_ratio": utility.get("ratio"),
        "utility_metric": utility.get("metric"),
        "attack_auc_max": metrics["privacy"]["max_auc"],
        "exact_copy_rate": metrics["privacy"]["exact_copy_rate"],
        "gate": verdict.label,
        "gate_reasons": list(verdict.reasons),
    }
