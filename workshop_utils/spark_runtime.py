"""Helpers that a generated Spark cleaning script carries with it (``cleaning_spark.compile_job``).

This module is inlined, as source, into every generated script, so it imports nothing but
PySpark and the standard library: the same script runs on a local Spark session and as an AWS
Glue 5 job (Spark 3.5) without shipping the workshop's package. Only API that Spark 3.5 and
4 share is used. The semantics are those of ``cleaning.run_job``; ``tests/test_cleaning_spark.py``
checks that the two give the same rows, types, quarantine reasons and counts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

SOURCE_ROW = "source_row"
QUARANTINE_REASON = "quarantine_reason"
TRUE_WORDS = ["true", "t", "yes", "y", "1"]
FALSE_WORDS = ["false", "f", "no", "n", "0"]
# pandas.read_csv's missing-value strings, so a CSV read here has the same nulls as there
NA_STRINGS = [
    "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>",
    "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
]  # fmt: skip
SPARK_SETTINGS = {
    # invalid input becomes null (as in the pandas engine) instead of failing the job
    "spark.sql.ansi.enabled": "false",
    # the java.time parser, without Spark 3's "was parsed differently before" exception
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
    "spark.sql.session.timeZone": "UTC",
}
_PY_TO_JAVA = {
    "%Y": "yyyy", "%y": "yy", "%m": "M", "%d": "d", "%b": "MMM", "%B": "MMMM",
    "%H": "H", "%M": "m", "%S": "s", "%f": "SSSSSS", "%%": "%",
}  # fmt: skip


def java_date_pattern(python_format: str) -> str:
    """'%d %b %Y' -> "d MMM yyyy"; literal text is quoted. One-letter M/d/H accept 1 or 2 digits,
    as pandas' and Polars' parsers do."""
    out, i = [], 0
    while i < len(python_format):
        piece = python_format[i : i + 2]
        if piece in _PY_TO_JAVA:
            out.append(_PY_TO_JAVA[piece])
            i += 2
        elif python_format[i] == "%":
            raise ValueError(f"Date format {python_format!r}: {piece} has no Spark equivalent.")
        else:
            j = i
            while j < len(python_format) and python_format[j] != "%":
                j += 1
            literal = python_format[i:j]
            out.append(literal if literal.strip(" -/.,:") == "" else "'" + literal.replace("'", "''") + "'")
            i = j
    return "".join(out)


# ------------------------------------------------------------------------ column expressions


def col(name: str) -> Column:
    """A column by its exact name (dots and spaces are not paths)."""
    return F.col("`" + name.replace("`", "``") + "`")


def text(c: Column) -> Column:
    """String view, stripped of Unicode whitespace, blanks as null."""
    t = F.regexp_replace(c.cast("string"), r"(?U)^\s+|\s+$", "")
    return F.when(t != "", t)


def number(t: Column, decimal_comma: bool = False) -> Column:
    """Strip currency symbols, spaces and thousands separators; '(12)' -> -12; the rest is null."""
    t = F.regexp_replace(F.regexp_replace(t, r"(?U)[\s$€£%]", ""), r"^\((.*)\)$", "-$1")
    if decimal_comma:
        t = F.regexp_replace(F.regexp_replace(t, r"\.", ""), ",", ".")
    else:
        t = F.regexp_replace(t, ",", "")
    # Java's parser takes '5d' and hex; pandas' does not: keep what a decimal literal looks like
    plain = t.rlike(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$") | F.lower(t).isin("inf", "+inf", "-inf")
    value = F.when(plain, t.cast("double"))
    return F.when(~F.isnan(value), value)


def to_int(n: Column) -> Column:
    return F.when((n == F.round(n, 0)) & (F.abs(n) < 2**53), n).cast("long")


def to_bool(t: Column) -> Column:
    lower = F.lower(t)
    return F.when(lower.isin(TRUE_WORDS), F.lit(True)).when(lower.isin(FALSE_WORDS), F.lit(False))


def to_date(t: Column, java_patterns: list[str]) -> Column:
    """The first pattern that parses the whole value wins."""
    return F.coalesce(*[F.to_date(t, p) for p in java_patterns])


def to_timestamp(t: Column) -> Column:
    """ISO 8601 date-times (with 'T' or a space), as the other engines take them."""
    return F.to_timestamp(t)


def standardize(c: Column, trim: bool, case: str | None, lookup: dict[str, str]) -> Column:
    fixed = c.cast("string")
    if trim:
        fixed = F.regexp_replace(F.regexp_replace(fixed, r"(?U)^\s+|\s+$", ""), r"(?U)\s+", " ")
    if case == "lower":
        fixed = F.lower(fixed)
    elif case == "upper":
        fixed = F.upper(fixed)
    elif case == "title":
        fixed = F.initcap(fixed)
    if lookup:
        mapping = F.create_map(*[F.lit(x) for kv in lookup.items() for x in kv])
        fixed = F.coalesce(mapping[F.lower(fixed)], fixed)
    return fixed


def regex_full_match(c: Column, pattern: str) -> Column:
    return F.coalesce(c.cast("string").rlike(f"^(?:{pattern})$"), F.lit(False))


# ------------------------------------------------------------------------ one job run


class Run:
    """The table, the quarantined parts and the report of one job run."""

    def __init__(self, spark: SparkSession, df: DataFrame) -> None:
        self.spark = spark
        self.rows_in, self.raw_nulls = _rows_and_nulls(df)
        # a multi-line CSV is read as one partition: spread the rows over the cores once numbered
        parallelism = spark.sparkContext.defaultParallelism * 2
        self.df = _with_row_index(df).repartitionByRange(parallelism, SOURCE_ROW).localCheckpoint()
        self.quarantine: list[DataFrame] = []
        self.types: dict[str, str] = {}
        self.report: dict[str, Any] = {
            "steps": [],
            "coercion_failures": {},
            "quarantined_by_rule": {},
            "duplicates_removed": 0,
            "dropped_for_missing": {},
            "data_dependent_fills": {},
        }
        self.rows = self.rows_in

    def step(self, name: str, rows_out: int | None = None) -> None:
        rows_out = self.rows if rows_out is None else rows_out
        self.report["steps"].append({"step": name, "rows_in": self.rows, "rows_out": rows_out})
        self.rows = rows_out

    def split_off(self, marked: DataFrame) -> None:
        """``marked`` (computed from a checkpoint) has a reason column: rows with one go to quarantine,
        the others go on."""
        self.quarantine.append(marked.filter(F.col(QUARANTINE_REASON).isNotNull()))
        self.df = marked.filter(F.col(QUARANTINE_REASON).isNull()).drop(QUARANTINE_REASON)

    def apply_mapping(self, mappings: list[tuple[str, str, str]], keep_unmapped: bool) -> None:
        sources = {s for s, _, _ in mappings}
        unmapped = [c for c in self.df.columns if c not in sources and c != SOURCE_ROW]
        cols = [F.col(SOURCE_ROW)] + [col(s).alias(t) for s, t, _ in mappings]
        self.df = self.df.select(*cols, *([col(c) for c in unmapped] if keep_unmapped else []))
        self.types = {t: type_ for _, t, type_ in mappings}
        self.report["unmapped_columns_dropped"] = [] if keep_unmapped else unmapped
        self.step("ApplyMapping")

    def resolve_choice(self, typed: dict[str, Column], quarantine_above: float) -> None:
        """``typed``: column -> its typed value computed from ``text(column)``."""
        checked = [c for c in typed if self.types[c] != "string"]
        df = self.df
        for c in typed:
            df = df.withColumn(f"__t_{c}", text(col(c)))
        df = df.select(
            *[F.col(SOURCE_ROW)],
            *[typed[c].alias(c) for c in typed],
            *[col(c) for c in self.df.columns if c not in typed and c != SOURCE_ROW],
            *[F.when(F.col(f"__t_{c}").isNotNull() & typed[c].isNull(), F.col(f"__t_{c}")).alias(f"__failed_{c}") for c in checked],
            *[F.col(f"__t_{c}").isNotNull().cast("long").alias(f"__present_{c}") for c in checked],
        )  # fmt: skip
        df = df.localCheckpoint()
        sums = [F.count(f"__failed_{c}").alias(f"f_{c}") for c in checked]
        sums += [F.sum(f"__present_{c}").alias(f"p_{c}") for c in checked]
        counts = df.agg(*sums).collect()[0].asDict() if checked else {}
        reasons = []
        for c in checked:
            failed, present = int(counts[f"f_{c}"]), int(counts[f"p_{c}"] or 0)
            if failed:
                self.report["coercion_failures"][c] = failed
                if failed > quarantine_above * max(present, 1):
                    rule = f"ResolveChoice: {c} is not {self.types[c]}"
                    self.report["quarantined_by_rule"][rule] = failed
                    reasons.append(F.concat(F.lit(f"{rule} (got '"), F.col(f"__failed_{c}"), F.lit("')")))
        helpers = [f"__failed_{c}" for c in checked] + [f"__present_{c}" for c in checked]
        reason = F.concat_ws(";", *reasons) if reasons else F.lit("")
        self.split_off(df.withColumn(QUARANTINE_REASON, F.when(reason != "", reason)).drop(*helpers))
        self.step("ResolveChoice", self.df.count())

    def standardize(self, columns: dict[str, Column]) -> None:
        for c, expr in columns.items():
            self.df = self.df.withColumn(c, expr)
        self.step("Standardize")

    def drop_duplicates(self, keys: list[str]) -> None:
        keys = keys or [c for c in self.df.columns if c != SOURCE_ROW]
        # keep the first occurrence in source order, as pandas' duplicated(keep="first") does
        first = F.row_number().over(Window.partitionBy(*[col(k) for k in keys]).orderBy(SOURCE_ROW))
        self.df = self.df.withColumn("__n", first).filter(F.col("__n") == 1).drop("__n").localCheckpoint()
        rows_out = self.df.count()
        self.report["duplicates_removed"] += self.rows - rows_out
        self.step("DropDuplicates", rows_out)

    def validate(self, rules: list[tuple[str, Column]]) -> None:
        df = self.df.select("*", *[bad.alias(f"__bad_{i}") for i, (_, bad) in enumerate(rules)]).localCheckpoint()
        counts = df.agg(*[F.sum(F.col(f"__bad_{i}").cast("long")).alias(f"b{i}") for i in range(len(rules))])
        counts = counts.collect()[0].asDict()
        for i, (name, _) in enumerate(rules):
            self.report["quarantined_by_rule"][name] = int(counts[f"b{i}"] or 0)
        reason = F.concat_ws(";", *[F.when(F.col(f"__bad_{i}"), F.lit(name)) for i, (name, _) in enumerate(rules)])
        marked = df.withColumn(QUARANTINE_REASON, F.when(reason != "", reason))
        self.split_off(marked.drop(*[f"__bad_{i}" for i in range(len(rules))]))
        self.step("Validate", self.df.count())

    def handle_missing(self, columns: dict[str, tuple[str, Any]], default: str, empty_columns: str) -> None:
        """``columns``: column -> (strategy, constant); the others get ``default``."""
        if empty_columns == "drop":
            candidates = [c for c in self.df.columns if c != SOURCE_ROW and c not in columns]
            nulls = _null_counts(self.df.select(*candidates)) if candidates else {}
            empty = [c for c in candidates if nulls[c] == self.rows]
            if empty:
                self.report["empty_columns_dropped"] = empty
                self.df = self.df.drop(*empty)
                self.types = {c: t for c, t in self.types.items() if c not in empty}
        plan = [(c, *columns.get(c, (default, None))) for c in self.df.columns if c != SOURCE_ROW]
        plan = [p for p in plan if p[1] != "keep"]
        # columns in order: a 'drop' removes rows before the next column's nulls are counted
        alive, aggs = F.lit(True), []
        for i, (c, strategy, _) in enumerate(plan):
            aggs.append(F.sum((col(c).isNull() & alive).cast("long")).alias(f"n{i}"))
            if strategy == "median":
                aggs.append(F.percentile(F.when(alive, col(c)), F.lit(0.5)).alias(f"v{i}"))
            if strategy == "drop":
                alive = alive & col(c).isNotNull()
        stats = self.df.agg(*aggs).collect()[0].asDict() if aggs else {}
        keep, fills = F.lit(True), {}
        for i, (c, strategy, constant) in enumerate(plan):
            nulls = int(stats[f"n{i}"] or 0)
            if not nulls:
                continue
            if strategy == "drop":
                self.report["dropped_for_missing"][c] = nulls
                keep = keep & col(c).isNotNull()
                continue
            if strategy == "constant":
                value = constant
            elif strategy == "median":
                value = stats[f"v{i}"]
                value = round(value) if self.types.get(c) == "int" else value
                self.report["data_dependent_fills"][c] = {"strategy": "median", "value": value}
            else:
                top = self.df.filter(keep & col(c).isNotNull()).groupBy(c).count()
                row = top.orderBy(F.desc("count"), F.asc(c)).first()
                value = None if row is None else row[c]
                self.report["data_dependent_fills"][c] = {"strategy": "mode", "value": _jsonable(value)}
            if value is not None:
                fills[c] = F.coalesce(col(c), F.lit(value))
        df = self.df.filter(keep)
        for c, expr in fills.items():
            df = df.withColumn(c, expr)
        self.df = df.localCheckpoint()
        self.step("HandleMissing", self.df.count())

    def drop_fields(self, columns: list[str]) -> None:
        self.df = self.df.drop(*columns)
        self.types = {k: v for k, v in self.types.items() if k not in columns}
        self.step("DropFields")

    def select_fields(self, columns: list[str]) -> None:
        self.df = self.df.select(SOURCE_ROW, *columns)
        self.types = {c: self.types[c] for c in columns if c in self.types}
        self.step("SelectFields")

    def finish(self, job_name: str, source_of: dict[str, str]) -> tuple[DataFrame, DataFrame, dict[str, Any]]:
        table = self.df.orderBy(SOURCE_ROW)
        if self.quarantine:
            quarantine = self.quarantine[0]
            for part in self.quarantine[1:]:
                quarantine = quarantine.unionByName(part, allowMissingColumns=True)
        else:
            quarantine = self.spark.createDataFrame([], "source_row long, quarantine_reason string")
        cols = [c for c in quarantine.columns if c not in (SOURCE_ROW, QUARANTINE_REASON)]
        quarantine = quarantine.select(SOURCE_ROW, *cols, QUARANTINE_REASON).orderBy(SOURCE_ROW)
        nulls_after = _null_counts(table.drop(SOURCE_ROW))
        rows_quarantined = quarantine.count()
        self.report.update(
            {
                "job": job_name,
                "rows_in": self.rows_in,
                "rows_out": self.rows,
                "rows_quarantined": rows_quarantined,
                "rows_dropped_for_missing": sum(self.report["dropped_for_missing"].values()),
                "nulls_before": {
                    c: self.raw_nulls[source_of.get(c, c)] for c in nulls_after if source_of.get(c, c) in self.raw_nulls
                },
                "nulls_after": nulls_after,
            }
        )
        return table.drop(SOURCE_ROW), quarantine, self.report


def _rows_and_nulls(df: DataFrame) -> tuple[int, dict[str, int]]:
    """The row count and each column's null count, in one pass."""
    nulls = [F.sum(col(c).isNull().cast("long")).alias(c) for c in df.columns]
    row = df.agg(F.count(F.lit(1)).alias("__rows"), *nulls).collect()[0]
    return int(row["__rows"]), {c: int(row[c] or 0) for c in df.columns}


def _null_counts(df: DataFrame) -> dict[str, int]:
    return _rows_and_nulls(df)[1]


def _with_row_index(df: DataFrame) -> DataFrame:
    """Consecutive 0-based row numbers in file order (monotonically_increasing_id is not consecutive:
    it puts the partition number in the upper bits, so offsets per partition make it so)."""
    df = df.withColumn("__id", F.monotonically_increasing_id())
    part = F.shiftright(F.col("__id"), 33)
    sizes = sorted(df.groupBy(part.alias("p")).count().collect())
    offsets, total = {}, 0
    for p, n in sizes:
        offsets[p], total = total, total + n
    offset = F.create_map(*[F.lit(x) for p, o in offsets.items() for x in (p, o)]) if offsets else None
    index = F.col("__id") - F.shiftleft(part, 33) + (offset[part] if offset is not None else F.lit(0))
    return df.select(index.alias(SOURCE_ROW), *[col(c) for c in df.columns if c != "__id"])


def _jsonable(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def read_input(spark: SparkSession, path: str) -> DataFrame:
    """A CSV (all text, pandas' missing-value strings as null) or a Parquet file or folder."""
    if path.endswith(".csv"):
        df = spark.read.csv(path, header=True, inferSchema=False, multiLine=True, escape='"')
        return df.select(*[F.when(~col(c).isin(NA_STRINGS), col(c)).alias(c) for c in df.columns])
    return spark.read.parquet(path)


def write_output(
    table: DataFrame, quarantine: DataFrame, report: dict[str, Any], types: dict[str, str], out: str
) -> None:
    """``out``/table, ``out``/quarantine (Parquet) and ``out``/report (one JSON line)."""
    table.write.mode("errorifexists").parquet(f"{out}/table")
    quarantine.write.mode("errorifexists").parquet(f"{out}/quarantine")
    text = json.dumps({"report": report, "types": types}, default=str)
    spark = table.sparkSession
    spark.createDataFrame([(text,)], "value string").coalesce(1).write.mode("errorifexists").text(f"{out}/report")


def main(work: Callable[[SparkSession, str, str], None], app_name: str, argv: list[str]) -> None:
    """Run ``work(spark, input, output)``: on AWS Glue inside Glue's job boilerplate (GlueContext,
    Job.init, Job.commit), elsewhere on a local session from ``--input``/``--output``/``--master``."""
    try:
        from awsglue.context import GlueContext
        from awsglue.job import Job
        from awsglue.utils import getResolvedOptions
    except ImportError:  # not on AWS Glue: a local session
        parser = argparse.ArgumentParser(description=app_name)
        parser.add_argument("--input", required=True)
        parser.add_argument("--output", required=True)
        parser.add_argument("--master", default="local[*]")
        args = parser.parse_args(argv)
        builder = SparkSession.builder.master(args.master).appName(app_name).config("spark.ui.enabled", "false")
        builder = builder.config("spark.sql.shuffle.partitions", "16")
        # the local driver is the executor: give it room (Spark's default is 1 GiB)
        spark = builder.config("spark.driver.memory", os.environ.get("WORKSHOP_SPARK_MEMORY", "4g")).getOrCreate()
        spark.sparkContext.setLogLevel("ERROR")
        try:
            work(spark, args.input, args.output)
        finally:
            spark.stop()
        return
    from pyspark.context import SparkContext

    args = getResolvedOptions(sys.argv, ["JOB_NAME", "input", "output"])
    glue = GlueContext(SparkContext.getOrCreate())
    job = Job(glue)
    job.init(args["JOB_NAME"], args)
    work(glue.spark_session, args["input"], args["output"])
    job.commit()
