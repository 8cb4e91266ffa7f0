"""The git resolver passes the contract every resolver must pass: over a real
git daemon, and on a local bare repository."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from mlem.testing import ResolverContract
from mlem_git import testing

_names = itertools.count()


class TestGitRemote(ResolverContract):
    resolver_name = "git"

    @pytest.fixture
    def make_history(self, served_base: Path, daemon: testing.GitDaemon):
        def make(history: list[tuple[str, dict[str, bytes]]]) -> str:
            name = f"contract-{next(_names)}"
            repo = served_base / name
            for rev, files in history:
                testing.commit_tree(repo, files, message=rev, tag=rev)
            testing.allow_partial_fetch(repo)
            return daemon.url_of(name)

        return make

    @pytest.fixture
    def make_project(self, make_history):
        return lambda files: make_history([("v0", files)])

    def address(self, project: str, path: str) -> str:
        # a path inside a remote follows a double slash
        return f"{project}//{path}"


class TestLocalBareRepository(ResolverContract):
    resolver_name = "git"

    @pytest.fixture
    def make_history(self, tmp_path: Path):
        def make(history: list[tuple[str, dict[str, bytes]]]) -> str:
            work = tmp_path / f"work-{next(_names)}"
            for rev, files in history:
                testing.commit_tree(work, files, message=rev, tag=rev)
            bare = tmp_path / f"{work.name}.git"
            testing.git("clone", "--quiet", "--bare", work, bare)
            return str(bare)

        return make

    @pytest.fixture
    def make_project(self, make_history):
        return lambda files: make_history([("v0", files)])
