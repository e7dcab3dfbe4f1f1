"""A lifetime privacy budget per source table: an append-only account in S3.

Every DP fit on a table, every sweep point and every retry spends epsilon on the same rows;
their costs add up (basic composition). The account lives under
``privacy-budget/{table-hash}/`` at the root of the bucket (not under a workshop prefix: a new
prefix must not open a fresh budget on the same people), with one write-once object per spend, numbered
``000001.json``, ``000002.json``, ...: a charge takes the next free number, so two charges can
never both claim the same slot, and nothing is ever rewritten. A fit charges the account
*before* it touches the data, and a charge that would cross the cap (default epsilon 10, the
largest epsilon AWS Clean Rooms ML accepts) is refused with what was spent and what remains.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timezone
from typing import Any

import pandas as pd

from .splits import row_hashes
from .storage import ObjectExistsError, S3Store

DEFAULT_CAP = 10.0
BUDGET_ROOT = "privacy-budget"


class BudgetExceededError(RuntimeError):
    """The charge would take the table's lifetime budget past its cap."""


class NonPrivateFitRefused(RuntimeError):
    """A non-private fit on a tracked table, without saying its output stays internal."""


def table_fingerprint(df: pd.DataFrame) -> str:
    """A content hash of a table that does not depend on row order or on pandas' dtype choices."""
    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, df.columns)).encode())
    digest.update(pd.Series(row_hashes(df)).sort_values().to_numpy().tobytes())
    return digest.hexdigest()


def bytes_fingerprint(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class PrivacyBudget:
    """The lifetime account of one source table.

    >>> budget = PrivacyBudget(store, table_fingerprint(df), cap=10)
    >>> budget.charge(3.0, 1e-6, "DP-TVAE fit", run_id="...")  # refuses past the cap
    """

    def __init__(self, store: S3Store, table_hash: str, cap: float = DEFAULT_CAP, table_name: str = "") -> None:
        if isinstance(cap, bool) or not isinstance(cap, (int, float)) or not (cap > 0 and math.isfinite(cap)):
            raise ValueError(f"The lifetime budget cap must be a positive number, got {cap!r}.")
        self.store, self.table_hash = store, table_hash
        self.cap, self.table_name = float(cap), table_name

    @property
    def folder(self) -> str:
        return f"{BUDGET_ROOT}/{self.table_hash}/"

    def entries(self) -> list[dict[str, Any]]:
        keys = sorted(k for k in self.store.list_keys(self.folder) if k.endswith(".json"))
        return [self.store.read_json(k) for k in keys]

    def spent(self, entries: list[dict[str, Any]] | None = None) -> tuple[float, float]:
        """(epsilon, delta) spent so far on this table; a non-private fit counts as 0 here and is
        listed apart (it is allowed only for outputs that stay internal)."""
        private = [e for e in (self.entries() if entries is None else entries) if e["epsilon"] is not None]
        return float(sum(e["epsilon"] for e in private)), float(sum(e["delta"] for e in private))

    def remaining(self) -> float:
        return max(0.0, self.cap - self.spent()[0])

    def summary(self) -> dict[str, Any]:
        entries = self.entries()  # one read of the account
        eps, delta = self.spent(entries)
        return {
            "table": self.table_name or self.table_hash[:16],
            "table_hash": self.table_hash,
            "spent_epsilon": eps,
            "spent_delta": delta,
            "cap_epsilon": self.cap,
            "remaining_epsilon": max(0.0, self.cap - eps),
            "charges": len(entries),
        }

    def require(self, epsilon: float) -> None:
        """Refuse now if spending ``epsilon`` more would cross the cap (for multi-fit plans)."""
        eps, _ = self.spent()
        if eps + epsilon > self.cap * (1 + 1e-12):
            raise BudgetExceededError(
                f"This would spend epsilon {epsilon:g} on table {self.table_name or self.table_hash[:16]}, "
                f"which has spent {eps:g} of its lifetime cap {self.cap:g} (remaining {self.cap - eps:g}). "
                "Ask for a smaller epsilon, reuse a model already trained, or (the data owner's decision) "
                "raise the cap."
            )

    def charge(
        self,
        epsilon: float | None,
        delta: float,
        purpose: str,
        run_id: str = "",
        internal_only: bool = False,
    ) -> dict[str, Any]:
        """Record one spend before the data is touched; returns the entry written.

        ``epsilon=None`` is a non-private fit: refused unless ``internal_only`` says its output
        never leaves the data owner (it is then recorded, at no epsilon, with that promise)."""
        if epsilon is None:
            if not internal_only:
                raise NonPrivateFitRefused(
                    f"A non-private fit (epsilon=None) on tracked table {self.table_name or self.table_hash[:16]} "
                    "has no privacy guarantee. Pass internal_only=True to record that its model and samples "
                    "stay with the data owner (never released), or fit with an epsilon."
                )
        else:
            self.require(float(epsilon))
        entry = {
            "epsilon": None if epsilon is None else float(epsilon),
            "delta": float(delta or 0.0),
            "purpose": purpose,
            "run_id": run_id,
            "internal_only": bool(internal_only or epsilon is None),
            "time": datetime.now(timezone.utc).isoformat(),
            "table": self.table_name,
        }
        for _ in range(100):  # another writer may take the same number: take the next one
            number = len(self.store.list_keys(self.folder)) + 1
            try:
                self.store.write_json(entry, f"{self.folder}{number:06d}.json")
                break
            except ObjectExistsError:
                continue
        else:
            raise RuntimeError(f"Could not append to the budget account {self.folder}: too many concurrent writers.")
        if epsilon is not None and self.spent()[0] > self.cap * (1 + 1e-12):
            # A concurrent charge slipped in between our check and our write: the entries stay
            # (append-only), and this fit does not go ahead.
            raise BudgetExceededError(
                f"Concurrent charges took table {self.table_name or self.table_hash[:16]} past its cap "
                f"{self.cap:g}; this fit was not run."
            )
        return entry
