"""Generations as revs, and failures: one line each, the specific MLEM error,
the cause kept, nothing written."""

from __future__ import annotations

import logging

import pytest

from mlem import api
from mlem.errors import (
    MetafileError,
    ObjectNotFoundError,
    RevisionNotFoundError,
    RevisionsNotSupportedError,
    StorageAccessError,
    StorageError,
    UnknownSchemeError,
)
from mlem.loopback import FaultProxy, free_port
from mlem_gcs.testing import FORBIDDEN_BODY, KEEPS_OLD_GENERATIONS

V1 = b"object_type: model\nversion: 1\n"
V2 = b"object_type: model\nversion: 2\n"


def one_line(error: BaseException) -> str:
    text = str(error)
    assert "\n" not in text
    assert error.__cause__ is not None
    return text


def use_endpoint(registry, endpoint: str) -> None:
    (registry / ".mlem.yaml").write_text(
        f"storage:\n  gs:\n    endpoint_url: {endpoint}\n    attempts: 1\n"
    )


def test_a_generation_as_rev(gcs, versioned_bucket, registry):
    project = api.init(f"gs://{versioned_bucket}/reg")
    generation = gcs.put(f"{versioned_bucket}/reg/models/rf.mlem", V1)
    link = api.link("models/rf", source_project=project, rev=generation, target="rf")
    assert link.rev == generation
    assert f"rev: '{generation}'" in (registry / "rf.mlem").read_text() or (
        f"rev: {generation}" in (registry / "rf.mlem").read_text()
    )
    assert api.load_meta("rf").data["version"] == 1


@pytest.mark.xfail(
    not KEEPS_OLD_GENERATIONS,
    reason="gcp-storage-emulator keeps only the latest generation of an object",
    strict=True,
)
def test_a_link_to_an_old_generation_keeps_reading_it(gcs, versioned_bucket, registry):
    project = api.init(f"gs://{versioned_bucket}/reg")
    old = gcs.put(f"{versioned_bucket}/reg/models/rf.mlem", V1)
    api.link("models/rf", source_project=project, rev=old, target="pinned")
    gcs.put(f"{versioned_bucket}/reg/models/rf.mlem", V2)
    assert api.load_meta("pinned").data["version"] == 1


@pytest.mark.parametrize("rev", ["123", "not-a-number"])
def test_a_rev_naming_no_generation(gcs, versioned_bucket, rev):
    project = api.init(f"gs://{versioned_bucket}/reg")
    gcs.put(f"{versioned_bucket}/reg/models/rf.mlem", V1)
    with pytest.raises(RevisionNotFoundError, match=f"no generation {rev} of gs://"):
        api.load_meta("models/rf", project=project, rev=rev)


def test_unversioned_bucket_refuses_a_rev(gcs, bucket, registry, mlem):
    project = api.init(f"gs://{bucket}/reg")
    gcs.put(f"{bucket}/reg/models/rf.mlem", V1)
    with pytest.raises(RevisionsNotSupportedError, match="keeps no versions"):
        api.load_meta("models/rf", project=project, rev="1")
    done = mlem("show", "models/rf", "-p", project, "--rev", "1", cwd=registry)
    assert done.returncode == 1
    assert "keeps no versions" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_missing_bucket(gcs, registry):
    with pytest.raises(ObjectNotFoundError) as info:
        api.link("models/rf", source_project="gs://no-such-bucket/reg", target="x")
    assert one_line(info.value) == (
        f"no bucket no-such-bucket at {gcs.endpoint} (asked for "
        "gs://no-such-bucket/reg); check the bucket name and the endpoint"
    )
    assert not (registry / "x.mlem").exists()


def test_missing_object(gcs, bucket, registry):
    project = api.init(f"gs://{bucket}/reg")
    with pytest.raises(
        ObjectNotFoundError, match="no MLEM object at models/rf in gs://"
    ):
        api.link("models/rf", source_project=project, target="x")
    assert not (registry / "x.mlem").exists()


def test_access_denied(gcs, registry):
    with FaultProxy(gcs.port, mode="deny", deny_body=FORBIDDEN_BODY) as proxy:
        use_endpoint(registry, proxy.endpoint)
        with pytest.raises(StorageAccessError) as info:
            api.link("models/rf", source_project="gs://some-bucket/reg", target="x")
    assert isinstance(info.value, PermissionError)
    assert one_line(info.value).startswith(
        "access denied to look for gs://some-bucket/reg/"
    )
    assert "GOOGLE_APPLICATION_CREDENTIALS" in str(info.value)
    assert not (registry / "x.mlem").exists()


def test_server_down(gcs, registry):
    endpoint = f"http://127.0.0.1:{free_port()}"
    use_endpoint(registry, endpoint)
    with pytest.raises(StorageError) as info:
        api.link("models/rf", source_project="gs://any-bucket/reg", target="x")
    assert one_line(info.value) == (
        f"cannot reach GCS at {endpoint} to open gs://any-bucket/reg; check that "
        "the server is up and the endpoint is right"
    )
    assert not (registry / "x.mlem").exists()


def test_server_stopping_mid_read(gcs, bucket, registry, model_bytes, capfd):
    project = api.init(f"gs://{bucket}/reg")
    gcs.put(f"{bucket}/reg/models/rf.mlem", model_bytes)
    with FaultProxy(gcs.port, mode="truncate") as proxy:
        use_endpoint(registry, proxy.endpoint)
        with pytest.raises(StorageError) as info:
            api.link("models/rf", source_project=project, target="x")
    assert one_line(info.value) == (
        f"the connection to GCS at {proxy.endpoint} broke while trying to read "
        f"gs://{bucket}/reg/models/rf.mlem; try again"
    )
    assert not (registry / "x.mlem").exists()
    # gcsfs's own report of the failure is not printed under ours
    assert "Traceback" not in capfd.readouterr().err


def test_missing_plugin_gives_an_install_hint(gcs, registry, monkeypatch, mlem):
    monkeypatch.setenv("MLEM_DISABLE_PLUGINS", "gcs")
    for scheme in ("gs", "gcs"):
        with pytest.raises(UnknownSchemeError, match="pip install mlem-gcs"):
            api.load_meta("x", project=f"{scheme}://bucket/p")
    done = mlem(
        "show",
        "x",
        "-p",
        "gs://bucket/p",
        cwd=registry,
        env={"MLEM_DISABLE_PLUGINS": "gcs"},
    )
    assert done.returncode == 1
    assert "pip install mlem-gcs" in done.stderr


def test_credentials_never_leak(gcs, registry, caplog):
    caplog.set_level(logging.DEBUG, logger="mlem")
    caplog.set_level(logging.DEBUG, logger="mlem_gcs")
    endpoint = f"http://reader:hunter2@127.0.0.1:{free_port()}"
    (registry / ".mlem.yaml").write_text(
        f"storage:\n  gs:\n    endpoint_url: {endpoint}\n    attempts: 1\n"
    )
    with pytest.raises(StorageError) as info:
        api.load_meta("x", project="gs://bucket/p")
    assert "hunter2" not in str(info.value)
    assert "hunter2" not in caplog.text


def test_secrets_in_mlem_yaml_are_refused(gcs, registry):
    (registry / ".mlem.yaml").write_text(
        "storage:\n  gs://bucket:\n    client_secret: hunter2\n"
    )
    with pytest.raises(MetafileError, match="a credential") as info:
        api.load_meta("x", project="gcs://bucket/p")
    assert "hunter2" not in str(info.value)
