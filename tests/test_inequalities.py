"""Timestamps keep their time of day; a declared inequality (a drop-off after its pick-up) holds in
every synthetic row and its gap is learned; undeclared, the fit finds it under DP."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workshop_utils import cleaning, inequalities
from workshop_utils.dataset import DatasetError, DatasetSpec, init_dataset, load_spec
from workshop_utils.metadata import MetadataError, TableMetadata
from workshop_utils.stages import train_dp_tvae
from workshop_utils.synth import DPTVAESynthesizer, SynthesizerError, SynthesizerWarning

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "datasets"


def trips(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """Taxi-like trips: pick-ups over a month (mostly daytime), drop-offs minutes later."""
    rng = np.random.default_rng(seed)
    day = rng.integers(0, 30, n)
    seconds = np.clip(rng.normal(14 * 3600, 4 * 3600, n), 0, 86_399).astype(int)
    pickup = pd.Timestamp("2019-03-01") + pd.to_timedelta(day, unit="D") + pd.to_timedelta(seconds, unit="s")
    minutes = rng.lognormal(np.log(11), 0.6, n)
    distance = (minutes * rng.uniform(0.15, 0.35, n)).round(2)
    return pd.DataFrame(
        {
            "pickup": pickup,
            "dropoff": pickup + pd.to_timedelta(np.rint(minutes * 60), unit="s"),
            "booked": (pickup - pd.to_timedelta(rng.integers(0, 5, n), unit="D")).normalize(),
            "distance": distance,
            "fare": (2.5 + 2.5 * distance + rng.normal(0, 0.5, n)).round(2),
            "payment": rng.choice(["card", "cash"], n, p=[0.7, 0.3]),
        }
    )


def trip_meta(df: pd.DataFrame, rule: bool = True) -> TableMetadata:
    meta = TableMetadata.detect(
        df, types={"pickup": "timestamp", "dropoff": "timestamp", "booked": "date", "distance": "float"}
    )
    for col in df.columns:
        meta.set_nullable(col, False)
    if rule:
        meta.set_inequality("pickup", "dropoff")
    return meta


def fit(df: pd.DataFrame, meta: TableMetadata, **kw) -> DPTVAESynthesizer:
    kw = {"epsilon": 3.0, "epochs": 30, "batch_size": 300, "progress": False, "seed": 0} | kw
    return DPTVAESynthesizer(meta, **kw).fit(df)


def minutes(df: pd.DataFrame) -> pd.Series:
    return (df["dropoff"] - df["pickup"]).dt.total_seconds() / 60


def test_timestamps_keep_the_time_of_day_and_dates_stay_whole_days():
    df = trips()
    out = fit(df, trip_meta(df, rule=False), epsilon=None, find_rules=False).sample(3000)
    assert out["pickup"].dtype.kind == "M" and out["booked"].dtype.kind == "M"
    hours = out["pickup"].dt.hour + out["pickup"].dt.minute / 60
    assert (out["pickup"] == out["pickup"].dt.normalize()).mean() < 0.01  # not all at midnight any more
    assert 11 < hours.mean() < 17 and hours.std() > 2  # a day's spread around the afternoon
    assert (out["pickup"].dt.microsecond == 0).all() and (out["pickup"].dt.nanosecond == 0).all()  # to the second
    assert (out["booked"] == out["booked"].dt.normalize()).all()  # a date has no time
    assert out["pickup"].between("2019-03-01", "2019-04-01").all()


def test_a_declared_inequality_holds_in_every_row_and_its_gap_is_learned_at_the_same_epsilon():
    df = trips()
    real = minutes(df)
    ruled = fit(df, trip_meta(df))
    free = fit(df, trip_meta(df, rule=False), find_rules=False)
    out, loose = ruled.sample(3000), free.sample(3000)
    got = minutes(out)
    # without the rule the two columns are two coarse day bins each: many trips end before they begin
    assert (minutes(loose) < 0).mean() > 0.2 and minutes(loose).abs().median() > 60
    # with it, none does, and the trips last what real ones do
    assert (got >= 0).all()
    assert got.median() == pytest.approx(real.median(), rel=0.15)
    assert got.quantile(0.9) == pytest.approx(real.quantile(0.9), rel=0.2)
    assert out["dropoff"].dtype.kind == "M" and (out["dropoff"].dt.nanosecond == 0).all()
    # the same mechanisms at the same noise: the rule changes what is modeled, not what is paid
    assert [s.name for s in ruled.plan_.steps] == [s.name for s in free.plan_.steps]
    assert ruled.plan_.sgd_noise_multiplier == pytest.approx(free.plan_.sgd_noise_multiplier)
    assert ruled.epsilon_spent <= 3.0 + 1e-9
    enc = {e.name: e for e in ruled.encodings_}
    # a gap of minutes, in days (not timestamps ~18,000 days since 1970), and its top edge near them: one fit
    # in ten put it up to 64 days out before the located histogram stopped growing tails into far octaves
    assert enc["dropoff"].kind == "numerical" and enc["dropoff"].hi < 1


def test_an_undeclared_order_of_datetime_columns_is_found_under_dp_paid_for_and_kept(tmp_path):
    """booked <= pick-up <= drop-off in every real trip, nothing declared: the fit finds both rules
    from noisy counts, chains them (each column from its nearest lower one), and no synthetic trip
    ends before it begins or starts before it was booked."""
    df = trips()
    real = minutes(df)
    synth = fit(df, trip_meta(df, rule=False))
    assert synth.rules_ == {"pickup": "booked", "dropoff": "pickup"}
    step = synth.plan_.step("datetime order")
    assert step.weight == inequalities.ORDER_WEIGHT and step.sensitivity == pytest.approx(np.sqrt(3))
    # a tenth of a full step's rho, inside the one accountant, and the whole plan still spends exactly epsilon
    full = synth.plan_.step("numeric quantiles").noise_multiplier
    assert step.noise_multiplier == pytest.approx(full / np.sqrt(inequalities.ORDER_WEIGHT))
    assert synth.plan_.composed_epsilon() == pytest.approx(3.0, rel=0.005) and synth.epsilon_spent <= 3.0 + 1e-9
    ledger = synth.privacy_ledger()
    line = ledger[ledger["step"] == "datetime order"].iloc[0]
    assert (
        line["composed"] and 0 < line["epsilon"] < 3 and "found: pickup >= booked, dropoff >= pickup" in line["detail"]
    )
    out = DPTVAESynthesizer.load(synth.save(tmp_path / "m.pt")).sample(3000)
    assert (out["dropoff"] >= out["pickup"]).all() and (out["pickup"] >= out["booked"]).all()
    assert minutes(out).median() == pytest.approx(real.median(), rel=0.2)
    assert (out["booked"] == out["booked"].dt.normalize()).all()  # still a date
    # the same fit without the search: its plan has no such step, and many trips run backwards
    free = fit(df, trip_meta(df, rule=False), find_rules=False)
    assert free.plan_.step("datetime order") is None and free.rules_ == {}
    assert (minutes(free.sample(3000)) < 0).mean() > 0.2


def test_columns_in_no_order_get_no_rule_and_a_small_table_does_not_pay_for_the_search():
    rng = np.random.default_rng(2)
    n = 3000
    day = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    df = pd.DataFrame(
        {
            "opened": day,
            "last_seen": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D"),
            "amount": rng.gamma(2.0, 50.0, n),
        }
    )
    meta = TableMetadata.detect(df, types={"opened": "date", "last_seen": "date"})
    synth = fit(df, meta, epochs=2)
    assert synth.plan_.step("datetime order") is not None and synth.rules_ == {}
    assert "found: none" in synth.privacy_ledger().set_index("step").loc["datetime order", "detail"]
    # 500 rows: the counts' noise (about 6 rows at epsilon 3) is over 1% of the rows, so the step is not
    # planned, and the fit says so, naming the declaration that would keep the order
    with pytest.warns(
        SynthesizerWarning, match=r"opened and last_seen: .* too few .*set_inequality\('opened', 'last_seen'\)"
    ):
        small = fit(df.head(500), meta, epochs=1, batch_size=100)
    assert small.plan_.step("datetime order") is None and small.rules_ == {}


def test_found_rules_chain_to_the_nearest_lower_column_and_never_cycle():
    meta = TableMetadata.detect(
        pd.DataFrame({c: pd.to_datetime(["2020-01-01"]) for c in "abc"}), types=dict.fromkeys("abc", "date")
    )
    pairs = [("a", "b"), ("a", "c"), ("b", "c")]
    n = 1000

    def rules(below: list[list[int]]) -> dict[str, str]:
        """Rules from counts (rows below the second, rows below the first) per pair, every gap short."""
        cells = np.array([[b_below, 0, a_below, 0] for b_below, a_below in below])
        found, long = inequalities.found_rules(meta, pairs[: len(below)], cells, n)
        assert long == []
        return found

    # c <= b <= a
    assert rules([[900, 0], [900, 0], [900, 0]]) == {"a": "b", "b": "c"}
    # within the 2% allowance both ways: equal columns, the first is the lower
    assert rules([[5, 3], [900, 900], [900, 900]]) == {"b": "a"}
    # noise that makes a cycle (a <= b <= c <= a): every column is above one other, so none is modeled
    assert rules([[0, 900], [900, 0], [0, 900]]) == {}
    # 21 noisy rows of 1,000 break it: not a rule
    assert rules([[21, 900]]) == {}


def test_an_order_with_long_gaps_is_left_to_the_owner_and_the_later_column_keeps_its_shape():
    """Admissions within one year, birth dates over 80: every patient is born before admission, but
    modeled as that 20-80-year gap the admissions came out spread over decades (fidelity 0.17 against
    0.98 on their own, a hospital-like table at epsilon 3). A long-gap order is warned of, not modeled."""
    meta = TableMetadata.detect(
        pd.DataFrame({c: pd.to_datetime(["2020-01-01"]) for c in "ab"}), types=dict.fromkeys("ab", "date")
    )
    # b >= a in every row; 800 of 1,000 rows more than 30 days apart: held, long, no rule
    assert inequalities.found_rules(meta, [("a", "b")], np.array([[0, 0, 200, 800]]), 1000) == ({}, [("a", "b")])
    assert inequalities.found_rules(meta, [("a", "b")], np.array([[0, 0, 600, 400]]), 1000) == ({"b": "a"}, [])
    rng = np.random.default_rng(3)
    n = 3000
    born = pd.Timestamp("1935-01-01") + pd.to_timedelta(rng.integers(0, 365 * 80, n), unit="D")
    admitted = pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    df = pd.DataFrame({"born": born, "admitted": admitted, "stay": rng.geometric(0.2, n)})
    df["discharged"] = df["admitted"] + pd.to_timedelta(df["stay"], unit="D")
    meta = TableMetadata.detect(df, types={"born": "date", "admitted": "date", "discharged": "date", "stay": "int"})
    with pytest.warns(SynthesizerWarning, match=r"admitted >= born.*set_inequality\('born', 'admitted'\)"):
        synth = fit(df, meta, epochs=5)
    assert synth.rules_ == {"discharged": "admitted"}  # a stay of days is still a rule
    out = synth.sample(2000)
    assert (out["discharged"] >= out["admitted"]).all()
    assert out["admitted"].between("2021-06-01", "2023-06-01").mean() > 0.9  # a year wide, as the real ones


def test_a_saved_model_keeps_the_rule_and_numbers_obey_it_too(tmp_path):
    rng = np.random.default_rng(1)
    n = 1200
    low = rng.integers(0, 50, n)
    df = pd.DataFrame({"low": low, "high": low + rng.integers(0, 8, n), "g": rng.choice(["a", "b"], n)})
    meta = TableMetadata.detect(df, types={"low": "int", "high": "int"})
    meta.set_nullable("low", False).set_nullable("high", False).set_inequality("low", "high")
    synth = fit(df, meta, epsilon=None, epochs=5, batch_size=200)
    loaded = DPTVAESynthesizer.load(synth.save(tmp_path / "m.pt"))
    out = loaded.sample(2000)
    assert loaded.metadata.columns["high"].above == "low"
    assert (out["high"] >= out["low"]).all() and out["high"].dtype == np.int64
    assert TableMetadata.from_json(meta.to_json()).columns["high"].above == "low"


def test_bad_inequalities_are_refused_with_what_to_do():
    df = trips(400)
    meta = trip_meta(df, rule=False)
    with pytest.raises(MetadataError, match="own lower column"):
        meta.set_inequality("pickup", "pickup")
    with pytest.raises(MetadataError, match="only a numerical or datetime column"):
        meta.set_inequality("pickup", "payment")
    with pytest.raises(MetadataError, match="same kind"):
        meta.set_inequality("distance", "dropoff")
    with pytest.raises(MetadataError, match="not in the metadata"):
        meta.set_inequality("start", "dropoff")
    meta.set_inequality("pickup", "dropoff")
    with pytest.raises(MetadataError, match="chains are not supported"):
        meta.set_inequality("dropoff", "booked")
    meta.set_nullable("pickup", True)
    with pytest.raises(SynthesizerError, match="never null, so 'pickup' must be too"):
        fit(df, meta, epochs=1)
    meta.set_nullable("pickup", False)
    with pytest.raises(SynthesizerError, match="cannot be conditioned on"):
        fit(df, meta, epochs=1, condition_on=["dropoff"])
    meta.set_inequality(None, "dropoff")
    assert meta.columns["dropoff"].above is None


def test_rows_with_the_higher_value_but_not_the_lower_are_refused_before_anything_is_spent():
    df = trips(400)
    df["pickup"] = df["pickup"].mask(df.index < 3)
    meta = trip_meta(df, rule=False)
    meta.set_nullable("pickup", True).set_nullable("dropoff", True).set_inequality("pickup", "dropoff")
    with pytest.raises(SynthesizerError, match=r"'dropoff >= pickup': 3\b.*fill or null those values"):
        fit(df, meta, epochs=1)


def test_a_dataset_spec_declares_its_rules_and_refuses_malformed_ones():
    df = trips(200)
    types = {"pickup": "timestamp", "dropoff": "timestamp", "booked": "date", "distance": "float"}
    base = {"name": "trips", "source": "trips.csv", "target": "payment", "task": "classification"}
    spec = DatasetSpec(**base, inequalities=["pickup <= dropoff", "booked <= gone"])  # gone: dropped by the job
    meta, declared = train_dp_tvae.metadata_for(spec, df, {"steps": []}, types)
    assert meta.columns["dropoff"].above == "pickup" and any("never below pickup" in d for d in declared)
    assert "pickup <= dropoff" in spec.to_yaml()
    with pytest.raises(DatasetError, match="'low <= high' rules"):
        DatasetSpec(**base, inequalities=["pickup < dropoff"])
    with pytest.raises(DatasetError, match="inequalities: Cannot declare 'payment' >= 'pickup'"):
        train_dp_tvae.metadata_for(DatasetSpec(**base, inequalities=["pickup <= payment"]), df, {"steps": []}, types)


def test_init_dataset_suggests_a_rule_for_two_datetime_columns_and_the_spec_still_loads(tmp_path):
    csv = tmp_path / "trips.csv"
    df = trips(200)
    df.assign(pickup=df["pickup"].astype(str), dropoff=df["dropoff"].astype(str)).to_csv(csv, index=False)
    spec_path, _ = init_dataset(csv, "payment")
    text = spec_path.read_text()
    assert '# inequalities: ["pickup <= dropoff"]' in text  # a suggestion, commented out: the owner decides
    assert load_spec(spec_path).inequalities == []
    spec_path.write_text(text.replace("# inequalities", "inequalities"))
    assert load_spec(spec_path).inequality_pairs == [("pickup", "dropoff")]


@pytest.mark.skipif(not (SHARED / "taxis.csv").exists(), reason=f"{SHARED} (the public tables) is absent")
def test_the_taxis_spec_walks_its_rule_hierarchies_and_times_into_the_synthetic_trips():
    """datasets/taxis.yaml as notebook 04 reads it: the reviewed job's types, the spec's rule and hierarchies."""
    spec = load_spec(REPO / "datasets" / "taxis.yaml")
    job = cleaning.load_job(spec.resolve(spec.cleaning_job))
    raw = pd.read_csv(spec.source_path(), dtype=str, keep_default_na=False, na_values=[""])
    table = cleaning.run_job(raw, job).table.sample(2000, random_state=0)
    types = {m["target"]: m["type"] for m in job["steps"][0]["ApplyMapping"]["mappings"]}
    meta, declared = train_dp_tvae.metadata_for(spec, table, job, types)
    assert any("dropoff: never below pickup" in d for d in declared)
    assert any("pickup_zone: within pickup_borough" in d for d in declared)
    out = DPTVAESynthesizer(meta, epsilon=3.0, epochs=3, batch_size=500, progress=False).fit(table).sample(2000)
    assert (out["dropoff"] >= out["pickup"]).all()
    for borough, zone in spec.hierarchy_pairs:  # every named zone in a borough the real trips give it
        seen = set(zip(table[zone], table[borough]))
        named = out[out[zone] != "other"]
        assert all(pair in seen for pair in zip(named[zone], named[borough]))
    assert (out["pickup"] != out["pickup"].dt.normalize()).mean() > 0.9  # times of day, not midnights
