"""Environment check shown by notebook 00."""

from __future__ import annotations

import importlib.metadata
import platform
import sys

import pandas as pd

REQUIRED = ("pandas", "pyarrow", "boto3", "moto", "faker", "papermill", "matplotlib", "tqdm")
MIN_PYTHON = (3, 10)


def environment_report() -> pd.DataFrame:
    """Python and package versions; raises if Python is too old or a package is missing."""
    if sys.version_info < MIN_PYTHON:
        raise RuntimeError(
            f"Python {'.'.join(map(str, MIN_PYTHON))}+ is required, this is {platform.python_version()}."
        )
    rows = [{"component": "python", "version": platform.python_version()}]
    missing = []
    for name in REQUIRED:
        try:
            rows.append({"component": name, "version": importlib.metadata.version(name)})
        except importlib.metadata.PackageNotFoundError:
            missing.append(name)
    if missing:
        raise RuntimeError(f"Missing package(s): {', '.join(missing)}. Run the setup command from the README.")
    return pd.DataFrame(rows)
