"""Fit one synthesizer on a training CSV and write synthetic rows as CSV, in its own process.

Run by compare.py with the interpreter of the environment the contender needs: the project's
.venv for ours and SDV, benchmarks/peers/.venv for smartnoise-synth (MST, AIM, DP-CTGAN; it pins
an old opacus) and DataSynthesizer (PrivBayes). Every contender reads the same metadata JSON, so
all get the same declared public domain (bounds, categories, nullability). Writes a JSON with fit
and sample seconds, peak memory of this process, the claimed epsilon and delta, what was set,
and the error if the fit failed.

    python benchmarks/contender.py --name mst --epsilon 3 --train train.csv --meta meta.json \
        --rows 36168 --out synthetic.csv --report report.json
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import sys
import tempfile
import time
import traceback
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import binning  # noqa: E402

PEERS = ("mst", "aim", "pacsynth", "privbayes", "dpctgan")
NAMES = ("ours", "ours_unmeasured", "sdv_tvae", "sdv_gaussian_copula", *PEERS)


def read_table(path: Path, meta: dict) -> pd.DataFrame:
    """A CSV written by compare.py, in the dtypes its metadata declares (the same reader scores everyone)."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=["", "nan", "NaN", "None", "<NA>", "NaT"])
    out = {}
    for name, spec in binning.modeled_columns(meta).items():
        s = raw[name] if name in raw.columns else pd.Series([None] * len(raw), dtype=object)
        kind = spec["modeled"]
        if kind == "numerical":
            out[name] = pd.to_numeric(s, errors="coerce").astype(float)
        elif kind == "datetime":
            out[name] = pd.to_datetime(s, errors="coerce", format="mixed")
        elif kind == "boolean":
            out[name] = s.str.lower().map({"true": True, "false": False, "1": True, "0": False}).astype("boolean")
        else:
            out[name] = s.astype(object)
    return pd.DataFrame(out)


def fit_ours(train: pd.DataFrame, args: argparse.Namespace, meta: dict):
    from workshop_utils.metadata import TableMetadata
    from workshop_utils.synth import DPTVAESynthesizer

    kwargs = {"epochs": args.epochs} if args.epochs else {}
    if len(train) < 1000:  # the README's setting for a small table (the automatic batch needs 500 rows)
        kwargs["batch_size"] = 64
    if args.name == "ours_unmeasured":  # the declared columns used as declared, no marginal (an option)
        kwargs["measure_declared"] = False
    synth = DPTVAESynthesizer(
        TableMetadata.from_dict(meta), epsilon=args.epsilon, delta=args.delta, progress=False, **kwargs
    )
    synth.fit(train)
    return synth.sample, synth.epsilon_spent, {"epochs": synth.epochs, "declared_measured": synth.declared_measured_}


def fit_sdv(train: pd.DataFrame, args: argparse.Namespace, meta: dict):
    """SDV 2.x, metadata detected from the data, as SDV users do."""
    from sdv.metadata import Metadata
    from sdv.single_table import GaussianCopulaSynthesizer, TVAESynthesizer

    data = train.copy()
    for c in data.columns:  # SDV predates pandas' nullable booleans
        if isinstance(data[c].dtype, pd.BooleanDtype):
            data[c] = data[c].astype(object)
    md = Metadata.detect_from_dataframes({"table": data})
    epochs = args.sdv_epochs or 300  # SDV's own default
    synth = (
        TVAESynthesizer(md, epochs=epochs, enable_gpu=False)
        if args.name == "sdv_tvae"
        else GaussianCopulaSynthesizer(md)
    )
    synth.fit({"table": data})

    def sample(n: int) -> pd.DataFrame:
        out = synth.sample(n)
        return out["table"] if isinstance(out, dict) else out

    return sample, math.inf, {"epochs": epochs} if args.name == "sdv_tvae" else {}


def fit_marginal_peer(train: pd.DataFrame, args: argparse.Namespace, meta: dict):
    """smartnoise's MST or AIM (ports of McKenna's private-pgm mechanisms) or pac-synth on the binned table.

    The codes go in through one BinTransformer per column with bins = the column's code count
    over [0, count): it maps code k to bin k and back, so smartnoise's own preprocessing spends
    nothing and reads no bounds from the rows; the domain is the public one of binning.py."""
    from snsynth import Synthesizer
    from snsynth.transform import BinTransformer, TableTransformer

    columns = binning.column_bins(meta, args.bins)
    codes = binning.encode(train, columns)
    identity = TableTransformer([BinTransformer(bins=c.size, lower=0, upper=c.size) for c in columns])
    kwargs: dict = {}
    if args.name == "aim":
        # AIM's 1-way step spends 0.9 rho x columns / rounds, so rounds below the column count overspend
        kwargs = {"rounds": args.aim_rounds_per_column * len(columns), "max_model_size": args.aim_max_model_size}
    if args.name == "pacsynth":
        return fit_pacsynth(codes, columns, args)
    synth = Synthesizer.create(args.name, epsilon=args.epsilon, delta=args.delta, verbose=False, **kwargs)
    synth.fit(codes, transformer=identity, preprocessor_eps=0.0)

    def sample(n: int) -> pd.DataFrame:
        rows = synth.sample(n)
        rows = rows.to_numpy() if isinstance(rows, pd.DataFrame) else list(rows)
        frame = pd.DataFrame(rows, columns=[c.name for c in columns]).astype("int64")
        return binning.decode(frame, columns)

    settings = {"bins": args.bins, **{k: v for k, v in kwargs.items()}, "cells": [c.size for c in columns]}
    return sample, args.epsilon, settings


def fit_pacsynth(codes: pd.DataFrame, columns: list, args: argparse.Namespace):
    """Microsoft's pac-synth (Synthetic Data Showcase), DP aggregate-seeded synthesis at its defaults
    (reporting length 3), on the binned table. Codes travel as 'k<code>' text: the library reads an
    empty cell, and by default '0', as "no value". A cell it leaves empty decodes to null."""
    import pacsynth

    params = pacsynth.DpAggregateSeededParametersBuilder().reporting_length(3).epsilon(args.epsilon)
    params = params.delta(args.delta).build()
    rows = [[f"k{v}" for v in row] for row in codes.to_numpy().tolist()]
    synth = pacsynth.DpAggregateSeededSynthesizer(params)
    synth.fit(pacsynth.Dataset([list(codes.columns), *rows]))

    def sample(n: int) -> pd.DataFrame:
        out = synth.sample(n)
        frame = pd.DataFrame(out[1:], columns=out[0])[list(codes.columns)]
        null_code = {c.name: c.size - 1 if c.nullable else -1 for c in columns}
        decoded = frame.apply(lambda s: s.str[1:].replace("", None).astype(float).fillna(null_code[s.name]))
        result = binning.decode(decoded.astype("int64"), columns)
        for c in columns:  # an empty cell of a non-nullable column: null, counted against it
            result.loc[(decoded[c.name] < 0).to_numpy(), c.name] = None
        return result

    return sample, args.epsilon, {"bins": args.bins, "reporting_length": 3}


def fit_privbayes(train: pd.DataFrame, args: argparse.Namespace, meta: dict):
    """DataSynthesizer's correlated mode (PrivBayes, k=2 as in its tutorial) with the declared
    domain passed in (numerical_attribute_ranges, categorical domains), and OS randomness for
    its noise (its default seed=0 would make the noise replayable)."""
    import DataSynthesizer.DataGenerator
    import numpy as np
    from DataSynthesizer.DataDescriber import DataDescriber
    from DataSynthesizer.DataGenerator import DataGenerator

    # its generator eval()s the repr of parent values, which NumPy 2 writes as np.int64(0): give it np
    DataSynthesizer.DataGenerator.np = np

    specs = binning.modeled_columns(meta)
    data = train.copy()
    ranges, domains, categorical, datatypes = {}, {}, {}, {}
    yes_no = {True: "yes", False: "no"}  # its type guessing calls str.lower on pandas' parsed True/False
    for name, spec in specs.items():
        kind = spec["modeled"]
        categorical[name] = kind in ("categorical", "boolean")
        # declared, not guessed: its guesses read 20 sampled rows (and would call codes integers)
        datatypes[name] = "String" if categorical[name] else "Integer" if spec.get("integer") else "Float"
        if kind == "datetime":  # days since 1970: DataSynthesizer's own datetime parsing guesses formats
            data[name] = binning.days(data[name])
        if kind == "boolean":
            domains[name] = list(yes_no.values())
            data[name] = data[name].astype(object).map(lambda v: v if pd.isna(v) else yes_no[bool(v)])
        elif categorical[name]:
            domains[name] = [str(c) for c in spec["categories"]]
            data[name] = data[name].astype(object).map(lambda v: v if pd.isna(v) else str(v))
        else:
            ranges[name] = list(spec["bounds"])
    work = Path(tempfile.mkdtemp())
    data.to_csv(work / "train.csv", index=False)
    (work / "domains.json").write_text(json.dumps(domains))
    describer = DataDescriber(histogram_bins=args.bins, category_threshold=max(map(len, domains.values()), default=20))
    describer.describe_dataset_in_correlated_attribute_mode(
        dataset_file=str(work / "train.csv"),
        epsilon=args.epsilon,
        k=2,
        attribute_to_datatype=datatypes,
        attribute_to_is_categorical=categorical,
        categorical_attribute_domain_file=str(work / "domains.json"),
        numerical_attribute_ranges=ranges,
        seed=None,
    )
    describer.save_dataset_description_to_file(str(work / "description.json"))

    def sample(n: int) -> pd.DataFrame:
        generator = DataGenerator()
        generator.generate_dataset_in_correlated_attribute_mode(n, str(work / "description.json"), seed=None)
        out = generator.synthetic_dataset
        for name, spec in specs.items():
            if spec["modeled"] == "boolean":
                out[name] = out[name].map({"yes": True, "no": False})
            if spec["modeled"] == "datetime":
                out[name] = binning.EPOCH + pd.to_timedelta(pd.to_numeric(out[name], errors="coerce"), unit="D")
        return out

    return sample, args.epsilon, {"k": 2, "histogram_bins": args.bins}


def fit_dpctgan(train: pd.DataFrame, args: argparse.Namespace, meta: dict):
    from snsynth import Synthesizer

    specs = binning.modeled_columns(meta)
    data = train.copy()
    categorical = [n for n, s in specs.items() if s["modeled"] in ("categorical", "boolean")]
    for n in categorical:
        data[n] = data[n].astype(str)
    for n, s in specs.items():
        if s["modeled"] == "datetime":
            data[n] = binning.days(data[n])
    continuous = [n for n in specs if n not in categorical]
    epochs = args.epochs or 20
    synth = Synthesizer.create("dpctgan", epsilon=args.epsilon, verbose=False, epochs=epochs)
    synth.fit(data, categorical_columns=categorical, continuous_columns=continuous, preprocessor_eps=0.1 * args.epsilon)
    return synth.sample, args.epsilon, {"epochs": epochs, "preprocessor_eps": 0.1 * args.epsilon}


FITS = {
    "ours": fit_ours,
    "ours_unmeasured": fit_ours,
    "sdv_tvae": fit_sdv,
    "sdv_gaussian_copula": fit_sdv,
    "mst": fit_marginal_peer,
    "aim": fit_marginal_peer,
    "pacsynth": fit_marginal_peer,
    "privbayes": fit_privbayes,
    "dpctgan": fit_dpctgan,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", required=True, choices=NAMES)
    parser.add_argument("--epsilon", type=float, default=None)
    parser.add_argument("--delta", type=float, default=None)
    parser.add_argument("--epochs", type=int, default=None, help="ours / SDV TVAE / DP-CTGAN (default: their own)")
    parser.add_argument("--sdv-epochs", type=int, default=None, help="SDV TVAE (default: SDV's 300)")
    parser.add_argument("--bins", type=int, default=32)
    parser.add_argument("--aim-rounds-per-column", type=int, default=16, help="AIM's default: 16")
    parser.add_argument("--aim-max-model-size", type=float, default=80)
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--meta", type=Path, required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True)
    args = parser.parse_args()
    meta = json.loads(args.meta.read_text())
    report: dict = {"name": args.name, "epsilon": args.epsilon, "delta": args.delta}
    try:
        train = read_table(args.train, meta)
        start = time.perf_counter()
        sample, claimed, settings = FITS[args.name](train, args, meta)
        report["fit_s"] = time.perf_counter() - start
        start = time.perf_counter()
        synthetic = sample(args.rows)
        report["sample_s"] = time.perf_counter() - start
        synthetic.to_csv(args.out, index=False)
        report["claimed_epsilon"] = claimed if math.isfinite(claimed) else None
        report["settings"] = settings
    except Exception as exc:  # recorded in the results table, never hidden
        report["error"] = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    report["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    args.report.write_text(json.dumps(report, default=str))
    sys.exit(1 if "error" in report else 0)


if __name__ == "__main__":
    main()
