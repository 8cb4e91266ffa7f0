"""Shared fixtures for the core's tests: real files, real subprocesses."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MLEM_SHARED_DIR", REPO.parent / "shared"))
FIXTURES = SHARED / "fixtures"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """../shared/fixtures: real files written by MLEM."""
    if not (FIXTURES / "mlem-0.4").is_dir():
        pytest.fail(f"MLEM fixtures not found at {FIXTURES}; set MLEM_SHARED_DIR")
    return FIXTURES


@pytest.fixture
def mlem04_project(fixtures_dir: Path, tmp_path: Path) -> Path:
    """A writable copy of the project MLEM 0.4.14 wrote."""
    dest = tmp_path / "project"
    shutil.copytree(fixtures_dir / "mlem-0.4" / "project", dest)
    return dest


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own cache and no user git config."""
    monkeypatch.setenv("MLEM_CACHE_DIR", str(tmp_path / "mlem-cache"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("MLEM_PLUGINS", raising=False)
    monkeypatch.delenv("MLEM_DISABLE_PLUGINS", raising=False)
    from mlem.plugins import reset_plugin_manager

    reset_plugin_manager()


def run_mlem(*args: str, cwd: Path | str, env: dict[str, str] | None = None):
    """The real ``mlem`` command in a subprocess."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "mlem", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def mlem():
    return run_mlem


@pytest.fixture(scope="session")
def example_served(tmp_path_factory: pytest.TempPathFactory, fixtures_dir: Path):
    """The get-started example, built by the fixtures' build-repo and served
    by a real git daemon on 127.0.0.1 for the whole session."""
    from mlem_git import testing

    base = tmp_path_factory.mktemp("served")
    work = tmp_path_factory.mktemp("work")
    repo = testing.build_example_repo(
        work / testing.EXAMPLE_NAME, fixtures_dir / "get-started" / "build-repo"
    )
    testing.serve_copy(repo, base, testing.EXAMPLE_NAME)
    with testing.GitDaemon(base) as daemon:
        yield daemon, repo


@pytest.fixture
def github(example_served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """https://github.com/iterative/example-mlem-get-started, offline: git's
    insteadOf (in a private GIT_CONFIG_GLOBAL) sends it to the daemon."""
    from mlem_git import testing

    daemon, repo = example_served
    env = testing.git_env(
        tmp_path / "git-env", {testing.EXAMPLE_URL: daemon.url_of(testing.EXAMPLE_NAME)}
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env
