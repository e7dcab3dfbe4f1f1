"""A targeted shadow-model membership-inference attack (Stadler, Oprisanu and Troncoso 2022;
the TAPAS toolbox of Houssiau et al. 2022), the attack an auditor runs on a synthesizer.

Threat model (stated in every result): the attacker knows one **target** record, has
**auxiliary** rows from the same population (the real holdout, never trained on), knows the
synthesizer, its settings and the training-set size, and sees the released synthetic table.
The question: was the target in the training data?

The attacker plays the game many times itself. Each **shadow** synthesizer is trained on rows
drawn from the auxiliary data, plus each target with probability one half (a coin per target
and shadow, balanced so every target is in exactly half the shadows: an add/remove neighbour,
the pair DP protects). Every shadow's synthetic table becomes, per target, a feature vector:
distances from the target to its nearest synthetic rows, how many synthetic rows fall inside
radii set by the target's own neighbourhood in the auxiliary data, how often the target's
category values and its tails occur. A classifier learns "target in" from those features;
its scores are always taken on shadows it was not trained on (cross-validation), so every
AUC and TPR is measured on fresh games. The same games are scored by the distance to the
closest record (DCR) alone, the score AWS Clean Rooms ML reports, for comparison.

Vulnerable targets are the training rows with the rarest values as the attacker sees them:
for each column, how few auxiliary rows are as extreme as the target (or share its category),
categories they never show and values beyond their range first. No two targets are chosen for the same rarity (column and
direction), so one target's presence cannot pass for another's. A few random rows show how
typical rows fare. Per target, the features look at its three rarest columns (how many
synthetic values lie beyond the auxiliary range in the target's direction, or at least as far
out as the target, or share its category or its null) and at the neighbourhood of the whole
record (distances to the closest synthetic rows, and how many fall inside the distances of the
target's own 1st and 5th auxiliary neighbours). The classifier is a shallow random forest.

Because each target's games are independent draws of the whole mechanism (fresh auxiliary
sample, fresh coin, fresh training randomness), Clopper-Pearson bounds on one target's TPR and
FPR at the classifier's 0.5 threshold give a valid empirical epsilon lower bound (Jagielski et
al. 2020; Nasr et al. 2021); the confidence is split over targets (Bonferroni). Proving
anything takes games: with 24 games in and 24 out and a perfect attack, the bound is about
1.3 for 8 targets; with 6 and 6 it is 0 whatever the attack does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.neighbors import NearestNeighbors

from .attacks import RecordEncoder, empirical_epsilon, roc_summary
from .columns import as_float, is_numeric
from .progress import progress_bar

RARE_COLUMNS = 3  # per target, the features look at its rarest columns


class Synthesizer(Protocol):
    def fit(self, df: pd.DataFrame) -> Any: ...
    def sample(self, n: int) -> pd.DataFrame: ...


@dataclass(frozen=True)
class ShadowSettings:
    """How hard the auditor tries. ``quick()`` runs inside the workshop in minutes on 2 cores;
    ``full()`` is the benchmark's setting. Shadows may be smaller (``shadow_rows``) or
    shorter-trained (``shadow_epochs``) than the real model; the result says so."""

    n_targets: int = 5  # most vulnerable training rows
    n_random_targets: int = 1  # typical rows, for contrast
    n_shadows: int = 16  # synthesizers trained; each target is in exactly half of them
    shadow_rows: int = 1000  # auxiliary rows per shadow training set (at most the real training size)
    shadow_epochs: int | None = None  # None: as many as the real model
    folds: int = 4  # cross-validation over shadows: every score is on games the classifier never saw

    def __post_init__(self) -> None:
        for name in ("n_targets", "n_shadows", "shadow_rows", "folds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ShadowSettings.{name} must be a positive integer, got {value!r}.")
        if (
            isinstance(self.n_random_targets, bool)
            or not isinstance(self.n_random_targets, int)
            or self.n_random_targets < 0
        ):
            raise ValueError(f"ShadowSettings.n_random_targets must be an integer >= 0, got {self.n_random_targets!r}.")
        if self.folds < 2 or self.n_shadows % 2 or self.n_shadows < 2 * self.folds:
            raise ValueError(
                f"ShadowSettings: n_shadows must be even and at least 2 x folds, and folds >= 2; got "
                f"n_shadows={self.n_shadows}, folds={self.folds}."
            )
        if self.shadow_epochs is not None and (not isinstance(self.shadow_epochs, int) or self.shadow_epochs < 1):
            raise ValueError(
                f"ShadowSettings.shadow_epochs must be None or a positive integer, got {self.shadow_epochs!r}."
            )

    @classmethod
    def quick(cls) -> ShadowSettings:
        # 24 shadows: the gate reads the rare targets' pooled AUC, and with 12 (48 games) its standard
        # error under no leak at all was 0.08, so about 1 fit in 9 failed the 0.80 protection
        # minimum (AUC 0.60) by chance; 96 games bring it to 0.06 and chance failures to about 1 in 20.
        return cls(n_targets=4, n_random_targets=1, n_shadows=24, shadow_rows=1000, folds=4)

    @classmethod
    def full(cls) -> ShadowSettings:
        return cls(n_targets=8, n_random_targets=2, n_shadows=48, shadow_rows=2000, folds=6)

    @classmethod
    def named(
        cls, strength: str, n_shadows: int | None = None, shadow_epochs: int | None = None
    ) -> ShadowSettings | None:
        """Notebook 06's ``attack_strength``: "off" (None), "quick" or "full", with optional overrides."""
        if strength == "off":
            return None
        if strength not in ("quick", "full"):
            raise ValueError(f"attack_strength must be one of off, quick, full, got {strength!r}.")
        base = asdict(cls.quick() if strength == "quick" else cls.full())
        if n_shadows is not None:
            base |= {"n_shadows": n_shadows, "folds": max(2, min(base["folds"], n_shadows // 2))}
        return cls(**base | {"shadow_epochs": shadow_epochs})


THREAT_MODEL = (
    "The attacker knows each target record; has real rows from the same population that were never "
    "trained on (the holdout); knows the synthesizer, its settings and the training-set size; and sees "
    "one synthetic table. It trains shadow synthesizers on holdout rows with and without the target and "
    "learns to tell their outputs apart."
)


class Rarity:
    """How rare each value of a row is among the auxiliary rows, column by column."""

    def __init__(self, auxiliary: pd.DataFrame, columns: list[str]) -> None:
        self.columns = columns
        self.numeric = {c for c in columns if is_numeric(auxiliary[c])}
        self.sorted = {c: np.sort(x[~np.isnan(x)]) for c in self.numeric for x in [self._float(auxiliary[c])]}
        self.counts = {
            c: auxiliary[c].astype(object).where(auxiliary[c].notna(), None).astype(str).value_counts()
            for c in columns
            if c not in self.numeric
        }
        self.nulls = {c: int(auxiliary[c].isna().sum()) for c in columns}
        self.n = len(auxiliary)

    @staticmethod
    def _float(s: pd.Series) -> np.ndarray:
        return as_float(s).to_numpy(dtype=float, na_value=np.nan)

    def span(self, c: str) -> float:
        """The auxiliary range of a numeric column (1 when it is empty or a single value)."""
        a = self.sorted[c]
        return float(a[-1] - a[0]) or 1.0 if len(a) else 1.0

    def scores(self, rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(-log share of auxiliary rows at least as extreme, +1 smoothed; plus how far beyond the
        auxiliary range in units of that range) and the direction (+1 upper tail, -1 lower, 0 a category or null)."""
        score, direction = {}, {}
        for c in self.columns:
            if c in self.numeric:
                a, v = self.sorted[c], self._float(rows[c])
                at_least = len(a) - np.searchsorted(a, v, "left")
                at_most = np.searchsorted(a, v, "right")
                beyond = np.clip(np.maximum(v - a[-1], a[0] - v) / self.span(c), 0, 1) if len(a) else np.zeros(len(v))
                s = -np.log((np.minimum(at_least, at_most) + 1) / (len(a) + 1)) + beyond
                null = np.isnan(v)
                score[c] = np.where(null, -np.log((self.nulls[c] + 1) / (self.n + 1)), s)
                direction[c] = np.where(null, 0, np.where(at_least < at_most, 1, -1))
            else:
                labels = rows[c].astype(object).where(rows[c].notna(), None).astype(str)
                count = labels.map(self.counts[c]).fillna(0).to_numpy(float)
                # a category the auxiliary rows never show ranks first: a non-private domain gains it
                score[c] = -np.log((count + 1) / (self.n + 1)) + (count == 0)
                direction[c] = np.zeros(len(rows), dtype=int)
        return pd.DataFrame(score, index=rows.index), pd.DataFrame(direction, index=rows.index)


def select_targets(
    train: pd.DataFrame, rarity: Rarity, n_rare: int, n_random: int, rng: np.random.Generator
) -> tuple[list[int], list[str]]:
    """Positions in ``train`` of the rarest rows, no two for the same reason, then random ones."""
    score, direction = rarity.scores(train)
    best = score.to_numpy().max(axis=1)
    column = score.columns.to_numpy()[score.to_numpy().argmax(axis=1)]
    chosen, reasons = [], set()
    for i in np.argsort(-best, kind="stable"):
        c = column[i]
        reason = (c, int(direction.iloc[i][c]) or str(train.iloc[i][c]))
        if reason not in reasons:
            reasons.add(reason)
            chosen.append(int(i))
        if len(chosen) == n_rare:
            break
    rest = np.setdiff1d(np.arange(len(train)), chosen)
    random = [int(i) for i in rng.choice(rest, min(n_random, len(rest)), replace=False)]
    return chosen + random, ["rare"] * len(chosen) + ["random"] * len(random)


class TargetFeatures:
    """Turns a synthetic table into one feature vector per target (see the module docstring)."""

    def __init__(self, targets: pd.DataFrame, auxiliary: pd.DataFrame, rarity: Rarity, encoder: RecordEncoder) -> None:
        self.targets, self.rarity, self.encoder = targets, rarity, encoder
        self.X_targets = encoder.transform(targets)
        X_aux = encoder.transform(auxiliary)
        k = min(5, len(X_aux))
        d_aux = NearestNeighbors(n_neighbors=k).fit(X_aux).kneighbors(self.X_targets)[0]
        self.radii = d_aux[:, [0, k - 1]]
        score, self.direction = rarity.scores(targets)
        self.rare_columns = [
            list(score.iloc[t].sort_values(ascending=False, kind="stable").index[:RARE_COLUMNS])
            for t in range(len(targets))
        ]
        self.names = [
            f"{c} ({'above' if d > 0 else 'below' if d < 0 else 'same value'})"
            for c, d in ((cols[0], self.direction.iloc[t][cols[0]]) for t, cols in enumerate(self.rare_columns))
        ]

    def _column_features(self, synthetic: pd.DataFrame, t: int, c: str) -> list[float]:
        value, d = self.targets.iloc[t][c], int(self.direction.iloc[t][c])
        if c in self.rarity.numeric and d != 0:  # d != 0: the value is not null and the column has values
            a = self.rarity.sorted[c]
            value = float(self.rarity._float(self.targets[c].iloc[[t]])[0])  # datetimes as numbers too
            edge, target = (a[-1], value) if d > 0 else (-a[0], -value)
            v = self.rarity._float(synthetic[c])
            v = v[~np.isnan(v)] * d
            if not len(v):
                return [0.0] * 4
            # how far out the synthetic values reach: without the target the bounds of a
            # non-private model stop at the other rows, and every bin edge moves with them
            reach = (np.max(v) - edge) / self.rarity.span(c), (np.quantile(v, 0.99) - edge) / self.rarity.span(c)
            return [float(np.mean(v > edge)), float(np.mean(v >= target)), *map(float, reach)]
        if pd.isna(value):
            return [float(synthetic[c].isna().mean()), 0.0, 0.0, 0.0]
        return [float((synthetic[c].astype(object).astype(str) == str(value)).mean()), 0.0, 0.0, 0.0]

    def __call__(self, synthetic: pd.DataFrame) -> np.ndarray:
        X = self.encoder.transform(synthetic)
        k = min(5, len(X))
        out = []
        for t, x in enumerate(self.X_targets):
            d = np.sqrt(((X - x) ** 2).sum(axis=1))
            nearest = np.partition(d, k - 1)[:k]
            f = [
                float(nearest.min()),
                float(nearest.max()),
                float(np.mean(d <= self.radii[t, 0] + 1e-9)),
                float(np.mean(d <= self.radii[t, 1] + 1e-9)),
            ]
            for c in self.rare_columns[t]:
                f += self._column_features(synthetic, t, c)
            out.append(f)
        return np.asarray(out)


def _summary(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    roc = roc_summary(labels, scores)
    return {k: roc[k] for k in ("auc", "tpr_at_1pct_fpr", "tpr_at_01pct_fpr")}


def _out_of_fold_scores(features: np.ndarray, labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    scores = np.zeros(len(labels))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fit_idx, test_idx in splitter.split(features, labels):
        clf = RandomForestClassifier(n_estimators=200, max_depth=3, random_state=seed, n_jobs=1)
        clf.fit(features[fit_idx], labels[fit_idx])
        scores[test_idx] = clf.predict_proba(features[test_idx])[:, 1]
    return scores


def shadow_attack(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    new_synthesizer: Callable[[int], Synthesizer],
    settings: ShadowSettings | None = None,
    synthetic_rows: int | None = None,
    columns: list[str] | None = None,
    delta: float = 0.0,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Run the targeted attack on the synthesizer that ``new_synthesizer(i)`` builds: an unfitted
    synthesizer with the real model's settings (``i`` numbers the shadow, for the seeds of
    non-private fits). ``synthetic_rows``: the size of the released table (default: the
    training part's). ``delta``: the model's, for the empirical epsilon bound."""
    settings = settings or ShadowSettings()
    columns = columns or [c for c in train.columns if c in holdout.columns]
    if len(holdout) < 40 or len(train) < 10:
        raise ValueError(
            f"The shadow attack needs at least 40 holdout and 10 training rows; got {len(holdout)} and {len(train)}."
        )
    synthetic_rows = synthetic_rows or len(train)
    rng = np.random.default_rng(seed)
    # shadows fit whole rows (the synthesizer's schema); the attacker compares ``columns``
    shared = [c for c in train.columns if c in holdout.columns]
    train, auxiliary = train[shared].reset_index(drop=True), holdout[shared].reset_index(drop=True)
    rarity = Rarity(auxiliary[columns], columns)
    positions, kinds = select_targets(train[columns], rarity, settings.n_targets, settings.n_random_targets, rng)
    targets = train.iloc[positions]
    encoder = RecordEncoder(pd.concat([train[columns], auxiliary[columns]]), columns)
    featurize = TargetFeatures(targets[columns], auxiliary[columns], rarity, encoder)
    rows = min(settings.shadow_rows, len(train), len(auxiliary))
    n_targets, n_shadows = len(positions), settings.n_shadows
    inside = np.zeros((n_shadows, n_targets), dtype=bool)
    for t in range(n_targets):  # balanced coins: each target in exactly half the shadows
        inside[rng.permutation(n_shadows)[: n_shadows // 2], t] = True
    features = []
    for s in progress_bar(range(n_shadows), desc="shadow synthesizers", disable=not progress):
        base = auxiliary.iloc[rng.choice(len(auxiliary), rows, replace=False)]
        data = pd.concat([base, targets.iloc[np.flatnonzero(inside[s])]], ignore_index=True)
        data = data.iloc[rng.permutation(len(data))].reset_index(drop=True)
        features.append(featurize(new_synthesizer(s).fit(data).sample(synthetic_rows)[columns]))
    features = np.stack(features, axis=1)  # targets x shadows x features

    per_target, rare_scores, rare_dcr, rare_labels = [], [], [], []
    for t in range(n_targets):
        labels = inside[:, t].astype(int)
        scores = _out_of_fold_scores(features[t], labels, settings.folds, seed + t)
        dcr = -features[t][:, 0]  # minus the distance to the closest synthetic row, on the same games
        # One threshold fixed in advance (the classifier's 0.5) on scores of games it never saw, and
        # Bonferroni over targets: the bound holds for all targets at once with 95% confidence.
        eps = empirical_epsilon(
            scores[labels == 1], scores[labels == 0], delta, confidence=1 - 0.05 / n_targets, thresholds=[0.5]
        )
        per_target.append(
            {
                "target": int(positions[t]),
                "kind": kinds[t],
                "why": featurize.names[t],
                **_summary(labels, scores),
                "dcr_auc": float(roc_auc_score(labels, dcr)),
                "empirical_epsilon_lower_bound": eps,
            }
        )
        if kinds[t] == "rare":
            rare_scores.append(scores)
            rare_dcr.append(dcr)
            rare_labels.append(labels)
    labels = np.concatenate(rare_labels)
    rare = _summary(labels, np.concatenate(rare_scores)) | {
        "dcr_auc": float(roc_auc_score(labels, np.concatenate(rare_dcr)))
    }
    return {
        "attack": "targeted shadow-model attack",
        "threat_model": THREAT_MODEL,
        "settings": asdict(settings)
        | {"shadow_rows_used": rows, "synthetic_rows": synthetic_rows, "training_rows_of_real_model": len(train)},
        "games_per_target": n_shadows,
        "targets": per_target,
        "rare_targets": rare,
        "empirical_epsilon_lower_bound": max(p["empirical_epsilon_lower_bound"] for p in per_target),
    }


def shadows_of(model: Any, settings: ShadowSettings) -> Callable[[int], Synthesizer]:
    """Shadow synthesizers of the same class and settings as ``model`` (fitted or not): only the
    seed of non-private fits (a DP fit draws its randomness from the OS) and, when the settings
    say so, the number of epochs differ."""
    params = model.get_parameters() | {"progress": False}
    if settings.shadow_epochs is not None:
        params["epochs"] = settings.shadow_epochs
    return lambda i: type(model)(model.metadata, **(params | {"seed": params["seed"] + 1 + i}))


def plot_targets(result: dict[str, Any], ax: Any = None) -> Any:
    """Per target: the shadow attack's AUC beside DCR's on the same games, and its TPR at 1% FPR."""
    import matplotlib.pyplot as plt

    targets = result["targets"]
    if ax is None:
        _, ax = plt.subplots(figsize=(max(7.0, 1.7 * len(targets) + 1), 4.2))
    x = np.arange(len(targets))
    ax.bar(x - 0.27, [t["auc"] for t in targets], 0.27, label="targeted attack: AUC")
    ax.bar(x, [t["tpr_at_1pct_fpr"] for t in targets], 0.27, label="targeted attack: TPR at 1% FPR")
    ax.bar(x + 0.27, [t["dcr_auc"] for t in targets], 0.27, label="DCR on the same games: AUC", color="grey")
    ax.axhline(0.5, color="black", lw=0.8, ls="--")
    ax.text(len(targets) - 0.5, 0.51, "coin toss (AUC)", ha="right", va="bottom", fontsize=8)
    labels = [
        f"row {t['target']}\n" + (t["why"].replace(" (", "\n(") if t["kind"] == "rare" else "random row")
        for t in targets
    ]
    ax.set_xticks(x, labels, fontsize=7)
    ax.set_ylim(0, 1.05)
    ax.set_title(
        f"Targeted shadow-model attack: {result['games_per_target']} games per target "
        f"(rare targets pooled: AUC {result['rare_targets']['auc']:.2f})"
    )
    ax.legend(fontsize=8, loc="upper right")
    return ax
