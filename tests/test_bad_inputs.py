"""Bad inputs found by probing, each with one clear message and nothing lost."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workshop_utils import catalog, cleaning
from workshop_utils.dataset import DatasetError, DatasetSpec, init_dataset
from workshop_utils.metadata import TableMetadata
from workshop_utils.stages import setup, train_dp_tvae
from workshop_utils.synth import DPTVAESynthesizer, SynthesizerError

JOB = {
    "name": "j",
    "steps": [
        {
            "ApplyMapping": {
                "mappings": [
                    {"source": "Amount", "target": "amount", "type": "float"},
                    {"source": "Name", "target": "name", "type": "string"},
                ]
            }
        },
        {"ResolveChoice": {}},
    ],
}


def test_text_in_a_numeric_column_goes_to_quarantine_with_its_reason():
    raw = pd.DataFrame({"Amount": ["1.5", "2", "abc", "4"] * 50, "Name": ["x"] * 200})
    result = cleaning.run_job(raw, JOB)
    assert len(result.table) == 150 and len(result.quarantine) == 50
    assert result.quarantine[cleaning.QUARANTINE_REASON].eq("ResolveChoice: amount is not float (got 'abc')").all()
    assert result.report["rows_in"] == result.report["rows_out"] + result.report["rows_quarantined"]
    few = pd.DataFrame({"Amount": ["abc"] + ["1"] * 2000, "Name": ["x"] * 2001})  # one stray value: null, counted
    kept = cleaning.run_job(few, JOB)
    assert len(kept.table) == 2001 and kept.report["coercion_failures"] == {"amount": 1}


def test_an_all_null_column_is_named_not_invented():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=300), "empty": [np.nan] * 300, "y": rng.choice(["a", "b"], 300)})
    meta = TableMetadata.detect(df).set_role("y", "target", task="classification").set_bounds("x", -5, 5)
    with pytest.raises(SynthesizerError, match=r"\['empty'\] have no values at all.*excluded"):
        DPTVAESynthesizer(meta, epsilon=1.0, batch_size=100, progress=False).fit(df)
    meta.set_role("empty", "excluded")
    synth = DPTVAESynthesizer(meta, epsilon=1.0, epochs=1, batch_size=100, progress=False).fit(df)
    assert synth.sample(50)["empty"].isna().all()


def test_booleans_are_not_numbers():
    meta = TableMetadata.detect(pd.DataFrame({"x": [1.0, 2.0]}))
    with pytest.raises(SynthesizerError, match="epsilon must be a positive number"):
        DPTVAESynthesizer(meta, epsilon=True)
    with pytest.raises(SynthesizerError, match="epochs must be a positive integer"):
        DPTVAESynthesizer(meta, epochs=True)
    df = pd.DataFrame({"x": np.arange(200.0)})
    synth = DPTVAESynthesizer(TableMetadata.detect(df), epsilon=None, epochs=1, batch_size=50, progress=False).fit(df)
    with pytest.raises(SynthesizerError, match="n must be a positive integer, got True"):
        synth.sample(True)


def test_duplicate_headers_are_named(store, settings, tmp_path):
    key = store.put_bytes(settings.raw_key("dup.csv"), b"id,amount,amount\n1,2,3\n", "text/csv")
    spec = DatasetSpec(name="dup", source="dup.csv", target="amount", task="regression")
    with pytest.raises(DatasetError, match=r"duplicate column headers \['amount'\]"):
        setup.crawl_raw_csv(store, settings, spec, key)
    with pytest.raises(catalog.CatalogError):  # nothing was catalogued
        catalog.find_table(store, settings, spec.tables.raw)
    path = tmp_path / "dup.csv"
    path.write_text("id,amount,amount\n1,2,3\n")
    with pytest.raises(DatasetError, match=r"duplicate column headers \['amount'\]"):
        init_dataset(path, "id")


def test_a_one_row_table_gets_our_message(store, settings):
    spec = DatasetSpec(name="tiny", source="tiny.csv", target="y", task="classification")
    table = pd.DataFrame({"x": [1.0], "y": ["a"]})
    catalog.write_table(store, settings, spec.tables.deidentified, table, {"x": "float", "y": "string"}, "deidentified")
    with pytest.raises(ValueError, match="has 1 row"):
        train_dp_tvae.split_holdout(store, settings, spec)
    assert not store.list_keys(f"{settings.prefix}/splits/")


def test_an_inferred_job_drops_columns_without_any_value_and_says_so():
    raw = pd.DataFrame({"Amount": ["1", "2", "3"] * 10, "Empty": [None] * 30, "Kind": ["x", "y", "x"] * 10})
    result = cleaning.run_job(raw, cleaning.infer_job(raw))
    assert list(result.table.columns) == ["amount", "kind"] and result.report["empty_columns_dropped"] == ["empty"]
    assert set(result.types) == {"amount", "kind"}
