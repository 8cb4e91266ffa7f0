"""A server that accepts connections and never answers: the wait is bounded,
and the error says how long it waited, at which endpoint, and what to do."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from mlem import api
from mlem.errors import MetafileError, StorageError
from mlem.loopback import SilentServer
from mlem.storage_options import TIMEOUT_ENV
from mlem_gcs.store import GCSResolver

# room for three tries of one second and gcsfs's pauses between them (up to
# three seconds each); without a timeout of its own, gcsfs waited on a hung
# server for more than five minutes
QUICK = 20.0

ADDRESS = "gs://any-bucket/reg"


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    with SilentServer() as server:
        yield server


@pytest.mark.timeout(120)
def test_hung_server_with_a_timeout_in_mlem_yaml(gcs, registry, silent, monkeypatch):
    # .mlem.yaml wins over the variable: with the variable's 600 s this test
    # would run into pytest's timeout
    monkeypatch.setenv(TIMEOUT_ENV, "600")
    config = registry / ".mlem.yaml"
    config.write_text(
        f"storage:\n  gs:\n    endpoint_url: {silent.endpoint}\n    timeout: 1\n"
    )

    start = time.monotonic()
    with pytest.raises(StorageError) as info:
        api.link("models/rf", source_project=ADDRESS, target="x")
    elapsed = time.monotonic() - start

    assert str(info.value) == (
        f"GCS at {silent.endpoint} did not answer within 1 second (3 attempts) "
        f"while trying to open {ADDRESS}; check that the server is up and the "
        "endpoint is right, or raise timeout: in the storage section of "
        f"{os.path.realpath(config)} to wait longer"
    )
    assert info.value.__cause__ is not None
    assert elapsed < QUICK, f"took {elapsed:.1f} s"
    # the connections were made: the server hung, it was not down
    assert silent.accepted >= 1
    assert not (registry / "x.mlem").exists()


@pytest.mark.timeout(120)
def test_hung_server_with_a_timeout_in_the_environment(gcs, registry, silent, mlem):
    start = time.monotonic()
    done = mlem(
        "link",
        "--sp",
        ADDRESS,
        "models/rf",
        "x",
        cwd=registry,
        env={"STORAGE_EMULATOR_HOST": silent.endpoint, TIMEOUT_ENV: "1.5"},
    )
    elapsed = time.monotonic() - start

    assert done.returncode == 1
    assert done.stderr == (
        f"mlem: error: GCS at {silent.endpoint} did not answer within 1.5 seconds "
        f"(3 attempts) while trying to open {ADDRESS}; check that the server is "
        f"up and the endpoint is right, or raise {TIMEOUT_ENV} to wait longer\n"
    )
    assert elapsed < QUICK, f"took {elapsed:.1f} s"
    assert not (registry / "x.mlem").exists()


@pytest.mark.timeout(120)
def test_one_attempt_waits_once(gcs, registry, silent):
    (registry / ".mlem.yaml").write_text(
        f"storage:\n  gs:\n    endpoint_url: {silent.endpoint}\n"
        "    timeout: 0.5\n    attempts: 1\n"
    )
    start = time.monotonic()
    with pytest.raises(StorageError, match=r"within 0\.5 seconds while trying"):
        api.load_meta("models/rf", project=ADDRESS)
    assert time.monotonic() - start < 5
    assert silent.accepted == 1


def test_default_limits(gcs):
    resolver = GCSResolver()
    kwargs, limits = resolver.storage_kwargs(ADDRESS)
    assert (limits.connect, limits.timeout, limits.attempts) == (10, 60, 3)
    timeout = resolver.make_filesystem(kwargs, limits).requests_timeout
    assert (timeout.sock_connect, timeout.sock_read) == (10, 60)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("timeout: 0", "storage option 'timeout' of 'gs' must be more than 0"),
        ("timeout: soon", "'timeout' of 'gs' must be a int or float, not 'soon'"),
        ("attempts: 0", "storage option 'attempts' of 'gs' must be 1 or more"),
    ],
)
def test_bad_limits_in_mlem_yaml(gcs, registry, config, message):
    (registry / ".mlem.yaml").write_text(f"storage:\n  gs:\n    {config}\n")
    with pytest.raises(MetafileError, match=message):
        api.load_meta("models/rf", project=ADDRESS)


def test_bad_timeout_in_the_environment(gcs, monkeypatch):
    monkeypatch.setenv(TIMEOUT_ENV, "soon")
    with pytest.raises(StorageError, match=f"{TIMEOUT_ENV}=soon is not a number"):
        api.load_meta("models/rf", project=ADDRESS)
