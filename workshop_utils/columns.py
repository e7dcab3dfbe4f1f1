"""Column helpers shared by the model and the evaluation layers (the model never imports evaluation)."""

from __future__ import annotations

import pandas as pd


def is_numeric(s: pd.Series) -> bool:
    """Numbers (not booleans) and datetimes."""
    return (
        pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
    ) or pd.api.types.is_datetime64_any_dtype(s)


def as_float(s: pd.Series) -> pd.Series:
    """Numbers as floats, datetimes as days since 1970 (fractional: the time of day kept), anything
    unparseable as NaN."""
    if pd.api.types.is_datetime64_any_dtype(s):
        return ((s - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)).astype("float64")
    return pd.to_numeric(s, errors="coerce").astype("float64")
