"""Projects and links in S3, through the API and the CLI, against moto's server."""

from __future__ import annotations

import json

import pytest

from mlem import api
from mlem.batch import load_many
from mlem.errors import ObjectNotFoundError
from mlem.objects import MlemLink, MlemModel

RELATIVE_LINK = b"link_type: model\nobject_type: link\npath: models/rf.mlem\n"


@pytest.fixture
def project(s3, bucket, model_bytes) -> str:
    """A MLEM project in a bucket holding models/rf."""
    address = api.init(f"s3://{bucket}/registry")
    s3.put(f"{bucket}/registry/models/rf.mlem", model_bytes)
    return address


def test_init_makes_a_project_in_a_bucket(s3, bucket):
    assert api.init(f"s3://{bucket}/reg") == f"s3://{bucket}/reg/"
    assert s3.filesystem().cat_file(f"{bucket}/reg/.mlem.yaml") == b""
    # a second init leaves the project as it is
    s3.put(f"{bucket}/reg/.mlem.yaml", b"core: {}\n")
    api.init(f"s3://{bucket}/reg/")
    assert s3.filesystem().cat_file(f"{bucket}/reg/.mlem.yaml") == b"core: {}\n"


def test_init_at_the_bucket_root(s3, bucket):
    assert api.init(f"s3://{bucket}") == f"s3://{bucket}/"


def test_link_is_written_as_mlem_04_wrote_it(s3, registry, model_bytes, mlem04_dir):
    s3.make_bucket("peer-mlem")
    api.init("s3://peer-mlem/projS3")
    s3.put("peer-mlem/projS3/models/rf.mlem", model_bytes)
    api.link("models/rf", source_project="s3://peer-mlem/projS3", target="churn")
    written = (registry / "churn.mlem").read_bytes()
    assert written == (mlem04_dir / "link-samples" / "s3.mlem").read_bytes()


def test_mlem_04_link_samples_resolve(s3, registry, model_bytes, mlem04_dir):
    s3.make_bucket("peer-mlem")
    api.init("s3://peer-mlem/projS3")
    s3.put("peer-mlem/projS3/models/rf.mlem", model_bytes)
    s3.put("peer-mlem/projS3/latest.mlem", RELATIVE_LINK)
    for name in ("s3", "s3-link-to-link"):
        sample = mlem04_dir / "link-samples" / f"{name}.mlem"
        (registry / f"{name}.mlem").write_bytes(sample.read_bytes())

    model = api.load_meta("s3")
    assert isinstance(model, MlemModel)
    assert str(model.location) == "s3://peer-mlem/projS3/models/rf.mlem"
    assert model.data == api.load_meta("models/rf", "s3://peer-mlem/projS3").data

    chained = api.load_meta("s3-link-to-link")
    assert [str(link.location) for link in chained.via] == [
        "s3-link-to-link.mlem",
        "s3://peer-mlem/projS3/latest.mlem",
    ]
    assert chained.location.path == "peer-mlem/projS3/models/rf.mlem"


def test_local_to_s3(registry, project):
    link = api.link("models/rf", source_project=project, target="prod")
    assert (link.project, link.path, link.rev) == (project, "models/rf.mlem", None)
    model = api.load_meta("prod")
    assert isinstance(model, MlemModel)
    assert model.location.project == project
    assert isinstance(api.load_meta("prod", follow_links=False), MlemLink)


def test_s3_to_local(s3, bucket, registry, mlem04_copy):
    target = f"s3://{bucket}/reg"
    api.init(target)
    api.link(
        "models/clf",
        source_project=str(mlem04_copy),
        target="clf",
        target_project=target,
    )
    raw = s3.filesystem().cat_file(f"{bucket}/reg/clf.mlem").decode()
    assert f"project: file://{mlem04_copy}/" in raw
    model = api.load_meta("clf", project=target)
    assert model.location.path == str(mlem04_copy / "models" / "clf.mlem")


def test_relative_links_inside_a_bucket(s3, bucket, project):
    api.link(
        "models/rf", source_project=project, target="latest", target_project=project
    )
    assert s3.filesystem().cat_file(f"{bucket}/registry/latest.mlem") == RELATIVE_LINK

    model = api.load_meta("latest", project=project)
    assert model.location.path == f"{bucket}/registry/models/rf.mlem"
    assert [link.location.relpath for link in model.via] == ["latest.mlem"]
    # the same link by its whole address, the project found by walking up
    by_address = api.load_meta(f"{project}latest")
    assert by_address.location.path == model.location.path


def test_full_addresses_in_one_bucket_make_a_relative_link(s3, bucket, project):
    api.link(f"{project}models/rf", target=f"{project}aliases/best")
    written = s3.filesystem().cat_file(f"{bucket}/registry/aliases/best.mlem")
    assert written == RELATIVE_LINK
    assert isinstance(api.load_meta(f"{project}aliases/best"), MlemModel)


def test_relative_link_may_not_leave_its_project(s3, bucket, project):
    s3.put(f"{bucket}/registry/bad.mlem", b"object_type: link\npath: ../x.mlem\n")
    with pytest.raises(Exception, match="leaves its project"):
        api.load_meta("bad", project=project)


def test_ls_lists_the_bucket_project(s3, bucket, project):
    api.link(
        "models/rf", source_project=project, target="latest", target_project=project
    )
    found = {obj.location.relpath: obj.type_name for obj in api.ls(project)}
    assert found == {"latest.mlem": "link", "models/rf.mlem": "model"}


def test_cli_init_link_ls_show(s3, bucket, registry, mlem, model_bytes):
    address = f"s3://{bucket}/cli"
    done = mlem("init", address, cwd=registry)
    assert done.returncode == 0, done.stderr
    assert address + "/" in done.stdout
    s3.put(f"{bucket}/cli/models/rf.mlem", model_bytes)

    done = mlem("link", "--sp", address, "models/rf", "latest", cwd=registry)
    assert done.returncode == 0, done.stderr
    assert "Saving link to latest.mlem" in done.stdout
    done = mlem(
        "link", "--sp", address, "--tp", address, "models/rf", "alias", cwd=registry
    )
    assert done.returncode == 0, done.stderr

    done = mlem("ls", address, cwd=registry)
    assert done.returncode == 0, done.stderr
    assert " - alias -> models/rf.mlem" in done.stdout
    assert " - models/rf" in done.stdout

    done = mlem("show", "--json", "latest", cwd=registry)
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["location"] == f"{address}/models/rf.mlem"
    assert shown["chain"][0]["link"]["project"] == address + "/"

    done = mlem("show", "alias", "-p", address, cwd=registry)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(
        f"# {address}/alias.mlem  ->  models/rf.mlem\n# {address}/models/rf.mlem\n"
    )


def test_read_files_fetches_side_by_side(s3, bucket, project):
    from mlem.plugins import get_plugin_manager

    resolver = get_plugin_manager().resolver_for(project, None)
    source = resolver.open(project, None)
    paths = [f"{bucket}/registry/models/rf.mlem", f"{bucket}/registry/none.mlem"]
    got = resolver.read_files(source, paths)
    assert got[paths[0]].startswith(b"artifacts:")
    assert isinstance(got[paths[1]], ObjectNotFoundError)
    assert got[paths[1]].__cause__ is not None


def test_load_many_matches_load_meta(s3, bucket, project, registry):
    names = []
    for i in range(20):
        s3.put(f"{bucket}/registry/models/m{i}.mlem", b"object_type: model\n")
        api.link(f"models/m{i}", source_project=project, target=f"links/m{i}")
        names.append(f"links/m{i}")
    names.append("links/none")
    many = load_many(names, return_exceptions=True)
    for name, obj in zip(names[:-1], many, strict=False):
        one = api.load_meta(name)
        assert obj.location.path == one.location.path
        assert [str(link.location) for link in obj.via] == [
            str(link.location) for link in one.via
        ]
    assert isinstance(many[-1], ObjectNotFoundError)
    with pytest.raises(ObjectNotFoundError):
        load_many(names)
