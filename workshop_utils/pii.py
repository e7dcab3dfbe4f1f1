"""Find personal data in a table, the way Amazon Macie reports sensitive-data findings.

Detection rests on the **values**: each column's distinct values (from a sample of rows
for large tables) are tested by validating detectors (Luhn for cards, ISO 7064 mod-97
for IBAN, the SSA's invalid SSN ranges, phonenumbers' numbering plans, the ipaddress
module, name and street-suffix lexicons from Faker). A column is assigned the type whose
detector matches the largest share of its non-null values. Column names only nudge the
confidence, like Macie's keyword proximity. Free-text columns are searched for embedded
emails, phone numbers, cards, SSNs and IBANs.
"""

from __future__ import annotations

import importlib
import ipaddress
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import phonenumbers
from stdnum import iban as stdnum_iban
from stdnum import luhn
from stdnum.us import ssn as stdnum_ssn

CATEGORY = {
    "email": "personal",
    "phone": "personal",
    "us_ssn": "personal",
    "person_name": "personal",
    "street_address": "personal",
    "date_of_birth": "personal",
    "ip_address": "personal",
    "postal_code": "personal",
    "free_text": "personal",
    "credit_card": "financial",
    "iban": "financial",
    "bank_account": "financial",
    "aws_access_key": "credentials",
}
BASE_SEVERITY = {
    "us_ssn": 3,
    "credit_card": 3,
    "iban": 3,
    "bank_account": 3,
    "aws_access_key": 3,
    "email": 2,
    "phone": 2,
    "person_name": 2,
    "street_address": 2,
    "date_of_birth": 2,
    "ip_address": 1,
    "postal_code": 1,
}
SEVERITY_NAMES = {1: "low", 2: "medium", 3: "high"}
KEYWORDS = {
    "email": ("email", "e_mail", "mail"),
    "phone": ("phone", "tel", "mobile", "cell", "fax"),
    "us_ssn": ("ssn", "social_security", "tax_id", "tin"),
    "credit_card": ("card", "cc_", "pan"),
    "iban": ("iban",),
    "bank_account": ("account", "acct", "routing"),
    "person_name": ("name",),
    "street_address": ("address", "street", "addr"),
    "date_of_birth": ("birth", "dob", "born"),
    "ip_address": ("ip", "ip_address", "host"),
    "postal_code": ("zip", "postal", "postcode"),
}
# Names that say "this is not the identifier itself" (consent flags, counts, amounts...).
NEGATIVE_KEYWORDS = frozenset({"opt", "optin", "consent", "flag", "count", "num", "amount", "is", "has", "verified"})
MIN_SHARE = 0.5  # a type is reported when at least half of the non-null values match it
DEFAULT_SAMPLE_ROWS = 20_000

_EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
_PHONE = r"(?:\+?1[\s.-]?)?\(?[2-9]\d{2}\)?[\s.-]?\d{3}[\s.-]?\d{4}"
_SSN = r"\d{3}-\d{2}-\d{4}"
_CARD = r"(?:\d[ -]?){12,18}\d"
_IBAN = r"[A-Z]{2}\d{2}(?:\s?[A-Z0-9]){11,30}"
_IPV4 = r"(?:\d{1,3}\.){3}\d{1,3}"
_AWS_KEY = r"(?:AKIA|ASIA)[0-9A-Z]{16}"
_STREET_ABBREVIATIONS = (
    "st",
    "ave",
    "rd",
    "blvd",
    "dr",
    "ln",
    "ct",
    "pl",
    "way",
    "pkwy",
    "hwy",
    "ter",
    "cir",
    "sq",
    "apt",
    "suite",
)
_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|6(?:011|5))")


# --------------------------------------------------------------------------- validators


def _valid_card(digits: str) -> bool:
    return 13 <= len(digits) <= 19 and bool(_CARD_PREFIX.match(digits)) and luhn.is_valid(digits)


def _valid_phone(text: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(text, "US"))
    except phonenumbers.NumberParseException:
        return False


def _valid_ip(text: str) -> bool:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return False
    return not ip.is_unspecified


@cache
def _lexicons() -> dict[str, frozenset[str]]:
    """First names, last names and street suffixes from Faker's locale data."""
    first: set[str] = set()
    last: set[str] = set()
    for loc in ("en_US", "en_GB", "es_ES", "de_DE", "fr_FR", "it_IT", "pt_PT"):
        provider = importlib.import_module(f"faker.providers.person.{loc}").Provider
        for attr in ("first_names", "first_names_male", "first_names_female"):
            first |= {n.lower() for n in getattr(provider, attr, ())}
        last |= {n.lower() for n in getattr(provider, "last_names", ())}
    suffixes = importlib.import_module("faker.providers.address.en_US").Provider.street_suffixes
    return {
        "first": frozenset(first),
        "last": frozenset(last),
        "street": frozenset({s.lower() for s in suffixes} | set(_STREET_ABBREVIATIONS)),
    }


def _is_name(text: str) -> bool:
    tokens = [t.strip(".,").lower() for t in text.split()]
    if not 2 <= len(tokens) <= 4 or not all(re.fullmatch(r"[a-zà-ÿ'-]+", t) for t in tokens):
        return False
    lex = _lexicons()
    return tokens[0] in lex["first"] and tokens[-1] in lex["last"]


def _is_street(text: str) -> bool:
    m = re.fullmatch(
        r"\d{1,6}[A-Za-z]?\s+([A-Za-z0-9.' -]+?)(?:,?\s+(?:apt|suite|unit|#)\.?\s*\w+)?", text.strip(), re.I
    )
    if not m:
        return False
    words = [w.strip(".").lower() for w in m.group(1).split()]
    return len(words) >= 2 and words[-1] in _lexicons()["street"]


def _not_card_or_phone(digits: str) -> bool:
    return not _valid_card(digits) and not (len(digits) == 10 and _valid_phone(digits))


@dataclass(frozen=True)
class Detector:
    """A vectorized regex prefilter, then a per-value validator run on the candidates only."""

    pattern: str
    validate: Callable[[str], bool] | None = None

    def matches(self, values: pd.Series, counts: np.ndarray, must_beat: float) -> tuple[np.ndarray, float]:
        """Match mask over distinct ``values`` and the count-weighted share; skips validation
        when even every candidate would not beat ``must_beat``."""
        total = counts.sum()
        hit = values.str.fullmatch(self.pattern).fillna(False).to_numpy(dtype=bool)
        if counts[hit].sum() / total < must_beat:
            return np.zeros(len(values), dtype=bool), 0.0
        if self.validate is not None:
            idx = np.flatnonzero(hit)
            hit[idx] = [bool(self.validate(v)) for v in values.iloc[idx]]
        return hit, float(counts[hit].sum() / total)


_NAME_SHAPE = r"[A-Za-zÀ-ÿ'.-]+(?: [A-Za-zÀ-ÿ'.-]+){1,3}"
_STREET_SHAPE = r"\d{1,6}[A-Za-z]?\s+[A-Za-z0-9.' -]+?(?:,?\s+(?:apt|suite|unit|#)\.?\s*\w+)?"
DETECTORS: dict[str, Detector] = {
    "email": Detector(_EMAIL),
    "us_ssn": Detector(_SSN, stdnum_ssn.is_valid),
    "credit_card": Detector(_CARD, lambda v: _valid_card(re.sub(r"[\s-]", "", v))),
    "iban": Detector(_IBAN, stdnum_iban.is_valid),
    "phone": Detector(_PHONE, _valid_phone),
    # Bare digit strings that are neither a card (IIN + Luhn) nor a valid 10-digit phone.
    "bank_account": Detector(r"\d{8,17}", _not_card_or_phone),
    "ip_address": Detector(_IPV4, _valid_ip),
    "postal_code": Detector(r"\d{5}(?:-\d{4})?", lambda v: not v.startswith("000")),
    "person_name": Detector(_NAME_SHAPE, _is_name),
    "street_address": Detector(_STREET_SHAPE, _is_street),
    "aws_access_key": Detector(_AWS_KEY),
}


def _bounded(pattern: str) -> str:
    """Inside free text a match must not continue a longer token (a phone inside a card number)."""
    return rf"(?<![0-9A-Za-z])(?:{pattern})(?![0-9A-Za-z])"


# Searched inside free text; each match is validated like a whole-cell value.
EMBEDDED = {
    "email": (_bounded(_EMAIL), lambda s: True),
    "us_ssn": (_bounded(_SSN), stdnum_ssn.is_valid),
    "credit_card": (_bounded(_CARD), lambda s: _valid_card(re.sub(r"[\s-]", "", s))),
    "iban": (_bounded(_IBAN), stdnum_iban.is_valid),
    "phone": (_bounded(_PHONE), _valid_phone),
    "aws_access_key": (_bounded(_AWS_KEY), lambda s: True),
}


# --------------------------------------------------------------------------- findings


@dataclass
class Finding:
    column: str
    type: str
    category: str
    occurrences: int  # matching non-null values among the rows scanned
    share: float  # of the non-null scanned values
    confidence: str
    severity: str
    estimated_occurrences: int  # scaled to the whole table when a sample was scanned
    examples: list[dict[str, Any]] = field(default_factory=list)  # masked, with row numbers
    embedded_types: dict[str, int] = field(default_factory=dict)  # free text only


@dataclass
class ScanReport:
    table: str
    rows: int
    rows_scanned: int
    sampled: bool
    columns_scanned: int
    findings: list[Finding]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"summary": self.summary()}

    def summary(self) -> dict[str, Any]:
        by_severity = {name: sum(f.severity == name for f in self.findings) for name in ("low", "medium", "high")}
        return {"columns_with_findings": len({f.column for f in self.findings}), "by_severity": by_severity}

    def frame(self) -> pd.DataFrame:
        cols = [
            "column",
            "type",
            "category",
            "occurrences",
            "share",
            "confidence",
            "severity",
            "estimated_occurrences",
            "examples",
        ]
        rows = [
            {
                **{k: getattr(f, k) for k in cols[:-1]},
                "examples": ", ".join(f"row {e['row']}: {e['value']}" for e in f.examples),
            }
            for f in self.findings
        ]
        return pd.DataFrame(rows, columns=cols)

    def at_or_above(self, severity: str) -> list[Finding]:
        level = {v: k for k, v in SEVERITY_NAMES.items()}[severity]
        return [f for f in self.findings if {v: k for k, v in SEVERITY_NAMES.items()}[f.severity] >= level]


def mask(value: str) -> str:
    """Keep separators and the last two characters; everything else becomes '*'."""
    text = str(value)
    alnum = [i for i, ch in enumerate(text) if ch.isalnum()]
    keep = set(alnum[-2:]) if len(alnum) >= 6 else set(alnum[-1:])
    return "".join(ch if (not ch.isalnum() or i in keep) else "*" for i, ch in enumerate(text))


def _keyword_score(column: str, type_: str) -> float:
    name = re.sub(r"[^a-z0-9]+", "_", str(column).lower())
    tokens = set(name.split("_"))
    if tokens & NEGATIVE_KEYWORDS:
        return -0.15
    words = KEYWORDS.get(type_, ())
    return 0.15 if any((w in tokens) or (len(w) > 3 and w in name) for w in words) else 0.0


def _confidence(share: float, bonus: float) -> str:
    score = share + bonus
    return "high" if score >= 0.9 else "medium" if score >= 0.7 else "low"


def _severity(type_: str, confidence: str, estimated: int) -> str:
    level = BASE_SEVERITY.get(type_, 2)
    if estimated >= 1000:
        level += 1
    elif estimated < 10:
        level -= 1
    if confidence == "low":
        level = 1
    return SEVERITY_NAMES[min(3, max(1, level))]


def _as_text_values(s: pd.Series) -> pd.Series | None:
    """String form of a column's values for the text detectors; None for types that cannot hold PII text."""
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_float_dtype(s):
        return None  # booleans and measurements; float ids would have lost digits anyway
    if pd.api.types.is_datetime64_any_dtype(s):
        return None
    if pd.api.types.is_integer_dtype(s):
        return s.dropna().astype("int64").astype(str)
    return s.dropna().astype(str).str.strip()


def _dob_share(s: pd.Series, today: date) -> float:
    """Share of dates that are plausible birth dates: 16 to 110 years before ``today``."""
    if pd.api.types.is_datetime64_any_dtype(s):
        dates = s.dropna()
    else:
        text = s.dropna().astype(str)
        date_shape = r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4}|\d{1,2} [A-Za-z]{3,9} \d{4}|[A-Za-z]{3,9} \d{1,2}, \d{4}"
        if text.empty or text.str.fullmatch(date_shape).mean() < 0.9:
            return 0.0
        from .cleaning import DEFAULT_DATE_FORMATS, coerce

        dates = coerce(text, "date", DEFAULT_DATE_FORMATS).dropna()
        if len(dates) < 0.9 * len(text):
            return 0.0
    if dates.empty or dates.dt.year.nunique() < 5:
        return 0.0  # birth dates spread over many years; event dates cluster
    age_years = (pd.Timestamp(today) - dates).dt.days / 365.25
    return float(((age_years >= 16) & (age_years <= 110)).mean())


def _embedded(text: pd.Series) -> dict[str, tuple[int, list[tuple[Any, str]]]]:
    found: dict[str, tuple[int, list[tuple[Any, str]]]] = {}
    for type_, (pattern, valid) in EMBEDDED.items():
        hits = (
            text.str.extractall(f"(?P<m>{pattern})")["m"] if text.str.contains(pattern).any() else pd.Series(dtype=str)
        )
        if hits.empty:
            continue
        ok = hits[hits.map(valid)]
        if len(ok):
            rows = ok.index.get_level_values(0)
            found[type_] = (int(len(ok)), list(zip(rows[:3], ok.iloc[:3])))
    return found


def scan_column(s: pd.Series, name: str, scale: float = 1.0, today: date | None = None) -> Finding | None:
    """The finding for one column, or None. ``scale`` = table rows / scanned rows."""
    today = today or date.today()
    present = s.dropna()
    if present.empty:
        return None
    best_type, best_share, matched_values = None, 0.0, None
    dob = _dob_share(s, today)
    if dob >= MIN_SHARE:
        best_type, best_share = "date_of_birth", dob
    text = _as_text_values(s)
    counts = text.value_counts() if text is not None else None
    if counts is not None and not counts.empty:
        uniques = pd.Series(counts.index, dtype="string[pyarrow]")  # regexes run in Arrow's C++
        weights = counts.to_numpy()
        for type_, detector in DETECTORS.items():
            hit, share = detector.matches(uniques, weights, max(MIN_SHARE, best_share))
            if share > best_share and share >= MIN_SHARE:
                best_type, best_share, matched_values = type_, share, set(uniques[hit])
    if best_type is not None:
        occurrences = int(round(best_share * len(present)))
        if matched_values is not None:
            rows = text[text.isin(matched_values)]
        else:
            rows = present.astype(str)
        examples = [{"row": int(i), "value": mask(v)} for i, v in rows.head(3).items()]
        bonus = _keyword_score(name, best_type)
        conf = _confidence(best_share, bonus)
        estimated = int(round(occurrences * scale))
        return Finding(
            name,
            best_type,
            CATEGORY[best_type],
            occurrences,
            round(best_share, 4),
            conf,
            _severity(best_type, conf, estimated),
            estimated,
            examples,
        )
    # Free text: several words per value on average; look for identifiers inside.
    if text is not None and not text.empty and text.str.count(r"\s+").mean() >= 2:
        embedded = _embedded(text)
        if embedded:
            occurrences = sum(n for n, _ in embedded.values())
            examples = [
                {"row": int(r), "value": mask(v), "type": t} for t, (_, ex) in embedded.items() for r, v in ex[:1]
            ]
            worst = max(BASE_SEVERITY[t] for t in embedded)
            estimated = int(round(occurrences * scale))
            severity = SEVERITY_NAMES[min(3, worst + (estimated >= 1000) - (estimated < 10))]
            rows_with = text.str.contains("|".join(p for p, _ in EMBEDDED.values())).sum()
            return Finding(
                name,
                "free_text",
                "personal",
                occurrences,
                round(float(rows_with / len(text)), 4),
                "high",
                severity,
                estimated,
                examples,
                {t: n for t, (n, _) in embedded.items()},
            )
    return None


def scan(
    df: pd.DataFrame,
    table: str = "table",
    sample_rows: int | None = DEFAULT_SAMPLE_ROWS,
    seed: int = 0,
    today: date | None = None,
) -> ScanReport:
    """Scan every column of ``df``; tables larger than ``sample_rows`` are scanned on a row sample."""
    if df.shape[1] == 0:
        raise ValueError(f"Cannot scan {table!r}: it has no columns.")
    sampled = sample_rows is not None and len(df) > sample_rows
    part = df.sample(sample_rows, random_state=seed).sort_index() if sampled else df
    return scan_sample(part, len(df), table, today)


def scan_sample(part: pd.DataFrame, rows: int, table: str = "table", today: date | None = None) -> ScanReport:
    """Scan ``part``, a row sample (index: the rows' numbers) of a table of ``rows`` rows; counts are
    scaled to the whole table. ``scan`` samples with pandas; ``pii_spark`` samples with Spark."""
    scale = rows / max(len(part), 1)
    findings = [f for col in part.columns if (f := scan_column(part[col], str(col), scale, today)) is not None]
    return ScanReport(table, rows, len(part), len(part) < rows, part.shape[1], findings)


def scan_file(
    path: str | Path, table: str = "table", sample_rows: int = DEFAULT_SAMPLE_ROWS, seed: int = 0
) -> ScanReport:
    """Scan a CSV or Parquet file without loading it: Polars streams it once to count the rows and
    keep a uniform sample of ``sample_rows`` (by row number), which ``scan_sample`` scans."""
    import polars as pl

    from .cleaning_polars import NA_STRINGS

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: give the path of a CSV or Parquet file.")
    lf = (
        pl.scan_parquet(path)
        if path.suffix == ".parquet"
        else pl.scan_csv(path, infer_schema=False, null_values=NA_STRINGS)
    )
    rows = int(lf.select(pl.len()).collect(engine="streaming").item())
    if rows > sample_rows:
        chosen = np.sort(np.random.default_rng(seed).choice(rows, sample_rows, replace=False))
        lf = lf.with_row_index("__row").filter(pl.col("__row").is_in(chosen.tolist()))
    else:
        lf = lf.with_row_index("__row")
    sample = lf.collect(engine="streaming").to_pandas().set_index("__row")
    sample.index.name = None
    if sample.shape[1] == 0:
        raise ValueError(f"Cannot scan {table!r}: it has no columns.")
    return scan_sample(sample, rows, table)


def report_from_dict(data: dict[str, Any]) -> ScanReport:
    """The inverse of ``ScanReport.to_dict``."""
    fields = {k: v for k, v in data.items() if k not in ("summary", "findings")}
    return ScanReport(**fields, findings=[Finding(**f) for f in data["findings"]])


def plot_findings(report: ScanReport, ax: Any = None) -> Any:
    """Bar chart: occurrences per column, coloured by severity."""
    import matplotlib.pyplot as plt

    frame = report.frame()
    if ax is None:
        _, ax = plt.subplots(figsize=(8, max(2.5, 0.35 * len(frame) + 1)))
    if frame.empty:
        ax.text(0.5, 0.5, "no findings", ha="center", va="center", fontsize=14, color="#27ae60")
        ax.set_axis_off()
        return ax
    colors = {"high": "#c0392b", "medium": "#e67e22", "low": "#f1c40f"}
    labels = [f"{c} ({t})" for c, t in zip(frame["column"], frame["type"])]
    ax.barh(labels, frame["estimated_occurrences"], color=[colors[s] for s in frame["severity"]])
    ax.invert_yaxis()
    ax.set_xlabel("occurrences" + (" (estimated from a sample)" if report.sampled else ""))
    ax.set_title(f"PII findings in {report.table}")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colors.values()]
    ax.legend(handles, list(colors), title="severity", loc="lower right")
    ax.figure.tight_layout()
    return ax


def findings_by_column(report: ScanReport) -> dict[str, Finding]:
    return {f.column: f for f in report.findings}


def share_matching(values: pd.Series, type_: str) -> float:
    """Share of non-null values a detector accepts (for tests and diagnostics)."""
    text = values.dropna().astype(str).reset_index(drop=True)
    return DETECTORS[type_].matches(text, np.ones(len(text)), 0.0)[1] if len(text) else 0.0
