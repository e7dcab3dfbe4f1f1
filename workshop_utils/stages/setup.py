"""Notebook 00: land the dataset's raw CSV in S3 (write-once) and catalog it, as a Glue crawler would."""

from __future__ import annotations

import csv
import io
from collections import Counter

from .. import catalog
from ..budget import bytes_fingerprint
from ..catalog import CatalogEntry
from ..config import Settings
from ..dataset import DatasetError, DatasetSpec
from ..storage import S3Store


def land_source(store: S3Store, settings: Settings, spec: DatasetSpec) -> dict:
    """Copy the spec's source to ``{prefix}/raw/{name}.csv`` once; an identical copy is left alone.

    An ``s3://`` source in the workshop's bucket is read where it is (copied to the raw key);
    a source in another bucket is read with the same credentials."""
    key = settings.raw_key(spec.raw_object)
    if not spec.source_is_s3:
        return store.land_raw(spec.source_path(), spec.raw_object)
    bucket, _, source_key = spec.source[len("s3://") :].partition("/")
    if not bucket or not source_key:
        raise DatasetError(f"Source {spec.source!r} of dataset {spec.name!r} must look like s3://bucket/key.csv.")
    data = store.get_bytes_from(bucket, source_key)
    if store.exists(key):
        if store.get_bytes(key) != data:
            raise DatasetError(
                f"s3://{settings.bucket}/{key} already holds a different table. Raw objects are write-once: "
                "give the dataset another name in its spec."
            )
        return store.head(key) | {"uploaded": False}
    store.put_bytes(key, data, "text/csv")
    return store.head(key) | {"uploaded": True}


def crawl_raw_csv(store: S3Store, settings: Settings, spec: DatasetSpec, key: str) -> CatalogEntry:
    """Register the raw CSV in the catalog (what a Glue crawler does): all columns as strings."""
    header = next(csv.reader(io.StringIO(store.get_bytes(key)[:1_000_000].decode("utf-8", "replace"))), [])
    duplicates = sorted(name for name, count in Counter(header).items() if count > 1)
    if duplicates:
        raise DatasetError(
            f"The raw CSV s3://{settings.bucket}/{key} has duplicate column headers {duplicates}: rename them so "
            "each column has its own name (nothing was catalogued)."
        )
    df = store.read_csv(key, dtype=str)
    if df.empty:
        raise DatasetError(f"The raw table s3://{settings.bucket}/{key} has no rows.")
    return catalog.register(
        store,
        settings,
        spec.tables.raw,
        df,
        dict.fromkeys(df.columns, "string"),
        key,
        "csv",
        "raw",
        description="Raw CSV as landed; every column read as text.",
        # keys the source table's lifetime privacy budget (budget.py)
        extra={"contentSha256": bytes_fingerprint(store.get_bytes(key))},
    )
