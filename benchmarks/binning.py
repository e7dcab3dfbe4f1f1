"""The discrete domain that marginal-based peers (MST, AIM) need, built from public metadata only.

Runs in the peers' environment too, so it needs only NumPy and pandas and reads the metadata as
the JSON that ``TableMetadata.to_json`` writes. Every column gets a code domain fixed before any
row is read: declared categories (plus a code for anything else), numeric and datetime columns
cut into equal-width bins between their declared bounds (one bin per value for an integer column
with few values), and one more code for null where the column is declared nullable. Decoding
draws a value uniformly inside its bin, as the AIM paper's preprocessing does, not at the
midpoint (smartnoise's default "cube" decoding), which caps fidelity far below what the method
can reach.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

EPOCH = pd.Timestamp("1970-01-01")
OTHER = "__other__"


def modeled_columns(meta: dict) -> dict[str, dict]:
    """name -> spec with its modeled kind (``kind`` for the target, else the role)."""
    out = {}
    for name, spec in meta["columns"].items():
        role = spec["role"]
        if role in ("id", "excluded"):
            continue
        kind = spec.get("kind", "categorical") if role == "target" else role
        out[name] = spec | {"modeled": kind}
    return out


def days(values: pd.Series) -> np.ndarray:
    return ((pd.to_datetime(values) - EPOCH) / pd.Timedelta(days=1)).to_numpy(dtype=float)


@dataclass
class ColumnBins:
    name: str
    kind: str  # categorical, boolean, numerical, datetime
    nullable: bool
    categories: list | None = None
    lo: float = 0.0
    hi: float = 1.0
    bins: int = 0
    integer: bool = False

    @property
    def size(self) -> int:
        """Codes: the values (+ one for anything undeclared, categoricals only), + null if nullable."""
        if self.categories is not None:
            body = len(self.categories) + int(self.kind == "categorical")
        else:
            body = self.bins
        return body + int(self.nullable)

    def encode(self, s: pd.Series) -> np.ndarray:
        null = s.isna().to_numpy()
        if self.categories is not None:
            lookup = {str(c): i for i, c in enumerate(self.categories)}
            unknown = len(self.categories) if self.kind == "categorical" else 0  # booleans have no "other"
            codes = np.array([lookup.get(str(v), unknown) for v in s.astype(object)], dtype=np.int64)
        else:
            x = days(s) if self.kind == "datetime" else pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
            width = (self.hi - self.lo) / self.bins
            codes = np.clip(np.floor((np.nan_to_num(x, nan=self.lo) - self.lo) / width), 0, self.bins - 1)
            codes = codes.astype(np.int64)
        # a null where none is declared (a peer's output) is scored as the last code, never dropped
        codes[null] = self.size - 1
        return codes

    def decode(self, codes: np.ndarray, rng: np.random.Generator) -> pd.Series:
        codes = np.asarray(codes, dtype=np.int64)
        null = self.nullable & (codes == self.size - 1)
        if self.categories is not None:
            labels = np.array([*map(str, self.categories), OTHER][: self.size], dtype=object)
            out = pd.Series(labels[np.clip(codes, 0, len(labels) - 1)], dtype=object)
            out[null] = None
            return out
        width = (self.hi - self.lo) / self.bins
        x = self.lo + (np.clip(codes, 0, self.bins - 1) + rng.random(len(codes))) * width
        if self.integer:
            x = np.clip(np.floor(x), self.lo, self.hi)
        x[null] = np.nan
        if self.kind == "datetime":
            return pd.Series(EPOCH + pd.to_timedelta(x, unit="D"))
        return pd.Series(x)


def column_bins(meta: dict, bins: int = 32) -> list[ColumnBins]:
    """The code domain of every modeled column; refuses a column without declared bounds or
    categories (the peers would have to spend budget, or peek at the data, to find them)."""
    out = []
    for name, spec in modeled_columns(meta).items():
        kind, nullable = spec["modeled"], spec.get("nullable", True)
        if kind in ("categorical", "boolean"):
            cats = spec.get("categories") or ([False, True] if kind == "boolean" else None)
            if cats is None:
                raise ValueError(f"{name!r}: declare its categories; the peers' domain must be public.")
            out.append(ColumnBins(name, kind, nullable, categories=list(cats)))
            continue
        if not spec.get("bounds"):
            raise ValueError(f"{name!r}: declare its bounds; the peers' domain must be public.")
        lo, hi = spec["bounds"]
        integer = bool(spec.get("integer"))
        if integer and hi - lo + 1 <= 2 * bins:  # few integer values: one bin each, nothing merged
            out.append(ColumnBins(name, kind, nullable, lo=lo, hi=hi + 1, bins=int(hi - lo + 1), integer=True))
        else:
            out.append(ColumnBins(name, kind, nullable, lo=lo, hi=hi, bins=bins, integer=integer))
    return out


def encode(df: pd.DataFrame, columns: list[ColumnBins]) -> pd.DataFrame:
    return pd.DataFrame({c.name: c.encode(df[c.name]) for c in columns})


def decode(codes: pd.DataFrame, columns: list[ColumnBins], seed: int | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({c.name: c.decode(codes[c.name].to_numpy(), rng) for c in columns})


def workload_error(real: pd.DataFrame, synthetic: pd.DataFrame, columns: list[ColumnBins], max_cells: int = 10_000):
    """The AIM paper's metric: mean total-variation distance over all 2-way marginals of at most
    ``max_cells`` cells, on this binned domain (0 = identical, 1 = disjoint)."""
    a, b = encode(real, columns), encode(synthetic, columns)
    errors = []
    for i, ci in enumerate(columns):
        for cj in columns[i + 1 :]:
            if ci.size * cj.size > max_cells:
                continue
            shape = (ci.size, cj.size)
            p = np.bincount(a[ci.name] * cj.size + a[cj.name], minlength=ci.size * cj.size) / len(a)
            q = np.bincount(b[ci.name] * cj.size + b[cj.name], minlength=ci.size * cj.size) / len(b)
            errors.append(0.5 * np.abs(p.reshape(shape) - q.reshape(shape)).sum())
    return float(np.mean(errors)) if errors else float("nan")
