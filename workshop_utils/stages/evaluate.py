"""Notebook 06: score the synthetic table against the real holdout, gate it, write the owner's internal
report, and, if it passes, the release bundle (the only thing that may leave)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .. import catalog, release, report
from ..budget import PrivacyBudget
from ..catalog import CatalogEntry
from ..config import Settings
from ..dataset import DatasetSpec
from ..metadata import TableMetadata
from ..progress import progress_bar
from ..storage import S3Store
from ..synth import DPTVAESynthesizer
from ..targeted_attack import ShadowSettings, shadows_of


@dataclass
class EvaluationOutput:
    metrics: dict[str, Any]
    verdict: report.Verdict
    train: pd.DataFrame
    holdout: pd.DataFrame
    synthetic: pd.DataFrame
    keys: dict[str, str]
    released: CatalogEntry | None
    synthetic_entry: CatalogEntry


def read_splits(
    store: S3Store, settings: Settings, spec: DatasetSpec, synthetic_entry: CatalogEntry
) -> tuple[pd.DataFrame, pd.DataFrame, CatalogEntry]:
    """(train, holdout, train entry) of the split the synthetic table's model was trained on."""
    split_run = synthetic_entry["Parameters"]["source"]["train"]["runId"]
    train_entry = catalog.find_table(store, settings, spec.tables.train, run_id=split_run)
    train = catalog.read_table(store, train_entry)
    holdout = catalog.read_table(store, catalog.find_table(store, settings, spec.tables.holdout, run_id=split_run))
    return train, holdout, train_entry


def load_synthesizer(store: S3Store, synthetic_entry: CatalogEntry) -> DPTVAESynthesizer:
    """The model that sampled this synthetic table (its settings drive the shadow synthesizers)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = store.download_file(synthetic_entry["Parameters"]["source"]["model"], Path(tmp) / "model.pt")
        return DPTVAESynthesizer.load(path)


def run_evaluation(
    store: S3Store,
    settings: Settings,
    spec: DatasetSpec,
    policy: report.ReleasePolicy | None = None,
    shadow_settings: ShadowSettings | None = None,
) -> EvaluationOutput:
    """Evaluate the newest synthetic table against its training part and real holdout; gate; report.
    ``shadow_settings`` runs the targeted shadow-model attack on synthesizers like the one that
    made the table (None skips it; the gate then rests on DCR)."""
    policy = policy or report.ReleasePolicy()
    syn_entry = catalog.find_table(store, settings, spec.tables.synthetic)
    train, holdout, _ = read_splits(store, settings, spec, syn_entry)
    synthetic = catalog.read_table(store, syn_entry)
    ledger = store.read_json(syn_entry["Parameters"]["privacyLedgerKey"])
    shadow = None
    if shadow_settings is not None:
        shadow = shadows_of(load_synthesizer(store, syn_entry), shadow_settings)
    metrics = report.evaluate(
        train,
        holdout,
        synthetic,
        spec.target,
        spec.task,
        ledger,
        seed=settings.seed,
        shadow=shadow,
        shadow_settings=shadow_settings,
        also_predict=spec.also_predict,
    )
    metrics["lifetime_budget"] = syn_entry["Parameters"].get("lifetimeBudget")
    verdict = report.gate(metrics, policy)
    if syn_entry["Parameters"].get("internalOnly") and verdict.passed:
        verdict = report.Verdict(False, [*verdict.reasons, "FAILED: the model was fitted for internal use only"])
    figures = report.figures(metrics, holdout, synthetic)
    # timings differ from one computation to the next: a resumed run keeps what it wrote first
    keys = {
        "metrics": store.write_json_once(
            report.to_json(metrics, verdict, policy), settings.key("reports", "evaluation.json")
        ),
        "html": store.put_once(
            settings.key("reports", "report.html"),
            report.html_report(metrics, verdict, figures, f"Synthetic {spec.name}").encode(),
            "text/html",
        ),
    }
    released = None
    if verdict.passed:
        card = store.read_json(syn_entry["Parameters"]["modelCardKey"])
        bundle = {
            "privacy_ledger.json": release.public_ledger(ledger, syn_entry["Parameters"].get("lifetimeBudget")),
            "model_card.json": release.public_model_card(card, len(synthetic), list(synthetic.columns)),
            "scores.json": release.public_scores(metrics, verdict),
        }
        release.check_bundle(bundle | {f"{spec.tables.released}.parquet": b""})  # before anything is written
        released = catalog.write_table(
            store,
            settings,
            spec.tables.released,
            synthetic,
            catalog.column_types(syn_entry),
            "released",
            source=catalog.source_of(syn_entry),
            description="Synthetic table that passed the release gate.",
            extra={"verdict": verdict.reasons, "epsilonSpent": metrics["claimed_epsilon"]},
        )
        for name, content in bundle.items():
            keys[f"released/{name}"] = store.write_json_once(content, settings.key("released", name))
    return EvaluationOutput(metrics, verdict, train, holdout, synthetic, keys, released, syn_entry)


def sweep(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    metadata: TableMetadata,
    epsilons: list[float | None],
    epochs: int = 60,
    batch_size: int = 1000,
    seed: int = 0,
    budget: PrivacyBudget | None = None,
    **synth_kwargs: Any,
) -> pd.DataFrame:
    """Privacy-utility frontier: train and evaluate one model per epsilon (None = no DP).

    Every point spends its epsilon on the same rows: with a ``budget`` the whole sweep is
    checked against the cap before the first fit and each fit is charged. The sweep's models
    stay with the data owner (its results go to the internal report), so the non-private point
    is charged as internal only."""
    if budget is not None:
        budget.require(sum(e for e in epsilons if e is not None))
    target = metadata.target
    task = metadata.columns[target].task if target else None
    rows = []
    for eps in progress_bar(epsilons, desc="frontier"):
        synth = DPTVAESynthesizer(
            metadata, epsilon=eps, epochs=epochs, batch_size=batch_size, seed=seed, progress=False, **synth_kwargs
        ).fit(train, budget=budget, internal_only=True, purpose=f"frontier sweep point epsilon={eps}")
        synthetic = synth.sample(len(train))
        m = report.evaluate(
            train,
            holdout,
            synthetic,
            target,
            task or "classification",
            synth.ledger_.to_records(),
            pairs=False,
            sdmetrics=False,
            anonymeter=False,
            seed=seed,
        )
        rows.append(
            {
                "epsilon": eps,
                "fidelity": m["fidelity"]["overall"],
                "tstr_ratio": m["utility"]["headline"]["ratio"] if m["utility"] else None,
                "attack_auc": m["privacy"]["max_auc"],
                "empirical_epsilon": m["privacy"]["empirical_epsilon_lower_bound"],
            }
        )
    return pd.DataFrame(rows)


def compare_with_sdv_baseline(
    store: S3Store, settings: Settings, spec: DatasetSpec, out: EvaluationOutput
) -> pd.DataFrame | None:
    """Ours beside SDV's non-private TVAE (notebook 04's samples of the same split), scored the same
    way on the real holdout; None when no baseline was trained for that split."""
    split_run = out.synthetic_entry["Parameters"]["source"]["train"]["runId"]
    try:
        entry = catalog.find_table(store, settings, spec.tables.sdv_baseline, run_id=split_run)
    except catalog.CatalogError:
        return None
    baseline = catalog.read_table(store, entry)
    columns = out.metrics["columns"]
    theirs = report.evaluate(
        out.train,
        out.holdout,
        baseline,
        spec.target,
        spec.task,
        None,
        columns=columns,
        sdmetrics=False,
        anonymeter=False,
        seed=settings.seed,
        progress_desc="evaluation of the SDV baseline",
    )
    rows = []
    for name, m in (
        (f"ours: DP-TVAE, epsilon {out.metrics['claimed_epsilon']:.3g}", out.metrics),
        ("SDV TVAE, no DP", theirs),
    ):
        utility = (m.get("utility") or {}).get("headline") or {}
        rows.append(
            {
                "synthesizer": name,
                "fidelity (columns)": m["fidelity"]["overall"],
                "fidelity (pairs)": m["fidelity"].get("pairs_overall"),
                f"utility ratio ({utility.get('metric')})": utility.get("ratio"),
                # the same attack for both: the targeted one ran on ours only
                "DCR attack AUC": next(a["auc"] for a in m["privacy"]["attacks"] if a["attack"].startswith("distance")),
                "privacy guarantee": "yes" if m is out.metrics else "none",
            }
        )
    return pd.DataFrame(rows)
