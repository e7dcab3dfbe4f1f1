"""The cleaning job on Polars and on Spark gives what the pandas engine gives; the Glue job request is right."""

from __future__ import annotations

from pathlib import Path

import boto3
import pandas as pd
import pytest

from workshop_utils import cleaning, cleaning_polars, cleaning_spark
from workshop_utils.cleaning import JobError

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "raw" / "bank_customers.csv"

# Every step and option the pandas engine knows, on a table with the dirt they are for.
ALL_STEPS_JOB = {
    "name": "all_steps",
    "steps": [
        {
            "ApplyMapping": {
                "mappings": [
                    {"source": "Id", "target": "id", "type": "string"},
                    {"source": "Amount", "target": "amount", "type": "float"},
                    {"source": "Euro", "target": "euro", "type": "float"},
                    {"source": "Count", "target": "count", "type": "int"},
                    {"source": "Flag", "target": "flag", "type": "bool"},
                    {"source": "Day", "target": "day", "type": "date"},
                    {"source": "At", "target": "at", "type": "timestamp"},
                    {"source": "Colour", "target": "colour", "type": "category"},
                    {"source": "Size", "target": "size", "type": "category"},
                    {"source": "Score", "target": "score", "type": "float"},
                ],
                "keep_unmapped": True,
            }
        },
        {
            "ResolveChoice": {
                "date_formats": ["%Y-%m-%d", "%d %b %Y"],
                "decimal_comma": ["euro"],
                "quarantine_above": 0.2,
            }
        },
        {
            "Standardize": {
                "columns": {"colour": {"case": "lower", "values": {"grey": "gray"}}, "size": {"case": "title"}}
            }
        },
        {"DropDuplicates": {"keys": ["id"]}},
        {
            "Validate": {
                "rules": [
                    {"name": "amount_positive", "column": "amount", "min": 0},
                    {"name": "count_small", "column": "count", "min": 0, "max": 10},
                    {"name": "recent", "column": "day", "min": "2000-01-01"},
                    {"name": "known_colour", "column": "colour", "allowed": ["red", "gray", "blue"]},
                    {"name": "id_shape", "column": "id", "regex": r"ID\d+"},
                    {"name": "has_flag", "column": "flag", "not_null": True},
                ]
            }
        },
        {
            "HandleMissing": {
                "columns": {
                    "score": "median",
                    "size": "mode",
                    "euro": {"strategy": "constant", "value": 0.0},
                    "amount": "drop",
                },
                "empty_columns": "drop",
            }
        },
        {"DropFields": {"columns": ["Extra"]}},
        {
            "SelectFields": {
                "columns": ["id", "amount", "euro", "count", "flag", "day", "at", "colour", "size", "score"]
            }
        },
    ],
}


def all_steps_table(n: int = 60) -> pd.DataFrame:
    rows = []
    for i in range(n):
        rows.append(
            {
                "Id": f"ID{i % 50}" if i != 7 else "bad id",
                "Amount": ["$1,200.50", "(30)", "abc", " 7 ", None, "12%"][i % 6],
                "Euro": ["1.234,5", "2,5", "", None][i % 4],
                "Count": ["3", "4.0", "4.5", "11", "x"][i % 5],
                "Flag": ["Yes", "n", "TRUE", "0", "maybe", None][i % 6],
                "Day": ["2020-01-05", "5 Jan 2021", "1999-12-31", "2020-1-5", "not a day"][i % 5],
                "At": ["2020-01-05 10:00:00", "2020-01-05T10:00", "2020-01-05", "", "noon"][i % 5],
                "Colour": [" Red", "GREY", "blue  ", "green", None][i % 5],
                "Size": ["small", "LARGE", None, "small"][i % 4],
                "Score": [None, "1.5", "2.5", "10"][i % 4],
                "Extra": "x",
                "Empty": None,
            }
        )
    return pd.DataFrame(rows, dtype=object)


def normalized(df: pd.DataFrame) -> pd.DataFrame:
    return df.astype(object).where(df.notna(), None).reset_index(drop=True)


def assert_same_result(a: cleaning.JobResult, b: cleaning.JobResult) -> None:
    """Same rows in the same order, same dtypes and types, same quarantine with reasons, same counts."""
    pd.testing.assert_frame_equal(normalized(a.table), normalized(b.table))
    assert a.table.dtypes.astype(str).to_dict() == b.table.dtypes.astype(str).to_dict()
    assert a.types == b.types
    qa, qb = (r.quarantine.sort_values(cleaning.SOURCE_ROW) for r in (a, b))
    pd.testing.assert_frame_equal(normalized(qa), normalized(qb))
    ignore = {"steps", "engine", "seconds", "streaming"}
    assert {k: v for k, v in a.report.items() if k not in ignore} == {
        k: v for k, v in b.report.items() if k not in ignore
    }
    assert [(s["step"], s["rows_in"], s["rows_out"]) for s in a.report["steps"]] == [
        (s["step"], s["rows_in"], s["rows_out"]) for s in b.report["steps"]
    ]


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    return pd.read_csv(SAMPLE, dtype=str)


@pytest.fixture(scope="module")
def pandas_sample_result(sample) -> cleaning.JobResult:
    return cleaning.run_job(sample)


def test_polars_engine_matches_pandas_on_the_sample(sample, pandas_sample_result):
    result = cleaning.run_job(sample, engine="polars")
    assert_same_result(pandas_sample_result, result)
    assert result.report["rows_quarantined"] > 0 and result.report["duplicates_removed"] > 0


def test_polars_engine_matches_pandas_on_every_step():
    raw = all_steps_table()
    expected = cleaning.run_job(raw, ALL_STEPS_JOB)
    # the table exercises what it is for: quarantine by coercion and by rule, fills, drops
    assert expected.report["data_dependent_fills"].keys() == {"score", "size"}
    assert any(k.startswith("ResolveChoice") for k in expected.report["quarantined_by_rule"])
    assert expected.report["empty_columns_dropped"] == ["Empty"]
    assert_same_result(expected, cleaning.run_job(raw, ALL_STEPS_JOB, engine="polars"))


def test_streaming_a_file_gives_the_in_memory_result(tmp_path, sample, pandas_sample_result):
    """A file larger than the threshold streams through Parquet checkpoints: same outputs."""
    reports = {}
    for name, threshold in (("memory", 2**40), ("streaming", 0)):
        out = tmp_path / name
        reports[name] = cleaning_polars.run_job_on_file(
            SAMPLE, None, out / "table.parquet", out / "quarantine.parquet", in_memory_below=threshold
        )
        table = pd.read_parquet(out / "table.parquet")
        assert len(table) == pandas_sample_result.report["rows_out"]
        assert list(table.columns) == list(pandas_sample_result.table.columns)
        pd.testing.assert_series_equal(
            table["annual_income"], pandas_sample_result.table["annual_income"], check_names=False
        )
    assert reports["streaming"]["streaming"] and not reports["memory"]["streaming"]
    ignore = {"steps", "streaming"}
    assert {k: v for k, v in reports["memory"].items() if k not in ignore} == {
        k: v for k, v in reports["streaming"].items() if k not in ignore
    }
    assert reports["memory"]["quarantined_by_rule"] == pandas_sample_result.report["quarantined_by_rule"]


def test_fast_engine_errors_name_the_problem(tmp_path):
    with pytest.raises(JobError, match="ApplyMapping: column.*'Nope' not in the table"):
        cleaning.run_job(
            pd.DataFrame({"a": ["1"]}),
            {"steps": [{"ApplyMapping": {"mappings": [{"source": "Nope", "target": "x", "type": "int"}]}}]},
            engine="polars",
        )
    with pytest.raises(JobError, match="empty"):
        cleaning.run_job(pd.DataFrame({"a": []}), None, engine="polars")
    with pytest.raises(JobError, match="not found"):
        cleaning_polars.run_job_on_file(tmp_path / "missing.csv", None, tmp_path / "t.parquet", tmp_path / "q.parquet")
    with pytest.raises(JobError, match="Unknown cleaning engine"):
        cleaning.run_job(pd.DataFrame({"a": ["1"]}), None, engine="dask")


def test_compiling_refuses_what_spark_cannot_run():
    job = {"steps": [{"ApplyMapping": {"mappings": [{"source": "A", "target": "a", "type": "string"}]}}]}
    with pytest.raises(JobError, match="%j has no Spark equivalent"):
        cleaning_spark.compile_job(job | {"steps": job["steps"] + [{"ResolveChoice": {"date_formats": ["%j"]}}]})
    with pytest.raises(JobError, match="min/max need a numeric or date column, 'a' is string"):
        cleaning_spark.compile_job(
            job | {"steps": job["steps"] + [{"Validate": {"rules": [{"name": "r", "column": "a", "min": 1}]}}]}
        )
    script = cleaning_spark.compile_job(None)
    compile(script, "clean.py", "exec")  # valid Python
    assert "from awsglue.job import Job" in script and "run.validate(" in script


def test_java_check_says_how_to_get_java(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-java"))
    with pytest.raises(RuntimeError, match="Java 17.*apt install openjdk-17"):
        cleaning_spark.check_java()


needs_java = pytest.mark.skipif(
    (cleaning_spark.java_version() or 0) < 17, reason="local Spark needs a Java 17+ runtime (none found)"
)


@needs_java
def test_spark_engine_matches_pandas_on_the_sample(sample, pandas_sample_result):
    """The generated script on a local Spark session: same rows, types, quarantine reasons, counts."""
    result = cleaning.run_job(sample, engine="spark")
    assert_same_result(pandas_sample_result, result)


@needs_java
def test_spark_engine_matches_pandas_on_every_step():
    raw = all_steps_table()
    assert_same_result(cleaning.run_job(raw, ALL_STEPS_JOB), cleaning.run_job(raw, ALL_STEPS_JOB, engine="spark"))


def test_glue_job_is_uploaded_created_started_and_awaited(store, settings):
    from botocore.stub import Stubber

    glue = boto3.client("glue", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    store.glue = glue
    role = "arn:aws:iam::111111111111:role/workshop-glue"
    script_key = settings.key("processed", "glue", "bank_customers_clean.py")
    with Stubber(glue) as stub:
        stub.add_response(
            "create_job",
            {"Name": "clean-job"},
            cleaning_spark.glue_job_request("clean-job", role, f"s3://{store.bucket}/{script_key}"),
        )
        stub.add_response(
            "start_job_run",
            {"JobRunId": "jr_1"},
            {"JobName": "clean-job", "Arguments": {"--input": "s3://b/raw.csv", "--output": "s3://b/out"}},
        )
        stub.add_response(
            "get_job_run", {"JobRun": {"JobRunState": "RUNNING"}}, {"JobName": "clean-job", "RunId": "jr_1"}
        )
        stub.add_response(
            "get_job_run", {"JobRun": {"JobRunState": "SUCCEEDED"}}, {"JobName": "clean-job", "RunId": "jr_1"}
        )
        stub.add_response(
            "get_job_run",
            {"JobRun": {"JobRunState": "FAILED", "ErrorMessage": "AnalysisException: Path does not exist"}},
            {"JobName": "clean-job", "RunId": "jr_2"},
        )
        name = cleaning_spark.create_glue_job(store, settings, cleaning.load_job(None), role, name="clean-job")
        run_id = cleaning_spark.start_glue_job(glue, name, "s3://b/raw.csv", "s3://b/out")
        assert cleaning_spark.wait_for_glue_job(glue, name, run_id, poll_s=0)["JobRunState"] == "SUCCEEDED"
        with pytest.raises(JobError, match="FAILED: AnalysisException: Path does not exist"):
            cleaning_spark.wait_for_glue_job(glue, name, "jr_2", poll_s=0)
        stub.assert_no_pending_responses()
    # the uploaded script is the compiled job, and Glue 5 with at least 2 workers is asked for
    assert store.get_bytes(script_key).decode() == cleaning_spark.compile_job(None)
    with pytest.raises(JobError, match="at least 2 workers"):
        cleaning_spark.glue_job_request("x", role, "s3://b/s.py", workers=1)
    policy = cleaning_spark.glue_role_policy("bucket", "workshop")
    assert policy["Statement"][0]["Resource"] == "arn:aws:s3:::bucket/workshop/*"


@needs_java
def test_pii_scan_on_spark_finds_what_the_local_scan_finds(sample):
    from workshop_utils import pii, pii_spark

    local = pii.scan(sample, "bank", sample_rows=5000)
    on_spark = pii_spark.scan(sample, "bank", sample_rows=5000)
    assert (on_spark.rows, on_spark.rows_scanned, on_spark.sampled) == (len(sample), 5000, True)
    assert {(f.column, f.type) for f in on_spark.findings} == {(f.column, f.type) for f in local.findings}
    # the masked examples point at the table's own rows
    finding = on_spark.findings[0]
    example = finding.examples[0]
    assert pii.mask(sample.loc[example["row"], finding.column]) == example["value"]
    request = pii_spark.glue_scan_request("scan", "arn:aws:iam::1:role/r", "s3://b/s.py", "s3://b/workshop_utils.zip")
    assert request["DefaultArguments"]["--extra-py-files"] == "s3://b/workshop_utils.zip"
