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
    if value.strip() in ("", "None", "none"):  # Python's spelling of "not given", as in the notebooks
        return key.strip(), None
    return key.strip(), yaml.safe_load(value)


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

    s3 = sub.add_parser("s3", help="the local S3 server, and what the runs wrote")
    s3_sub = s3.add_subparsers(dest="action", required=True)
    for action in ("start", "status", "stop"):
        s3_sub.add_parser(action, help=f"{action} the local S3 server")
    ls = s3_sub.add_parser("ls", help="list the objects under {prefix}/[STAGE]/")
    ls.add_argument("stage", nargs="?", default="", help="e.g. reports, released, models")
    get = s3_sub.add_parser("get", help="download one object (never overwrites a local file)")
    get.add_argument("key", help="the object's key, as `workshop s3 ls` prints it")
    get.add_argument("dest", nargs="?", type=Path, default=None, help="local path (default: its file name here)")

    report = sub.add_parser("open-report", help="download a run's evaluation report and open it")
    report.add_argument("run_id", nargs="?", default=None, help="default: the newest report")
    report.add_argument("--no-browser", action="store_true", help="only print where it is")

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
    if args.command == "open-report":
        return _open_report(args.run_id, args.no_browser)
    if args.command == "s3" and args.action in ("ls", "get"):
        return _s3_ls_get(args)
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


def _store() -> tuple[Any, Any]:
    from .config import Settings

    settings = Settings.load()  # bucket, prefix, mode... from the WORKSHOP_* environment
    return settings, storage.S3Store.connect(settings)


def _s3_ls_get(args: argparse.Namespace) -> int:
    settings, store = _store()
    if args.action == "ls":
        prefix = f"{settings.prefix}/{args.stage.strip('/')}/" if args.stage else f"{settings.prefix}/"
        objects = store.list_objects(prefix)
        if objects.empty:
            print(f"nothing under s3://{settings.bucket}/{prefix}")
            return 1
        print(objects.to_string(index=False))
        return 0
    dest = args.dest or Path(args.key.rsplit("/", 1)[-1])
    if dest.exists():
        raise storage.StorageError(f"{dest} already exists; give another destination (nothing is overwritten).")
    store.download_file(args.key, dest)
    print(f"downloaded s3://{settings.bucket}/{args.key} to {dest}")
    return 0


def _open_report(run_id: str | None, no_browser: bool) -> int:
    import webbrowser

    from .runner import REPO_ROOT

    settings, store = _store()
    keys = [k for k in store.list_keys(f"{settings.prefix}/reports/") if k.endswith("/report.html")]
    if run_id:
        keys = [k for k in keys if f"/reports/{run_id}/" in k]
    if not keys:
        where = f"run {run_id}" if run_id else f"s3://{settings.bucket}/{settings.prefix}/reports/"
        raise storage.StorageError(f"No evaluation report for {where}. Run notebook 06_evaluate first.")
    key = max(keys, key=lambda k: store.head(k)["last_modified"])
    run = key.split("/reports/", 1)[1].split("/", 1)[0]
    dest = REPO_ROOT / "runs" / run / "report.html"
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        store.download_file(key, dest)
    print(f"internal report (data owner only) of run {run}: {dest}")
    if not no_browser:
        webbrowser.open(dest.as_uri())
    return 0
