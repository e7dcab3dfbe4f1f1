"""Inequalities between columns: ``high`` is never below ``low`` in a row, like a taxi's drop-off
time and its pick-up time. Declared (``TableMetadata.set_inequality``), or, between two undeclared
datetime columns, found by the fit under DP (``found_rules``).

Modeled as SDV's ``Inequality`` constraint is: the model sees ``high - low`` (a gap, a number) in
place of ``high``, and the sampler outputs ``low + max(gap, 0)``. Two columns that sit minutes apart
on a month-long axis are then one small number instead of two coarse bins the model must keep
equal, and no synthetic row breaks the rule. The gap is a function of one row, so a row still adds
one value to each column: the DP mechanisms, their sensitivities and the ledger are unchanged (the
gap's bins come from its own DP quantiles, or from the pair's declared bounds).

Found under DP: nothing declared, taxis' synthetic drop-offs came before their pick-ups in half the
rows (two columns on a month-long axis, each binned by day). So when a table has two or more datetime
columns in no declared rule, the fit counts, for each pair, the rows where each column is below the
other (or has a value the other lacks), each split into gaps of at most ``NEAR_DAYS`` and longer ones,
with Gaussian noise: a row is in at most one of a pair's four counts, so the L2 sensitivity is
sqrt(pairs). The step gets ``ORDER_WEIGHT`` of a full preprocessing step's rho, and it is planned only
where its noise is small against the rows (``ORDER_MAX_SIGMA``). A pair whose noisy count of rows below
is at most ``MAX_BROKEN_SHARE`` of the rows becomes a rule (up to that share of real rows, a late
pick-up or a drop-off without one, is modeled at gap 0 or null) where the gaps are short: at most
``MAX_FAR_SHARE`` of the rows more than ``NEAR_DAYS`` apart. Why: a gap is a better model than the
column only when it is narrower than the column. A hospital's admissions (one year) modeled as their
gap from the birth dates (80 years) came out spread over decades: fidelity 0.17 against 0.98 modeled
on their own. A long-gap order is left to the owner to declare (a policy's end a year after its start).
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from .encoding import EPOCH, SECONDS_PER_DAY, to_float
from .metadata import MODELED, ColumnMeta, TableMetadata

ORDER_WEIGHT = 0.1  # the order counts' share of the preprocessing rho, against 1 for each full step
MAX_BROKEN_SHARE = 0.02  # a pair becomes a rule when its noisy count of rows below is at most this share
ORDER_MAX_SIGMA = 0.01  # planned only when the noise of a count of rows below is at most this share of the rows
NEAR_DAYS = 30.0  # a short gap: a stay, a delivery, a trip; not a lifetime
MAX_FAR_SHARE = 0.5  # a rule only where at most this share of the rows is more than NEAR_DAYS apart
CELLS = 4  # per pair: rows below within NEAR_DAYS and farther (or without the other), one way and the other


def pairs(meta: TableMetadata) -> dict[str, str]:
    """{high: low} for every declared inequality between modeled columns."""
    return {c: m.above for c, m in meta.columns.items() if m.above is not None and m.role in MODELED}


def order_candidates(meta: TableMetadata, keep_as_is: list[str]) -> list[tuple[str, str]]:
    """Pairs of modeled datetime columns (in table order) whose order the fit may test: none is in a
    declared rule or in ``keep_as_is`` (conditions and predictions stay columns), and none has declared
    bounds (the gap would need bounds of its own; declare the rule instead)."""
    declared = pairs(meta)
    in_rules = set(declared) | set(declared.values())
    columns = [
        c
        for c in meta.modeled
        if meta.columns[c].modeled_kind() == "datetime"
        and meta.columns[c].role != "target"
        and meta.columns[c].bounds is None
        and c not in in_rules
        and c not in keep_as_is
    ]
    return [(a, b) for i, a in enumerate(columns) for b in columns[i + 1 :]]


def order_counts(df: pd.DataFrame, candidates: list[tuple[str, str]]) -> np.ndarray:
    """(pairs, CELLS): per pair (a, b), the rows that would break ``b >= a`` (b below a) within
    NEAR_DAYS, and farther or b without a; then the same for ``a >= b``. A row is in at most one."""
    out = np.zeros((len(candidates), CELLS))
    for i, (a, b) in enumerate(candidates):
        x, y = to_float(df[a], "datetime"), to_float(df[b], "datetime")
        has_x, has_y = ~np.isnan(x), ~np.isnan(y)
        both = has_x & has_y
        for j, (low, high, lone) in enumerate(((y, x, has_y & ~has_x), (x, y, has_x & ~has_y))):
            below = both & (low < high)
            near = below & (high - low <= NEAR_DAYS)
            out[i, 2 * j] = np.sum(near)
            out[i, 2 * j + 1] = np.sum(below & ~near) + np.sum(lone)
    return out


def below_counts(cells: np.ndarray) -> np.ndarray:
    """(pairs, 2) from ``order_counts``' cells (noisy or not): per pair (a, b), the rows that break
    ``b >= a`` and those that break ``a >= b``."""
    return cells[:, 0::2] + cells[:, 1::2]


def found_rules(
    meta: TableMetadata, candidates: list[tuple[str, str]], noisy: np.ndarray, n: int
) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """({high: low}, [(low, high) held with long gaps]) from the noisy cells (post-processing):
    ``high >= low`` holds where the noisy count of rows that break it is at most ``MAX_BROKEN_SHARE``
    of ``n`` (both ways, for equal columns: the first column is the lower); it is a rule where at
    most ``MAX_FAR_SHARE`` of the rows have ``high`` more than NEAR_DAYS above ``low``, else it is
    listed as long. Each column above others is modeled from the one of them that is above the most
    (its nearest: booked <= pick-up <= drop-off gives the chain booked, pick-up, drop-off, two short
    gaps); ranks rise along a rule, so no cycle can form."""
    limit = MAX_BROKEN_SHARE * n
    holds, long = [], []
    for (a, b), cells, (b_below, a_below) in zip(candidates, noisy, below_counts(noisy)):
        # the rows far above are those far below the other way: a below b far is b far above a
        for low, high, broken, far in ((a, b, b_below, cells[3]), (b, a, a_below, cells[1])):
            if broken <= limit:
                (holds if far <= MAX_FAR_SHARE * n else long).append((low, high))
                break
    lows = {c: [low for low, high in holds if high == c] for pair in candidates for c in pair}
    rank = {c: len(below) for c, below in lows.items()}
    rules = {}
    for high, below in lows.items():
        fits = [low for low in below if rank[low] < rank[high] and meta._inequality_problem(low, high) is None]
        if fits:
            rules[high] = max(fits, key=lambda low: rank[low])  # the first of equal ranks
    return rules, long


def with_rules(meta: TableMetadata, rules: dict[str, str]) -> TableMetadata:
    """``meta`` with the rules a fit found set beside the declared ones (a copy; ``meta`` itself if
    none). Found rules may chain (``found_rules``); ``from_gaps`` rebuilds a chain from its start."""
    found = {high: low for high, low in rules.items() if meta.columns[high].above != low}
    if not found:
        return meta
    out = copy.deepcopy(meta)
    for high, low in found.items():
        out.columns[high].above = low
    return out


def chain_order(rules: dict[str, str]) -> list[str]:
    """The higher columns, each after the column it is modeled from."""

    def depth(col: str) -> int:
        return 1 + depth(rules[col]) if col in rules else 0

    return sorted(rules, key=depth)


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
    rules = pairs(meta)
    for high in chain_order(rules):
        low, cm = rules[high], meta.columns[high]
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
