"""Notebook 07: train the dataset's downstream models on the released synthetic table; the data owner
scores them on the real holdout beside the same models trained on real rows."""

from __future__ import annotations

import io

import joblib
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import r2_score, roc_auc_score

from .. import catalog
from ..catalog import CatalogEntry
from ..config import Settings
from ..dataset import DatasetSpec
from ..evaluation import binary_labels, features
from ..progress import progress_bar
from ..storage import S3Store


class NothingReleasedError(RuntimeError):
    """No synthetic table passed the release gate."""


def find_released(store: S3Store, settings: Settings, spec: DatasetSpec) -> CatalogEntry:
    try:
        return catalog.find_table(store, settings, spec.tables.released)
    except catalog.CatalogError:
        raise NothingReleasedError(
            f"Nothing has been released for dataset {spec.name!r}: no synthetic table passed the release gate of "
            "notebook 06. Read its report (reports/<run-id>/report.html), improve the model or adjust the policy "
            "with the data owners, and run 04-06 again."
        ) from None


def fit_and_score(
    task: str, data: pd.DataFrame, test: pd.DataFrame, target: str, seed: int
) -> tuple[object, list[str], str, float]:
    """(model, feature names, metric, score): gradient boosting fitted on ``data``, scored on ``test``
    (ROC AUC one-vs-rest on the test part's most common class, or R^2)."""
    X, X_test = features([data, test], target)
    if task == "classification":
        positive = test[target].value_counts().index[0]  # one-vs-rest on the holdout's most common class
        y, y_test = binary_labels(data[target], positive), binary_labels(test[target], positive)
        model = HistGradientBoostingClassifier(random_state=seed).fit(X, y)
        score = roc_auc_score(y_test, model.predict_proba(X_test)[:, 1]) if len(set(y_test)) > 1 else float("nan")
        return model, list(X.columns), "ROC AUC", score
    model = HistGradientBoostingRegressor(random_state=seed).fit(X, data[target].astype(float))
    return model, list(X.columns), "R^2", r2_score(test[target].astype(float), model.predict(X_test))


def train_downstream(store: S3Store, settings: Settings, spec: DatasetSpec) -> tuple[pd.DataFrame, dict[str, str]]:
    """For every target of the spec: a model trained on the released synthetic table and one on the
    real training part, both scored on the real holdout; the synthetic-trained models are exported."""
    released = find_released(store, settings, spec)
    synthetic = catalog.read_table(store, released)
    synthetic_entry = catalog.find_table(
        store, settings, spec.tables.synthetic, run_id=released["Parameters"]["source"]["runId"]
    )
    split_run = synthetic_entry["Parameters"]["source"]["train"]["runId"]
    train = catalog.read_table(store, catalog.find_table(store, settings, spec.tables.train, run_id=split_run))
    holdout = catalog.read_table(store, catalog.find_table(store, settings, spec.tables.holdout, run_id=split_run))
    keep = [
        c
        for c in synthetic.columns
        if synthetic[c].notna().any() and not synthetic[c].astype(str).str.startswith("SYN-").all()
    ]
    rows, keys = [], {}
    jobs = [
        (target, task, source_name, source)
        for target, task in spec.targets.items()
        if target in keep
        for source_name, source in (("synthetic (released)", synthetic), ("real (training part)", train))
    ]
    for target, task, source_name, source in progress_bar(jobs, desc="downstream models"):
        data = source[keep][source[target].notna()]
        test = holdout[keep][holdout[target].notna()]
        model, columns, metric, score = fit_and_score(task, data, test, target, settings.seed)
        rows.append(
            {
                "target": target,
                "task": task,
                "trained on": source_name,
                "metric": metric,
                "score on real holdout": score,
            }
        )
        if source_name.startswith("synthetic"):
            buf = io.BytesIO()
            joblib.dump({"model": model, "features": columns, "target": target}, buf)
            keys[target] = store.put_once(settings.key("models/downstream", f"{target}_{task}.joblib"), buf.getvalue())
    return pd.DataFrame(rows), keys
