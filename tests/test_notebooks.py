"""Runs every notebook of the series that exists, in order, with papermill and small parameters
against one local S3 server, then asserts on what each stage wrote."""

from __future__ import annotations

import hashlib
import json

import nbformat
import pytest

from workshop_utils import catalog, cleaning_spark, release
from workshop_utils.config import Settings
from workshop_utils.dataset import init_dataset
from workshop_utils.dp import ledger_totals
from workshop_utils.runner import NOTEBOOKS, available_notebooks, run_workshop
from workshop_utils.sample_data import SAMPLE_CSV
from workshop_utils.stages import synthesize, train_dp_tvae
from workshop_utils.storage import S3Store

from .conftest import SHARED_DATASETS

RUN_LOG: list[str] = []
PARAMS = {
    "bucket": "notebook-test",
    "prefix": "nb",
    "run_id": "nbrun",
    "seed": 0,
    "sample_rows": 4000,
    "epochs": 2,
    "batch_size": 256,
    "synthetic_rows": 600,
    "epsilon": 3.0,
    # a 2-epoch model is poor: open the gate so notebook 07 has something to work on
    "min_fidelity": 0.0,
    "min_pair_fidelity": 0.0,
    "min_utility": 0.0,
    "min_protection": 0.0,
    "max_exact_copy_rate": 1.0,
    "sdv_epochs": 2,
    "shadow_models": 4,  # notebook 06's targeted attack: 4 shadows of the 2-epoch model
    # notebook 02 also runs its job on local Spark and compares (skipped where there is no Java 17+)
    "run_on_spark": (cleaning_spark.java_version() or 0) >= 17,
}


def test_notebooks_are_committed_clean_and_parameterized():
    paths = available_notebooks()
    assert [p.stem for p in paths] == list(NOTEBOOKS[: len(paths)]), "notebooks must be numbered without gaps"
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code), f"{path.name} has outputs"
        assert sum("parameters" in c.metadata.get("tags", []) for c in code) == 1, path.name


@pytest.fixture(scope="module")
def run(s3_server, tmp_path_factory):
    runs_dir = tmp_path_factory.mktemp("runs")
    run_dir = run_workshop(params=dict(PARAMS), runs_dir=runs_dir, log=RUN_LOG.append)
    settings = Settings.load(**{k: v for k, v in PARAMS.items() if k in Settings.__dataclass_fields__})
    return run_dir, settings, S3Store.connect(settings)


@pytest.mark.notebooks
def test_every_notebook_ran_and_was_saved(run):
    run_dir, _, _ = run
    record = json.loads((run_dir / "run.json").read_text())
    assert [n["name"] for n in record["notebooks"]] == [p.stem for p in available_notebooks()]
    assert all(n["status"] == "ok" for n in record["notebooks"])
    assert any("DP-TVAE: " in line and "epsilon=" in line for line in RUN_LOG), RUN_LOG  # training progress streamed
    assert any("evaluation: " in line for line in RUN_LOG) and any("downstream models: " in line for line in RUN_LOG)
    for p in available_notebooks():
        executed = nbformat.read(run_dir / p.name, as_version=4)
        assert any(c.get("outputs") for c in executed.cells if c.cell_type == "code")


@pytest.mark.notebooks
def test_00_landed_the_raw_csv_unchanged(run):
    _, settings, store = run
    key = settings.raw_key("bank_customers/bank_customers.csv")
    assert store.get_bytes(key) == SAMPLE_CSV.read_bytes()
    assert store.head(key)["etag"] == hashlib.md5(SAMPLE_CSV.read_bytes()).hexdigest()


@pytest.mark.notebooks
def test_01_wrote_the_raw_profile(run):
    _, settings, store = run
    profile = store.read_json(settings.key("profile", "bank_customers.json"))
    assert profile["rows"] == sum(1 for _ in SAMPLE_CSV.open()) - 1
    assert profile["duplicate_rows"] > 0
    by_name = {c["name"]: c for c in profile["column_profiles"]}
    assert by_name["Annual Income"]["nulls"] > 0
    assert by_name["Annual Income"]["numeric_parse_share"] < 0.9  # text with "$" and ","
    assert "summary" in by_name["Age"] and by_name["Age"]["summary"]["max"] > 120


def test_papermill_sees_every_parameter():
    """A parameter papermill cannot parse could not be set with `workshop run -p`."""
    import papermill

    for path in available_notebooks():
        nb = nbformat.read(path, as_version=4)
        cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        assigned = {
            line.split("=")[0].strip() for line in cell.source.splitlines() if "=" in line and not line.startswith("#")
        }
        assert assigned == set(papermill.inspect_notebook(str(path))), path.name


@pytest.mark.notebooks
def test_02_wrote_clean_parquet_quarantine_report_and_catalog(run):
    from workshop_utils import catalog

    _, settings, store = run
    entry = catalog.find_table(store, settings, "bank_customers", run_id=settings.run_id)
    table = catalog.read_table(store, entry)
    assert len(table) == entry["Parameters"]["recordCount"] > 0.95 * PARAMS["sample_rows"]
    assert not table.duplicated().any()
    report = store.read_json(settings.key("processed", "job_report.json"))
    assert (
        report["rows_in"]
        == report["rows_out"]
        + report["rows_quarantined"]
        + report["duplicates_removed"]
        + report["rows_dropped_for_missing"]
    )
    q = catalog.read_table(
        store, catalog.find_table(store, settings, "bank_customers_quarantine", run_id=settings.run_id)
    )
    assert len(q) == report["rows_quarantined"] > 0 and q["quarantine_reason"].str.len().gt(0).all()
    assert entry["Parameters"]["source"]["location"].endswith("/raw/bank_customers/")
    if PARAMS["run_on_spark"]:  # the engine comparison the notebook shows: every engine, the same table
        run_dir = run[0]
        executed = nbformat.read(run_dir / "02_glue_cleaning.ipynb", as_version=4)
        shown = [o for c in executed.cells if "compare_engines" in c.source for o in c.outputs]
        text = shown[0]["data"]["text/plain"]
        assert "spark" in text and "pandas" in text and "False" not in text, text


@pytest.mark.notebooks
def test_03_wrote_findings_rescan_and_the_deidentified_table(run):
    from workshop_utils import catalog
    from workshop_utils.sample_data import COLUMNS

    _, settings, store = run
    findings = store.read_json(settings.key("pii", "findings.json"))
    assert {f["column"]: f["type"] for f in findings["findings"]} == {c.name: c.pii_type for c in COLUMNS if c.pii_type}
    macie = store.read_json(settings.key("pii", "macie_findings.json"))
    macie_types = {
        d["type"] for c in macie["classificationDetails"]["result"]["sensitiveData"] for d in c["detections"]
    }
    assert {"USA_SOCIAL_SECURITY_NUMBER", "CREDIT_CARD_NUMBER"} <= macie_types
    rescan = store.read_json(settings.key("pii", "rescan_findings.json"))
    assert rescan["summary"]["by_severity"]["medium"] == rescan["summary"]["by_severity"]["high"] == 0
    risk = store.read_json(settings.key("pii", "quasi_identifier_risk.json"))
    assert (
        risk["before"][0]["step"] == "original"
        and risk["before"][-1]["unique_share"] < risk["before"][0]["unique_share"]
    )
    entry = catalog.find_table(store, settings, "bank_customers_deidentified", run_id=settings.run_id)
    table = catalog.read_table(store, entry)
    direct = {c.name for c in COLUMNS if c.kind == "direct_identifier"}
    assert not direct & set(table.columns)
    assert entry["Parameters"]["source"]["table"] == "bank_customers"


@pytest.mark.notebooks
def test_04_split_once_trained_and_saved_the_model_with_its_ledger(run):
    from workshop_utils import catalog

    _, settings, store = run
    train = catalog.find_table(store, settings, "bank_customers_train", run_id=settings.run_id)
    holdout = catalog.find_table(store, settings, "bank_customers_holdout", run_id=settings.run_id)
    deid = catalog.find_table(store, settings, "bank_customers_deidentified", run_id=settings.run_id)
    assert (
        train["Parameters"]["recordCount"] + holdout["Parameters"]["recordCount"] == deid["Parameters"]["recordCount"]
    )
    ids_train = set(catalog.read_table(store, train)["customer_id"])
    assert ids_train.isdisjoint(set(catalog.read_table(store, holdout)["customer_id"]))
    card = store.read_json(settings.key("models", "dp_tvae.json"))
    assert store.exists(card["model_key"]) and card["params"]["epochs"] == PARAMS["epochs"]
    eps = ledger_totals(card["privacy_ledger"])[0]
    assert 0.99 * PARAMS["epsilon"] <= eps <= PARAMS["epsilon"]
    assert any(e["step"] == "training" for e in card["privacy_ledger"])


@pytest.mark.notebooks
def test_05_wrote_a_catalogued_synthetic_table_with_the_training_schema(run):
    from workshop_utils import catalog

    _, settings, store = run
    entry = catalog.find_table(store, settings, "bank_customers_synthetic", run_id=settings.run_id)
    synthetic = catalog.read_table(store, entry)
    train_entry = catalog.find_table(store, settings, "bank_customers_train", run_id=settings.run_id)
    train = catalog.read_table(store, train_entry)
    assert len(synthetic) == PARAMS["synthetic_rows"]
    assert list(synthetic.columns) == list(train.columns)
    assert catalog.column_types(entry) == catalog.column_types(train_entry)  # the declared schema
    assert synthesize.schema_check(train, synthetic, catalog.column_types(train_entry))["ok"].all()
    ledger = store.read_json(entry["Parameters"]["privacyLedgerKey"])
    assert ledger_totals(ledger)[0] == pytest.approx(entry["Parameters"]["epsilonSpent"])
    assert not set(synthetic["customer_id"]) & set(train["customer_id"])  # surrogate ids, not real ones


@pytest.mark.notebooks
def test_06_released_only_what_the_allow_list_permits(run):
    """Walk every key and field of the release bundle; the internal report stays under reports/."""
    _, settings, store = run
    keys = store.list_keys(f"{settings.prefix}/released/{settings.run_id}/")
    assert keys, "the gate was opened for the test: something must be released"
    files = {}
    for key in keys:
        name = key.rsplit("/", 1)[1]
        files[name] = store.get_bytes(key) if name.endswith(".parquet") else store.read_json(key)
    release.check_bundle(files)
    assert {"privacy_ledger.json", "model_card.json", "scores.json"} <= set(files)
    assert "seed" not in files["model_card.json"]["hyperparameters"]
    assert "NOT differentially private" in files["scores.json"]["label"]
    internal = store.get_bytes(settings.key("reports", "report.html")).decode()
    assert "INTERNAL: for the data owner only" in internal
    assert not [k for k in keys if "report" in k]
    # the internal report holds every attack: targeted (per target), untargeted and anonymeter's risks
    privacy = store.read_json(settings.key("reports", "evaluation.json"))["metrics"]["privacy"]
    assert privacy["targeted"]["games_per_target"] == 4 and len(privacy["targeted"]["targets"]) == 5
    assert {"singling_out", "linkability", "inference"} <= set(privacy["anonymeter"])
    assert privacy["strongest_attack"] in {a["attack"] for a in privacy["attacks"]} | {privacy["targeted"]["attack"]}


@pytest.mark.notebooks
def test_08_ran_the_clean_rooms_collaboration(run):
    _, settings, store = run
    root = settings.key("cleanrooms", "bank-travel-synthetic")
    strict = store.read_json(f"{root}/channels/default-risk-strict/status.json")
    ok = store.read_json(f"{root}/channels/default-risk/status.json")
    assert strict["status"] == "CREATE_FAILED" and ok["status"] == "ACTIVE" and ok["numberOfRecords"] > 0
    assert store.exists(f"{root}/channels/default-risk/data.parquet")
    assert len(store.list_keys(f"{root}/approvals/")) == 4  # two templates, two providers
    assert store.exists(f"{root}/exports/default-risk/model.joblib")
    requests = store.list_keys(f"{root}/requests/")
    assert len(requests) == 5  # four create operations and the export job
    for prefix in ("cr-bank", "cr-travel"):  # each partner's own stages, under its own prefix
        assert store.list_keys(f"{prefix}/deidentified/{settings.run_id}/")


def raw_pii_values(count: int = 20) -> list[str]:
    """Direct identifiers of customers inside the rows the test run uses."""
    import pandas as pd

    raw = pd.read_csv(SAMPLE_CSV, dtype=str, nrows=PARAMS["sample_rows"])
    columns = ["Full Name", "EMAIL", "SSN", "Credit Card Number", "Account Number"]
    values = [v for _, row in raw.iterrows() for v in row[columns] if isinstance(v, str) and len(v) >= 8]
    return values[:count]


def _artefact_text(key: str, data: bytes) -> str:
    if key.endswith(".parquet"):
        return catalog.read_parquet_bytes(data).to_csv(index=False)
    return data.decode("utf-8", errors="replace")


@pytest.mark.notebooks
def test_no_raw_identifier_outside_raw_processed_and_quarantine(run):
    """Every S3 object, executed notebook and log line of the run, grepped for 20 real identifiers."""
    run_dir, settings, store = run
    secrets = raw_pii_values()
    assert len(secrets) == 20

    def allowed(key: str) -> bool:  # any prefix's (the workshop's, each Clean Rooms partner's) first stages
        parts = key.split("/")
        return len(parts) > 2 and parts[1] in ("raw", "processed", "quarantine")

    artefacts = {k: _artefact_text(k, store.get_bytes(k)) for k in store.list_keys("") if not allowed(k)}
    artefacts |= {str(p): p.read_text() for p in run_dir.iterdir() if p.is_file()}
    artefacts["log"] = "\n".join(RUN_LOG)
    leaks = {(where, v) for where, text in artefacts.items() for v in secrets if v in text}
    assert not leaks, f"raw identifiers found in: {sorted(leaks)[:5]}"
    assert any(k.startswith(f"{settings.prefix}/processed/") for k in store.list_keys(""))  # the grep saw a real run


@pytest.mark.notebooks
def test_rerunning_04_is_charged_to_the_lifetime_budget(run, tmp_path):
    run_dir, settings, store = run
    budget = train_dp_tvae.budget_for(
        store, settings, catalog.find_table(store, settings, "bank_customers_train", run_id=settings.run_id)
    )
    spent_before, charges_before = budget.spent()[0], len(budget.entries())
    # notebook 04 (epsilon 3) and notebook 08's two Clean Rooms generations (epsilon 1 each) on the same raw table
    assert spent_before == pytest.approx(PARAMS["epsilon"] + 2.0)
    params = {
        k: v
        for k, v in PARAMS.items()
        if k
        not in (
            "synthetic_rows",
            "min_fidelity",
            "min_pair_fidelity",
            "min_utility",
            "min_protection",
            "max_exact_copy_rate",
            "run_on_spark",
            "shadow_models",
        )
    }
    params["sdv_baseline"] = False  # one charge: the DP fit
    run_workshop(only=["04"], params=params | {"run_id": "nbrun-again"}, runs_dir=tmp_path, log=lambda _: None)
    assert len(budget.entries()) == charges_before + 1
    assert budget.spent()[0] == pytest.approx(spent_before + PARAMS["epsilon"])
    card = store.read_json(f"{settings.prefix}/models/nbrun-again/dp_tvae.json")
    assert card["lifetime_budget"]["spent_epsilon"] == pytest.approx(spent_before + PARAMS["epsilon"])
    # a fit that would cross the cap is refused before it runs
    with pytest.raises(Exception, match="lifetime cap"):
        run_workshop(
            only=["04"], params=params | {"run_id": "nbrun-over", "epsilon": 5.0}, runs_dir=tmp_path, log=lambda _: None
        )


@pytest.mark.notebooks
def test_the_whole_series_runs_on_another_table_from_its_spec(s3_server, tmp_path):
    """Any table: a spec written by init-dataset for diamonds (a regression target, an inferred job)."""
    source = SHARED_DATASETS / "diamonds.csv"
    if not source.exists():
        pytest.skip(f"{source} is absent: the shared datasets folder is not beside the project")
    spec_path, job_path = init_dataset(source, "price", out=tmp_path / "diamonds.yaml")
    text = job_path.read_text()
    assert "public: false" in text and "reviewed: false" in text  # nothing inferred is public before review
    job_path.write_text(text.replace("reviewed: false", "reviewed: true"))  # the owner reviews the types
    params = PARAMS | {
        "dataset": str(spec_path),
        "bucket": "other-table",
        "run_id": "diamonds-run",
        "sample_rows": 4000,  # notebook 08's Clean Rooms join at epsilon 1 needs ~1,000 training rows for DP quantiles
        "synthetic_rows": 400,
    }
    run_dir = run_workshop(params=params, runs_dir=tmp_path / "runs", log=lambda _: None)
    record = json.loads((run_dir / "run.json").read_text())
    assert all(n["status"] == "ok" for n in record["notebooks"]) and len(record["notebooks"]) == len(NOTEBOOKS)
    settings = Settings.load(bucket="other-table", prefix=PARAMS["prefix"], run_id="diamonds-run")
    store = S3Store.connect(settings)
    released = catalog.find_table(store, settings, "diamonds_released", run_id="diamonds-run")
    assert released["Parameters"]["recordCount"] == 400
    scores = store.read_json(settings.key("released", "scores.json"))
    assert scores["utility_metric"] == "r2"
    downstream = store.list_keys(f"{settings.prefix}/models/downstream/diamonds-run/")
    assert [k.rsplit("/", 1)[1] for k in downstream] == ["price_regression.joblib"]
    for nb in run_dir.glob("*.ipynb"):  # no sample column anywhere in the executed notebooks' code
        cells = nbformat.read(nb, as_version=4).cells
        code = "\n".join(
            c.source
            for c in cells
            if c.cell_type == "code" and not {"parameters", "injected-parameters"} & set(c.metadata.get("tags", []))
        )
        assert "bank_customers" not in code and "annual_income" not in code, nb.name


@pytest.mark.notebooks
def test_an_interrupted_run_resumes_from_where_it_stopped_and_rewrites_nothing(s3_server, tmp_path):
    from workshop_utils.runner import WorkshopRunError

    base = {
        k: PARAMS[k] for k in ("prefix", "seed", "sample_rows", "epochs", "epsilon", "sdv_epochs", "synthetic_rows")
    }
    params = base | {"bucket": "resume-test", "run_id": "resume-run"}
    first = ["00", "01", "02", "03", "04"]
    first_params = {k: v for k, v in params.items() if k != "synthetic_rows"} | {"batch_size": 100_000}
    with pytest.raises(WorkshopRunError, match="04_train_dp_tvae failed"):  # fails after the split was written
        run_workshop(only=first, params=first_params, runs_dir=tmp_path, log=lambda _: None)
    settings = Settings.load(bucket="resume-test", prefix=PARAMS["prefix"], run_id="resume-run")
    store = S3Store.connect(settings)
    split = catalog.find_table(store, settings, "bank_customers_train", run_id="resume-run")
    log: list[str] = []
    run_dir = run_workshop(only=[*first, "05"], params=params | {"batch_size": 256}, runs_dir=tmp_path, log=log.append)
    assert any("finished before" in line and "going on from 04_train_dp_tvae" in line for line in log), log
    assert not any(line.startswith("[") and "00_setup" in line for line in log)  # 00-03 were not run again
    again = catalog.find_table(store, settings, "bank_customers_train", run_id="resume-run")
    assert again["Parameters"]["objectETag"] == split["Parameters"]["objectETag"]  # the split was reused
    record = json.loads((run_dir / "run.json").read_text())
    assert [n["name"] for n in record["notebooks"]] == [p.stem for p in available_notebooks()][:6]
    assert (run_dir / "04_train_dp_tvae.attempt-1.ipynb").exists()  # the failed attempt is kept
    assert catalog.find_table(store, settings, "bank_customers_synthetic", run_id="resume-run")
