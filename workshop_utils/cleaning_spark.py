"""The cleaning job compiled to a PySpark script that runs on a local Spark session or as an AWS Glue 5 job.

``compile_job(job)`` writes one self-contained script: the helpers of ``spark_runtime`` (inlined
as source), the job compiled to DataFrame expressions (one block per step, readable and
editable), and a ``main`` that starts a local session or, when ``awsglue`` is importable,
does Glue's job boilerplate around the same code. ``run_local`` runs that script with
``spark-submit``'s Python entry point on this machine; ``create_glue_job`` /
``start_glue_job`` upload it and start it on AWS Glue.
"""

from __future__ import annotations

import inspect
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from . import spark_runtime
from .cleaning import (
    QUARANTINE_REASON,
    SOURCE_ROW,
    JobError,
    JobResult,
    check_empty_columns,
    check_mappings,
    check_rule,
    check_share,
    load_job,
    missing_strategy,
    source_columns,
    standardize_options,
)

GLUE_VERSION = "5.0"  # Spark 3.5.4, Python 3.11
JAVA_HINT = (
    "Spark needs a Java 17 (or newer) runtime: install one (Debian/Ubuntu: apt install openjdk-17-jre-headless; "
    "macOS: brew install openjdk@17; conda: conda install -c conda-forge openjdk=17) and put `java` on PATH "
    "or set JAVA_HOME."
)


def java_version() -> int | None:
    """The major version of the Java runtime Spark would use, or None when there is none."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        return None
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    try:
        version = out.split('"')[1]
    except IndexError:
        return None
    major = version.split(".")[1] if version.startswith("1.") else version.split(".")[0]
    return int("".join(ch for ch in major if ch.isdigit()) or 0)


def check_java() -> None:
    version = java_version()
    if version is None or version < 17:
        found = "no Java runtime" if version is None else f"Java {version}"
        raise RuntimeError(f"Found {found}. {JAVA_HINT}")


# --------------------------------------------------------------------------- compiling


def compile_job(job: dict[str, Any] | str | Path | None = None) -> str:
    """The job as a PySpark script (text). Raises ``JobError`` for anything the job gets wrong
    that can be known without the data (unknown steps, types, options, date formats)."""
    job = load_job(job)
    types: dict[str, str] = {}
    lines = ["def transform(spark: SparkSession, df: DataFrame) -> Run:", "    run = Run(spark, df)"]
    for i, step in enumerate(job["steps"]):
        ((name, opts),) = step.items()
        opts = opts or {}
        lines.append(f"    # step {i + 1}: {name}")
        try:
            lines += [f"    {line}" for line in _COMPILERS[name](opts, types)]
        except TypeError as exc:
            raise JobError(f"{name}: bad options {opts!r} ({exc}).") from None
    lines.append("    return run")
    source_of = source_columns(job)
    return _SCRIPT.format(
        name=job.get("name", "job"),
        runtime=runtime_source(),
        job_json=repr(json.dumps(job, default=str)),
        transform="\n".join(lines),
        job_name=job.get("name", "job"),
        source_of=repr(source_of),
    )


def runtime_source() -> str:
    source = inspect.getsource(spark_runtime)
    body = source.split('"""', 2)[2]  # without the module docstring
    return body.replace("from __future__ import annotations\n", "").lstrip()


def _apply_mapping(opts: dict[str, Any], types: dict[str, str]) -> list[str]:
    mappings, keep = opts.get("mappings"), opts.get("keep_unmapped", False)
    extra = set(opts) - {"mappings", "keep_unmapped"}
    if extra:
        raise TypeError(f"unexpected option(s) {sorted(extra)}")
    check_mappings(mappings)
    types.clear()
    types.update({m["target"]: m["type"] for m in mappings})
    rows = ",\n".join(f"        ({m['source']!r}, {m['target']!r}, {m['type']!r})" for m in mappings)
    return ["run.apply_mapping(", "    [", rows, "    ],", f"    keep_unmapped={bool(keep)!r},", ")"]


def _resolve_choice(opts: dict[str, Any], types: dict[str, str]) -> list[str]:
    from .cleaning import DEFAULT_DATE_FORMATS

    extra = set(opts) - {"date_formats", "decimal_comma", "quarantine_above"}
    if extra:
        raise TypeError(f"unexpected option(s) {sorted(extra)}")
    if not types:
        raise JobError("ResolveChoice needs the column types from an ApplyMapping step before it.")
    above = opts.get("quarantine_above", 0.001)
    check_share(above)
    try:
        patterns = [spark_runtime.java_date_pattern(f) for f in opts.get("date_formats") or DEFAULT_DATE_FORMATS]
    except ValueError as exc:
        raise JobError(f"ResolveChoice: {exc}") from None
    comma = set(opts.get("decimal_comma") or [])
    typed = []
    for c, t in types.items():
        text = f"text(col({c!r}))"
        expr = {
            "string": text,
            "category": text,
            "float": f"number({text}, decimal_comma={c in comma})",
            "int": f"to_int(number({text}, decimal_comma={c in comma}))",
            "bool": f"to_bool({text})",
            "date": f"to_date({text}, DATE_PATTERNS)",
            "timestamp": f"to_timestamp({text})",
        }[t]
        typed.append(f"        {c!r}: {expr},")
    return [
        f"DATE_PATTERNS = {patterns!r}",
        "run.resolve_choice(",
        "    {",
        *typed,
        "    },",
        f"    quarantine_above={above!r},",
        ")",
    ]


def _standardize(opts: dict[str, Any], types: dict[str, str]) -> list[str]:
    columns = opts.get("columns") or {}
    out = []
    for c, o in columns.items():
        trim, case, lookup = standardize_options(c, o)
        out.append(f"        {c!r}: standardize(col({c!r}), trim={trim}, case={case!r}, lookup={lookup!r}),")
    return ["run.standardize(", "    {", *out, "    }", ")"]


def _drop_duplicates(opts: dict[str, Any], types: dict[str, str]) -> list[str]:
    extra = set(opts) - {"keys"}
    if extra:
        raise TypeError(f"unexpected option(s) {sorted(extra)}")
    return [f"run.drop_duplicates({list(opts.get('keys') or [])!r})"]


def _rule(rule: dict[str, Any], types: dict[str, str]) -> str:
    check_rule(rule)
    name, c = rule["name"], rule["column"]
    column, parts = f"col({c!r})", []
    if rule.get("not_null"):
        parts.append(f"{column}.isNull()")
    if "min" in rule or "max" in rule:
        type_ = types.get(c, "float")
        if type_ in ("date", "timestamp"):
            lo, hi = (f"F.lit({str(rule[k])!r}).cast({type_!r})" if k in rule else None for k in ("min", "max"))
        elif type_ in ("int", "float"):
            lo, hi = (f"F.lit({rule[k]!r})" if k in rule else None for k in ("min", "max"))
        else:
            raise JobError(f"Validate rule {name!r}: min/max need a numeric or date column, {c!r} is {type_}.")
        parts += [f"({column} < {lo})"] if lo else []
        parts += [f"({column} > {hi})"] if hi else []
    if "allowed" in rule:
        parts.append(f"({column}.isNotNull() & ~{column}.isin({list(rule['allowed'])!r}))")
    if "regex" in rule:
        parts.append(f"({column}.isNotNull() & ~regex_full_match({column}, {rule['regex']!r}))")
    bad = " | ".join(f"F.coalesce({p}, F.lit(False))" for p in parts) or "F.lit(False)"
    return f"        ({name!r}, {bad}),"


def _validate(opts: dict[str, Any], types: dict[str, str]) -> list[str]:
    extra = set(opts) - {"rules"}
    if extra:
        raise TypeError(f"unexpected option(s) {sorted(extra)}")
    return ["run.validate(", "    [", *[_rule(r, types) for r in opts.get("rules") or []], "    ]", ")"]


def _handle_missing(opts: dict[str, Any], types: dict[str, str]) -> list[str]:
    extra = set(opts) - {"columns", "default", "empty_columns"}
    if extra:
        raise TypeError(f"unexpected option(s) {sorted(extra)}")
    empty = opts.get("empty_columns", "keep")
    check_empty_columns(empty)
    default, _ = missing_strategy("(default)", opts.get("default", "keep"), None, numeric=True)
    columns = {
        c: missing_strategy(c, spec, types.get(c), c not in types) for c, spec in (opts.get("columns") or {}).items()
    }
    return [f"run.handle_missing({columns!r}, default={default!r}, empty_columns={empty!r})"]


def _drop_fields(opts: dict[str, Any], types: dict[str, str]) -> list[str]:
    columns = list(opts.get("columns") or [])
    for c in columns:
        types.pop(c, None)
    return [f"run.drop_fields({columns!r})"]


def _select_fields(opts: dict[str, Any], types: dict[str, str]) -> list[str]:
    columns = list(opts.get("columns") or [])
    kept = {c: types[c] for c in columns if c in types}
    types.clear()
    types.update(kept)
    return [f"run.select_fields({columns!r})"]


_COMPILERS = {
    "ApplyMapping": _apply_mapping,
    "ResolveChoice": _resolve_choice,
    "Standardize": _standardize,
    "DropDuplicates": _drop_duplicates,
    "Validate": _validate,
    "HandleMissing": _handle_missing,
    "DropFields": _drop_fields,
    "SelectFields": _select_fields,
}

_SCRIPT = '''"""Cleaning job {name!r}, compiled by workshop_utils.cleaning_spark (do not edit by hand: edit the job).

Runs on a local Spark session:
    python this_script.py --input raw.csv --output out/
and as an AWS Glue {glue} job with the arguments --input s3://... --output s3://...
It writes out/table and out/quarantine (Parquet) and out/report (one JSON line).
"""

# ruff: noqa
from __future__ import annotations

{runtime}

JOB = json.loads({job_json})  # the job spec this script was compiled from

SOURCE_OF = {source_of}


{transform}


def run_job(spark: SparkSession, input_path: str, output_path: str) -> None:
    for key, value in SPARK_SETTINGS.items():
        spark.conf.set(key, value)
    run = transform(spark, read_input(spark, input_path))
    table, quarantine, report = run.finish({job_name!r}, SOURCE_OF)
    write_output(table, quarantine, report, run.types, output_path)


if __name__ == "__main__":
    main(run_job, {job_name!r}, sys.argv[1:])
'''.replace("{glue}", GLUE_VERSION)


# --------------------------------------------------------------------------- running locally


def run_script(script: str, input_path: str | Path, output_dir: str | Path, timeout: int = 1800) -> dict[str, Any]:
    """Run a compiled script in its own process on a local Spark session; returns the report and
    types it wrote. Spark's start-up (10 s or so) is measured apart in ``spark_startup_s``."""
    check_java()
    output_dir = Path(output_dir)
    if output_dir.exists() and any(output_dir.iterdir()):
        raise JobError(f"{output_dir} is not empty: the job writes new outputs only, choose an empty folder.")
    script_path = output_dir.parent / f".{output_dir.name}-job.py"
    script_path.parent.mkdir(parents=True, exist_ok=True)
    script_path.write_text(script)
    env = os.environ | {"PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(script_path), "--input", str(input_path), "--output", str(output_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise JobError(f"The Spark job failed (exit {proc.returncode}):\n{tail}")
    (line,) = [p.read_text() for p in sorted((output_dir / "report").glob("part-*")) if p.read_text().strip()]
    out = json.loads(line)
    out["seconds"] = seconds
    return out


def run_job(df: pd.DataFrame, job: dict[str, Any] | str | Path | None = None) -> JobResult:
    """Run a cleaning job on ``df`` with the compiled script on a local Spark session (text in,
    as the raw CSV is read); same result as ``cleaning.run_job``."""
    job = load_job(job)
    if df.shape[1] == 0 or len(df) == 0:
        raise JobError("The input table is empty (no rows or no columns): check the source file.")
    script = compile_job(job)
    with tempfile.TemporaryDirectory(prefix="workshop-spark-") as tmp:
        source = Path(tmp) / "raw.parquet"
        text = df.astype("string").rename(columns=str)
        text.to_parquet(source, index=False)
        out = run_script(script, source, Path(tmp) / "out")
        table = pd.read_parquet(Path(tmp) / "out" / "table")
        quarantine = pd.read_parquet(Path(tmp) / "out" / "quarantine")
    from .cleaning_polars import with_workshop_dtypes

    types = out["types"]
    report = out["report"] | {"engine": "spark", "seconds": round(out["seconds"], 1)}
    return JobResult(
        table=with_workshop_dtypes(table, types),
        quarantine=with_workshop_dtypes(quarantine, types | {SOURCE_ROW: "int", QUARANTINE_REASON: "string"}),
        types=types,
        report=report,
    )


# --------------------------------------------------------------------------- AWS Glue


def glue_role_policy(bucket: str, prefix: str) -> dict[str, Any]:
    """The IAM permissions the job's role needs (attach to a role trusted by glue.amazonaws.com,
    together with the managed policy AWSGlueServiceRole): read the raw data and the script,
    write the outputs under the prefix, nothing else in the bucket."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadAndWriteTheWorkshopPrefix",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": f"arn:aws:s3:::{bucket}/{prefix}/*",
            },
            {
                "Sid": "ListThePrefix",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": f"arn:aws:s3:::{bucket}",
                "Condition": {"StringLike": {"s3:prefix": f"{prefix}/*"}},
            },
        ],
    }


def glue_job_request(
    name: str, role_arn: str, script_uri: str, workers: int = 2, worker_type: str = "G.1X", timeout_min: int = 60
) -> dict[str, Any]:
    """The ``glue.create_job`` request for a compiled script (Glue 5: Spark 3.5, Python 3.11)."""
    if workers < 2:
        raise JobError(f"A Glue Spark job needs at least 2 workers, got {workers}.")
    return {
        "Name": name,
        "Role": role_arn,
        "Command": {"Name": "glueetl", "ScriptLocation": script_uri, "PythonVersion": "3"},
        "GlueVersion": GLUE_VERSION,
        "WorkerType": worker_type,
        "NumberOfWorkers": workers,
        "Timeout": timeout_min,
        "MaxRetries": 0,  # a failed cleaning run is looked at, not retried blindly
        "DefaultArguments": {"--job-language": "python", "--enable-metrics": "true"},
        "Description": "Workshop cleaning job compiled by workshop_utils.cleaning_spark",
    }


def create_glue_job(store: Any, settings: Any, job: dict[str, Any], role_arn: str, name: str | None = None) -> str:
    """Upload the compiled script to ``{prefix}/processed/{run}/glue/`` and create the Glue job; returns
    its name. ``store.glue`` is the Glue client (real AWS in aws mode; tests stub it)."""
    job = load_job(job)
    name = name or f"{settings.prefix}-{job.get('name', 'clean')}-{settings.run_id}".replace("/", "-")
    key = settings.key("processed", "glue", f"{job.get('name', 'clean')}.py")
    store.put_once(key, compile_job(job).encode(), "text/x-python")
    store.glue.create_job(**glue_job_request(name, role_arn, f"s3://{store.bucket}/{key}"))
    return name


def start_glue_job(glue: Any, name: str, input_uri: str, output_uri: str) -> str:
    """Start a run of the job on ``input_uri`` (CSV or Parquet) writing under ``output_uri``; returns the run id."""
    response = glue.start_job_run(JobName=name, Arguments={"--input": input_uri, "--output": output_uri})
    return response["JobRunId"]


def wait_for_glue_job(glue: Any, name: str, run_id: str, poll_s: float = 15, timeout_s: float = 3600) -> dict:
    """Poll until the run ends; returns the JobRun, or raises with Glue's error message."""
    waited = 0.0
    while True:
        run = glue.get_job_run(JobName=name, RunId=run_id)["JobRun"]
        state = run["JobRunState"]
        if state == "SUCCEEDED":
            return run
        if state in ("FAILED", "ERROR", "TIMEOUT", "STOPPED", "EXPIRED"):
            raise JobError(f"Glue job {name} run {run_id} ended {state}: {run.get('ErrorMessage', 'no message')}")
        if waited >= timeout_s:
            raise JobError(f"Glue job {name} run {run_id} still {state} after {timeout_s:.0f} s; see the Glue console.")
        time.sleep(poll_s)
        waited += poll_s
