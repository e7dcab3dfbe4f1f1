"""Every notebook parameter's type and range, checked before anything runs.

``workshop run -p epsilon=abc`` used to run notebooks 00-03 and write their outputs before
notebook 04 failed. The runner now checks every given parameter here first and stops with one
message per bad value, before a notebook starts or an object is written.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .config import ConfigError


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _positive_int(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return "must be a positive integer"
    return None


def _positive(value: Any) -> str | None:
    return None if _number(value) and value > 0 else "must be a positive number"


def _optional_positive(value: Any) -> str | None:
    return None if value is None else _positive(value)


def _share(value: Any) -> str | None:
    return None if _number(value) and 0 < value < 1 else "must be a number strictly between 0 and 1"


def _unit(value: Any) -> str | None:
    return None if _number(value) and 0 <= value <= 1 else "must be a number from 0 to 1"


def _bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def _optional_delta(value: Any) -> str | None:
    return None if value is None or (_number(value) and 0 < value < 1) else "must be None or a number in (0, 1)"


def _epsilons(value: Any) -> str | None:
    if not isinstance(value, list) or not value or any(v is not None and _positive(v) for v in value):
        return "must be a non-empty list of positive numbers (None for a non-private point)"
    return None


def _optional_file(value: Any) -> str | None:
    if value is None:
        return None
    return (
        None
        if isinstance(value, str) and Path(value).expanduser().is_file()
        else "must be the path of an existing file"
    )


def _optional_names(value: Any) -> str | None:
    if value is None or (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        return None
    return "must be None or a list of column names"


def _engine(value: Any) -> str | None:
    return None if value in ("pandas", "polars", "spark") else "must be one of pandas, polars, spark"


def _optional_role(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and value.startswith("arn:aws") and ":role/" in value):
        return None
    return "must be an IAM role ARN (arn:aws:iam::<account>:role/<name>) or None"


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) and value else "must be a non-empty text"


def _attack_strength(value: Any) -> str | None:
    return None if value in ("off", "quick", "full") else "must be one of off, quick, full"


def _optional_shadow_models(value: Any) -> str | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 4 and value % 2 == 0):
        return None
    return "must be None or an even integer of at least 4"


def _batch_size(value: Any) -> str | None:
    return None if value == "auto" or _positive_int(value) is None else 'must be a positive integer or "auto"'


def _optional_positive_int(value: Any) -> str | None:
    return None if value is None else _positive_int(value)


RULES: dict[str, Callable[[Any], str | None]] = {
    "epsilon": _optional_positive,
    "delta": _optional_delta,
    "epochs": _positive_int,
    "batch_size": _batch_size,
    "sdv_epochs": _positive_int,
    "frontier_epochs": _positive_int,
    "scan_sample_rows": _positive_int,
    "max_grad_norm": _positive,
    "holdout_share": _share,
    "budget_cap": _positive,
    "min_fidelity": _unit,
    "min_pair_fidelity": _unit,
    "min_utility": _unit,
    "min_protection": _unit,
    "max_exact_copy_rate": _unit,
    "max_claimed_epsilon": _optional_positive,
    "internal_only": _bool,
    "sdv_baseline": _bool,
    "run_frontier": _bool,
    "macie_job": _bool,
    "frontier_epsilons": _epsilons,
    "job_file": _optional_file,
    "quasi_identifiers": _optional_names,
    "model_name": _text,
    "cleaning_engine": _engine,
    "run_on_spark": _bool,
    "glue_role_arn": _optional_role,
    "attack_strength": _attack_strength,
    "shadow_models": _optional_shadow_models,
    "shadow_epochs": _optional_positive_int,
}


def check(params: dict[str, Any]) -> None:
    """Raise one ConfigError listing every bad value (parameters without a rule pass as they are)."""
    problems = []
    for name, value in params.items():
        rule = RULES.get(name)
        problem = rule(value) if rule else None
        if problem:
            problems.append(f"{name} {problem}, got {value!r}")
    if problems:
        raise ConfigError("Bad parameter(s), nothing was run: " + "; ".join(problems) + ".")
