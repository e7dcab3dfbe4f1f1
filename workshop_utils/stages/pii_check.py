"""Notebook 03: scan like Macie, measure quasi-identifier risk, remediate, re-scan, write everything."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import boto3
import pandas as pd

from .. import catalog, deid, macie, pii, risk
from ..catalog import CatalogEntry
from ..config import Settings
from ..dataset import DatasetSpec
from ..storage import S3Store


@dataclass
class PiiOutput:
    table: pd.DataFrame
    findings: pii.ScanReport
    risk_before: pd.DataFrame
    remediation: deid.Remediation
    rescan: pii.ScanReport
    risk_after: pd.DataFrame
    quasi_identifiers: list[str]
    policy: dict[str, Any]
    entry: CatalogEntry
    keys: dict[str, str]


def policy_for(spec: DatasetSpec, policy: dict[str, Any] | None = None) -> dict[str, Any]:
    """``policy`` or the default one, with the spec's additions (per-type and per-column actions)."""
    merged = copy.deepcopy(policy or deid.DEFAULT_POLICY)
    for section in ("types", "columns"):
        merged.setdefault(section, {}).update(spec.pii_policy.get(section, {}))
    return merged


def run_pii_check(
    store: S3Store,
    settings: Settings,
    spec: DatasetSpec,
    policy: dict[str, Any] | None = None,
    quasi_identifiers: list[str] | None = None,
    sample_rows: int | None = None,
    secret: bytes | None = None,
) -> PiiOutput:
    """Scan the newest processed table, measure QI risk, remediate, re-scan, write everything.

    ``secret`` keys the HMAC pseudonyms (default: WORKSHOP_HMAC_SECRET, else a fresh random key);
    Clean Rooms partners pass the secret they share so that a join key matches on both sides."""
    tables = spec.tables
    source = catalog.find_table(store, settings, tables.processed)
    table = catalog.read_table(store, source)
    types = catalog.column_types(source)
    rows = sample_rows or pii.DEFAULT_SAMPLE_ROWS
    findings = pii.scan(table, tables.processed, sample_rows=rows, seed=settings.seed)
    qis = quasi_identifiers or risk.suggest_quasi_identifiers(table, {f.column: f.type for f in findings.findings})
    risk_before = risk.generalization_ladder(table, qis)
    policy = policy_for(spec, policy)
    remediation = deid.apply_policy(table, findings, types, policy, secret=secret)
    existing = catalog.existing_entry(store, settings, tables.deidentified)
    if existing is not None:  # a resumed run: keep the table written before (its pseudonyms used another key)
        remediation.table = catalog.read_table(store, existing)
    rescan = pii.scan(remediation.table, tables.deidentified, sample_rows=rows, seed=settings.seed)
    qis_after = [c for c in remediation.table.columns if c in qis or any(c.startswith(f"{q}_") for q in qis)]
    risk_after = risk.generalization_ladder(remediation.table, qis_after)
    keys = {
        "findings": store.write_json_once(findings.to_dict(), settings.key("pii", "findings.json")),
        "rescan": store.write_json_once(rescan.to_dict(), settings.key("pii", "rescan_findings.json")),
        "risk": store.write_json_once(
            {
                "quasi_identifiers": qis,
                "before": risk_before.to_dict("records"),
                "after_remediation": {"quasi_identifiers": qis_after, "ladder": risk_after.to_dict("records")},
            },
            settings.key("pii", "quasi_identifier_risk.json"),
        ),
        "remediation": store.write_json_once(remediation.log, settings.key("pii", "remediation_log.json")),
        # the same findings in Macie's schema and detection-type names, beside the readable ones
        "macie": store.write_json_once(
            macie.to_macie_result(findings, settings.bucket, source["Parameters"]["objectKey"], list(table.columns)),
            settings.key("pii", "macie_findings.json"),
        ),
    }
    entry = existing or catalog.write_table(
        store,
        settings,
        tables.deidentified,
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
    return PiiOutput(
        remediation.table, findings, risk_before, remediation, rescan, risk_after, qis, policy, entry, keys
    )


def run_macie_job(store: S3Store, settings: Settings, spec: DatasetSpec) -> list[dict[str, Any]]:
    """aws mode only: a real one-time Amazon Macie job on the processed object, and its findings."""
    if settings.storage_mode != "aws":
        raise ValueError(
            "Amazon Macie runs only on AWS (moto does not implement it): set storage_mode='aws' to run a real "
            "classification job, or read the Macie-shaped findings this stage wrote (pii/<run-id>/macie_findings.json)."
        )
    session = boto3.session.Session(region_name=settings.region)
    account = session.client("sts").get_caller_identity()["Account"]
    key = catalog.find_table(store, settings, spec.tables.processed)["Parameters"]["objectKey"]
    return macie.run_classification_job(session.client("macie2"), account, settings.bucket, key)
