"""Table metadata for the synthesizer: each column's role, and what the data owner declares public.

Roles (like AWS Clean Rooms ML's column classification):
``categorical``, ``numerical`` (int or float), ``datetime``, ``boolean``, ``target``
(exactly one column at most; ``task`` is classification or regression), ``id`` (not
modeled; fresh surrogate ids on output) and ``excluded`` (not modeled; null on output).

Bounds and category lists set here are **declared public**: the synthesizer uses them
without spending privacy budget. Anything not declared is estimated under DP.

What the synthesizer can output (its *support*) comes from this metadata only, never from the
values: every column is nullable unless declared otherwise (``set_nullable``), and a numeric
column is integer only when its declared type says so. pandas picks dtypes from the values
(``read_csv`` turns int64 into float64 and bool into object when one null appears), so
``detect`` reads a numpy int or float dtype as a real-valued number and a numpy bool as a
category; pass the declared schema (``types=``, e.g. a catalog's column types) or use pandas'
nullable dtypes (``Int64``, ``boolean``) to get integers and booleans.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

ROLES = ("categorical", "numerical", "datetime", "boolean", "target", "id", "excluded")
MODELED = ("categorical", "numerical", "datetime", "boolean", "target")
TASKS = ("classification", "regression")


def _looks_like_id(name: str) -> bool:
    """customer_id, ID, CustomerID, account-uuid, record key: identifiers by name (public schema)."""
    return bool(re.search(r"(^|[_\s\-])(id|uuid|guid|key)$", name.lower()) or re.search(r"[a-z]ID$", name))


class MetadataError(ValueError):
    """Metadata and data disagree, or a setting is invalid; the message says how to fix it."""


@dataclass
class ColumnMeta:
    role: str
    kind: str = "categorical"  # how a target is modeled: categorical, boolean or numerical
    integer: bool = False  # numerical: round outputs to integers; datetime: whole days (a date, no time)
    bounds: list[float] | None = None  # declared public [low, high]
    categories: list[Any] | None = None  # declared public category list
    task: str | None = None  # target only
    nullable: bool = True  # may the column be null? Declared, never read from the data
    above: str | None = None  # declared: never below this column in any row (modeled as the gap from it)
    parent: str | None = None  # declared: each value occurs only under the values of this column it has

    def modeled_kind(self) -> str:
        """categorical, boolean, numerical or datetime: how the column is encoded."""
        return self.kind if self.role == "target" else self.role


@dataclass
class TableMetadata:
    columns: dict[str, ColumnMeta] = field(default_factory=dict)

    # -- building --------------------------------------------------------------------------------

    @classmethod
    def detect(cls, df: pd.DataFrame, types: dict[str, str] | None = None) -> TableMetadata:
        """Propose roles from the schema only (declared ``types``, else dtypes that do not depend
        on whether a null is present, and column names), never from the values, so the proposal
        itself reveals nothing about the rows. Every column is proposed nullable. Review and edit
        before fitting: free-text columns, for example, are better ``excluded``.

        ``types`` maps columns to workshop types (string, int, float, bool, date, timestamp,
        category), as the catalog and the cleaning job declare them. A ``timestamp`` keeps its time of
        day (to the second); a ``date``, and a datetime column with no declared type, is whole days
        (``set_integer(column, False)`` makes it a timestamp)."""
        if df.shape[1] == 0:
            raise MetadataError("Cannot detect metadata of a table with no columns.")
        unknown = sorted(set(types or {}) - set(df.columns))
        if unknown:
            raise MetadataError(f"types names column(s) {unknown} that the table does not have.")
        cols: dict[str, ColumnMeta] = {}
        for name in df.columns:
            declared = (types or {}).get(name)
            cols[name] = (
                ColumnMeta("id") if _looks_like_id(str(name)) else _from_type(declared) or _from_dtype(df[name])
            )
        return cls(cols)

    def set_role(self, column: str, role: str, task: str | None = None) -> TableMetadata:
        self._require(column)
        if role not in ROLES:
            raise MetadataError(f"Role {role!r} for {column!r} is not one of {', '.join(ROLES)}.")
        meta = self.columns[column]
        if role == "target":
            if task not in TASKS:
                raise MetadataError(f"Target {column!r} needs task='classification' or task='regression'.")
            for other, m in self.columns.items():
                if other != column and m.role == "target":
                    raise MetadataError(f"{other!r} is already the target; set its role first (one target only).")
            kind = meta.modeled_kind() if meta.role != "target" else meta.kind
            if task == "regression":
                kind = "numerical"
            elif kind == "numerical":
                kind = "categorical"
            meta.kind, meta.task = kind, task
        meta.role = role
        return self

    def set_bounds(self, column: str, low: float, high: float) -> TableMetadata:
        """Declare public bounds; values outside are clipped to them before training."""
        self._require(column)
        if self.columns[column].modeled_kind() == "datetime":  # dates -> days since 1970
            low, high = ((pd.Timestamp(v) - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1) for v in (low, high))
        if not (pd.notna(low) and pd.notna(high) and float(low) < float(high)):
            raise MetadataError(f"Bounds for {column!r} need low < high, got ({low}, {high}).")
        if self.columns[column].modeled_kind() not in ("numerical", "datetime"):
            raise MetadataError(
                f"Bounds apply to numerical or datetime columns; {column!r} is {self.columns[column].role}."
            )
        self.columns[column].bounds = [float(low), float(high)]
        return self

    def set_nullable(self, column: str, nullable: bool) -> TableMetadata:
        """Declare whether the column may be null; a non-nullable column never gets a null in the output
        (and fit() refuses data that has one)."""
        self._require(column)
        self.columns[column].nullable = bool(nullable)
        return self

    def set_integer(self, column: str, integer: bool = True) -> TableMetadata:
        """Declare a numerical column integer-valued (outputs are rounded), or a datetime column a date
        (whole days; a timestamp keeps its time of day to the second)."""
        self._require(column)
        if self.columns[column].modeled_kind() not in ("numerical", "datetime"):
            raise MetadataError(
                f"Only numerical or datetime columns can be integer; {column!r} is {self.columns[column].role}."
            )
        self.columns[column].integer = bool(integer)
        return self

    def set_inequality(self, low: str, high: str) -> TableMetadata:
        """Declare that ``high`` is never below ``low`` in a row (a drop-off after its pick-up, a
        discharge after its admission). The synthesizer then models ``high`` as its gap from ``low``
        and outputs ``low + max(gap, 0)``: every synthetic row keeps the rule, and the pair's
        relation is learned as one number. A rule of the schema, declared, never read from the rows;
        ``high``'s declared bounds (if any) still clip it. ``set_inequality(None, high)`` removes it."""
        self._require(high)
        if low is None:
            self.columns[high].above = None
            return self
        self._require(low)
        problem = self._inequality_problem(low, high)
        if problem:
            raise MetadataError(f"Cannot declare {high!r} >= {low!r}: {problem}.")
        self.columns[high].above = low
        return self

    def set_hierarchy(self, parent: str, child: str) -> TableMetadata:
        """Declare that each value of ``child`` occurs only under the values of ``parent`` it has in the
        data (a zone within its borough, a city within its state): no synthetic row then puts a named
        child under another parent. Both are categorical (not the target), and the child's categories are
        found under DP (none declared); a parent may have its own parent. A rule of the schema, declared,
        never read from the rows. ``set_hierarchy(None, child)`` removes it (see ``hierarchies``)."""
        self._require(child)
        if parent is None:
            self.columns[child].parent = None
            return self
        self._require(parent)
        problem = self._hierarchy_problem(parent, child)
        if problem:
            raise MetadataError(f"Cannot declare {child!r} within {parent!r}: {problem}.")
        self.columns[child].parent = parent
        return self

    def _hierarchy_problem(self, parent: str, child: str) -> str | None:
        pa, ch = self.columns[parent], self.columns[child]
        not_categorical = [c for c, m in ((parent, pa), (child, ch)) if m.role != "categorical"]
        if not_categorical:
            roles = ", ".join(f"{c!r} is {self.columns[c].role}" for c in not_categorical)
            return f"both must be categorical columns (not the target), and {roles}"
        if ch.categories is not None:
            return (
                f"{child!r} has declared categories; a child's values are kept as (parent, child) pairs found "
                f"under DP, so drop its list (meta.columns[{child!r}].categories = None) or the hierarchy"
            )
        up, seen = parent, {child}
        while up is not None:
            if up in seen:
                return f"{parent!r} is already under {child!r} (a cycle)"
            seen.add(up)
            up = self.columns[up].parent if up in self.columns else None
        return None

    def _inequality_problem(self, low: str, high: str) -> str | None:
        lo, hi = self.columns[low], self.columns[high]
        if low == high:
            return "a column cannot be its own lower column"
        if hi.role not in ("numerical", "datetime"):
            return f"{high!r} is {hi.role}; only a numerical or datetime column (not the target) can be the higher one"
        if lo.role not in MODELED or lo.modeled_kind() != hi.modeled_kind():
            return (
                f"{low!r} must be a modeled column of the same kind as {high!r} ({hi.modeled_kind()}), "
                f"and it is {lo.role}" + (f" ({lo.modeled_kind()})" if lo.role in MODELED else "")
            )
        if not hi.nullable and lo.nullable:
            return f"{high!r} is declared never null, so {low!r} must be too (set_nullable({low!r}, False))"
        if lo.above is not None:
            return (
                f"{low!r} is itself declared >= {lo.above!r}; chains are not supported, declare both from {lo.above!r}"
            )
        higher = [c for c, m in self.columns.items() if m.above == high]
        if higher:
            return f"{higher} are declared >= {high!r}; chains are not supported"
        return None

    def set_categories(self, column: str, categories: list[Any]) -> TableMetadata:
        """Declare the public category list; other values become the 'other' category."""
        self._require(column)
        if not categories:
            raise MetadataError(f"Category list for {column!r} is empty.")
        self.columns[column].categories = list(categories)
        return self

    # -- checks ---------------------------------------------------------------------------------

    def _require(self, column: str) -> None:
        if column not in self.columns:
            raise MetadataError(f"Column {column!r} is not in the metadata; columns are {', '.join(self.columns)}.")

    @property
    def target(self) -> str | None:
        return next((c for c, m in self.columns.items() if m.role == "target"), None)

    @property
    def modeled(self) -> list[str]:
        return [c for c, m in self.columns.items() if m.role in MODELED]

    def validate(self, df: pd.DataFrame, require_target: bool = False) -> None:
        unknown = [c for c in self.columns if c not in df.columns]
        if unknown:
            raise MetadataError(
                f"Metadata names column(s) {unknown} that the table does not have; "
                f"the table has {list(df.columns)}. Re-detect or drop them from the metadata."
            )
        undeclared = [c for c in df.columns if c not in self.columns]
        if undeclared:
            raise MetadataError(f"Column(s) {undeclared} have no metadata; set their role (or 'excluded').")
        if require_target and self.target is None:
            raise MetadataError("No target column: meta.set_role('<column>', 'target', task='classification').")
        if self.target is not None and df[self.target].isna().all():
            raise MetadataError(f"Target {self.target!r} has no values.")
        if not self.modeled:
            raise MetadataError("No column to model: every column is id or excluded.")
        for high, m in self.columns.items():
            problem = m.above is not None and self._inequality_problem(m.above, high)
            if problem:
                raise MetadataError(f"The declared rule {high!r} >= {m.above!r} no longer holds: {problem}.")
        for child, m in self.columns.items():
            problem = m.parent is not None and (
                f"{m.parent!r} is not in the metadata"
                if m.parent not in self.columns
                else self._hierarchy_problem(m.parent, child)
            )
            if problem:
                raise MetadataError(f"The declared hierarchy {child!r} within {m.parent!r} no longer holds: {problem}.")
        declared_not_null = [c for c in self.modeled if not self.columns[c].nullable and df[c].isna().any()]
        if declared_not_null:
            raise MetadataError(
                f"Column(s) {declared_not_null} are declared not nullable but have missing values; "
                "drop or fill those rows in the cleaning job, or declare the column nullable."
            )

    # -- serialization --------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": {
                c: {k: v for k, v in asdict(m).items() if v != _DEFAULTS[k] or k == "role"}
                for c, m in self.columns.items()
            }
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TableMetadata:
        try:
            cols = {c: ColumnMeta(**spec) for c, spec in data["columns"].items()}
        except (KeyError, TypeError) as exc:
            raise MetadataError(
                f"Malformed metadata ({exc}); expected {{'columns': {{name: {{'role': ...}}}}}}."
            ) from None
        for c, m in cols.items():
            if m.role not in ROLES:
                raise MetadataError(f"Role {m.role!r} for {c!r} is not one of {', '.join(ROLES)}.")
        return cls(cols)

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=2, default=str)
        if path is not None:
            Path(path).write_text(text)
        return text

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> TableMetadata:
        path = Path(text_or_path)
        text = path.read_text() if path.suffix == ".json" and path.exists() else str(text_or_path)
        return cls.from_dict(json.loads(text))

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"column": c, **asdict(m)} for c, m in self.columns.items()])

    # -- SDV ----------------------------------------------------------------------------------

    def to_sdv_dict(self, table_name: str = "table") -> dict[str, Any]:
        """SDV's ``Metadata`` JSON (spec V1) for the columns SDV models: ids and modeled columns
        (SDV has no 'excluded' role, so excluded columns are left out; it has no target either)."""
        columns: dict[str, dict[str, Any]] = {}
        for name, m in self.columns.items():
            if m.role == "excluded":
                continue
            sdtype = "id" if m.role == "id" else m.modeled_kind()
            columns[name] = {"sdtype": sdtype}  # SDV 2 ignores computer_representation: integer-ness stays ours
        table: dict[str, Any] = {"columns": columns}
        ids = [c for c, m in self.columns.items() if m.role == "id"]
        if ids:
            table["primary_key"] = ids[0]
        return {"METADATA_SPEC_VERSION": "V1", "tables": {table_name: table}, "relationships": []}

    @classmethod
    def from_sdv_dict(cls, data: dict[str, Any], table_name: str | None = None) -> TableMetadata:
        """Roles from SDV's ``Metadata`` JSON (V1, one table, or ``table_name``); SDV's other sdtypes
        (email, address, ...) are personal data and become ``excluded``. SDV 1's
        ``computer_representation`` Int* marks an integer column."""
        tables = data.get("tables") or {}
        if not tables:
            raise MetadataError("SDV metadata has no tables.")
        if table_name is None and len(tables) != 1:
            raise MetadataError(f"SDV metadata has tables {list(tables)}: say which one with table_name=.")
        table = tables[table_name] if table_name else next(iter(tables.values()))
        roles = {"categorical", "numerical", "datetime", "boolean", "id"}
        cols = {}
        for name, spec in table.get("columns", {}).items():
            sdtype = spec.get("sdtype")
            integer = sdtype == "numerical" and str(spec.get("computer_representation", "")).startswith(("Int", "UInt"))
            cols[name] = ColumnMeta(sdtype if sdtype in roles else "excluded", integer=integer)
        return cls(cols)


_DEFAULTS = asdict(ColumnMeta("categorical"))
_TYPE_ROLES = {
    "int": ColumnMeta("numerical", integer=True),
    "float": ColumnMeta("numerical"),
    "bool": ColumnMeta("boolean"),
    "date": ColumnMeta("datetime", integer=True),
    "timestamp": ColumnMeta("datetime"),
    "category": ColumnMeta("categorical"),
    "string": ColumnMeta("categorical"),
}


def types_from_dtypes(df: pd.DataFrame) -> dict[str, str]:
    """Workshop types read off ``df``'s dtypes (int64 -> int, bool -> bool, ...), to pass as
    ``detect(types=...)`` **only** when those dtypes are the documented schema of the table (a
    public dataset's data dictionary says so), not merely what pandas inferred from the values."""
    out = {}
    for col in df.columns:
        dtype = df[col].dtype
        if pd.api.types.is_bool_dtype(dtype):
            out[col] = "bool"
        elif pd.api.types.is_integer_dtype(dtype):
            out[col] = "int"
        elif pd.api.types.is_float_dtype(dtype):
            out[col] = "float"
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            out[col] = "timestamp"
    return out


def _from_type(declared: str | None) -> ColumnMeta | None:
    if declared is None:
        return None
    if declared not in _TYPE_ROLES:
        raise MetadataError(f"Unknown declared type {declared!r}; use one of {', '.join(_TYPE_ROLES)}.")
    return ColumnMeta(**asdict(_TYPE_ROLES[declared]))


def _from_dtype(s: pd.Series) -> ColumnMeta:
    """Only what a null cannot flip: numpy int/float are both real numbers, numpy bool (object
    once a null appears) a category; pandas' nullable Int64 / boolean dtypes are declarations."""
    dtype = s.dtype
    if isinstance(dtype, pd.BooleanDtype):
        return ColumnMeta("boolean")
    if pd.api.types.is_datetime64_any_dtype(dtype):  # dates or timestamps: the dtype cannot say
        return ColumnMeta("datetime", integer=True)
    if pd.api.types.is_bool_dtype(dtype):
        return ColumnMeta("categorical")
    if pd.api.types.is_numeric_dtype(dtype):
        return ColumnMeta("numerical", integer=pd.api.types.is_extension_array_dtype(dtype) and dtype.kind in "iu")
    return ColumnMeta("categorical")
