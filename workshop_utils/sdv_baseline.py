"""SDV's TVAESynthesizer, the non-private baseline the original AWS workshop trains.

Shown beside our DP-TVAE in notebooks 04 and 06 so attendees see what privacy costs. It has no
privacy guarantee: it is charged to the table's lifetime budget as a non-private, internal-only
fit, and its model and samples never leave the data owner.
"""

from __future__ import annotations

import time

import pandas as pd

from .budget import PrivacyBudget
from .metadata import TableMetadata
from .progress import note


class SDVBaseline:
    """``SDVBaseline(meta, epochs=...).fit(df)``, ``.sample(n)``: SDV's TVAE on the
    columns our metadata models (excluded columns are left out and come back empty)."""

    def __init__(
        self, metadata: TableMetadata, epochs: int = 300, batch_size: int = 500, table_name: str = "table"
    ) -> None:
        self.metadata = metadata
        self.epochs = epochs
        self.batch_size = batch_size
        self.table_name = table_name
        self.model_ = None

    def fit(self, df: pd.DataFrame, budget: PrivacyBudget | None = None) -> SDVBaseline:
        from sdv.metadata import Metadata
        from sdv.single_table import TVAESynthesizer

        if budget is not None:
            budget.charge(None, 0.0, "SDV TVAE baseline (no DP, internal only)", internal_only=True)
        sdv_meta = Metadata.load_from_dict(self.metadata.to_sdv_dict(self.table_name))
        batch = max(10, min(self.batch_size, len(df)) // 10 * 10)  # SDV's TVAE needs a multiple of 10 (pac)
        self.columns_ = list(df.columns)
        note(f"SDV TVAE (no DP): training {self.epochs} epochs on {len(df):,} rows ...")
        start = time.perf_counter()
        self.model_ = TVAESynthesizer(sdv_meta, epochs=self.epochs, batch_size=batch, enable_gpu=False)
        data = _plain_dtypes(df[list(sdv_meta.get_column_names())])
        # SDV 2 takes and returns {table name: DataFrame} even for one table; SDV 1 a DataFrame
        self.model_.fit({self.table_name: data} if _sdv_major() >= 2 else data)
        note(f"SDV TVAE (no DP): trained in {time.perf_counter() - start:.0f} s")
        return self

    def sample(self, n: int) -> pd.DataFrame:
        out = self.model_.sample(n)
        out = out[self.table_name] if isinstance(out, dict) else out
        return out.reindex(columns=self.columns_)


def _sdv_major() -> int:
    from importlib.metadata import version

    return int(version("sdv").split(".")[0])


def _plain_dtypes(df: pd.DataFrame) -> pd.DataFrame:
    """SDV refuses pandas' category dtype and stumbles on nullable extension dtypes: plain numpy / object."""
    out = df.copy()
    for col in out.columns:
        dtype = out[col].dtype
        if isinstance(dtype, pd.CategoricalDtype) or isinstance(dtype, pd.StringDtype):
            out[col] = out[col].astype(object).where(out[col].notna(), None)
        elif isinstance(dtype, pd.BooleanDtype):
            out[col] = out[col].astype(object).where(out[col].notna(), None)
        elif pd.api.types.is_extension_array_dtype(dtype) and pd.api.types.is_numeric_dtype(dtype):
            out[col] = out[col].astype("float64")
    return out
