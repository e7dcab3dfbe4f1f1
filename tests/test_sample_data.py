import json

import numpy as np
import pandas as pd
import phonenumbers
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import cross_val_score
from stdnum import iban, luhn
from stdnum.us import ssn

from workshop_utils.sample_data import COLUMNS, SAMPLE_CSV, data_dictionary, generate_bank_customers

YES = {"yes", "y", "true"}


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    return generate_bank_customers(4000, seed=7)


def test_same_seed_same_table_other_seed_other_table():
    a, b = generate_bank_customers(300, seed=1), generate_bank_customers(300, seed=1)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(generate_bank_customers(300, seed=2))


def test_committed_sample_matches_the_dictionary():
    df = pd.read_csv(SAMPLE_CSV, dtype=str)
    assert list(df.columns) == [c.raw_name for c in COLUMNS]
    assert 19_000 <= len(df) <= 21_000
    committed = json.loads((SAMPLE_CSV.parent.parent / "data_dictionary.json").read_text())
    assert committed == data_dictionary()


def test_planted_dirt_is_there(sample):
    # Messy headers, about 1% exact duplicates, a few percent missing.
    assert any(" " in c for c in sample.columns) and any(c != c.lower() for c in sample.columns)
    assert 0.005 < sample.duplicated().mean() < 0.015
    assert 0.01 < sample["Annual Income"].isna().mean() < 0.04
    income = sample["Annual Income"].dropna()
    assert income.str.startswith(("$", "-$")).mean() > 0.2 and income.str.contains(",").any()
    assert income.str.startswith("-").any()  # impossible negative income
    assert (pd.to_numeric(sample["Age"]) > 120).any()
    dob = sample["Date of Birth"]
    assert dob.str.match(r"^\d{4}-\d\d-\d\d$").any() and dob.str.match(r"^\d\d/\d\d/\d{4}$").any()
    assert dob.str.match(r"^\d\d [A-Z][a-z]{2} \d{4}$").any()
    marital = sample["Marital Status"].dropna()
    assert (marital != marital.str.strip()).any() and (marital.str.strip().str.lower() != marital.str.strip()).any()
    assert set(sample["Default"].str.strip()) > {"Yes", "No"}


def test_identifiers_are_valid_values(sample):
    assert sample["SSN"].map(ssn.is_valid).all()
    assert sample["IBAN"].dropna().map(iban.is_valid).all()
    assert sample["Credit Card Number"].str.replace(r"\D", "", regex=True).map(luhn.is_valid).all()
    phones = sample["phone_number"].dropna().head(500)
    assert all(phonenumbers.is_valid_number(phonenumbers.parse(p, "US")) for p in phones)
    notes = sample["Notes"].dropna()
    assert notes.str.contains("@").any() and notes.str.contains(r"\(\d{3}\)").any() and notes.str.contains("card").any()


def test_target_is_learnable_but_not_trivial(sample):
    y = sample["Default"].str.strip().str.lower().isin(YES).astype(int)
    assert 0.05 < y.mean() < 0.3
    X = pd.DataFrame(
        {
            "income": pd.to_numeric(sample["Annual Income"].str.replace(r"[$,]", "", regex=True), errors="coerce"),
            "credit": pd.to_numeric(sample["credit score"]),
            "dti": pd.to_numeric(sample["Debt To Income"]),
            "rate": pd.to_numeric(sample["Interest Rate"]),
            "delinq": sample["Delinquencies 2y"],
            "term": sample["Term (months)"],
            "amount": sample["LoanAmount"],
        }
    )
    auc = cross_val_score(HistGradientBoostingClassifier(max_iter=100), X, y, scoring="roc_auc", cv=3).mean()
    assert 0.65 < auc < 0.95, auc


def test_income_depends_on_education(sample):
    income = pd.to_numeric(sample["Annual Income"].str.replace(r"[$,]", "", regex=True), errors="coerce")
    edu = sample["Education"].str.strip().str.title()
    med = income.groupby(edu).median()
    assert med["Doctorate"] > med["Bachelor"] > med["High School"]
    assert np.isfinite(med).all()
