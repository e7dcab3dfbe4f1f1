"""Notebook 02: run the dataset's Glue-style cleaning job; write Parquet, quarantine, report, catalog."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from .. import catalog, cleaning, profiling
from ..catalog import CatalogEntry
from ..config import Settings
from ..dataset import DatasetSpec
from ..storage import S3Store


@dataclass
class CleaningOutput:
    result: cleaning.JobResult
    job: dict[str, Any]
    table_entry: CatalogEntry
    quarantine_key: str
    report_key: str
    job_key: str
    raw: pd.DataFrame


def job_for(spec: DatasetSpec, raw: pd.DataFrame, job_file: str | None = None) -> tuple[dict[str, Any], bool]:
    """(job, inferred): ``job_file``, else the spec's job, else one inferred from the raw table
    (written out by ``run_cleaning`` for the user to review)."""
    path = job_file or spec.resolve(spec.cleaning_job)
    if path is not None:
        return cleaning.load_job(path), False
    job = cleaning.infer_job(raw, name=f"{spec.name}_clean")
    job["steps"].append({"HandleMissing": {"columns": {spec.target: "drop"}}})
    return job, True


def run_cleaning(
    store: S3Store, settings: Settings, spec: DatasetSpec, job: dict[str, Any] | None = None, engine: str = "polars"
) -> CleaningOutput:
    """Run a cleaning job on the newest raw table; write Parquet, quarantine, report, job, catalog entry.
    ``engine``: see ``cleaning.run_job`` (all three give the same table)."""
    source = catalog.find_table(store, settings, spec.tables.raw)
    raw = catalog.read_table(store, source)
    if settings.sample_rows:
        raw = raw.head(settings.sample_rows)
    if job is None:
        job, _ = job_for(spec, raw)
    cleaning.validate_job(job)
    result = cleaning.run_job(raw, job, engine)
    if spec.target not in result.table.columns:
        raise cleaning.JobError(
            f"The cleaning job's output has no column {spec.target!r} (the dataset's target); "
            f"its columns are {list(result.table.columns)}. Fix the spec's target or the job's ApplyMapping."
        )
    src = catalog.source_of(source)
    entry = catalog.write_table(
        store,
        settings,
        spec.tables.processed,
        result.table,
        result.types,
        "processed",
        source=src,
        description=f"Output of cleaning job {job.get('name')!r}.",
        extra={"job": job.get("name"), "rowsQuarantined": len(result.quarantine)},
    )
    q_types = result.types | {cleaning.SOURCE_ROW: "int", cleaning.QUARANTINE_REASON: "string"}
    q_entry = catalog.write_table(
        store,
        settings,
        spec.tables.quarantine,
        result.quarantine,
        q_types,
        "quarantine",
        source=src,
        description="Rows that broke a Validate rule, with the rule.",
    )
    # the report holds timings: a resumed run keeps the first one (the tables above are identical)
    report_key = store.write_json_once(
        result.report | {"job_spec": job, "source": src}, settings.key("processed", "job_report.json")
    )
    job_key = store.put_once(
        settings.key("processed", "job.yaml"), cleaning.job_to_yaml(job).encode(), "application/yaml"
    )
    return CleaningOutput(result, job, entry, q_entry["Parameters"]["objectKey"], report_key, job_key, raw)


def job_of_table(store: S3Store, settings: Settings, entry: CatalogEntry) -> dict[str, Any]:
    """The cleaning job that actually produced the table ``entry`` derives from (notebook 02's run)."""
    processed = catalog.lineage(store, settings, entry, stop_at_stage="processed")
    run = Settings(**(settings.as_dict() | {"run_id": processed["Parameters"]["runId"]}))
    return store.read_json(run.key("processed", "job_report.json"))["job_spec"]


def before_after(out: CleaningOutput, spec: DatasetSpec, n: int = 8, limit: int = 5) -> pd.DataFrame:
    """The first rows of up to ``limit`` columns the job coerced (numbers, dates, booleans), raw
    text beside the typed result; columns the data dictionary or a PII scan marks identifying are
    never shown."""
    mappings = next(iter(out.job["steps"][0].values()))["mappings"] if "ApplyMapping" in out.job["steps"][0] else []
    identifying = set(profiling.identifying_columns(out.raw.head(2000), spec.load_dictionary()))
    chosen = [
        (m["source"], m["target"])
        for m in mappings
        if m.get("type") not in (None, "string", "category")
        and m["source"] not in identifying
        and m["target"] in out.result.table.columns
    ][:limit]
    before = out.raw.loc[: n - 1, [src for src, _ in chosen]].rename(columns=lambda c: f"raw: {c}")
    after = out.result.table[[dst for _, dst in chosen]].head(n)
    return pd.concat([before.reset_index(drop=True), after.reset_index(drop=True)], axis=1)


def quarantine_preview(out: CleaningOutput, n: int = 5) -> pd.DataFrame:
    """Quarantined rows with their reason and the columns the Validate rules look at."""
    ruled = [
        rule["column"]
        for step in out.job["steps"]
        if "Validate" in step
        for rule in step["Validate"]["rules"]
        if rule["column"] in out.result.quarantine.columns
    ]
    cols = [cleaning.SOURCE_ROW, cleaning.QUARANTINE_REASON, *dict.fromkeys(ruled)]
    return out.result.quarantine[cols].head(n)


# --------------------------------------------------------------------------- beyond one machine


def spark_steps(job: dict[str, Any]) -> str:
    """The compiled job's step code (the part of the Spark script that is the job itself)."""
    from .. import cleaning_spark

    script = cleaning_spark.compile_job(job)
    return script[script.index("def transform") : script.index("    return run") + len("    return run")]


def compare_engines(out: CleaningOutput, engines: tuple[str, ...] = ("pandas", "spark")) -> pd.DataFrame:
    """Run the same job on the same raw rows with other engines; one row per engine with its counts,
    its time and whether its table equals this run's."""
    import time

    rows = []
    for engine in engines:
        start = time.perf_counter()
        result = cleaning.run_job(out.raw, out.job, engine)
        rows.append(
            {
                "engine": engine,
                "seconds": round(time.perf_counter() - start, 1),
                "rows_out": result.report["rows_out"],
                "quarantined": result.report["rows_quarantined"],
                "duplicates_removed": result.report["duplicates_removed"],
                "same table": result.table.astype(object).equals(out.result.table.astype(object)),
                "same types": result.types == out.result.types,
            }
        )
    return pd.DataFrame(rows)


def glue_job_plan(
    store: S3Store, settings: Settings, spec: DatasetSpec, job: dict[str, Any], role_arn: str | None
) -> dict[str, Any]:
    """What running the job on AWS Glue takes: the create_job request, the run's arguments and the
    IAM policy of the job's role (with a placeholder role when none is given)."""
    from .. import cleaning_spark

    raw = catalog.find_table(store, settings, spec.tables.raw)
    script_key = settings.key("processed", "glue", f"{job.get('name', 'clean')}.py")
    return {
        "create_job": cleaning_spark.glue_job_request(
            f"{settings.prefix}-{job.get('name', 'clean')}",
            role_arn or "arn:aws:iam::<account>:role/<glue-role>",
            f"s3://{store.bucket}/{script_key}",
        ),
        "start_job_run": {
            "--input": f"s3://{store.bucket}/{raw['Parameters']['objectKey']}",
            "--output": f"s3://{store.bucket}/{settings.key('processed', 'glue', 'output')}",
        },
        "role_policy": cleaning_spark.glue_role_policy(store.bucket, settings.prefix),
    }


def run_on_glue(store: S3Store, settings: Settings, spec: DatasetSpec, job: dict[str, Any], role_arn: str) -> dict:
    """Upload the compiled script, create the Glue job, run it on the raw table and wait (aws mode only)."""
    from .. import cleaning_spark

    if settings.storage_mode != "aws":
        raise cleaning.JobError("AWS Glue runs need storage_mode='aws' (the local S3 server has no Glue jobs).")
    plan = glue_job_plan(store, settings, spec, job, role_arn)
    name = cleaning_spark.create_glue_job(store, settings, job, role_arn, name=plan["create_job"]["Name"])
    args = plan["start_job_run"]
    run_id = cleaning_spark.start_glue_job(store.glue, name, args["--input"], args["--output"])
    return cleaning_spark.wait_for_glue_job(store.glue, name, run_id)
