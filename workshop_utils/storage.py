"""S3 storage through boto3, against real AWS or an embedded local S3 server.

Local mode runs moto's S3-compatible server as a background process bound to
127.0.0.1 on a free port. Its pid and endpoint live in a small state file
(``$WORKSHOP_HOME/s3-server.json``, default ``~/.workshop``) so that every notebook
kernel reuses the same server. Every object written through :class:`S3Store` is
write-once: writing to an existing key is refused (S3 itself refuses it, ``IfNoneMatch``), so
nothing is ever lost.

The local store survives a restart: moto's own recorder appends every request to
``$WORKSHOP_HOME/s3-recording.jsonl`` and a new server replays the writes (PUT, POST, DELETE) at
start. moto was kept (rather than a local S3 server with disk storage) because it also serves the
other AWS APIs the workshop stands for on the same endpoint and installs from PyPI with no binary;
its recorder is the persistence it offers.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from .config import Settings

LOCAL_ACCESS_KEY = "workshop"  # moto accepts any credentials; these never leave the machine
_RECOVER = (
    "Start it with `workshop s3 start` (or run notebook 00_setup again, which starts it): "
    "the objects written before come back from its recording."
)


class StorageError(RuntimeError):
    """S3 is unreachable, misconfigured, or an object cannot be written or read."""


class ObjectExistsError(StorageError):
    """Refused to overwrite an existing object (all workshop objects are write-once)."""


# --------------------------------------------------------------------------- local server


def workshop_home() -> Path:
    return Path(os.environ.get("WORKSHOP_HOME", Path.home() / ".workshop"))


def _state_file() -> Path:
    return workshop_home() / "s3-server.json"


@dataclass(frozen=True)
class LocalServer:
    pid: int
    port: int
    endpoint_url: str
    log_file: str

    def is_alive(self) -> bool:
        return _pid_alive(self.pid) and _endpoint_answers(self.endpoint_url)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still "exists": reap it if it is ours.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def _endpoint_answers(endpoint_url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(endpoint_url + "/moto-api/", timeout=timeout):
            return True
    except Exception:
        return False


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_status() -> LocalServer | None:
    """The recorded local server if it is running, else ``None``."""
    path = _state_file()
    if not path.exists():
        return None
    try:
        server = LocalServer(**json.loads(path.read_text()))
    except (ValueError, TypeError):
        return None
    return server if server.is_alive() else None


def start_server(timeout: float = 30.0) -> LocalServer:
    """Start the local S3 server, or return the one already running."""
    running = server_status()
    if running:
        return running
    home = workshop_home()
    home.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    log_file = home / "s3-server.log"
    recording = _recording_file()
    env = os.environ | {"MOTO_ENABLE_RECORDING": "True", "MOTO_RECORDER_FILEPATH": str(recording)}
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "workshop_utils.local_s3", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # survives the notebook kernel that started it
        )
    server = LocalServer(proc.pid, port, f"http://127.0.0.1:{port}", str(log_file))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StorageError(
                f"The local S3 server exited at start (code {proc.returncode}); see {log_file}. "
                "Is `moto[server]` installed? Run the setup command from the README."
            )
        if _endpoint_answers(server.endpoint_url, timeout=0.5):
            _replay_writes(server.endpoint_url, recording)
            _state_file().write_text(json.dumps(server.__dict__))
            return server
        time.sleep(0.2)
    proc.kill()
    raise StorageError(f"The local S3 server did not answer within {timeout:.0f} s; see {log_file}.")


def _recording_file() -> Path:
    return workshop_home() / "s3-recording.jsonl"


def _replay_writes(endpoint_url: str, recording: Path) -> None:
    """Bring back what earlier servers stored: keep only the recorded writes, replay them in order."""
    if not recording.exists() or recording.stat().st_size == 0:
        return
    lines = recording.read_text().splitlines()
    writes = [line for line in lines if json.loads(line).get("method") in ("PUT", "POST", "DELETE")]
    if len(writes) != len(lines):
        recording.write_text("".join(f"{line}\n" for line in writes))
    request = urllib.request.Request(f"{endpoint_url}/moto-api/recorder/replay-recording", method="POST")
    with urllib.request.urlopen(request, timeout=600) as response:  # noqa: S310 - our own server on 127.0.0.1
        if response.status != 200:
            raise StorageError(f"The local S3 server could not replay {recording} (HTTP {response.status}).")


def stop_server() -> bool:
    """Stop the recorded local server. Returns whether one was running."""
    path = _state_file()
    if not path.exists():
        return False
    try:
        server = LocalServer(**json.loads(path.read_text()))
    except (ValueError, TypeError):
        path.unlink()
        return False
    was_running = _pid_alive(server.pid)
    if was_running:
        os.kill(server.pid, signal.SIGTERM)
        for _ in range(50):
            if not _pid_alive(server.pid):
                break
            time.sleep(0.1)
        else:
            os.kill(server.pid, signal.SIGKILL)
    path.unlink()
    return was_running


# --------------------------------------------------------------------------- the store


class S3Store:
    """What the notebooks need from S3: objects, DataFrames, listings, metadata."""

    def __init__(self, settings: Settings, client: Any, glue: Any = None) -> None:
        self.settings = settings
        self.bucket = settings.bucket
        self.client = client
        self.glue = glue  # the Glue Data Catalog client (catalog.py)

    @classmethod
    def connect(cls, settings: Settings, start_local: bool = False) -> S3Store:
        """A store for ``settings``; in local mode find (or, if asked, start) the server."""
        boto_config = Config(connect_timeout=3, read_timeout=60, retries={"max_attempts": 2, "mode": "standard"})
        if settings.storage_mode == "local":
            endpoint = settings.endpoint_url
            if endpoint is None:
                server = start_server() if start_local else server_status()
                if server is None:
                    raise StorageError(f"The local S3 server is not running. {_RECOVER}")
                endpoint = server.endpoint_url
            session = boto3.Session(
                aws_access_key_id=LOCAL_ACCESS_KEY,
                aws_secret_access_key=LOCAL_ACCESS_KEY,
                region_name=settings.region,
            )
            client = session.client("s3", endpoint_url=endpoint, config=boto_config)
            # moto's server answers the Glue Data Catalog API on the same endpoint as S3
            glue = session.client("glue", endpoint_url=endpoint, config=boto_config)
        else:
            session = boto3.Session(region_name=settings.region)
            if session.get_credentials() is None:
                raise StorageError(
                    "No AWS credentials found. Configure them the standard way "
                    "(`aws configure`, AWS_PROFILE, environment variables or an instance/"
                    "Studio role), or use storage_mode='local'."
                )
            client = session.client("s3", endpoint_url=settings.endpoint_url, config=boto_config)
            glue = session.client("glue", config=boto_config)
        return cls(settings, client, glue)

    # -- errors ------------------------------------------------------------------------

    def _call(self, what: str, fn: Any, **kwargs: Any) -> Any:
        """Run a boto3 call, turning its failures into one clear message."""
        try:
            return fn(**kwargs)
        except (EndpointConnectionError, ReadTimeoutError) as exc:
            endpoint = self.client.meta.endpoint_url
            hint = _RECOVER if self.settings.storage_mode == "local" else "Check the network and region."
            raise StorageError(f"Cannot reach S3 at {endpoint} while trying to {what}. {hint}") from exc
        except NoCredentialsError as exc:
            raise StorageError("No AWS credentials found; configure them or use storage_mode='local'.") from exc
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchBucket",) or (code in ("404", "NotFound") and what.startswith("check bucket")):
                raise StorageError(
                    f"Bucket {self.bucket!r} does not exist. Create it (notebook 00_setup does in "
                    "local mode) or set the `bucket` parameter to an existing bucket."
                ) from exc
            if code in ("NoSuchKey", "404", "NotFound"):
                raise StorageError(f"No object s3://{self.bucket}/{kwargs.get('Key')} ({what}).") from exc
            if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                raise StorageError(f"Access denied to s3://{self.bucket} while trying to {what}: {exc}") from exc
            raise StorageError(f"S3 error while trying to {what}: {exc}") from exc

    # -- bucket ------------------------------------------------------------------------

    def ensure_bucket(self) -> bool:
        """Create the bucket in local mode if missing; in AWS mode only check it. Returns created."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return False
        except ClientError as exc:
            missing = exc.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket", "NotFound")
            if not missing or self.settings.storage_mode != "local":
                self.check_bucket()  # raises the clear message
        except (EndpointConnectionError, ReadTimeoutError):
            self.check_bucket()
        self._call("create bucket", self.client.create_bucket, Bucket=self.bucket)
        # Versioning: even a write that bypasses the workshop (a plain put_object) keeps the old version.
        self._call(
            "enable versioning",
            self.client.put_bucket_versioning,
            Bucket=self.bucket,
            VersioningConfiguration={"Status": "Enabled"},
        )
        return True

    def check_bucket(self) -> None:
        self._call("check bucket", self.client.head_bucket, Bucket=self.bucket)

    # -- objects -----------------------------------------------------------------------

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                self.check_bucket()  # a missing bucket reads as a missing key: say which
                return False
            return bool(self._call("check object", self.client.head_object, Bucket=self.bucket, Key=key))
        except (EndpointConnectionError, ReadTimeoutError):
            return bool(self._call("check object", self.client.head_object, Bucket=self.bucket, Key=key))

    def head(self, key: str) -> dict[str, Any]:
        """Object metadata: size, ETag, last modified, content type, user metadata."""
        resp = self._call("read object metadata", self.client.head_object, Bucket=self.bucket, Key=key)
        return {
            "key": key,
            "size": resp["ContentLength"],
            "etag": resp["ETag"].strip('"'),
            "last_modified": resp["LastModified"].isoformat(),
            "content_type": resp.get("ContentType"),
            "metadata": resp.get("Metadata", {}),
        }

    def put_bytes(
        self,
        key: str,
        data: bytes,
        content_type: str = "application/octet-stream",
        metadata: dict[str, str] | None = None,
    ) -> str:
        """Write a new object; refuse if the key exists with other content. Returns the key.

        Writing the very same bytes again is not a rewrite: a resumed run that recomputes an output
        identically reuses what is there."""
        if self.exists(key):
            if self.get_bytes(key) == data:
                return key
            kind = "Raw objects are write-once" if "/raw/" in f"/{key}" else "Workshop outputs are write-once"
            raise ObjectExistsError(
                f"s3://{self.bucket}/{key} already exists. {kind}: write to a new key "
                "(outputs are scoped by run id; start a new run to write again)."
            )
        try:
            # IfNoneMatch="*": S3 itself refuses the write if another writer got there first
            # (the check above only gives the friendlier message in the common case).
            self._call(
                "write object",
                self.client.put_object,
                Bucket=self.bucket,
                Key=key,
                Body=data,
                ContentType=content_type,
                Metadata=metadata or {},
                IfNoneMatch="*",
            )
        except StorageError as exc:
            cause = exc.__cause__
            code = cause.response.get("Error", {}).get("Code") if isinstance(cause, ClientError) else None
            if code in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                if self.get_bytes(key) == data:
                    return key
                raise ObjectExistsError(
                    f"s3://{self.bucket}/{key} was written by another writer at the same moment; outputs are write-once."
                ) from None
            raise
        return key

    def put_once(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        """Write ``key`` unless it exists (then keep the first version): for outputs that differ from
        one computation to the next (timings, fresh random keys) when a run resumes."""
        return key if self.exists(key) else self.put_bytes(key, data, content_type)

    def write_json_once(self, obj: Any, key: str) -> str:
        return key if self.exists(key) else self.write_json(obj, key)

    def get_bytes_from(self, bucket: str, key: str) -> bytes:
        """An object of another bucket (a dataset's ``s3://`` source), with the same credentials."""
        resp = self._call("read object", self.client.get_object, Bucket=bucket, Key=key)
        return resp["Body"].read()

    def get_bytes(self, key: str) -> bytes:
        resp = self._call("read object", self.client.get_object, Bucket=self.bucket, Key=key)
        return resp["Body"].read()

    def upload_file(self, path: str | Path, key: str, metadata: dict[str, str] | None = None) -> str:
        path = Path(path)
        if not path.is_file():
            raise StorageError(f"Cannot upload {path}: no such file.")
        return self.put_bytes(key, path.read_bytes(), _content_type(path.name), metadata)

    def upload_file_once(self, path: str | Path, key: str) -> bool:
        """Upload unless an identical object is already there. Returns whether it uploaded.

        Lets notebook 00 be re-run safely; a *different* object at the key is refused.
        """
        path = Path(path)
        if self.exists(key):
            local_md5 = hashlib.md5(path.read_bytes()).hexdigest()
            if self.head(key)["etag"] == local_md5:
                return False
            raise ObjectExistsError(
                f"s3://{self.bucket}/{key} already exists with different content than {path}. "
                "Raw objects are write-once: upload the new file under another name."
            )
        self.upload_file(path, key)
        return True

    def land_raw(self, path: str | Path, name: str | None = None) -> dict[str, Any]:
        """Land a local file in ``{prefix}/raw/`` (write-once). Returns its metadata and whether it uploaded."""
        path = Path(path)
        if not path.is_file():
            raise StorageError(f"Raw file {path} not found. Regenerate it with `workshop generate-data`.")
        key = self.settings.raw_key(name or path.name)
        uploaded = self.upload_file_once(path, key)
        return self.head(key) | {"uploaded": uploaded}

    def download_file(self, key: str, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.get_bytes(key))
        return path

    def list_keys(self, prefix: str = "") -> list[str]:
        keys: list[str] = []
        token: dict[str, str] = {}
        while True:
            resp = self._call("list objects", self.client.list_objects_v2, Bucket=self.bucket, Prefix=prefix, **token)
            keys += [obj["Key"] for obj in resp.get("Contents", [])]
            if not resp.get("IsTruncated"):
                return keys
            token = {"ContinuationToken": resp["NextContinuationToken"]}

    def list_objects(self, prefix: str = "") -> pd.DataFrame:
        """Keys with size and last-modified time, as a table for notebooks."""
        rows = []
        paginator = self.client.get_paginator("list_objects_v2")
        pages = self._call("list objects", lambda: list(paginator.paginate(Bucket=self.bucket, Prefix=prefix)))
        for page in pages:
            for obj in page.get("Contents", []):
                rows.append({"key": obj["Key"], "size_bytes": obj["Size"], "last_modified": obj["LastModified"]})
        return pd.DataFrame(rows, columns=["key", "size_bytes", "last_modified"])

    # -- DataFrames and JSON -----------------------------------------------------------

    def read_csv(self, key: str, **kwargs: Any) -> pd.DataFrame:
        data = self.get_bytes(key)
        if not data.strip():
            raise StorageError(f"s3://{self.bucket}/{key} is empty: expected a CSV with a header row.")
        try:
            return pd.read_csv(io.BytesIO(data), **kwargs)
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise StorageError(f"s3://{self.bucket}/{key} is not a readable CSV: {exc}") from exc

    def write_csv(self, df: pd.DataFrame, key: str, **kwargs: Any) -> str:
        return self.put_bytes(key, df.to_csv(index=False, **kwargs).encode(), "text/csv")

    def read_parquet(self, key: str) -> pd.DataFrame:
        return pd.read_parquet(io.BytesIO(self.get_bytes(key)))

    def write_parquet(self, df: pd.DataFrame, key: str) -> str:
        buf = io.BytesIO()
        df.to_parquet(buf, index=False, engine="pyarrow")
        return self.put_bytes(key, buf.getvalue(), "application/vnd.apache.parquet")

    def read_json(self, key: str) -> Any:
        return json.loads(self.get_bytes(key))

    def write_json(self, obj: Any, key: str) -> str:
        body = json.dumps(obj, indent=2, sort_keys=True, default=str).encode()
        return self.put_bytes(key, body, "application/json")


def _content_type(name: str) -> str:
    if name.endswith(".csv"):
        return "text/csv"
    if name.endswith(".json"):
        return "application/json"
    if name.endswith(".parquet"):
        return "application/vnd.apache.parquet"
    return "application/octet-stream"
