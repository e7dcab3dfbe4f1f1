"""The three risks a privacy officer asks about, measured by anonymeter (Giomi et al. 2023, the
tool the CNIL reviewed): singling out, linkability and attribute inference.

Each attack runs on the synthetic table; its success on the training rows is compared with its
success on control rows that were never trained on (the holdout), so the risk counts only what
the synthetic data reveals beyond what anyone learns about the population. A risk near 0 is
good; anonymeter gives a 95% confidence interval with each.

anonymeter 1.1.0 pins numpy<1.27 and pyarrow<22 although its code runs on numpy 2 (it needs
numba >= 0.61 there); ``workshop.sh setup`` installs it without its pins, and
``tests/test_privacy_attacks.py`` checks it on every run.
"""

from __future__ import annotations

import warnings
from typing import Any

import pandas as pd

from .columns import is_numeric


def plain(df: pd.DataFrame) -> pd.DataFrame:
    """anonymeter's numba kernels take float and string columns only: numbers (datetimes as
    nanoseconds) to float64, everything else to strings with nulls as their own value."""
    out = {}
    for c in df.columns:
        s = df[c]
        if pd.api.types.is_datetime64_any_dtype(s):
            out[c] = s.astype("int64").astype("float64").where(s.notna())
        elif is_numeric(s) and not pd.api.types.is_bool_dtype(s):
            out[c] = pd.to_numeric(s, errors="coerce").astype("float64")
        else:
            out[c] = s.astype(object).where(s.notna(), "<null>").astype(str)
    return pd.DataFrame(out, index=df.index)


def _risk(result: Any) -> dict[str, float]:
    risk = result.risk()
    return {"risk": float(risk.value), "ci_low": float(risk.ci[0]), "ci_high": float(risk.ci[1])}


def anonymeter_risks(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    columns: list[str],
    secret: str | None = None,
    n_attacks: int = 500,
) -> dict[str, Any]:
    """Singling-out (univariate predicates), linkability (the columns split in two halves, as two
    sources an attacker would join) and, when ``secret`` names a column, inference of that column
    from all the others. A risk that cannot be computed (too few rows or distinct values) is
    reported with the reason instead of a number."""
    try:
        from anonymeter.evaluators import InferenceEvaluator, LinkabilityEvaluator, SinglingOutEvaluator
    except ImportError as err:
        raise ImportError(
            f"anonymeter is not installed ({err}). Run `bash workshop.sh setup`, or "
            "`pip install --no-deps anonymeter==1.1.0` and `pip install 'numba>=0.61'` in your environment."
        ) from err

    ori, syn, control = (plain(d[columns].reset_index(drop=True)) for d in (train, synthetic, holdout))
    n = max(1, min(n_attacks, len(control), len(ori)))
    half = len(columns) // 2
    runs = {
        "singling_out": lambda: SinglingOutEvaluator(ori=ori, syn=syn, control=control, n_attacks=n).evaluate(
            mode="univariate"
        ),
        "linkability": lambda: LinkabilityEvaluator(
            ori=ori, syn=syn, control=control, n_attacks=n, aux_cols=(columns[:half], columns[half:]), n_neighbors=1
        ).evaluate(n_jobs=1),
    }
    if secret is not None and secret in columns and len(columns) > 1:
        runs["inference"] = lambda: InferenceEvaluator(
            ori=ori, syn=syn, control=control, aux_cols=[c for c in columns if c != secret], secret=secret, n_attacks=n
        ).evaluate(n_jobs=1)
    out: dict[str, Any] = {"n_attacks": n, "secret": secret if "inference" in runs else None}
    for name, run in runs.items():
        try:
            with warnings.catch_warnings():  # anonymeter warns on low attack counts; the CI says it
                warnings.simplefilter("ignore")
                out[name] = _risk(run())
        except (RuntimeError, ValueError) as err:
            out[name] = {"risk": None, "not_computed": str(err)}
    return out
