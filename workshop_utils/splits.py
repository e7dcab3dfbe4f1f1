"""Train / holdout split per row, so the DP guarantee covers the whole table the user gave.

A stratified shuffle with a public seed decides each row's side from the whole table: adding
one row moves many others between train and holdout, so "DP on the training part" would not
bound what one row of the table can change. Here each row's side is a keyed hash of the row's
own content with a key drawn from the OS for this split and never stored: a row's side depends
only on that row and the key, so adding or removing one row moves that row only, and nobody
without the key can tell which side a given row fell on.
"""

from __future__ import annotations

import hashlib
import secrets

import numpy as np
import pandas as pd


def _canonical_value(v: object) -> str | None:
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, float, np.integer, np.floating)):
        return repr(float(v))
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    return str(v)


def _canonical(s: pd.Series) -> pd.Series:
    """One text per value whatever dtype pandas picked for the column (int64 / float64 / object and
    bool / object flip with one null), so a row's hash depends on its values only."""
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        x = pd.to_numeric(s, errors="coerce").astype("float64")
        return pd.Series(np.where(x.isna(), None, x.map(repr)), index=s.index, dtype=object)
    return s.astype(object).map(_canonical_value)


def row_hashes(df: pd.DataFrame) -> np.ndarray:
    """A 64-bit hash of each row's values (unkeyed; index ignored)."""
    canonical = pd.DataFrame({c: _canonical(df[c]) for c in df.columns}, index=df.index)
    return pd.util.hash_pandas_object(canonical, index=False).to_numpy(dtype=np.uint64)


def holdout_mask(df: pd.DataFrame, share: float, key: bytes) -> np.ndarray:
    """True for the rows that go to the holdout: keyed hash of the row below ``share``."""
    if not 0 < share < 1:
        raise ValueError(f"holdout_share must be in (0, 1), got {share!r}.")
    if len(key) < 16:
        raise ValueError("The split key must have at least 16 bytes.")
    uniform = np.fromiter(
        (
            int.from_bytes(hashlib.blake2b(h.tobytes(), key=key[:64], digest_size=8).digest(), "big") / 2.0**64
            for h in row_hashes(df)
        ),
        dtype=float,
        count=len(df),
    )
    return uniform < share


def split_train_holdout(
    df: pd.DataFrame, holdout_share: float = 0.2, key: bytes | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, holdout); ``key`` defaults to 32 fresh bytes from the OS, used once and forgotten."""
    mask = holdout_mask(df, holdout_share, key if key is not None else secrets.token_bytes(32))
    return df[~mask].reset_index(drop=True), df[mask].reset_index(drop=True)
