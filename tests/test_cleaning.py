import numpy as np
import pandas as pd
import pytest

from workshop_utils import catalog, cleaning
from workshop_utils.cleaning import JobError, infer_job, run_job, snake_case
from workshop_utils.config import Settings
from workshop_utils.dataset import load_spec
from workshop_utils.sample_data import COLUMNS, SAMPLE_CSV
from workshop_utils.stages import glue_cleaning, setup

from .conftest import BANK_MARKETING


def job(*steps):
    return {"name": "t", "steps": list(steps)}


def mapping(**cols):
    return {
        "ApplyMapping": {
            "mappings": [{"source": s, "target": s.lower().replace(" ", "_"), "type": t} for s, t in cols.items()]
        }
    }


def test_snake_case():
    assert snake_case("Employment Length (years)") == "employment_length_years"
    assert snake_case("LoanAmount") == "loan_amount"
    assert snake_case(" credit score ") == "credit_score"
    assert snake_case("2nd line") == "col_2nd_line"


def test_apply_mapping_renames_types_and_drops_unmapped():
    df = pd.DataFrame({"A Col": ["1"], "Other": ["x"]})
    r = run_job(df, job({"ApplyMapping": {"mappings": [{"source": "A Col", "target": "a_col", "type": "int"}]}}))
    assert list(r.table.columns) == ["a_col"] and r.types == {"a_col": "int"}
    assert r.report["unmapped_columns_dropped"] == ["Other"]


def test_missing_column_is_named():
    df = pd.DataFrame({"a": ["1"]})
    with pytest.raises(JobError, match=r"'Income'.*not in the table.*Available: a"):
        run_job(df, job(mapping(a="int", Income="float")))


def test_resolve_choice_coerces_and_counts_failures():
    df = pd.DataFrame(
        {
            "money": ["$12,345.00", "1,000", " 7 ", "(50)", "abc", None],
            "euro": ["1,5", "2.000,25", "3", None, "x", "4"],
            "flag": ["yes", "N", "Y", "no", "TRUE", "maybe"],
            "when": ["2024-03-01", "03/02/2024", "5 Jan 2024", "2024/02/29", "Feb 30, 2024", None],
            "n": ["1", "2.0", "2.5", "x", None, "1e3"],
            "mixed": [1, "2", 3.0, "four", None, True],
        }
    )
    spec = job(
        mapping(money="float", euro="float", flag="bool", when="date", n="int", mixed="float"),
        {"ResolveChoice": {"decimal_comma": ["euro"], "quarantine_above": 1.0}},  # keep every row: nulls
    )
    r = run_job(df, spec)
    t = r.table
    assert t["money"].tolist()[:4] == [12345.0, 1000.0, 7.0, -50.0] and np.isnan(t["money"][4])
    assert t["euro"].tolist()[:3] == [1.5, 2000.25, 3.0]
    assert t["flag"].tolist()[:5] == [True, False, True, False, True] and t["flag"].isna()[5]
    assert [d.strftime("%Y-%m-%d") for d in t["when"][:4]] == ["2024-03-01", "2024-03-02", "2024-01-05", "2024-02-29"]
    assert t["when"].isna()[4]  # Feb 30 does not exist: null, not guessed
    assert t["n"].tolist()[:2] == [1, 2] and t["n"].isna()[2] and str(t["n"].dtype) == "Int64"
    assert t["n"][5] == 1000
    assert t["mixed"].tolist()[:3] == [1.0, 2.0, 3.0]
    assert r.report["coercion_failures"] == {"money": 1, "euro": 1, "flag": 1, "when": 1, "n": 2, "mixed": 2}


def test_all_null_column_stays_typed_and_null():
    df = pd.DataFrame({"a": [None, None, None], "b": ["1", "2", "3"]})
    r = run_job(df, job(mapping(a="float", b="int"), {"ResolveChoice": {}}))
    assert r.table["a"].isna().all() and r.table["a"].dtype == "float64"
    assert r.report["coercion_failures"] == {}


def test_standardize_maps_variants_to_one_spelling():
    df = pd.DataFrame({"s": [" Married ", "MARRIED", "married", "single", "Widowed  X", None]})
    spec = job(
        mapping(s="category"),
        {"ResolveChoice": {}},
        {"Standardize": {"columns": {"s": {"canonical": ["Married", "Single"]}}}},
    )
    out = run_job(df, spec).table["s"]
    assert out.tolist()[:5] == ["Married", "Married", "Married", "Single", "Widowed X"] and pd.isna(out[5])
    assert out.dtype == "category"


def test_drop_duplicates_exact_and_on_key():
    df = pd.DataFrame({"id": ["1", "1", "2", "2"], "v": ["a", "a", "b", "c"]})
    assert len(run_job(df, job(mapping(id="string", v="string"), {"DropDuplicates": {}})).table) == 3
    r = run_job(df, job(mapping(id="string", v="string"), {"DropDuplicates": {"keys": ["id"]}}))
    assert r.table["v"].tolist() == ["a", "b"] and r.report["duplicates_removed"] == 2


def test_validate_quarantines_with_reasons_and_keeps_nulls():
    df = pd.DataFrame({"age": ["30", "150", "-1", None, "40"], "st": ["CA", "ca", "NY", "TX", "California"]})
    rules = [
        {"name": "age_range", "column": "age", "min": 0, "max": 120},
        {"name": "state_code", "column": "st", "regex": "[A-Z]{2}"},
    ]
    r = run_job(df, job(mapping(age="int", st="string"), {"ResolveChoice": {}}, {"Validate": {"rules": rules}}))
    assert r.table["st"].tolist() == ["CA", "TX"]  # the null age passes: missing is not invalid
    q = r.quarantine.set_index("source_row")["quarantine_reason"].to_dict()
    assert q == {1: "age_range;state_code", 2: "age_range", 4: "state_code"}
    assert r.report["quarantined_by_rule"] == {"age_range": 2, "state_code": 2}


def test_validate_allowed_and_not_null_and_bad_rules():
    df = pd.DataFrame({"t": ["36", "60", "48", None]})
    spec = job(
        mapping(t="int"),
        {"ResolveChoice": {}},
        {"Validate": {"rules": [{"name": "term", "column": "t", "allowed": [36, 60], "not_null": True}]}},
    )
    assert run_job(df, spec).table["t"].tolist() == [36, 60]
    bad = job(mapping(t="string"), {"Validate": {"rules": [{"name": "r", "column": "t", "min": 1}]}})
    with pytest.raises(JobError, match="numeric or date"):
        run_job(df, bad)
    with pytest.raises(JobError, match="unknown key"):
        run_job(df, job(mapping(t="int"), {"Validate": {"rules": [{"name": "r", "column": "t", "maxx": 1}]}}))


def test_handle_missing_strategies_and_recorded_fills():
    df = pd.DataFrame(
        {
            "a": ["1", None, "3", "10"],
            "b": ["x", "x", None, "y"],
            "c": ["1", "2", None, "4"],
            "d": [None, "k", "k", "k"],
        }
    )
    spec = job(
        mapping(a="float", b="category", c="int", d="string"),
        {"ResolveChoice": {}},
        {
            "HandleMissing": {
                "columns": {"a": "median", "b": "mode", "c": {"strategy": "constant", "value": 0}, "d": "drop"}
            }
        },
    )
    r = run_job(df, spec)
    assert r.table["a"].tolist() == [3.0, 3.0, 10.0] and r.table["b"].tolist() == ["x", "x", "y"]
    assert r.table["c"].tolist() == [2, 0, 4]
    assert r.report["dropped_for_missing"] == {"d": 1}
    assert r.report["data_dependent_fills"] == {
        "a": {"strategy": "median", "value": 3.0},
        "b": {"strategy": "mode", "value": "x"},
    }


def test_drop_and_select_fields():
    df = pd.DataFrame({"a": ["1"], "b": ["2"], "c": ["3"]})
    base = mapping(a="int", b="int", c="int")
    assert list(run_job(df, job(base, {"DropFields": {"columns": ["b"]}})).table.columns) == ["a", "c"]
    assert list(run_job(df, job(base, {"SelectFields": {"columns": ["c", "a"]}})).table.columns) == ["c", "a"]
    with pytest.raises(JobError, match="'z'"):
        run_job(df, job(base, {"DropFields": {"columns": ["z"]}}))


def test_bad_specs_and_empty_input():
    df = pd.DataFrame({"a": ["1"]})
    with pytest.raises(JobError, match="unknown step 'Cleanse'"):
        run_job(df, job({"Cleanse": {}}))
    with pytest.raises(JobError, match="non-empty 'steps'"):
        run_job(df, {"name": "x"})
    with pytest.raises(JobError, match="type 'integer'"):
        run_job(df, job({"ApplyMapping": {"mappings": [{"source": "a", "target": "a", "type": "integer"}]}}))
    with pytest.raises(JobError, match="empty"):
        run_job(pd.DataFrame(), job(mapping(a="int")))
    with pytest.raises(JobError, match="empty"):
        run_job(pd.DataFrame({"a": []}), job(mapping(a="int")))
    with pytest.raises(JobError, match="bad options"):
        run_job(df, job({"DropDuplicates": {"colums": ["a"]}}))


def test_input_frame_is_not_modified():
    df = pd.DataFrame({"A": [" $1 ", "2"]})
    before = df.copy()
    run_job(df, job(mapping(A="float"), {"ResolveChoice": {}}))
    pd.testing.assert_frame_equal(df, before)


def test_job_round_trips_through_yaml():
    spec = cleaning.load_job(None)
    assert cleaning.load_job(cleaning.job_to_yaml(spec)) == spec


@pytest.fixture(scope="module")
def sample_result():
    return run_job(pd.read_csv(SAMPLE_CSV, dtype=str))


def test_default_job_on_the_sample(sample_result):
    r, types = sample_result, {c.name: c.dtype for c in COLUMNS}
    t = r.table
    assert not t.duplicated().any()
    assert r.types == types and list(t.columns) == list(types)
    back = catalog.read_parquet_bytes(catalog.parquet_bytes(t, r.types))
    kinds = {
        "string": pd.api.types.is_string_dtype,
        "int": pd.api.types.is_integer_dtype,
        "float": pd.api.types.is_float_dtype,
        "bool": pd.api.types.is_bool_dtype,
        "date": pd.api.types.is_datetime64_any_dtype,
        "category": lambda s: isinstance(s.dtype, pd.CategoricalDtype),
    }
    for col, type_ in types.items():
        assert kinds[type_](back[col]), (col, type_, back[col].dtype)
    assert (r.quarantine["quarantine_reason"].str.len() > 0).all() and len(r.quarantine) > 0
    rep = r.report
    assert (
        rep["rows_in"]
        == rep["rows_out"] + rep["rows_quarantined"] + rep["duplicates_removed"] + rep["rows_dropped_for_missing"]
    )
    assert rep["duplicates_removed"] > 0 and rep["quarantined_by_rule"]["income_not_negative"] > 0
    assert set(t["marital_status"].dropna()) == {"Single", "Married", "Divorced", "Widowed"}
    assert t["age"].max() <= 120 and t["annual_income"].min() >= 0
    assert t["zip_code"].str.fullmatch(r"\d{5}").all()  # leading zeros kept
    assert rep["coercion_failures"] == {}  # every planted format is understood
    assert rep["data_dependent_fills"] == {}  # the default job puts no real-data statistic in the table


def test_infer_job_on_bank_marketing(tmp_path):
    df = pd.read_csv(BANK_MARKETING, dtype=str)
    spec = infer_job(df, "bank_marketing")
    r = run_job(df, spec)
    assert len(r.table) == len(df) > 45_000  # duplicates kept: rows have no key
    assert {k: r.types[k] for k in ("age", "balance", "pdays", "duration")} == dict.fromkeys(
        ("age", "balance", "pdays", "duration"), "int"
    )
    assert {k: r.types[k] for k in ("job", "marital", "month", "poutcome")} == dict.fromkeys(
        ("job", "marital", "month", "poutcome"), "category"
    )
    assert r.types["y"] == r.types["housing"] == "bool"
    assert r.table["y"].mean() == pytest.approx((df["y"] == "yes").mean())
    back = catalog.read_parquet_bytes(catalog.parquet_bytes(r.table, r.types))
    assert len(back) == len(df) and str(back["balance"].dtype) == "Int64"


def test_infer_type_edge_cases():
    assert cleaning.infer_type(pd.Series(["01234", "98765", "00501"] * 10)) == "string"  # ZIP-like
    assert cleaning.infer_type(pd.Series(["2024-01-02", "03/04/2023"] * 10)) == "date"
    assert cleaning.infer_type(pd.Series(["$1.50", "2"] * 10)) == "float"
    assert cleaning.infer_type(pd.Series([None, None])) == "string"


def test_day_first_dates_are_read_day_first_and_month_first_ones_stay_so():
    days = pd.Series(["31/12/1980", "03/04/1990", "15/06/2001", ""] * 10)
    raw = pd.DataFrame({"birth_date": days, "stay": ["2", "3", "4", "5"] * 10})
    job = cleaning.infer_job(raw)
    types = {m["target"]: m["type"] for m in job["steps"][0]["ApplyMapping"]["mappings"]}
    assert types["birth_date"] == "date"  # was text: 31/12 cannot be month first, so every value became 'other'
    born = cleaning.run_job(raw, job).table["birth_date"]
    assert born.iloc[:3].tolist() == [
        pd.Timestamp("1980-12-31"),
        pd.Timestamp("1990-04-03"),
        pd.Timestamp("2001-06-15"),
    ]
    us = raw.assign(birth_date=["12/31/1980", "04/03/1990", "06/15/2001", ""] * 10)
    assert cleaning.run_job(us, cleaning.infer_job(us)).table["birth_date"].iloc[1] == pd.Timestamp("1990-04-03")
    both = raw.assign(visit=["12/31/2020", "01/02/2021", "06/15/2021", ""] * 10)  # one job, one list: the default
    assert cleaning.date_formats_for(both) == cleaning.DEFAULT_DATE_FORMATS
    assert cleaning.infer_type(pd.Series(["31.12.1980", "03.04.1990"] * 10)) == "date"


def test_cleaning_stage_is_deterministic_and_catalogued(store, settings):
    spec = load_spec()
    key = setup.land_source(store, settings, spec)["key"]
    setup.crawl_raw_csv(store, settings, spec, key)
    small = Settings(**(settings.as_dict() | {"sample_rows": 3000}))
    first = glue_cleaning.run_cleaning(store, small, spec)
    second = glue_cleaning.run_cleaning(store, Settings(**(small.as_dict() | {"run_id": "run-2"})), spec)
    k1, k2 = first.table_entry["Parameters"]["objectKey"], second.table_entry["Parameters"]["objectKey"]
    assert k1 != k2 and store.get_bytes(k1) == store.get_bytes(k2)
    assert store.head(key)["etag"] == first.table_entry["Parameters"]["source"]["etag"]  # input untouched
    entry = catalog.find_table(store, settings, "bank_customers")
    assert entry["Parameters"]["runId"] == "run-2" and entry["Parameters"]["recordCount"] == len(first.result.table)
    cols = {c["Name"]: c for c in entry["StorageDescriptor"]["Columns"]}
    assert cols["annual_income"]["Type"] == "double" and cols["annual_income"]["Parameters"]["nullable"] == "true"
    assert cols["customer_id"]["Parameters"]["nullable"] == "false"
    q = catalog.read_table(store, catalog.find_table(store, settings, "bank_customers_quarantine", run_id="run-1"))
    assert len(q) == first.result.report["rows_quarantined"] and q["quarantine_reason"].notna().all()
    report = store.read_json(first.report_key)
    assert report["rows_in"] == 3000 and report["source"]["table"] == "bank_customers_raw"


def test_stage_outputs_are_athena_valid_glue_tables_partitioned_by_run(store, settings):
    spec = load_spec()
    setup.crawl_raw_csv(store, settings, spec, setup.land_source(store, settings, spec)["key"])
    glue_cleaning.run_cleaning(store, Settings(**(settings.as_dict() | {"sample_rows": 500})), spec)
    database = catalog.database_name(settings.prefix)
    table = store.glue.get_table(DatabaseName=database, Name="bank_customers")["Table"]
    descriptor = table["StorageDescriptor"]
    assert descriptor["InputFormat"] == "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    assert descriptor["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
    assert descriptor["Location"].endswith("/") and table["PartitionKeys"] == [{"Name": "run_id", "Type": "string"}]
    partition = store.glue.get_partition(DatabaseName=database, TableName="bank_customers", PartitionValues=["run-1"])
    location = partition["Partition"]["StorageDescriptor"]["Location"]
    assert location.endswith("/bank_customers/")
    folder = location.split(f"s3://{settings.bucket}/", 1)[1]
    assert [k for k in store.list_keys(folder)] == [f"{folder}bank_customers.parquet"]  # alone in its folder
    assert all(isinstance(v, str) for v in partition["Partition"]["Parameters"].values())
    raw = store.glue.get_table(DatabaseName=database, Name="bank_customers_raw")["Table"]
    assert raw["StorageDescriptor"]["SerdeInfo"]["Parameters"]["skip.header.line.count"] == "1"
    assert catalog.find_table(store, settings, "bank_customers")["Parameters"]["recordCount"] == partition_rows(
        partition
    )


def partition_rows(partition: dict) -> int:
    return int(partition["Partition"]["Parameters"]["recordCount"])
