"""Links on local disk, through the API, on the project MLEM 0.4.14 wrote."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlem import api
from mlem.errors import (
    LinkCycleError,
    LinkEscapeError,
    MetafileError,
    ObjectNotFoundError,
    ObjectTypeError,
    RevisionsNotSupportedError,
    TargetExistsError,
)
from mlem.objects import MlemData, MlemLink, MlemModel

CLF_MD5 = "67be2254a4dec1fcf4ac6bc8fa3ab011"


@pytest.fixture
def in_project(mlem04_project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(mlem04_project)
    return mlem04_project


@pytest.mark.parametrize("name", ["latest", "links/production", "latest-alias"])
def test_mlem04_links_resolve_to_the_model(in_project, name):
    model = api.load_meta(name)
    assert isinstance(model, MlemModel)
    assert model.location is not None
    assert model.location.path == str(in_project / "models" / "clf.mlem")
    assert model.artifacts["data"]["hash"] == CLF_MD5


def test_chain_is_recorded_in_via(in_project):
    model = api.load_meta("latest-alias.mlem")
    assert [link.location.relpath for link in model.via] == [
        "latest-alias.mlem",
        "latest.mlem",
    ]


def test_no_follow_returns_the_link_itself(in_project):
    link = api.load_meta("latest-alias", follow_links=False)
    assert isinstance(link, MlemLink)
    assert (link.path, link.link_type, link.project) == ("latest.mlem", "model", None)


def test_load_from_another_folder_with_project(in_project, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = api.load_meta("data/sample", project=str(in_project))
    assert isinstance(data, MlemData)
    model = api.load_meta(str(in_project / "latest"))
    assert isinstance(model, MlemModel)


def test_force_type(in_project):
    assert isinstance(api.load_meta("latest", force_type="model"), MlemModel)
    assert isinstance(api.load_meta("latest", force_type=MlemModel), MlemModel)
    with pytest.raises(ObjectTypeError, match="is a model, not a data"):
        api.load_meta("latest", force_type="data")


def test_relative_link_in_the_same_project_is_an_alias(in_project):
    link = api.link("models/clf", target="aliases/best")
    assert (in_project / "aliases" / "best.mlem").read_text() == (
        "link_type: model\nobject_type: link\npath: models/clf.mlem\n"
    )
    assert link.project is None
    assert isinstance(api.load_meta("aliases/best"), MlemModel)


def test_link_follows_links_unless_told_not_to(in_project):
    api.link("latest-alias", target="followed")
    assert "path: models/clf.mlem" in (in_project / "followed.mlem").read_text()
    api.link("latest-alias", target="kept", follow_links=False)
    assert (in_project / "kept.mlem").read_text() == (
        "link_type: model\nobject_type: link\npath: latest-alias.mlem\n"
    )
    model = api.load_meta("kept")
    assert [v.location.relpath for v in model.via] == [
        "kept.mlem",
        "latest-alias.mlem",
        "latest.mlem",
    ]


def test_absolute_link_records_the_project(in_project):
    api.link("models/clf", target="abs", absolute=True)
    assert (in_project / "abs.mlem").read_text() == (
        "link_type: model\nobject_type: link\npath: models/clf.mlem\n"
        f"project: file://{in_project}/\n"
    )


def test_link_from_another_project(in_project, tmp_path, monkeypatch):
    registry = tmp_path / "registry"
    registry.mkdir()
    monkeypatch.chdir(registry)
    api.init()
    assert (registry / ".mlem.yaml").read_bytes() == b""
    api.link("models/clf", source_project=str(in_project), target="prod")
    text = (registry / "prod.mlem").read_text()
    assert text.endswith(f"project: file://{in_project}/\n")
    assert isinstance(api.load_meta("prod"), MlemModel)
    # a link into a link of the other project keeps following
    api.link("latest", source_project=str(in_project), target="l", follow_links=False)
    assert "path: latest.mlem" in (registry / "l.mlem").read_text()
    assert isinstance(api.load_meta("l"), MlemModel)


def test_target_project_option(in_project, tmp_path):
    registry = tmp_path / "registry"
    api.init(str(registry))
    api.link(
        str(in_project / "models" / "clf"), target="x", target_project=str(registry)
    )
    assert (registry / "x.mlem").exists()


def test_existing_target_is_refused_unless_forced(in_project):
    before = (in_project / "models" / "clf.mlem").read_bytes()
    with pytest.raises(TargetExistsError, match="already exists"):
        api.link("latest", target="models/clf")
    assert (in_project / "models" / "clf.mlem").read_bytes() == before
    api.link("models/clf", target="latest", force=True)
    assert isinstance(api.load_meta("latest"), MlemModel)


def test_link_loop_is_reported(in_project):
    (in_project / "a.mlem").write_text(
        "link_type: model\nobject_type: link\npath: b.mlem\n"
    )
    (in_project / "b.mlem").write_text(
        "link_type: model\nobject_type: link\npath: a.mlem\n"
    )
    with pytest.raises(LinkCycleError, match="links loop: a.mlem -> b.mlem -> a.mlem"):
        api.load_meta("a")
    (in_project / "self.mlem").write_text(
        "link_type: model\nobject_type: link\npath: self.mlem\n"
    )
    with pytest.raises(LinkCycleError):
        api.load_meta("self")


def test_long_chain_is_stopped(in_project, monkeypatch):
    from mlem import links

    monkeypatch.setattr(links, "MAX_CHAIN", 3)
    previous = "models/clf.mlem"
    for i in range(5):
        (in_project / f"c{i}.mlem").write_text(
            f"link_type: model\nobject_type: link\npath: {previous}\n"
        )
        previous = f"c{i}.mlem"
    assert isinstance(api.load_meta("c2"), MlemModel)
    with pytest.raises(LinkCycleError, match="more than 3 links"):
        api.load_meta("c4")


def test_link_to_an_object_of_another_type(in_project):
    (in_project / "wrong.mlem").write_text(
        "link_type: data\nobject_type: link\npath: models/clf.mlem\n"
    )
    with pytest.raises(ObjectTypeError, match="links to a data, but .* is a model"):
        api.load_meta("wrong")


def test_unknown_link_type(in_project):
    (in_project / "odd.mlem").write_text(
        "link_type: spaceship\nobject_type: link\npath: models/clf.mlem\n"
    )
    with pytest.raises(MetafileError, match="unknown link_type 'spaceship'"):
        api.load_meta("odd")


@pytest.mark.parametrize("path", ["../../x.mlem", "models/../../x.mlem", "/etc/x"])
def test_relative_link_may_not_leave_its_project(in_project, path):
    (in_project / "esc.mlem").write_text(
        f"link_type: model\nobject_type: link\npath: {path}\n"
    )
    if path.startswith("/"):
        with pytest.raises(ObjectNotFoundError):
            api.load_meta("esc")
        return
    with pytest.raises(LinkEscapeError, match="leaves its project"):
        api.load_meta("esc")


def test_missing_object(in_project):
    with pytest.raises(ObjectNotFoundError, match="no MLEM object at models/nope"):
        api.load_meta("models/nope")
    with pytest.raises(FileNotFoundError):
        api.link("models/nope", target="x")
    assert not (in_project / "x.mlem").exists()


def test_rev_on_a_plain_folder(in_project):
    with pytest.raises(
        RevisionsNotSupportedError,
        match="not a git repository|only git repositories have revs",
    ):
        api.load_meta("latest", rev="main")


def test_ls_lists_objects_and_links(in_project):
    found = {obj.location.relpath: obj for obj in api.ls(str(in_project))}
    assert set(found) == {
        "latest.mlem",
        "latest-alias.mlem",
        "links/production.mlem",
        "models/clf.mlem",
        "data/sample.mlem",
    }
    assert isinstance(found["latest-alias.mlem"], MlemLink)


def test_project_root_is_found_from_a_subfolder(in_project, monkeypatch):
    monkeypatch.chdir(in_project / "links")
    model = api.load_meta("production")
    assert model.location.root == str(in_project)


def test_old_layout_local_project(tmp_path, monkeypatch):
    root = tmp_path / "old"
    (root / ".mlem" / "model").mkdir(parents=True)
    (root / ".mlem" / "env").mkdir(parents=True)
    (root / ".mlem" / "config.yaml").write_text("")
    (root / ".mlem" / "model" / "rf.mlem").write_text("object_type: model\n")
    (root / ".mlem" / "env" / "staging.mlem").write_text(
        "object_type: env\ntype: heroku\n"
    )
    monkeypatch.chdir(root)
    assert api.load_meta("rf").location.relpath == ".mlem/model/rf.mlem"
    assert api.load_meta("staging").type_name == "env"
    with pytest.raises(ObjectNotFoundError, match="found .mlem/model/rf.mlem"):
        api.load_meta("models/rf")


def test_make_link(in_project):
    model = api.load_meta("models/clf")
    link = model.make_link()
    assert link.project == f"file://{in_project}/"
    model.make_link("made")
    assert isinstance(api.load_meta("made"), MlemModel)
    assert os.path.exists(in_project / "made.mlem")
