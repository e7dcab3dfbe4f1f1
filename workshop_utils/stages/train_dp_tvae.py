"""Notebook 04: split per row, set roles and what is public, charge the lifetime budget, train, save."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from .. import catalog, cleaning, splits
from ..budget import DEFAULT_CAP, PrivacyBudget, bytes_fingerprint
from ..catalog import CatalogEntry
from ..config import Settings
from ..dataset import DatasetError, DatasetSpec
from ..metadata import MODELED, MetadataError, TableMetadata
from ..sdv_baseline import SDVBaseline
from ..storage import S3Store
from ..synth import DPTVAESynthesizer


def budget_for(store: S3Store, settings: Settings, entry: CatalogEntry, cap: float = DEFAULT_CAP) -> PrivacyBudget:
    """The lifetime privacy budget of the raw table that ``entry`` comes from (keyed by its content
    hash): every fit on any table derived from the same raw rows spends from one account."""
    root = catalog.lineage(store, settings, entry)
    params = root["Parameters"]
    digest = params.get("contentSha256") or bytes_fingerprint(store.get_bytes(params["objectKey"]))
    return PrivacyBudget(store, digest, cap, table_name=root["Name"])


def split_holdout(
    store: S3Store, settings: Settings, spec: DatasetSpec, holdout_share: float = 0.2
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, CatalogEntry]]:
    """Split once into a training part and a real holdout, each row on its own (a keyed hash of
    the row with a key from the OS, never stored: see ``splits``); store both."""
    if not 0 < holdout_share < 1:
        raise ValueError(f"holdout_share must be in (0, 1), got {holdout_share}.")
    tables = spec.tables
    done = [catalog.existing_entry(store, settings, name) for name in (tables.train, tables.holdout)]
    if all(done):  # a resumed run: the split it made before (its key is gone, so it cannot be remade)
        train_entry, holdout_entry = done
        return (
            catalog.read_table(store, train_entry),
            catalog.read_table(store, holdout_entry),
            {"train": train_entry, "holdout": holdout_entry},
        )
    source = catalog.find_table(store, settings, tables.deidentified)
    table = catalog.read_table(store, source)
    types = catalog.column_types(source)
    if len(table) < 10:
        raise ValueError(
            f"Table {tables.deidentified!r} has {len(table)} row(s): too few to split into a training part and a "
            "holdout and to learn anything. Use a table of at least a few hundred rows."
        )
    train, holdout = splits.split_train_holdout(table, holdout_share)
    if train.empty or holdout.empty:
        raise ValueError(
            f"The split of {len(table)} rows left the {'training part' if train.empty else 'holdout'} empty; "
            "use more rows or another holdout_share."
        )
    src = catalog.source_of(source)
    entries = {
        "train": catalog.write_table(
            store,
            settings,
            tables.train,
            train,
            types,
            "splits",
            source=src,
            description="Training part: the only rows the synthesizer sees.",
        ),
        "holdout": catalog.write_table(
            store,
            settings,
            tables.holdout,
            holdout,
            types,
            "splits",
            source=src,
            description="Real holdout for evaluation; never seen by the model.",
        ),
    }
    return train, holdout, entries


def declare_public_from_job(meta: TableMetadata, job: dict[str, Any], columns: list[str]) -> list[str]:
    """Declare as public what the data owner wrote in the cleaning job: Validate min/max
    ranges become bounds, Standardize canonical lists become category domains, and columns
    whose missing rows are dropped (HandleMissing ``drop``) or refused (Validate ``not_null``)
    become not nullable. A list or range marked ``public: false`` (what ``infer_job`` read off
    the values) is skipped: it is not public until the owner reviews it and says so, and the
    synthesizer then estimates it under DP instead. A median or mode fill is refused: it puts a
    statistic of the real data into the training table outside the budget."""
    if job.get("reviewed") is False:
        raise cleaning.JobError(
            f"The cleaning job {job.get('name')!r} was inferred from the values and has not been reviewed: its "
            "types and category spellings are not public, so a model may not take them for free. Review the job "
            "(notebook 02 writes it to processed/<run-id>/job.yaml; init-dataset writes it beside the spec), set "
            "`reviewed: true`, name it in the dataset spec's cleaning_job and run 02 again."
        )
    declared = []
    for step in job["steps"]:
        ((name, opts),) = step.items()
        opts = opts or {}
        if name == "HandleMissing":
            fills = [c for c, s in (opts.get("columns") or {}).items() if _strategy(s) in ("median", "mode")]
            if opts.get("default") in ("median", "mode"):
                fills.append("(every other column: default)")
            if fills:
                raise cleaning.JobError(
                    f"The cleaning job fills {fills} with a median or mode of the real data: that statistic would "
                    "reach the model outside the privacy budget. Use 'keep' (the synthesizer models missing "
                    "values) or a 'constant' you declare."
                )
            for col, spec in (opts.get("columns") or {}).items():
                if col in columns and _strategy(spec) == "drop" and meta.columns[col].role in MODELED:
                    meta.set_nullable(col, False)
                    declared.append(f"{col}: never null (rows without it are dropped)")
        if name == "Validate":
            for rule in opts["rules"]:
                col = rule["column"]
                if col not in columns or not rule.get("public", True):
                    continue
                if "min" in rule and "max" in rule and meta.columns[col].modeled_kind() in ("numerical", "datetime"):
                    meta.set_bounds(col, rule["min"], rule["max"])
                    declared.append(f"{col}: bounds [{rule['min']}, {rule['max']}] (rule {rule['name']})")
                if rule.get("not_null") and meta.columns[col].role in MODELED:
                    meta.set_nullable(col, False)
                    declared.append(f"{col}: never null (rule {rule['name']})")
        if name == "Standardize":
            for col, spec in opts["columns"].items():
                spec = spec or {}
                if (
                    col in columns
                    and spec.get("canonical")
                    and spec.get("public", True)
                    and meta.columns[col].modeled_kind() == "categorical"
                ):
                    meta.set_categories(col, list(spec["canonical"]))
                    declared.append(f"{col}: {len(spec['canonical'])} categories (Standardize)")
    return declared


def _strategy(spec: Any) -> str | None:
    return spec if isinstance(spec, str) else (spec or {}).get("strategy")


def metadata_for(
    spec: DatasetSpec, table: pd.DataFrame, job: dict[str, Any], types: dict[str, str]
) -> tuple[TableMetadata, list[str]]:
    """Roles from the declared ``types`` (the catalog's), the spec's roles and target, plus what
    the cleaning job declares public. Never reads the values."""
    meta = TableMetadata.detect(table, types={c: t for c, t in types.items() if c in table.columns})
    for col, role in spec.roles.items():
        if col in meta.columns:  # a role for a column the cleaning job dropped is moot
            meta.set_role(col, role)
    meta.set_role(spec.target, "target", task=spec.task)
    declared = declare_public_from_job(meta, job, list(table.columns))
    schema_rules = (
        (
            "inequalities",
            spec.inequality_pairs,
            meta.set_inequality,
            "{b}: never below {a} (spec rule '{a} <= {b}'), modeled as the gap",
        ),
        (
            "hierarchies",
            spec.hierarchy_pairs,
            meta.set_hierarchy,
            "{b}: within {a} (spec '{a} > {b}'), kept as (parent, child) pairs",
        ),
    )
    for key, pairs, declare, note in schema_rules:
        for a, b in pairs:  # a rule on a column the cleaning job dropped is moot
            if a in meta.columns and b in meta.columns:
                try:
                    declare(a, b)
                except MetadataError as exc:
                    raise DatasetError(f"Dataset spec {spec.name!r}, {key}: {exc}") from None
                declared.append(note.format(a=a, b=b))
    return meta, declared


def train_synthesizer(
    synth: DPTVAESynthesizer,
    train: pd.DataFrame,
    budget: PrivacyBudget,
    settings: Settings,
    train_entry: CatalogEntry,
    internal_only: bool = False,
) -> DPTVAESynthesizer:
    """Charge the table's lifetime budget, then fit; the ledger says which table the guarantee covers."""
    source = train_entry["Parameters"]["source"]
    synth.fit(
        train,
        budget=budget,
        internal_only=internal_only,
        purpose=f"DP-TVAE fit, run {settings.run_id}, table {source.get('table')} ({len(train)} training rows)",
    )
    synth.ledger_.add(
        "guarantee",
        str(source.get("table")),
        "per-row train/holdout split",
        0.0,
        0.0,
        f"Each row of {source.get('table')} went to the holdout by a keyed hash of the row (secret key from the "
        "OS, never stored), so adding or removing one row of that table changes only that row's part: the "
        "guarantee covers every row of the de-identified table, a per-row transform of the raw table.",
    )
    return synth


def fit_or_reuse(
    store: S3Store,
    settings: Settings,
    spec: DatasetSpec,
    synth: DPTVAESynthesizer,
    train: pd.DataFrame,
    budget: PrivacyBudget,
    split_entries: dict[str, CatalogEntry],
    name: str,
    internal_only: bool = False,
) -> tuple[DPTVAESynthesizer, dict[str, str], bool]:
    """(model, keys, reused): a resumed run reuses the model it saved before (no second fit, no second
    charge); otherwise charge, fit and save."""
    card_key = settings.key("models", f"{name}.json")
    if store.exists(card_key):
        card = store.read_json(card_key)
        with tempfile.TemporaryDirectory() as tmp:
            path = store.download_file(card["model_key"], Path(tmp) / "model.pt")
            return DPTVAESynthesizer.load(path), {"model": card["model_key"], "card": card_key}, True
    train_synthesizer(synth, train, budget, settings, split_entries["train"], internal_only=internal_only)
    extra = {
        "train_table": catalog.source_of(split_entries["train"]),
        "holdout_table": catalog.source_of(split_entries["holdout"]),
    }
    return synth, save_model(store, settings, spec, synth, name, extra), False


def save_model(
    store: S3Store,
    settings: Settings,
    spec: DatasetSpec,
    synth: DPTVAESynthesizer,
    name: str,
    extra: dict[str, Any] | None = None,
) -> dict[str, str]:
    """Upload a fitted synthesizer and its model card to ``{prefix}/models/{run-id}/`` (the owner's)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = synth.save(Path(tmp) / f"{name}.pt")
        model_key = store.put_bytes(settings.key("models", f"{name}.pt"), path.read_bytes())
    card = {
        "name": name,
        "dataset": spec.name,
        "model_key": model_key,
        "params": synth.get_parameters() | synth.training_summary(),
        "metadata": synth.metadata.to_dict(),
        "privacy_ledger": synth.ledger_.to_records(),
        "epsilon_spent": synth.epsilon_spent,
        "lifetime_budget": synth.ledger_.lifetime,
        "internal_only": synth.internal_only_,
        "training_seconds": synth.training_seconds_,
        "loss_history": synth.shareable_loss_history(),
        "run_id": settings.run_id,
    } | (extra or {})
    card_key = store.write_json(card, settings.key("models", f"{name}.json"))
    return {"model": model_key, "card": card_key}


def train_sdv_baseline(
    store: S3Store,
    settings: Settings,
    spec: DatasetSpec,
    meta: TableMetadata,
    train: pd.DataFrame,
    budget: PrivacyBudget,
    train_entry: CatalogEntry,
    epochs: int,
) -> tuple[SDVBaseline | None, CatalogEntry]:
    """SDV's TVAESynthesizer without DP, as the original AWS workshop trains it (SDV's own batch of 500,
    not our synthesizer's); its samples (as many
    as training rows) go to ``baselines/`` for notebook 06's comparison and never leave the owner."""
    existing = catalog.existing_entry(store, settings, spec.tables.sdv_baseline)
    if existing is not None:  # a resumed run: trained before
        return None, existing
    baseline = SDVBaseline(meta, epochs=epochs, table_name=spec.name).fit(train, budget)
    samples = baseline.sample(len(train))
    entry = catalog.write_table(
        store,
        settings,
        spec.tables.sdv_baseline,
        samples,
        catalog.column_types(train_entry),
        "baselines",
        source={"train": catalog.source_of(train_entry)},
        description="Samples of SDV's TVAESynthesizer without DP: internal comparison only, never released.",
        extra={"internalOnly": True, "epochs": epochs},
    )
    return baseline, entry
