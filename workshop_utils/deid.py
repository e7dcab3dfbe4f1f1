"""Remediation of PII findings: a policy maps each finding type (or a named column) to an action.

Actions: ``drop``; ``mask`` (keep the last two characters); ``hash`` (HMAC-SHA256 with a
secret that is never written anywhere); ``generalize`` (birth date -> year, ZIP -> first
3 digits, integer -> 10-wide band); ``redact`` (free text: identifiers inside replaced by
``[EMAIL]``, ``[PHONE]``...); ``keep`` (requires a reason, which is logged).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .pii import EMBEDDED, ScanReport, mask

ACTIONS = ("drop", "mask", "hash", "generalize", "redact", "keep")
DEFAULT_POLICY: dict[str, Any] = {
    "types": {
        "person_name": "drop",
        "email": "drop",
        "phone": "drop",
        "us_ssn": "drop",
        "street_address": "drop",
        "credit_card": "drop",
        "iban": "drop",
        "bank_account": "drop",
        "ip_address": "drop",
        "aws_access_key": "drop",
        "date_of_birth": {"action": "generalize", "to": "year"},
        "postal_code": {"action": "generalize", "to": "prefix3"},
        "free_text": "redact",
    },
    "columns": {},  # per-column actions come from the dataset spec (pii_policy)
}
# Redaction order: longer, more specific patterns first so a card is not half-read as a phone.
REDACTION_ORDER = ("email", "iban", "credit_card", "us_ssn", "phone", "aws_access_key")


class PolicyError(ValueError):
    """The remediation policy is malformed."""


@dataclass
class Remediation:
    table: pd.DataFrame
    types: dict[str, str]
    log: list[dict[str, Any]]

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.log)


def _normalize(spec: Any, where: str) -> dict[str, Any]:
    spec = {"action": spec} if isinstance(spec, str) else dict(spec)
    if spec.get("action") not in ACTIONS:
        raise PolicyError(f"{where}: action {spec.get('action')!r} is not one of {', '.join(ACTIONS)}.")
    if spec["action"] == "keep" and not spec.get("reason"):
        raise PolicyError(f"{where}: 'keep' needs a 'reason' (it is logged with the remediation).")
    return spec


def hmac_hash(values: pd.Series, secret: bytes) -> pd.Series:
    """Keyed SHA-256 of each distinct value (same input, same secret -> same pseudonym)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    digests = pd.array([hmac.new(secret, str(u).encode(), hashlib.sha256).hexdigest() for u in uniques], dtype="string")
    return pd.Series(digests.take(codes, allow_fill=True), index=values.index)


def redact(values: pd.Series) -> pd.Series:
    out = values.astype("string")
    for type_ in REDACTION_ORDER:
        out = out.str.replace(EMBEDDED[type_][0], f"[{type_.upper()}]", regex=True)
    return out


def _generalize(s: pd.Series, to: str, name: str) -> tuple[pd.Series, str, str]:
    """Returns (values, new column name, workshop type)."""
    if to == "year":
        if not pd.api.types.is_datetime64_any_dtype(s):
            raise PolicyError(f"generalize to 'year' needs a date column; {name!r} is {s.dtype}.")
        return s.dt.year.astype("Int64"), f"{name}_year", "int"
    if to.startswith("prefix"):
        n = int(to.removeprefix("prefix") or 3)
        return s.astype("string").str[:n], f"{name}_prefix{n}", "string"
    if to.startswith("band"):
        width = int(to.removeprefix("band") or 10)
        return (s // width) * width, f"{name}_band{width}", "int"
    raise PolicyError(f"generalize: 'to' must be year, prefixN or bandN, got {to!r}.")


def apply_policy(
    df: pd.DataFrame,
    report: ScanReport,
    types: dict[str, str],
    policy: dict[str, Any] | None = None,
    secret: bytes | None = None,
) -> Remediation:
    """Apply a remediation policy to the findings of ``report``; ``df`` is not modified."""
    policy = copy.deepcopy(policy or DEFAULT_POLICY)
    secret = secret or os.environ.get("WORKSHOP_HMAC_SECRET", "").encode() or secrets.token_bytes(32)
    out, out_types, log = df.copy(), dict(types), []
    plan: dict[str, tuple[str, dict[str, Any]]] = {}
    for f in report.findings:
        if f.type not in policy.get("types", {}):
            raise PolicyError(
                f"No action for finding type {f.type!r} (column {f.column!r}); add it to policy['types']."
            )
        plan[f.column] = (f.type, _normalize(policy["types"][f.type], f"policy for {f.type}"))
    for col, spec in policy.get("columns", {}).items():
        if col in df.columns:
            plan[col] = (plan.get(col, ("(named column)",))[0], _normalize(spec, f"policy for column {col!r}"))
    for col, (type_, spec) in plan.items():
        action, detail = spec["action"], ""
        if action == "drop":
            out = out.drop(columns=[col])
            out_types.pop(col, None)
        elif action == "mask":
            out[col] = out[col].astype("string").map(mask, na_action="ignore").astype("string")
            out_types[col] = "string"
        elif action == "hash":
            out[col] = hmac_hash(out[col], secret)
            out_types[col] = "string"
            detail = "HMAC-SHA256; the secret is not stored"
        elif action == "redact":
            out[col] = redact(out[col])
            out_types[col] = "string"
        elif action == "generalize":
            values, new_name, new_type = _generalize(out[col], spec.get("to", ""), col)
            position = out.columns.get_loc(col)
            out = out.drop(columns=[col])
            out.insert(position, new_name, values)
            out_types.pop(col, None)
            out_types[new_name] = new_type
            detail = f"-> {new_name}"
        else:
            detail = spec["reason"]
        log.append({"column": col, "finding": type_, "action": action, "detail": detail})
    out_types = {c: out_types[c] for c in out.columns}
    return Remediation(out, out_types, log)
