"""Notebook 08: two partners prepare their tables, set up a Clean Rooms ML collaboration and generate
a synthetic version of their join without seeing each other's rows."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import joblib
import pandas as pd

from .. import catalog, splits
from ..budget import DEFAULT_CAP, PrivacyBudget
from ..catalog import CatalogEntry
from ..cleanrooms import CleanRoom, Definitions, validate_request
from ..config import REPO_ROOT, Settings
from ..dataset import DatasetSpec, load_spec
from ..metadata import ColumnMeta
from ..progress import note
from ..storage import S3Store
from . import glue_cleaning, pii_check, setup, train_dp_tvae
from .train_on_synthetic import fit_and_score

CLEAN_ROOMS_DIR = REPO_ROOT / "datasets" / "clean_rooms"
DEFINITIONS = CLEAN_ROOMS_DIR / "collaboration.yaml"
PARTNER_SPECS = {"bank": CLEAN_ROOMS_DIR / "bank_customers.yaml", "travel": CLEAN_ROOMS_DIR / "travel_guests.yaml"}


@dataclass
class PartnerTable:
    """One partner's prepared table: landed, cleaned and de-identified under its own prefix."""

    spec: DatasetSpec
    settings: Settings
    entry: CatalogEntry
    rescan_medium_or_high: int


def prepare_partner(
    store: S3Store, settings: Settings, spec_path: Path, data_prefix: str, shared_secret: bytes
) -> PartnerTable:
    """What each partner does on its own side: notebooks 00, 02 and 03 under its own prefix, with the
    join key pseudonymised by the HMAC secret the partners share (never written anywhere)."""
    spec = load_spec(spec_path)
    own = Settings(**(settings.as_dict() | {"prefix": data_prefix, "dataset": str(spec_path)}))
    done = catalog.existing_entry(store, own, spec.tables.deidentified)
    if done is not None:  # a resumed run: prepared before (its pseudonyms used the secret of that session)
        return PartnerTable(spec, own, done, int(done["Parameters"].get("rescanMediumOrHigh", 0)))
    note(f"partner {spec.name}: landing, cleaning and PII check under its own prefix {data_prefix} ...")
    landed = setup.land_source(store, own, spec)
    setup.crawl_raw_csv(store, own, spec, landed["key"])
    glue_cleaning.run_cleaning(store, own, spec)
    out = pii_check.run_pii_check(store, own, spec, secret=shared_secret)
    return PartnerTable(spec, own, out.entry, len(out.rescan.at_or_above("medium")))


def declared_columns(store: S3Store, partner: PartnerTable) -> dict[str, ColumnMeta]:
    """What the partner declared public about its columns (types, cleaning-job ranges and lists)."""
    job = glue_cleaning.job_of_table(store, partner.settings, partner.entry)
    types = catalog.column_types(partner.entry)
    meta, _ = train_dp_tvae.metadata_for(partner.spec, pd.DataFrame(columns=list(types)), job, types)
    return dict(meta.columns)


def open_clean_room(
    store: S3Store, settings: Settings, definitions: Definitions, partners: dict[str, PartnerTable]
) -> CleanRoom:
    """The service for this run: configured tables point at the partners' de-identified tables."""
    tables, declared = {}, {}
    for table in definitions.configured_tables:
        partner = next(p for p in partners.values() if catalog.database_name(p.settings.prefix) == table.database)
        tables[table.name] = catalog.find_table(store, partner.settings, table.table, run_id=settings.run_id)
        declared |= {c: m for c, m in declared_columns(store, partner).items() if c in table.allowed_columns}
    root = settings.key("cleanrooms", definitions.collaboration.name)
    return CleanRoom(store, definitions, tables, root, declared)


def partner_budgets(store: S3Store, partners: dict[str, PartnerTable], cap: float = DEFAULT_CAP) -> list[PrivacyBudget]:
    """Each provider's lifetime budget: the joined rows come from both tables, so both pay."""
    return [train_dp_tvae.budget_for(store, p.settings, p.entry, cap) for p in partners.values()]


def train_and_export(
    store: S3Store, room: CleanRoom, channel_name: str, receiver: str, seed: int = 0
) -> tuple[pd.DataFrame, str, dict]:
    """What the receiver does with the channel: train a model on the synthetic join (scored on a held-out
    part of the synthetic rows: nobody may see real joined rows) and export its weights, with the
    ``StartTrainedModelExportJob`` request that does the same on AWS."""
    channel = room.defs.channel(channel_name)
    template = room.defs.template(channel.template)
    data = room.read_channel(channel_name, receiver)
    target = template.target.columnName
    data = data[data[target].notna()]
    train, test = splits.split_train_holdout(data, 0.25)
    task = "regression" if template.target.columnType == "NUMERICAL" else "classification"
    model, columns, metric, score = fit_and_score(task, train, test, target, seed)
    buf = io.BytesIO()
    joblib.dump({"model": model, "features": columns, "target": target, "channel": channel_name}, buf)
    key = store.put_once(f"{room.root}/exports/{channel_name}/model.joblib", buf.getvalue())
    collab = room.defs.collaboration
    request = {
        "name": f"{channel_name}-export",
        "trainedModelArn": f"arn:aws:cleanrooms-ml:{collab.region}:{receiver}:membership/"
        f"{collab.membership_id(receiver)}/trained-model/{channel_name}-model",
        "membershipIdentifier": collab.membership_id(receiver),
        "outputConfiguration": {"members": [{"accountId": receiver}]},
    }
    validate_request("cleanroomsml", "StartTrainedModelExportJob", request)
    scores = pd.DataFrame(
        [
            {
                "model": "gradient boosting",
                "trained on": f"channel {channel_name} (synthetic)",
                f"{metric} (synthetic test part)": score,
            }
        ]
    )
    return scores, key, request
