"""The privacy ledger, OS randomness, and the default delta.

Neighbouring tables differ by adding or removing one row. The row count ``n`` is treated
as public (it sets DP-SGD's sampling rate and the default delta), as is standard for
DP-SGD; the ledger says so. The mechanisms of one fit are composed by one accountant
(``accounting``): their entries are marked ``composed`` and show what each would cost alone,
and one ``total`` entry holds the composed (epsilon, delta). Entries that are not composed
(the total, a non-private step) add up; the ledger's epsilon and delta are that sum.
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
    composed: bool = False  # part of the composition in the ``total`` entry: not added again


class PrivacyLedger:
    """Every release of information about the real data, with what it cost."""

    def __init__(self) -> None:
        self.entries: list[LedgerEntry] = []
        # The source table's lifetime account after this fit's charge (see budget.py), if tracked.
        self.lifetime: dict | None = None

    def add(
        self,
        step: str,
        column: str,
        mechanism: str,
        epsilon: float,
        delta: float = 0.0,
        detail: str = "",
        composed: bool = False,
    ) -> None:
        self.entries.append(LedgerEntry(step, column, mechanism, float(epsilon), float(delta), detail, composed))

    @property
    def epsilon(self) -> float:
        return ledger_totals(self.to_records())[0]

    @property
    def delta(self) -> float:
        return ledger_totals(self.to_records())[1]

    def frame(self) -> pd.DataFrame:
        df = pd.DataFrame([asdict(e) for e in self.entries], columns=list(LedgerEntry.__dataclass_fields__))
        total = pd.DataFrame(
            [
                {
                    "step": "TOTAL (one accountant; entries marked composed are inside it)",
                    "column": "",
                    "mechanism": "",
                    "epsilon": self.epsilon,
                    "delta": self.delta,
                    "detail": "",
                    "composed": False,
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
                            "composed": False,
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


def ledger_totals(records: list[dict]) -> tuple[float, float]:
    """(epsilon, delta) of a ledger's records: the entries not inside a composition add up."""
    plain = [r for r in records if not r.get("composed")]
    return float(sum(r["epsilon"] for r in plain)), float(sum(r["delta"] for r in plain))


def default_delta(n: int) -> float:
    """A delta well below 1/n: 1/(10 n), rounded down to one significant digit."""
    raw = 1.0 / (10.0 * max(n, 1))
    exponent = math.floor(math.log10(raw))
    return math.floor(raw / 10**exponent) * 10**exponent
