"""The ``workshop`` command: run the notebook series, manage the local S3 server, make sample data."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from . import storage
from .config import ConfigError


def _parse_param(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise ConfigError(f"-p expects key=value, got {text!r}.")
    key, value = text.split("=", 1)
    return key.strip(), yaml.safe_load(value) if value.strip() else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="workshop", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the notebooks in order with papermill")
    run.add_argument("--only", help="comma-separated notebook numbers or names, e.g. 00,01")
    run.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE", help="notebook parameter")
    run.add_argument("--runs-dir", type=Path, default=None, help="where executed notebooks go (default: runs/)")
    run.add_argument("--dataset", type=Path, default=None, help="dataset spec YAML (default: the bank sample)")

    init = sub.add_parser("init-dataset", help="write a starting dataset spec and cleaning job for a CSV")
    init.add_argument("csv", type=Path)
    init.add_argument("--target", required=True, help="the column a model should predict")
    init.add_argument("--task", choices=["classification", "regression"], default=None)
    init.add_argument("--name", default=None, help="table name (default: from the file name)")
    init.add_argument("--out", type=Path, default=None, help="spec path (default: <csv>.dataset.yaml)")

    s3 = sub.add_parser("s3", help="manage the local S3 server")
    s3.add_argument("action", choices=["start", "status", "stop"])

    gen = sub.add_parser("generate-data", help="regenerate the sample bank-customer CSV and the partner's guests")
    gen.add_argument("--rows", type=int, default=None)
    gen.add_argument("--seed", type=int, default=None)
    gen.add_argument("--out", type=Path, default=None)

    args = parser.parse_args(argv)
    try:
        return _dispatch(args)
    except (ConfigError, storage.StorageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # the runner's errors already carry a full message
        from .runner import WorkshopRunError

        if isinstance(exc, WorkshopRunError):
            print(f"error: {exc}", file=sys.stderr)
            return 1
        raise


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        from .runner import REPO_ROOT, run_workshop

        params = dict(_parse_param(p) for p in args.param)
        if args.dataset is not None:
            params["dataset"] = str(args.dataset)
        only = args.only.split(",") if args.only else None
        run_workshop(only=only, params=params, runs_dir=args.runs_dir or REPO_ROOT / "runs")
        return 0
    if args.command == "init-dataset":
        from .dataset import init_dataset

        spec, job = init_dataset(args.csv, args.target, args.task, args.name, args.out)
        print(f"wrote {spec}\nwrote {job}\nReview both (roles, category lists marked public: false), then run:")
        print(f"  workshop run --dataset {spec}")
        return 0
    if args.command == "s3":
        if args.action == "start":
            server = storage.start_server()
            print(f"local S3 server running at {server.endpoint_url} (pid {server.pid})")
        elif args.action == "status":
            server = storage.server_status()
            print(f"running at {server.endpoint_url} (pid {server.pid})" if server else "not running")
            return 0 if server else 1
        else:
            print("stopped" if storage.stop_server() else "was not running")
        return 0
    from . import sample_data

    out = sample_data.write_sample(
        args.out or sample_data.SAMPLE_CSV,
        args.rows or sample_data.SAMPLE_ROWS,
        args.seed if args.seed is not None else sample_data.SAMPLE_SEED,
    )
    print(f"wrote {out}")
    from .partner_data import write_partner_sample

    print(f"wrote {write_partner_sample(bank_csv=out)} (the Clean Rooms partner's guests, notebook 08)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
