"""Fit one synthesizer on a training CSV and write synthetic rows as CSV, in its own process.

Run by compare.py with the interpreter of the environment the contender needs: the
project's .venv for ours and SDV, benchmarks/peers/.venv for smartnoise-synth (it pins an
old opacus, so it never shares an environment with the project). Imports only what the
chosen contender needs. Writes a JSON with fit and sample seconds, peak memory of this
process, the claimed epsilon, and the error if the fit failed.

    python benchmarks/contender.py --name mst --epsilon 3 --train train.csv --schema schema.json \
        --rows 36168 --out synthetic.csv --report report.json
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import sys
import time
import traceback
from pathlib import Path

import pandas as pd


def read_train(path: Path, schema: dict[str, str]) -> pd.DataFrame:
    df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    for col, kind in schema.items():
        if kind == "integer":
            df[col] = pd.to_numeric(df[col]).astype("Int64")
        elif kind == "float":
            df[col] = pd.to_numeric(df[col]).astype("float64")
        elif kind == "boolean":
            df[col] = df[col].map({"True": True, "False": False}).astype("boolean")
        else:
            df[col] = df[col].astype("category")
    return df


def numpy_types(df: pd.DataFrame) -> pd.DataFrame:
    """Plain NumPy dtypes for libraries that predate pandas' nullable ones (no nulls in this data)."""
    out = df.copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.CategoricalDtype):
            out[c] = out[c].astype(str)
        elif pd.api.types.is_bool_dtype(out[c]):
            out[c] = out[c].astype(bool)
        elif pd.api.types.is_integer_dtype(out[c]):
            out[c] = out[c].astype("int64")
    return out


def fit_ours(train: pd.DataFrame, args: argparse.Namespace, target: str):
    from workshop_utils.metadata import TableMetadata, types_from_dtypes
    from workshop_utils.synth import DPTVAESynthesizer

    meta = TableMetadata.detect(train, types=types_from_dtypes(train))  # bank-marketing's documented schema

    for col in meta.columns:  # documented: no missing values
        meta.set_nullable(col, False)
    meta.set_role(target, "target", task="classification")
    synth = DPTVAESynthesizer(meta, epsilon=args.epsilon, epochs=args.epochs, batch_size=1000, progress=False)
    synth.fit(train)
    return synth.sample, synth.epsilon_spent


def make_sdv(name: str, data: pd.DataFrame, epochs: int):
    """An SDV 2.x single-table synthesizer (metadata detected from the data, as SDV users do)."""
    from sdv.metadata import Metadata
    from sdv.single_table import GaussianCopulaSynthesizer, TVAESynthesizer

    md = Metadata.detect_from_dataframes({"table": data})
    if name == "sdv_tvae":
        return SDVTable(TVAESynthesizer(md, epochs=epochs, enable_gpu=False))
    return SDVTable(GaussianCopulaSynthesizer(md))


class SDVTable:
    """SDV 2.x single-table synthesizers take and return {table name: DataFrame}."""

    def __init__(self, synth) -> None:
        self.synth = synth

    def fit(self, data: pd.DataFrame) -> None:
        self.synth.fit({"table": data})

    def sample(self, n: int) -> pd.DataFrame:
        out = self.synth.sample(n)
        return out["table"] if isinstance(out, dict) else out


def fit_sdv(train: pd.DataFrame, args: argparse.Namespace, target: str):
    data = numpy_types(train)
    synth = make_sdv(args.name, data, args.epochs)
    synth.fit(data)
    return synth.sample, math.inf


def fit_smartnoise(train: pd.DataFrame, args: argparse.Namespace, target: str, schema: dict[str, str]):
    from snsynth import Synthesizer

    data = numpy_types(train)
    categorical = [c for c, k in schema.items() if k in ("categorical", "boolean")]
    continuous = [c for c in schema if c not in categorical]
    kwargs = {"epochs": args.epochs} if args.name == "dpctgan" else {}
    synth = Synthesizer.create(args.name, epsilon=args.epsilon, verbose=False, **kwargs)
    # The library spends preprocessor_eps on the continuous columns' bounds (from the total).
    synth.fit(data, categorical_columns=categorical, continuous_columns=continuous, preprocessor_eps=0.1 * args.epsilon)
    return synth.sample, args.epsilon


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--name", required=True, choices=["ours", "sdv_tvae", "sdv_gaussian_copula", "dpctgan", "mst", "aim"]
    )
    parser.add_argument("--epsilon", type=float, default=None)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--schema", type=Path, required=True)
    parser.add_argument("--target", default="y")
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True)
    args = parser.parse_args()
    schema = json.loads(args.schema.read_text())
    report: dict = {"name": args.name, "epsilon": args.epsilon}
    try:
        train = read_train(args.train, schema)
        start = time.perf_counter()
        if args.name == "ours":
            sample, claimed = fit_ours(train, args, args.target)
        elif args.name.startswith("sdv"):
            sample, claimed = fit_sdv(train, args, args.target)
        else:
            sample, claimed = fit_smartnoise(train, args, args.target, schema)
        report["fit_s"] = time.perf_counter() - start
        start = time.perf_counter()
        synthetic = sample(args.rows)
        report["sample_s"] = time.perf_counter() - start
        synthetic.to_csv(args.out, index=False)
        report["claimed_epsilon"] = claimed if math.isfinite(claimed) else None
    except Exception as exc:  # recorded in the results table, never hidden
        report["error"] = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    report["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    args.report.write_text(json.dumps(report))
    sys.exit(1 if "error" in report else 0)


if __name__ == "__main__":
    main()
