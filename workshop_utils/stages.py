"""Stage runners used by the notebooks: read the input through the catalog, run, write outputs.

Each returns what it wrote so notebooks can show it and tests can check it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from . import catalog, cleaning
from .config import Settings
from .storage import S3Store

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
