"""The peers' discrete domain (benchmarks/binning.py) is fixed by declared metadata alone and
decodes inside each bin, so the comparison neither leaks the rows' range to MST/AIM nor
handicaps them with midpoint decoding."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import binning  # noqa: E402

from workshop_utils.metadata import TableMetadata  # noqa: E402


def meta_of(df: pd.DataFrame) -> dict:
    meta = TableMetadata.detect(df, types={"age": "int", "balance": "float", "job": "string", "when": "date"})
    meta.set_bounds("age", 18, 30).set_bounds("balance", -1000, 3000).set_bounds("when", "2020-01-01", "2021-01-01")
    meta.set_categories("job", ["a", "b", "c"]).set_nullable("age", False)
    return meta.to_dict()


def table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 31, n),
            "balance": np.where(rng.random(n) < 0.1, np.nan, rng.normal(500, 400, n)),
            "job": rng.choice(["a", "b", "c"], n),
            "when": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 366, n), unit="D"),
        }
    )


def test_domain_comes_from_the_metadata_and_decoding_stays_inside_each_bin():
    df = table(4000, 0)
    cols = binning.column_bins(meta_of(df), bins=32)
    sizes = {c.name: c.size for c in cols}
    # 13 ages get a bin each (not nullable); balance: 32 bins + null; job: 3 + other + null; dates: 32 + null
    assert sizes == {"age": 13, "balance": 33, "job": 5, "when": 33}
    # the same domain whatever the rows: a table with other values gets the same codes' layout
    assert [c.size for c in binning.column_bins(meta_of(table(50, 1)), bins=32)] == list(sizes.values())
    codes = binning.encode(df, cols)
    back = binning.decode(codes, cols, seed=0)
    assert (back["age"] == df["age"]).all()  # one bin per integer: exact
    assert back["balance"].isna().equals(df["balance"].isna())
    width = 4000 / 32
    inside = df["balance"].between(-1000, 3000)
    gap = (back["balance"] - df["balance"]).abs()[inside]
    assert gap.max() < width  # within the bin, never snapped to the bounds
    # uniform inside the bin, not the midpoint: the offsets spread over the bin
    offset = ((back["balance"] + 1000) % width / width)[inside]
    assert offset.std() > 0.25 and 0.4 < offset.mean() < 0.6
    assert (back["job"] == df["job"]).all()
    assert (back["when"] - df["when"]).abs().max() <= pd.Timedelta(days=366 / 32 + 1)
    assert binning.workload_error(df, df, cols) == 0.0
    assert binning.workload_error(df, table(4000, 2).assign(job="a"), cols) > 0.2


def test_a_column_without_a_declared_domain_is_refused():
    df = table(100, 0)
    meta = TableMetadata.detect(df, types={"age": "int", "balance": "float", "job": "string", "when": "date"})
    with pytest.raises(ValueError, match="declare its bounds"):
        binning.column_bins(meta.to_dict())
