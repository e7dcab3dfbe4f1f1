"""Reproducible generator of the workshop's raw table: bank customers with loan applications.

The table looks like what lands in S3 from an operational system: direct identifiers,
financial attributes with realistic dependencies, a ``default`` target that depends
on them, and planted dirt (messy headers, income as text, mixed date formats,
missing values, exact duplicates, impossible values, category variants).

Generation is vectorized with numpy so the cleaning benchmark can make a million rows
in seconds; Faker supplies the pools of names, streets and places. ``COLUMNS`` is the
data dictionary: the ground truth that the PII and cleaning tests check against.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from faker import Faker

from .config import REPO_ROOT

SAMPLE_CSV = REPO_ROOT / "data" / "raw" / "bank_customers.csv"
SAMPLE_ROWS = 20_000
SAMPLE_SEED = 42


@dataclass(frozen=True)
class ColumnSpec:
    raw_name: str  # header as it lands in S3 (deliberately inconsistent)
    name: str  # clean snake_case name after the Glue job
    dtype: str  # clean type: string, int, float, bool, date, category
    kind: str  # id | direct_identifier | quasi_identifier | attribute | target | free_text
    pii_type: str | None  # what a PII scan must report for the column, if anything
    description: str

    @property
    def quasi_identifier(self) -> bool:
        return self.kind == "quasi_identifier" or self.name in QUASI_IDENTIFIERS


QUASI_IDENTIFIERS = ("date_of_birth", "gender", "zip_code", "city", "state", "marital_status", "age")

COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec(
        "Customer ID",
        "customer_id",
        "string",
        "id",
        None,
        "Internal customer key (CUS-nnnnnnn); not personal data on its own.",
    ),
    ColumnSpec("Full Name", "full_name", "string", "direct_identifier", "person_name", "Customer's full name."),
    ColumnSpec("EMAIL", "email", "string", "direct_identifier", "email", "Personal email address."),
    ColumnSpec(
        "phone_number", "phone_number", "string", "direct_identifier", "phone", "US phone number in mixed formats."
    ),
    ColumnSpec("SSN", "ssn", "string", "direct_identifier", "us_ssn", "US Social Security number (valid ranges only)."),
    ColumnSpec(
        "Date of Birth",
        "date_of_birth",
        "date",
        "direct_identifier",
        "date_of_birth",
        "Birth date in mixed formats (ISO, US m/d/Y, '12 Mar 1985').",
    ),
    ColumnSpec(
        "Gender",
        "gender",
        "category",
        "quasi_identifier",
        None,
        "Female / Male / Non-binary, with case and whitespace variants.",
    ),
    ColumnSpec(
        "Street Address", "street_address", "string", "direct_identifier", "street_address", "House number and street."
    ),
    ColumnSpec("City", "city", "string", "quasi_identifier", None, "City of residence."),
    ColumnSpec("State", "state", "category", "quasi_identifier", None, "US state code."),
    ColumnSpec(
        "ZIP Code",
        "zip_code",
        "string",
        "direct_identifier",
        "postal_code",
        "5-digit ZIP code (string; leading zeros kept).",
    ),
    ColumnSpec(
        "Account Number",
        "account_number",
        "string",
        "direct_identifier",
        "bank_account",
        "Domestic bank account number (10-12 digits).",
    ),
    ColumnSpec(
        "IBAN",
        "iban",
        "string",
        "direct_identifier",
        "iban",
        "International account (valid mod-97); present for about 30% of customers.",
    ),
    ColumnSpec(
        "Credit Card Number",
        "credit_card_number",
        "string",
        "direct_identifier",
        "credit_card",
        "Card number (Luhn-valid), some grouped by spaces or dashes.",
    ),
    ColumnSpec(
        "IP Address",
        "ip_address",
        "string",
        "direct_identifier",
        "ip_address",
        "Public IPv4 address of the online application.",
    ),
    ColumnSpec(
        "Age",
        "age",
        "int",
        "quasi_identifier",
        None,
        "Age in years at application; a few impossible values (> 120) are planted.",
    ),
    ColumnSpec(
        "Marital Status",
        "marital_status",
        "category",
        "quasi_identifier",
        None,
        "Single / Married / Divorced / Widowed, with variants.",
    ),
    ColumnSpec("Education", "education", "category", "attribute", None, "Highest education level."),
    ColumnSpec("Occupation", "occupation", "category", "attribute", None, "Occupation group; depends on education."),
    ColumnSpec(
        "Employment Length (years)", "employment_length_years", "int", "attribute", None, "Years with current employer."
    ),
    ColumnSpec(
        "Annual Income",
        "annual_income",
        "float",
        "attribute",
        None,
        "Yearly income in USD, as text: some rows '$52,300.00', a few negative.",
    ),
    ColumnSpec("Home Ownership", "home_ownership", "category", "attribute", None, "Rent / Mortgage / Own / Other."),
    ColumnSpec("credit score", "credit_score", "int", "attribute", None, "FICO-like score 300-850."),
    ColumnSpec("Num Credit Lines", "num_credit_lines", "int", "attribute", None, "Open credit lines."),
    ColumnSpec(
        "Delinquencies 2y", "delinquencies_2y", "int", "attribute", None, "Delinquencies in the past two years."
    ),
    ColumnSpec(
        "Debt To Income",
        "debt_to_income",
        "float",
        "attribute",
        None,
        "Monthly debt payments / monthly income, in percent.",
    ),
    ColumnSpec("LoanAmount", "loan_amount", "float", "attribute", None, "Requested loan amount in USD."),
    ColumnSpec("Loan Purpose", "loan_purpose", "category", "attribute", None, "Purpose of the loan."),
    ColumnSpec("Term (months)", "term_months", "int", "attribute", None, "36 or 60."),
    ColumnSpec(
        "Interest Rate",
        "interest_rate",
        "float",
        "attribute",
        None,
        "Annual rate in percent; depends on credit score and term.",
    ),
    ColumnSpec(
        "Application Date", "application_date", "date", "attribute", None, "Date of the application, mixed formats."
    ),
    ColumnSpec(
        "Email Opt-In",
        "email_opt_in",
        "bool",
        "attribute",
        None,
        "Marketing consent as Y/N/yes/no/TRUE/FALSE (booleans, not an email).",
    ),
    ColumnSpec(
        "Notes",
        "notes",
        "string",
        "free_text",
        "free_text",
        "Agent notes; some mention an email, phone or card number.",
    ),
    ColumnSpec(
        "Default", "default", "bool", "target", None, "Whether the loan defaulted (Yes/No with variants): the target."
    ),
)

_EDUCATION = ["High School", "Associate", "Bachelor", "Master", "Doctorate"]
_EDU_P = [0.32, 0.14, 0.32, 0.16, 0.06]
_EDU_INCOME = np.array([-0.30, -0.12, 0.10, 0.28, 0.45])
_OCCUPATIONS = [
    "Service",
    "Sales",
    "Clerical",
    "Skilled Trade",
    "Technician",
    "Healthcare",
    "Professional",
    "Manager",
    "Executive",
]
_OCC_INCOME = np.array([-0.35, -0.10, -0.20, 0.0, 0.05, 0.15, 0.25, 0.35, 0.75])
# P(occupation | education): rows follow _EDUCATION.
_OCC_GIVEN_EDU = np.array(
    [
        [0.28, 0.18, 0.17, 0.22, 0.07, 0.04, 0.01, 0.03, 0.00],
        [0.14, 0.16, 0.15, 0.17, 0.17, 0.12, 0.03, 0.05, 0.01],
        [0.05, 0.14, 0.08, 0.04, 0.12, 0.12, 0.27, 0.15, 0.03],
        [0.02, 0.07, 0.04, 0.01, 0.08, 0.18, 0.34, 0.20, 0.06],
        [0.01, 0.02, 0.02, 0.00, 0.04, 0.30, 0.42, 0.10, 0.09],
    ]
)
_PURPOSES = ["debt_consolidation", "credit_card", "home_improvement", "car", "medical", "small_business", "other"]
_PURPOSE_P = [0.44, 0.20, 0.12, 0.09, 0.05, 0.05, 0.05]
_PURPOSE_SIZE = np.array([1.0, 0.7, 1.1, 0.9, 0.5, 1.5, 0.6])
_PURPOSE_RISK = np.array([0.0, -0.1, -0.15, -0.2, 0.25, 0.55, 0.1])
_AREA_CODES = np.array(
    [
        201,
        202,
        212,
        213,
        214,
        215,
        216,
        217,
        301,
        302,
        303,
        304,
        305,
        312,
        313,
        314,
        404,
        405,
        406,
        407,
        408,
        410,
        412,
        415,
        503,
        504,
        505,
        512,
        513,
        602,
        603,
        608,
        612,
        614,
        615,
        617,
        702,
        703,
        704,
        708,
        713,
        718,
        802,
        803,
        804,
        816,
        818,
        901,
        904,
        907,
        916,
        917,
        919,
        952,
        970,
        971,
        972,
        978,
    ]
)
_IP_FIRST_OCTETS = np.array([23, 34, 45, 52, 64, 73, 81, 98, 104, 142, 151, 176, 185, 203, 212])
_EMAIL_DOMAINS = np.array(
    ["gmail.com", "yahoo.com", "outlook.com", "icloud.com", "aol.com", "proton.me", "hotmail.com"]
)


def generate_bank_customers(n: int = SAMPLE_ROWS, seed: int = SAMPLE_SEED) -> pd.DataFrame:
    """Generate the raw (dirty) bank-customer table of ``n`` rows, deterministically from ``seed``."""
    if n < 10:
        raise ValueError(f"n must be at least 10 rows, got {n}.")
    rng = np.random.default_rng(seed)
    n_unique = int(round(n / 1.01))  # about 1% of rows are exact duplicates
    clean = _clean_customers(n_unique, rng, seed)
    raw = _add_dirt(clean, rng)
    dup_idx = rng.choice(n_unique, size=n - n_unique, replace=False)
    raw = pd.concat([raw, raw.iloc[dup_idx]], ignore_index=True)
    raw = raw.iloc[rng.permutation(len(raw))].reset_index(drop=True)
    return raw[[c.raw_name for c in COLUMNS]]


def _pools(seed: int) -> dict[str, np.ndarray]:
    fake = Faker("en_US")
    fake.seed_instance(seed)
    places = [
        (fake.city(), st, fake.zipcode_in_state(st))
        for st in (fake.state_abbr(include_territories=False) for _ in range(1500))
    ]
    return {
        "first": np.array(sorted({fake.first_name() for _ in range(1200)})),
        "last": np.array(sorted({fake.last_name() for _ in range(1500)})),
        "street": np.array(sorted({fake.street_name() for _ in range(2500)})),
        "places": np.array(places, dtype=object),
    }


def _digits(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    return rng.integers(0, 10, size=(n, k))


def _join_digits(d: np.ndarray) -> np.ndarray:
    return np.array(["".join(map(str, row)) for row in d.tolist()], dtype=object)


def _luhn_complete(partial: np.ndarray) -> np.ndarray:
    """Append the Luhn check digit to each row of digits (vectorized)."""
    rev = partial[:, ::-1].copy()
    doubled = rev[:, 0::2] * 2
    rev[:, 0::2] = np.where(doubled > 9, doubled - 9, doubled)
    check = (10 - rev.sum(axis=1) % 10) % 10
    return np.concatenate([partial, check[:, None]], axis=1)


def _iban_de(bank_account: str) -> str:
    """A German IBAN with valid ISO 7064 mod-97 check digits."""
    bban = bank_account
    numeric = int(bban + "131400")  # 'D'=13, 'E'=14, then '00'
    return f"DE{98 - numeric % 97:02d}{bban}"


def _clean_customers(n: int, rng: np.random.Generator, seed: int) -> pd.DataFrame:
    pools = _pools(seed)
    first = rng.choice(pools["first"], n)
    last = rng.choice(pools["last"], n)
    age = np.clip(rng.normal(43, 13, n), 21, 82).astype(int)
    app_date = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 4 * 365, n), unit="D")
    dob = app_date - pd.to_timedelta(age * 365.25 + rng.integers(0, 365, n), unit="D")
    dob = dob.normalize()
    gender = rng.choice(["Female", "Male", "Non-binary"], n, p=[0.49, 0.49, 0.02])
    places = pools["places"][rng.integers(0, len(pools["places"]), n)]

    edu = rng.choice(len(_EDUCATION), n, p=_EDU_P)
    occ = np.array([rng.choice(len(_OCCUPATIONS), p=p / p.sum()) for p in _OCC_GIVEN_EDU[edu]])
    age_effect = 0.025 * (age - 21) - 0.00045 * (age - 21) ** 2
    log_income = np.log(52_000) + _EDU_INCOME[edu] + _OCC_INCOME[occ] + age_effect + rng.normal(0, 0.35, n)
    income = np.round(np.exp(log_income), -2)
    income_z = (log_income - log_income.mean()) / log_income.std()
    emp_len = np.minimum(rng.geometric(0.16, n) - 1, age - 18).astype(int)

    married_p = np.clip(0.15 + 0.012 * (age - 21), 0.1, 0.65)
    u = rng.random(n)
    marital = np.where(
        u < married_p,
        "Married",
        np.where(
            u < married_p + 0.12 + 0.002 * age, "Divorced", np.where((age > 60) & (u > 0.93), "Widowed", "Single")
        ),
    )
    own_score = 0.04 * (age - 40) + 0.6 * income_z + rng.normal(0, 1, n)
    home = np.select([own_score > 1.2, own_score > 0.0, own_score > -1.9], ["Own", "Mortgage", "Rent"], "Other")

    risk = rng.normal(0, 1, n)  # latent creditworthiness, only partly visible to a model
    credit = np.clip(
        np.round(690 - 45 * risk + 22 * income_z + 0.8 * (age - 43) + rng.normal(0, 25, n)), 300, 850
    ).astype(int)
    lines = rng.poisson(np.clip(3 + 0.06 * (age - 21) + 1.2 * income_z, 0.5, None)).astype(int)
    delinq = rng.poisson(np.exp(-1.9 + 0.75 * risk)).astype(int)

    purpose = rng.choice(len(_PURPOSES), n, p=_PURPOSE_P)
    loan = np.clip(np.round(income * 0.22 * _PURPOSE_SIZE[purpose] * rng.lognormal(0, 0.45, n) / 25) * 25, 1000, 40_000)
    term = np.where(rng.random(n) < np.clip(loan / 45_000 + 0.1, 0, 0.85), 60, 36)
    rate = np.round(np.clip(7.0 + (760 - credit) / 16.0 + 1.6 * (term == 60) + rng.normal(0, 1.3, n), 5.0, 30.0), 2)
    monthly_payment = loan * (rate / 1200) / (1 - (1 + rate / 1200) ** (-term))
    dti = np.round(np.clip(rng.gamma(4.0, 3.6, n) + 100 * 12 * monthly_payment / income * 0.6, 0, 65), 1)

    logit = (
        -2.35
        + 0.85 * risk
        + 0.045 * (dti - 20)
        + 0.09 * (rate - 13)
        + 0.35 * delinq
        + _PURPOSE_RISK[purpose]
        + 0.25 * (term == 60)
        - 0.35 * income_z
        - 0.3 * (home == "Own")
        - 0.02 * np.minimum(emp_len, 10)
    )
    default = rng.random(n) < 1 / (1 + np.exp(-logit))

    area = rng.choice(_AREA_CODES, n)
    exchange = rng.integers(200, 1000, n)
    exchange = np.where(exchange % 100 == 11, exchange + 1, exchange)  # no N11 exchanges
    line = rng.integers(0, 10_000, n)
    ssn_area = rng.integers(1, 900, n)
    ssn_area = np.where(ssn_area == 666, 667, ssn_area)
    ssn = [f"{a:03d}-{g:02d}-{s:04d}" for a, g, s in zip(ssn_area, rng.integers(1, 100, n), rng.integers(1, 10_000, n))]

    acct = _join_digits(np.concatenate([rng.integers(1, 10, (n, 1)), _digits(rng, n, 9)], axis=1))
    acct = acct + np.array(["", "0", "17"], dtype=object)[rng.integers(0, 3, n)]  # 10-12 digits
    has_iban = rng.random(n) < 0.3
    iban = np.array(
        [_iban_de(b) if h else None for b, h in zip(_join_digits(_digits(rng, n, 18)), has_iban)], dtype=object
    )

    visa = rng.random(n) < 0.55
    card_digits = np.concatenate(
        [
            np.where(visa, 4, 5)[:, None],
            np.where(visa, rng.integers(0, 10, n), rng.integers(1, 6, n))[:, None],
            _digits(rng, n, 13),
        ],
        axis=1,
    )
    cards = _join_digits(_luhn_complete(card_digits))
    ip = [
        f"{a}.{b}.{c}.{d}"
        for a, b, c, d in zip(rng.choice(_IP_FIRST_OCTETS, n), *rng.integers(0, 256, (2, n)), rng.integers(1, 255, n))
    ]

    email_num = rng.integers(1, 100, n).astype(str)
    email = (
        pd.Series(first).str.lower()
        + "."
        + pd.Series(last).str.lower()
        + email_num
        + "@"
        + rng.choice(_EMAIL_DOMAINS, n)
    ).to_numpy()
    phone = [f"({a}) {e}-{ln:04d}" for a, e, ln in zip(area, exchange, line)]

    return pd.DataFrame(
        {
            "Customer ID": [f"CUS-{i:07d}" for i in rng.permutation(n) + 1],
            "Full Name": pd.Series(first) + " " + pd.Series(last),
            "EMAIL": email,
            "phone_number": phone,
            "SSN": ssn,
            "Date of Birth": dob,
            "Gender": gender,
            "Street Address": [
                f"{num} {st}" for num, st in zip(rng.integers(1, 9999, n), rng.choice(pools["street"], n))
            ],
            "City": places[:, 0],
            "State": places[:, 1],
            "ZIP Code": places[:, 2],
            "Account Number": acct,
            "IBAN": iban,
            "Credit Card Number": cards,
            "IP Address": ip,
            "Age": age,
            "Marital Status": marital,
            "Education": np.array(_EDUCATION)[edu],
            "Occupation": np.array(_OCCUPATIONS)[occ],
            "Employment Length (years)": emp_len,
            "Annual Income": income,
            "Home Ownership": home,
            "credit score": credit,
            "Num Credit Lines": lines,
            "Delinquencies 2y": delinq,
            "Debt To Income": dti,
            "LoanAmount": loan,
            "Loan Purpose": np.array(_PURPOSES)[purpose],
            "Term (months)": term,
            "Interest Rate": rate,
            "Application Date": app_date,
            "Email Opt-In": rng.random(n) < 0.4,
            "Notes": _notes(rng, email, phone, cards),
            "Default": default,
        }
    )


def _notes(rng: np.random.Generator, email: np.ndarray, phone: list[str], cards: np.ndarray) -> np.ndarray:
    n = len(email)
    plain = np.array(
        [
            "Verified income documents.",
            "Customer asked about early repayment.",
            "Requested a lower rate.",
            "Co-signer discussed, not added.",
            "Application completed online.",
            "Prefers contact by mail.",
        ],
        dtype=object,
    )
    kind = rng.choice(5, n, p=[0.62, 0.2, 0.06, 0.06, 0.06])
    notes = np.full(n, None, dtype=object)
    notes[kind == 1] = rng.choice(plain, int((kind == 1).sum()))
    notes[kind == 2] = "Asked to be contacted at " + email[kind == 2] + " about the offer."
    notes[kind == 3] = "Call back on " + np.array(phone, dtype=object)[kind == 3] + " after 5pm."
    notes[kind == 4] = "Paid the fee with card " + cards[kind == 4] + "; receipt sent."
    return notes


def _variants(values: np.ndarray, rng: np.random.Generator, share: float) -> np.ndarray:
    """Stray whitespace and case variants in a share of a category column."""
    out = values.astype(object).copy()
    hit = rng.random(len(out)) < share
    style = rng.integers(0, 4, len(out))
    s = pd.Series(out[hit])
    styled = np.select(
        [style[hit] == 0, style[hit] == 1, style[hit] == 2],
        [s.str.lower(), s.str.upper(), " " + s + "  "],
        s.str.lower() + " ",
    )
    out[hit] = styled
    return out


def _mixed_dates(dates: pd.Series, rng: np.random.Generator, formats: list[str], p: list[float]) -> np.ndarray:
    choice = rng.choice(len(formats), len(dates), p=p)
    out = np.empty(len(dates), dtype=object)
    for i, fmt in enumerate(formats):
        mask = choice == i
        out[mask] = pd.DatetimeIndex(dates[mask]).strftime(fmt)
    return out


def _add_dirt(df: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    df = df.copy()
    n = len(df)
    # Income as text: plain, "$52,300.00" or "52,300"; a few negative (impossible) values.
    income = df["Annual Income"].to_numpy().copy()
    neg = rng.random(n) < 0.003
    income[neg] = -income[neg]
    style = rng.choice(3, n, p=[0.55, 0.3, 0.15])
    plain = pd.Series(income).map("{:.0f}".format)
    dollars = pd.Series(income).map("${:,.2f}".format).str.replace("$-", "-$", regex=False)
    commas = pd.Series(income).map("{:,.0f}".format)
    df["Annual Income"] = np.select([style == 0, style == 1], [plain, dollars], commas)
    # Impossible ages.
    old = rng.random(n) < 0.002
    df.loc[old, "Age"] = rng.integers(121, 160, int(old.sum()))
    # Mixed date formats.
    df["Date of Birth"] = _mixed_dates(
        df["Date of Birth"], rng, ["%Y-%m-%d", "%m/%d/%Y", "%d %b %Y"], [0.6, 0.25, 0.15]
    )
    df["Application Date"] = _mixed_dates(
        df["Application Date"], rng, ["%Y-%m-%d", "%Y/%m/%d", "%b %d, %Y"], [0.7, 0.2, 0.1]
    )
    # Phone and card format variants.
    ph = pd.Series(df["phone_number"])
    digits = ph.str.replace(r"\D", "", regex=True)
    pstyle = rng.choice(3, n, p=[0.5, 0.3, 0.2])
    df["phone_number"] = np.select(
        [pstyle == 1, pstyle == 2],
        [
            digits.str[:3] + "-" + digits.str[3:6] + "-" + digits.str[6:],
            "+1 " + digits.str[:3] + " " + digits.str[3:6] + " " + digits.str[6:],
        ],
        ph,
    )
    cards = pd.Series(df["Credit Card Number"])
    cstyle = rng.choice(3, n, p=[0.6, 0.25, 0.15])
    grouped = cards.str[:4] + "{sep}" + cards.str[4:8] + "{sep}" + cards.str[8:12] + "{sep}" + cards.str[12:]
    df["Credit Card Number"] = np.select(
        [cstyle == 1, cstyle == 2], [grouped.str.replace("{sep}", " "), grouped.str.replace("{sep}", "-")], cards
    )
    # Category variants and boolean spellings.
    for col in ("Gender", "Marital Status", "Education", "Home Ownership", "Loan Purpose"):
        df[col] = _variants(df[col].to_numpy(), rng, 0.05)
    yes_no = np.array([["No", "Yes"], ["N", "Y"], ["no", "yes"], ["FALSE", "TRUE"]], dtype=object)
    df["Email Opt-In"] = yes_no[rng.choice(4, n, p=[0.4, 0.3, 0.2, 0.1]), df["Email Opt-In"].astype(int)]
    df["Default"] = yes_no[rng.choice(3, n, p=[0.9, 0.07, 0.03]), df["Default"].astype(int)]
    # A few percent missing values.
    missing = {
        "Annual Income": 0.02,
        "Employment Length (years)": 0.04,
        "credit score": 0.015,
        "Debt To Income": 0.02,
        "Home Ownership": 0.01,
        "Marital Status": 0.02,
        "phone_number": 0.01,
        "EMAIL": 0.01,
        "Num Credit Lines": 0.01,
        "Interest Rate": 0.005,
        "Occupation": 0.015,
    }
    for col, share in missing.items():
        mask = rng.random(n) < share
        df[col] = df[col].astype(object)
        df.loc[mask, col] = None
    return df


def data_dictionary() -> list[dict]:
    """The data dictionary as plain records (what ``data/data_dictionary.json`` holds)."""
    return [asdict(c) | {"quasi_identifier": c.quasi_identifier} for c in COLUMNS]


def data_dictionary_markdown() -> str:
    lines = [
        "| raw column | clean name | type | kind | PII type | quasi-identifier | description |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in COLUMNS:
        lines.append(
            f"| `{c.raw_name}` | `{c.name}` | {c.dtype} | {c.kind} | {c.pii_type or ''} | "
            f"{'yes' if c.quasi_identifier else ''} | {c.description} |"
        )
    return "\n".join(lines)


def write_sample(path: Path = SAMPLE_CSV, n: int = SAMPLE_ROWS, seed: int = SAMPLE_SEED) -> Path:
    """Write the sample CSV and the machine-readable data dictionary beside it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    generate_bank_customers(n, seed).to_csv(path, index=False)
    (path.parent.parent / "data_dictionary.json").write_text(json.dumps(data_dictionary(), indent=2) + "\n")
    return path
