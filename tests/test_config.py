import pytest

from workshop_utils.config import ConfigError, Settings


def test_defaults_then_env_then_params(monkeypatch):
    assert Settings.load().storage_mode == "local"
    monkeypatch.setenv("WORKSHOP_BUCKET", "from-env")
    monkeypatch.setenv("WORKSHOP_SEED", "7")
    s = Settings.load()
    assert (s.bucket, s.seed) == ("from-env", 7)
    s = Settings.load(bucket="from-param", seed=None)  # None = not given: env still applies
    assert (s.bucket, s.seed) == ("from-param", 7)


def test_run_ids_are_unique_and_keys_are_run_scoped():
    a, b = Settings.load(), Settings.load()
    assert a.run_id != b.run_id
    s = Settings.load(prefix="/bank/", run_id="r1")
    assert s.key("processed", "table.parquet") == "bank/processed/r1/table.parquet"
    assert s.raw_key("x.csv") == "bank/raw/x.csv"


def test_from_notebook_picks_only_settings_names():
    ns = {"bucket": "nb-bucket", "seed": 3, "epochs": 5, "display": print, "region": None}
    s = Settings.from_notebook(ns)
    assert (s.bucket, s.seed, s.region) == ("nb-bucket", 3, "us-east-1")


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"storage_mode": "gcs"}, "storage_mode"),
        ({"bucket": "Bad_Bucket"}, "bucket"),
        ({"seed": "abc"}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"seed": -1}, "seed"),
        ({"sample_rows": 0}, "sample_rows"),
        ({"endpoint_url": "localhost:9000"}, "endpoint_url"),
        ({"run_id": "has space"}, "run_id"),
        ({"prefix": "a//b"}, "prefix"),
        ({"sedd": 1}, "sedd"),
    ],
)
def test_bad_values_name_the_parameter(params, named):
    with pytest.raises(ConfigError, match=named):
        Settings.load(**params)


def test_env_values_are_validated_too(monkeypatch):
    monkeypatch.setenv("WORKSHOP_SAMPLE_ROWS", "many")
    with pytest.raises(ConfigError, match="sample_rows"):
        Settings.load()
    monkeypatch.setenv("WORKSHOP_SAMPLE_ROWS", "none")
    assert Settings.load().sample_rows is None


def test_bad_notebook_parameters_stop_the_run_before_anything_runs(tmp_path):
    from workshop_utils.runner import run_workshop

    bad = {"epsilon": "abc", "epochs": 0, "holdout_share": 1.5, "sdv_baseline": "yes", "frontier_epsilons": [1, -2]}
    with pytest.raises(ConfigError) as err:
        run_workshop(params=bad, runs_dir=tmp_path)
    message = str(err.value)
    assert message.startswith("Bad parameter(s), nothing was run")
    assert all(f"{name} " in message for name in bad)
    assert not any(tmp_path.iterdir())  # no run folder, no notebook started
    with pytest.raises(ConfigError, match="epsilon must be a positive number, got True"):
        run_workshop(params={"epsilon": True}, runs_dir=tmp_path)
    with pytest.raises(ConfigError, match="batch_size must be a positive integer or \"auto\", got 'big'"):
        run_workshop(params={"batch_size": "big"}, runs_dir=tmp_path)


def test_every_bad_value_is_named_in_one_message(tmp_path):
    from workshop_utils.runner import run_workshop

    with pytest.raises(ConfigError) as err:
        run_workshop(params={"seed": "x", "synthetic_rows": 0, "epsilon": -1, "delta": 2}, runs_dir=tmp_path)
    message = str(err.value)
    assert all(name in message for name in ("seed", "synthetic_rows", "epsilon", "delta")), message
    assert not any(tmp_path.iterdir())


def test_a_gate_that_released_nothing_stops_that_notebook_not_the_run(tmp_path):
    """Notebook 07 has nothing to train on when the gate said no: the run says so and goes on; a real
    failure after it still stops the run."""
    import json

    import nbformat

    from workshop_utils.runner import WorkshopRunError, run_workshop

    nb_dir = tmp_path / "notebooks"
    nb_dir.mkdir()
    cells = {
        "07_train_on_synthetic": "from workshop_utils.stages.train_on_synthetic import NothingReleasedError\n"
        "raise NothingReleasedError('Nothing has been released')",
        "08_clean_rooms_collaboration": "raise ValueError('a real failure')",
    }
    for name, source in cells.items():
        nb = nbformat.v4.new_notebook(
            metadata={"kernelspec": {"name": "workshop", "display_name": "w", "language": "python"}}
        )
        nb.cells = [nbformat.v4.new_code_cell("run_id = None", metadata={"tags": ["parameters"]})]
        nb.cells.append(nbformat.v4.new_code_cell(source))
        nbformat.write(nb, nb_dir / f"{name}.ipynb")
    lines: list[str] = []
    with pytest.raises(WorkshopRunError, match="08_clean_rooms_collaboration failed"):
        run_workshop(params={"run_id": "gate-no"}, runs_dir=tmp_path / "runs", notebook_dir=nb_dir, log=lines.append)
    record = json.loads((tmp_path / "runs" / "gate-no" / "run.json").read_text())
    assert [n["status"] for n in record["notebooks"]] == ["nothing released", "failed"]
    assert any("nothing passed the release gate" in line for line in lines)
