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
from mlem_s3.store import S3Resolver

# room for three tries of one second and the pauses between them; without a
# timeout of its own, a hung server held s3fs for about seven minutes
QUICK = 20.0

ADDRESS = "s3://any-bucket/reg"


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    with SilentServer() as server:
        yield server


@pytest.mark.timeout(120)
def test_hung_server_with_a_timeout_in_mlem_yaml(s3, registry, silent, monkeypatch):
    # .mlem.yaml wins over the variable: with the variable's 600 s this test
    # would run into pytest's timeout
    monkeypatch.setenv(TIMEOUT_ENV, "600")
    config = registry / ".mlem.yaml"
    config.write_text(
        f"storage:\n  s3:\n    endpoint_url: {silent.endpoint}\n    timeout: 1\n"
    )

    start = time.monotonic()
    with pytest.raises(StorageError) as info:
        api.link("models/rf", source_project=ADDRESS, target="x")
    elapsed = time.monotonic() - start

    assert str(info.value) == (
        f"S3 at {silent.endpoint} did not answer within 1 second (3 attempts) "
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
def test_hung_server_with_a_timeout_in_the_environment(s3, registry, silent, mlem):
    start = time.monotonic()
    done = mlem(
        "link",
        "--sp",
        ADDRESS,
        "models/rf",
        "x",
        cwd=registry,
        env={"FSSPEC_S3_ENDPOINT_URL": silent.endpoint, TIMEOUT_ENV: "1.5"},
    )
    elapsed = time.monotonic() - start

    assert done.returncode == 1
    assert done.stderr == (
        f"mlem: error: S3 at {silent.endpoint} did not answer within 1.5 seconds "
        f"(3 attempts) while trying to open {ADDRESS}; check that the server is "
        f"up and the endpoint is right, or raise {TIMEOUT_ENV} to wait longer\n"
    )
    assert s3.secret not in done.stdout + done.stderr
    assert elapsed < QUICK, f"took {elapsed:.1f} s"
    assert not (registry / "x.mlem").exists()


@pytest.mark.timeout(120)
def test_one_attempt_waits_once(s3, registry, silent):
    (registry / ".mlem.yaml").write_text(
        f"storage:\n  s3:\n    endpoint_url: {silent.endpoint}\n"
        "    timeout: 0.5\n    attempts: 1\n"
    )
    start = time.monotonic()
    with pytest.raises(StorageError, match=r"within 0\.5 seconds while trying"):
        api.load_meta("models/rf", project=ADDRESS)
    assert time.monotonic() - start < 5
    assert silent.accepted == 1


def test_default_limits(s3):
    resolver = S3Resolver()
    kwargs, limits = resolver.storage_kwargs(ADDRESS)
    assert (limits.connect, limits.timeout, limits.attempts) == (10, 60, 3)
    config = kwargs["config_kwargs"]
    assert (config["connect_timeout"], config["read_timeout"]) == (10, 60)
    assert config["retries"] == {"total_max_attempts": 3, "mode": "standard"}
    # botocore tries each request; s3fs's own loop would multiply the tries
    assert resolver.make_filesystem(kwargs, limits).retries == 1


def test_a_short_timeout_bounds_connecting_too(s3, monkeypatch):
    monkeypatch.setenv(TIMEOUT_ENV, "2")
    kwargs, limits = S3Resolver().storage_kwargs(ADDRESS)
    assert (limits.connect, limits.timeout) == (2, 2)
    assert kwargs["config_kwargs"]["connect_timeout"] == 2


def test_aws_max_attempts_is_the_default_number_of_attempts(s3, monkeypatch):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "5")
    _, limits = S3Resolver().storage_kwargs(ADDRESS)
    assert limits.attempts == 5


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("timeout: 0", "storage option 'timeout' of 's3' must be more than 0"),
        ("timeout: -3", "storage option 'timeout' of 's3' must be more than 0"),
        ("timeout: soon", "'timeout' of 's3' must be a int or float, not 'soon'"),
        ("attempts: 0", "storage option 'attempts' of 's3' must be 1 or more"),
    ],
)
def test_bad_limits_in_mlem_yaml(s3, registry, config, message):
    (registry / ".mlem.yaml").write_text(f"storage:\n  s3:\n    {config}\n")
    with pytest.raises(MetafileError, match=message):
        api.load_meta("models/rf", project=ADDRESS)


@pytest.mark.parametrize("value", ["soon", "0", "-1", "nan", "inf"])
def test_bad_timeout_in_the_environment(s3, monkeypatch, value):
    monkeypatch.setenv(TIMEOUT_ENV, value)
    with pytest.raises(StorageError) as info:
        api.load_meta("models/rf", project=ADDRESS)
    assert str(info.value) == (
        f"{TIMEOUT_ENV}={value} is not a number of seconds above 0; set it to "
        "how long a storage server may take to answer, such as 60"
    )
