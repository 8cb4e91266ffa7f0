"""Links between buckets of two clouds: S3 to GCS and GCS to S3."""

from __future__ import annotations

import uuid

import pytest

from mlem import api
from mlem.objects import MlemModel

s3_testing = pytest.importorskip("mlem_s3.testing", reason="mlem-s3 is not installed")


@pytest.fixture(scope="session")
def s3_server():
    with s3_testing.moto_server() as server:
        yield server


@pytest.fixture
def clouds(gcs, s3_server, monkeypatch, model_bytes):
    """A project in S3 and one in GCS, each holding models/rf."""
    s3_server.patch_env(monkeypatch)
    name = f"mlem-x-{uuid.uuid4().hex[:10]}"
    s3_server.make_bucket(name)
    gcs.make_bucket(name)
    s3_project = api.init(f"s3://{name}/reg")
    gs_project = api.init(f"gs://{name}/reg")
    s3_server.put(f"{name}/reg/models/rf.mlem", model_bytes)
    gcs.put(f"{name}/reg/models/rf.mlem", model_bytes)
    return s3_project, gs_project


def test_s3_to_gcs(clouds):
    s3_project, gs_project = clouds
    api.link(
        "models/rf",
        source_project=gs_project,
        target="gcs-rf",
        target_project=s3_project,
    )
    model = api.load_meta("gcs-rf", project=s3_project)
    assert isinstance(model, MlemModel)
    assert str(model.location) == f"{gs_project}models/rf.mlem"
    assert str(model.via[0].location) == f"{s3_project}gcs-rf.mlem"


def test_gcs_to_s3(clouds):
    s3_project, gs_project = clouds
    api.link(
        "models/rf",
        source_project=s3_project,
        target="s3-rf",
        target_project=gs_project,
    )
    model = api.load_meta(f"{gs_project}s3-rf")
    assert str(model.location) == f"{s3_project}models/rf.mlem"


def test_a_chain_across_both(clouds, registry):
    s3_project, gs_project = clouds
    api.link(
        "models/rf",
        source_project=s3_project,
        target="to-s3",
        target_project=gs_project,
    )
    api.link("to-s3", source_project=gs_project, target="entry", follow_links=False)
    model = api.load_meta("entry")
    assert [str(link.location) for link in model.via] == [
        "entry.mlem",
        f"{gs_project}to-s3.mlem",
    ]
    assert str(model.location) == f"{s3_project}models/rf.mlem"
