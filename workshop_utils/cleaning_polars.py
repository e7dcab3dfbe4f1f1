"""The cleaning job on Polars: the same steps, report and quarantine as ``cleaning.run_job``, fast.

Why Polars: on the job's costliest step (ResolveChoice of the default job, 1M rows, CSV text to
typed Parquet) Polars and DuckDB tie, 4.1 s each on 2 cores (``benchmarks/bench_engine_choice.py``).
Polars won on the rest: each Glue step maps onto a few expressions built in Python (DuckDB would
need SQL text generated per step), its ``strptime`` takes the job's Python date formats, and its
lazy engine streams a file. Against pandas, the whole job is 2.9x faster.

The job is built as one lazy query. Steps that change the row count or need a fact about the
data (how many values failed to coerce, which columns are empty, a median) end in a
checkpoint: the query so far is materialised (in memory for a DataFrame, as a Parquet file for
a file), the fact is read off it, and the next steps read the checkpoint. Quarantined rows
keep the values they had when they were quarantined, as in the pandas engine.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl

from .cleaning import (
    DEFAULT_DATE_FORMATS,
    FALSE_WORDS,
    QUARANTINE_REASON,
    SOURCE_ROW,
    TRUE_WORDS,
    TYPES,
    JobError,
    JobResult,
    check_empty_columns,
    check_mappings,
    check_rule,
    check_share,
    finish_report,
    jsonable,
    load_job,
    missing_strategy,
    new_report,
    run_steps,
    standardize_options,
)

# pandas.read_csv's default missing-value strings: a CSV read here has the same nulls as there
NA_STRINGS = sorted(pd._libs.parsers.STR_NA_VALUES - {""})
ISO_TIMESTAMP_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
)
_REASON = "__reason"
BATCH_ROWS = 1_000_000


def _text(col: str) -> pl.Expr:
    """String view of a column, stripped, blanks as null."""
    t = pl.col(col).cast(pl.Utf8).str.strip_chars()
    return pl.when(t == "").then(None).otherwise(t)


def _number(text: pl.Expr, decimal_comma: bool) -> pl.Expr:
    """Strip currency symbols, spaces and thousands separators; '(12)' -> -12; the rest is null."""
    t = text.str.replace_all(r"[\s$€£%]", "").str.replace(r"^\((.*)\)$", "-${1}")
    if decimal_comma:
        t = t.str.replace_all(".", "", literal=True).str.replace_all(",", ".", literal=True)
    else:
        t = t.str.replace_all(",", "", literal=True)
    return t.cast(pl.Float64, strict=False).fill_nan(None)  # pandas counts 'nan' as missing


def coerce_layers(
    col: str, dtype: pl.DataType, type_: str, date_formats: list[str], decimal_comma: bool
) -> tuple[pl.Expr, pl.Expr | None, pl.Expr]:
    """Expressions that coerce ``col`` to a workshop type (values that do not fit: null), in three
    layers evaluated one after the other: the text (``__t_<col>``), the number parsed from it
    (``__n_<col>``, numeric types only) and the typed value. Layering computes each once; one
    nested expression re-evaluated the text per use and was 5x slower."""
    if type_ not in TYPES:
        raise JobError(f"Unknown type {type_!r}; use one of {', '.join(TYPES)}.")
    text, number = pl.col(f"__t_{col}"), pl.col(f"__n_{col}")
    number_expr = None
    if type_ in ("int", "float"):
        number_expr = pl.col(col).cast(pl.Float64) if dtype.is_numeric() else _number(text, decimal_comma)
    if type_ in ("string", "category"):
        typed = text
    elif type_ == "float":
        typed = number
    elif type_ == "int":
        integral = (number == number.round(0)) & (number.abs() < 2**53)
        typed = pl.when(integral).then(number).cast(pl.Int64)
    elif type_ == "bool":
        lower = text.str.to_lowercase()
        typed = (
            pl.col(col)
            if dtype == pl.Boolean
            else pl.when(lower.is_in(TRUE_WORDS)).then(True).when(lower.is_in(FALSE_WORDS)).then(False)
        )
    elif dtype == pl.Date or isinstance(dtype, pl.Datetime):
        typed = pl.col(col).cast(pl.Date if type_ == "date" else pl.Datetime("ns"))
    elif type_ == "date":
        typed = pl.coalesce([text.str.strptime(pl.Date, f, strict=False, exact=True) for f in date_formats])
    else:
        formats = ISO_TIMESTAMP_FORMATS
        typed = pl.coalesce([text.str.strptime(pl.Datetime("ns"), f, strict=False, exact=True) for f in formats])
    return _text(col).alias(f"__t_{col}"), None if number_expr is None else number_expr.alias(f"__n_{col}"), typed


class _PolarsRun:
    """One job run: a lazy query, its declared types, quarantined parts and the report."""

    def __init__(self, lf: pl.LazyFrame, workdir: Path | None) -> None:
        self.lf = lf
        self.workdir = workdir  # None: checkpoints stay in memory
        self.checkpoints = 0
        self.source_rows = 0  # set once counted: the range of the source-row numbers
        self.types: dict[str, str] = {}
        self.quarantine: list[pl.LazyFrame] = []
        self.report: dict[str, Any] = new_report()

    # ------------------------------------------------------------------ plumbing

    @property
    def columns(self) -> list[str]:
        return [c for c in self.lf.collect_schema().names() if c != SOURCE_ROW]

    def schema(self) -> dict[str, pl.DataType]:
        return dict(self.lf.collect_schema())

    def checkpoint(self, lf: pl.LazyFrame) -> pl.LazyFrame:
        """Materialise ``lf`` (to memory, or to Parquet files when streaming) and read it back lazily.

        When streaming, a query over an earlier checkpoint is sunk in slices of ``BATCH_ROWS`` source
        rows, each read through the row-group statistics of that checkpoint: one sink over the whole
        query let Polars' streaming engine grow to ~7 GiB on 10M rows (string expressions such as
        ``replace_strict`` kept their input alive), sliced it stays near one slice's size."""
        if self.workdir is None:
            return lf.collect().lazy()
        self.checkpoints += 1
        folder = self.workdir / f"checkpoint-{self.checkpoints:02d}"
        folder.mkdir()
        # read once, soon: fast compression; statistics let the next slices skip row groups
        options = {"compression": "lz4", "row_group_size": 100_000}
        if self.checkpoints == 1:  # the first reads the input file, which only streams whole
            lf.sink_parquet(folder / "part-00000.parquet", **options)
        else:
            for i, part in enumerate(self.slices(lf)):
                part.write_parquet(folder / f"part-{i:05d}.parquet", **options)
        return pl.scan_parquet(folder / "*.parquet")

    def slices(self, lf: pl.LazyFrame) -> Iterator[pl.DataFrame]:
        """``lf`` collected ``BATCH_ROWS`` source rows at a time (the source-row filter reaches the
        checkpoint's Parquet reader, which skips the row groups outside the slice)."""
        for start in range(0, max(self.source_rows, 1), BATCH_ROWS):
            yield lf.filter(pl.col(SOURCE_ROW).is_between(start, start + BATCH_ROWS, closed="left")).collect()

    @property
    def engine(self) -> str:
        """Polars' streaming engine when streaming (its in-memory one would load whole columns)."""
        return "auto" if self.workdir is None else "streaming"

    def rows(self) -> int:
        return int(self.lf.select(pl.len()).collect(engine=self.engine).item())

    def require(self, columns: list[str], step: str) -> None:
        have = self.columns
        missing = [c for c in columns if c not in have]
        if missing:
            raise JobError(
                f"{step}: column(s) {', '.join(map(repr, missing))} not in the table. "
                f"Available: {', '.join(have)}. Fix the job spec or the input."
            )

    def split_off(self, marked: pl.LazyFrame) -> None:
        """``marked`` has a reason column: rows with one go to quarantine, the others go on."""
        self.quarantine.append(marked.filter(pl.col(_REASON).is_not_null()).rename({_REASON: QUARANTINE_REASON}))
        self.lf = marked.filter(pl.col(_REASON).is_null()).drop(_REASON)

    # ------------------------------------------------------------------ the steps

    def apply_mapping(self, mappings: list[dict[str, str]], keep_unmapped: bool = False) -> None:
        check_mappings(mappings)
        self.require([m["source"] for m in mappings], "ApplyMapping")
        sources = {m["source"] for m in mappings}
        unmapped = [c for c in self.columns if c not in sources]
        selected = [pl.col(m["source"]).alias(m["target"]) for m in mappings]
        self.lf = self.lf.select(pl.col(SOURCE_ROW), *selected, *(unmapped if keep_unmapped else []))
        self.types = {m["target"]: m["type"] for m in mappings}
        self.report["unmapped_columns_dropped"] = [] if keep_unmapped else unmapped

    def resolve_choice(
        self,
        date_formats: list[str] | None = None,
        decimal_comma: list[str] | None = None,
        quarantine_above: float = 0.001,
    ) -> None:
        if not self.types:
            raise JobError("ResolveChoice needs the column types from an ApplyMapping step before it.")
        check_share(quarantine_above)
        self.require(list(decimal_comma or []), "ResolveChoice.decimal_comma")
        schema = self.schema()
        formats = date_formats or DEFAULT_DATE_FORMATS
        layers = {
            col: coerce_layers(col, schema[col], t, formats, col in (decimal_comma or []))
            for col, t in self.types.items()
        }
        checked = [c for c, t in self.types.items() if t != "string"]
        helpers = [f"__t_{c}" for c in layers] + [f"__n_{c}" for c, (_, n, _) in layers.items() if n is not None]
        lf = self.lf.with_columns(t for t, _, _ in layers.values())
        lf = lf.with_columns(n for _, n, _ in layers.values() if n is not None)
        lf = lf.with_columns(typed.alias(c) for c, (_, _, typed) in layers.items())
        # the raw text of each value that failed (null elsewhere) and whether a value was present
        failed = [
            pl.when(pl.col(f"__t_{c}").is_not_null() & pl.col(c).is_null())
            .then(pl.col(f"__t_{c}"))
            .alias(f"__failed_{c}")
            for c in checked
        ]
        present = [pl.col(f"__t_{c}").is_not_null().alias(f"__present_{c}") for c in checked]
        marked = self.checkpoint(lf.with_columns(*failed, *present).drop(helpers))
        counts = marked.select(
            *[pl.col(f"__failed_{c}").is_not_null().sum().alias(f"f_{c}") for c in checked],
            *[pl.col(f"__present_{c}").sum().alias(f"p_{c}") for c in checked],
        ).collect(engine=self.engine)
        reasons = []
        for c in checked:
            failed, present = int(counts[f"f_{c}"][0]), int(counts[f"p_{c}"][0])
            if failed:
                self.report["coercion_failures"][c] = failed
                if failed > quarantine_above * max(present, 1):
                    rule = f"ResolveChoice: {c} is not {self.types[c]}"
                    self.report["quarantined_by_rule"][rule] = failed
                    reasons.append(pl.lit(f"{rule} (got '") + pl.col(f"__failed_{c}") + pl.lit("')"))
        helpers = [f"__failed_{c}" for c in checked] + [f"__present_{c}" for c in checked]
        reason = pl.concat_str(reasons, separator=";", ignore_nulls=True) if reasons else pl.lit(None, pl.Utf8)
        reason = pl.when(reason == "").then(None).otherwise(reason)
        self.split_off(marked.with_columns(reason.alias(_REASON)).drop(helpers))

    def standardize(self, columns: dict[str, dict[str, Any]]) -> None:
        self.require(list(columns), "Standardize")
        exprs = []
        for col, opts in columns.items():
            trim, case, lookup = standardize_options(col, opts)
            exprs.append(standardize_expr(col, trim, case, lookup).alias(col))
        self.lf = self.lf.with_columns(exprs)

    def drop_duplicates(self, keys: list[str] | None = None) -> None:
        if keys:
            self.require(keys, "DropDuplicates")
        before = self.rows()
        # Two 64-bit row hashes with different seeds stand for the row (a false match needs a
        # 128-bit collision). Only they and the row numbers are held in memory (24 bytes a row):
        # is_first_distinct over the whole rows does not stream, and unique() is 2x slower.
        row = pl.struct(keys or self.columns)
        hashes = self.lf.select(SOURCE_ROW, row.hash(seed=0).alias("h0"), row.hash(seed=1).alias("h1"))
        hashes = hashes.collect() if self.workdir is None else pl.concat(self.slices(hashes))
        hashes = hashes.sort(SOURCE_ROW)
        repeats = hashes.filter(~pl.struct("h0", "h1").is_first_distinct())[SOURCE_ROW].to_list()
        self.lf = self.checkpoint(self.lf.filter(~pl.col(SOURCE_ROW).is_in(repeats)))
        self.report["duplicates_removed"] += before - self.rows()

    def validate(self, rules: list[dict[str, Any]]) -> None:
        schema = self.schema()
        flags = []
        for rule in rules:
            check_rule(rule)
            name, col = rule["name"], rule["column"]
            self.require([col], f"Validate rule {name!r}")
            flags.append((name, rule_violation_expr(col, schema[col], rule)))
        marked = self.checkpoint(self.lf.with_columns(*[bad.alias(f"__bad_{i}") for i, (_, bad) in enumerate(flags)]))
        counts = marked.select(*[pl.col(f"__bad_{i}").sum() for i in range(len(flags))]).collect(engine=self.engine)
        for i, (name, _) in enumerate(flags):
            self.report["quarantined_by_rule"][name] = int(counts[f"__bad_{i}"][0])
        parts = [pl.when(pl.col(f"__bad_{i}")).then(pl.lit(name)) for i, (name, _) in enumerate(flags)]
        reason = pl.concat_str(parts, separator=";", ignore_nulls=True) if parts else pl.lit(None, pl.Utf8)
        reason = pl.when(reason == "").then(None).otherwise(reason)
        self.split_off(marked.with_columns(reason.alias(_REASON)).drop([f"__bad_{i}" for i in range(len(flags))]))

    def handle_missing(
        self, columns: dict[str, Any] | None = None, default: str = "keep", empty_columns: str = "keep"
    ) -> None:
        check_empty_columns(empty_columns)
        columns = columns or {}
        self.require(list(columns), "HandleMissing")
        if empty_columns == "drop":
            candidates = [c for c in self.columns if c not in columns]
            stats = self.lf.select(pl.len().alias("__n"), *[pl.col(c).null_count() for c in candidates]).collect(
                engine=self.engine
            )
            empty = [c for c in candidates if stats[c][0] == stats["__n"][0]]
            if empty:
                self.report["empty_columns_dropped"] = empty
                self.lf = self.lf.drop(empty)
                self.types = {c: t for c, t in self.types.items() if c not in empty}
        schema, plan = self.schema(), []
        for col in self.columns:
            strategy, constant = missing_strategy(
                col, columns.get(col, default), self.types.get(col), schema[col].is_numeric()
            )
            if strategy != "keep":
                plan.append((col, strategy, constant))
        if not plan:
            return
        # The pandas engine handles columns in order: a 'drop' removes rows before the next
        # column's nulls are counted or its median taken. ``alive`` replays that in one pass.
        alive, aggs = pl.lit(True), []
        for i, (col, strategy, _) in enumerate(plan):
            aggs.append((pl.col(col).is_null() & alive).sum().alias(f"n{i}"))
            if strategy == "median":
                aggs.append(pl.col(col).filter(alive).median().alias(f"v{i}"))
            if strategy == "drop":
                alive = alive & pl.col(col).is_not_null()
        stats = self.lf.select(aggs).collect(engine=self.engine)
        fills, keep = [], pl.lit(True)
        for i, (col, strategy, constant) in enumerate(plan):
            nulls = int(stats[f"n{i}"][0])
            if not nulls:
                continue
            if strategy == "drop":
                self.report["dropped_for_missing"][col] = nulls
                keep = keep & pl.col(col).is_not_null()
                continue
            if strategy == "constant":
                value = constant
            elif strategy == "median":
                value = stats[f"v{i}"][0]
                value = round(value) if self.types.get(col) == "int" else value
                self.report["data_dependent_fills"][col] = {"strategy": "median", "value": value}
            else:
                value = self._mode(col, keep)
                self.report["data_dependent_fills"][col] = {"strategy": "mode", "value": jsonable(value)}
            if value is not None:
                fills.append(pl.col(col).fill_null(pl.lit(value)))
        # a fill is computed on the rows left after the drops of the columns before it
        self.lf = self.lf.filter(keep).with_columns(fills) if fills else self.lf.filter(keep)

    def _mode(self, col: str, alive: pl.Expr) -> Any:
        counts = self.lf.filter(alive & pl.col(col).is_not_null()).group_by(col).len().collect(engine=self.engine)
        if counts.is_empty():
            return None
        top = counts.filter(pl.col("len") == pl.col("len").max())
        return top[col].sort()[0]  # pandas' mode lists ties sorted and the job takes the first

    def drop_fields(self, columns: list[str]) -> None:
        self.require(columns, "DropFields")
        self.lf = self.lf.drop(columns)
        self.types = {k: v for k, v in self.types.items() if k not in columns}

    def select_fields(self, columns: list[str]) -> None:
        self.require(columns, "SelectFields")
        self.lf = self.lf.select(SOURCE_ROW, *columns)
        self.types = {c: self.types[c] for c in columns if c in self.types}


def standardize_expr(col: str, trim: bool, case: str | None, lookup: dict[str, str]) -> pl.Expr:
    """Trim, collapse spaces, fold case and map variants to one spelling (see ``cleaning.standardize_values``)."""
    fixed = pl.col(col).cast(pl.Utf8)
    if trim:
        fixed = fixed.str.strip_chars().str.replace_all(r"\s+", " ")
    if case:
        fixed = {"lower": fixed.str.to_lowercase, "upper": fixed.str.to_uppercase, "title": fixed.str.to_titlecase}[
            case
        ]()
    if lookup:
        # default=None and a coalesce: with default=<expression> the streaming engine held whole columns
        mapped = fixed.str.to_lowercase().replace_strict(list(lookup), list(lookup.values()), default=None)
        fixed = pl.coalesce(mapped, fixed)
    return fixed


def rule_violation_expr(col: str, dtype: pl.DataType, rule: dict[str, Any]) -> pl.Expr:
    """True where a row breaks the rule. Nulls break only a ``not_null`` rule."""
    check_rule(rule)
    c = pl.col(col)
    bad = c.is_null() if rule.get("not_null") else pl.lit(False)
    if "min" in rule or "max" in rule:
        if dtype in (pl.Date,) or isinstance(dtype, pl.Datetime):

            def bound(v: Any) -> pl.Expr:
                return pl.lit(pd.Timestamp(v).to_pydatetime()).cast(dtype)

        elif dtype.is_numeric():

            def bound(v: Any) -> pl.Expr:
                return pl.lit(v)

        else:
            raise JobError(
                f"Validate rule {rule['name']!r}: min/max need a numeric or date column, {col!r} is {dtype}."
            )
        if "min" in rule:
            bad = bad | (c < bound(rule["min"])).fill_null(False)
        if "max" in rule:
            bad = bad | (c > bound(rule["max"])).fill_null(False)
    if "allowed" in rule:
        allowed = pl.Series(rule["allowed"], strict=False)
        bad = bad | (c.is_not_null() & ~c.is_in(allowed.cast(dtype, strict=False).to_list()).fill_null(False))
    if "regex" in rule:
        matches = c.cast(pl.Utf8).str.contains(f"^(?:{rule['regex']})$").fill_null(False)
        bad = bad | (c.is_not_null() & ~matches)
    return bad


# --------------------------------------------------------------------------- running a job


def _run(lf: pl.LazyFrame, job: dict[str, Any], workdir: Path | None) -> tuple[_PolarsRun, int, dict[str, int]]:
    """Run the job's steps on ``lf`` (which has a source-row column). Returns the run, rows in, raw nulls."""
    names = lf.collect_schema().names()
    if len(names) <= 1:
        raise JobError("The input table is empty (no rows or no columns): check the source file.")
    stats = lf.select(pl.len().alias(SOURCE_ROW), *[pl.col(c).null_count() for c in names[1:]]).collect(
        engine="streaming"
    )
    rows_in = int(stats[SOURCE_ROW][0])
    if rows_in == 0:
        raise JobError("The input table is empty (no rows or no columns): check the source file.")
    run = _PolarsRun(lf, workdir)
    run.source_rows = rows_in
    run_steps(run, job, rows_in, run.rows)
    if not run.types:
        run.types = {c: _type_of(dt) for c, dt in run.schema().items() if c != SOURCE_ROW}
    return run, rows_in, {c: int(stats[c][0]) for c in names[1:]}


def _quarantine(run: _PolarsRun, table_columns: list[str]) -> pl.LazyFrame:
    if not run.quarantine:
        empty = {SOURCE_ROW: pl.Int64, **{c: pl.Utf8 for c in table_columns}, QUARANTINE_REASON: pl.Utf8}
        return pl.LazyFrame(schema=empty)
    q = pl.concat(run.quarantine, how="diagonal_relaxed")
    return q.select(SOURCE_ROW, pl.exclude(SOURCE_ROW, QUARANTINE_REASON), QUARANTINE_REASON)


def run_job(df: pd.DataFrame, job: dict[str, Any] | str | Path | None = None) -> JobResult:
    """Run a cleaning job on ``df`` (never modified) with Polars; same result as ``cleaning.run_job``."""
    job = load_job(job)
    if df.shape[1] == 0 or len(df) == 0:
        raise JobError("The input table is empty (no rows or no columns): check the source file.")
    frame = pl.from_pandas(
        df.astype({c: "string" for c in df.columns if df[c].dtype == object}).rename(columns=str)
    ).with_row_index(SOURCE_ROW)
    run, rows_in, raw_nulls = _run(frame.lazy(), job, None)
    table = run.lf.collect()
    quarantine = _quarantine(run, list(run.types)).collect()
    table_nulls = {c: table[c].null_count() for c in table.columns if c != SOURCE_ROW}
    report = finish_report(run.report, job, rows_in, quarantine.height, raw_nulls, table_nulls)
    return JobResult(
        table=to_pandas(table.drop(SOURCE_ROW), run.types),
        quarantine=to_pandas(quarantine, run.types | {SOURCE_ROW: "int", QUARANTINE_REASON: "string"}),
        types=dict(run.types),
        report=report,
    )


def run_job_on_file(
    source: str | Path,
    job: dict[str, Any] | str | Path | None,
    table_path: str | Path,
    quarantine_path: str | Path,
    in_memory_below: int = 512 * 2**20,
) -> dict[str, Any]:
    """Run the job on a CSV or Parquet file into two Parquet files; returns the report.

    A file larger than ``in_memory_below`` bytes streams: every pass reads batches and the
    checkpoints go to a temporary folder beside ``table_path``, so memory stays flat as rows
    grow. A smaller one is read once and its checkpoints stay in memory (writing them costs
    more than the job itself at a million rows). A CSV is read as text with pandas'
    missing-value strings, as ``pd.read_csv(dtype=str)`` would.
    """
    job = load_job(job)
    source = Path(source)
    if not source.exists():
        raise JobError(f"Input file {source} not found.")
    if source.suffix == ".parquet":
        lf = pl.scan_parquet(source)
    else:
        lf = pl.scan_csv(source, infer_schema=False, null_values=NA_STRINGS)
    table_path, quarantine_path = Path(table_path), Path(quarantine_path)
    table_path.parent.mkdir(parents=True, exist_ok=True)
    streaming = source.stat().st_size > in_memory_below
    with tempfile.TemporaryDirectory(dir=table_path.parent, prefix=".checkpoints-") as tmp:
        if not streaming:
            lf = lf.collect().lazy()
        run, rows_in, raw_nulls = _run(lf.with_row_index(SOURCE_ROW), job, Path(tmp) if streaming else None)
        run.lf.drop(SOURCE_ROW).sink_parquet(table_path)
        _quarantine(run, list(run.types)).sink_parquet(quarantine_path)
        nulls = pl.scan_parquet(table_path).select(pl.all().null_count()).collect(engine="streaming").row(0, named=True)
        rows_quarantined = int(pl.scan_parquet(quarantine_path).select(pl.len()).collect(engine="streaming").item())
        report = finish_report(
            run.report, job, rows_in, rows_quarantined, raw_nulls, {c: int(v) for c, v in nulls.items()}
        )
    return report | {"engine": "polars", "streaming": streaming}


PANDAS_DTYPES = {
    "string": "string[pyarrow]",
    "int": "Int64",
    "float": "float64",
    "bool": "boolean",
    "date": "datetime64[ns]",
    "timestamp": "datetime64[ns]",
}


def to_pandas(frame: pl.DataFrame, types: dict[str, str]) -> pd.DataFrame:
    """The notebook boundary: a Polars result as the pandas engine gives it."""
    return with_workshop_dtypes(frame.to_pandas(), types)


def with_workshop_dtypes(frame: pd.DataFrame, types: dict[str, str]) -> pd.DataFrame:
    """Workshop types as the pandas engine's dtypes (categories sorted), for any engine's output."""
    for col in frame.columns:
        type_ = types.get(col)
        if type_ == "category":
            frame[col] = frame[col].astype("string").astype("category")
        elif type_ in PANDAS_DTYPES:
            frame[col] = frame[col].astype(PANDAS_DTYPES[type_])
    return frame.reset_index(drop=True)


def _type_of(dtype: pl.DataType) -> str:
    if dtype == pl.Boolean:
        return "bool"
    if dtype.is_integer():
        return "int"
    if dtype.is_float():
        return "float"
    if dtype == pl.Date or isinstance(dtype, pl.Datetime):
        return "timestamp"
    if isinstance(dtype, pl.Categorical):
        return "category"
    return "string"
