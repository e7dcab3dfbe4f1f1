"""Notebook 01: read the raw table from S3 and profile it without publishing identifying values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from .. import catalog, profiling
from ..config import Settings
from ..dataset import DatasetSpec
from ..storage import S3Store


@dataclass
class ProfileOutput:
    raw: pd.DataFrame
    identifying: list[str]
    profile: dict[str, Any]
    key: str


def profile_raw(store: S3Store, settings: Settings, spec: DatasetSpec) -> ProfileOutput:
    """Load the newest raw table, find its identifying columns (data dictionary + PII scan), profile it."""
    entry = catalog.find_table(store, settings, spec.tables.raw)
    raw = store.read_csv(entry["Parameters"]["objectKey"])
    identifying = profiling.identifying_columns(raw, spec.load_dictionary())
    profile = profiling.profile_table(raw, name=spec.name, identifying=identifying)
    key = store.write_json(profile, settings.key("profile", f"{spec.name}.json"))
    return ProfileOutput(raw, identifying, profile, key)
