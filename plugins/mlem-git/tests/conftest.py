"""Fixtures: the example project served by a real ``git daemon`` on 127.0.0.1,
and an isolated git and MLEM environment for every test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlem.plugins import reset_plugin_manager
from mlem_git import testing

REPO = Path(__file__).resolve().parents[3]
SHARED = Path(os.environ.get("MLEM_SHARED_DIR", REPO.parent / "shared"))
BUILD_REPO = SHARED / "fixtures" / "get-started" / "build-repo"

#: refs added to the served example: a tag and a branch that share a prefix,
#: so that a web URL's rev must be the longest match
SLASH_BRANCH = "feature/models"
PREFIX_TAG = "feature"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """../shared/fixtures: real files written by MLEM."""
    if not (SHARED / "fixtures" / "mlem-0.4").is_dir():
        pytest.fail(f"MLEM fixtures not found under {SHARED}; set MLEM_SHARED_DIR")
    return SHARED / "fixtures"


@pytest.fixture(scope="session")
def build_repo_script() -> Path:
    if not BUILD_REPO.is_file():
        pytest.fail(f"{BUILD_REPO} not found; set MLEM_SHARED_DIR")
    return BUILD_REPO


@pytest.fixture(scope="session")
def example_repo(tmp_path_factory: pytest.TempPathFactory, build_repo_script) -> Path:
    """The example project as a git repository with a work tree (at main)."""
    work = tmp_path_factory.mktemp("work")
    repo = testing.build_example_repo(work / testing.EXAMPLE_NAME, build_repo_script)
    testing.git("branch", SLASH_BRANCH, "main", cwd=repo)
    testing.git("tag", PREFIX_TAG, "2-train", cwd=repo)
    return repo


@pytest.fixture(scope="session")
def served_base(tmp_path_factory: pytest.TempPathFactory, example_repo: Path) -> Path:
    base = tmp_path_factory.mktemp("served")
    testing.serve_copy(example_repo, base, testing.EXAMPLE_NAME)
    return base


@pytest.fixture(scope="session")
def daemon(served_base: Path):
    """A git daemon serving the example for the whole session."""
    with testing.GitDaemon(served_base) as running:
        yield running


@pytest.fixture
def example_url(daemon: testing.GitDaemon) -> str:
    """The example's git:// address on the session daemon."""
    return daemon.url_of(testing.EXAMPLE_NAME)


@pytest.fixture(autouse=True)
def _isolated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, daemon: testing.GitDaemon
) -> dict[str, str]:
    """Private git config (GitHub's example goes to the daemon), own cache."""
    env = testing.git_env(
        tmp_path / "env",
        {testing.EXAMPLE_URL: daemon.url_of(testing.EXAMPLE_NAME)},
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in ("MLEM_PLUGINS", "MLEM_DISABLE_PLUGINS", "GIT_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    reset_plugin_manager()
    return env
