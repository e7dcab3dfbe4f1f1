"""A declared hierarchy (a city within its state, a taxi zone within its borough) holds in every
synthetic row: no named child under a parent the data never gives it."""

import numpy as np
import pandas as pd
import pytest

from workshop_utils.dataset import DatasetError, DatasetSpec, init_dataset, load_spec
from workshop_utils.metadata import MetadataError, TableMetadata
from workshop_utils.stages import train_dp_tvae
from workshop_utils.synth import OTHER, DPTVAESynthesizer, SynthesizerError

STATES = [f"S{i}" for i in range(8)]
CITIES = {f"City{j}": STATES[j % 8] for j in range(40)}  # City0 and City8 both in S0: not one per state


def customers(n: int = 2400, seed: int = 0) -> pd.DataFrame:
    """Customers in 40 cities of 8 states (10 large cities, 30 small), a balance and a segment."""
    rng = np.random.default_rng(seed)
    city = rng.choice(list(CITIES), n, p=np.r_[np.full(10, 0.06), np.full(30, 0.4 / 30)])
    state = np.array([CITIES[c] for c in city])
    return pd.DataFrame(
        {
            "city": city,
            "state": state,
            "balance": rng.normal(1000, 300, n).round(2) + 50 * (state == "S0"),
            "segment": rng.choice(["retail", "business"], n, p=[0.8, 0.2]),
        }
    )


def city_meta(df: pd.DataFrame, hierarchy: bool = True) -> TableMetadata:
    meta = TableMetadata.detect(df).set_role("segment", "target", task="classification")
    return meta.set_hierarchy("state", "city") if hierarchy else meta


def fit(df: pd.DataFrame, meta: TableMetadata, **kw) -> DPTVAESynthesizer:
    kw = {"epsilon": 3.0, "epochs": 20, "batch_size": 300, "progress": False, "seed": 0} | kw
    return DPTVAESynthesizer(meta, **kw).fit(df)


def misplaced(train: pd.DataFrame, out: pd.DataFrame) -> float:
    """The share of synthetic rows whose named city is in a state no training row puts it in."""
    seen = set(zip(train["city"], train["state"]))
    named = out[(out["city"].astype(object) != OTHER) & out["city"].notna()]
    return sum(pair not in seen for pair in zip(named["city"], named["state"])) / len(out)


def test_a_declared_hierarchy_keeps_every_named_child_under_its_parent(tmp_path):
    df = customers()
    free = fit(df, city_meta(df, hierarchy=False)).sample(3000)
    assert misplaced(df, free) > 0.05  # the model alone puts cities in the wrong states

    synth = fit(df, city_meta(df))
    out = synth.sample(3000)
    assert misplaced(df, out) == 0.0
    assert out["city"].isin([*CITIES, OTHER]).all()  # the child's own values, not (state, city) pairs
    assert (out["city"] == OTHER).mean() < 0.1  # the large cities (60% of rows) are kept
    real, synthetic = df["state"].value_counts(normalize=True), out["state"].value_counts(normalize=True)
    assert (real - synthetic.reindex(real.index, fill_value=0)).abs().max() < 0.05  # the parent's marginal holds
    assert synth.encodings_.index(next(e for e in synth.encodings_ if e.name == "state")) < next(
        i for i, e in enumerate(synth.encodings_) if e.name == "city"
    )

    in_city = synth.sample(200, conditions={"city": "City3"})
    assert (in_city["city"] == "City3").all() and (in_city["state"] == "S3").all()
    loaded = DPTVAESynthesizer.load(synth.save(tmp_path / "model"))
    assert loaded.metadata.columns["city"].parent == "state"
    assert misplaced(df, loaded.sample(2000)) == 0.0


def test_a_null_parent_keeps_its_own_children_and_a_chain_combines_along_it():
    df = customers(1500)
    df["district"] = df["city"] + "-" + np.where(np.arange(len(df)) % 2, "north", "south")
    df.loc[df.index % 25 == 0, "state"] = None
    meta = city_meta(df).set_hierarchy("city", "district")
    out = fit(df, meta, epsilon=None, epochs=30).sample(3000)
    seen_city = set(zip(df["city"], df["state"].fillna("<null>")))
    named = out[out["city"] != OTHER]
    assert all(pair in seen_city for pair in zip(named["city"], named["state"].fillna("<null>")))
    named = out[(out["district"] != OTHER) & (out["city"] != OTHER)]
    assert (named["district"].str.split("-").str[0] == named["city"]).all()


def test_bad_hierarchies_are_refused_with_what_to_do():
    df = customers(600)
    df["n"] = np.arange(len(df))
    meta = TableMetadata.detect(df).set_role("segment", "target", task="classification")
    with pytest.raises(MetadataError, match="'n' is numerical"):
        meta.set_hierarchy("state", "n")
    with pytest.raises(MetadataError, match="'segment' is target"):
        meta.set_hierarchy("segment", "city")
    meta.set_hierarchy("state", "city")
    with pytest.raises(MetadataError, match="a cycle"):
        meta.set_hierarchy("city", "state")
    meta.set_categories("city", list(CITIES))
    with pytest.raises(SynthesizerError, match="'city' has declared categories"):
        fit(df, meta, epochs=1)
    meta.columns["city"].categories = None
    with pytest.raises(SynthesizerError, match="condition on 'state'"):
        fit(df, meta, epochs=1, condition_on=["city"])
    bad = df.assign(city=df["city"].where(df.index > 0, "City\x1f0"))
    with pytest.raises(SynthesizerError, match="U\\+001F"):
        fit(bad, meta, epochs=1)
    assert TableMetadata.from_dict(meta.to_dict()).columns["city"].parent == "state"
    assert TableMetadata.from_dict(meta.to_dict()).columns["state"].parent is None


def test_a_dataset_spec_declares_hierarchies_and_refuses_malformed_ones():
    df = customers(300)
    base = {"name": "customers", "source": "customers.csv", "target": "segment", "task": "classification"}
    spec = DatasetSpec(**base, hierarchies=["state > city", "region > state"])  # region: dropped by the job
    meta, declared = train_dp_tvae.metadata_for(spec, df, {"steps": []}, {})
    assert meta.columns["city"].parent == "state" and any("city: within state" in d for d in declared)
    assert "state > city" in spec.to_yaml()
    with pytest.raises(DatasetError, match="'parent > child' pairs"):
        DatasetSpec(**base, hierarchies=["state, city"])
    with pytest.raises(DatasetError, match="hierarchies: Cannot declare 'balance' within 'state'"):
        train_dp_tvae.metadata_for(DatasetSpec(**base, hierarchies=["state > balance"]), df, {"steps": []}, {})


def test_init_dataset_suggests_the_hierarchies_it_reads_and_the_spec_still_loads(tmp_path):
    df = customers(1200)
    df["district"] = df["city"] + "-" + np.where(np.arange(len(df)) % 2, "north", "south")
    df["segment"] = df["segment"].where(df.index % 3 > 0, "retail")  # no hierarchy with the target
    csv = tmp_path / "customers.csv"
    df.to_csv(csv, index=False)
    spec_path, _ = init_dataset(csv, "segment")
    text = spec_path.read_text()
    # the nearest parent only (state > district also holds), commented out: the owner decides
    assert '# hierarchies: ["state > city", "city > district"]' in text
    assert load_spec(spec_path).hierarchies == []
    spec_path.write_text(text.replace("# hierarchies", "hierarchies"))
    assert load_spec(spec_path).hierarchy_pairs == [("state", "city"), ("city", "district")]
