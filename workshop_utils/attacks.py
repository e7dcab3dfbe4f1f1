"""Simulated membership-inference attacks on a synthetic table.

Members are training rows, non-members real holdout rows never shown to the model (same
number of each). The attacker scores each candidate record; a higher score means "member":

* **distance to closest record (DCR)**: minus the distance to the nearest synthetic row.

DOMIAS (van Breugel et al. 2023, a density ratio of synthetic to reference data) was tried and
dropped. With kNN densities it scored AUC 0.49-0.51 on the non-private models of
``bench_attacks.py``, where the targeted attack reached 0.6-0.7 pooled. With Gaussian KDEs (Scott's bandwidth, 8 principal components) it
no longer caught even a noisy copy of the training rows (AUC 0.55, where DCR gives 1.0). The
targeted shadow-model attack (``targeted_attack``) is the strong attack: it finds the leaks
that per-record density ratios average away. DCR stays: it catches gross copying, and it is
the score AWS Clean Rooms ML reports (``DISTANCE_TO_CLOSEST_RECORD_V1``).

From each attack's ROC curve we report AUC, TPR at 1% and 0.1% FPR, the attacker's advantage
(max TPR - FPR), a protection score (1 = no better than chance, 0 = perfect attack), and an
empirical epsilon lower bound with Clopper-Pearson confidence bounds: what the attack
proves about the model's privacy loss, to compare with the epsilon it claims.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import beta
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.neighbors import NearestNeighbors

from .columns import as_float, is_numeric


class RecordEncoder:
    """Mixed-type rows -> vectors: numbers scaled to [0, 1] by the reference range (nulls get
    their own indicator), categories one-hot with weight 1/sqrt(2) so a mismatch costs 1."""

    def __init__(self, reference: pd.DataFrame, columns: list[str]) -> None:
        self.columns = columns
        self.numeric = [c for c in columns if is_numeric(reference[c])]
        self.categorical = [c for c in columns if c not in self.numeric]
        self.ranges = {}
        for c in self.numeric:
            x = self._float(reference[c])
            lo, hi = np.nanmin(x), np.nanmax(x)
            self.ranges[c] = (lo, hi - lo if hi > lo else 1.0)
        self.levels = {c: self._labels(reference[c]).unique().tolist() for c in self.categorical}

    @staticmethod
    def _labels(s: pd.Series) -> pd.Series:
        """Categories as strings, null as its own level (pd.NA cannot be compared)."""
        return s.astype(object).where(s.notna(), "<null>").astype(str)

    @staticmethod
    def _float(s: pd.Series) -> np.ndarray:
        return as_float(s).to_numpy(dtype=float, na_value=np.nan)

    def transform(self, df: pd.DataFrame) -> np.ndarray:
        parts = []
        for c in self.numeric:
            lo, width = self.ranges[c]
            x = (self._float(df[c]) - lo) / width
            parts += [np.nan_to_num(x, nan=0.0), np.isnan(x).astype(float)]
        for c in self.categorical:
            values = self._labels(df[c]).to_numpy()
            for level in self.levels[c]:
                parts.append((values == level).astype(float) / np.sqrt(2))
        return np.column_stack(parts) if parts else np.zeros((len(df), 0))


@dataclass
class AttackResult:
    attack: str
    auc: float
    tpr_at_1pct_fpr: float
    tpr_at_01pct_fpr: float
    advantage: float
    protection: float
    empirical_epsilon_lower_bound: float


def _tpr_at(fpr: np.ndarray, tpr: np.ndarray, level: float) -> float:
    ok = fpr <= level
    return float(tpr[ok].max()) if ok.any() else 0.0


def empirical_epsilon(
    scores_members: np.ndarray,
    scores_nonmembers: np.ndarray,
    delta: float = 0.0,
    confidence: float = 0.95,
    n_thresholds: int = 40,
    thresholds: list[float] | None = None,
) -> float:
    """Largest epsilon that the attack proves with the given confidence, over a fixed set of
    thresholds (Bonferroni-corrected Clopper-Pearson bounds on TPR and FPR): ``thresholds``
    when fixed in advance, else ``n_thresholds`` quantiles of the scores.

    (epsilon, delta)-DP implies TPR <= e^eps FPR + delta and 1-FPR <= e^eps (1-TPR) + delta.
    """
    m, n = len(scores_members), len(scores_nonmembers)
    everything = np.concatenate([scores_members, scores_nonmembers])
    if thresholds is None:
        thresholds = np.unique(np.quantile(everything, np.linspace(0.02, 0.98, n_thresholds)))
    alpha = (1 - confidence) / (2 * len(thresholds))  # two bounds per threshold
    best = 0.0
    for t in thresholds:
        tp, fp = int((scores_members >= t).sum()), int((scores_nonmembers >= t).sum())
        tpr_lo = beta.ppf(alpha, tp, m - tp + 1) if tp > 0 else 0.0
        fpr_lo = beta.ppf(alpha, fp, n - fp + 1) if fp > 0 else 0.0
        fpr_hi = beta.ppf(1 - alpha, fp + 1, n - fp) if fp < n else 1.0
        if tpr_lo - delta > 0 and fpr_hi > 0:
            best = max(best, float(np.log((tpr_lo - delta) / fpr_hi)))
        if 1 - fpr_lo - delta > 0 and 1 - tpr_lo > 0 and (1 - fpr_hi - delta) > 0:
            best = max(best, float(np.log((1 - fpr_hi - delta) / (1 - tpr_lo))))
    return best


def protection_score(auc: float) -> float:
    """1 when the attack does no better than chance (AUC 0.5 or below), 0 for a perfect attack."""
    return float(np.clip(2 * (1 - auc), 0, 1))


def roc_summary(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """AUC, TPR at 1% and 0.1% FPR, and the advantage (max TPR - FPR) of scores against 0/1 labels."""
    fpr, tpr, _ = roc_curve(labels, scores)
    return {
        "auc": float(roc_auc_score(labels, scores)),
        "tpr_at_1pct_fpr": _tpr_at(fpr, tpr, 0.01),
        "tpr_at_01pct_fpr": _tpr_at(fpr, tpr, 0.001),
        "advantage": float(np.max(tpr - fpr)),
    }


def _summarize(name: str, members: np.ndarray, nonmembers: np.ndarray, delta: float) -> AttackResult:
    y = np.r_[np.ones(len(members)), np.zeros(len(nonmembers))]
    roc = roc_summary(y, np.r_[members, nonmembers])
    return AttackResult(
        name,
        **roc,
        protection=protection_score(roc["auc"]),
        empirical_epsilon_lower_bound=empirical_epsilon(members, nonmembers, delta),
    )


def membership_inference(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    columns: list[str] | None = None,
    n_candidates: int | None = 5000,
    k: int = 1,
    delta: float = 0.0,
    seed: int = 0,
) -> dict[str, Any]:
    """Run the DCR attack; returns per-attack results, DCR distributions and the exact-copy rate."""
    columns = columns or [c for c in train.columns if c in synthetic.columns and c in holdout.columns]
    if len(holdout) < 20 or len(train) < 10 or len(synthetic) < 10:
        raise ValueError("Membership inference needs at least 20 holdout, 10 training and 10 synthetic rows.")
    rng = np.random.default_rng(seed)
    half = len(holdout) // 2
    order = rng.permutation(len(holdout))
    # non-members from half the holdout, as when the other half was DOMIAS's reference: Clean Rooms
    # scores and policy thresholds set on them stay comparable
    nonmember_idx = order[:half]
    size = min(half, len(train), n_candidates or half)
    nonmembers = holdout.iloc[nonmember_idx[:size]]
    members = train.iloc[rng.choice(len(train), size, replace=False)]

    enc = RecordEncoder(pd.concat([train[columns], holdout[columns]]), columns)
    X_syn = enc.transform(synthetic[columns])
    X_mem, X_non = (enc.transform(d[columns]) for d in (members, nonmembers))
    nn_syn = NearestNeighbors(n_neighbors=k).fit(X_syn)
    dcr_m, dcr_n = (-nn_syn.kneighbors(X)[0][:, k - 1] for X in (X_mem, X_non))
    attacks = [_summarize("distance to closest record", dcr_m, dcr_n, delta)]

    # DCR distributions: synthetic -> train against holdout -> train (a baseline of "new" real rows).
    X_train = enc.transform(train[columns])
    nn_train = NearestNeighbors(n_neighbors=1).fit(X_train)
    syn_sample = X_syn[rng.choice(len(X_syn), min(len(X_syn), size), replace=False)]
    dcr_syn = nn_train.kneighbors(syn_sample)[0][:, 0]
    dcr_hold = nn_train.kneighbors(X_non)[0][:, 0]
    return {
        "attacks": [asdict(a) for a in attacks],
        "protection_score": min(a.protection for a in attacks),
        "max_auc": max(a.auc for a in attacks),
        "empirical_epsilon_lower_bound": max(a.empirical_epsilon_lower_bound for a in attacks),
        "dcr": {
            "synthetic_to_train": dcr_syn.tolist(),
            "holdout_to_train": dcr_hold.tolist(),
            "synthetic_median": float(np.median(dcr_syn)),
            "holdout_median": float(np.median(dcr_hold)),
        },
        "exact_copy_rate": exact_copy_rate(train[columns], synthetic[columns]),
        "candidates_per_class": int(size),
    }


def exact_copy_rate(train: pd.DataFrame, synthetic: pd.DataFrame) -> float:
    """Share of synthetic rows identical to some training row (on the compared columns)."""
    key = lambda d: pd.util.hash_pandas_object(d.astype(object).astype(str), index=False)  # noqa: E731
    return float(key(synthetic).isin(set(key(train))).mean())


def plot_dcr(result: dict[str, Any], ax: Any = None) -> Any:
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    d = result["dcr"]
    hi = np.quantile(np.r_[d["synthetic_to_train"], d["holdout_to_train"]], 0.99)
    bins = np.linspace(0, hi if hi > 0 else 1, 40)
    ax.hist(d["holdout_to_train"], bins=bins, alpha=0.55, density=True, label="real holdout -> training")
    ax.hist(d["synthetic_to_train"], bins=bins, alpha=0.55, density=True, label="synthetic -> training")
    ax.set_xlabel("distance to the closest training record")
    ax.set_title(f"Distance to closest record (exact copies: {100 * result['exact_copy_rate']:.2f}%)")
    ax.legend()
    return ax
