"""Failures: one clear line each, the specific MLEM error, the cause kept,
nothing written, no credentials anywhere."""

from __future__ import annotations

import logging

import pytest

from mlem import api
from mlem.errors import (
    MetafileError,
    ObjectNotFoundError,
    StorageAccessError,
    StorageError,
    UnknownSchemeError,
)
from mlem.loopback import FaultProxy, free_port
from mlem_s3.testing import DENIED_BUCKET, READ_ONLY_PREFIX


def one_line(error: BaseException) -> str:
    text = str(error)
    assert "\n" not in text
    assert error.__cause__ is not None
    return text


def use_endpoint(registry, endpoint: str, attempts: int = 1) -> None:
    (registry / ".mlem.yaml").write_text(
        f"storage:\n  s3:\n    endpoint_url: {endpoint}\n    attempts: {attempts}\n"
    )


def test_missing_bucket(s3, registry):
    with pytest.raises(ObjectNotFoundError) as info:
        api.load_meta("models/rf", project="s3://no-such-bucket/reg")
    assert one_line(info.value) == (
        f"no bucket no-such-bucket at {s3.endpoint} (asked for "
        "s3://no-such-bucket/reg); check the bucket name and the endpoint"
    )
    with pytest.raises(ObjectNotFoundError, match="no bucket"):
        api.link("models/rf", source_project="s3://no-such-bucket/reg", target="x")
    assert not (registry / "x.mlem").exists()


def test_missing_object(s3, bucket, registry):
    project = api.init(f"s3://{bucket}/reg")
    with pytest.raises(
        ObjectNotFoundError, match=f"no MLEM object at models/rf in {project[:-1]}"
    ):
        api.link("models/rf", source_project=project, target="x")
    assert not (registry / "x.mlem").exists()


def test_access_denied_reading(s3, registry):
    with pytest.raises(StorageAccessError) as info:
        api.link("models/rf", source_project=f"s3://{DENIED_BUCKET}/reg", target="x")
    assert isinstance(info.value, PermissionError)
    text = one_line(info.value)
    assert text.startswith(f"access denied to look for s3://{DENIED_BUCKET}/reg/")
    assert "AWS_PROFILE" in text
    assert not (registry / "x.mlem").exists()


def test_access_denied_writing(s3, bucket, registry, model_bytes):
    project = api.init(f"s3://{bucket}/reg")
    s3.put(f"{bucket}/reg/models/rf.mlem", model_bytes)
    target = f"{bucket}/{READ_ONLY_PREFIX}/rf"
    with pytest.raises(StorageAccessError) as info:
        api.link("models/rf", source_project=project, target=f"s3://{target}")
    assert one_line(info.value).startswith(
        f"access denied to write s3://{target}.mlem at {s3.endpoint} (AccessDenied)"
    )
    assert not s3.filesystem().exists(f"{target}.mlem")
    # where nothing may be read either, the first look is refused
    with pytest.raises(
        StorageAccessError, match=f"denied to look for s3://{DENIED_BUCKET}"
    ):
        api.link("models/rf", source_project=project, target=f"s3://{DENIED_BUCKET}/rf")


def test_unknown_credentials(s3, bucket, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIANOBODYKNOWS")
    with pytest.raises(StorageAccessError, match="InvalidAccessKeyId") as info:
        api.load_meta("models/rf", project=f"s3://{bucket}/reg")
    one_line(info.value)


def test_server_down(s3, registry):
    endpoint = f"http://127.0.0.1:{free_port()}"
    use_endpoint(registry, endpoint)
    with pytest.raises(StorageError) as info:
        api.link("models/rf", source_project="s3://any-bucket/reg", target="x")
    assert one_line(info.value) == (
        f"cannot reach S3 at {endpoint} to open s3://any-bucket/reg; check that "
        "the server is up and the endpoint is right"
    )
    assert not (registry / "x.mlem").exists()


def test_server_stopping_mid_read(s3, bucket, registry, model_bytes):
    project = api.init(f"s3://{bucket}/reg")
    s3.put(f"{bucket}/reg/models/rf.mlem", model_bytes)
    with FaultProxy(s3.port, mode="truncate") as proxy:
        use_endpoint(registry, proxy.endpoint, attempts=2)
        with pytest.raises(StorageError) as info:
            api.link("models/rf", source_project=project, target="x")
    assert one_line(info.value) == (
        f"the connection to S3 at {proxy.endpoint} broke while trying to read "
        f"s3://{bucket}/reg/models/rf.mlem; try again"
    )
    assert not (registry / "x.mlem").exists()


def test_errors_are_one_line_in_the_cli(s3, registry, mlem):
    done = mlem("show", "x", "-p", "s3://no-such-bucket/p", cwd=registry)
    assert done.returncode == 1
    assert done.stderr.startswith("mlem: error: no bucket no-such-bucket at ")
    assert len(done.stderr.strip().splitlines()) == 1


def test_missing_plugin_gives_an_install_hint(s3, registry, monkeypatch, mlem):
    monkeypatch.setenv("MLEM_DISABLE_PLUGINS", "s3")
    with pytest.raises(UnknownSchemeError, match="pip install mlem-s3"):
        api.load_meta("x", project="s3://bucket/p")
    done = mlem(
        "show",
        "x",
        "-p",
        "s3://bucket/p",
        cwd=registry,
        env={"MLEM_DISABLE_PLUGINS": "s3"},
    )
    assert done.returncode == 1
    assert "no installed resolver handles s3:// addresses" in done.stderr
    assert "pip install mlem-s3" in done.stderr


def test_credentials_never_leak(s3, bucket, registry, model_bytes, caplog, mlem):
    secret = s3.secret
    caplog.set_level(logging.DEBUG, logger="mlem")
    caplog.set_level(logging.DEBUG, logger="mlem_s3")
    project = api.init(f"s3://{bucket}/reg")
    s3.put(f"{bucket}/reg/models/rf.mlem", model_bytes)
    api.link("models/rf", source_project=project, target="ok")
    api.link("models/rf", source_project=project, target="in", target_project=project)
    messages = []
    for call in (
        lambda: api.load_meta("x", project=f"s3://{DENIED_BUCKET}/p"),
        lambda: api.load_meta("x", project="s3://no-such-bucket/p"),
        lambda: api.load_meta("x", project=project, rev="v1"),
    ):
        with pytest.raises(Exception) as info:
            call()
        messages.append(str(info.value))
    done = mlem("show", "ok", cwd=registry)
    failed = mlem("show", "x", "-p", f"s3://{DENIED_BUCKET}/p", cwd=registry)

    written = (registry / "ok.mlem").read_text()
    written += s3.filesystem().cat_file(f"{bucket}/reg/in.mlem").decode()
    for text in (
        written,
        caplog.text,
        *messages,
        done.stdout,
        done.stderr,
        failed.stderr,
    ):
        assert secret not in text
        assert s3.key_id not in text


def test_secrets_in_mlem_yaml_are_refused(s3, registry):
    (registry / ".mlem.yaml").write_text(
        "storage:\n  s3://some-bucket:\n    secret: hunter2\n"
    )
    with pytest.raises(MetafileError, match="sets 'secret', a credential") as info:
        api.load_meta("x", project="s3://some-bucket/p")
    assert "hunter2" not in str(info.value)
