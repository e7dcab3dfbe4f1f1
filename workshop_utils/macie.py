"""Amazon Macie's shape for the workshop's PII findings, and an optional real Macie job in aws mode.

``to_macie_result`` writes a scan in the schema of Macie's sensitive-data discovery results
(``classificationDetails.result.sensitiveData[{category, detections[{type, count,
occurrences.cells[{row, column, columnName, cellReference}]}], totalCount}]``) with Macie's
managed data identifier IDs. Types Macie has no managed identifier for (IP addresses, 3-digit
ZIP prefixes) are reported as custom data identifiers, as a Macie user would define them.

``run_classification_job`` runs a real one-time Macie job on one S3 object and reads its
findings (aws mode only; moto does not implement Macie, so tests use botocore's Stubber). Macie is
priced per GB inspected (about $1 per GB in us-east-1 when this was written, the first GB each month
free) and a one-time job takes several minutes to start and finish, whatever the object's size.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from .pii import ScanReport

# workshop PII type -> (Macie category, managed data identifier ID); None: a custom identifier
MANAGED_IDS: dict[str, tuple[str, str] | None] = {
    "person_name": ("PERSONAL_INFORMATION", "NAME"),
    "email": ("PERSONAL_INFORMATION", "EMAIL_ADDRESS"),
    "phone": ("PERSONAL_INFORMATION", "PHONE_NUMBER"),
    "us_ssn": ("PERSONAL_INFORMATION", "USA_SOCIAL_SECURITY_NUMBER"),
    "street_address": ("PERSONAL_INFORMATION", "ADDRESS"),
    "date_of_birth": ("PERSONAL_INFORMATION", "DATE_OF_BIRTH"),
    "credit_card": ("FINANCIAL_INFORMATION", "CREDIT_CARD_NUMBER"),
    "bank_account": ("FINANCIAL_INFORMATION", "BANK_ACCOUNT_NUMBER"),
    "iban": ("FINANCIAL_INFORMATION", "GERMANY_BANK_ACCOUNT_NUMBER"),  # the sample's IBANs are German
    "aws_access_key": ("CREDENTIALS", "AWS_CREDENTIALS"),
    "ip_address": None,
    "postal_code": None,
}
FINDING_TYPES = {
    "PERSONAL_INFORMATION": "SensitiveData:S3Object/Personal",
    "FINANCIAL_INFORMATION": "SensitiveData:S3Object/Financial",
    "CREDENTIALS": "SensitiveData:S3Object/Credentials",
}
MAX_CELLS = 15  # Macie reports up to 15 occurrences per detection


def to_macie_result(report: ScanReport, bucket: str, key: str, column_order: list[str]) -> dict[str, Any]:
    """The scan of the object at ``key`` as one Macie finding (its ``classificationDetails``).

    Rows in ``cells`` are 1-based like Macie's, column indexes 1-based in the table's order;
    counts are estimated for the whole object when the scan read a sample."""
    by_category: dict[str, list[dict[str, Any]]] = {}
    custom: list[dict[str, Any]] = []
    for f in report.findings:
        types = {f.type: f.estimated_occurrences} if f.type != "free_text" else dict(f.embedded_types)
        for type_, count in types.items():
            cells = [
                {
                    "row": int(e["row"]) + 1,
                    "column": column_order.index(f.column) + 1 if f.column in column_order else 0,
                    "columnName": f.column,
                    "cellReference": None,
                }
                for e in f.examples[:MAX_CELLS]
            ]
            mapped = MANAGED_IDS.get(type_)
            detection = {"count": int(count), "occurrences": {"cells": cells}}
            if mapped is None:
                custom.append(
                    detection | {"name": f"workshop_{type_}", "arn": f"custom-data-identifier/workshop_{type_}"}
                )
            else:
                category, managed_id = mapped
                by_category.setdefault(category, []).append(detection | {"type": managed_id})
    sensitive = [
        {"category": cat, "detections": dets, "totalCount": sum(d["count"] for d in dets)}
        for cat, dets in sorted(by_category.items())
    ]
    categories = sorted(by_category)
    finding_type = (
        FINDING_TYPES[categories[0]]
        if len(categories) == 1
        else "SensitiveData:S3Object/Multiple"
        if categories
        else "SensitiveData:S3Object/CustomIdentifier"
    )
    severity = "High" if any(f.severity == "high" for f in report.findings) else "Medium" if report.findings else "Low"
    return {
        "type": finding_type,
        "severity": {"description": severity, "score": {"Low": 1, "Medium": 2, "High": 3}[severity]},
        "resourcesAffected": {"s3Bucket": {"name": bucket}, "s3Object": {"key": key}},
        "classificationDetails": {
            "origin": "WORKSHOP_SCAN",
            "result": {
                "status": {"code": "COMPLETE"},
                "sizeClassified": report.rows_scanned,
                "sensitiveData": sensitive,
                "customDataIdentifiers": {"detections": custom, "totalCount": sum(d["count"] for d in custom)},
            },
        },
    }


def run_classification_job(
    client: Any,
    account_id: str,
    bucket: str,
    key: str,
    poll_seconds: float = 30.0,
    timeout_seconds: float = 3600.0,
    sleep: Callable[[float], None] = time.sleep,
) -> list[dict[str, Any]]:
    """Run a one-time Macie job on ``s3://bucket/key`` and return its findings (``get_findings``)."""
    job = client.create_classification_job(
        clientToken=str(uuid.uuid4()),
        jobType="ONE_TIME",
        name=f"workshop-{key.rsplit('/', 1)[-1]}-{uuid.uuid4().hex[:8]}",
        s3JobDefinition={
            "bucketDefinitions": [{"accountId": account_id, "buckets": [bucket]}],
            "scoping": {
                "includes": {"and": [{"simpleScopeTerm": {"comparator": "EQ", "key": "OBJECT_KEY", "values": [key]}}]}
            },
        },
    )
    job_id = job["jobId"]
    waited = 0.0
    while True:
        status = client.describe_classification_job(jobId=job_id)["jobStatus"]
        if status == "COMPLETE":
            break
        if status in ("CANCELLED", "USER_PAUSED", "PAUSED") or waited >= timeout_seconds:
            raise RuntimeError(f"Macie job {job_id} ended as {status} (waited {waited:.0f} s).")
        sleep(poll_seconds)
        waited += poll_seconds
    ids = client.list_findings(findingCriteria={"criterion": {"classificationDetails.jobId": {"eq": [job_id]}}})[
        "findingIds"
    ]
    return client.get_findings(findingIds=ids)["findings"] if ids else []
