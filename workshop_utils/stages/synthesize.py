"""Notebook 05: load the trained model, sample, check the schema, store the synthetic table with its ledger."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from .. import catalog
from ..catalog import CatalogEntry
from ..config import Settings
from ..dataset import DatasetSpec
from ..storage import S3Store
from ..synth import DPTVAESynthesizer


def load_model(
    store: S3Store, settings: Settings, spec: DatasetSpec, name: str = "dp_tvae", run_id: str | None = None
) -> tuple[DPTVAESynthesizer, dict[str, Any]]:
    """The newest saved model called ``name`` for this dataset (or that of ``run_id``) and its model card."""
    cards = [
        card
        for card in (
            store.read_json(k)
            for k in store.list_keys(f"{settings.prefix}/models/")
            if k.endswith(f"/{name}.json") and (run_id is None or f"/{run_id}/" in k)
        )
        if card.get("dataset") == spec.name
    ]
    if not cards:
        raise catalog.CatalogError(
            f"No model {name!r} for dataset {spec.name!r} under s3://{settings.bucket}/{settings.prefix}/models/. "
            "Run notebook 04_train_dp_tvae first."
        )
    card = max(cards, key=lambda c: store.head(c["model_key"])["last_modified"])
    with tempfile.TemporaryDirectory() as tmp:
        path = store.download_file(card["model_key"], Path(tmp) / "model.pt")
        return DPTVAESynthesizer.load(path), card


def condition_example(synth: DPTVAESynthesizer) -> dict[str, Any] | None:
    """A value of the target to condition on (from the model's own, DP, category list), or None
    for a numeric target."""
    enc = next((e for e in synth.encodings_ if e.name == synth.metadata.target), None)
    if enc is None or enc.kind not in ("categorical", "boolean"):
        return None
    if enc.kind == "boolean":
        return {enc.name: True}
    return {enc.name: enc.categories[-1]} if enc.categories else None


def schema_check(reference: pd.DataFrame, synthetic: pd.DataFrame, types: dict[str, str]) -> pd.DataFrame:
    """Column by column: same names and order as the real table, and values of the declared type
    (the catalog's; pandas dtypes alone would differ wherever one side happens to hold a null)."""
    rows = []
    for i, col in enumerate(reference.columns):
        present = col in synthetic.columns
        try:
            if present:
                pa.Table.from_pandas(synthetic[[col]], schema=catalog.arrow_schema(synthetic[[col]], types))
            fits = present
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
            fits = False
        rows.append(
            {
                "column": col,
                "position_ok": present and synthetic.columns.get_loc(col) == i,
                "declared_type": types.get(col),
                "dtype_real": str(reference[col].dtype),
                "dtype_synthetic": str(synthetic[col].dtype) if present else None,
                "ok": fits,
            }
        )
    return pd.DataFrame(rows)


def compare_summaries(real: pd.DataFrame, synthetic: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """Real vs synthetic side by side: mean / std / null share for numbers, top category share for the rest."""
    rows = []
    for col in columns or list(real.columns):
        r, s = real[col], synthetic[col]
        row = {
            "column": col,
            "null % real": round(100 * r.isna().mean(), 1),
            "null % synthetic": round(100 * s.isna().mean(), 1),
        }
        if pd.api.types.is_numeric_dtype(r) and not pd.api.types.is_bool_dtype(r):
            row |= {"mean real": r.mean(), "mean synthetic": s.mean(), "std real": r.std(), "std synthetic": s.std()}
        elif r.notna().any():
            top = r.value_counts(normalize=True).index[0]
            share = [round(100 * float((x == top).fillna(False).astype(bool).mean()), 1) for x in (r, s)]
            row |= {"top value": top, "top % real": share[0], "top % synthetic": share[1]}
        rows.append(row)
    return pd.DataFrame(rows)


def plot_columns(spec: DatasetSpec, synth: DPTVAESynthesizer, limit: int = 3) -> list[str]:
    """The spec's columns to plot, else the first numeric modeled columns."""
    if spec.plot_columns:
        return list(spec.plot_columns)
    numeric = [e.name for e in synth.encodings_ if e.kind == "numerical"]
    return numeric[:limit]


def write_synthetic(
    store: S3Store,
    settings: Settings,
    spec: DatasetSpec,
    synthetic: pd.DataFrame,
    train_entry: CatalogEntry,
    card: dict[str, Any],
) -> CatalogEntry:
    """Store the synthetic table (Parquet, catalogued) with the model's privacy ledger beside it."""
    types = catalog.column_types(train_entry)
    ledger_key = store.write_json(card["privacy_ledger"], settings.key("synthetic", "privacy_ledger.json"))
    return catalog.write_table(
        store,
        settings,
        spec.tables.synthetic,
        synthetic,
        {c: types[c] for c in synthetic.columns},
        "synthetic",
        source={"model": card["model_key"], "train": catalog.source_of(train_entry)},
        description="Synthetic rows sampled from the DP-TVAE.",
        extra={
            "epsilonSpent": card["epsilon_spent"],
            "privacyLedgerKey": ledger_key,
            "epsilonRequested": card["params"]["epsilon"],
            "modelCardKey": card["model_key"].removesuffix(".pt") + ".json",
            "lifetimeBudget": card.get("lifetime_budget"),
            "internalOnly": card.get("internal_only", card["params"]["epsilon"] is None),
        },
    )
