"""How good is a synthetic table: fidelity (KL-divergence score) and ML utility (TSTR vs TRTR).

Fidelity, per column: KL(real || synthetic) over categories (a category absent from the
synthetic table counts as half a row, so it costs a finite amount) or, for numbers and dates, over
20 bins cut at the real data's quantiles; nulls are a bin of their own. The score is
exp(-KL) in [0, 1]; 1 means the same distribution. Pairs use 2-way joint bins (5 quantile
bins per numeric column). These are evaluation statistics of the real holdout and are
shown to the data owner; they are not part of what the DP synthesizer releases.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from .columns import as_float, is_numeric

NULL = "<null>"


def discretize(real: pd.Series, synth: pd.Series, bins: int = 20) -> tuple[pd.Series, pd.Series]:
    """Labels for both columns: real-quantile bins for numbers, values for categories; nulls labelled."""
    if is_numeric(real):
        r, s = as_float(real), as_float(synth)
        edges = np.unique(np.nanquantile(r, np.linspace(0, 1, bins + 1))) if r.notna().any() else np.array([0.0])
        inner = edges[1:-1]
        lr = pd.Series(np.searchsorted(inner, r, side="right").astype(str), index=r.index).where(r.notna(), NULL)
        ls = pd.Series(np.searchsorted(inner, s, side="right").astype(str), index=s.index).where(s.notna(), NULL)
        return lr, ls
    return real.astype(object).where(real.notna(), NULL).astype(str), synth.astype(object).where(
        synth.notna(), NULL
    ).astype(str)


def kl_divergence(real_labels: pd.Series, synth_labels: pd.Series, smoothing: float = 0.5) -> float:
    p = real_labels.value_counts(normalize=True)
    support = p.index.union(synth_labels.value_counts().index)
    q_counts = synth_labels.value_counts().reindex(support, fill_value=0).astype(float)
    q_counts[q_counts == 0] = smoothing  # only absent labels: identical tables score exactly 1
    q = q_counts / q_counts.sum()
    p = p.reindex(support, fill_value=0)
    nz = p > 0
    return float((p[nz] * np.log(p[nz] / q[nz])).sum())


def fidelity_score(
    real: pd.DataFrame,
    synth: pd.DataFrame,
    columns: list[str] | None = None,
    pairs: bool = False,
    max_pairs: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Per-column (and optionally pairwise) exp(-KL) scores and their mean ('overall')."""
    columns = columns or list(real.columns)
    missing = [c for c in columns if c not in synth.columns]
    if missing:
        raise ValueError(f"Synthetic table lacks column(s) {missing}.")
    col_scores = {c: float(np.exp(-kl_divergence(*discretize(real[c], synth[c])))) for c in columns}
    result: dict[str, Any] = {"columns": col_scores, "overall": float(np.mean(list(col_scores.values())))}
    if pairs:
        all_pairs = list(combinations(columns, 2))
        if max_pairs is not None and len(all_pairs) > max_pairs:
            rng = np.random.default_rng(seed)
            all_pairs = [all_pairs[i] for i in sorted(rng.choice(len(all_pairs), max_pairs, replace=False))]
        labels = {c: discretize(real[c], synth[c], bins=5) for c in columns}
        pair_scores = {}
        for a, b in all_pairs:
            jr = labels[a][0] + "|" + labels[b][0]
            js = labels[a][1] + "|" + labels[b][1]
            pair_scores[f"{a} x {b}"] = float(np.exp(-kl_divergence(jr, js)))
        result["pairs"] = pair_scores
        result["pairs_overall"] = float(np.mean(list(pair_scores.values()))) if pair_scores else None
    return result


def misplaced_children(real: pd.DataFrame, synth: pd.DataFrame, parent: str, child: str) -> float:
    """The share of synthetic rows whose named child (not ``other``, not null) sits under a parent that
    no real row puts it under: a city in another state, a taxi zone in another borough."""
    from .encoding import OTHER

    seen = set(zip(real[child].astype(str), real[parent].astype(str)))
    named = synth[(synth[child].astype(object) != OTHER) & synth[child].notna()]
    pairs = zip(named[child].astype(str), named[parent].astype(str))
    return sum(pair not in seen for pair in pairs) / max(len(synth), 1)


# --------------------------------------------------------------------------- ML utility


MAX_ONE_HOT_LEVELS = 1000  # categorical features with more distinct values are left out


def features(frames: list[pd.DataFrame], target: str) -> list[pd.DataFrame]:
    """One feature matrix per frame with the same columns: numbers as floats, categories one-hot."""
    cols = [c for c in frames[0].columns if c != target]
    numeric = [c for c in cols if is_numeric(frames[0][c])]
    # identifiers and free text (a value per row) teach a model nothing, and one-hot over them
    # would take rows x values of memory: gigabytes on a table of 20,000 rows
    categorical = [c for c in cols if c not in numeric and frames[0][c].nunique() <= MAX_ONE_HOT_LEVELS]
    out = []
    for f in frames:
        num = pd.DataFrame({c: as_float(f[c]) for c in numeric}, index=f.index)
        cat = pd.get_dummies(f[categorical].astype(object).where(f[categorical].notna(), NULL).astype(str), dtype=float)
        out.append(pd.concat([num, cat], axis=1))
    all_cols = sorted(set().union(*(o.columns for o in out)), key=str)
    return [o.reindex(columns=all_cols, fill_value=0.0) for o in out]


def binary_labels(s: pd.Series, positive: Any) -> np.ndarray:
    return (s.astype(object) == positive).to_numpy(dtype=int)


def ml_utility(
    train_real: pd.DataFrame,
    synth: pd.DataFrame,
    holdout: pd.DataFrame,
    target: str,
    task: str = "classification",
    models: tuple[str, ...] = ("gradient_boosting",),
    seed: int = 0,
) -> dict[str, Any]:
    """Train on synthetic / test on the real holdout (TSTR) next to train on real / test on holdout (TRTR)."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.metrics import accuracy_score, f1_score, mean_squared_error, r2_score, roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    for name, f in (("training table", train_real), ("synthetic table", synth), ("holdout", holdout)):
        if target not in f.columns:
            raise ValueError(f"Target {target!r} is not in the {name}.")
    real_rows = train_real[train_real[target].notna()]
    synth_rows = synth[synth[target].notna()]
    hold = holdout[holdout[target].notna()]
    if real_rows.empty:
        raise ValueError(f"The training table has no row with a value for the target {target!r}.")
    X_real, X_syn, X_hold = features([real_rows, synth_rows, hold], target)
    # a column with no value at all carries nothing, and sklearn's histogram binning fails on it
    X_real, X_syn = (X.fillna({c: 0.0 for c in X.columns[X.isna().all().to_numpy()]}) for X in (X_real, X_syn))
    results: dict[str, Any] = {"task": task, "target": target, "models": {}}
    for model_name in models:
        scores = {}
        for label, X, frame in (("TRTR", X_real, real_rows), ("TSTR", X_syn, synth_rows)):
            if frame.empty:  # synthetic rows that never carry the target teach nothing: chance level
                none = {"roc_auc": 0.5, "f1": 0.0} if task == "classification" else {"r2": 0.0}
                scores[label] = none | {"note": "no synthetic row has a target value"}
                continue
            if task == "classification":
                positive = (
                    True
                    if pd.api.types.is_bool_dtype(real_rows[target])
                    else real_rows[target].value_counts().index[-1]
                )
                y = binary_labels(frame[target], positive)
                y_hold = binary_labels(hold[target], positive)
                if len(np.unique(y)) < 2:
                    scores[label] = {
                        "roc_auc": 0.5,
                        "f1": 0.0,
                        "accuracy": float(np.mean(y_hold == y[0])),
                        "note": "one class only",
                    }
                    continue
                model = (
                    HistGradientBoostingClassifier(random_state=seed)
                    if model_name == "gradient_boosting"
                    else make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression(max_iter=1000))
                )
                model.fit(X, y)
                proba = model.predict_proba(X_hold)[:, 1]
                pred = (proba >= 0.5).astype(int)
                scores[label] = {
                    "roc_auc": float(roc_auc_score(y_hold, proba)),
                    "f1": float(f1_score(y_hold, pred, zero_division=0)),
                    "accuracy": float(accuracy_score(y_hold, pred)),
                }
            else:
                y = as_float(frame[target]).to_numpy()
                y_hold = as_float(hold[target]).to_numpy()
                model = (
                    HistGradientBoostingRegressor(random_state=seed)
                    if model_name == "gradient_boosting"
                    else make_pipeline(SimpleImputer(), StandardScaler(), Ridge())
                )
                model.fit(X, y)
                pred = model.predict(X_hold)
                scores[label] = {
                    "r2": float(r2_score(y_hold, pred)),
                    "rmse": float(np.sqrt(mean_squared_error(y_hold, pred))),
                }
        key = "roc_auc" if task == "classification" else "r2"
        scores["ratio"] = scores["TSTR"][key] / scores["TRTR"][key] if scores["TRTR"][key] else float("nan")
        results["models"][model_name] = scores
    head = results["models"][models[0]]
    results["headline"] = {
        "metric": "roc_auc" if task == "classification" else "r2",
        "ratio": head["ratio"],
        "TSTR": head["TSTR"],
        "TRTR": head["TRTR"],
    }
    return results


# --------------------------------------------------------------------------- second opinion and plots


def sdmetrics_quality(real: pd.DataFrame, synth: pd.DataFrame, columns: list[str] | None = None) -> float:
    """SDMetrics' QualityReport score (column shapes and pair trends), an independent check."""
    import warnings

    with warnings.catch_warnings():  # the single-table report is deprecated in favour of a multi-table one
        warnings.simplefilter("ignore", FutureWarning)
        from sdmetrics.reports.single_table import QualityReport

    columns = columns or [c for c in real.columns if c in synth.columns]
    meta: dict[str, Any] = {"columns": {}}
    for c in columns:
        s = real[c]
        sdtype = (
            "boolean"
            if pd.api.types.is_bool_dtype(s)
            else "datetime"
            if pd.api.types.is_datetime64_any_dtype(s)
            else "numerical"
            if pd.api.types.is_numeric_dtype(s)
            else "categorical"
        )
        meta["columns"][c] = {"sdtype": sdtype}

    def plain(df: pd.DataFrame) -> pd.DataFrame:
        out = df[columns].copy()
        for c in columns:
            sdtype = meta["columns"][c]["sdtype"]
            if sdtype == "categorical":
                out[c] = out[c].astype(object).where(out[c].notna(), None)
            elif sdtype == "numerical":
                out[c] = pd.to_numeric(out[c], errors="coerce").astype("float64")
            elif sdtype == "boolean":
                out[c] = out[c].astype(object)
        return out

    report = QualityReport()
    report.generate(plain(real), plain(synth), meta, verbose=False)
    return float(report.get_score())


def plot_distributions(
    real: pd.DataFrame, synth: pd.DataFrame, columns: list[str], scores: dict[str, float] | None = None
) -> Any:
    """Real vs synthetic, one small seaborn panel per column: overlaid densities for numbers,
    paired bars of the ten most common real values for the rest."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    ncols = 4
    nrows = int(np.ceil(len(columns) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4 * ncols, 2.6 * nrows), squeeze=False)
    for ax, c in zip(axes.ravel(), columns):
        if is_numeric(real[c]):
            r, s = as_float(real[c]).dropna(), as_float(synth[c]).dropna()
            lo, hi = np.nanquantile(r, [0.005, 0.995]) if len(r) else (0, 1)
            long = pd.concat(
                [
                    pd.DataFrame({"value": r.clip(lo, hi), "data": "real"}),
                    pd.DataFrame({"value": s.clip(lo, hi), "data": "synthetic"}),
                ],
                ignore_index=True,
            )
            bins = np.linspace(lo, hi if hi > lo else lo + 1, 30)
            sns.histplot(
                long,
                x="value",
                hue="data",
                bins=bins,
                stat="density",
                common_norm=False,
                ax=ax,
                legend=ax is axes[0, 0],
            )
        else:
            rl, sl = discretize(real[c], synth[c])
            rc = rl.value_counts(normalize=True).head(10)
            sc = sl.value_counts(normalize=True).reindex(rc.index, fill_value=0)
            long = pd.DataFrame(
                {
                    "value": [str(v)[:10] for v in rc.index] * 2,
                    "share": [*rc.values, *sc.values],
                    "data": ["real"] * len(rc) + ["synthetic"] * len(sc),
                }
            )
            sns.barplot(long, x="value", y="share", hue="data", ax=ax, legend=ax is axes[0, 0])
            ax.tick_params(axis="x", rotation=45, labelsize=7)
        ax.set_xlabel("")
        ax.set_title(f"{c}" + (f" ({scores[c]:.2f})" if scores and c in scores else ""), fontsize=9)
    for ax in axes.ravel()[len(columns) :]:
        ax.set_axis_off()
    fig.tight_layout()
    return fig


def association_matrix(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Pairwise association: Spearman for numbers, on category codes for the rest (a simple view)."""
    coded = pd.DataFrame(
        {
            c: (
                as_float(df[c])
                if is_numeric(df[c])
                else df[c].astype("category").cat.codes.replace(-1, np.nan).astype(float)
            )
            for c in columns
        }
    )
    return coded.corr(method="spearman").fillna(0.0)


def plot_correlations(real: pd.DataFrame, synth: pd.DataFrame, columns: list[str]) -> Any:
    """Seaborn heatmaps of the association matrices: real, synthetic, and their absolute difference."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    cr, cs = association_matrix(real, columns), association_matrix(synth, columns)
    fig, axes = plt.subplots(1, 3, figsize=(18, 5.5))
    for ax, m, title, cmap, vmin in (
        (axes[0], cr, "real", "RdBu_r", -1),
        (axes[1], cs, "synthetic", "RdBu_r", -1),
        (axes[2], (cr - cs).abs(), "|difference|", "Reds", 0),
    ):
        sns.heatmap(m, cmap=cmap, vmin=vmin, vmax=1, square=True, ax=ax, cbar_kws={"fraction": 0.046})
        ax.tick_params(labelsize=7)
        ax.set_title(title)
    fig.tight_layout()
    return fig
