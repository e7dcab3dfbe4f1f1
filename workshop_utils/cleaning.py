"""A Glue-style cleaning job: an ordered, serializable list of steps run on a DataFrame.

Step names mirror AWS Glue transforms: ApplyMapping, ResolveChoice, Standardize,
DropDuplicates, Validate, HandleMissing, DropFields, SelectFields. A job is a plain dict
(or YAML) such as::

    {"name": "bank_customers", "steps": [
        {"ApplyMapping": {"mappings": [{"source": "EMAIL", "target": "email", "type": "string"}]}},
        {"ResolveChoice": {"date_formats": ["%Y-%m-%d", "%m/%d/%Y"]}},
        {"Validate": {"rules": [{"name": "age_plausible", "column": "age", "min": 18, "max": 120}]}},
    ]}

Every step is vectorized (no Python loop over rows). Values that cannot be coerced
become null and are counted, never guessed; rows that break a rule go to quarantine
with the rule's name. Fill values computed from the data (median, mode) are recorded in
the report, because they are statistics of the real data.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

TYPES = ("string", "int", "float", "bool", "date", "timestamp", "category")
STEPS = (
    "ApplyMapping",
    "ResolveChoice",
    "Standardize",
    "DropDuplicates",
    "Validate",
    "HandleMissing",
    "DropFields",
    "SelectFields",
)
DEFAULT_DATE_FORMATS = [
    "%Y-%m-%d",
    "%m/%d/%Y",
    "%d %b %Y",
    "%Y/%m/%d",
    "%b %d, %Y",
    "%d %B %Y",
    "%B %d, %Y",
    "%d.%m.%Y",
]
MONTH_FIRST, DAY_FIRST = "%m/%d/%Y", "%d/%m/%Y"  # 12/31/2020 (US) or 31/12/2020 (most of the world)
TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0")
MISSING_STRATEGIES = ("keep", "drop", "median", "mode", "constant")
DEFAULT_JOB_PATH = Path(__file__).with_name("default_job.yaml")
QUARANTINE_REASON = "quarantine_reason"
SOURCE_ROW = "source_row"


class JobError(ValueError):
    """The job spec or its input is wrong; the message says what and how to fix it."""


@dataclass
class JobResult:
    table: pd.DataFrame
    quarantine: pd.DataFrame
    types: dict[str, str]
    report: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- helpers


def snake_case(name: str) -> str:
    """'Employment Length (years)' -> 'employment_length_years'; 'LoanAmount' -> 'loan_amount'."""
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", str(name).strip())
    s = re.sub(r"[^0-9A-Za-z]+", "_", s).strip("_").lower()
    return s if s and not s[0].isdigit() else f"col_{s}"


def _as_text(s: pd.Series) -> pd.Series:
    """String view of a column with blanks as null (works for object, str and numeric input)."""
    # Arrow-backed strings: strip/replace run in C++ and a million values stay compact.
    text = s.astype("string[pyarrow]").str.strip()
    return text.mask(text == "")


def _numeric_text(text: pd.Series, decimal_comma: bool) -> pd.Series:
    """Strip currency symbols, spaces and thousands separators; '(12)' -> '-12'."""
    t = text.str.replace(r"[\s$€£%]", "", regex=True)
    t = t.str.replace(r"^\((.*)\)$", r"-\1", regex=True)
    if decimal_comma:
        t = t.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    else:
        t = t.str.replace(",", "", regex=False)
    return t


def _to_number(s: pd.Series, decimal_comma: bool = False) -> pd.Series:
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return s.astype("float64")
    return pd.to_numeric(_numeric_text(_as_text(s), decimal_comma), errors="coerce").astype("float64")


def _to_bool(s: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(s):
        return s.astype("boolean")
    text = _as_text(s).str.lower()
    out = pd.Series(pd.NA, index=s.index, dtype="boolean")
    out[text.isin(TRUE_WORDS)] = True
    out[text.isin(FALSE_WORDS)] = False
    return out


def _to_date(s: pd.Series, formats: list[str]) -> pd.Series:
    """Try each format in order on the values still unparsed (vectorized per format)."""
    if pd.api.types.is_datetime64_any_dtype(s):
        return s.dt.tz_localize(None).dt.normalize() if s.dt.tz is not None else s.dt.normalize()
    text = _as_text(s)
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    todo = text.notna()
    for fmt in formats:
        if not todo.any():
            break
        parsed = pd.to_datetime(text[todo], format=fmt, errors="coerce")
        out.loc[parsed.index[parsed.notna()]] = parsed[parsed.notna()]
        todo &= out.isna()
    return out


def _to_timestamp(s: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(s):
        return s
    text = _as_text(s)
    out = pd.to_datetime(text, format="ISO8601", errors="coerce")
    rest = out.isna() & text.notna()
    if rest.any():
        out[rest] = pd.to_datetime(text[rest], format="mixed", errors="coerce")
    return out.astype("datetime64[ns]")


def coerce(s: pd.Series, type_: str, date_formats: list[str] | None = None, decimal_comma: bool = False) -> pd.Series:
    """Coerce a column to a workshop type; values that do not fit become null.

    Works on the column's distinct values and maps the results back, so a million rows
    with a few thousand distinct incomes or dates cost a few thousand parses.
    """
    if type_ not in TYPES:
        raise JobError(f"Unknown type {type_!r}; use one of {', '.join(TYPES)}.")
    # Only pure text is factorized: in mixed object columns factorize would merge True with 1.
    text_only = pd.api.types.infer_dtype(s, skipna=True) in ("string", "empty")
    codes, uniques = pd.factorize(s, use_na_sentinel=True) if text_only and type_ != "string" else (None, s)
    if codes is None or len(uniques) > 0.5 * len(s):
        out = _coerce_values(s, type_, date_formats, decimal_comma)
    else:
        values = _coerce_values(pd.Series(uniques), type_, date_formats, decimal_comma)
        out = pd.Series(values.array.take(codes, allow_fill=True), index=s.index)
    return out.astype("category") if type_ == "category" else out


def _coerce_values(s: pd.Series, type_: str, date_formats: list[str] | None, decimal_comma: bool) -> pd.Series:
    if type_ in ("string", "category"):
        return _as_text(s)
    if type_ == "float":
        return _to_number(s, decimal_comma)
    if type_ == "int":
        number = _to_number(s, decimal_comma)
        integral = number.notna() & (number == np.round(number)) & (number.abs() < 2**53)
        return number.where(integral).round().astype("Int64")
    if type_ == "bool":
        return _to_bool(s)
    if type_ == "date":
        return _to_date(s, date_formats or DEFAULT_DATE_FORMATS)
    return _to_timestamp(s)


def _require(df: pd.DataFrame, columns: list[str], step: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise JobError(
            f"{step}: column(s) {', '.join(map(repr, missing))} not in the table. "
            f"Available: {', '.join(map(str, df.columns))}. Fix the job spec or the input."
        )


# --------------------------------------------------------------------------- checks every engine shares


def new_report() -> dict[str, Any]:
    """The report's counters before the first step (every engine fills the same ones)."""
    return {
        "steps": [],
        "coercion_failures": {},
        "quarantined_by_rule": {},
        "duplicates_removed": 0,
        "dropped_for_missing": {},
        "data_dependent_fills": {},
    }


def check_mappings(mappings: list[dict[str, str]] | None) -> None:
    if not mappings:
        raise JobError("ApplyMapping needs a non-empty 'mappings' list of {source, target, type}.")
    for m in mappings:
        if not {"source", "target", "type"} <= set(m):
            raise JobError(f"ApplyMapping entry {m} needs 'source', 'target' and 'type'.")
        if m["type"] not in TYPES:
            raise JobError(f"ApplyMapping: type {m['type']!r} of {m['source']!r} is not one of {', '.join(TYPES)}.")
    targets = [m["target"] for m in mappings]
    if len(set(targets)) != len(targets):
        raise JobError(f"ApplyMapping: target names repeat: {sorted({t for t in targets if targets.count(t) > 1})}.")


def check_share(quarantine_above: float) -> None:
    if not 0 <= quarantine_above <= 1:
        raise JobError(f"ResolveChoice: quarantine_above must be a share from 0 to 1, got {quarantine_above!r}.")


def missing_strategy(col: str, spec: Any, type_: str | None, numeric: bool = False) -> tuple[str, Any]:
    """(strategy, constant) of one HandleMissing entry, checked; ``type_``: the column's declared type."""
    spec = {"strategy": spec} if isinstance(spec, str) else dict(spec)
    strategy = spec.get("strategy", "keep")
    if strategy not in MISSING_STRATEGIES:
        raise JobError(
            f"HandleMissing: strategy {strategy!r} for {col!r} is not one of {', '.join(MISSING_STRATEGIES)}."
        )
    if strategy == "constant" and "value" not in spec:
        raise JobError(f"HandleMissing: 'constant' for {col!r} needs a 'value'.")
    if strategy == "median" and type_ not in ("int", "float") and not numeric:
        raise JobError(f"HandleMissing: 'median' needs a numeric column; {col!r} is {type_}.")
    return strategy, spec.get("value")


def check_empty_columns(empty_columns: str) -> None:
    if empty_columns not in ("keep", "drop"):
        raise JobError(f"HandleMissing: empty_columns must be 'keep' or 'drop', got {empty_columns!r}.")


def check_rule(rule: dict[str, Any]) -> None:
    known = {"name", "column", "min", "max", "allowed", "regex", "not_null"}
    unknown = set(rule) - known
    if unknown:
        raise JobError(f"Validate rule {rule.get('name')!r}: unknown key(s) {sorted(unknown)}; use {sorted(known)}.")
    if not rule.get("name") or not rule.get("column"):
        raise JobError(f"Validate rule {rule} needs a 'name' and a 'column'.")


def standardize_options(col: str, opts: dict[str, Any] | None) -> tuple[bool, str | None, dict[str, str]]:
    """(trim, case, lookup) of one Standardize entry: ``lookup`` maps case-folded variants to spellings."""
    opts = {k: v for k, v in (opts or {}).items() if k != "public"}
    unknown = set(opts) - {"trim", "case", "canonical", "values"}
    if unknown:
        raise JobError(f"Standardize {col!r}: unknown option(s) {sorted(unknown)}.")
    if opts.get("case") not in (None, "lower", "upper", "title"):
        raise JobError(f"Standardize: case must be lower, upper, title or null, got {opts['case']!r}.")
    lookup = {str(v).casefold(): str(v) for v in opts.get("canonical") or []}
    lookup |= {str(k).strip().casefold(): str(v) for k, v in (opts.get("values") or {}).items()}
    return bool(opts.get("trim", True)), opts.get("case"), lookup


# --------------------------------------------------------------------------- the steps


class _Run:
    """Mutable state of one job run: the table, its declared types, quarantine and report."""

    def __init__(self, df: pd.DataFrame) -> None:
        self.df = df
        self.types: dict[str, str] = {}
        self.quarantine: list[pd.DataFrame] = []
        self.report: dict[str, Any] = new_report()

    def apply_mapping(self, mappings: list[dict[str, str]], keep_unmapped: bool = False) -> None:
        check_mappings(mappings)
        _require(self.df, [m["source"] for m in mappings], "ApplyMapping")
        targets = [m["target"] for m in mappings]
        unmapped = [c for c in self.df.columns if c not in {m["source"] for m in mappings}]
        out = self.df[[m["source"] for m in mappings]]
        out.columns = targets
        if keep_unmapped:
            out = pd.concat([out, self.df[unmapped]], axis=1)
        self.df = out
        self.types = {m["target"]: m["type"] for m in mappings}
        self.report["unmapped_columns_dropped"] = [] if keep_unmapped else unmapped

    def resolve_choice(
        self,
        date_formats: list[str] | None = None,
        decimal_comma: list[str] | None = None,
        quarantine_above: float = 0.001,
    ) -> None:
        """Coerce every column to its declared type. Values that do not fit become null, counted in the
        report; where they are more than ``quarantine_above`` of a column's values (text in a numeric
        column, say), their rows go to quarantine with the reason instead of silently losing a value."""
        if not self.types:
            raise JobError("ResolveChoice needs the column types from an ApplyMapping step before it.")
        check_share(quarantine_above)
        _require(self.df, list(decimal_comma or []), "ResolveChoice.decimal_comma")
        bad_rows = pd.Series(False, index=self.df.index)
        reasons = pd.Series("", index=self.df.index, dtype=object)
        for col, type_ in self.types.items():
            before = self.df[col]
            was_present = _as_text(before).notna() if type_ != "string" else None
            after = coerce(before, type_, date_formats, col in (decimal_comma or []))
            if was_present is not None:
                failed = was_present & after.isna()
                if failed.any():
                    self.report["coercion_failures"][col] = int(failed.sum())
                    if failed.sum() > quarantine_above * max(int(was_present.sum()), 1):
                        rule = f"ResolveChoice: {col} is not {type_}"
                        self.report["quarantined_by_rule"][rule] = int(failed.sum())
                        text = _as_text(before).where(failed, "")
                        reasons = reasons.where(
                            ~failed, reasons + np.where(reasons == "", "", ";") + rule + " (got '" + text + "')"
                        )
                        bad_rows |= failed
            self.df[col] = after
        if bad_rows.any():
            q = self.df[bad_rows].copy()
            q[QUARANTINE_REASON] = reasons[bad_rows]
            self.quarantine.append(q)
            self.df = self.df[~bad_rows]

    def standardize(self, columns: dict[str, dict[str, Any]]) -> None:
        _require(self.df, list(columns), "Standardize")
        for col, opts in columns.items():
            # "public" says whether the synthesizer may take the canonical list for free (not a cleaning option)
            self.df[col] = standardize_values(self.df[col], **{k: v for k, v in (opts or {}).items() if k != "public"})

    def drop_duplicates(self, keys: list[str] | None = None) -> None:
        if keys:
            _require(self.df, keys, "DropDuplicates")
        dup = self.df.duplicated(subset=keys or None, keep="first")
        self.report["duplicates_removed"] += int(dup.sum())
        self.df = self.df[~dup]

    def validate(self, rules: list[dict[str, Any]]) -> None:
        failed_any = pd.Series(False, index=self.df.index)
        reasons = pd.Series("", index=self.df.index, dtype=object)
        for rule in rules:
            check_rule(rule)
            name, col = rule["name"], rule["column"]
            _require(self.df, [col], f"Validate rule {name!r}")
            bad = rule_violations(self.df[col], rule)
            self.report["quarantined_by_rule"][name] = int(bad.sum())
            reasons = reasons.where(~bad, reasons + np.where(reasons == "", "", ";") + name)
            failed_any |= bad
        if failed_any.any():
            q = self.df[failed_any].copy()
            q[QUARANTINE_REASON] = reasons[failed_any]
            self.quarantine.append(q)
        self.df = self.df[~failed_any]

    def handle_missing(
        self, columns: dict[str, Any] | None = None, default: str = "keep", empty_columns: str = "keep"
    ) -> None:
        """Per column: keep nulls, drop their rows, or fill. ``empty_columns: drop`` removes columns
        that have no value at all (named in the report): nothing could be learned from them."""
        check_empty_columns(empty_columns)
        columns = columns or {}
        _require(self.df, list(columns), "HandleMissing")
        if empty_columns == "drop":
            empty = [c for c in self.df.columns if c not in columns and self.df[c].isna().all()]
            if empty:
                self.report["empty_columns_dropped"] = empty
                self.df = self.df.drop(columns=empty)
                self.types = {c: t for c, t in self.types.items() if c not in empty}
        for col in self.df.columns:
            numeric = pd.api.types.is_numeric_dtype(self.df[col])
            strategy, constant = missing_strategy(col, columns.get(col, default), self.types.get(col), numeric)
            nulls = self.df[col].isna()
            if strategy == "keep" or not nulls.any():
                continue
            if strategy == "drop":
                self.report["dropped_for_missing"][col] = int(nulls.sum())
                self.df = self.df[~nulls]
                continue
            if strategy == "constant":
                value = constant
            elif strategy == "median":
                value = self.df[col].median()
                value = round(value) if self.types.get(col) == "int" else value
                self.report["data_dependent_fills"][col] = {"strategy": "median", "value": jsonable(value)}
            else:
                modes = self.df[col].mode(dropna=True)
                value = modes.iloc[0] if len(modes) else None
                self.report["data_dependent_fills"][col] = {"strategy": "mode", "value": jsonable(value)}
            if value is not None:
                if isinstance(self.df[col].dtype, pd.CategoricalDtype) and value not in self.df[col].cat.categories:
                    self.df[col] = self.df[col].cat.add_categories([value])
                self.df[col] = self.df[col].fillna(value)

    def drop_fields(self, columns: list[str]) -> None:
        _require(self.df, columns, "DropFields")
        self.df = self.df.drop(columns=columns)
        self.types = {k: v for k, v in self.types.items() if k not in columns}

    def select_fields(self, columns: list[str]) -> None:
        _require(self.df, columns, "SelectFields")
        self.df = self.df[columns]
        self.types = {c: self.types[c] for c in columns if c in self.types}


def standardize_values(
    s: pd.Series,
    trim: bool = True,
    case: str | None = None,
    canonical: list[str] | None = None,
    values: dict[str, str] | None = None,
) -> pd.Series:
    """Trim, collapse spaces, fold case and map variants to one spelling.

    ``canonical``: values matching one of these case-insensitively become that spelling.
    ``values``: explicit variant -> spelling map (matched case-insensitively too).
    Works on the distinct values only, so it costs the same for 1,000 or 1,000,000 rows.
    """
    if case not in (None, "lower", "upper", "title"):
        raise JobError(f"Standardize: case must be lower, upper, title or null, got {case!r}.")
    is_category = isinstance(s.dtype, pd.CategoricalDtype)
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    fixed = pd.Series(uniques, dtype="string")
    if trim:
        fixed = fixed.str.strip().str.replace(r"\s+", " ", regex=True)
    if case:
        fixed = getattr(fixed.str, case)()
    lookup = {str(v).casefold(): v for v in canonical or []}
    lookup |= {str(k).strip().casefold(): v for k, v in (values or {}).items()}
    if lookup:
        folded = fixed.str.casefold()
        fixed = folded.map(lookup).fillna(fixed)
    out_values = fixed.to_numpy(dtype=object)
    out = pd.Series(
        np.where(codes >= 0, out_values[np.maximum(codes, 0)] if len(out_values) else None, None), index=s.index
    )
    out = out.astype("string")
    return out.astype("category") if is_category else out


def rule_violations(s: pd.Series, rule: dict[str, Any]) -> pd.Series:
    """Rows breaking a rule. Nulls break only a ``not_null`` rule."""
    check_rule(rule)
    present = s.notna()
    bad = pd.Series(False, index=s.index)
    if rule.get("not_null"):
        bad |= ~present
    if "min" in rule or "max" in rule:
        values = s
        if pd.api.types.is_datetime64_any_dtype(s):
            lo = pd.Timestamp(rule["min"]) if "min" in rule else None
            hi = pd.Timestamp(rule["max"]) if "max" in rule else None
        elif pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            lo, hi = rule.get("min"), rule.get("max")
        else:
            raise JobError(
                f"Validate rule {rule['name']!r}: min/max need a numeric or date column, {s.name!r} is {s.dtype}."
            )
        if lo is not None:
            bad |= present & (values < lo).fillna(False).astype(bool)
        if hi is not None:
            bad |= present & (values > hi).fillna(False).astype(bool)
    if "allowed" in rule:
        bad |= present & ~s.isin(rule["allowed"])
    if "regex" in rule:
        matches = s.astype("string").str.fullmatch(rule["regex"]).fillna(False).astype(bool)
        bad |= present & ~matches
    return bad.astype(bool)


def jsonable(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if hasattr(value, "isoformat"):  # pandas Timestamps, and Polars' Python dates
        return pd.Timestamp(value).isoformat()
    return value


# --------------------------------------------------------------------------- running a job


def load_job(source: str | Path | dict[str, Any] | None = None) -> dict[str, Any]:
    """A job spec from a dict, a YAML/JSON file path or YAML text; ``None`` = the default job."""
    if source is None:
        source = DEFAULT_JOB_PATH
    if isinstance(source, dict):
        job = copy.deepcopy(source)
    elif isinstance(source, Path) or (
        isinstance(source, str) and "\n" not in source and source.endswith((".yaml", ".yml", ".json"))
    ):
        path = Path(source)
        if not path.exists():
            raise JobError(f"Job file {path} not found.")
        job = yaml.safe_load(path.read_text())
    else:
        job = yaml.safe_load(source)
    validate_job(job)
    return job


def validate_job(job: Any) -> None:
    if not isinstance(job, dict) or not isinstance(job.get("steps"), list) or not job["steps"]:
        raise JobError(
            "A job is a mapping with a non-empty 'steps' list, e.g. {'name': 'x', 'steps': [{'ApplyMapping': {...}}]}."
        )
    for i, step in enumerate(job["steps"]):
        if not isinstance(step, dict) or len(step) != 1:
            raise JobError(f"Step {i + 1} must be a mapping with exactly one step name, got {step!r}.")
        (name,) = step
        if name not in STEPS:
            raise JobError(f"Step {i + 1}: unknown step {name!r}; use one of {', '.join(STEPS)}.")


ENGINES = ("pandas", "polars", "spark")
STEP_METHODS = {
    "ApplyMapping": "apply_mapping",
    "ResolveChoice": "resolve_choice",
    "Standardize": "standardize",
    "DropDuplicates": "drop_duplicates",
    "Validate": "validate",
    "HandleMissing": "handle_missing",
    "DropFields": "drop_fields",
    "SelectFields": "select_fields",
}
ROW_CHANGING_STEPS = ("ResolveChoice", "DropDuplicates", "Validate", "HandleMissing")


def run_steps(run: Any, job: dict[str, Any], rows_in: int, count_rows: Callable[[], int]) -> None:
    """Call the engine's method for each step in order (``STEP_METHODS``), recording rows in and out
    and seconds in ``run.report``. Rows are counted only after the steps that can change them:
    for a streamed file a count is a pass over the data."""
    rows = rows_in
    for step in job["steps"]:
        ((name, opts),) = step.items()
        start = time.perf_counter()
        try:
            getattr(run, STEP_METHODS[name])(**(opts or {}))
        except TypeError as exc:
            raise JobError(f"{name}: bad options {opts!r} ({exc}).") from None
        rows_out = count_rows() if name in ROW_CHANGING_STEPS else rows
        seconds = round(time.perf_counter() - start, 3)
        run.report["steps"].append({"step": name, "rows_in": rows, "rows_out": rows_out, "seconds": seconds})
        rows = rows_out


def source_columns(job: dict[str, Any]) -> dict[str, str]:
    """Output column -> the raw column it was mapped from (ApplyMapping)."""
    return {
        m["target"]: m["source"] for s in job["steps"] if "ApplyMapping" in s for m in s["ApplyMapping"]["mappings"]
    }


def finish_report(
    report: dict[str, Any],
    job: dict[str, Any],
    rows_in: int,
    rows_quarantined: int,
    raw_nulls: dict[str, int],
    table_nulls: dict[str, int],
) -> dict[str, Any]:
    """The report's totals after the last step (``table_nulls``: null count per output column)."""
    source_of = source_columns(job)
    report.update(
        {
            "job": job.get("name", "job"),
            "rows_in": rows_in,
            "rows_out": report["steps"][-1]["rows_out"] if report["steps"] else rows_in,
            "rows_quarantined": rows_quarantined,
            "rows_dropped_for_missing": sum(report["dropped_for_missing"].values()),
            "nulls_before": {
                c: raw_nulls[source_of.get(c, c)] for c in table_nulls if source_of.get(c, c) in raw_nulls
            },
            "nulls_after": table_nulls,
        }
    )
    return report


def run_job(df: pd.DataFrame, job: dict[str, Any] | None = None, engine: str = "pandas") -> JobResult:
    """Run a cleaning job on ``df`` (never modified). Returns the clean table, quarantine and report.

    ``engine``: "pandas" (the reference, here), "polars" (the same result, several times faster;
    ``cleaning_polars``) or "spark" (the job compiled to a PySpark script, run on a local Spark
    session; ``cleaning_spark``). Tests hold the three to the same rows, types and counts.
    """
    if engine not in ENGINES:
        raise JobError(f"Unknown cleaning engine {engine!r}; use one of {', '.join(ENGINES)}.")
    if engine == "polars":
        from . import cleaning_polars

        return cleaning_polars.run_job(df, job)
    if engine == "spark":
        from . import cleaning_spark

        return cleaning_spark.run_job(df, job)
    job = load_job(job)
    if df.shape[1] == 0 or len(df) == 0:
        raise JobError("The input table is empty (no rows or no columns): check the source file.")
    run = _Run(df.copy())
    run.df.index = pd.RangeIndex(len(df), name=SOURCE_ROW)  # lineage for quarantined rows
    nulls_before = df.isna().sum()
    run_steps(run, job, len(df), lambda: len(run.df))
    if not run.types:
        run.types = {c: _infer_dtype_name(run.df[c]) for c in run.df.columns}
    quarantine = (
        pd.concat(run.quarantine)
        if run.quarantine
        else run.df.iloc[:0].assign(**{QUARANTINE_REASON: pd.Series(dtype=object)})
    )
    finish_report(
        run.report,
        job,
        rows_in=len(df),
        rows_quarantined=len(quarantine),
        raw_nulls={str(c): int(v) for c, v in nulls_before.items()},
        table_nulls={c: int(v) for c, v in run.df.isna().sum().items()},
    )
    table = run.df.reset_index(drop=True)
    quarantine = quarantine.reset_index()
    return JobResult(table=table, quarantine=quarantine, types=dict(run.types), report=run.report)


def _infer_dtype_name(s: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(s):
        return "bool"
    if pd.api.types.is_integer_dtype(s):
        return "int"
    if pd.api.types.is_float_dtype(s):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(s):
        return "timestamp"
    if isinstance(s.dtype, pd.CategoricalDtype):
        return "category"
    return "string"


def report_frame(report: dict[str, Any]) -> pd.DataFrame:
    """Per-column nulls before/after and coercion failures, for display."""
    cols = list(report["nulls_after"])
    return pd.DataFrame(
        {
            "column": cols,
            "nulls_before": [report["nulls_before"].get(c) for c in cols],
            "coercion_failures": [report["coercion_failures"].get(c, 0) for c in cols],
            "nulls_after": [report["nulls_after"][c] for c in cols],
        }
    )


def plot_report(report: dict[str, Any]) -> Any:
    """Row accounting (where the rows went) and nulls before/after per column."""
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(
        1, 2, figsize=(13, max(4, 0.22 * len(report["nulls_after"]))), gridspec_kw={"width_ratios": [1, 2]}
    )
    parts = {
        "clean output": report["rows_out"],
        "duplicates removed": report["duplicates_removed"],
        "dropped (missing)": report["rows_dropped_for_missing"],
    }
    parts |= {f"quarantined: {k}": v for k, v in report["quarantined_by_rule"].items() if v}
    ax1.barh(list(parts), list(parts.values()), color=["#27ae60"] + ["#c0392b"] * (len(parts) - 1))
    ax1.set_xscale("symlog")
    ax1.set_title(f"Where the {report['rows_in']:,} input rows went")
    for i, v in enumerate(parts.values()):
        ax1.text(v, i, f" {v:,}", va="center")
    frame = report_frame(report)
    y = np.arange(len(frame))
    ax2.barh(y - 0.2, frame["nulls_before"].fillna(0), height=0.4, label="before", color="#95a5a6")
    ax2.barh(y + 0.2, frame["nulls_after"], height=0.4, label="after", color="#2980b9")
    ax2.set_yticks(y, frame["column"])
    ax2.set_title("Null values per column")
    ax2.legend()
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- inferring a job


def infer_type(
    s: pd.Series, threshold: float = 0.95, max_categories: int = 50, date_formats: list[str] | None = None
) -> str:
    """Propose a workshop type: the narrowest that at least ``threshold`` of non-null values fit
    (dates in ``date_formats``, by default ``DEFAULT_DATE_FORMATS``)."""
    text = _as_text(s)
    present = text.dropna()
    if present.empty:
        return "string"
    sample = present.sample(min(len(present), 20_000), random_state=0) if len(present) > 20_000 else present
    n = len(sample)
    lowered = sample.str.lower()
    if lowered.isin(TRUE_WORDS + FALSE_WORDS).mean() >= threshold and sample.nunique() <= 4:
        return "bool"
    number = pd.to_numeric(_numeric_text(sample, False), errors="coerce")
    if number.notna().sum() >= threshold * n:
        # Leading zeros (ZIP codes, account numbers) mean an identifier, not a number.
        if sample.str.match(r"^0\d").mean() > 0.001:
            return "string"
        ok = number.dropna()
        return "int" if np.allclose(ok, np.round(ok)) else "float"
    if sample.str.contains(r"\d", regex=True).mean() >= threshold:
        if _to_date(sample, date_formats or DEFAULT_DATE_FORMATS).notna().sum() >= threshold * n:
            return "date"
        if pd.to_datetime(sample, format="ISO8601", errors="coerce").notna().sum() >= threshold * n:
            return "timestamp"
    distinct = lowered.str.strip().nunique()
    if distinct <= max_categories and distinct <= max(2, 0.05 * n):
        return "category"
    return "string"


def date_formats_for(df: pd.DataFrame, threshold: float = 0.95) -> list[str]:
    """``DEFAULT_DATE_FORMATS`` (month first: 12/31/2020), or with day-first slashes in its place when
    some column's slash dates read only day first (31/12/2020) and none only month first. Why: a
    hospital's 31/12/1980 birth dates read month first fail from the 13th on, so the column was typed
    text and every birth date became 'other'. A job has one list, so a table mixing both keeps the
    default and its day-first column stays text."""
    day_first = month_first = False
    for col in df.columns:
        text = _as_text(df[col]).dropna()
        text = text.sample(min(len(text), 20_000), random_state=0)
        if text.empty or text.str.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}").mean() < threshold:
            continue
        reads = {
            f: pd.to_datetime(text, format=f, errors="coerce").notna().mean() >= threshold
            for f in (MONTH_FIRST, DAY_FIRST)
        }
        day_first |= reads[DAY_FIRST] and not reads[MONTH_FIRST]
        month_first |= reads[MONTH_FIRST] and not reads[DAY_FIRST]
    if day_first and not month_first:
        return [DAY_FIRST if f == MONTH_FIRST else f for f in DEFAULT_DATE_FORMATS]
    return list(DEFAULT_DATE_FORMATS)


def infer_job(df: pd.DataFrame, name: str = "inferred_job", drop_duplicates: bool = False) -> dict[str, Any]:
    """Propose an editable job for any table: snake_case names, inferred types, keep nulls.

    Duplicates are kept unless ``drop_duplicates``: in a table without a key, identical
    rows can be distinct people (bank-marketing has such rows), so dropping them is the
    user's call, not a default.
    """
    if df.shape[1] == 0 or len(df) == 0:
        raise JobError("Cannot infer a job from an empty table.")
    mappings, targets = [], set()
    date_formats = date_formats_for(df)
    for col in df.columns:
        target = snake_case(col)
        base, i = target, 2
        while target in targets:
            target, i = f"{base}_{i}", i + 1
        targets.add(target)
        mappings.append({"source": str(col), "target": target, "type": infer_type(df[col], date_formats=date_formats)})
    standardize = {}
    for m in mappings:
        if m["type"] == "category":
            text = _as_text(df[m["source"]]).str.strip().str.replace(r"\s+", " ", regex=True)
            counts = text.value_counts()
            # The most frequent spelling of each case-insensitive group becomes the canonical one.
            canonical = counts.groupby(counts.index.str.casefold()).idxmax().sort_values().tolist()
            # Read off the values: good for cleaning, but not public. The synthesizer may use it for
            # free only after the data owner reviews it and sets public: true (or pays for it).
            standardize[m["target"]] = {"trim": True, "canonical": canonical, "public": False}
    steps: list[dict[str, Any]] = [
        {"ApplyMapping": {"mappings": mappings}},
        {"ResolveChoice": {"date_formats": date_formats}},
    ]
    if standardize:
        steps.append({"Standardize": {"columns": standardize}})
    if drop_duplicates:
        steps.append({"DropDuplicates": {}})
    steps.append({"HandleMissing": {"default": "keep", "empty_columns": "drop"}})
    # The types and formats were read off the values: not public until a person reviews the job
    # and sets reviewed: true (a DP fit refuses an unreviewed inferred job).
    return {"name": name, "reviewed": False, "steps": steps}


def job_to_yaml(job: dict[str, Any]) -> str:
    return yaml.safe_dump(job, sort_keys=False, allow_unicode=True, width=120)
