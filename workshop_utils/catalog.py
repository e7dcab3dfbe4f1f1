"""The AWS Glue Data Catalog, through boto3's ``glue`` client (moto's server locally, AWS alike).

Every stage registers what it wrote: one Glue **database per prefix**, one **table** per
dataset table, one **partition per run id**. Tables are Athena-valid: folder locations, Hadoop's
Parquet (or text/CSV) formats and SerDe, string parameters. A run's data sit in their own folder,
``{prefix}/{stage}/{run-id}/{table}/``, the partition's location. Later stages find their input by
table name (the newest partition, or one run's) with ``glue.get_partition(s)``, never by
hard-coded keys. In aws mode the same tables are queryable by Athena as they are::

    SELECT * FROM "workshop"."bank_customers_released" WHERE run_id = '<run-id>' LIMIT 10;

Inside the package an entry keeps the shape it always had (``Name``, ``StorageDescriptor``,
``Parameters`` with Python values); in Glue every parameter is a JSON string.
"""

from __future__ import annotations

import io
import json
import re
from datetime import datetime, timezone
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from botocore.exceptions import ClientError

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
FORMATS = {
    "parquet": {
        "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
    },
    "csv": {
        "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
        "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
        "SerdeInfo": {
            "SerializationLibrary": "org.apache.hadoop.hive.serde2.OpenCSVSerde",
            "Parameters": {"separatorChar": ",", "quoteChar": '"', "skip.header.line.count": "1"},
        },
    },
}
PARTITION_KEY = "run_id"

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
    """Write ``df`` as Parquet to ``{prefix}/{stage}/{run-id}/{name}/{name}.parquet`` and register it."""
    key = settings.key(stage, name, f"{name}.parquet")
    store.put_bytes(key, parquet_bytes(df, types), "application/vnd.apache.parquet")
    return register(store, settings, name, df, types, key, "parquet", stage, source, description, extra)


def database_name(prefix: str) -> str:
    """The Glue database of a prefix (Athena wants lowercase letters, digits and underscores)."""
    return re.sub(r"[^a-z0-9_]", "_", prefix.lower())


def folder_of(key: str) -> str:
    return key.rsplit("/", 1)[0] + "/"


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
) -> CatalogEntry:
    """Register the object at ``key`` (alone in its folder) as the ``run_id`` partition of Glue table
    ``name`` in the prefix's database; returns the entry."""
    head = store.head(key)
    nulls = df.isna().sum()
    database = database_name(settings.prefix)
    columns = [
        {
            "Name": c,
            "Type": GLUE_TYPES[types[c]],
            "Parameters": {"workshop_type": types[c], "nullable": str(bool(nulls[c])).lower()},
        }
        for c in df.columns
    ]
    location = f"s3://{settings.bucket}/{folder_of(key)}"
    parameters = {
        "classification": fmt,
        "recordCount": int(len(df)),
        "objectKey": key,
        "objectETag": head["etag"],
        "sizeBytes": head["size"],
        "stage": stage,
        "runId": settings.run_id,
        "source": source or {},
        "description": description,
        "createTime": datetime.now(timezone.utc).isoformat(),
    } | (extra or {})
    _ensure_database(store, database)
    _ensure_table(
        store, database, name, columns, fmt, stage, description, f"s3://{settings.bucket}/{settings.prefix}/{stage}/"
    )
    descriptor = {"Columns": columns, "Location": location, "Compressed": fmt == "parquet", **FORMATS[fmt]}
    partition = {
        "Values": [settings.run_id],
        "StorageDescriptor": descriptor,
        "Parameters": {k: json.dumps(v, default=str) for k, v in parameters.items()},
    }
    try:
        store.glue.create_partition(DatabaseName=database, TableName=name, PartitionInput=partition)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "AlreadyExistsException":
            existing = existing_entry(store, settings, name)
            if existing is not None and existing["Parameters"]["objectETag"] == head["etag"]:
                return existing  # a resumed run registering the same object again
            raise CatalogError(
                f"Table {name!r} already has a partition for run {settings.run_id!r}: catalog entries are write-once; "
                "start a new run."
            ) from None
        raise CatalogError(f"Glue refused to register {name!r}: {exc}") from None
    return _entry(database, name, partition | {"CreationTime": parameters["createTime"]})


def _ensure_database(store: S3Store, database: str) -> None:
    try:
        store.glue.create_database(
            DatabaseInput={"Name": database, "Description": "Workshop tables (one partition per run id)."}
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "AlreadyExistsException":
            raise CatalogError(f"Glue refused to create database {database!r}: {exc}") from None


def _ensure_table(
    store: S3Store, database: str, name: str, columns: list[dict], fmt: str, stage: str, description: str, location: str
) -> None:
    table = {
        "Name": name,
        "Description": description[:2048],
        "TableType": "EXTERNAL_TABLE",
        "PartitionKeys": [{"Name": PARTITION_KEY, "Type": "string"}],
        "Parameters": {"classification": fmt, "workshop_stage": stage, "EXTERNAL": "TRUE"},
        "StorageDescriptor": {"Columns": columns, "Location": location, "Compressed": fmt == "parquet", **FORMATS[fmt]},
    }
    try:
        store.glue.create_table(DatabaseName=database, TableInput=table)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "AlreadyExistsException":
            raise CatalogError(f"Glue refused to create table {database}.{name}: {exc}") from None
        # a later run may have other columns: the table shows the newest schema, each partition its own
        store.glue.update_table(DatabaseName=database, TableInput=table)


def _entry(database: str, name: str, partition: dict[str, Any]) -> CatalogEntry:
    """The package's view of a Glue partition: parameters decoded back to Python values."""
    parameters = {k: json.loads(v) for k, v in partition["Parameters"].items()}
    created = parameters.get("createTime") or str(partition.get("CreationTime", ""))
    return {
        "Name": name,
        "DatabaseName": database,
        "Description": parameters.get("description", ""),
        "TableType": "EXTERNAL_TABLE",
        "CreateTime": created,
        "StorageDescriptor": partition["StorageDescriptor"],
        "Parameters": parameters,
    }


def existing_entry(store: S3Store, settings: Settings, name: str) -> CatalogEntry | None:
    """This run's entry of table ``name``, if a (resumed) run already wrote it."""
    try:
        return find_table(store, settings, name, run_id=settings.run_id)
    except CatalogError:
        return None


def source_of(entry: CatalogEntry) -> dict[str, Any]:
    """What a downstream table records about its input: location and ETag."""
    return {
        "table": entry["Name"],
        "location": entry["StorageDescriptor"]["Location"],
        "etag": entry["Parameters"]["objectETag"],
        "runId": entry["Parameters"]["runId"],
    }


def find_table(store: S3Store, settings: Settings, name: str, run_id: str | None = None) -> CatalogEntry:
    """The catalog entry of table ``name``: from ``run_id`` if given, else the newest run's."""
    database = database_name(settings.prefix)
    here = f"s3://{settings.bucket}/"  # one catalog can describe several buckets: only this one's data
    try:
        if run_id:
            found = store.glue.get_partition(DatabaseName=database, TableName=name, PartitionValues=[run_id])
            partitions = [found["Partition"]]
        else:
            partitions = []
            for page in store.glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=name):
                partitions += page["Partitions"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "EntityNotFoundException":
            raise CatalogError(f"Glue refused to read table {database}.{name}: {exc}") from None
        partitions = []
    partitions = [p for p in partitions if p["StorageDescriptor"]["Location"].startswith(here)]
    if not partitions:
        where = f"for run {run_id!r}" if run_id else f"in Glue database {database!r}"
        raise CatalogError(
            f"Table {name!r} is not in the catalog {where}. Run the notebook that produces it first "
            "(see the README's stage table)."
        )
    entries = [_entry(database, name, p) for p in partitions]
    return max(entries, key=lambda e: e["CreateTime"])


def read_table(store: S3Store, entry: CatalogEntry) -> pd.DataFrame:
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
    """Every table and run of the prefix's Glue database."""
    database = database_name(settings.prefix)
    rows = []
    try:
        tables = [
            t
            for page in store.glue.get_paginator("get_tables").paginate(DatabaseName=database)
            for t in page["TableList"]
        ]
    except ClientError:
        tables = []
    for table in tables:
        for page in store.glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=table["Name"]):
            for p in page["Partitions"]:
                e = _entry(database, table["Name"], p)
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
