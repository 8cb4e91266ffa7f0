"""Through ``mlem.api``: links to the GitHub example, resolved offline by
git's ``insteadOf`` to the same repository on a local git daemon."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from mlem import api
from mlem.errors import RevisionNotFoundError
from mlem.objects import MlemLink, MlemModel
from mlem_git import testing
from mlem_git.plugin import GitResolver

EXAMPLE = testing.EXAMPLE_URL


def assert_is_the_example_model(obj: object) -> None:
    assert isinstance(obj, MlemModel)
    data = obj.artifacts["data"]
    assert (data["hash"], data["size"]) == (
        testing.EXAMPLE_MODEL_HASH,
        testing.EXAMPLE_MODEL_SIZE,
    )


@pytest.mark.parametrize("rev", ["2-train", "main", "dvc", "sha"])
def test_link_at_a_rev(rev: str, mlem_registry: Path, example_repo: Path) -> None:
    if rev == "sha":
        rev = testing.git("rev-parse", "3-eval^{commit}", cwd=example_repo)
    api.link(source="models/rf", source_project=EXAMPLE, target="rf", rev=rev)
    assert (mlem_registry / "rf.mlem").read_text() == (
        "link_type: model\nobject_type: link\npath: models/rf.mlem\n"
        f"project: {EXAMPLE}/\nrev: {rev}\n"
    )
    model = api.load_meta("rf")
    assert_is_the_example_model(model)
    assert model.location is not None
    assert model.location.commit == testing.git(
        "rev-parse", f"{rev}^{{commit}}", cwd=example_repo
    )
    link = api.load_meta("rf", follow_links=False)
    assert isinstance(link, MlemLink) and link.rev == rev


def test_link_without_rev(
    mlem_registry: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mlem.api")
    api.link(source="models/rf", source_project=EXAMPLE, target="rf")
    assert (mlem_registry / "rf.mlem").read_text() == (
        "link_type: model\nobject_type: link\npath: models/rf.mlem\n"
        "project: https://github.com/iterative/example-mlem-get-started/\n"
    )
    # as MLEM printed it
    assert (
        "Loading meta from https://github.com/iterative/example-mlem-get-started"
        "/tree/main/models/rf.mlem" in caplog.text
    )
    assert_is_the_example_model(api.load_meta("rf"))


@pytest.mark.parametrize(
    "address",
    [
        EXAMPLE + ".git",
        EXAMPLE + "/",
        EXAMPLE + "/tree/main",
    ],
)
def test_every_spelling_writes_the_same_project(
    address: str, mlem_registry: Path
) -> None:
    link = api.link(source="models/rf", source_project=address, target="rf")
    assert link.project == EXAMPLE + "/"


def test_link_to_a_web_url_records_its_rev(mlem_registry: Path) -> None:
    link = api.link(EXAMPLE + "/tree/2-train/models/rf", target="rf")
    assert (link.project, link.path, link.rev) == (
        EXAMPLE + "/",
        "models/rf.mlem",
        "2-train",
    )
    assert_is_the_example_model(api.load_meta("rf"))


@pytest.mark.parametrize("sample", ["github-tag.mlem", "github-default-branch.mlem"])
def test_links_mlem_04_wrote(sample: str, tmp_path: Path, fixtures_dir: Path) -> None:
    fixture = fixtures_dir / "mlem-0.4" / "link-samples" / sample
    shutil.copy(fixture, tmp_path / sample)
    assert_is_the_example_model(api.load_meta(str(tmp_path / sample)))


def test_a_commit_of_another_history(tmp_path: Path, fixtures_dir: Path) -> None:
    # the sample pins a commit of the original repository, which the rebuilt
    # one does not have
    fixture = fixtures_dir / "mlem-0.4" / "link-samples" / "github-sha.mlem"
    shutil.copy(fixture, tmp_path / "sha.mlem")
    with pytest.raises(RevisionNotFoundError) as info:
        api.load_meta(str(tmp_path / "sha.mlem"))
    assert "a0571677ada67a69faab777c1446b2348e25efc7" in str(info.value)
    assert EXAMPLE in str(info.value)


def test_the_local_form_mlem_04_wrote(
    tmp_path: Path, example_repo: Path, fixtures_dir: Path
) -> None:
    fixture = fixtures_dir / "mlem-0.4" / "link-samples" / "local-git-rev.mlem"
    text = fixture.read_text().replace("/tmp/peer/t3/projA", str(example_repo))
    text = text.replace("v1", "2-train")
    (tmp_path / "local.mlem").write_text(text)
    model = api.load_meta(str(tmp_path / "local.mlem"))
    assert_is_the_example_model(model)
    assert model.location is not None and model.location.rev == "2-train"


def test_display_of_other_remotes(example_url: str) -> None:
    resolver = GitResolver()
    source = resolver.open(example_url, "2-train")
    assert resolver.display_uri(source, "models/rf.mlem") == (
        f"models/rf.mlem in {example_url} at rev 2-train"
    )
    default = resolver.open(EXAMPLE, None)
    assert resolver.display_uri(default, "models/rf.mlem") == (
        EXAMPLE + "/tree/main/models/rf.mlem"
    )
