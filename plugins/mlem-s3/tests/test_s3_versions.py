"""Object versions as revs: a rev names a version of the target metafile."""

from __future__ import annotations

import pytest

from mlem import api
from mlem.batch import load_many
from mlem.errors import RevisionNotFoundError, RevisionsNotSupportedError

V1 = b"object_type: model\nartifacts: {}\nversion: 1\n"
V2 = b"object_type: model\nartifacts: {}\nversion: 2\n"


@pytest.fixture
def versions(s3, versioned_bucket):
    """A project in a versioned bucket whose models/rf has two versions."""
    project = api.init(f"s3://{versioned_bucket}/reg")
    old = s3.put(f"{versioned_bucket}/reg/models/rf.mlem", V1)
    new = s3.put(f"{versioned_bucket}/reg/models/rf.mlem", V2)
    assert old and new and old != new
    return project, old, new


def test_a_link_to_an_old_version_keeps_reading_it(s3, versions, registry):
    project, old, _ = versions
    link = api.link("models/rf", source_project=project, rev=old, target="pinned")
    assert (registry / "pinned.mlem").read_text() == (
        "link_type: model\nobject_type: link\npath: models/rf.mlem\n"
        f"project: {project}\nrev: {old}\n"
    )
    assert link.rev == old
    assert api.load_meta("pinned").data["version"] == 1

    # overwrite again: the pinned link still reads the version it names
    s3.put(project[len("s3://") :] + "models/rf.mlem", V2 + b"again: true\n")
    assert api.load_meta("pinned").data["version"] == 1
    assert api.load_meta("models/rf", project=project).data["again"] is True
    assert load_many(["pinned"])[0].data["version"] == 1


def test_rev_through_the_cli(versions, registry, mlem):
    project, old, new = versions
    done = mlem(
        "show", "--json", "models/rf", "-p", project, "--rev", old, cwd=registry
    )
    assert done.returncode == 0, done.stderr
    assert '"version": 1' in done.stdout
    done = mlem("link", "--sp", project, "--rev", new, "models/rf", "rf", cwd=registry)
    assert done.returncode == 0, done.stderr
    assert f"rev: {new}" in (registry / "rf.mlem").read_text()


def test_version_applies_to_the_target_metafile_only(s3, versions):
    project, _, _ = versions
    bucket_path = project[len("s3://") :]
    # an old version of a link that points, relatively, at models/rf
    alias_v1 = s3.put(
        bucket_path + "alias.mlem",
        b"link_type: model\nobject_type: link\npath: models/rf.mlem\n",
    )
    s3.put(bucket_path + "alias.mlem", b"object_type: model\nreplaced: true\n")
    model = api.load_meta("alias", project=project, rev=alias_v1)
    # the alias is read at its old version, what it points to at its latest
    assert model.data["version"] == 2
    assert model.via[0].location.rev == alias_v1
    assert model.location.rev is None


def test_a_link_through_an_old_version_records_no_foreign_rev(s3, versions, registry):
    """Following a relative link out of a versioned metafile reaches an object
    read at its latest version: a link to it must not carry the other
    object's version id (it would name no version of it)."""
    project, _, _ = versions
    bucket_path = project[len("s3://") :]
    alias_v1 = s3.put(
        bucket_path + "alias.mlem",
        b"link_type: model\nobject_type: link\npath: models/rf.mlem\n",
    )
    link = api.link("alias", source_project=project, rev=alias_v1, target="through")
    assert link.rev is None
    assert "rev:" not in (registry / "through.mlem").read_text()
    assert api.load_meta("through").data["version"] == 2
    kept = api.link(
        "alias", source_project=project, rev=alias_v1, target="kept", follow_links=False
    )
    assert kept.rev == alias_v1


def test_a_rev_naming_no_version(versions):
    project, _, _ = versions
    with pytest.raises(RevisionNotFoundError, match="no version nope of s3://") as info:
        api.load_meta("models/rf", project=project, rev="nope")
    assert "\n" not in str(info.value)


def test_a_rev_of_another_metafile(s3, versions):
    project, old, _ = versions
    s3.put(project[len("s3://") :] + "other.mlem", V1)
    with pytest.raises(RevisionNotFoundError, match=f"no version {old} of"):
        api.load_meta("other", project=project, rev=old)


def test_missing_object_at_a_rev_is_not_found(versions):
    project, old, _ = versions
    with pytest.raises(FileNotFoundError, match="no MLEM object at ghost"):
        api.load_meta("ghost", project=project, rev=old)


def test_unversioned_bucket_refuses_a_rev(s3, bucket, mlem, registry):
    project = api.init(f"s3://{bucket}/reg")
    s3.put(f"{bucket}/reg/models/rf.mlem", V1)
    with pytest.raises(RevisionsNotSupportedError, match="keeps no versions"):
        api.load_meta("models/rf", project=project, rev="v1")
    done = mlem("show", "models/rf", "-p", project, "--rev", "v1", cwd=registry)
    assert done.returncode == 1
    assert done.stderr.startswith("mlem: error: --rev v1 given for s3://")
    assert "keeps no versions" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
