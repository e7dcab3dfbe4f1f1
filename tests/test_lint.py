"""The code and the notebooks' cells are linted and formatted with ruff (notebooks are the source)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import REPO_ROOT

PATHS = ["workshop_utils", "tests", "benchmarks", "notebooks"]


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["lint", "format"])
def test_ruff_is_clean(command):
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *command, *PATHS], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
