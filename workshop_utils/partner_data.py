"""The Clean Rooms partner's raw table: a travel company's guests, overlapping the bank's customers.

About 60% of the bank's customers are also guests (same email: the join key both partners
pseudonymise with a shared HMAC secret); the rest of the guests are not bank customers. Travel
habits depend on the bank's hidden income and default, so the joined table carries signal neither
partner has alone. Planted like the bank sample: direct identifiers (name, email, phone), money as
text with "$" and ",", category spelling variants, missing values. Deterministic for a seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from faker import Faker

from .config import REPO_ROOT
from .sample_data import SAMPLE_CSV

PARTNER_CSV = REPO_ROOT / "data" / "raw" / "travel_guests.csv"
PARTNER_SEED = 7
OVERLAP = 0.6
TIERS = np.array(["Basic", "Silver", "Gold", "Platinum"])
CHANNELS = np.array(["App", "Web", "Agent"])


def generate_travel_guests(bank_raw: pd.DataFrame, seed: int = PARTNER_SEED, overlap: float = OVERLAP) -> pd.DataFrame:
    """The partner's raw table, built around the bank's raw rows (in the bank's row order, so the
    first rows of both tables overlap as much as the whole tables do)."""
    rng = np.random.default_rng(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    bank = bank_raw.dropna(subset=["EMAIL"]).drop_duplicates("EMAIL")
    shared = bank[rng.random(len(bank)) < overlap]
    income = pd.to_numeric(shared["Annual Income"].str.replace(r"[$,]", "", regex=True), errors="coerce")
    income = income.fillna(income.median()).to_numpy()
    defaulted = shared["Default"].str.lower().isin(["yes", "true", "1", "y"]).to_numpy()
    n_new = int(len(shared) * 0.3)
    new_income = rng.lognormal(11.0, 0.5, n_new)
    emails = np.concatenate(
        [shared["EMAIL"].to_numpy(), [f"{fake.user_name()}{i}@{fake.free_email_domain()}" for i in range(n_new)]]
    )
    names = np.concatenate([shared["Full Name"].fillna("").to_numpy(), [fake.name() for _ in range(n_new)]])
    income = np.concatenate([income, new_income])
    defaulted = np.concatenate([defaulted, rng.random(n_new) < 0.1])
    n = len(emails)
    wealth = np.clip(np.log(np.maximum(income, 1000)) - 10.5, -2, 3)
    trips = rng.poisson(np.exp(0.6 + 0.5 * wealth))
    spend = np.round(rng.lognormal(6.2 + 0.45 * wealth, 0.35), 2)
    intl = np.clip(rng.beta(2, 5, n) + 0.08 * wealth, 0, 1).round(3)
    cancellations = rng.poisson(0.3 + 1.2 * defaulted)
    tier = TIERS[np.clip((trips / 3 + rng.normal(0, 0.6, n)).astype(int), 0, 3)]
    channel = rng.choice(CHANNELS, n, p=[0.5, 0.4, 0.1])
    df = pd.DataFrame(
        {
            "Booking Ref": [f"BK-{i:07d}" for i in rng.permutation(n)],
            "Guest Name": names,
            "Email": emails,
            "Phone": [fake.phone_number() for _ in range(n)],
            "Loyalty Tier": tier,
            "Trips 12m": pd.array(trips, dtype="Int64"),
            "Avg Spend USD": [f"${v:,.2f}" if rng.random() < 0.3 else f"{v:.2f}" for v in spend],
            "International Share": intl,
            "Cancellations": cancellations,
            "Channel": channel,
        }
    )
    variants = rng.random(n) < 0.05
    df.loc[variants, "Loyalty Tier"] = df.loc[variants, "Loyalty Tier"].str.upper()
    df.loc[rng.random(n) < 0.02, "Trips 12m"] = None
    # interleave the non-customers so any head() of the table keeps the overlap share
    order = np.argsort(np.concatenate([np.arange(len(shared)), rng.uniform(0, len(shared), n_new)]), kind="stable")
    return df.iloc[order].reset_index(drop=True)


def write_partner_sample(path: Path = PARTNER_CSV, bank_csv: Path = SAMPLE_CSV, seed: int = PARTNER_SEED) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    generate_travel_guests(pd.read_csv(bank_csv, dtype=str), seed).to_csv(path, index=False)
    return path
