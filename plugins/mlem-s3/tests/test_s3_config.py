"""Where the S3 settings come from: AWS's variables and profiles, fsspec's
variables, and the storage section of the project's .mlem.yaml."""

from __future__ import annotations

import pytest

from mlem import api
from mlem.errors import MetafileError, StorageError
from mlem.loopback import free_port


@pytest.fixture
def project(s3, bucket):
    api.init(f"s3://{bucket}/reg")
    s3.put(f"{bucket}/reg/models/rf.mlem", b"object_type: model\n")
    return f"s3://{bucket}/reg"


def dead_endpoint() -> str:
    return f"http://127.0.0.1:{free_port()}"


def test_mlem_yaml_endpoint_wins_over_fsspec_variables(
    s3, project, registry, monkeypatch
):
    monkeypatch.setenv("FSSPEC_S3_ENDPOINT_URL", dead_endpoint())
    (registry / ".mlem.yaml").write_text(
        f"storage:\n  s3:\n    endpoint_url: {s3.endpoint}\n"
    )
    assert api.load_meta("models/rf", project=project).type_name == "model"


def test_longer_prefix_wins(s3, bucket, project, registry):
    (registry / ".mlem.yaml").write_text(
        "storage:\n"
        f"  s3:\n    endpoint_url: {dead_endpoint()}\n    attempts: 1\n"
        f"  s3://{bucket}/reg:\n    endpoint_url: {s3.endpoint}\n"
    )
    assert api.load_meta("models/rf", project=project).type_name == "model"
    with pytest.raises(StorageError, match="cannot reach S3"):
        api.load_meta("models/rf", project=f"s3://{bucket}/elsewhere")


def test_fsspec_variables(s3, project, monkeypatch):
    monkeypatch.setenv("FSSPEC_S3_ANON", "false")  # text, read as a boolean
    assert api.load_meta("models/rf", project=project).type_name == "model"


def test_aws_endpoint_variable(s3, project, monkeypatch):
    monkeypatch.delenv("FSSPEC_S3_ENDPOINT_URL")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.endpoint)
    assert api.load_meta("models/rf", project=project).type_name == "model"


def test_profile_from_mlem_yaml(s3, project, registry, tmp_path, monkeypatch):
    credentials = tmp_path / "credentials"
    credentials.write_text(
        f"[mlem-tests]\naws_access_key_id = {s3.key_id}\n"
        f"aws_secret_access_key = {s3.secret}\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    (registry / ".mlem.yaml").write_text("storage:\n  s3:\n    profile: mlem-tests\n")
    assert api.load_meta("models/rf", project=project).type_name == "model"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("s3:\n    colour: blue\n", "unknown option 'colour' .*known options: anon"),
        ("s3:\n    anon: 'yes'\n", "'anon' of 's3' must be a bool"),
        ("s3:\n    attempts: true\n", "'attempts' of 's3' must be a int"),
        ("s3:\n    token: abc\n", "sets 'token', a credential"),
        ("s3: [1]\n", "must be a mapping of options"),
    ],
)
def test_bad_storage_options(s3, registry, config, message):
    (registry / ".mlem.yaml").write_text("storage:\n  " + config)
    with pytest.raises(MetafileError, match=message):
        api.load_meta("x", project="s3://any-bucket/p")


def test_credentials_in_an_address_are_refused(s3):
    with pytest.raises(StorageError, match="carries no credentials") as info:
        api.load_meta("x", project="s3://AKIA:hunter2@bucket/p")
    assert "hunter2" not in str(info.value)


def test_loading_the_plugin_imports_no_s3fs():
    import subprocess
    import sys

    code = (
        "import sys; from mlem.plugins import get_plugin_manager; "
        "pm = get_plugin_manager(); assert 's3' in [r.name for r in pm.resolvers()]; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('s3fs', 'botocore', 'aiobotocore', 'fsspec')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
