"""Declared inequalities between columns (``TableMetadata.set_inequality``): ``high`` is never below
``low`` in a row, like a taxi's drop-off time and its pick-up time.

Modeled as SDV's ``Inequality`` constraint is: the model sees ``high - low`` (a gap, a number) in
place of ``high``, and the sampler outputs ``low + max(gap, 0)``. Two columns that sit minutes apart
on a month-long axis are then one small number instead of two coarse bins the model must keep
equal, and no synthetic row breaks the rule. The gap is a function of one row, so a row still adds
one value to each column: the DP mechanisms, their sensitivities and the ledger are unchanged (the
gap's bins come from its own DP quantiles, or from the pair's declared bounds).
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from .encoding import EPOCH, SECONDS_PER_DAY, to_float
from .metadata import MODELED, ColumnMeta, TableMetadata


def pairs(meta: TableMetadata) -> dict[str, str]:
    """{high: low} for every declared inequality between modeled columns."""
    return {c: m.above for c, m in meta.columns.items() if m.above is not None and m.role in MODELED}


def modeling_metadata(meta: TableMetadata) -> TableMetadata:
    """The metadata the model sees: each ``high`` becomes a numerical gap, integer when both columns
    are (whole days for two dates), bounded by [0, high's upper bound - low's lower bound] when both
    are declared (public), else read under DP like any undeclared number."""
    found = pairs(meta)
    if not found:
        return meta
    out = copy.deepcopy(meta)
    for high, low in found.items():
        hi, lo = meta.columns[high], meta.columns[low]
        bounds = None
        if hi.bounds is not None and lo.bounds is not None and hi.bounds[1] > lo.bounds[0]:
            bounds = [0.0, float(hi.bounds[1] - lo.bounds[0])]
        out.columns[high] = ColumnMeta(
            "numerical", integer=hi.integer and lo.integer, bounds=bounds, nullable=hi.nullable
        )
    return out


def rows_without_low(meta: TableMetadata, df: pd.DataFrame) -> dict[str, int]:
    """{high: rows where high has a value and low has none}: such rows have no gap to model."""
    out = {}
    for high, low in pairs(meta).items():
        count = int((df[high].notna() & df[low].isna()).sum())
        if count:
            out[f"{high} >= {low}"] = count
    return out


def to_gaps(meta: TableMetadata, df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with each ``high`` replaced by ``high - low`` (in days for datetimes); a copy."""
    found = pairs(meta)
    if not found:
        return df
    out = df.copy()
    for high, low in found.items():
        kind = meta.columns[high].modeled_kind()
        out[high] = to_float(df[high], kind) - to_float(df[low], kind)
    return out


def from_gaps(meta: TableMetadata, frame: pd.DataFrame, dtypes: dict[str, str]) -> pd.DataFrame:
    """Sampled rows with each gap turned back into ``low + max(gap, 0)``, clipped to ``high``'s
    declared bounds, in ``high``'s output dtype."""
    for high, low in pairs(meta).items():
        cm = meta.columns[high]
        gap = np.maximum(frame[high].to_numpy(dtype=float, na_value=np.nan), 0.0)
        value = to_float(frame[low], cm.modeled_kind()) + gap
        if cm.bounds is not None:
            value = np.clip(value, *cm.bounds)
        if cm.modeled_kind() == "datetime":
            seconds = np.rint(value * SECONDS_PER_DAY)
            frame[high] = (EPOCH + pd.to_timedelta(seconds, unit="s")).astype("datetime64[ns]")
        else:
            if cm.integer:
                value = np.rint(value)
            frame[high] = pd.Series(value, index=frame.index).astype(dtypes[high])
    return frame
