import json

import numpy as np
import pandas as pd
import pytest

from workshop_utils import catalog, cleaning, deid, pii, risk
from workshop_utils.config import Settings
from workshop_utils.dataset import load_spec
from workshop_utils.sample_data import COLUMNS, SAMPLE_CSV
from workshop_utils.stages import glue_cleaning, pii_check, setup

from .conftest import BANK_MARKETING

TRUTH = {c.name: c.pii_type for c in COLUMNS if c.pii_type}
RAW_TRUTH = {c.raw_name: c.pii_type for c in COLUMNS if c.pii_type}


@pytest.fixture(scope="module")
def processed() -> cleaning.JobResult:
    return cleaning.run_job(pd.read_csv(SAMPLE_CSV, dtype=str))


@pytest.fixture(scope="module")
def report(processed) -> pii.ScanReport:
    return pii.scan(processed.table, "bank_customers")


def detected(rep: pii.ScanReport) -> dict[str, str]:
    return {f.column: f.type for f in rep.findings}


def test_detection_matches_the_data_dictionary_exactly(report):
    got = detected(report)
    true_positive = sum(got.get(c) == t for c, t in TRUTH.items())
    precision, recall = true_positive / len(got), true_positive / len(TRUTH)
    assert (precision, recall) == (1.0, 1.0), {
        "missed": set(TRUTH.items()) - set(got.items()),
        "extra": set(got.items()) - set(TRUTH.items()),
    }


def test_notes_are_flagged_with_their_embedded_identifiers(report, processed):
    notes = pii.findings_by_column(report)["notes"]
    assert notes.type == "free_text" and notes.severity == "high"
    text = processed.table["notes"].dropna()
    assert notes.embedded_types["email"] == text.str.contains("@").sum()
    assert notes.embedded_types["phone"] == text.str.contains("Call back on").sum()
    assert notes.embedded_types["credit_card"] == text.str.contains("with card").sum()


def test_the_raw_csv_is_detected_exactly_too():
    raw = pd.read_csv(SAMPLE_CSV, dtype=str)
    assert detected(pii.scan(raw, "raw")) == RAW_TRUTH


@pytest.mark.parametrize("seed", [0, 1])
def test_opaque_names_and_shuffled_columns_do_not_change_detection(processed, seed):
    order = np.random.default_rng(seed).permutation(processed.table.columns)
    opaque = processed.table[order].copy()
    opaque.columns = [f"col_{i}" for i in range(len(order))]
    got = {order[int(c[4:])]: t for c, t in detected(pii.scan(opaque)).items()}
    assert got == TRUTH


def test_bank_marketing_has_no_medium_or_high_findings():
    raw = pd.read_csv(BANK_MARKETING, dtype=str)
    assert pii.scan(raw, "bank-marketing").at_or_above("medium") == []
    typed = cleaning.run_job(raw, cleaning.infer_job(raw)).table
    assert pii.scan(typed, "bank-marketing").at_or_above("medium") == []


def test_values_not_names_decide():
    n = 200
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "col_7": [f"user{i}@example.org" for i in range(n)],
            "email_opt_in": rng.random(n) < 0.5,
            "email_domain_count": rng.integers(1, 9, n),
            "order_ref": [f"{x:06d}" for x in rng.integers(0, 999_999, n)],
        }
    )
    got = detected(pii.scan(df))
    assert got == {"col_7": "email"}


def test_validators_cut_false_positives():
    good_card, bad_card = "4111 1111 1111 1111", "4111 1111 1111 1112"
    assert pii.share_matching(pd.Series([good_card]), "credit_card") == 1.0
    assert pii.share_matching(pd.Series([bad_card, "1234567812345670"]), "credit_card") == 0.0  # Luhn / IIN
    bad_ssns = ["000-12-3456", "666-12-3456", "901-12-3456", "123-00-4567", "123-45-0000"]
    assert pii.share_matching(pd.Series(bad_ssns), "us_ssn") == 0.0
    assert pii.share_matching(pd.Series(["123-45-6789"]), "us_ssn") == 1.0
    assert pii.share_matching(pd.Series(["DE89370400440532013000"]), "iban") == 1.0
    assert pii.share_matching(pd.Series(["DE89370400440532013001"]), "iban") == 0.0  # mod-97
    assert (
        pii.share_matching(pd.Series(["(212) 155-0100", "(212) 456-7890"]), "phone") == 0.5
    )  # no exchange starts with 1
    assert pii.share_matching(pd.Series(["999.1.1.1", "10.0.0.256"]), "ip_address") == 0.0


def test_keyword_proximity_only_changes_confidence(processed):
    values = processed.table["account_number"]
    named = pii.scan_column(values, "account_number")
    opaque = pii.scan_column(values, "col_3")
    assert named.type == opaque.type == "bank_account"
    order = ["low", "medium", "high"]
    assert order.index(named.confidence) > order.index(opaque.confidence)


def test_findings_never_contain_raw_values(report, processed):
    text = json.dumps(report.to_dict())
    for col in ("ssn", "email", "credit_card_number", "full_name", "iban", "account_number", "phone_number"):
        for value in processed.table[col].dropna().head(50):
            assert value not in text, (col, value)
    ex = pii.findings_by_column(report)["ssn"].examples[0]
    assert ex["value"].startswith("***-**-**") and isinstance(ex["row"], int)


def test_large_tables_are_scanned_on_a_sample(processed):
    rep = pii.scan(processed.table, sample_rows=2000)
    assert rep.sampled and rep.rows_scanned == 2000 and rep.rows == len(processed.table)
    f = pii.findings_by_column(rep)["ssn"]
    assert f.occurrences == 2000 and f.estimated_occurrences == len(processed.table)
    assert detected(rep) == TRUTH


def test_severity_follows_type_and_volume():
    few = pd.Series(["a@b.org", "c@d.org", None, None])
    many = pd.Series([f"u{i}@x.org" for i in range(1500)])
    assert pii.scan_column(few, "c").severity == "low"
    assert pii.scan_column(many, "c").severity == "high"
    assert pii.scan_column(many.head(100), "c").severity == "medium"


# --------------------------------------------------------------------------- quasi-identifiers


def test_k_anonymity_on_a_small_table():
    df = pd.DataFrame({"zip": ["12345", "12345", "12399", "54321"], "g": ["F", "F", "M", "M"]})
    r = risk.k_anonymity(df, ["zip", "g"])
    assert r == {"k": 1, "classes": 3, "unique_share": 0.5, "share_in_classes_below_5": 1.0}
    assert risk.k_anonymity(df, ["g"])["k"] == 2
    with pytest.raises(ValueError, match="not in the table"):
        risk.k_anonymity(df, ["age"])


def test_generalization_lowers_uniqueness(processed):
    qis = ["date_of_birth", "zip_code", "gender", "marital_status"]
    ladder = risk.generalization_ladder(processed.table, qis)
    assert ladder["unique_share"].iloc[0] > 0.9
    assert ladder["unique_share"].is_monotonic_decreasing and ladder["unique_share"].iloc[-1] < 0.1
    assert "+ zip_code -> 3 digits" in set(ladder["step"])
    assert set(
        risk.suggest_quasi_identifiers(processed.table, {"date_of_birth": "date_of_birth", "zip_code": "postal_code"})
    ) >= set(qis)


# --------------------------------------------------------------------------- remediation


def test_default_policy_leaves_no_medium_or_high_findings(processed, report):
    policy = pii_check.policy_for(load_spec())  # the default policy plus the sample spec's customer_id: hash
    rem = deid.apply_policy(processed.table, report, processed.types, policy, secret=b"s3cret")
    rescan = pii.scan(rem.table)
    assert rescan.at_or_above("medium") == []
    for col in ("full_name", "email", "ssn", "credit_card_number", "iban", "account_number", "street_address"):
        assert col not in rem.table.columns
    assert rem.table["date_of_birth_year"].between(1900, 2010).all()
    assert rem.table["zip_code_prefix3"].str.fullmatch(r"\d{3}").all()
    assert not rem.table["notes"].dropna().str.contains("@").any()
    assert (
        rem.table["notes"].str.contains(r"\[EMAIL\]").sum()
        == pii.findings_by_column(report)["notes"].embedded_types["email"]
    )
    assert set(rem.types) == set(rem.table.columns)
    assert "customer_id" in {e["column"] for e in rem.log if e["action"] == "hash"}


def test_keyed_hash_is_consistent_and_secret_dependent():
    s = pd.Series(["CUS-1", "CUS-2", "CUS-1", None])
    a, b = deid.hmac_hash(s, b"k1"), deid.hmac_hash(s, b"k2")
    assert a[0] == a[2] != a[1] and pd.isna(a[3])
    assert a[0] != b[0] and len(a[0]) == 64


def test_policy_errors(processed, report):
    with pytest.raises(deid.PolicyError, match="needs a 'reason'"):
        deid.apply_policy(processed.table, report, processed.types, {"types": dict.fromkeys(pii.CATEGORY, "keep")})
    with pytest.raises(deid.PolicyError, match="not one of"):
        deid.apply_policy(processed.table, report, processed.types, {"types": dict.fromkeys(pii.CATEGORY, "erase")})
    with pytest.raises(deid.PolicyError, match="No action for finding type"):
        deid.apply_policy(processed.table, report, processed.types, {"types": {"email": "drop"}})
    kept = deid.apply_policy(
        processed.table,
        report,
        processed.types,
        {"types": dict.fromkeys(pii.CATEGORY, "drop") | {"ip_address": {"action": "keep", "reason": "fraud team"}}},
    )
    assert (
        "ip_address" in kept.table.columns
        and {"column": "ip_address", "finding": "ip_address", "action": "keep", "detail": "fraud team"} in kept.log
    )


def test_pii_stage_writes_findings_and_never_the_secret(store, settings, monkeypatch):
    secret = "do-not-leak-this-secret-123"
    monkeypatch.setenv("WORKSHOP_HMAC_SECRET", secret)
    spec = load_spec()
    setup.crawl_raw_csv(store, settings, spec, setup.land_source(store, settings, spec)["key"])
    small = Settings(**(settings.as_dict() | {"sample_rows": 2000}))
    glue_cleaning.run_cleaning(store, small, spec)
    out = pii_check.run_pii_check(store, small, spec)
    findings = store.read_json(out.keys["findings"])
    assert {f["column"]: f["type"] for f in findings["findings"]} == TRUTH
    assert store.read_json(out.keys["rescan"])["summary"]["by_severity"] == {"low": 0, "medium": 0, "high": 0}
    entry = catalog.find_table(store, settings, spec.tables.deidentified)
    assert entry["Parameters"]["rescanMediumOrHigh"] == 0
    deidentified = catalog.read_table(store, entry)
    assert "ssn" not in deidentified.columns and len(deidentified) == len(out.table)
    for key in store.list_keys(f"{settings.prefix}/"):
        assert secret.encode() not in store.get_bytes(key), key


def test_findings_in_macie_schema(processed, report):
    from workshop_utils import macie

    result = macie.to_macie_result(report, "bucket", "k/processed.parquet", list(processed.table.columns))
    sensitive = {s["category"]: s for s in result["classificationDetails"]["result"]["sensitiveData"]}
    assert {"PERSONAL_INFORMATION", "FINANCIAL_INFORMATION"} <= set(sensitive)
    types = {d["type"]: d for s in sensitive.values() for d in s["detections"]}
    assert {"USA_SOCIAL_SECURITY_NUMBER", "CREDIT_CARD_NUMBER", "EMAIL_ADDRESS", "NAME"} <= set(types)
    cell = types["USA_SOCIAL_SECURITY_NUMBER"]["occurrences"]["cells"][0]
    assert set(cell) == {"row", "column", "columnName", "cellReference"} and cell["columnName"] == "ssn"
    assert list(processed.table.columns)[cell["column"] - 1] == "ssn" and cell["row"] >= 1
    assert all(s["totalCount"] == sum(d["count"] for d in s["detections"]) for s in sensitive.values())
    assert result["type"] == "SensitiveData:S3Object/Multiple"
    assert result["resourcesAffected"]["s3Object"]["key"] == "k/processed.parquet"


def test_real_macie_job_path_with_botocore_stubber():
    import boto3
    from botocore.stub import ANY, Stubber

    from workshop_utils import macie

    client = boto3.client("macie2", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    finding = {"id": "f1", "type": "SensitiveData:S3Object/Personal"}
    with Stubber(client) as stub:
        stub.add_response(
            "create_classification_job",
            {"jobId": "job-1", "jobArn": "arn:aws:macie2:us-east-1:111111111111:classification-job/job-1"},
            {
                "clientToken": ANY,
                "jobType": "ONE_TIME",
                "name": ANY,
                "s3JobDefinition": {
                    "bucketDefinitions": [{"accountId": "111111111111", "buckets": ["b"]}],
                    "scoping": {
                        "includes": {
                            "and": [
                                {
                                    "simpleScopeTerm": {
                                        "comparator": "EQ",
                                        "key": "OBJECT_KEY",
                                        "values": ["p/x.parquet"],
                                    }
                                }
                            ]
                        }
                    },
                },
            },
        )
        stub.add_response("describe_classification_job", {"jobStatus": "RUNNING"}, {"jobId": "job-1"})
        stub.add_response("describe_classification_job", {"jobStatus": "COMPLETE"}, {"jobId": "job-1"})
        stub.add_response(
            "list_findings",
            {"findingIds": ["f1"]},
            {"findingCriteria": {"criterion": {"classificationDetails.jobId": {"eq": ["job-1"]}}}},
        )
        stub.add_response("get_findings", {"findings": [finding]}, {"findingIds": ["f1"]})
        waits = []
        found = macie.run_classification_job(client, "111111111111", "b", "p/x.parquet", sleep=waits.append)
        stub.assert_no_pending_responses()
    assert found == [finding] and waits == [30.0]


def test_scanning_a_file_streams_a_sample_and_finds_what_the_frame_scan_finds(tmp_path):
    from pathlib import Path

    sample_csv = Path(__file__).resolve().parents[1] / "data" / "raw" / "bank_customers.csv"
    frame = pd.read_csv(sample_csv, dtype=str)
    from_file = pii.scan_file(sample_csv, "bank", sample_rows=3000)
    assert (from_file.rows, from_file.rows_scanned, from_file.sampled) == (len(frame), 3000, True)
    assert {(f.column, f.type) for f in from_file.findings} == {
        (f.column, f.type) for f in pii.scan(frame, "bank", sample_rows=3000).findings
    }
    finding = from_file.findings[0]
    example = finding.examples[0]  # row numbers are the file's
    assert pii.mask(frame.loc[example["row"], finding.column]) == example["value"]
    with pytest.raises(FileNotFoundError, match="not found"):
        pii.scan_file(tmp_path / "missing.csv")
