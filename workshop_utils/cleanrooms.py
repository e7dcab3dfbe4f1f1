"""AWS Clean Rooms ML, offline: partners generate a synthetic version of a joined table without
seeing each other's rows, with the same definitions as the real service.

The objects below mirror the AWS API (configured table + CUSTOM analysis rule, collaboration,
analysis template with ``mlSyntheticDataParameters``, ML input channel). Each validates the
service's ranges with one message per violation, and emits the exact request body of
``CreateConfiguredTable``, ``CreateConfiguredTableAnalysisRule``, ``CreateAnalysisTemplate`` and
``CreateMLInputChannel``, checked by botocore's own parameter validation (no AWS call). The
:class:`CleanRoom` plays the service: approvals are write-once objects, one per data provider;
the template's SQL runs in DuckDB over the partners' Parquet tables with only their allowed
columns visible; generation uses our DP synthesizer with the template's epsilon and column
classification and fails, like AWS, when the membership-inference score exceeds the template's
maximum. A :class:`PartnerSession` reads only its own prefix and the channels' results.

As on AWS, the membership-inference score in the status record is computed by the service on real
rows (training part and holdout of the join): it is not covered by the template's epsilon (the
notebook and the README say so), while the synthetic rows and the ledger are.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import botocore.session
import duckdb
import pandas as pd
import pyarrow.parquet as pq
import yaml
from botocore.exceptions import ParamValidationError
from botocore.validate import validate_parameters

from . import attacks, catalog, dp, splits
from .catalog import CatalogEntry
from .metadata import ColumnMeta, TableMetadata
from .progress import note
from .storage import ObjectExistsError, S3Store
from .synth import DPTVAESynthesizer

ABILITIES = ("CAN_QUERY", "CAN_RECEIVE_RESULTS")
COLUMN_TYPES = ("CATEGORICAL", "NUMERICAL")
RESULT_FORMATS = ("CSV", "PARQUET")
MIA_VERSION = "DISTANCE_TO_CLOSEST_RECORD_V1"
_NAMESPACE = uuid.UUID("6f1c2d1e-8a0b-4c55-9d3e-c1ea00000000")  # for stable, service-like identifiers


class CleanRoomsError(ValueError):
    """A definition is outside the service's ranges, or an action breaks a collaboration rule."""


class AccessDenied(PermissionError):
    """A partner tried to read what is not theirs."""


def _id(*parts: str) -> str:
    """A stable 36-character identifier, like the service's, from the names involved."""
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def _find(items: list[Any], attr: str, value: str, what: str) -> Any:
    for item in items:
        if getattr(item, attr) == value:
            return item
    raise CleanRoomsError(f"{value!r} is not a {what}; there are {[getattr(i, attr) for i in items]}.")


def _check(problems: list[str], what: str) -> None:
    if problems:
        raise CleanRoomsError(f"{what}: " + "; ".join(problems))


# --------------------------------------------------------------------------- definitions


@dataclass
class Member:
    account_id: str
    display_name: str
    abilities: list[str] = field(default_factory=list)
    data_prefix: str | None = None  # where this member's own tables live in S3 (its catalog prefix)


@dataclass
class Collaboration:
    name: str
    members: list[Member]
    synthetic_data_payer: str  # account id that pays for synthetic data generation
    query_logging: bool = True
    region: str = "us-east-1"

    def __post_init__(self) -> None:
        problems = []
        accounts = [m.account_id for m in self.members]
        if len(self.members) < 2:
            problems.append("a collaboration needs at least two members")
        if len(set(accounts)) != len(accounts):
            problems.append("member account ids must be unique")
        for m in self.members:
            if not (m.account_id.isdigit() and len(m.account_id) == 12):
                problems.append(f"account id {m.account_id!r} must be 12 digits")
            bad = [a for a in m.abilities if a not in ABILITIES]
            if bad:
                problems.append(f"member {m.display_name!r}: unknown abilities {bad} (use {', '.join(ABILITIES)})")
        if self.synthetic_data_payer not in accounts:
            problems.append(f"synthetic data payer {self.synthetic_data_payer!r} is not a member")
        if not any("CAN_RECEIVE_RESULTS" in m.abilities for m in self.members):
            problems.append("no member can receive results")
        _check(problems, f"collaboration {self.name!r}")

    @property
    def id(self) -> str:
        return _id("collaboration", self.name)

    def member(self, account_id: str) -> Member:
        return _find(self.members, "account_id", account_id, f"member of collaboration {self.name!r}")

    def membership_id(self, account_id: str) -> str:
        self.member(account_id)
        return _id("membership", self.name, account_id)


@dataclass
class AnalysisRule:
    """A CUSTOM analysis rule: which templates may run on the table, by whom, and which columns
    may never appear in an output."""

    allowed_analyses: list[str]  # analysis template names (ARNs in the request)
    allowed_analysis_providers: list[str] = field(default_factory=list)
    disallowed_output_columns: list[str] = field(default_factory=list)


@dataclass
class ConfiguredTable:
    name: str
    owner: str  # account id
    database: str  # Glue database (the owner's catalog prefix)
    table: str  # Glue table (catalog table name)
    allowed_columns: list[str]
    analysis_rule: AnalysisRule

    def __post_init__(self) -> None:
        problems = []
        if not 1 <= len(self.name) <= 100:
            problems.append("name must have 1-100 characters")
        if not self.allowed_columns:
            problems.append("allowedColumns needs at least one column")
        hidden = [c for c in self.analysis_rule.disallowed_output_columns if c not in self.allowed_columns]
        if hidden:
            problems.append(f"disallowed output columns {hidden} are not among the allowed columns")
        _check(problems, f"configured table {self.name!r}")

    @property
    def id(self) -> str:
        return _id("configuredtable", self.owner, self.name)


@dataclass
class ColumnClassification:
    columnName: str
    columnType: str
    isPredictiveValue: bool = False


@dataclass
class AnalysisTemplate:
    name: str
    creator: str  # account id
    sql: str
    epsilon: float
    max_membership_inference_attack_score: float
    column_mapping: list[ColumnClassification]
    description: str = ""

    def __post_init__(self) -> None:
        self.column_mapping = [
            c if isinstance(c, ColumnClassification) else ColumnClassification(**c) for c in self.column_mapping
        ]
        problems = []
        eps, mia = self.epsilon, self.max_membership_inference_attack_score
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0.0001 <= eps <= 10:
            problems.append(f"epsilon must be between 0.0001 and 10, got {eps!r}")
        if isinstance(mia, bool) or not isinstance(mia, (int, float)) or not 0.5 <= mia <= 1:
            problems.append(f"maxMembershipInferenceAttackScore must be between 0.5 and 1, got {mia!r}")
        if not 5 <= len(self.column_mapping) <= 1000:
            problems.append(f"columnMapping needs 5 to 1,000 columns, got {len(self.column_mapping)}")
        predictive = [c.columnName for c in self.column_mapping if c.isPredictiveValue]
        if len(predictive) != 1:
            problems.append(f"exactly one column must have isPredictiveValue true, got {predictive or 'none'}")
        bad = [c.columnName for c in self.column_mapping if c.columnType not in COLUMN_TYPES]
        if bad:
            problems.append(f"columnType of {bad} must be CATEGORICAL or NUMERICAL")
        names = [c.columnName for c in self.column_mapping]
        if len(set(names)) != len(names):
            problems.append("columnMapping names a column twice")
        if not self.sql.strip():
            problems.append("the SQL query is empty")
        _check(problems, f"analysis template {self.name!r}")

    @property
    def id(self) -> str:
        return _id("analysistemplate", self.creator, self.name)

    @property
    def target(self) -> ColumnClassification:
        return next(c for c in self.column_mapping if c.isPredictiveValue)


@dataclass
class MLInputChannel:
    name: str
    template: str  # analysis template name
    retention_in_days: int
    result_format: str = "PARQUET"
    description: str = ""

    def __post_init__(self) -> None:
        problems = []
        days = self.retention_in_days
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 30:
            problems.append(f"retentionInDays must be an integer from 1 to 30, got {days!r}")
        if self.result_format not in RESULT_FORMATS:
            problems.append(f"result format must be CSV or PARQUET, got {self.result_format!r}")
        if not 1 <= len(self.name) <= 63:
            problems.append("name must have 1-63 characters")
        _check(problems, f"ML input channel {self.name!r}")


@dataclass
class Definitions:
    """Everything a collaboration declares, as loaded from one YAML file."""

    collaboration: Collaboration
    configured_tables: list[ConfiguredTable]
    templates: list[AnalysisTemplate]
    channels: list[MLInputChannel]

    @classmethod
    def load(cls, path: str | Path) -> Definitions:
        data = yaml.safe_load(Path(path).read_text())
        try:
            collab = data["collaboration"]
            return cls(
                Collaboration(**(collab | {"members": [Member(**m) for m in collab["members"]]})),
                [
                    ConfiguredTable(**(t | {"analysis_rule": AnalysisRule(**t["analysis_rule"])}))
                    for t in data["configured_tables"]
                ],
                [AnalysisTemplate(**t) for t in data["analysis_templates"]],
                [MLInputChannel(**c) for c in data.get("ml_input_channels", [])],
            )
        except (KeyError, TypeError) as exc:
            raise CleanRoomsError(f"{path}: malformed definitions ({exc}).") from None

    def template(self, name: str) -> AnalysisTemplate:
        return _find(self.templates, "name", name, "analysis template")

    def channel(self, name: str) -> MLInputChannel:
        return _find(self.channels, "name", name, "ML input channel")

    def template_arn(self, template: AnalysisTemplate) -> str:
        c = self.collaboration
        return (
            f"arn:aws:cleanrooms:{c.region}:{template.creator}:membership/{c.membership_id(template.creator)}"
            f"/analysistemplate/{template.id}"
        )

    # -- the AWS request bodies ---------------------------------------------------------------

    def create_configured_table_request(self, table: ConfiguredTable) -> dict[str, Any]:
        return {
            "name": table.name,
            "tableReference": {"glue": {"databaseName": table.database, "tableName": table.table}},
            "allowedColumns": list(table.allowed_columns),
            "analysisMethod": "DIRECT_QUERY",
        }

    def create_analysis_rule_request(self, table: ConfiguredTable) -> dict[str, Any]:
        rule = table.analysis_rule
        return {
            "configuredTableIdentifier": table.id,
            "analysisRuleType": "CUSTOM",
            "analysisRulePolicy": {
                "v1": {
                    "custom": {
                        "allowedAnalyses": [self.template_arn(self.template(n)) for n in rule.allowed_analyses],
                        "allowedAnalysisProviders": list(rule.allowed_analysis_providers),
                        "disallowedOutputColumns": list(rule.disallowed_output_columns),
                    }
                }
            },
        }

    def create_analysis_template_request(self, template: AnalysisTemplate) -> dict[str, Any]:
        return {
            "membershipIdentifier": self.collaboration.membership_id(template.creator),
            "name": template.name,
            "description": template.description,
            "format": "SQL",
            "source": {"text": template.sql},
            "syntheticDataParameters": {
                "mlSyntheticDataParameters": {
                    "epsilon": float(template.epsilon),
                    "maxMembershipInferenceAttackScore": float(template.max_membership_inference_attack_score),
                    "columnClassification": {"columnMapping": [asdict(c) for c in template.column_mapping]},
                }
            },
        }

    def create_ml_input_channel_request(self, channel: MLInputChannel, receiver: str, role_arn: str) -> dict[str, Any]:
        template = self.template(channel.template)
        return {
            "membershipIdentifier": self.collaboration.membership_id(receiver),
            "configuredModelAlgorithmAssociations": [
                f"arn:aws:cleanrooms-ml:{self.collaboration.region}:{receiver}:membership/"
                f"{self.collaboration.membership_id(receiver)}/configured-model-algorithm-association/"
                f"{_id('association', channel.name)}"
            ],
            "inputChannel": {
                "dataSource": {
                    "protectedQueryInputParameters": {
                        "sqlParameters": {"analysisTemplateArn": self.template_arn(template)},
                        "resultFormat": channel.result_format,
                    }
                },
                "roleArn": role_arn,
            },
            "name": channel.name,
            "retentionInDays": channel.retention_in_days,
            "description": channel.description,
        }

    def requests(self, receiver: str, role_arn: str) -> dict[str, list[dict[str, Any]]]:
        """Every request body, validated by botocore: what to send to AWS, operation by operation."""
        out = {
            "cleanrooms:CreateConfiguredTable": [
                self.create_configured_table_request(t) for t in self.configured_tables
            ],
            "cleanrooms:CreateConfiguredTableAnalysisRule": [
                self.create_analysis_rule_request(t) for t in self.configured_tables
            ],
            "cleanrooms:CreateAnalysisTemplate": [self.create_analysis_template_request(t) for t in self.templates],
            "cleanroomsml:CreateMLInputChannel": [
                self.create_ml_input_channel_request(c, receiver, role_arn) for c in self.channels
            ],
        }
        for op, bodies in out.items():
            for body in bodies:
                validate_request(*op.split(":"), body)
        return out


def validate_request(service: str, operation: str, body: dict[str, Any]) -> None:
    """botocore's own client-side parameter validation of a request body (no call is made)."""
    model = botocore.session.get_session().get_service_model(service).operation_model(operation)
    try:
        validate_parameters(body, model.input_shape)
    except ParamValidationError as exc:
        raise CleanRoomsError(f"{service}.{operation} would be refused: {exc}") from None


# --------------------------------------------------------------------------- the service


class PartnerSession:
    """What one partner may read: its own prefix, and the results of channels it may receive."""

    def __init__(self, store: S3Store, member: Member, results_prefix: str) -> None:
        self.store, self.member, self.results_prefix = store, member, results_prefix

    def _allowed(self, key: str) -> bool:
        own = self.member.data_prefix is not None and key.startswith(self.member.data_prefix.rstrip("/") + "/")
        results = "CAN_RECEIVE_RESULTS" in self.member.abilities and key.startswith(self.results_prefix)
        return own or results

    def get_bytes(self, key: str) -> bytes:
        if not self._allowed(key):
            raise AccessDenied(f"{self.member.display_name} may not read s3://{self.store.bucket}/{key}.")
        return self.store.get_bytes(key)

    def read_table(self, entry: CatalogEntry) -> pd.DataFrame:
        return catalog.read_parquet_bytes(self.get_bytes(entry["Parameters"]["objectKey"]))


@dataclass
class GenerationSettings:
    """How the service trains the synthesizer (the AWS service chooses these itself)."""

    epochs: int = 60
    batch_size: int = 500
    holdout_share: float = 0.2
    seed: int = 0


class CleanRoom:
    """The service side of one collaboration, over the partners' catalogued tables in one bucket."""

    def __init__(
        self,
        store: S3Store,
        definitions: Definitions,
        tables: dict[str, CatalogEntry],
        root: str,
        declared: dict[str, ColumnMeta] | None = None,
    ) -> None:
        """``tables``: configured table name -> the provider's catalog entry; ``declared``: what the
        providers declared public about their columns (types, bounds, category lists), by column."""
        missing = [t.name for t in definitions.configured_tables if t.name not in tables]
        if missing:
            raise CleanRoomsError(f"No catalogued table for configured table(s) {missing}.")
        self.store, self.defs, self.tables, self.root = store, definitions, tables, root.rstrip("/")
        self.declared = declared or {}

    @property
    def results_prefix(self) -> str:
        return f"{self.root}/channels/"

    def session(self, account_id: str) -> PartnerSession:
        return PartnerSession(self.store, self.defs.collaboration.member(account_id), self.results_prefix)

    # -- approvals ------------------------------------------------------------------------------

    def providers(self, template: AnalysisTemplate) -> list[str]:
        """Owners of the configured tables the template's SQL reads: each must approve it."""
        used = [t for t in self.defs.configured_tables if _mentions(template.sql, t.name)]
        return sorted({t.owner for t in used})

    def approve(self, template_name: str, account_id: str) -> str:
        template = self.defs.template(template_name)
        if account_id not in self.providers(template):
            raise CleanRoomsError(f"{account_id} provides no table to template {template_name!r}: nothing to approve.")
        key = f"{self.root}/approvals/{template.id}/{account_id}.json"
        if self.store.exists(key):  # approving again changes nothing: the first approval stands
            return key
        try:
            return self.store.write_json(
                {
                    "template": template.name,
                    "templateId": template.id,
                    "approvedBy": account_id,
                    "time": _now().isoformat(),
                },
                key,
            )
        except ObjectExistsError:
            raise CleanRoomsError(
                f"{account_id} has already approved {template_name!r} (approvals are write-once)."
            ) from None

    def missing_approvals(self, template_name: str) -> list[str]:
        template = self.defs.template(template_name)
        given = {
            k.rsplit("/", 1)[1].removesuffix(".json")
            for k in self.store.list_keys(f"{self.root}/approvals/{template.id}/")
        }
        return [p for p in self.providers(template) if p not in given]

    # -- running the template ------------------------------------------------------------------

    def run_query(self, template_name: str, runner: str) -> pd.DataFrame:
        """The template's SQL over the partners' tables, each exposing only its allowed columns."""
        template = self.defs.template(template_name)
        missing = self.missing_approvals(template_name)
        if missing:
            raise CleanRoomsError(f"Template {template_name!r} cannot run: not yet approved by {missing}.")
        if "CAN_QUERY" not in self.defs.collaboration.member(runner).abilities:
            raise CleanRoomsError(f"{runner} cannot run queries in this collaboration (no CAN_QUERY).")
        con = duckdb.connect()
        disallowed: set[str] = set()
        for table in self.defs.configured_tables:
            if not _mentions(template.sql, table.name):
                continue
            rule = table.analysis_rule
            if template.name not in rule.allowed_analyses:
                raise CleanRoomsError(f"The analysis rule of {table.name!r} does not allow template {template.name!r}.")
            if rule.allowed_analysis_providers and template.creator not in rule.allowed_analysis_providers:
                raise CleanRoomsError(f"{table.name!r} does not accept analyses written by {template.creator}.")
            data = pq.read_table(io.BytesIO(self.store.get_bytes(self.tables[table.name]["Parameters"]["objectKey"])))
            con.register(table.name, data.select(table.allowed_columns))  # nothing else is visible
            disallowed |= set(rule.disallowed_output_columns)
        try:
            result = con.execute(template.sql).df()
        except duckdb.Error as exc:
            raise CleanRoomsError(f"Template {template.name!r} failed: {exc}") from None
        leaked = sorted(disallowed & set(result.columns))
        if leaked:
            raise CleanRoomsError(f"Template {template.name!r} outputs disallowed column(s) {leaked}.")
        return result

    def create_ml_input_channel(
        self,
        channel_name: str,
        receiver: str,
        settings: GenerationSettings | None = None,
        budgets: list[Any] | None = None,
    ) -> dict[str, Any]:
        """Generate the channel's synthetic data; returns (and stores, write-once) a status record shaped
        like ``GetMLInputChannel``. A membership-inference score above the template's maximum gives
        status CREATE_FAILED and no data."""
        settings = settings or GenerationSettings()
        channel = self.defs.channel(channel_name)
        status_key = f"{self.results_prefix}{channel.name}/status.json"
        if self.store.exists(status_key):  # created before (a resumed run): never generated twice
            return self.store.read_json(status_key)
        template = self.defs.template(channel.template)
        if "CAN_RECEIVE_RESULTS" not in self.defs.collaboration.member(receiver).abilities:
            raise CleanRoomsError(f"{receiver} cannot receive results in this collaboration.")
        joined = self.run_query(template.name, receiver)
        mapped = [c.columnName for c in template.column_mapping]
        unmapped = sorted(set(joined.columns) - set(mapped))
        absent = sorted(set(mapped) - set(joined.columns))
        if unmapped or absent:
            raise CleanRoomsError(
                f"columnMapping of {template.name!r} must classify exactly the query's columns: "
                f"unclassified {unmapped}, not in the result {absent}."
            )
        train, holdout = splits.split_train_holdout(joined[mapped], settings.holdout_share)
        for budget in budgets or []:  # every provider's rows are in the join: each pays the (epsilon, delta)
            budget.charge(
                template.epsilon,
                dp.default_delta(len(train)),  # the delta the fit below spends
                f"Clean Rooms channel {channel.name}",
                run_id=self.defs.collaboration.name,
            )
        note(
            f"Clean Rooms channel {channel.name}: {len(joined):,} joined rows, DP-TVAE at epsilon {template.epsilon} ..."
        )
        synth = DPTVAESynthesizer(
            _metadata(template, train, self.declared),
            epsilon=float(template.epsilon),
            epochs=settings.epochs,
            batch_size=min(settings.batch_size, max(10, len(train) // 4)),
            seed=settings.seed,
            progress=False,
        ).fit(train)
        # as many rows as the training part: its size is the n the ledger declares public (the join's
        # full size, holdout included, is not)
        synthetic = synth.sample(len(train))
        results = attacks.membership_inference(train, holdout, synthetic, mapped)["attacks"]
        auc = next(a["auc"] for a in results if a["attack"].startswith("distance to closest record"))
        score = round(max(auc, 1 - auc), 4)  # 0.5: the attacker does no better than a coin
        passed = score <= template.max_membership_inference_attack_score
        note(
            f"Clean Rooms channel {channel.name}: membership-inference score {score}, {'ACTIVE' if passed else 'CREATE_FAILED'}"
        )
        status = self._status(channel, template, receiver, score, passed, len(synthetic) if passed else None, synth)
        folder = f"{self.results_prefix}{channel.name}/"
        if passed:
            if channel.result_format == "CSV":
                self.store.put_bytes(f"{folder}data.csv", synthetic.to_csv(index=False).encode(), "text/csv")
            else:
                buf = io.BytesIO()
                synthetic.to_parquet(buf, index=False)
                self.store.put_bytes(f"{folder}data.parquet", buf.getvalue(), "application/vnd.apache.parquet")
        self.store.write_json(status, f"{folder}status.json")
        return status

    def _status(
        self,
        channel: MLInputChannel,
        template: AnalysisTemplate,
        receiver: str,
        score: float,
        passed: bool,
        records: int | None,
        synth: DPTVAESynthesizer,
    ) -> dict[str, Any]:
        collab = self.defs.collaboration
        now = _now().isoformat()
        status: dict[str, Any] = {
            "membershipIdentifier": collab.membership_id(receiver),
            "collaborationIdentifier": collab.id,
            "mlInputChannelArn": f"arn:aws:cleanrooms-ml:{collab.region}:{receiver}:membership/"
            f"{collab.membership_id(receiver)}/ml-input-channel/{_id('channel', channel.name)}",
            "name": channel.name,
            "status": "ACTIVE" if passed else "CREATE_FAILED",
            "retentionInDays": channel.retention_in_days,
            "createTime": now,
            "updateTime": now,
            "inputChannel": {
                "dataSource": {
                    "protectedQueryInputParameters": {
                        "sqlParameters": {"analysisTemplateArn": self.defs.template_arn(template)},
                        "resultFormat": channel.result_format,
                    }
                }
            },
            "syntheticDataConfiguration": {
                "syntheticDataParameters": {
                    "epsilon": float(template.epsilon),
                    "maxMembershipInferenceAttackScore": float(template.max_membership_inference_attack_score),
                    "columnClassification": {"columnMapping": [asdict(c) for c in template.column_mapping]},
                },
                "syntheticDataEvaluationScores": {
                    "dataPrivacyScores": {
                        "membershipInferenceAttackScores": [{"attackVersion": MIA_VERSION, "score": score}]
                    }
                },
            },
            "privacyBudgets": {"epsilonSpent": synth.epsilon_spent, "ledger": synth.ledger_.to_records()},
            "payerConfiguration": {"syntheticDataPayerAccountId": collab.synthetic_data_payer},
        }
        if passed:
            status["numberOfRecords"] = records
        else:
            status["statusDetails"] = {
                "statusCode": "MEMBERSHIP_INFERENCE_SCORE_TOO_HIGH",
                "message": f"The membership inference attack score {score} is above the template's maximum "
                f"{template.max_membership_inference_attack_score}; no synthetic data was produced.",
            }
        return status

    # -- reading results -------------------------------------------------------------------------

    def list_ml_input_channels(self, now: datetime | None = None) -> pd.DataFrame:
        rows = []
        for key in self.store.list_keys(self.results_prefix):
            if key.endswith("/status.json"):
                s = self.store.read_json(key)
                rows.append(
                    {
                        "name": s["name"],
                        "status": "EXPIRED" if _expired(s, now) else s["status"],
                        "records": s.get("numberOfRecords"),
                        "created": s["createTime"],
                        "retentionInDays": s["retentionInDays"],
                    }
                )
        return pd.DataFrame(rows)

    def get_ml_input_channel(self, name: str) -> dict[str, Any]:
        return self.store.read_json(f"{self.results_prefix}{name}/status.json")

    def read_channel(self, name: str, account_id: str, now: datetime | None = None) -> pd.DataFrame:
        """The channel's synthetic rows, for a member that may receive results, within retention."""
        status = self.get_ml_input_channel(name)
        if status["status"] != "ACTIVE":
            raise CleanRoomsError(
                f"Channel {name!r} is {status['status']}: {status.get('statusDetails', {}).get('message', '')}"
            )
        if _expired(status, now):
            raise CleanRoomsError(
                f"Channel {name!r} is past its retention of {status['retentionInDays']} days: not served."
            )
        session = self.session(account_id)
        fmt = status["inputChannel"]["dataSource"]["protectedQueryInputParameters"]["resultFormat"]
        data = session.get_bytes(f"{self.results_prefix}{name}/data.{fmt.lower()}")
        return pd.read_csv(io.BytesIO(data)) if fmt == "CSV" else pd.read_parquet(io.BytesIO(data))


def _metadata(template: AnalysisTemplate, table: pd.DataFrame, declared: dict[str, ColumnMeta]) -> TableMetadata:
    """Roles from the template's column classification and what the providers declared public
    (a boolean column, integer-ness, bounds, category lists); never from the values."""
    types = {}
    for c in template.column_mapping:
        known = declared.get(c.columnName)
        if c.columnType == "CATEGORICAL":
            types[c.columnName] = "bool" if known is not None and known.modeled_kind() == "boolean" else "category"
        else:
            types[c.columnName] = "int" if known is not None and known.integer else "float"
    meta = TableMetadata.detect(table, types=types)
    for col, m in meta.columns.items():
        known = declared.get(col)
        if known is None:
            continue
        meta.set_nullable(col, known.nullable)
        if known.bounds and m.modeled_kind() == "numerical":
            meta.set_bounds(col, *known.bounds)
        if known.categories and m.modeled_kind() == "categorical":
            meta.set_categories(col, known.categories)
    target = template.target
    task = "regression" if target.columnType == "NUMERICAL" else "classification"
    meta.set_role(target.columnName, "target", task=task)
    return meta


def _mentions(sql: str, table: str) -> bool:
    return re.search(rf"\b{re.escape(table)}\b", sql) is not None


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _expired(status: dict[str, Any], now: datetime | None = None) -> bool:
    created = datetime.fromisoformat(status["createTime"])
    return (now or _now()) > created + timedelta(days=status["retentionInDays"])


def dump(obj: Any) -> str:
    return json.dumps(obj, indent=2, default=str)
