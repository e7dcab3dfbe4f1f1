"""Source of the workshop notebooks: writes notebooks/*.ipynb without outputs.

Edit the cells here and run `python tools/build_notebooks.py`; a test checks that
the committed notebooks match this file, so the two never drift apart.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]

COMMON_PARAMS = """\
# Parameters: `workshop run -p key=value` (papermill) overrides these.
# None means: use the WORKSHOP_* environment variable, else the default in workshop_utils.config.
storage_mode = None  # "local" (embedded S3 server) or "aws"
bucket = None  # default "workshop-data"
prefix = None  # key prefix, default "workshop"
endpoint_url = None  # custom S3 endpoint; None means the local server or the AWS default
region = None  # default "us-east-1"
run_id = None  # `workshop run` sets one id for all notebooks of a run
seed = None  # default 42"""

SETTINGS = """\
from workshop_utils.config import Settings
from workshop_utils.storage import S3Store

settings = Settings.from_notebook(globals())
settings.as_dict()"""

NOTEBOOKS: dict[str, list[tuple[str, str]]] = {
    "00_setup": [
        (
            "md",
            """# 00 · Setup

Welcome to the privacy-preserving synthetic data workshop. This notebook prepares everything
the later ones need:

1. checks the Python environment,
2. starts (or finds) the S3 endpoint: an embedded local S3 server by default, or your AWS bucket,
3. creates the bucket (local mode only) and lands the raw CSV in `{prefix}/raw/`,
4. shows what is in the bucket.

Raw objects are **write-once**: re-running this notebook finds the identical object and leaves it
alone; a different file under the same name is refused rather than overwritten.""",
        ),
        ("params", COMMON_PARAMS),
        (
            "code",
            """from workshop_utils.environment import environment_report

environment_report()""",
        ),
        ("code", SETTINGS),
        (
            "md",
            """## The S3 endpoint

In `local` mode `S3Store.connect(..., start_local=True)` starts moto's S3-compatible server on
127.0.0.1 (or reuses the one already running) and records it so every later notebook finds it.
`workshop s3 status` / `workshop s3 stop` manage it from a terminal. In `aws` mode the standard
credential chain is used and the bucket must already exist.""",
        ),
        (
            "code",
            """store = S3Store.connect(settings, start_local=True)
created = store.ensure_bucket()
print(f"endpoint: {store.client.meta.endpoint_url}")
print(f"bucket:   s3://{settings.bucket} ({'created' if created else 'already there'})")""",
        ),
        (
            "md",
            """## Land the raw data

The workshop's sample table, `data/raw/bank_customers.csv`, holds 20,000 made-up bank customers
with loan applications: names, emails, SSNs, card numbers, and all the dirt a real extract has.
See `data/README.md` for its data dictionary.""",
        ),
        (
            "code",
            """from workshop_utils.sample_data import SAMPLE_CSV

landed = store.land_raw(SAMPLE_CSV)
print(("uploaded" if landed["uploaded"] else "already present, identical:"), f"s3://{settings.bucket}/{landed['key']}")
landed""",
        ),
        (
            "md",
            """Like a Glue crawler, we register the raw object in the workshop's **data catalog**
(`{prefix}/catalog/{run-id}/`). Later notebooks find their inputs by table name there, never by
hard-coded keys.""",
        ),
        (
            "code",
            """from workshop_utils import stages

raw_entry = stages.crawl_raw_csv(store, settings, landed["key"])
print(f"catalogued {raw_entry['Name']}: {raw_entry['Parameters']['recordCount']:,} rows, "
      f"{len(raw_entry['StorageDescriptor']['Columns'])} columns")""",
        ),
        ("code", """store.list_objects(settings.prefix + "/")"""),
    ],
    "01_load_from_s3": [
        (
            "md",
            """# 01 · Load from S3 and profile

We read the raw table straight from S3 with boto3 into pandas, exactly as it landed, and profile it:
column types, missing values, duplicates and numeric summaries. The profile is written back to S3
as JSON under `{prefix}/profile/{run-id}/`; it stays in the data owner's bucket (it describes real
data) and holds counts and summaries only, no example values. Columns that the data dictionary or a
quick PII scan marks as identifying are **masked** when we look at rows, and the profile publishes no
value of theirs (the minimum of a card-number column is a real customer's card).""",
        ),
        ("params", COMMON_PARAMS),
        ("code", SETTINGS),
        (
            "code",
            """store = S3Store.connect(settings)  # says how to recover if the local server is gone
store.list_objects(settings.prefix + "/raw/")""",
        ),
        (
            "code",
            """from workshop_utils import profiling
from workshop_utils.sample_data import data_dictionary

raw_key = settings.raw_key("bank_customers.csv")
raw = store.read_csv(raw_key)
print(f"{len(raw):,} rows x {raw.shape[1]} columns from s3://{settings.bucket}/{raw_key}")
identifying = profiling.identifying_columns(raw, data_dictionary())
print("identifying columns (masked below, no values in the profile):", identifying)
profiling.masked_rows(raw, identifying)""",
        ),
        (
            "md",
            """## Profile

Look for what the next stage must fix: headers with spaces and mixed case, numbers stored as
text (`numeric_%` below 100), missing values, duplicated rows and impossible values
(negative income, ages over 120).""",
        ),
        (
            "code",
            """profile = profiling.profile_table(raw, name="bank_customers", identifying=identifying)
print(f"rows: {profile['rows']:,}  columns: {profile['columns']}  exact duplicate rows: {profile['duplicate_rows']}")
profiling.profile_frame(profile)""",
        ),
        ("code", """profiling.plot_missing(profile);"""),
        (
            "code",
            """profile_key = store.write_json(profile, settings.key("profile", "bank_customers.json"))
print(f"profile written to s3://{settings.bucket}/{profile_key}")""",
        ),
    ],
}


NOTEBOOKS["02_glue_cleaning"] = [
    (
        "md",
        """# 02 · Glue-style cleaning

This stage plays AWS Glue's part: a small **declarative job** turns the raw CSV into a typed, clean
table that later stages can trust. Each step is named after the Glue transform it mirrors:

| step | what it does |
|---|---|
| `ApplyMapping` | source column -> snake_case name and target type |
| `ResolveChoice` | coerce messy values (`"$12,345.00"`, `Y/N`, mixed date formats); unparseable -> null, counted |
| `Standardize` | trim, fold case, map category variants to one spelling |
| `DropDuplicates` | exact duplicates (optionally on a key) |
| `Validate` | range / allowed-value / regex rules; breaking rows go to **quarantine** with the rule's name |
| `HandleMissing` | per column: keep, drop, or fill (median, mode, constant) |
| `DropFields` / `SelectFields` | remove or keep columns |

The input object is never modified. Outputs: Parquet under `{prefix}/processed/{run-id}/`, the
quarantine under `{prefix}/quarantine/{run-id}/`, a job report, and catalog entries.""",
    ),
    (
        "params",
        COMMON_PARAMS
        + """
sample_rows = None  # clean only the first N raw rows, None for all
job_file = None  # path to your own job YAML, None for the default job""",
    ),
    ("code", SETTINGS),
    (
        "code",
        """from workshop_utils import catalog, cleaning, stages

store = S3Store.connect(settings)
catalog.list_tables(store, settings)""",
    ),
    (
        "md",
        """## The job

The default job ships with the package (`workshop_utils/default_job.yaml`). Copy it, edit it, and
pass your file as `job_file`. For any other CSV, `cleaning.infer_job(df)` proposes a job to start from.""",
    ),
    (
        "code",
        """job = cleaning.load_job(job_file)
print(cleaning.job_to_yaml({"name": job["name"], "steps": [s for s in job["steps"] if "ApplyMapping" not in s]}))
print("ApplyMapping (first 8 of", len(job["steps"][0]["ApplyMapping"]["mappings"]), "columns):")
import pandas as pd
pd.DataFrame(job["steps"][0]["ApplyMapping"]["mappings"]).head(8)""",
    ),
    (
        "code",
        """out = stages.run_cleaning(store, settings, job)
report = out.result.report
print(f"rows in {report['rows_in']:,} -> out {report['rows_out']:,}; quarantined {report['rows_quarantined']}, "
      f"duplicates removed {report['duplicates_removed']}, dropped for missing values {report['rows_dropped_for_missing']}")
pd.DataFrame(report["steps"])""",
    ),
    ("md", "## Job report: where the rows went, and nulls per column before and after"),
    ("code", """cleaning.plot_report(report);"""),
    (
        "code",
        """cleaning.report_frame(report).merge(
    pd.DataFrame({"column": list(out.result.types), "type": list(out.result.types.values())}), on="column")""",
    ),
    ("md", "## Before and after"),
    (
        "code",
        """cols = {"Annual Income": "annual_income", "Application Date": "application_date", "Marital Status": "marital_status",
        "Email Opt-In": "email_opt_in", "Default": "default"}
before = out.raw.loc[:7, list(cols)].rename(columns=lambda c: f"raw: {c}")
after = out.result.table[list(cols.values())].head(8)
pd.concat([before.reset_index(drop=True), after], axis=1)""",
    ),
    (
        "code",
        """print("quarantined rows by rule:", {k: v for k, v in report["quarantined_by_rule"].items() if v})
out.result.quarantine[[cleaning.SOURCE_ROW, cleaning.QUARANTINE_REASON, "annual_income", "age"]].head()""",
    ),
    (
        "code",
        """print("processed :", out.table_entry["StorageDescriptor"]["Location"])
print("quarantine:", f"s3://{settings.bucket}/{out.quarantine_key}")
print("report    :", f"s3://{settings.bucket}/{out.report_key}")
catalog.list_tables(store, settings)""",
    ),
]


NOTEBOOKS["03_pii_check"] = [
    (
        "md",
        """# 03 · PII check, the way Amazon Macie does it

Before any model sees the data we prove it holds no direct identifiers, and we measure how
identifiable people remain through **quasi-identifiers** (ZIP code, birth date, gender...).

1. **Scan** every column. Detection rests on the values (validated with Luhn, mod-97, SSN ranges,
   phone numbering plans, name lexicons), not on column names; names only nudge confidence.
2. **Findings** like Macie's: type, category, occurrences, confidence, severity, masked examples.
3. **Quasi-identifier risk**: k-anonymity and the share of unique records, and how generalization helps.
4. **Remediate** with a policy (drop, mask, keyed hash, generalize, redact, keep with a reason).
5. **Re-scan** the de-identified table: it must show no medium or high findings.""",
    ),
    (
        "params",
        COMMON_PARAMS
        + """
scan_sample_rows = 20000  # tables larger than this are scanned on a row sample
quasi_identifiers = None  # list of columns, None for the suggested set""",
    ),
    ("code", SETTINGS),
    (
        "code",
        """import pandas as pd
from workshop_utils import catalog, deid, pii, risk, stages

store = S3Store.connect(settings)
print("policy:", deid.DEFAULT_POLICY)
out = stages.run_pii_check(store, settings, quasi_identifiers=quasi_identifiers, sample_rows=scan_sample_rows)""",
    ),
    ("md", "## Findings"),
    (
        "code",
        """f = out.findings
print(f"{f.table}: {f.rows:,} rows, scanned {f.rows_scanned:,}" + (" (a random sample)" if f.sampled else " (all rows)"))
print("by severity:", f.summary()["by_severity"])
f.frame()""",
    ),
    ("code", """pii.plot_findings(f);"""),
    (
        "code",
        """notes = pii.findings_by_column(f).get("notes")
print("identifiers found inside the free-text notes:", notes.embedded_types if notes else "none")""",
    ),
    (
        "md",
        """## Quasi-identifier risk

Each row below generalizes one more quasi-identifier. `k` is the smallest group of people who share
the same values; `unique_share` is the share of records that are alone in theirs.""",
    ),
    (
        "code",
        """print("quasi-identifiers:", out.quasi_identifiers)
out.risk_before""",
    ),
    ("code", """risk.plot_ladder(out.risk_before);"""),
    (
        "md",
        """## Remediation and re-scan

The default policy drops direct identifiers, generalizes birth date to year and ZIP to 3 digits,
redacts identifiers inside free text and replaces the customer key by a keyed hash (HMAC-SHA256:
the secret stays in memory and is never written).""",
    ),
    ("code", """out.remediation.frame()"""),
    (
        "code",
        """import matplotlib.pyplot as plt

fig, (a, b) = plt.subplots(1, 2, figsize=(13, 4))
pii.plot_findings(f, ax=a)
pii.plot_findings(out.rescan, ax=b)
a.set_title("before remediation"); b.set_title("after remediation (re-scan)")
fig.tight_layout()
print("re-scan medium/high findings:", len(out.rescan.at_or_above("medium")))
out.rescan.frame()""",
    ),
    (
        "code",
        """print("quasi-identifier risk after remediation:")
out.risk_after""",
    ),
    (
        "md",
        """Direct identifiers are gone, but most records are still **unique** on their quasi-identifiers:
birth year, ZIP prefix, gender, age and marital status together single out most people. That is why
this table is never released: the next notebooks train a synthesizer with differential privacy,
whose guarantee does not depend on which columns an attacker happens to know.""",
    ),
    ("code", """pd.concat([out.table.head(3).T], axis=1)"""),
    (
        "code",
        """for name, key in out.keys.items():
    print(f"{name:12s} s3://{settings.bucket}/{key}")
print("de-identified table:", out.entry["StorageDescriptor"]["Location"])""",
    ),
]


NOTEBOOKS["04_train_dp_tvae"] = [
    (
        "md",
        """# 04 · Train a TVAE with differential privacy

The de-identified table is split **once** into a training part and a real **holdout**; the holdout is
stored for evaluation and never shown to the model. Each row's side is decided by a keyed hash of that
row alone (the key comes from the OS and is never stored), so adding or removing one customer moves
only that customer. Then we set column roles (as AWS Clean Rooms ML asks a data owner to), declare
what is public, choose a privacy budget and train.

**What the guarantee covers.** (epsilon, delta)-DP for adding or removing one row of the de-identified
table: the model, its samples and the ledger change in distribution by at most that much. Public (not
protected): column names, the declared types and nullability, the bounds and category lists the
cleaning job writes down, and the row count. Everything else the model learns is paid for from
epsilon: bounds and category domains estimated under DP, the target's distribution, DP-SGD training,
with noise drawn from the operating system's entropy (the seed cannot replay it). The ledger below lists
each part; their sum never exceeds the epsilon you ask for.

**Every fit spends.** Rerunning this notebook, retraining after a failed gate or sweeping epsilons all
learn from the same customers again. The table's **lifetime budget** (an append-only account in S3,
capped at `budget_cap`) is charged *before* each fit and refuses the one that would cross the cap.
Differential privacy limits what anyone can learn about one customer from the model and its samples;
it does not make the data "anonymous" in any absolute sense, and a larger epsilon means a weaker bound.""",
    ),
    (
        "params",
        COMMON_PARAMS
        + """
sample_rows = None  # rows of the raw table used since notebook 02, None for all
epsilon = 3.0  # privacy budget for the whole path; None trains without DP
delta = None  # None for a default below 1/n
epochs = 100
batch_size = 500
max_grad_norm = 1.0  # per-sample clipping norm
holdout_share = 0.2
budget_cap = 10.0  # lifetime epsilon of the source table, over every fit ever made on it
internal_only = False  # True promises a non-private model never leaves the data owner (required without DP)
train_baseline = False  # also train the same model without DP (internal only), for comparison""",
    ),
    ("code", SETTINGS),
    (
        "code",
        """import pandas as pd
from workshop_utils import catalog, stages
from workshop_utils.synth import DPTVAESynthesizer

store = S3Store.connect(settings)
budget = stages.budget_for(store, settings, catalog.find_table(store, settings, stages.DEIDENTIFIED_TABLE), cap=budget_cap)
spent, _ = budget.spent()
print(f"lifetime budget of {budget.table_name}: spent {spent:.3g} of {budget.cap:g}, remaining {budget.remaining():.3g}")
if epsilon is not None:
    budget.require(epsilon)  # refuse now, before anything is written, if this fit would cross the cap
train, holdout, split_entries = stages.split_holdout(store, settings, holdout_share=holdout_share)
print(f"training part: {len(train):,} rows   real holdout: {len(holdout):,} rows (kept aside for notebook 06)")""",
    ),
    (
        "md",
        """## Column roles and public knowledge

`TableMetadata.detect` proposes roles from the schema alone (dtypes and column names, never the values,
so it costs no budget); we then mark the target, the id and the free text. The
cleaning job already states public facts (valid ranges, canonical category spellings); declaring them
spends no budget. Everything else is estimated under DP.""",
    ),
    (
        "code",
        """job = stages.cleaning_job_for(store, settings, split_entries["train"])  # the job notebook 02 ran
meta, declared = stages.sample_metadata(train, job, types=catalog.column_types(split_entries["train"]))
print("declared public from the cleaning job:")
for line in declared:
    print("  ", line)
meta.frame()[["column", "role", "kind", "integer", "nullable", "bounds", "categories"]]""",
    ),
    (
        "code",
        """synth = DPTVAESynthesizer(meta, epsilon=epsilon, delta=delta, epochs=epochs, batch_size=batch_size,
                          max_grad_norm=max_grad_norm, seed=settings.seed)
stages.train_synthesizer(synth, train, budget, settings, split_entries["train"], internal_only=internal_only)
print(f"trained in {synth.training_seconds:.1f} s on {synth.device}; epsilon spent: {synth.epsilon_spent:.3f}")""",
    ),
    (
        "md",
        """For a DP model we plot the privacy spent, not the training loss: the loss is computed on real rows
without noise, so it is not covered by the guarantee (`synth.plot_loss(internal=True)` shows it to the
data owner, labelled as such).""",
    ),
    ("code", """synth.plot_training();"""),
    ("md", "## The privacy ledger"),
    (
        "code",
        """ledger = synth.privacy_ledger()
ledger""",
    ),
    (
        "code",
        """keys = stages.save_model(store, settings, synth, "dp_tvae" if epsilon is not None else "tvae_baseline",
                         {"train_table": catalog.source_of(split_entries["train"]),
                          "holdout_table": catalog.source_of(split_entries["holdout"])})
print("model:", f"s3://{settings.bucket}/{keys['model']}")
print("card: ", f"s3://{settings.bucket}/{keys['card']}")""",
    ),
    (
        "code",
        """if train_baseline and epsilon is not None:
    baseline = DPTVAESynthesizer(meta, epsilon=None, epochs=epochs, batch_size=batch_size, seed=settings.seed)
    stages.train_synthesizer(baseline, train, budget, settings, split_entries["train"], internal_only=True)
    stages.save_model(store, settings, baseline, "tvae_baseline", {"train_table": catalog.source_of(split_entries["train"])})
    print(f"baseline (no DP) trained in {baseline.training_seconds:.1f} s")""",
    ),
]

NOTEBOOKS["05_synthesize"] = [
    (
        "md",
        """# 05 · Synthesize

Load the trained model, sample synthetic rows, check they have exactly the training table's schema,
compare them with the real training data, try **conditional sampling**, and store the synthetic table
with its privacy ledger. Sampling is post-processing: it spends no privacy budget.""",
    ),
    (
        "params",
        COMMON_PARAMS
        + """
synthetic_rows = 10000
model_name = "dp_tvae"  # or "tvae_baseline" """,
    ),
    ("code", SETTINGS),
    (
        "code",
        """import pandas as pd
from workshop_utils import catalog, stages

store = S3Store.connect(settings)
synth, card = stages.load_model(store, settings, model_name)
train_entry = catalog.find_table(store, settings, stages.TRAIN_TABLE, run_id=card["run_id"])
train = catalog.read_table(store, train_entry)
print(f"model from run {card['run_id']}: epsilon spent {card['epsilon_spent']:.3f}")""",
    ),
    (
        "code",
        """synthetic = synth.sample(settings.synthetic_rows)
check = stages.schema_check(train, synthetic, catalog.column_types(train_entry))
print("schema identical:", bool(check["ok"].all() and check["position_ok"].all()))
check""",
    ),
    ("md", "## Real vs synthetic, side by side"),
    ("code", """stages.compare_summaries(train, synthetic)"""),
    (
        "code",
        """import matplotlib.pyplot as plt

fig, axes = plt.subplots(1, 3, figsize=(14, 3.5))
for ax, col in zip(axes, ["annual_income", "credit_score", "interest_rate"]):
    ax.hist(train[col].dropna(), bins=40, alpha=0.5, density=True, label="real (training)")
    ax.hist(synthetic[col].dropna(), bins=40, alpha=0.5, density=True, label="synthetic")
    ax.set_title(col)
axes[0].legend()
fig.tight_layout()""",
    ),
    ("md", "## Conditional sampling: 1,000 synthetic customers who defaulted"),
    (
        "code",
        """defaulted = synth.sample(1000, conditions={"default": True})
print(len(defaulted), "rows, all default == True:", bool(defaulted["default"].all()))
stages.compare_summaries(train[train["default"] == True], defaulted, ["credit_score", "interest_rate", "debt_to_income"])""",
    ),
    (
        "code",
        """entry = stages.write_synthetic(store, settings, synthetic, train_entry, card)
print("synthetic table:", entry["StorageDescriptor"]["Location"])
pd.DataFrame(card["privacy_ledger"])""",
    ),
]


NOTEBOOKS["06_evaluate"] = [
    (
        "md",
        """# 06 · Evaluate and decide: the release gate

As in AWS Clean Rooms ML, the synthetic table is released only with quality metrics, checked against
thresholds the data owners set:

* **fidelity**: per column exp(-KL(real || synthetic)), shown as a percentage (goal: at least 90%);
  2-way pairs too, and SDMetrics' quality score as an independent second opinion;
* **ML utility**: a model trained on synthetic rows and tested on the real holdout (TSTR) against one
  trained on real rows (TRTR);
* **privacy**: two simulated membership-inference attacks (training rows vs holdout rows), their AUC,
  true-positive rate at low false-positive rates, a protection score, exact copies, and an empirical
  lower bound on epsilon beside the epsilon the privacy ledger claims.

**Two artefacts, two audiences.** Everything this notebook computes reads real rows, so the report under
`reports/` is the data owner's internal document: it is not covered by differential privacy and never
leaves. If the gate passes, the **release bundle** under `released/` holds only what may be shared: the
synthetic rows, the privacy ledger, a model card (no seed, no loss curve) and a few scores labelled as
computed inside the owner's boundary. Every field of the bundle is checked against an allow-list before
it is written.""",
    ),
    (
        "params",
        COMMON_PARAMS
        + """
min_fidelity = 0.90
min_protection = 0.80
max_exact_copy_rate = 0.0
max_claimed_epsilon = 10.0
run_frontier = False  # also train and evaluate several epsilons (slow; spends from the lifetime budget)
frontier_epsilons = [0.5, 1.0, 3.0, None]  # None: a non-private model, kept internal
frontier_epochs = 30
budget_cap = 10.0""",
    ),
    ("code", SETTINGS),
    (
        "code",
        """from workshop_utils import attacks, evaluation, report, stages

store = S3Store.connect(settings)
policy = report.ReleasePolicy(min_fidelity, min_protection, max_exact_copy_rate, max_claimed_epsilon)
out = stages.run_evaluation(store, settings, policy)
print("evaluation took", {k: f"{v:.1f}s" for k, v in out.metrics["seconds"].items()})
report.summary_frame(out.metrics)""",
    ),
    ("md", "## Fidelity"),
    (
        "code",
        """cols = out.metrics["columns"]
evaluation.plot_distributions(out.holdout, out.synthetic, cols, out.metrics["fidelity"]["columns"]);""",
    ),
    ("code", """evaluation.plot_correlations(out.holdout, out.synthetic, cols);"""),
    ("md", "## ML utility"),
    (
        "code",
        """import pandas as pd

u = out.metrics["utility"]
pd.DataFrame({m: {f"{k} {x}": v[k][x] for k in ("TRTR", "TSTR") for x in v[k] if x != "note"} | {"ratio": v["ratio"]}
              for m, v in u["models"].items()})""",
    ),
    ("md", "## Privacy: membership inference"),
    ("code", """pd.DataFrame(out.metrics["privacy"]["attacks"])"""),
    (
        "code",
        """attacks.plot_dcr(out.metrics["privacy"]);
print(f"claimed epsilon (ledger): {out.metrics['claimed_epsilon']}; "
      f"empirical lower bound from the attacks: {out.metrics['privacy']['empirical_epsilon_lower_bound']:.3f}")""",
    ),
    ("md", "## The release gate"),
    (
        "code",
        """print("RELEASE GATE:", out.verdict.label)
for reason in out.verdict.reasons:
    print("  ", reason)
print("internal report (data owner only):", f"s3://{settings.bucket}/{out.keys['html']}")
print("released:", out.released["StorageDescriptor"]["Location"] if out.released else "nothing")
for name, key in out.keys.items():
    if name.startswith("released/"):
        print("  ", f"s3://{settings.bucket}/{key}")""",
    ),
    (
        "code",
        """if run_frontier:
    from workshop_utils import catalog

    train_entry = catalog.find_table(store, settings, stages.TRAIN_TABLE)
    job = stages.cleaning_job_for(store, settings, train_entry)
    meta, _ = stages.sample_metadata(out.train, job, types=catalog.column_types(train_entry))
    budget = stages.budget_for(store, settings, train_entry, cap=budget_cap)
    frontier = report.sweep(out.train, out.holdout, meta, frontier_epsilons, epochs=frontier_epochs, budget=budget)
    report.plot_frontier(frontier)
    store.write_json(frontier.to_dict("records"), settings.key("reports", "frontier.json"))
    display(frontier)""",
    ),
]

NOTEBOOKS["07_train_on_synthetic"] = [
    (
        "md",
        """# 07 · Train on synthetic data

We are now a data scientist in the collaboration: we only get the **released** synthetic table. We train
a classifier (will the loan default?) and a regressor (the interest rate) on it, and the data owner
scores both on the real holdout next to the same models trained on real data. The models trained on
synthetic data are exported. If nothing passed the release gate, this notebook refuses to run.""",
    ),
    ("params", COMMON_PARAMS),
    ("code", SETTINGS),
    (
        "code",
        """from workshop_utils import stages

store = S3Store.connect(settings)
scores, keys = stages.train_downstream(store, settings)
scores""",
    ),
    (
        "code",
        """import matplotlib.pyplot as plt

fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
for ax, (target, part) in zip(axes, scores.groupby("target", sort=False)):
    ax.bar(part["trained on"], part["score on real holdout"], color=["#2980b9", "#95a5a6"])
    ax.set_title(f"{target}: {part['metric'].iloc[0]} on the real holdout")
fig.tight_layout()""",
    ),
    (
        "code",
        """for target, key in keys.items():
    print(f"{target:15s} s3://{settings.bucket}/{key}")""",
    ),
]


def build(name: str, cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"name": "workshop", "display_name": "Python (workshop)", "language": "python"},
        "language_info": {"name": "python"},
    }
    for i, (kind, text) in enumerate(cells):
        cell_id = f"{name[:2]}-{i:02d}"
        if kind == "md":
            nb.cells.append(nbformat.v4.new_markdown_cell(text, id=cell_id))
        else:
            cell = nbformat.v4.new_code_cell(text, id=cell_id)
            if kind == "params":
                cell.metadata["tags"] = ["parameters"]
            nb.cells.append(cell)
    return nb


def render(name: str) -> str:
    return nbformat.writes(build(name, NOTEBOOKS[name])) + "\n"


def main() -> int:
    out_dir = ROOT / "notebooks"
    out_dir.mkdir(exist_ok=True)
    for name in NOTEBOOKS:
        (out_dir / f"{name}.ipynb").write_text(render(name))
        print(f"wrote notebooks/{name}.ipynb")
    return 0


if __name__ == "__main__":
    sys.exit(main())
