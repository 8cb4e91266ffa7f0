"""Fixtures for mlem-s3's tests: one moto S3 server for the whole session."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlem_s3.testing import S3Server, moto_server

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("MLEM_SHARED_DIR", HERE.parents[3] / "shared"))
MLEM04 = SHARED / "fixtures" / "mlem-0.4"


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with moto_server(log_path=str(log)) as server:
        yield server


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLEM_PLUGINS", raising=False)
    monkeypatch.delenv("MLEM_DISABLE_PLUGINS", raising=False)
    from mlem.plugins import reset_plugin_manager

    reset_plugin_manager()


@pytest.fixture
def s3(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """The server, with this process's environment pointed at it."""
    s3_server.patch_env(monkeypatch)
    return s3_server


@pytest.fixture
def bucket(s3: S3Server) -> str:
    """A fresh, unversioned bucket."""
    return s3.new_bucket()


@pytest.fixture
def versioned_bucket(s3: S3Server) -> str:
    return s3.new_bucket(versioned=True)


@pytest.fixture
def registry(mlem_registry: Path) -> Path:
    """A local MLEM project to write links in, as the current directory."""
    return mlem_registry


@pytest.fixture(scope="session")
def mlem04_dir() -> Path:
    """../shared/fixtures/mlem-0.4: files MLEM 0.4.14 wrote."""
    if not MLEM04.is_dir():
        pytest.fail(f"MLEM fixtures not found at {MLEM04}; set MLEM_SHARED_DIR")
    return MLEM04


@pytest.fixture
def mlem04_copy(mlem04_dir: Path, tmp_path: Path) -> Path:
    """A writable copy of the project MLEM 0.4.14 wrote."""
    dest = tmp_path / "mlem04"
    shutil.copytree(mlem04_dir / "project", dest)
    return dest


@pytest.fixture
def model_bytes() -> bytes:
    """A model metafile MLEM 0.4.14 wrote."""
    path = MLEM04 / "project" / "models" / "clf.mlem"
    if not path.is_file():
        pytest.fail(f"MLEM fixtures not found at {MLEM04}; set MLEM_SHARED_DIR")
    return path.read_bytes()


@pytest.fixture
def mlem(s3: S3Server):
    """Run the real ``mlem`` command in a subprocess pointed at the server."""
    return s3.run_mlem
