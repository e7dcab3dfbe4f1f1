"""Why the fast cleaning engine is Polars: the job's costliest step on Polars and on DuckDB, same rows.

The step is ResolveChoice of the default job (the bulk of the job's time): read the generated CSV
as text, strip every value, coerce the numeric columns (currency symbols, thousands separators,
'(12)' for -12), the dates (five formats, first match wins) and the booleans, and write Parquet.
Each engine runs in its own process on the same file, its time and peak memory printed.

    .venv/bin/python benchmarks/bench_engine_choice.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_cleaning import generated_csv, run_in_child  # noqa: E402

CHILD = r"""
import json, resource, sys, time
import yaml
from workshop_utils import cleaning
engine, source, out = sys.argv[1:4]
job = cleaning.load_job(None)
mappings = job["steps"][0]["ApplyMapping"]["mappings"]
formats = job["steps"][1]["ResolveChoice"]["date_formats"]
start = time.perf_counter()
if engine == "polars":
    import polars as pl
    from workshop_utils import cleaning_polars as cp
    lf = pl.scan_csv(source, infer_schema=False, null_values=cp.NA_STRINGS)
    layers = {m["target"]: cp.coerce_layers(m["source"], pl.Utf8, m["type"], formats, False) for m in mappings}
    lf = lf.with_columns(t for t, _, _ in layers.values())
    lf = lf.with_columns(n for _, n, _ in layers.values() if n is not None)
    lf.select(typed.alias(c) for c, (_, _, typed) in layers.items()).sink_parquet(out)
else:
    import duckdb
    def text(c):
        return f"NULLIF(TRIM(\"{c}\"), '')"
    def number(c):
        t = f"regexp_replace(regexp_replace({text(c)}, '[\\s$€£%]', '', 'g'), '^\\((.*)\\)$', '-\\1')"
        return f"TRY_CAST(replace({t}, ',', '') AS DOUBLE)"
    exprs = []
    for m in mappings:
        c, t = m["source"], m["type"]
        if t in ("string", "category"):
            e = text(c)
        elif t == "float":
            e = number(c)
        elif t == "int":
            e = f"CASE WHEN {number(c)} = round({number(c)}) THEN CAST({number(c)} AS BIGINT) END"
        elif t == "bool":
            e = f"CASE WHEN lower({text(c)}) IN ('true','t','yes','y','1') THEN true WHEN lower({text(c)}) IN ('false','f','no','n','0') THEN false END"
        else:
            e = "CAST(try_strptime(" + text(c) + ", [" + ", ".join(repr(f) for f in formats) + "]) AS DATE)"
        exprs.append(f"{e} AS \"{m['target']}\"")
    duckdb.sql(f"COPY (SELECT {', '.join(exprs)} FROM read_csv('{source}', all_varchar=true, header=true)) "
               f"TO '{out}' (FORMAT parquet)")
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "own_peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    source = generated_csv(args.rows)
    print(f"ResolveChoice of the default job on {args.rows:,} rows (CSV text in, typed Parquet out), 2 runs each")
    results = {}
    for engine in ("polars", "duckdb", "polars", "duckdb"):
        with tempfile.TemporaryDirectory() as tmp:
            report, _, peak = run_in_child(CHILD, engine, str(source), str(Path(tmp) / "out.parquet"))
        results.setdefault(engine, []).append((report["seconds"], peak))
        print(f"  {engine:7} {report['seconds']:6.1f} s   peak {peak:.2f} GiB")
    best = {e: min(s for s, _ in runs) for e, runs in results.items()}
    print(
        f"best of two: Polars {best['polars']:.1f} s, DuckDB {best['duckdb']:.1f} s; ratio DuckDB/Polars "
        f"{best['duckdb'] / best['polars']:.2f}"
    )


if __name__ == "__main__":
    main()
