"""Hierarchies between categorical columns: each value of ``child`` occurs only under the values of
``parent`` it occurs under in the data, like a taxi zone within its borough or a city within its
state. Declared (``TableMetadata.set_hierarchy``); SDV's ``FixedCombinations`` constraint, done so
that DP keeps the parent of a rare child.

Why: under DP-SGD's noise the model learns which state a city lies in only roughly. On a generated
table of 2,400 customers (40 cities in 8 states) half the synthetic rows at epsilon 3 put a city in
a state it is not in (a fifth at epsilon 10), and 15-18% of taxis' synthetic trips at epsilon 3 put
a zone in another borough. That is a row no real table can have.

Modeled as combinations: the model sees the child's value joined to its parent's (``to_combined``),
so the DP category selection keeps (parent, child) combinations, a row still adds one value to each
column (the mechanisms, their sensitivities and the ledger are unchanged), and the parent stays a
column of its own: a row whose combination is too rare to keep still has its parent. The sampler
draws the parent first and then only the child's combinations under the drawn parent (or ``other``,
or null; ``allowed``), so every named child sits under its parent, and ``from_combined`` drops the
parent's part. Chains (state > city > district) combine along the chain.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .encoding import restore_categorical
from .metadata import MODELED, TableMetadata

SEP = "\x1f"  # joins a parent's value and a child's: the ASCII unit separator, never in a cleaned value
NULL = "\x00"  # a null parent, inside a combination


def parents(meta: TableMetadata) -> dict[str, str]:
    """{child: parent} for every declared hierarchy between modeled columns."""
    return {c: m.parent for c, m in meta.columns.items() if m.parent is not None and m.role in MODELED}


def depth(meta: TableMetadata, column: str) -> int:
    """0 for a column under no parent, else 1 + its parent's: a parent is generated before its children."""
    up = parents(meta)
    d = 0
    while column in up:
        column, d = up[column], d + 1
    return d


def to_combined(meta: TableMetadata, df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with each child's value joined to its parent's (itself combined along a chain); a copy.
    A null child stays null. ``check_values`` first (the fit's input check does)."""
    up = parents(meta)
    if not up:
        return df
    out = df.copy()
    for child in sorted(up, key=lambda c: depth(meta, c)):  # a parent is combined before its children
        parent = out[up[child]].astype(object)
        prefix = parent.where(parent.notna(), NULL).astype(str)
        value = df[child].astype(object)
        out[child] = (prefix + SEP + value.astype(str)).where(value.notna(), None).astype(object)
    return out


def check_values(meta: TableMetadata, df: pd.DataFrame) -> None:
    """Raises ValueError where a hierarchy's column holds the separator that joins its values."""
    up = parents(meta)
    bad = [c for c in {*up, *up.values()} if df[c].dropna().astype(str).str.contains(SEP, regex=False).any()]
    if bad:
        raise ValueError(
            f"Column(s) {sorted(bad)} hold the character U+001F, which joins a hierarchy's values: remove it in "
            "the cleaning job, or the hierarchy."
        )


def child_value(combination: str) -> str:
    return combination.rsplit(SEP, 1)[-1]


def parent_slots(child_categories: list, parent_categories: list, parent_other: int, parent_null: int) -> np.ndarray:
    """Per category of a child (a combination), the slot of its parent's value in the parent's one-hot:
    the null slot for a null parent, the parent's ``other`` slot for a value the parent did not keep."""
    index = {str(v): i for i, v in enumerate(parent_categories)}
    prefixes = [str(c).rsplit(SEP, 1)[0] for c in child_categories]
    return np.array([parent_null if p == NULL else index.get(p, parent_other) for p in prefixes], dtype=np.int64)


def allowed(slots_of_parent: np.ndarray, drawn_parent: np.ndarray, child_slots: int) -> np.ndarray:
    """(rows, child slots): the child's categories under each row's drawn parent slot, and its
    ``other`` and null slots (the last two), always."""
    ok = np.ones((len(drawn_parent), child_slots), dtype=bool)
    ok[:, : len(slots_of_parent)] = slots_of_parent[None, :] == np.asarray(drawn_parent)[:, None]
    return ok


def from_combined(meta: TableMetadata, frame: pd.DataFrame, dtypes: dict[str, str]) -> pd.DataFrame:
    """Sampled rows with each child's combination turned back into its own value, in its output dtype."""
    for child in parents(meta):
        values = frame[child].astype(object)
        plain = values.str.rsplit(SEP, n=1).str[-1].where(values.notna(), None)  # OTHER has no SEP: kept
        frame[child] = restore_categorical(plain, dtypes[child])
    return frame


def suggest(df: pd.DataFrame, columns: list[str], hold: float = 0.99) -> list[tuple[str, str]]:
    """(parent, child) pairs of ``columns`` where each child value sits under one parent value in at
    least ``hold`` of the rows, for ``workshop init-dataset`` to suggest to the table's owner (it reads
    the rows on the owner's machine, as the inferred cleaning job does; nothing here reaches a model).
    Each child gets its nearest parent (the one with the most values), so state > city > district
    suggests two pairs, not three; a child needs at least two rows a value (an identifier is no child)."""
    counts = {c: df[c].nunique() for c in columns}
    found: dict[str, str] = {}
    for child in columns:
        rows = df[child].notna()
        if counts[child] < 3 or counts[child] * 2 > rows.sum():
            continue
        for parent in columns:
            if parent == child or not 2 <= counts[parent] < counts[child]:
                continue
            both = df.loc[rows & df[parent].notna(), [child, parent]]
            top = both.value_counts().groupby(level=0).max().sum()  # each child's rows under its usual parent
            if len(both) and top / len(both) >= hold and counts[parent] > counts.get(found.get(child), 0):
                found[child] = parent
    return [(parent, child) for child, parent in found.items()]
