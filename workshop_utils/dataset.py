"""A dataset spec: one small YAML that makes any table walk the whole workshop.

It names the source (a local CSV or an S3 URI), the target and task, column roles, what is
declared public (the data dictionary and the cleaning job), and, optionally, the PII policy
additions and the columns to plot. The table names every stage reads and writes derive from
``name`` here, in one place (:class:`Tables`). ``workshop init-dataset my.csv --target y``
writes a starting spec and an inferred cleaning job for the user to review.

Paths in a spec are relative to the spec file.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from . import hierarchies
from .cleaning import infer_job, job_to_yaml, snake_case
from .config import REPO_ROOT, ConfigError

DEFAULT_SPEC = REPO_ROOT / "datasets" / "bank_customers.yaml"
TASKS = ("classification", "regression")
ROLES = ("categorical", "numerical", "datetime", "boolean", "id", "excluded")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_RULE_RE = re.compile(r"^\s*(\S+)\s*<=\s*(\S+)\s*$")
_HIERARCHY_RE = re.compile(r"^\s*(\S+)\s*>\s*(\S+)\s*$")
_FIELDS = (
    "name",
    "description",
    "source",
    "target",
    "task",
    "also_predict",
    "roles",
    "inequalities",
    "hierarchies",
    "cleaning_job",
    "dictionary",
    "pii_policy",
    "plot_columns",
)


class DatasetError(ConfigError):
    """A dataset spec is missing, malformed or inconsistent; the message says how to fix it."""


@dataclass(frozen=True)
class Tables:
    """Every catalog table name of one dataset, from raw to released."""

    raw: str
    processed: str
    quarantine: str
    deidentified: str
    train: str
    holdout: str
    synthetic: str
    released: str
    sdv_baseline: str

    @classmethod
    def of(cls, name: str) -> Tables:
        return cls(
            raw=f"{name}_raw",
            processed=name,
            quarantine=f"{name}_quarantine",
            deidentified=f"{name}_deidentified",
            train=f"{name}_train",
            holdout=f"{name}_holdout",
            synthetic=f"{name}_synthetic",
            released=f"{name}_released",
            sdv_baseline=f"{name}_sdv_baseline",
        )


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    source: str
    target: str
    task: str
    description: str = ""
    also_predict: dict[str, str] = field(default_factory=dict)  # more downstream targets: column -> task
    roles: dict[str, str] = field(default_factory=dict)  # clean column name -> role
    inequalities: list[str] = field(default_factory=list)  # declared rules "low <= high", e.g. "pickup <= dropoff"
    hierarchies: list[str] = field(default_factory=list)  # declared "parent > child", e.g. "state > city"
    cleaning_job: str | None = None  # None: inferred from the raw table at run time, written out for review
    dictionary: str | None = None  # data dictionary JSON: which columns identify people
    pii_policy: dict[str, Any] = field(default_factory=dict)  # merged over deid.DEFAULT_POLICY
    plot_columns: list[str] = field(default_factory=list)
    path: Path | None = None  # where the spec was read from

    def __post_init__(self) -> None:
        where = f"dataset spec {self.path or self.name!r}"
        if not isinstance(self.name, str) or not _NAME_RE.match(self.name):
            raise DatasetError(f"{where}: name {self.name!r} must be lowercase letters, digits and '_' (a table name).")
        if not self.source:
            raise DatasetError(f"{where}: 'source' is required (a CSV path or s3://bucket/key).")
        if not self.target:
            raise DatasetError(f"{where}: 'target' is required (the column a model should predict, clean name).")
        for col, task in {self.target: self.task, **self.also_predict}.items():
            if task not in TASKS:
                raise DatasetError(f"{where}: task for {col!r} must be one of {TASKS}, got {task!r}.")
        bad = {c: r for c, r in self.roles.items() if r not in ROLES}
        if bad:
            raise DatasetError(f"{where}: unknown role(s) {bad}; roles are {', '.join(ROLES)}.")
        if self.target in self.roles:
            raise DatasetError(f"{where}: the target {self.target!r} must not also be given a role.")
        bad_rules = [r for r in self.inequalities if not isinstance(r, str) or not _RULE_RE.match(r)]
        if not isinstance(self.inequalities, list) or bad_rules:
            raise DatasetError(
                f"{where}: inequalities must be a list of 'low <= high' rules (e.g. 'pickup <= dropoff'), "
                f"got {bad_rules or self.inequalities!r}."
            )

        bad_trees = [h for h in self.hierarchies if not isinstance(h, str) or not _HIERARCHY_RE.match(h)]
        if not isinstance(self.hierarchies, list) or bad_trees:
            raise DatasetError(
                f"{where}: hierarchies must be a list of 'parent > child' pairs (e.g. 'pickup_borough > pickup_zone'), "
                f"got {bad_trees or self.hierarchies!r}."
            )

    @property
    def hierarchy_pairs(self) -> list[tuple[str, str]]:
        """(parent, child) of each declared hierarchy."""
        return [tuple(_HIERARCHY_RE.match(h).groups()) for h in self.hierarchies]

    @property
    def inequality_pairs(self) -> list[tuple[str, str]]:
        """(low, high) of each declared rule."""
        return [tuple(_RULE_RE.match(r).groups()) for r in self.inequalities]

    @property
    def tables(self) -> Tables:
        return Tables.of(self.name)

    @property
    def raw_filename(self) -> str:
        return f"{self.name}.csv"

    @property
    def raw_object(self) -> str:
        """Where the raw CSV lands under ``{prefix}/raw/``: alone in its folder, as Athena needs."""
        return f"{self.name}/{self.raw_filename}"

    @property
    def targets(self) -> dict[str, str]:
        """Every downstream target (notebook 07): the main one first."""
        return {self.target: self.task, **self.also_predict}

    def resolve(self, relative: str | None) -> Path | None:
        """A path of the spec, relative to the spec file."""
        if relative is None:
            return None
        p = Path(relative).expanduser()
        return p if p.is_absolute() or self.path is None else (self.path.parent / p).resolve()

    @property
    def source_is_s3(self) -> bool:
        return self.source.startswith("s3://")

    def source_path(self) -> Path:
        path = self.resolve(self.source)
        if not path.is_file():
            raise DatasetError(f"The source {self.source!r} of dataset {self.name!r} is not a file ({path}).")
        return path

    def load_dictionary(self) -> list[dict[str, Any]]:
        path = self.resolve(self.dictionary)
        if path is None:
            return []
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise DatasetError(f"Cannot read the data dictionary {path}: {exc}") from None

    def to_yaml(self) -> str:
        data = {k: v for k, v in asdict(self).items() if k in _FIELDS and v not in (None, {}, [], "")}
        return yaml.safe_dump({k: data[k] for k in _FIELDS if k in data}, sort_keys=False, allow_unicode=True)


def load_spec(path: str | Path | None = None) -> DatasetSpec:
    """The spec at ``path`` (``None``: the workshop's bank sample)."""
    path = Path(path).expanduser().resolve() if path else DEFAULT_SPEC
    if not path.is_file():
        raise DatasetError(
            f"Dataset spec {path} does not exist. Write one with `workshop init-dataset your.csv --target y`."
        )
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise DatasetError(f"Dataset spec {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise DatasetError(f"Dataset spec {path} must be a mapping of {', '.join(_FIELDS)}.")
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise DatasetError(f"Dataset spec {path}: unknown field(s) {unknown}; fields are {', '.join(_FIELDS)}.")
    missing = [k for k in ("name", "source", "target", "task") if k not in data]
    if missing:
        raise DatasetError(f"Dataset spec {path}: missing field(s) {missing}.")
    return DatasetSpec(**data, path=path)


def init_dataset(
    csv: str | Path,
    target: str,
    task: str | None = None,
    name: str | None = None,
    out: str | Path | None = None,
) -> tuple[Path, Path]:
    """Write a starting spec and an inferred cleaning job beside it; returns (spec, job) paths.

    Reads the CSV on this machine to infer the job (types, category spellings): the job's
    category lists are marked ``public: false`` until the owner reviews them."""
    csv = Path(csv).expanduser().resolve()
    if not csv.is_file():
        raise DatasetError(f"{csv} is not a file.")
    try:
        df = pd.read_csv(csv, dtype=str, keep_default_na=False, na_values=[""])
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DatasetError(f"Cannot read {csv} as CSV: {exc}") from None
    duplicates = sorted(
        {c.split(".")[0] for c in df.columns if re.search(r"\.\d+$", c) and c.split(".")[0] in df.columns}
    )
    if duplicates:
        raise DatasetError(f"{csv} has duplicate column headers {duplicates}; rename them so each is unique.")
    if target not in df.columns and target not in {snake_case(c) for c in df.columns}:
        raise DatasetError(f"Target {target!r} is not a column of {csv.name}; columns are {list(df.columns)}.")
    job = infer_job(df, name=f"{name or snake_case(csv.stem)}_clean")
    clean_target = snake_case(target)
    types = {m["target"]: m["type"] for m in job["steps"][0]["ApplyMapping"]["mappings"]}
    if task is None:
        task = "regression" if types.get(clean_target) in ("int", "float") else "classification"
    job["steps"].append({"HandleMissing": {"columns": {clean_target: "drop"}}})
    out = Path(out) if out else csv.with_suffix(".dataset.yaml")
    job_path = out.with_name(out.name.replace(".dataset.yaml", "").replace(".yaml", "") + ".job.yaml")
    spec = DatasetSpec(
        name=name or re.sub(r"[^a-z0-9_]", "_", snake_case(csv.stem)).strip("_") or "table",
        source=str(Path(_relative(csv, out.parent))),
        target=clean_target,
        task=task,
        description=f"Starting spec for {csv.name}, written by `workshop init-dataset`: review it.",
        cleaning_job=job_path.name,
        path=out,
    )
    job_path.write_text(
        "# Inferred from the values by `workshop init-dataset`: review it, then set `reviewed: true`\n"
        "# (a DP fit refuses an unreviewed inferred job). Category lists marked `public: false` are not\n"
        "# declared public until you check them and set `public: true`.\n" + job_to_yaml(job)
    )
    times = [c for c, t in types.items() if t in ("date", "timestamp")]
    hint = (
        "# Rules every row keeps by design (never read from the rows), e.g. an end never before its start:\n"
        f'# inequalities: ["{times[0]} <= {times[1]}"]\n'
        if len(times) >= 2
        else ""
    )
    source_of = {m["target"]: m["source"] for m in job["steps"][0]["ApplyMapping"]["mappings"]}
    categorical = [c for c, t in types.items() if t in ("category", "string") and c != clean_target]
    nested = hierarchies.suggest(df.rename(columns={v: k for k, v in source_of.items()}), categorical)
    if nested:
        pairs = ", ".join(f'"{parent} > {child}"' for parent, child in nested)
        hint += (
            "# Read from the rows on this machine: each value of the child sits under one value of its parent\n"
            "# in 99% of them. Declare those that hold by design (a zone within its borough); no synthetic row\n"
            f"# then puts a child under another parent:\n# hierarchies: [{pairs}]\n"
        )
    out.write_text(spec.to_yaml() + hint)
    return out.resolve(), job_path.resolve()


def _relative(path: Path, start: Path) -> str:
    try:
        return os.path.relpath(path, start.resolve())
    except ValueError:  # another drive on Windows
        return str(path)
