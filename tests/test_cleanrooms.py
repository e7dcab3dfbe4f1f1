"""Clean Rooms ML offline: the service's ranges, approvals, visibility, a failing generation,
retention, and botocore's validation of the request bodies."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest

from workshop_utils.cleanrooms import (
    AccessDenied,
    AnalysisTemplate,
    CleanRoomsError,
    Definitions,
    GenerationSettings,
    MLInputChannel,
    _now,
    validate_request,
)
from workshop_utils.config import Settings
from workshop_utils.stages import clean_rooms_collaboration as cr

BANK, TRAVEL = "111111111111", "222222222222"
MAPPING = [{"columnName": f"c{i}", "columnType": "NUMERICAL", "isPredictiveValue": i == 0} for i in range(5)]


def template(**changes) -> AnalysisTemplate:
    base = dict(
        name="t",
        creator=BANK,
        sql="SELECT 1",
        epsilon=1.0,
        max_membership_inference_attack_score=0.8,
        column_mapping=copy.deepcopy(MAPPING),
    )
    return AnalysisTemplate(**(base | changes))


EPSILON = ("epsilon", "epsilon must be between 0.0001 and 10")
MIA = ("max_membership_inference_attack_score", "maxMembershipInferenceAttackScore must be between 0.5 and 1")


@pytest.mark.parametrize(
    "field, message, value, ok",
    [(*EPSILON, v, ok) for v, ok in [(0, False), (0.0001, True), (10, True), (10.1, False), (True, False)]]
    + [(*MIA, v, ok) for v, ok in [(0.49, False), (0.5, True), (1, True), (1.01, False)]],
)
def test_template_ranges(field, message, value, ok):
    if ok:
        template(**{field: value})
    else:
        with pytest.raises(CleanRoomsError, match=message):
            template(**{field: value})


def test_column_mapping_rules_and_one_message_per_violation():
    with pytest.raises(CleanRoomsError, match="5 to 1,000 columns, got 4"):
        template(column_mapping=copy.deepcopy(MAPPING[:4]))
    two = copy.deepcopy(MAPPING)
    two[1]["isPredictiveValue"] = True
    with pytest.raises(
        CleanRoomsError, match=r"exactly one column must have isPredictiveValue true, got \['c0', 'c1'\]"
    ):
        template(column_mapping=two)
    with pytest.raises(CleanRoomsError) as err:
        template(epsilon=11, max_membership_inference_attack_score=0.3)
    assert "epsilon" in str(err.value) and "maxMembershipInferenceAttackScore" in str(err.value)


@pytest.mark.parametrize("days, ok", [(0, False), (1, True), (30, True), (31, False)])
def test_retention_range(days, ok):
    if ok:
        MLInputChannel("c", "t", days)
    else:
        with pytest.raises(CleanRoomsError, match="retentionInDays"):
            MLInputChannel("c", "t", days)


def test_the_emitted_requests_pass_botocore_validation_and_a_broken_one_does_not():
    defs = Definitions.load(cr.DEFINITIONS)
    requests = defs.requests(BANK, f"arn:aws:iam::{BANK}:role/CleanRoomsML")
    assert {len(v) for v in requests.values()} == {2}
    body = requests["cleanrooms:CreateAnalysisTemplate"][0]
    params = body["syntheticDataParameters"]["mlSyntheticDataParameters"]
    assert params["epsilon"] == 1.0 and len(params["columnClassification"]["columnMapping"]) == 11
    broken = copy.deepcopy(body)
    del broken["format"]
    with pytest.raises(CleanRoomsError, match="format"):
        validate_request("cleanrooms", "CreateAnalysisTemplate", broken)


@pytest.fixture(scope="module")
def room(s3_server, tmp_path_factory):
    from workshop_utils.storage import S3Store

    settings = Settings(bucket="clean-rooms-test", prefix="cr", run_id="crrun", sample_rows=3000)
    store = S3Store.connect(settings)
    store.ensure_bucket()
    defs = Definitions.load(cr.DEFINITIONS)
    members = {m.account_id: m for m in defs.collaboration.members}
    secret = b"s" * 32
    partners = {
        "bank": cr.prepare_partner(store, settings, cr.PARTNER_SPECS["bank"], members[BANK].data_prefix, secret),
        "travel": cr.prepare_partner(store, settings, cr.PARTNER_SPECS["travel"], members[TRAVEL].data_prefix, secret),
    }
    return cr.open_clean_room(store, settings, defs, partners), store, partners


def test_a_partner_reads_only_its_own_prefix_and_received_results(room):
    room, store, partners = room
    with pytest.raises(AccessDenied):
        room.session(BANK).read_table(room.tables["travel"])
    with pytest.raises(AccessDenied):
        room.session(TRAVEL).read_table(room.tables["bank"])
    assert len(room.session(TRAVEL).read_table(room.tables["travel"])) > 0
    with pytest.raises(AccessDenied):  # the travel partner cannot receive results
        room.session(TRAVEL).get_bytes(f"{room.results_prefix}x/data.parquet")


def test_the_join_key_matches_across_partners_and_no_raw_email_is_visible(room):
    room, store, _ = room
    bank = room.session(BANK).read_table(room.tables["bank"])
    travel = room.session(TRAVEL).read_table(room.tables["travel"])
    assert not bank["email"].str.contains("@").any() and not travel["email"].str.contains("@").any()
    assert bank["email"].isin(travel["email"]).mean() > 0.3  # the shared HMAC secret gives the same key


def test_approvals_are_required_write_once_and_only_from_providers(room):
    room, store, partners = room
    with pytest.raises(CleanRoomsError, match="not yet approved"):
        room.run_query("default-risk-synthetic", BANK)
    room.approve("default-risk-synthetic", BANK)
    assert room.missing_approvals("default-risk-synthetic") == [TRAVEL]
    first = store.read_json(room.approve("default-risk-synthetic", BANK))  # again: the first approval stands
    assert store.read_json(room.approve("default-risk-synthetic", BANK)) == first
    with pytest.raises(CleanRoomsError, match="provides no table"):
        room.approve("default-risk-synthetic", "333333333333")
    room.approve("default-risk-synthetic", TRAVEL)
    joined = room.run_query("default-risk-synthetic", BANK)
    assert "email" not in joined.columns and len(joined) > 100
    with pytest.raises(CleanRoomsError, match="no CAN_QUERY"):
        room.run_query("default-risk-synthetic", TRAVEL)


def test_a_query_cannot_see_columns_that_are_not_allowed(room):
    room, store, _ = room
    t = room.defs.template("default-risk-synthetic")
    original = t.sql
    try:
        t.sql = "SELECT b.credit_score, b.customer_id FROM bank b JOIN travel t ON b.email = t.email"
        with pytest.raises(CleanRoomsError, match="customer_id"):
            room.run_query(t.name, BANK)
        t.sql = "SELECT b.email, b.age FROM bank b"
        with pytest.raises(CleanRoomsError, match="disallowed column"):
            room.run_query(t.name, BANK)
    finally:
        t.sql = original


def test_strict_generation_fails_and_a_lenient_one_serves_data_until_retention_ends(room):
    room, store, partners = room
    for account in (BANK, TRAVEL):
        room.approve("default-risk-synthetic-strict", account)
    fast = GenerationSettings(epochs=2, batch_size=200)
    budgets = cr.partner_budgets(store, partners)
    spent_before = [b.spent()[0] for b in budgets]
    strict = room.create_ml_input_channel("default-risk-strict", BANK, fast, budgets)
    assert strict["status"] == "CREATE_FAILED" and "above the template's maximum" in strict["statusDetails"]["message"]
    assert not [k for k in store.list_keys(f"{room.results_prefix}default-risk-strict/") if "data." in k]
    with pytest.raises(CleanRoomsError, match="CREATE_FAILED"):
        room.read_channel("default-risk-strict", BANK)
    ok = room.create_ml_input_channel("default-risk", BANK, fast, budgets)
    assert ok["status"] == "ACTIVE" and ok["numberOfRecords"] > 0
    score = ok["syntheticDataConfiguration"]["syntheticDataEvaluationScores"]["dataPrivacyScores"]
    assert score["membershipInferenceAttackScores"][0]["attackVersion"] == "DISTANCE_TO_CLOSEST_RECORD_V1"
    assert [b.spent()[0] for b in budgets] == pytest.approx([s + 2.0 for s in spent_before])  # both pay, twice
    assert len(room.read_channel("default-risk", BANK)) == ok["numberOfRecords"]
    with pytest.raises(AccessDenied):
        room.read_channel("default-risk", TRAVEL)
    later = _now() + timedelta(days=8)
    listed = room.list_ml_input_channels(now=later).set_index("name")["status"].to_dict()
    assert listed == {"default-risk": "EXPIRED", "default-risk-strict": "EXPIRED"}
    with pytest.raises(CleanRoomsError, match="retention"):
        room.read_channel("default-risk", BANK, now=later)
    scores, key, request = cr.train_and_export(store, room, "default-risk", BANK)
    assert store.exists(key) and request["outputConfiguration"]["members"] == [{"accountId": BANK}]
