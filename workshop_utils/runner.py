"""Run the numbered notebooks in order with papermill, writing into ``runs/<run-id>/``."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from . import parameters
from .config import REPO_ROOT, ConfigError, Settings
from .progress import ENV as PROGRESS_ENV
from .progress import PROGRESS_MARK

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
NOTEBOOKS = (
    "00_setup",
    "01_load_from_s3",
    "02_glue_cleaning",
    "03_pii_check",
    "04_train_dp_tvae",
    "05_synthesize",
    "06_evaluate",
    "07_train_on_synthetic",
    "08_clean_rooms_collaboration",
)
KERNEL_NAME = "workshop"


class ProgressForwarder:
    """papermill's ``stderr_file``: passes the notebook's progress lines (``progress.PROGRESS_MARK``)
    on to the terminal, so long phases (training, evaluation, downstream models) are not silent."""

    def __init__(self, label: str, log: Callable[[str], None]) -> None:
        self.label, self.log, self._partial = label, log, ""

    def write(self, text: str) -> None:
        *lines, self._partial = (self._partial + text).split("\n")
        for line in lines:
            if line.startswith(PROGRESS_MARK):
                self.log(f"      {self.label} {line[len(PROGRESS_MARK) :]}")

    def flush(self) -> None:
        pass


class WorkshopRunError(RuntimeError):
    """A notebook failed; the message says which and where its executed copy is."""


def available_notebooks(notebook_dir: Path = NOTEBOOK_DIR) -> list[Path]:
    """The series' notebooks that exist, in order."""
    return [notebook_dir / f"{name}.ipynb" for name in NOTEBOOKS if (notebook_dir / f"{name}.ipynb").exists()]


def select_notebooks(only: Iterable[str] | None, notebook_dir: Path = NOTEBOOK_DIR) -> list[Path]:
    """Notebooks whose number or name is in ``only`` (all available if ``None``)."""
    available = available_notebooks(notebook_dir)
    if not only:
        return available
    wanted = [w.strip() for w in only if w.strip()]
    chosen = [p for p in available if any(p.stem == w or p.stem.split("_")[0] == w.zfill(2) for w in wanted)]
    missing = [w for w in wanted if not any(p.stem == w or p.stem.split("_")[0] == w.zfill(2) for p in available)]
    if missing:
        names = ", ".join(p.stem for p in available)
        raise ConfigError(f"--only names unknown notebook(s) {', '.join(missing)}; available: {names}.")
    return chosen


def notebook_parameters(path: Path) -> set[str]:
    import papermill

    return set(papermill.inspect_notebook(str(path)))


def check_kernel(kernel_name: str) -> None:
    from jupyter_client.kernelspec import KernelSpecManager

    if kernel_name not in KernelSpecManager().find_kernel_specs():
        raise WorkshopRunError(
            f"Jupyter kernel {kernel_name!r} is not registered. Run the setup command from the README "
            f"(it runs `python -m ipykernel install --sys-prefix --name {kernel_name}`)."
        )


def run_workshop(
    only: Iterable[str] | None = None,
    params: dict[str, Any] | None = None,
    runs_dir: Path = REPO_ROOT / "runs",
    kernel_name: str = KERNEL_NAME,
    notebook_dir: Path = NOTEBOOK_DIR,
    log: Callable[[str], None] = print,
) -> Path:
    """Execute the notebooks in order; returns the run directory. Stops at the first failure."""

    params = dict(params or {})
    settings_params = {k: v for k, v in params.items() if k in Settings.__dataclass_fields__}
    try:
        settings = Settings.load(**settings_params)  # validates early, fixes the run id
    except ConfigError as exc:  # report the notebooks' bad values in the same message
        try:
            parameters.check({k: v for k, v in params.items() if k not in Settings.__dataclass_fields__})
        except ConfigError as more:
            raise ConfigError(f"{exc} {more}") from None
        raise
    params["run_id"] = settings.run_id
    if settings.dataset:  # absolute: the notebooks run in notebooks/, not where the command was typed
        params["dataset"] = settings.dataset
    notebooks = select_notebooks(only, notebook_dir)
    if not notebooks:
        raise WorkshopRunError(f"No notebooks found in {notebook_dir}.")
    accepted = set().union(*(notebook_parameters(p) for p in notebooks))
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise ConfigError(
            f"Unknown parameter(s) {', '.join(unknown)}; these notebooks accept: {', '.join(sorted(accepted))}."
        )
    parameters.check({k: v for k, v in params.items() if k not in Settings.__dataclass_fields__})
    check_kernel(kernel_name)

    run_dir = Path(runs_dir) / settings.run_id
    record, notebooks = _resume(run_dir, params, notebooks, log)
    previous_progress = os.environ.get(PROGRESS_ENV)
    os.environ[PROGRESS_ENV] = "lines"  # the kernels inherit it: plain progress lines we can forward
    try:
        _run_all(notebooks, params, run_dir, record, kernel_name, log)
    finally:
        if previous_progress is None:
            os.environ.pop(PROGRESS_ENV, None)
        else:
            os.environ[PROGRESS_ENV] = previous_progress
    (run_dir / "run.json").write_text(json.dumps(record, indent=2, default=str))
    log(f"Run {settings.run_id} finished: executed notebooks in {run_dir}")
    for n in record["notebooks"]:
        if n["status"] == "nothing released":
            log(f"Note: {n['name']} had nothing to work on: no synthetic table passed the release gate.")
    log(f"Artifacts: s3://{settings.bucket}/{settings.prefix}/<stage>/{settings.run_id}/")
    return run_dir


def _resume(
    run_dir: Path, params: dict[str, Any], notebooks: list[Path], log: Callable[[str], None]
) -> tuple[dict[str, Any], list[Path]]:
    """A new run, or the same run id again: then the notebooks that finished are skipped and the run
    goes on from the first that did not (the stages reuse what that one already wrote)."""
    record_file = run_dir / "run.json"
    if not run_dir.exists():
        run_dir.mkdir(parents=True)
        return {"run_id": run_dir.name, "parameters": params, "notebooks": []}, notebooks
    if not record_file.exists():
        raise WorkshopRunError(f"{run_dir} exists but holds no run.json: give another run id.")
    record = json.loads(record_file.read_text())
    done = [n for n in record["notebooks"] if n["status"] == "ok"]
    finished = {n["name"] for n in done}
    remaining = [nb for nb in notebooks if nb.stem not in finished]
    for nb in remaining:  # keep the executed copy of an attempt that failed, under another name
        out = run_dir / nb.name
        if out.exists():
            attempt = 1 + sum(1 for _ in run_dir.glob(f"{nb.stem}.attempt-*.ipynb"))
            out.rename(run_dir / f"{nb.stem}.attempt-{attempt}.ipynb")
    skipped = [nb.stem for nb in notebooks if nb.stem in finished]
    log(
        f"Resuming run {run_dir.name}: "
        + (f"{', '.join(skipped)} finished before; " if skipped else "")
        + (f"going on from {remaining[0].stem}" if remaining else "nothing left to run")
    )
    record["parameters"] = record.get("parameters", {}) | params
    record["notebooks"] = done
    return record, remaining


def _run_all(
    notebooks: list[Path],
    params: dict[str, Any],
    run_dir: Path,
    record: dict[str, Any],
    kernel_name: str,
    log: Callable[[str], None],
) -> None:
    import papermill

    for i, nb in enumerate(notebooks, 1):
        out = run_dir / nb.name
        given = {k: v for k, v in params.items() if k in notebook_parameters(nb)}
        log(f"[{i}/{len(notebooks)}] {nb.stem} ...")
        start = time.monotonic()
        try:
            papermill.execute_notebook(
                str(nb),
                str(out),
                parameters=given,
                kernel_name=kernel_name,
                cwd=str(nb.parent),
                progress_bar=False,
                log_output=False,
                stderr_file=ProgressForwarder(f"[{nb.stem[:2]}]", log),
                # The kernel would print "running over TCP without encryption" at every start: on
                # 127.0.0.1 with a fresh key per kernel that is expected, so only errors are shown.
                extra_arguments=["--IPKernelApp.log_level=ERROR"],
            )
        except Exception as exc:
            if getattr(exc, "ename", None) == "NothingReleasedError":  # the gate said no: an outcome, not a failure
                record["notebooks"].append(
                    {"name": nb.stem, "status": "nothing released", "seconds": round(time.monotonic() - start, 1)}
                )
                log(
                    f"[{i}/{len(notebooks)}] {nb.stem} stopped: nothing passed the release gate, so there is nothing "
                    f"to train on (notebook 06 and its report say why); the run goes on. Its notebook: {out}"
                )
                continue
            record["notebooks"].append(
                {"name": nb.stem, "status": "failed", "seconds": round(time.monotonic() - start, 1)}
            )
            (run_dir / "run.json").write_text(json.dumps(record, indent=2, default=str))
            reason = str(exc).strip().splitlines()
            raise WorkshopRunError(
                f"Notebook {nb.stem} failed: {reason[-1] if reason else type(exc).__name__}\n"
                f"The executed notebook, with the error, is {out}"
            ) from exc
        seconds = time.monotonic() - start
        record["notebooks"].append({"name": nb.stem, "status": "ok", "seconds": round(seconds, 1)})
        log(f"[{i}/{len(notebooks)}] {nb.stem} ok ({seconds:.1f} s)")
