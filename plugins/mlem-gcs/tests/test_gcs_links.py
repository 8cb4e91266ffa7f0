"""Projects and links in GCS, through the API and the CLI, on the emulator."""

from __future__ import annotations

import json

import pytest

from mlem import api
from mlem.batch import load_many
from mlem.errors import ObjectNotFoundError
from mlem.objects import MlemModel

RELATIVE_LINK = b"link_type: model\nobject_type: link\npath: models/rf.mlem\n"


@pytest.fixture
def project(gcs, bucket, model_bytes) -> str:
    address = api.init(f"gs://{bucket}/registry")
    gcs.put(f"{bucket}/registry/models/rf.mlem", model_bytes)
    return address


@pytest.mark.parametrize("scheme", ["gs", "gcs"])
def test_init_makes_a_project_in_a_bucket(gcs, bucket, scheme):
    assert api.init(f"{scheme}://{bucket}/reg") == f"gs://{bucket}/reg/"
    assert gcs.filesystem().cat_file(f"{bucket}/reg/.mlem.yaml") == b""


def test_link_is_written_as_mlem_04_wrote_it(gcs, registry, model_bytes, mlem04_dir):
    gcs.make_bucket("peer-mlem-gcs")
    api.init("gs://peer-mlem-gcs/projGS")
    gcs.put("peer-mlem-gcs/projGS/models/rf.mlem", model_bytes)
    for scheme in ("gs", "gcs"):
        api.link(
            "models/rf",
            source_project=f"{scheme}://peer-mlem-gcs/projGS",
            target=f"churn-{scheme}",
        )
        written = (registry / f"churn-{scheme}.mlem").read_bytes()
        assert written == (mlem04_dir / "link-samples" / "gcs.mlem").read_bytes()

    (registry / "sample.mlem").write_bytes(
        (mlem04_dir / "link-samples" / "gcs.mlem").read_bytes()
    )
    model = api.load_meta("sample")
    assert isinstance(model, MlemModel)
    assert str(model.location) == "gs://peer-mlem-gcs/projGS/models/rf.mlem"


def test_local_to_gcs_and_back(gcs, bucket, project, registry, mlem04_copy):
    api.link("models/rf", source_project=project, target="prod")
    assert api.load_meta("prod").location.project == project

    api.link(
        "models/clf",
        source_project=str(mlem04_copy),
        target="clf",
        target_project=project,
    )
    model = api.load_meta("clf", project=project)
    assert model.location.path == str(mlem04_copy / "models" / "clf.mlem")


def test_relative_links_inside_a_bucket(gcs, bucket, project):
    api.link(
        "models/rf", source_project=project, target="latest", target_project=project
    )
    assert gcs.filesystem().cat_file(f"{bucket}/registry/latest.mlem") == RELATIVE_LINK
    model = api.load_meta("latest", project=project)
    assert model.location.path == f"{bucket}/registry/models/rf.mlem"
    # the other spelling of the scheme reaches the same objects
    other = api.load_meta(f"gcs://{bucket}/registry/latest")
    assert other.location.path == model.location.path


def test_ls_and_show_in_the_cli(gcs, bucket, project, registry, mlem):
    api.link(
        "models/rf", source_project=project, target="latest", target_project=project
    )
    done = mlem("ls", project, cwd=registry)
    assert done.returncode == 0, done.stderr
    assert " - latest -> models/rf.mlem" in done.stdout
    done = mlem("show", "--json", "latest", "-p", project, cwd=registry)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["location"] == f"{project}models/rf.mlem"
    done = mlem("init", f"gcs://{bucket}/other", cwd=registry)
    assert done.returncode == 0, done.stderr
    assert f"gs://{bucket}/other/" in done.stdout


def test_load_many(gcs, bucket, project, registry):
    names = []
    for i in range(10):
        gcs.put(f"{bucket}/registry/models/m{i}.mlem", b"object_type: model\n")
        api.link(f"models/m{i}", source_project=project, target=f"m{i}")
        names.append(f"m{i}")
    found = load_many([*names, "none"], return_exceptions=True)
    assert [obj.location.relpath for obj in found[:-1]] == [
        f"models/m{i}.mlem" for i in range(10)
    ]
    assert isinstance(found[-1], ObjectNotFoundError)


def test_loading_the_plugin_imports_no_gcsfs():
    import subprocess
    import sys

    code = (
        "import sys; from mlem.plugins import get_plugin_manager; "
        "pm = get_plugin_manager(); assert 'gcs' in [r.name for r in pm.resolvers()]; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('gcsfs', 'google', 'aiohttp', 'fsspec')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
