"""mlem.batch.load_many gives what load_meta gives, path by path."""

from __future__ import annotations

import pytest

from mlem import api
from mlem.batch import load_many
from mlem.errors import LinkCycleError, ObjectNotFoundError, ObjectTypeError


@pytest.fixture
def in_project(mlem04_project, monkeypatch):
    monkeypatch.chdir(mlem04_project)
    return mlem04_project


NAMES = ["latest", "links/production", "latest-alias", "models/clf", "data/sample"]


def test_same_objects_and_chains_as_load_meta(in_project):
    for follow in (True, False):
        many = load_many(NAMES, follow_links=follow)
        for name, obj in zip(NAMES, many, strict=True):
            one = api.load_meta(name, follow_links=follow)
            assert obj.location.path == one.location.path
            assert obj.data == one.data
            assert [str(x.location) for x in obj.via] == [
                str(x.location) for x in one.via
            ]


def test_errors_in_place_or_raised(in_project):
    (in_project / "loop-a.mlem").write_text("object_type: link\npath: loop-b.mlem\n")
    (in_project / "loop-b.mlem").write_text("object_type: link\npath: loop-a.mlem\n")
    got = load_many(["latest", "nothing", "loop-a"], return_exceptions=True)
    assert got[0].type_name == "model"
    assert isinstance(got[1], ObjectNotFoundError)
    assert isinstance(got[2], LinkCycleError)
    with pytest.raises(ObjectNotFoundError):
        load_many(["latest", "nothing"])


def test_force_type(in_project):
    with pytest.raises(ObjectTypeError, match="is a model, not a data"):
        load_many(["latest"], force_type="data")
