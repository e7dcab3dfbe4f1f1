"""The cleaning job on generated rows with the sample's dirt: pandas, Polars and local Spark side by side.

Each engine runs in its own process (so peak memory is its own), from the same CSV file to
Parquet outputs:

- pandas: ``pd.read_csv(dtype=str)`` + ``cleaning.run_job`` + Parquet (the reference engine);
- Polars: ``cleaning_polars.run_job_on_file`` (in memory below 512 MiB of CSV, streaming above);
- Spark: the compiled script on a local session (``local[*]``), its start-up timed apart.

Goals (issue 17, 2-core machine): 1M rows <= 10 s on the fast engine; 10M rows within 4 GiB
peak; local Spark on 10M rows measured. The generated CSVs are cached in ``benchmarks/.data``.

    .venv/bin/python benchmarks/bench_cleaning.py                 # 1M rows, all engines
    .venv/bin/python benchmarks/bench_cleaning.py --big 10000000  # and 10M rows (Polars, Spark)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

DATA = Path(__file__).resolve().parent / ".data"
CHUNK = 1_000_000

RUN_ENGINE = r"""
import json, resource, sys, time
from pathlib import Path
engine, source, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
start = time.perf_counter()
if engine == "pandas":
    import pandas as pd
    from workshop_utils import catalog, cleaning
    raw = pd.read_csv(source, dtype=str)
    result = cleaning.run_job(raw)
    out.mkdir(parents=True)
    (out / "table.parquet").write_bytes(catalog.parquet_bytes(result.table, result.types))
    result.quarantine.astype({"quarantine_reason": "string"}).to_parquet(out / "quarantine.parquet")
    report = result.report
elif engine == "polars":
    from workshop_utils import cleaning_polars
    report = cleaning_polars.run_job_on_file(source, None, out / "table.parquet", out / "quarantine.parquet")
else:
    from workshop_utils import cleaning_spark
    report = cleaning_spark.run_script(cleaning_spark.compile_job(None), source, out)["report"]
seconds = time.perf_counter() - start
own_peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "own_peak_kib": own_peak_kib, "rows_out": report["rows_out"], "quarantined": report["rows_quarantined"],
                  "duplicates": report["duplicates_removed"], "streaming": report.get("streaming")}))
"""

SPARK_NOOP = r"""
from pyspark.sql import SparkSession
spark = SparkSession.builder.master("local[*]").config("spark.ui.enabled", "false").getOrCreate()
spark.range(1).count()
spark.stop()
"""


GENERATE = r"""
import sys
from pathlib import Path
from workshop_utils.sample_data import generate_bank_customers
rows, chunk, path = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
with path.open("w") as f:
    for i, start in enumerate(range(0, rows, chunk)):
        generate_bank_customers(min(chunk, rows - start), seed=100 + i).to_csv(f, index=False, header=i == 0)
        print(f"  generating {path.name}: {min(start + chunk, rows):,} rows", file=sys.stderr, flush=True)
"""


def generated_csv(rows: int) -> Path:
    """The sample generator's rows (text, with its dirt), written in chunks with distinct seeds, in a
    child process: Linux keeps a process's peak RSS across fork and exec, so a big parent would
    inflate every engine's measured peak."""
    path = DATA / f"bank_customers_{rows}.csv"
    if not path.exists():
        DATA.mkdir(exist_ok=True)
        part = path.with_suffix(".part")
        subprocess.run([sys.executable, "-c", GENERATE, str(rows), str(CHUNK), str(part)], check=True)
        part.rename(path)
    return path


def tree_rss(root: int) -> int:
    """Bytes resident in ``root`` and all its descendants now (Spark's JVM is a grandchild)."""
    parents, rss = {}, {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parents[int(entry.name)], rss[int(entry.name)] = int(fields[1]), int(fields[21]) * page
            except (OSError, IndexError, ValueError):
                continue
    family, todo = set(), [root]
    while todo:
        pid = todo.pop()
        family.add(pid)
        todo += [child for child, parent in parents.items() if parent == pid and child not in family]
    return sum(rss.get(pid, 0) for pid in family)


def run_in_child(code: str, *args: str) -> tuple[dict, float, float]:
    """(printed JSON, wall seconds, peak GiB resident in the child's process tree, sampled every 0.2 s,
    or the child's own peak RSS where that is higher)."""
    env = os.environ | {"PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    peak = [0]

    def watch() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], tree_rss(proc.pid))
            time.sleep(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    out, err = (b.decode() for b in proc.communicate())
    watcher.join()
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"child failed: {err[-2000:]}")
    lines = [line for line in out.splitlines() if line.startswith("{")]
    report = json.loads(lines[-1]) if lines else {}
    return report, wall, max(peak[0] / 2**30, report.get("own_peak_kib", 0) / 2**20)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--big", type=int, default=0, help="also run Polars and Spark on this many rows")
    parser.add_argument("--engines", nargs="+", default=["pandas", "polars", "spark"])
    args = parser.parse_args()
    sizes = [(args.rows, args.engines)] + ([(args.big, [e for e in args.engines if e != "pandas"])] if args.big else [])
    print(f"{os.cpu_count()} CPU cores; peak memory: each engine's process tree (Spark: with its JVM)")
    spark_start = None
    if "spark" in args.engines:
        _, spark_start, _ = run_in_child(SPARK_NOOP)
        print(f"local Spark start-up and stop (no work): {spark_start:.1f} s")
    header = (
        f"{'rows':>12} {'engine':8} {'seconds':>8} {'rows/s':>11} {'peak GiB':>9} {'rows out':>11} {'quarantined':>11}"
    )
    results = {}
    for rows, engines in sizes:
        source = generated_csv(rows)
        print(f"\n{source.name}: {source.stat().st_size / 2**30:.2f} GiB of CSV")
        print(header)
        for engine in engines:
            with tempfile.TemporaryDirectory(dir=DATA) as tmp:
                report, wall, peak = run_in_child(RUN_ENGINE, engine, str(source), str(Path(tmp) / "out"))
            results[(rows, engine)] = (report["seconds"], peak)
            note = " (streaming)" if report.get("streaming") else ""
            print(
                f"{rows:>12,} {engine:8} {report['seconds']:>8.1f} {rows / report['seconds']:>11,.0f} {peak:>9.2f} "
                f"{report['rows_out']:>11,} {report['quarantined']:>11,}{note}"
            )
    base = results.get((args.rows, "pandas"))
    if base and (args.rows, "polars") in results:
        print(f"\nPolars vs pandas at {args.rows:,} rows: {base[0] / results[(args.rows, 'polars')][0]:.1f}x faster")
    if (args.rows, "polars") in results:
        print(f"goal: {args.rows:,} rows <= 10 s on the fast engine: {results[(args.rows, 'polars')][0]:.1f} s")
    if args.big and (args.big, "polars") in results:
        print(f"goal: {args.big:,} rows within 4 GiB peak: {results[(args.big, 'polars')][1]:.2f} GiB")
    if spark_start is not None:
        print(f"Spark figures include its start-up ({spark_start:.1f} s)")


if __name__ == "__main__":
    main()
