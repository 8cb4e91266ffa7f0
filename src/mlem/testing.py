"""A pytest plugin for resolver authors: fixtures and a contract suite.

pytest loads this module by itself once ``mlem-core`` is installed (through
the ``pytest11`` entry point). It gives:

* ``mlem_project``: a fresh local MLEM project, as a ``Path``;
* ``mlem_registry``: another one, for links, with the working directory in it;
* :class:`ResolverContract`: tests every resolver must pass. Subclass it in
  your plugin's tests and provide the ``make_project`` fixture::

      from mlem.testing import ResolverContract

      class TestMyResolver(ResolverContract):
          resolver_name = "mine"

          @pytest.fixture
          def make_project(self, my_server):
              def make(files: dict[str, bytes]) -> str:
                  ...  # store files, return the project's address
              return make

A resolver that supports revs also provides ``make_history`` (see
:meth:`ResolverContract.make_history`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlem import api, metafile
from mlem._uri import strip_credentials
from mlem.errors import (
    ObjectNotFoundError,
    RevisionNotFoundError,
    RevisionsNotSupportedError,
)
from mlem.objects import MlemLink, MlemModel
from mlem.plugins import get_plugin_manager, reset_plugin_manager

#: a model metafile as MLEM 0.4 writes them, trimmed
MODEL = (
    b"artifacts:\n  data:\n    hash: 67be2254a4dec1fcf4ac6bc8fa3ab011\n"
    b"    size: 827\n    uri: m\nobject_type: model\n"
)
OTHER_MODEL = MODEL.replace(b"67be2254", b"00000000")


def relative_link(path: str) -> bytes:
    return metafile.dump(MlemLink.make(path=path, link_type="model").to_dict())


#: the files of the project every contract test starts from
PROJECT_FILES: dict[str, bytes] = {
    ".mlem.yaml": b"",
    "models/m.mlem": MODEL,
    "models/m": b"not a metafile",
    "latest.mlem": relative_link("models/m.mlem"),
    "deep/er/alias.mlem": relative_link("latest.mlem"),
}

MakeProject = Callable[[dict[str, bytes]], str]
MakeHistory = Callable[[list[tuple[str, dict[str, bytes]]]], str]


@pytest.fixture
def mlem_project(tmp_path: Path) -> Path:
    """A fresh local MLEM project (an empty ``.mlem.yaml``)."""
    project = tmp_path / "mlem-project"
    project.mkdir()
    (project / ".mlem.yaml").write_bytes(b"")
    return project


@pytest.fixture
def mlem_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh local project to write links in; the working directory."""
    registry = tmp_path / "mlem-registry"
    registry.mkdir()
    (registry / ".mlem.yaml").write_bytes(b"")
    monkeypatch.chdir(registry)
    reset_plugin_manager()
    return registry


class ResolverContract:
    """What every resolver must do, checked through the public API."""

    #: the ``name`` of the resolver under test
    resolver_name: str = ""

    @pytest.fixture
    def make_project(self) -> MakeProject:
        """Store ``files`` (path → bytes) as a project; return its address."""
        raise NotImplementedError("provide a make_project fixture")

    @pytest.fixture
    def make_history(self) -> MakeHistory | None:
        """For resolvers with revs: store each ``(rev, files)`` in order, so
        that ``rev`` names that state of the project; return the address.
        ``None`` for resolvers without revs."""
        return None

    def address(self, project: str, path: str) -> str:
        """The address of ``path`` inside ``project`` (override if not ``/``)."""
        return project.rstrip("/") + "/" + path

    @pytest.fixture
    def project(self, make_project: MakeProject) -> str:
        return make_project(dict(PROJECT_FILES))

    def test_claims_its_addresses(self, project: str) -> None:
        resolver = get_plugin_manager().resolver_for(project, None)
        assert resolver.name == self.resolver_name

    def test_reads_objects_in_the_project(self, project: str) -> None:
        model = api.load_meta("models/m", project=project)
        assert isinstance(model, MlemModel)
        assert model.artifacts["data"]["hash"] == "67be2254a4dec1fcf4ac6bc8fa3ab011"
        assert model.location is not None
        assert model.location.relpath == "models/m.mlem"

    def test_finds_the_project_root_from_an_address(self, project: str) -> None:
        model = api.load_meta(self.address(project, "deep/er/alias"))
        assert isinstance(model, MlemModel)
        assert [link.location.relpath for link in model.via] == [  # type: ignore[union-attr]
            "deep/er/alias.mlem",
            "latest.mlem",
        ]

    def test_lists_objects_and_links(self, project: str) -> None:
        found = {obj.location.relpath for obj in api.ls(project)}  # type: ignore[union-attr]
        assert found == {"models/m.mlem", "latest.mlem", "deep/er/alias.mlem"}

    def test_missing_path_is_file_not_found(self, project: str) -> None:
        with pytest.raises(ObjectNotFoundError) as info:
            api.load_meta("models/nothing", project=project)
        assert isinstance(info.value, FileNotFoundError)
        assert "models/nothing" in str(info.value)

    def test_links_to_it_round_trip(self, project: str, mlem_registry: Path) -> None:
        link = api.link("latest", source_project=project, target="to-it")
        assert link.project is not None
        assert strip_credentials(link.project) == link.project
        assert (link.path, link.link_type) == ("models/m.mlem", "model")
        text = (mlem_registry / "to-it.mlem").read_text()
        assert f"project: {link.project}" in text
        model = api.load_meta("to-it")
        assert isinstance(model, MlemModel)

    def test_revs(
        self, make_history: MakeHistory | None, make_project: MakeProject
    ) -> None:
        resolver = self._resolver()
        if not resolver.supports_revs or make_history is None:
            project = make_project(dict(PROJECT_FILES))
            with pytest.raises(RevisionsNotSupportedError):
                api.load_meta("models/m", project=project, rev="v1")
            return
        first = dict(PROJECT_FILES)
        second = {**PROJECT_FILES, "models/m.mlem": OTHER_MODEL}
        project = make_history([("v1", first), ("v2", second)])
        hashes = {
            rev: api.load_meta("latest", project=project, rev=rev).artifacts["data"][
                "hash"
            ]  # type: ignore[attr-defined]
            for rev in ("v1", "v2")
        }
        assert hashes == {
            "v1": "67be2254a4dec1fcf4ac6bc8fa3ab011",
            "v2": "00000000a4dec1fcf4ac6bc8fa3ab011",
        }
        with pytest.raises(RevisionNotFoundError) as info:
            api.load_meta("latest", project=project, rev="no-such-rev")
        assert "no-such-rev" in str(info.value)
        assert isinstance(info.value, FileNotFoundError)

    def _resolver(self) -> Any:
        for resolver in get_plugin_manager().resolvers():
            if resolver.name == self.resolver_name:
                return resolver
        raise AssertionError(f"no resolver named {self.resolver_name!r} is loaded")
