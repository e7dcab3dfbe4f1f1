"""One settings object for the whole workshop.

Values come, in increasing priority, from defaults, ``WORKSHOP_*`` environment
variables and explicit keyword arguments (a notebook's papermill ``parameters``
cell). Every value is validated once, here, with an error naming the parameter.
"""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
ENV_PREFIX = "WORKSHOP_"
STORAGE_MODES = ("local", "aws")
_RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_PREFIX_RE = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")
# S3 bucket naming rules (simplified: lowercase, digits, dots, hyphens, 3-63 chars).
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class ConfigError(ValueError):
    """A workshop parameter has a bad value. The message names it and says how to fix it."""


def new_run_id() -> str:
    """A sortable, unique run id: UTC timestamp plus a short random suffix."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class Settings:
    storage_mode: str = "local"
    bucket: str = "workshop-data"
    prefix: str = "workshop"
    endpoint_url: str | None = None
    region: str = "us-east-1"
    run_id: str = field(default_factory=new_run_id)
    seed: int = 42
    sample_rows: int | None = None  # rows of the raw table to use; None = all
    synthetic_rows: int = 10_000
    dataset: str | None = None  # path to a dataset spec (YAML); None = the bank sample (datasets/bank_customers.yaml)

    @classmethod
    def load(cls, **params: Any) -> Settings:
        """Build settings from defaults, ``WORKSHOP_*`` env vars, then ``params``.

        ``None`` in ``params`` means "not given" so a notebook's parameters cell can
        list every setting with ``None`` and still pick up the environment.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(params) - names)
        if unknown:
            raise ConfigError(
                f"Unknown parameter(s) {', '.join(unknown)}; valid parameters are: {', '.join(sorted(names))}."
            )
        raw: dict[str, Any] = {}
        for name in names:
            env_value = os.environ.get(ENV_PREFIX + name.upper())
            if env_value not in (None, ""):
                raw[name] = env_value
        raw.update({k: v for k, v in params.items() if v is not None})
        coerced, problems = {}, []
        for k, v in raw.items():
            try:
                coerced[k] = _coerce(k, v)
            except ConfigError as exc:
                problems.append(str(exc))
        try:
            settings = cls(**coerced)
        except ConfigError as exc:  # the range checks of the values that did coerce
            problems.append(str(exc))
        if problems:
            raise ConfigError(" ".join(problems))
        return settings

    @classmethod
    def from_notebook(cls, namespace: dict[str, Any]) -> Settings:
        """Settings from a notebook's parameters cell: picks the variables named like fields."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls.load(**{k: v for k, v in namespace.items() if k in names})

    def __post_init__(self) -> None:
        problems = []
        if self.storage_mode not in STORAGE_MODES:
            problems.append(f"storage_mode must be one of {STORAGE_MODES}, got {self.storage_mode!r}.")
        if not _BUCKET_RE.match(self.bucket or ""):
            problems.append(
                f"bucket {self.bucket!r} is not a valid S3 bucket name "
                "(3-63 characters: lowercase letters, digits, dots, hyphens)."
            )
        if not _PREFIX_RE.match(self.prefix or ""):
            problems.append(
                f"prefix {self.prefix!r} is not valid: use letters, digits, '.', '_', '-' "
                "separated by single '/', with no leading or trailing '/'."
            )
        if not _RUN_ID_RE.match(self.run_id or ""):
            problems.append(f"run_id {self.run_id!r} is not valid: up to 100 letters, digits, '.', '_', '-'.")
        if self.endpoint_url is not None and not re.match(r"^https?://", self.endpoint_url):
            problems.append(f"endpoint_url {self.endpoint_url!r} must start with http:// or https://.")
        if self.seed < 0:
            problems.append(f"seed must be a non-negative integer, got {self.seed}.")
        if self.sample_rows is not None and self.sample_rows < 1:
            problems.append(f"sample_rows must be a positive integer or None, got {self.sample_rows}.")
        if self.synthetic_rows < 1:
            problems.append(f"synthetic_rows must be a positive integer, got {self.synthetic_rows}.")
        if self.dataset is not None and not Path(self.dataset).expanduser().is_file():
            problems.append(
                f"dataset {self.dataset!r} is not a file: give the path of a dataset spec (YAML), "
                "e.g. datasets/penguins.yaml, or write one with `workshop init-dataset your.csv --target y`."
            )
        if problems:  # every bad value at once, one message each
            raise ConfigError(" ".join(problems))

    def key(self, stage: str, *parts: str) -> str:
        """A run-scoped object key: ``{prefix}/{stage}/{run_id}/{parts...}``."""
        return "/".join([self.prefix, stage, self.run_id, *parts])

    def raw_key(self, filename: str) -> str:
        """The landing key of a raw object (write-once, not run-scoped)."""
        return f"{self.prefix}/raw/{filename}"

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _coerce(name: str, value: Any) -> Any:
    """Turn a string from the environment or a parameter into the field's type."""
    target = {f.name: f.type for f in dataclasses.fields(Settings)}[name]
    if isinstance(value, str):
        value = value.strip()
    if "int" in str(target):
        if isinstance(value, str) and value.lower() in ("", "none", "null") and "None" in str(target):
            return None
        if isinstance(value, bool):
            raise ConfigError(f"{name} must be an integer, got {value!r}.")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{name} must be an integer, got {value!r}.") from None
        if not number.is_integer():
            raise ConfigError(f"{name} must be an integer, got {value!r}.")
        return int(number)
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be a string, got {type(value).__name__} {value!r}.")
    if name == "storage_mode":
        return value.lower()
    if name == "prefix":
        return value.strip("/")
    if name == "dataset":
        return str(Path(value).expanduser().resolve()) if value.lower() not in ("", "none", "null") else None
    return value
