"""Shared fixtures: one local S3 server for the whole session, in an isolated WORKSHOP_HOME."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from workshop_utils import storage
from workshop_utils.config import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = REPO_ROOT.parent / "shared" / "datasets"
BANK_MARKETING = SHARED_DATASETS / "bank-marketing-full.csv"


@pytest.fixture(scope="session", autouse=True)
def workshop_home(tmp_path_factory: pytest.TempPathFactory):
    """Keep the server state file away from the user's ~/.workshop, and clear WORKSHOP_* vars."""
    mp = pytest.MonkeyPatch()
    import os

    for name in list(os.environ):
        if name.startswith("WORKSHOP_"):
            mp.delenv(name)
    home = tmp_path_factory.mktemp("workshop_home")
    mp.setenv("WORKSHOP_HOME", str(home))
    yield home
    storage.stop_server()
    mp.undo()


@pytest.fixture(scope="session")
def s3_server(workshop_home) -> storage.LocalServer:
    return storage.start_server()


@pytest.fixture
def settings(s3_server) -> Settings:
    """Settings with a bucket of the test's own, so tests never see each other's objects."""
    # a prefix of its own too: the Glue catalog (a database per prefix) is shared by the whole server
    return Settings(bucket=f"test-{uuid.uuid4().hex[:12]}", prefix=f"t-{uuid.uuid4().hex[:8]}", run_id="run-1")


@pytest.fixture
def store(settings: Settings) -> storage.S3Store:
    s = storage.S3Store.connect(settings)
    s.ensure_bucket()
    return s
