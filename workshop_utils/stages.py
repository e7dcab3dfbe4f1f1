"""Stage runners used by the notebooks: read the input through the catalog, run, write outputs.

Each returns what it wrote so notebooks can show it and tests can check it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from . import catalog, cleaning, release, splits
from .budget import DEFAULT_CAP, PrivacyBudget, bytes_fingerprint
from .config import Settings
from .storage import S3Store
from .synth import DPTVAESynthesizer

MODELED_ROLES = ("categorical", "numerical", "datetime", "boolean", "target")
RAW_TABLE = "bank_customers_raw"
PROCESSED_TABLE = "bank_customers"


def crawl_raw_csv(store: S3Store, settings: Settings, key: str, name: str = RAW_TABLE) -> dict[str, Any]:
    """Register a raw CSV in the catalog (what a Glue crawler does): all columns as strings."""
    df = store.read_csv(key, dtype=str)
    return catalog.register(
        store,
        settings,
        name,
        df,
        dict.fromkeys(df.columns, "string"),
        key,
        "csv",
        "raw",
        description="Raw CSV as landed; every column read as text.",
        # keys the source table's lifetime privacy budget (budget.py)
        extra={"contentSha256": bytes_fingerprint(store.get_bytes(key))},
    )


@dataclass
class CleaningOutput:
    result: cleaning.JobResult
    table_entry: dict[str, Any]
    quarantine_key: str
    report_key: str
    raw: pd.DataFrame


def run_cleaning(
    store: S3Store,
    settings: Settings,
    job: dict[str, Any] | str | Path | None = None,
    source_table: str = RAW_TABLE,
    output_table: str = PROCESSED_TABLE,
) -> CleaningOutput:
    """Run a cleaning job on the newest raw table; write Parquet, quarantine, report, catalog entry."""
    source = catalog.find_table(store, settings, source_table)
    raw = catalog.read_table(store, source)
    if settings.sample_rows:
        raw = raw.head(settings.sample_rows)
    job = cleaning.load_job(job)
    result = cleaning.run_job(raw, job)
    src = catalog.source_of(source)
    entry = catalog.write_table(
        store,
        settings,
        output_table,
        result.table,
        result.types,
        "processed",
        source=src,
        description=f"Output of cleaning job {job.get('name')!r}.",
        extra={"job": job.get("name"), "rowsQuarantined": len(result.quarantine)},
    )
    q_types = result.types | {cleaning.SOURCE_ROW: "int", cleaning.QUARANTINE_REASON: "string"}
    q_entry = catalog.write_table(
        store,
        settings,
        f"{output_table}_quarantine",
        result.quarantine,
        q_types,
        "quarantine",
        source=src,
        description="Rows that broke a Validate rule, with the rule.",
    )
    report_key = store.write_json(
        result.report | {"job_spec": job, "source": src}, settings.key("processed", "job_report.json")
    )
    return CleaningOutput(result, entry, q_entry["Parameters"]["objectKey"], report_key, raw)


DEIDENTIFIED_TABLE = "bank_customers_deidentified"


@dataclass
class PiiOutput:
    table: pd.DataFrame
    findings: Any  # pii.ScanReport
    risk_before: pd.DataFrame
    remediation: Any  # deid.Remediation
    rescan: Any  # pii.ScanReport
    risk_after: pd.DataFrame
    quasi_identifiers: list[str]
    entry: dict[str, Any]
    keys: dict[str, str]


def run_pii_check(
    store: S3Store,
    settings: Settings,
    policy: dict[str, Any] | None = None,
    quasi_identifiers: list[str] | None = None,
    source_table: str = PROCESSED_TABLE,
    output_table: str = DEIDENTIFIED_TABLE,
    sample_rows: int | None = None,
) -> PiiOutput:
    """Scan the newest processed table, measure QI risk, remediate, re-scan, write everything."""
    from . import deid, pii, risk

    source = catalog.find_table(store, settings, source_table)
    table = catalog.read_table(store, source)
    types = catalog.column_types(source)
    findings = pii.scan(table, source_table, sample_rows=sample_rows or pii.DEFAULT_SAMPLE_ROWS, seed=settings.seed)
    qis = quasi_identifiers or risk.suggest_quasi_identifiers(table, {f.column: f.type for f in findings.findings})
    risk_before = risk.generalization_ladder(table, qis)
    remediation = deid.apply_policy(table, findings, types, policy)
    rescan = pii.scan(
        remediation.table, output_table, sample_rows=sample_rows or pii.DEFAULT_SAMPLE_ROWS, seed=settings.seed
    )
    qis_after = [c for c in remediation.table.columns if c in qis or any(c.startswith(f"{q}_") for q in qis)]
    risk_after = risk.generalization_ladder(remediation.table, qis_after)
    keys = {
        "findings": store.write_json(findings.to_dict(), settings.key("pii", "findings.json")),
        "rescan": store.write_json(rescan.to_dict(), settings.key("pii", "rescan_findings.json")),
        "risk": store.write_json(
            {
                "quasi_identifiers": qis,
                "before": risk_before.to_dict("records"),
                "after_remediation": {"quasi_identifiers": qis_after, "ladder": risk_after.to_dict("records")},
            },
            settings.key("pii", "quasi_identifier_risk.json"),
        ),
        "remediation": store.write_json(remediation.log, settings.key("pii", "remediation_log.json")),
    }
    entry = catalog.write_table(
        store,
        settings,
        output_table,
        remediation.table,
        remediation.types,
        "deidentified",
        source=catalog.source_of(source),
        description="Processed table after PII remediation.",
        extra={
            "remediation": remediation.log,
            "rescanMediumOrHigh": len(rescan.at_or_above("medium")),
            "quasiIdentifiers": qis_after,
        },
    )
    return PiiOutput(remediation.table, findings, risk_before, remediation, rescan, risk_after, qis, entry, keys)


TRAIN_TABLE = "bank_customers_train"
HOLDOUT_TABLE = "bank_customers_holdout"
SYNTHETIC_TABLE = "bank_customers_synthetic"


def declare_public_from_job(meta: Any, job: dict[str, Any], columns: list[str]) -> list[str]:
    """Declare as public what the data owner wrote in the cleaning job: Validate min/max
    ranges become bounds, Standardize canonical lists become category domains, and columns
    whose missing rows are dropped (HandleMissing ``drop``) or refused (Validate ``not_null``)
    become not nullable. A list or range marked ``public: false`` (what ``infer_job`` read off
    the values) is skipped: it is not public until the owner reviews it and says so, and the
    synthesizer then estimates it under DP instead."""
    declared = []
    for step in job["steps"]:
        ((name, opts),) = step.items()
        fills = [
            col
            for col, spec in ((opts or {}).get("columns") or {}).items()
            if name == "HandleMissing"
            and (spec if isinstance(spec, str) else (spec or {}).get("strategy")) in ("median", "mode")
        ]
        if name == "HandleMissing" and (opts or {}).get("default") in ("median", "mode"):
            fills.append("(every other column: default)")
        if fills:
            raise cleaning.JobError(
                f"The cleaning job fills {fills} with a median or mode of the real data: that statistic would reach "
                "the model outside the privacy budget. Use 'keep' (the synthesizer models missing values) or a "
                "'constant' you declare."
            )
        if name == "Validate":
            for rule in opts["rules"]:
                col = rule["column"]
                if col not in columns or not rule.get("public", True):
                    continue
                if "min" in rule and "max" in rule and meta.columns[col].modeled_kind() in ("numerical", "datetime"):
                    meta.set_bounds(col, rule["min"], rule["max"])
                    declared.append(f"{col}: bounds [{rule['min']}, {rule['max']}] (rule {rule['name']})")
                if rule.get("not_null") and meta.columns[col].role in MODELED_ROLES:
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
        if name == "HandleMissing":
            for col, spec in (opts.get("columns") or {}).items():
                strategy = spec if isinstance(spec, str) else (spec or {}).get("strategy")
                if col in columns and strategy == "drop" and meta.columns[col].role in MODELED_ROLES:
                    meta.set_nullable(col, False)
                    declared.append(f"{col}: never null (rows without it are dropped)")
    return declared


def sample_metadata(
    table: pd.DataFrame, job: dict[str, Any] | None = None, types: dict[str, str] | None = None
) -> tuple[Any, list[str]]:
    """Roles for the workshop's de-identified table (from its declared ``types``, e.g. the
    catalog's column types), plus what the cleaning job declares public."""
    from .metadata import TableMetadata

    meta = TableMetadata.detect(table, types={c: t for c, t in (types or {}).items() if c in table.columns})
    for col in table.columns:
        if col == "customer_id":
            meta.set_role(col, "id")
        elif col == "notes":
            meta.set_role(col, "excluded")  # redacted free text: not modeled
        elif col in ("city", "zip_code_prefix3"):
            # Hundreds of values each (data dictionary): at a workshop budget the DP category
            # domain keeps almost none of them, so the columns would be all "other". Not modeled.
            meta.set_role(col, "excluded")
    meta.set_role("default", "target", task="classification")
    declared = declare_public_from_job(meta, cleaning.load_job(job), list(table.columns))
    return meta, declared


def split_holdout(
    store: S3Store,
    settings: Settings,
    source_table: str = "bank_customers_deidentified",
    holdout_share: float = 0.2,
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Split once into a training part and a real holdout, each row on its own (a keyed hash of
    the row with a key from the OS, never stored: see ``splits``); store both."""
    if not 0 < holdout_share < 1:
        raise ValueError(f"holdout_share must be in (0, 1), got {holdout_share}.")
    source = catalog.find_table(store, settings, source_table)
    table = catalog.read_table(store, source)
    types = catalog.column_types(source)
    train, holdout = splits.split_train_holdout(table, holdout_share)
    src = catalog.source_of(source)
    entries = {
        "train": catalog.write_table(
            store,
            settings,
            TRAIN_TABLE,
            train,
            types,
            "splits",
            source=src,
            description="Training part: the only rows the synthesizer sees.",
        ),
        "holdout": catalog.write_table(
            store,
            settings,
            HOLDOUT_TABLE,
            holdout,
            types,
            "splits",
            source=src,
            description="Real holdout for evaluation; never seen by the model.",
        ),
    }
    return train, holdout, entries


def lineage_root(store: S3Store, settings: Settings, entry: dict[str, Any]) -> dict[str, Any]:
    """The catalog entry of the table ``entry`` was derived from, following ``source`` to the raw table."""
    for _ in range(20):
        src = entry["Parameters"].get("source") or {}
        if "table" not in src or "runId" not in src:
            return entry
        entry = catalog.find_table(store, settings, src["table"], run_id=src["runId"])
    raise catalog.CatalogError(f"The lineage of table {entry['Name']!r} does not end in a raw table.")


def cleaning_job_for(store: S3Store, settings: Settings, entry: dict[str, Any]) -> dict[str, Any]:
    """The cleaning job that actually produced the table ``entry`` derives from (notebook 02's run)."""
    for _ in range(20):
        if entry["Parameters"].get("stage") == "processed":
            run = Settings(**(settings.as_dict() | {"run_id": entry["Parameters"]["runId"]}))
            return store.read_json(run.key("processed", "job_report.json"))["job_spec"]
        src = entry["Parameters"].get("source") or {}
        if "table" not in src or "runId" not in src:
            break
        entry = catalog.find_table(store, settings, src["table"], run_id=src["runId"])
    raise catalog.CatalogError(f"No cleaning job in the lineage of table {entry['Name']!r}; run notebook 02 first.")


def budget_for(store: S3Store, settings: Settings, entry: dict[str, Any], cap: float = DEFAULT_CAP) -> PrivacyBudget:
    """The lifetime privacy budget of the raw table that ``entry`` comes from (keyed by its content
    hash): every fit on any table derived from the same raw rows spends from one account."""
    root = lineage_root(store, settings, entry)
    digest = root["Parameters"].get("contentSha256") or bytes_fingerprint(
        store.get_bytes(root["Parameters"]["objectKey"])
    )
    return PrivacyBudget(store, settings.prefix, digest, cap, table_name=root["Name"])


def train_synthesizer(
    synth: DPTVAESynthesizer,
    train: pd.DataFrame,
    budget: PrivacyBudget,
    settings: Settings,
    source_entry: dict[str, Any],
    internal_only: bool = False,
) -> DPTVAESynthesizer:
    """Charge the table's lifetime budget, then fit; the ledger says which table the guarantee covers."""
    source = source_entry["Parameters"]["source"]
    synth.fit(
        train,
        budget=budget,
        internal_only=internal_only,
        purpose=f"DP-TVAE fit, run {settings.run_id}, table {source.get('table')} ({len(train)} training rows)",
    )
    synth.ledger.add(
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


def save_model(store: S3Store, settings: Settings, synth: Any, name: str, extra: dict[str, Any]) -> dict[str, str]:
    """Upload a fitted synthesizer and its model card to ``{prefix}/models/{run-id}/``."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = synth.save(Path(tmp) / f"{name}.pt")
        model_key = store.put_bytes(settings.key("models", f"{name}.pt"), path.read_bytes())
    card = {
        "name": name,
        "model_key": model_key,
        "params": synth.params,
        "metadata": synth.metadata.to_dict(),
        "privacy_ledger": synth.ledger.to_records(),
        "epsilon_spent": synth.epsilon_spent,
        "lifetime_budget": synth.ledger.lifetime,
        "internal_only": synth.internal_only,
        "training_seconds": synth.training_seconds,
        "loss_history": synth.shareable_loss_history(),
        "run_id": settings.run_id,
    } | extra
    card_key = store.write_json(card, settings.key("models", f"{name}.json"))
    return {"model": model_key, "card": card_key}


def load_model(
    store: S3Store, settings: Settings, name: str = "dp_tvae", run_id: str | None = None
) -> tuple[Any, dict]:
    """The newest saved model called ``name`` (or that of ``run_id``) and its model card."""
    import tempfile

    from .synth import DPTVAESynthesizer

    cards = [
        k
        for k in store.list_keys(f"{settings.prefix}/models/")
        if k.endswith(f"/{name}.json") and (run_id is None or f"/{run_id}/" in k)
    ]
    if not cards:
        raise catalog.CatalogError(
            f"No model {name!r} under s3://{settings.bucket}/{settings.prefix}/models/. "
            "Run notebook 04_train_dp_tvae first."
        )
    card = max((store.read_json(k) for k in cards), key=lambda c: store.head(c["model_key"])["last_modified"])
    with tempfile.TemporaryDirectory() as tmp:
        path = store.download_file(card["model_key"], Path(tmp) / "model.pt")
        return DPTVAESynthesizer.load(path), card


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


def write_synthetic(
    store: S3Store, settings: Settings, synthetic: pd.DataFrame, train_entry: dict[str, Any], card: dict[str, Any]
) -> dict[str, Any]:
    """Store the synthetic table (Parquet, catalogued) with the model's privacy ledger beside it."""
    types = catalog.column_types(train_entry)
    ledger_key = store.write_json(card["privacy_ledger"], settings.key("synthetic", "privacy_ledger.json"))
    return catalog.write_table(
        store,
        settings,
        SYNTHETIC_TABLE,
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


RELEASED_TABLE = "bank_customers_released"


class NothingReleasedError(RuntimeError):
    """No synthetic table passed the release gate."""


@dataclass
class EvaluationOutput:
    metrics: dict[str, Any]
    verdict: Any
    train: pd.DataFrame
    holdout: pd.DataFrame
    synthetic: pd.DataFrame
    keys: dict[str, str]
    released: dict[str, Any] | None


def run_evaluation(
    store: S3Store, settings: Settings, policy: Any = None, target: str = "default", task: str = "classification"
) -> EvaluationOutput:
    """Evaluate the newest synthetic table against its training part and real holdout; gate; report."""
    from . import report

    policy = policy or report.ReleasePolicy()
    syn_entry = catalog.find_table(store, settings, SYNTHETIC_TABLE)
    split_run = syn_entry["Parameters"]["source"]["train"]["runId"]
    train = catalog.read_table(store, catalog.find_table(store, settings, TRAIN_TABLE, run_id=split_run))
    holdout = catalog.read_table(store, catalog.find_table(store, settings, HOLDOUT_TABLE, run_id=split_run))
    synthetic = catalog.read_table(store, syn_entry)
    ledger = store.read_json(syn_entry["Parameters"]["privacyLedgerKey"])
    metrics = report.evaluate(train, holdout, synthetic, target, task, ledger, seed=settings.seed)
    metrics["lifetime_budget"] = syn_entry["Parameters"].get("lifetimeBudget")
    verdict = report.gate(metrics, policy)
    if syn_entry["Parameters"].get("internalOnly") and verdict.passed:
        verdict = report.Verdict(False, [*verdict.reasons, "FAILED: the model was fitted for internal use only"])
    figures = report.figures(metrics, holdout, synthetic)
    keys = {
        "metrics": store.write_json(
            report.to_json(metrics, verdict, policy), settings.key("reports", "evaluation.json")
        ),
        "html": store.put_bytes(
            settings.key("reports", "report.html"),
            report.html_report(metrics, verdict, figures, "Synthetic bank customers").encode(),
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
        release.check_bundle(bundle | {f"{RELEASED_TABLE}.parquet": b""})  # before anything is written
        released = catalog.write_table(
            store,
            settings,
            RELEASED_TABLE,
            synthetic,
            catalog.column_types(syn_entry),
            "released",
            source=catalog.source_of(syn_entry),
            description="Synthetic table that passed the release gate.",
            extra={"verdict": verdict.reasons, "epsilonSpent": metrics["claimed_epsilon"]},
        )
        for name, content in bundle.items():
            keys[f"released/{name}"] = store.write_json(content, settings.key("released", name))
    return EvaluationOutput(metrics, verdict, train, holdout, synthetic, keys, released)


def find_released(store: S3Store, settings: Settings) -> dict[str, Any]:
    try:
        return catalog.find_table(store, settings, RELEASED_TABLE)
    except catalog.CatalogError:
        raise NothingReleasedError(
            "Nothing has been released: no synthetic table passed the release gate of notebook 06. "
            "Read its report (reports/<run-id>/report.html), improve the model or adjust the policy with the data owners, "
            "and run 04-06 again."
        ) from None


def train_downstream(
    store: S3Store, settings: Settings, classification_target: str = "default", regression_target: str = "interest_rate"
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Train a classifier and a regressor on the released synthetic table and on real data; compare on the holdout."""
    import joblib
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.metrics import r2_score, roc_auc_score

    from .evaluation import _features

    released = find_released(store, settings)
    synthetic = catalog.read_table(store, released)
    split_run = store.read_json(
        catalog.entry_key(
            Settings(**(settings.as_dict() | {"run_id": released["Parameters"]["source"]["runId"]})), SYNTHETIC_TABLE
        )
    )["Parameters"]["source"]["train"]["runId"]
    train = catalog.read_table(store, catalog.find_table(store, settings, TRAIN_TABLE, run_id=split_run))
    holdout = catalog.read_table(store, catalog.find_table(store, settings, HOLDOUT_TABLE, run_id=split_run))
    keep = [
        c
        for c in synthetic.columns
        if synthetic[c].notna().any() and not synthetic[c].astype(str).str.startswith("SYN-").all()
    ]
    rows, keys = [], {}
    for target, task in ((classification_target, "classification"), (regression_target, "regression")):
        for source_name, source in (("synthetic (released)", synthetic), ("real (training part)", train)):
            data = source[keep][source[target].notna()]
            test = holdout[keep][holdout[target].notna()]
            X, X_test = _features([data, test], target)
            if task == "classification":
                model = HistGradientBoostingClassifier(random_state=settings.seed).fit(X, data[target].astype(bool))
                score = roc_auc_score(test[target].astype(bool), model.predict_proba(X_test)[:, 1])
                metric = "ROC AUC"
            else:
                model = HistGradientBoostingRegressor(random_state=settings.seed).fit(X, data[target].astype(float))
                score = r2_score(test[target].astype(float), model.predict(X_test))
                metric = "R^2"
            rows.append(
                {
                    "target": target,
                    "task": task,
                    "trained on": source_name,
                    "metric": metric,
                    "score on real holdout": score,
                }
            )
            if source_name.startswith("synthetic"):
                buf = io.BytesIO()
                joblib.dump({"model": model, "features": list(X.columns), "target": target}, buf)
                keys[target] = store.put_bytes(
                    settings.key("models/downstream", f"{target}_{task}.joblib"), buf.getvalue()
                )
    return pd.DataFrame(rows), keys
