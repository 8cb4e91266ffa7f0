"""A real GCS API for tests: gcp-storage-emulator on 127.0.0.1.

:func:`gcs_emulator` starts the emulator (in memory) on a free loopback port
and yields a :class:`GCSServer` with the endpoint and the environment a client
needs. Nothing here reaches any host but 127.0.0.1: the environment points
gcsfs at the emulator (``STORAGE_EMULATOR_HOST``), gives it an anonymous token
and a project, turns off gcsfs's experimental gRPC features and points the
Compute Engine metadata lookups at a closed loopback port.

Use it from a session-scoped fixture::

    @pytest.fixture(scope="session")
    def gcs_server():
        with gcs_emulator() as server:
            yield server

    @pytest.fixture
    def gcs(gcs_server, monkeypatch):
        gcs_server.patch_env(monkeypatch)
        return gcs_server

Known limit of the emulator: it keeps only the latest generation of an
object and ignores ``?generation=``, so reading an old generation cannot be
tested against it (see :data:`KEEPS_OLD_GENERATIONS`).

Needs ``gcp-storage-emulator`` (the ``testing`` extra of mlem-gcs).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

from mlem.loopback import HOST, BucketServer, free_port, serve

PROJECT = "mlem-tests"

#: whether the emulator serves an object's old generations (it does not)
KEEPS_OLD_GENERATIONS = False

#: what a GCS server answers a caller without the right to read
FORBIDDEN_BODY = (
    b'{"error": {"code": 403, "message": "caller does not have storage.objects.get '
    b'access to the Google Cloud Storage object.", "errors": [{"reason": '
    b'"forbidden"}]}}'
)

#: variables that would point a client at real Google Cloud or a user's setup
UNSET = (
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_CLOUD_PROJECT",
    "GCSFS_DEFAULT_PROJECT",
    "FSSPEC_GS",
    "FSSPEC_GCS",
    "FSSPEC_GS_ENDPOINT_URL",
    "FSSPEC_GCS_ENDPOINT_URL",
    "FSSPEC_GS_TOKEN",
    "FSSPEC_GCS_TOKEN",
)


def client_env(endpoint: str) -> dict[str, str]:
    """The environment for a gcsfs client of the emulator at ``endpoint``."""
    closed = f"{HOST}:1"
    return {
        "STORAGE_EMULATOR_HOST": endpoint,
        "FSSPEC_GS_PROJECT": PROJECT,
        # read when gcsfs is imported: set it before anything imports gcsfs
        "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
        "NO_GCE_CHECK": "true",
        "GCE_METADATA_HOST": closed,
        "GCE_METADATA_IP": closed,
        "CLOUDSDK_CONFIG": os.devnull,
    }


class GCSServer(BucketServer):
    """A running GCS emulator and how to reach it."""

    unset = UNSET

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self.env = client_env(self.endpoint)

    def make_filesystem(self) -> Any:
        """A gcsfs file system on the emulator, for setting up tests."""
        os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
        from gcsfs.core import GCSFileSystem

        return GCSFileSystem(
            endpoint_url=self.endpoint,
            token="anon",
            project=PROJECT,
            skip_instance_cache=True,
            use_listings_cache=False,
        )

    def make_bucket(self, name: str, versioned: bool = False) -> None:
        fs = self.filesystem()
        with contextlib.suppress(FileExistsError):
            if not fs.exists(name):
                fs.mkdir(name)
        if versioned:
            fs.call("PATCH", "b/{}", name, json={"versioning": {"enabled": True}})

    def put(self, path: str, data: bytes) -> str:
        """Write ``data`` at ``bucket/key``; the generation written."""
        fs = self.filesystem()
        fs.pipe_file(path, data)
        return str(fs.info(path)["generation"])


@contextlib.contextmanager
def gcs_emulator(log_path: str | None = None) -> Iterator[GCSServer]:
    """Run gcp-storage-emulator, in memory, on 127.0.0.1 until the block ends."""
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "gcp_storage_emulator",
        "start",
        "--host",
        HOST,
        "--port",
        str(port),
        "--in-memory",
    ]
    with serve(argv, port, env=client_env(f"http://{HOST}:{port}"), log_path=log_path):
        yield GCSServer(port)


__all__ = [
    "FORBIDDEN_BODY",
    "KEEPS_OLD_GENERATIONS",
    "PROJECT",
    "GCSServer",
    "client_env",
    "gcs_emulator",
]
