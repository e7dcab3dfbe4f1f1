"""Profile a raw table: types, nulls, duplicates, numeric summaries; and a missing-values chart.

The profile stays inside the data owner's bucket (it describes real data); it is an
analysis artifact, never part of a release. It holds no example values of text columns,
only counts, and no value at all (min, median, max) of a column that the data dictionary
or the PII scan marks as identifying: a card number's minimum is a real customer's card.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from . import pii

# Data-dictionary kinds whose values identify a person or link back to one.
IDENTIFYING_KINDS = ("direct_identifier", "id")


def identifying_columns(
    df: pd.DataFrame, dictionary: Iterable[dict[str, Any]] = (), scan_rows: int = 5_000
) -> list[str]:
    """Columns of ``df`` that the data dictionary marks identifying (matched on raw or clean name)
    or in which the PII scan finds identifiers (on a row sample)."""
    marked = {
        name
        for entry in dictionary
        if entry.get("kind") in IDENTIFYING_KINDS
        for name in (entry.get("raw_name"), entry.get("name"))
    }
    found = {f.column for f in pii.scan(df, sample_rows=scan_rows).findings}
    return [c for c in df.columns if c in marked or c in found]


def masked_rows(df: pd.DataFrame, identifying: Iterable[str], n: int = 5) -> pd.DataFrame:
    """The first ``n`` rows with every identifying value masked (separators and the last characters kept)."""
    head = df.head(n).copy()
    for col in identifying:
        if col in head:
            head[col] = head[col].map(lambda v: v if pd.isna(v) else pii.mask(v))
    return head


def profile_table(df: pd.DataFrame, name: str = "table", identifying: Iterable[str] = ()) -> dict[str, Any]:
    """A JSON-ready profile of ``df``; ``identifying`` columns get counts only, never values."""
    if df.shape[1] == 0:
        raise ValueError(f"Cannot profile {name!r}: it has no columns.")
    identifying = set(identifying)
    columns = []
    for col in df.columns:
        s = df[col]
        entry: dict[str, Any] = {
            "name": str(col),
            "dtype": str(s.dtype),
            "nulls": int(s.isna().sum()),
            "null_share": round(float(s.isna().mean()), 6) if len(s) else 0.0,
            "distinct": int(s.nunique(dropna=True)),
        }
        is_text = pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)
        numeric = pd.to_numeric(s, errors="coerce") if is_text else s
        if pd.api.types.is_numeric_dtype(numeric) and not pd.api.types.is_bool_dtype(numeric) and numeric.notna().any():
            parsed = numeric.notna().sum()
            entry["numeric_parse_share"] = round(float(parsed / max(s.notna().sum(), 1)), 6)
            if col in identifying:
                entry["summary_withheld"] = "identifying column: no values published"
            elif parsed:
                d = numeric.describe(percentiles=[0.05, 0.5, 0.95])
                entry["summary"] = {k: float(v) for k, v in d.items() if k != "count"}
        columns.append(entry)
    return {
        "name": name,
        "rows": int(len(df)),
        "columns": int(df.shape[1]),
        "duplicate_rows": int(df.duplicated().sum()),
        "memory_bytes": int(df.memory_usage(deep=True).sum()),
        "column_profiles": columns,
    }


def profile_frame(profile: dict[str, Any]) -> pd.DataFrame:
    """The per-column part of a profile as a table for display."""
    rows = []
    for c in profile["column_profiles"]:
        summary = c.get("summary", {})
        rows.append(
            {
                "column": c["name"],
                "dtype": c["dtype"],
                "nulls": c["nulls"],
                "null_%": round(100 * c["null_share"], 2),
                "distinct": c["distinct"],
                "numeric_%": round(100 * c["numeric_parse_share"], 1) if "numeric_parse_share" in c else None,
                "min": summary.get("min"),
                "median": summary.get("50%"),
                "max": summary.get("max"),
            }
        )
    return pd.DataFrame(rows)


def plot_missing(profile: dict[str, Any], ax: Any = None) -> Any:
    """Horizontal bar chart of the share of missing values per column."""
    import matplotlib.pyplot as plt

    table = profile_frame(profile).sort_values("null_%")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, max(3, 0.22 * len(table))))
    ax.barh(table["column"], table["null_%"], color=["#c0392b" if v > 0 else "#95a5a6" for v in table["null_%"]])
    ax.set_xlabel("missing values (%)")
    ax.set_title(f"Missing values per column: {profile['name']} ({profile['rows']:,} rows)")
    ax.figure.tight_layout()
    return ax
