"""A data catalog in S3, shaped like AWS Glue Data Catalog tables.

Each stage registers what it wrote as a table entry (JSON) under
``{prefix}/catalog/{run-id}/{table}.json``; later stages find their input by table
name (the newest entry, or one run's), never by hard-coded keys. Tables are stored as
Parquet with a typed Arrow schema derived from the workshop types.
"""

from __future__ import annotations

import io
from datetime import datetime, timezone
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .config import Settings
from .storage import S3Store, StorageError

ARROW_TYPES = {
    "string": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "category": pa.dictionary(pa.int32(), pa.string()),
}
GLUE_TYPES = {
    "string": "string",
    "int": "bigint",
    "float": "double",
    "bool": "boolean",
    "date": "date",
    "timestamp": "timestamp",
    "category": "string",
}


CatalogEntry = dict[str, Any]  # a Glue-shaped table entry (see ``register``)


class CatalogError(StorageError):
    """A table is not in the catalog, or its entry does not match its data."""


def arrow_schema(df: pd.DataFrame, types: dict[str, str]) -> pa.Schema:
    missing = [c for c in df.columns if c not in types]
    if missing:
        raise CatalogError(f"No declared type for column(s) {missing}.")
    return pa.schema([pa.field(c, ARROW_TYPES[types[c]]) for c in df.columns])


def parquet_bytes(df: pd.DataFrame, types: dict[str, str]) -> bytes:
    """Parquet with the declared schema; deterministic for the same frame and library versions."""
    table = pa.Table.from_pandas(df, schema=arrow_schema(df, types), preserve_index=False)
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


def read_parquet_bytes(data: bytes) -> pd.DataFrame:
    df = pq.read_table(io.BytesIO(data)).to_pandas(date_as_object=False)
    for col in df.columns:  # Arrow dates come back as datetime64[ms]; the workshop uses [ns]
        if pd.api.types.is_datetime64_any_dtype(df[col]):
            df[col] = df[col].astype("datetime64[ns]")
    return df


def write_table(
    store: S3Store,
    settings: Settings,
    name: str,
    df: pd.DataFrame,
    types: dict[str, str],
    stage: str,
    source: dict[str, Any] | None = None,
    description: str = "",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``df`` as Parquet to ``{prefix}/{stage}/{run-id}/{name}.parquet`` and register it."""
    key = settings.key(stage, f"{name}.parquet")
    store.put_bytes(key, parquet_bytes(df, types), "application/vnd.apache.parquet")
    return register(store, settings, name, df, types, key, "parquet", stage, source, description, extra)


def register(
    store: S3Store,
    settings: Settings,
    name: str,
    df: pd.DataFrame,
    types: dict[str, str],
    key: str,
    fmt: str,
    stage: str,
    source: dict[str, Any] | None = None,
    description: str = "",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write a Glue-shaped table entry for the object at ``key``; returns the entry."""
    head = store.head(key)
    nulls = df.isna().sum()
    entry = {
        "Name": name,
        "DatabaseName": settings.prefix,
        "Description": description,
        "TableType": "EXTERNAL_TABLE",
        "CreateTime": datetime.now(timezone.utc).isoformat(),
        "StorageDescriptor": {
            "Location": f"s3://{settings.bucket}/{key}",
            "Columns": [
                {
                    "Name": c,
                    "Type": GLUE_TYPES[types[c]],
                    "Parameters": {"workshop_type": types[c], "nullable": str(bool(nulls[c])).lower()},
                }
                for c in df.columns
            ],
            "InputFormat": fmt,
            "Compressed": fmt == "parquet",
        },
        "Parameters": {
            "classification": fmt,
            "recordCount": int(len(df)),
            "objectKey": key,
            "objectETag": head["etag"],
            "sizeBytes": head["size"],
            "stage": stage,
            "runId": settings.run_id,
            "source": source or {},
        }
        | (extra or {}),
    }
    store.write_json(entry, entry_key(settings, name))
    return entry


def entry_key(settings: Settings, name: str) -> str:
    return settings.key("catalog", f"{name}.json")


def source_of(entry: dict[str, Any]) -> dict[str, Any]:
    """What a downstream table records about its input: location and ETag."""
    return {
        "table": entry["Name"],
        "location": entry["StorageDescriptor"]["Location"],
        "etag": entry["Parameters"]["objectETag"],
        "runId": entry["Parameters"]["runId"],
    }


def find_table(store: S3Store, settings: Settings, name: str, run_id: str | None = None) -> dict[str, Any]:
    """The catalog entry of table ``name``: from ``run_id`` if given, else the newest."""
    if run_id:
        key = Settings(**(settings.as_dict() | {"run_id": run_id})).key("catalog", f"{name}.json")
        if not store.exists(key):
            raise CatalogError(
                f"Table {name!r} is not in the catalog for run {run_id!r}. Run the stage that writes it."
            )
        return store.read_json(key)
    keys = [k for k in store.list_keys(f"{settings.prefix}/catalog/") if k.endswith(f"/{name}.json")]
    if not keys:
        raise CatalogError(
            f"Table {name!r} is not in the catalog s3://{settings.bucket}/{settings.prefix}/catalog/. "
            "Run the notebook that produces it first (see the README's stage table)."
        )
    entries = [store.read_json(k) for k in keys]
    return max(entries, key=lambda e: e["CreateTime"])


def read_table(store: S3Store, entry: dict[str, Any]) -> pd.DataFrame:
    """Load a catalogued table, checking it is the object the entry describes."""
    key = entry["Parameters"]["objectKey"]
    if store.head(key)["etag"] != entry["Parameters"]["objectETag"]:
        raise CatalogError(f"s3://{store.bucket}/{key} changed after it was catalogued (ETag differs).")
    if entry["Parameters"]["classification"] == "csv":
        return store.read_csv(key, dtype=str)
    return read_parquet_bytes(store.get_bytes(key))


def column_types(entry: dict[str, Any]) -> dict[str, str]:
    return {c["Name"]: c["Parameters"]["workshop_type"] for c in entry["StorageDescriptor"]["Columns"]}


def list_tables(store: S3Store, settings: Settings) -> pd.DataFrame:
    rows = []
    for key in store.list_keys(f"{settings.prefix}/catalog/"):
        e = store.read_json(key)
        rows.append(
            {
                "table": e["Name"],
                "run_id": e["Parameters"]["runId"],
                "stage": e["Parameters"]["stage"],
                "rows": e["Parameters"]["recordCount"],
                "format": e["Parameters"]["classification"],
                "location": e["StorageDescriptor"]["Location"],
                "created": e["CreateTime"],
            }
        )
    return pd.DataFrame(rows).sort_values("created").reset_index(drop=True) if rows else pd.DataFrame(rows)


def lineage(store: S3Store, settings: Settings, entry: CatalogEntry, stop_at_stage: str | None = None) -> CatalogEntry:
    """Follow ``source`` from ``entry`` up to the raw table (or the first entry of ``stop_at_stage``)."""
    for _ in range(20):
        if stop_at_stage and entry["Parameters"].get("stage") == stop_at_stage:
            return entry
        src = entry["Parameters"].get("source") or {}
        if "table" not in src or "runId" not in src:
            if stop_at_stage:
                break
            return entry
        entry = find_table(store, settings, src["table"], run_id=src["runId"])
    raise CatalogError(
        f"The lineage of table {entry['Name']!r} has no {stop_at_stage or 'raw'} table; run the earlier notebooks first."
    )
