"""What we claim is exactly what holds: support from the schema, per-row holdout, the lifetime
budget, nothing value-derived for free, and the release allow-list."""

from __future__ import annotations

import io
import threading

import numpy as np
import pandas as pd
import pytest

from workshop_utils import cleaning, profiling, release, splits
from workshop_utils.budget import BudgetExceededError, NonPrivateFitRefused, PrivacyBudget, table_fingerprint
from workshop_utils.metadata import TableMetadata
from workshop_utils.stages import evaluate, train_dp_tvae
from workshop_utils.synth import DPTVAESynthesizer


def csv_frame(n: int = 600, extra_null_row: bool = False, seed: int = 0) -> pd.DataFrame:
    """A table as a user gets it from a plain read_csv, where one null flips int64 to float64
    and bool to object."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "age": rng.integers(20, 70, n),
            "balance": rng.normal(1000, 300, n).round(2),
            "segment": rng.choice(["a", "b", "c"], n),
            "active": rng.random(n) < 0.5,
            "churn": rng.choice(["yes", "no"], n),
        }
    )
    if extra_null_row:
        df = pd.concat(
            [df, pd.DataFrame([{"age": None, "balance": 1.0, "segment": "a", "active": None, "churn": "no"}])]
        )
    return pd.read_csv(io.StringIO(df.to_csv(index=False)))


def support(df: pd.DataFrame) -> tuple:
    meta = TableMetadata.detect(df)
    meta.set_role("churn", "target", task="classification")
    meta.set_bounds("age", 0, 120).set_bounds("balance", -1e4, 1e4)
    meta.set_categories("segment", ["a", "b", "c"]).set_categories("churn", ["no", "yes"])
    if meta.columns["active"].role == "categorical":
        meta.set_categories("active", [False, True])
    synth = DPTVAESynthesizer(meta, epsilon=3.0, epochs=1, batch_size=200, progress=False).fit(df)
    layout = [(e.name, e.kind, e.slots, e.nullable, e.integer, e.categories, e.lo, e.hi) for e in synth.encodings_]
    return meta.to_dict(), layout, synth.dtypes_, synth.sample(50).dtypes.astype(str).to_dict()


def test_one_null_row_more_does_not_change_what_the_sampler_can_produce():
    plain, with_null = csv_frame(), csv_frame(extra_null_row=True)
    assert str(plain["age"].dtype) == "int64" and str(with_null["age"].dtype) == "float64"  # pandas flips
    assert support(plain) == support(with_null)


def test_declared_types_give_integers_and_a_declared_non_null_column_never_outputs_null():
    df = csv_frame()
    meta = TableMetadata.detect(df, types={"age": "int", "active": "bool"})
    meta.set_role("churn", "target", task="classification").set_nullable("age", False)
    synth = DPTVAESynthesizer(meta, epsilon=None, epochs=2, batch_size=200, progress=False).fit(df)
    out = synth.sample(2000)
    assert str(out["age"].dtype) == "int64" and out["age"].notna().all()
    assert str(out["active"].dtype) == "boolean"
    with pytest.raises(Exception, match="declared not nullable"):
        DPTVAESynthesizer(meta, epsilon=None, progress=False, batch_size=100).fit(csv_frame(extra_null_row=True))
    meta.set_nullable("age", True)  # may be null: pandas' nullable integers, never floats like 41.0
    synth = DPTVAESynthesizer(meta, epsilon=None, epochs=2, batch_size=200, progress=False).fit(df)
    assert str(synth.sample(500)["age"].dtype) == "Int64"


def test_holdout_membership_of_other_rows_does_not_move_when_one_row_is_added():
    df = csv_frame(2000)
    key = b"k" * 32
    before = splits.holdout_mask(df, 0.2, key)
    grown = csv_frame(2000, extra_null_row=True)  # dtypes flip too
    after = splits.holdout_mask(grown, 0.2, key)
    assert np.array_equal(before, after[:-1])
    assert 0.15 < before.mean() < 0.25
    # a different (fresh) key gives a different split: the split cannot be recomputed without it
    assert not np.array_equal(before, splits.holdout_mask(df, 0.2, b"x" * 32))
    assert table_fingerprint(df) == table_fingerprint(df.sample(frac=1, random_state=1))
    assert table_fingerprint(df) != table_fingerprint(grown)


def test_budget_refuses_the_fit_that_would_cross_the_cap(store, settings):
    df = csv_frame(400)
    budget = PrivacyBudget(store, table_fingerprint(df), cap=5.0, table_name="toy")
    meta = TableMetadata.detect(df)
    meta.set_role("churn", "target", task="classification")
    DPTVAESynthesizer(meta, epsilon=3.0, epochs=1, batch_size=100, progress=False).fit(df, budget=budget)
    assert budget.spent()[0] == pytest.approx(3.0)
    refused = DPTVAESynthesizer(meta, epsilon=3.0, epochs=1, batch_size=100, progress=False)
    with pytest.raises(BudgetExceededError, match=r"spent 3 of its lifetime cap 5 \(remaining 2\)"):
        refused.fit(df, budget=budget)
    assert refused.model_ is None  # refused before touching the data
    with pytest.raises(NonPrivateFitRefused, match="internal_only=True"):
        DPTVAESynthesizer(meta, epsilon=None, epochs=1, batch_size=100, progress=False).fit(df, budget=budget)
    ok = DPTVAESynthesizer(meta, epsilon=2.0, epochs=1, batch_size=100, progress=False).fit(df, budget=budget)
    assert ok.ledger_.lifetime["spent_epsilon"] == pytest.approx(5.0)
    assert "LIFETIME" in ok.privacy_ledger()["step"].iloc[-1]
    entries = budget.entries()
    assert [e["epsilon"] for e in entries] == [3.0, 2.0]
    assert sorted(store.list_keys(budget.folder)) == [f"{budget.folder}{i:06d}.json" for i in (1, 2)]


def test_concurrent_charges_never_share_an_entry(store, settings):
    budget = PrivacyBudget(store, "f" * 64, cap=10.0)
    errors: list[Exception] = []

    def charge() -> None:
        try:
            budget.charge(0.5, 0.0, "thread")
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=charge) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert budget.spent()[0] == pytest.approx(2.0) and len(budget.entries()) == 4


def test_inferred_category_lists_are_not_declared_public():
    raw = pd.DataFrame({"Segment": ["a", "A", "b"] * 50, "Amount": np.arange(150.0)})
    job = cleaning.infer_job(raw)
    result = cleaning.run_job(raw, job)
    assert set(result.table["segment"].dropna()) == {"a", "b"}  # the list still cleans
    meta = TableMetadata.detect(result.table, types=result.types)
    with pytest.raises(cleaning.JobError, match="has not been reviewed"):  # its types were read off the values
        train_dp_tvae.declare_public_from_job(meta, job, list(result.table.columns))
    job["reviewed"] = True  # the owner checked the types
    assert train_dp_tvae.declare_public_from_job(meta, job, list(result.table.columns)) == []
    assert meta.columns["segment"].categories is None  # so the synthesizer pays for it
    # once the owner reviews the list and declares it, it is public
    job["steps"][2]["Standardize"]["columns"]["segment"]["public"] = True
    assert train_dp_tvae.declare_public_from_job(meta, job, list(result.table.columns)) == [
        "segment: 2 categories (Standardize)"
    ]


def test_release_allow_list_rejects_anything_else():
    ledger = [
        {"step": "training", "column": "(all)", "mechanism": "DP-SGD", "epsilon": 1.0, "delta": 1e-6, "detail": ""}
    ]
    good = {
        "privacy_ledger.json": release.public_ledger(
            ledger,
            {
                "table_hash": "abc",
                "spent_epsilon": 1,
                "spent_delta": 0,
                "cap_epsilon": 10,
                "remaining_epsilon": 9,
                "charges": 1,
            },
        ),
        "x.parquet": b"",
    }
    assert "table_hash" not in good["privacy_ledger.json"]["lifetime"]
    release.check_bundle(good)
    with pytest.raises(release.ReleaseBundleError, match="report.html"):
        release.check_bundle(good | {"report.html": b"<html>"})
    bad_card = {"model": "x", "hyperparameters": {"seed": 0}, "loss_history": [1.0]}
    with pytest.raises(release.ReleaseBundleError, match="loss_history"):
        release.check_bundle({"model_card.json": bad_card})


def test_profile_publishes_no_value_of_identifying_columns():
    df = pd.DataFrame(
        {
            "Account Number": ["8680897833", "1234567890", "5555555555"] * 20,
            "Age": ["49", "50", "61"] * 20,
        }
    )
    ident = profiling.identifying_columns(df, [{"raw_name": "Account Number", "kind": "direct_identifier"}])
    assert ident == ["Account Number"]
    profile = profiling.profile_table(df, "t", identifying=ident)
    by_name = {c["name"]: c for c in profile["column_profiles"]}
    assert "summary" not in by_name["Account Number"] and "summary" in by_name["Age"]
    shown = profiling.masked_rows(df, ident).to_string()
    assert "8680897833" not in shown and "49" in shown


def test_a_median_fill_in_the_cleaning_job_is_refused_before_training():
    table = pd.DataFrame({"income": [1.0, None, 3.0], "y": ["a", "b", "a"]})
    meta = TableMetadata.detect(table)
    job = {"name": "j", "steps": [{"HandleMissing": {"columns": {"income": "median"}}}]}
    with pytest.raises(cleaning.JobError, match="outside the privacy budget"):
        train_dp_tvae.declare_public_from_job(meta, job, list(table.columns))


def test_a_sweep_that_would_cross_the_cap_is_refused_before_any_fit(store, settings):
    df = csv_frame(400)
    budget = PrivacyBudget(store, table_fingerprint(df), cap=4.0)
    meta = TableMetadata.detect(df)
    meta.set_role("churn", "target", task="classification")
    with pytest.raises(BudgetExceededError, match="remaining 4"):
        evaluate.sweep(df, df, meta, [1.0, 3.0, 3.0, None], epochs=1, batch_size=100, budget=budget)
    assert budget.entries() == []
