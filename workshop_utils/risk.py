"""Re-identification risk through quasi-identifiers: k-anonymity, uniqueness, generalization.

A record is as identifiable as the size of its equivalence class: the rows sharing its
combination of quasi-identifier values. k-anonymity is the smallest class size.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pandas as pd

QI_NAME_TOKENS = frozenset(
    {"gender", "sex", "marital", "age", "race", "ethnicity", "zip", "postal", "postcode", "birth", "dob"}
)


def k_anonymity(df: pd.DataFrame, qis: list[str]) -> dict[str, Any]:
    """Smallest equivalence class, share of unique records, share in classes smaller than 5."""
    missing = [q for q in qis if q not in df.columns]
    if missing:
        raise ValueError(f"Quasi-identifier(s) {missing} not in the table; columns are {list(df.columns)}.")
    if not qis or df.empty:
        return {"k": len(df), "classes": 1 if len(df) else 0, "unique_share": 0.0, "share_in_classes_below_5": 0.0}
    sizes = df.groupby(qis, dropna=False, observed=True).size()
    per_row = sizes[sizes > 0]
    n = len(df)
    return {
        "k": int(per_row.min()),
        "classes": int(len(per_row)),
        "unique_share": round(float((per_row == 1).sum() / n), 6),
        "share_in_classes_below_5": round(float(per_row[per_row < 5].sum() / n), 6),
    }


def suggest_quasi_identifiers(df: pd.DataFrame, pii_types: dict[str, str] | None = None) -> list[str]:
    """Birth dates and postal codes found by the scan, plus demographic columns by name."""
    pii_types = pii_types or {}
    chosen = [c for c, t in pii_types.items() if t in ("date_of_birth", "postal_code") and c in df.columns]
    for col in df.columns:
        tokens = set(re.split(r"[^a-z0-9]+", str(col).lower()))
        if tokens & QI_NAME_TOKENS and col not in chosen:
            chosen.append(col)
    return chosen


def _zip_prefix(n: int) -> Callable[[pd.Series], pd.Series]:
    return lambda s: s.astype("string").str[:n]


def _band(width: int) -> Callable[[pd.Series], pd.Series]:
    return lambda s: (s // width) * width


def hierarchy(s: pd.Series) -> list[tuple[str, Callable[[pd.Series], pd.Series]]]:
    """Generalization levels for a column, from mild to strong (empty if none is known)."""
    if pd.api.types.is_datetime64_any_dtype(s):
        return [("year", lambda x: x.dt.year), ("10-year band", lambda x: (x.dt.year // 10) * 10)]
    if pd.api.types.is_integer_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return [("5-year band", _band(5)), ("10-year band", _band(10))]
    text = s.dropna().astype(str)
    if len(text) and text.str.fullmatch(r"\d{5}(-\d{4})?").mean() > 0.9:
        return [("3 digits", _zip_prefix(3)), ("1 digit", _zip_prefix(1))]
    return []


def generalization_ladder(df: pd.DataFrame, qis: list[str]) -> pd.DataFrame:
    """Risk as generalization grows: original, then each column's first level in turn, then the second."""
    current = df[qis].copy()
    rows = [{"step": "original", **k_anonymity(current, qis)}]
    levels = {q: hierarchy(df[q]) for q in qis}
    for level in (0, 1):
        for q in qis:
            if len(levels[q]) > level:
                label, fn = levels[q][level]
                current[q] = fn(df[q])
                rows.append({"step": f"+ {q} -> {label}", **k_anonymity(current, qis)})
    return pd.DataFrame(rows)


def plot_ladder(ladder: pd.DataFrame) -> Any:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 3.8))
    x = range(len(ladder))
    ax.plot(x, 100 * ladder["unique_share"], "o-", label="unique records (%)", color="#c0392b")
    ax.plot(x, 100 * ladder["share_in_classes_below_5"], "s--", label="records in classes < 5 (%)", color="#e67e22")
    ax.set_xticks(list(x), ladder["step"], rotation=25, ha="right")
    ax.set_ylabel("% of records")
    ax2 = ax.twinx()
    ax2.bar(x, ladder["k"], alpha=0.25, color="#2980b9", label="k (smallest class)")
    ax2.set_ylabel("k")
    ax.set_title("Re-identification risk as quasi-identifiers are generalized")
    lines = ax.get_legend_handles_labels()
    bars = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + bars[0], lines[1] + bars[1], loc="upper right")
    fig.tight_layout()
    return fig
