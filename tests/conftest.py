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
