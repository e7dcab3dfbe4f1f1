import time

import numpy as np
import pandas as pd
import pytest

from workshop_utils import storage
from workshop_utils.config import Settings
from workshop_utils.storage import ObjectExistsError, S3Store, StorageError


def test_server_is_found_by_later_connections(s3_server):
    assert storage.server_status() == s3_server
    assert storage.start_server() == s3_server  # reused, not a second server


def test_raw_keys_are_write_once(store, settings, tmp_path):
    f = tmp_path / "data.csv"
    f.write_text("a,b\n1,2\n")
    landed = store.land_raw(f)
    assert landed["uploaded"] and landed["key"] == f"{settings.prefix}/raw/data.csv"
    assert store.land_raw(f)["uploaded"] is False  # identical: re-running setup is safe
    f.write_text("a,b\n9,9\n")
    with pytest.raises(ObjectExistsError, match="write-once"):
        store.land_raw(f)
    assert store.read_csv(f"{settings.prefix}/raw/data.csv").iloc[0, 0] == 1  # the original survives


def test_outputs_are_run_scoped_and_never_overwritten(store, settings):
    key = settings.key("profile", "p.json")
    store.write_json({"v": 1}, key)
    with pytest.raises(ObjectExistsError, match="new run"):
        store.write_json({"v": 2}, key)
    assert store.read_json(key) == {"v": 1}
    other = Settings(bucket=settings.bucket, prefix=settings.prefix, run_id="run-2")
    store.write_json({"v": 2}, other.key("profile", "p.json"))
    p = settings.prefix
    assert sorted(store.list_keys(f"{p}/profile/")) == [f"{p}/profile/run-1/p.json", f"{p}/profile/run-2/p.json"]


def test_csv_and_parquet_round_trip(store, settings):
    df = pd.DataFrame(
        {
            "i": pd.array([1, None, 3], dtype="Int64"),
            "f": [0.5, 1.5, None],
            "s": pd.array(["x", None, "zé"], dtype="string"),
            "d": pd.to_datetime(["2024-01-01", None, "2024-03-01"]),
            "b": [True, False, True],
        }
    )
    store.write_parquet(df, settings.key("processed", "t.parquet"))
    pd.testing.assert_frame_equal(store.read_parquet(settings.key("processed", "t.parquet")), df)
    as_csv = pd.DataFrame({"f": [0.5, 1.5, np.nan], "s": ["x", np.nan, "zé"]})
    store.write_csv(as_csv, settings.key("processed", "t.csv"))
    pd.testing.assert_frame_equal(store.read_csv(settings.key("processed", "t.csv")), as_csv)
    meta = store.head(settings.key("processed", "t.csv"))
    assert meta["content_type"] == "text/csv" and meta["size"] > 0 and len(meta["etag"]) == 32


def test_empty_csv_gives_a_clear_error(store, settings):
    store.put_bytes(settings.raw_key("empty.csv"), b"")
    with pytest.raises(StorageError, match="empty"):
        store.read_csv(settings.raw_key("empty.csv"))


def test_missing_bucket_and_missing_key_are_named(s3_server, store, settings):
    missing = S3Store.connect(Settings(bucket="no-such-bucket-here", prefix="t"))
    with pytest.raises(StorageError, match="Bucket 'no-such-bucket-here' does not exist"):
        missing.list_keys()
    with pytest.raises(StorageError, match="does not exist"):
        missing.write_json({}, "t/x.json")
    with pytest.raises(StorageError, match="No object"):
        store.get_bytes("t/nothing.csv")


def test_unreachable_endpoint_says_how_to_recover():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = S3Store.connect(Settings(endpoint_url=f"http://127.0.0.1:{port}"))
    with pytest.raises(StorageError, match=r"Cannot reach S3 .*workshop s3 start"):
        dead.list_keys()


def test_no_server_recorded_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("WORKSHOP_HOME", str(tmp_path))  # a home with no server in it
    with pytest.raises(StorageError, match="not running.*workshop s3 start"):
        S3Store.connect(Settings())


def test_aws_mode_without_credentials(monkeypatch, tmp_path):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(StorageError, match="No AWS credentials"):
        S3Store.connect(Settings(storage_mode="aws"))


def test_stopped_server_is_detected(monkeypatch, tmp_path):
    monkeypatch.setenv("WORKSHOP_HOME", str(tmp_path))
    server = storage.start_server()
    assert storage.server_status() == server
    assert storage.stop_server() is True
    assert storage.server_status() is None
    assert storage.stop_server() is False


def _race(store, key: str, writers: int) -> tuple[list[int], list[str], list[Exception]]:
    """``writers`` threads put the same new key at the same moment."""
    import threading

    from workshop_utils.storage import ObjectExistsError

    wins, refusals, others = [], [], []
    barrier = threading.Barrier(writers)

    def write(i: int) -> None:
        barrier.wait()
        try:
            store.put_bytes(key, f"writer {i}".encode())
            wins.append(i)
        except ObjectExistsError as exc:
            refusals.append(str(exc))
        except Exception as exc:  # noqa: BLE001 - collected and asserted by the caller
            others.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return wins, refusals, others


def test_write_once_holds_under_concurrent_writers_and_versioning_keeps_old_objects(store, settings):
    for trial in range(5):
        key = settings.key("race", f"object-{trial}.bin")
        wins, refusals, others = _race(store, key, 6)
        assert len(wins) == 1 and len(refusals) == 5 and not others, (wins, others)
        assert all("write-once" in r or "already exists" in r for r in refusals)
        assert store.get_bytes(key) == f"writer {wins[0]}".encode()
    # a plain put_object outside the package cannot destroy the first version
    key = settings.key("race", "raw.csv")
    store.put_bytes(key, b"original")
    store.client.put_object(Bucket=settings.bucket, Key=key, Body=b"replaced")
    versions = store.client.list_object_versions(Bucket=settings.bucket, Prefix=key)["Versions"]
    bodies = {
        store.client.get_object(Bucket=settings.bucket, Key=key, VersionId=v["VersionId"])["Body"].read()
        for v in versions
    }
    assert bodies == {b"original", b"replaced"}


def test_the_local_store_survives_a_stop_and_start(tmp_path, monkeypatch):
    from workshop_utils import storage
    from workshop_utils.config import Settings

    monkeypatch.setenv("WORKSHOP_HOME", str(tmp_path))  # a server of this test's own
    settings = Settings(bucket="restart-test", prefix="p", run_id="r1")
    try:
        storage.start_server()
        store = storage.S3Store.connect(settings)
        store.ensure_bucket()
        key = store.put_bytes(settings.key("raw", "a.csv"), b"x,y\\n1,2\\n")
        store.write_json({"n": 1}, settings.key("reports", "r.json"))
        assert storage.stop_server()
        storage.start_server()  # a new process, a new port
        again = storage.S3Store.connect(settings)
        assert again.get_bytes(key) == b"x,y\\n1,2\\n"
        assert again.read_json(settings.key("reports", "r.json")) == {"n": 1}
        with pytest.raises(storage.ObjectExistsError):  # still write-once after the restart
            again.put_bytes(key, b"other")
        versioning = again.client.get_bucket_versioning(Bucket="restart-test")
        assert versioning.get("Status") == "Enabled"
    finally:
        storage.stop_server()


def test_the_local_servers_write_once_check_is_atomic_even_when_moto_is_slow(monkeypatch):
    """moto checks If-None-Match, then stores: a slow store between the two let several writers win.
    ``local_s3`` locks the object PUT, so exactly one wins (the other five get S3's 412)."""
    import threading

    import boto3
    from botocore.exceptions import ClientError
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.s3.models import S3Backend

    from workshop_utils import local_s3  # noqa: F401 - patches moto's S3 responses in this process

    put = S3Backend.put_object

    def slow_put(self, *args, **kwargs):
        time.sleep(0.05)  # widen the window between moto's check and its store
        return put(self, *args, **kwargs)

    monkeypatch.setattr(S3Backend, "put_object", slow_put)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        client = lambda: boto3.client(  # noqa: E731
            "s3",
            endpoint_url=f"http://{host}:{port}",
            aws_access_key_id="a",
            aws_secret_access_key="b",
            region_name="us-east-1",
        )
        client().create_bucket(Bucket="race-bucket")
        wins, refused, barrier = [], [], threading.Barrier(6)

        def write(i: int) -> None:
            s3 = client()
            barrier.wait()
            try:
                s3.put_object(Bucket="race-bucket", Key="new.bin", Body=f"writer {i}".encode(), IfNoneMatch="*")
                wins.append(i)
            except ClientError as exc:
                refused.append(exc.response["Error"]["Code"])

        threads = [threading.Thread(target=write, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(wins) == 1 and len(refused) == 5 and set(refused) == {"PreconditionFailed"}, (wins, refused)
    finally:
        server.stop()
