"""Differential-privacy mechanisms for preprocessing, and the privacy ledger.

Neighbouring tables differ by adding or removing one row. The row count ``n`` is treated
as public (it sets DP-SGD's sampling rate and the default delta), as is standard for
DP-SGD; the ledger says so. Mechanisms compose by basic composition: the ledger's
epsilons and deltas add up, and their sums never exceed what the user asked for.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import torch

# The ledger's note on the samplers; numpy's and torch's Laplace/Gaussian draws are
# floating-point samplers, whose low bits can leak the un-noised value (Mironov 2012). A
# safe sampler (OpenDP's) would need the whole training step on its integer arithmetic;
# we say so instead, as the issue allows.
SAMPLER_NOTE = (
    "noise drawn from generators seeded afresh from OS entropy at each fit and never stored; "
    "floating-point Laplace/Gaussian samplers (not hardened against Mironov's 2012 "
    "least-significant-bit attack)"
)


def os_entropy_rng() -> np.random.Generator:
    """A numpy generator seeded from the OS (``secrets``), for draws a DP proof relies on."""
    return np.random.default_rng(secrets.randbits(128))


def os_entropy_torch_generator(device: torch.device | str = "cpu") -> torch.Generator:
    """A torch generator seeded from the OS, for DP-SGD's batch sampling and noise; the seed is not kept."""
    return torch.Generator(device=device).manual_seed(secrets.randbits(63))


@dataclass
class LedgerEntry:
    step: str
    column: str
    mechanism: str
    epsilon: float
    delta: float
    detail: str = ""


class PrivacyLedger:
    """Every release of information about the real data, with what it cost."""

    def __init__(self) -> None:
        self.entries: list[LedgerEntry] = []
        # The source table's lifetime account after this fit's charge (see budget.py), if tracked.
        self.lifetime: dict | None = None

    def add(self, step: str, column: str, mechanism: str, epsilon: float, delta: float = 0.0, detail: str = "") -> None:
        self.entries.append(LedgerEntry(step, column, mechanism, float(epsilon), float(delta), detail))

    @property
    def epsilon(self) -> float:
        return float(sum(e.epsilon for e in self.entries))

    @property
    def delta(self) -> float:
        return float(sum(e.delta for e in self.entries))

    def frame(self) -> pd.DataFrame:
        df = pd.DataFrame([asdict(e) for e in self.entries], columns=list(LedgerEntry.__dataclass_fields__))
        total = pd.DataFrame(
            [
                {
                    "step": "TOTAL (basic composition)",
                    "column": "",
                    "mechanism": "",
                    "epsilon": self.epsilon,
                    "delta": self.delta,
                    "detail": "",
                }
            ]
        )
        rows = [df, total]
        if self.lifetime:
            rows.append(
                pd.DataFrame(
                    [
                        {
                            "step": "LIFETIME (this source table, every fit so far)",
                            "column": self.lifetime.get("table", ""),
                            "mechanism": "budget account, basic composition",
                            "epsilon": self.lifetime["spent_epsilon"],
                            "delta": self.lifetime["spent_delta"],
                            "detail": f"cap epsilon {self.lifetime['cap_epsilon']:g}, "
                            f"remaining {self.lifetime['remaining_epsilon']:g}",
                        }
                    ]
                )
            )
        return pd.concat(rows, ignore_index=True)

    def to_records(self) -> list[dict]:
        return [asdict(e) for e in self.entries]

    @classmethod
    def from_records(cls, records: list[dict]) -> PrivacyLedger:
        ledger = cls()
        ledger.entries = [LedgerEntry(**r) for r in records]
        return ledger


def numeric_grid() -> np.ndarray:
    """Data-independent bin edges for numeric bounds: 0 and +-2^k (k = -8..40).

    Octave-wide bins keep the grid small (98 bins), so each bin collects many rows and the
    threshold is low; a bound up to 2x too wide costs little because wide ranges are
    encoded on a log or asinh scale."""
    octaves = 2.0 ** np.arange(-8, 41)
    return np.concatenate([-octaves[::-1], [0.0], octaves])


def datetime_grid() -> np.ndarray:
    """Bin edges for datetime bounds: 1 January of every year 1800-2200, as days since 1970."""
    years = pd.date_range("1800-01-01", "2200-01-01", freq="YS")
    return ((years - pd.Timestamp("1970-01-01")).days).to_numpy(dtype=float)


def dp_bounds(
    x: np.ndarray, epsilon: float, rng: np.random.Generator, datetime: bool = False, false_bin_rate: float = 0.01
) -> tuple[float, float]:
    """epsilon-DP (low, high): the outermost bins of a fixed grid whose Laplace-noised count
    passes a threshold.

    Each row falls in one bin (sensitivity 1), so the noisy histogram is epsilon-DP and the
    rest is post-processing. The threshold makes an empty bin pass with probability at most
    ``false_bin_rate`` over the whole grid; sparse tails below it are clipped to the bounds.
    (An exponential-mechanism quantile over such a wide grid puts most of its mass on the
    many far-away candidates when epsilon is small, so it is not used here.)
    """
    edges = datetime_grid() if datetime else numeric_grid()
    counts = np.histogram(np.clip(x, edges[0], edges[-1]), bins=edges)[0].astype(float)
    noisy = counts + rng.laplace(0.0, 1.0 / epsilon, len(counts))
    threshold = math.log(len(counts) / (2 * false_bin_rate)) / epsilon
    passing = np.flatnonzero(noisy > threshold)
    if len(passing) == 0:
        passing = np.array([int(np.argmax(noisy))])
    return float(edges[passing[0]]), float(edges[passing[-1] + 1])


def dp_categories(values: pd.Series, epsilon: float, delta: float, rng: np.random.Generator) -> tuple[list, int]:
    """(epsilon, delta)-DP set of frequent categories: Laplace(1/epsilon) on each observed
    category's count, kept if above 1 + ln(1/(2 delta))/epsilon (the stability-based histogram;
    each row touches one count). Returns (kept categories sorted by name, number merged away)."""
    counts = values.dropna().value_counts()
    noisy = counts.to_numpy(dtype=float) + rng.laplace(0.0, 1.0 / epsilon, len(counts))
    threshold = 1.0 + math.log(1.0 / (2.0 * delta)) / epsilon
    kept = [c for c, v in zip(counts.index, noisy) if v > threshold]
    return sorted(kept, key=str), len(counts) - len(kept)


def default_delta(n: int) -> float:
    """A delta well below 1/n: 1/(10 n), rounded down to one significant digit."""
    raw = 1.0 / (10.0 * max(n, 1))
    exponent = math.floor(math.log10(raw))
    return math.floor(raw / 10**exponent) * 10**exponent
