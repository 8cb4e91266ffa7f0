"""Fixtures for mlem-gcs's tests: one GCS emulator for the whole session."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlem_gcs.testing import GCSServer, gcs_emulator

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("MLEM_SHARED_DIR", HERE.parents[3] / "shared"))
MLEM04 = SHARED / "fixtures" / "mlem-0.4"


@pytest.fixture(scope="session")
def gcs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GCSServer]:
    log = tmp_path_factory.mktemp("gcs") / "server.log"
    with gcs_emulator(log_path=str(log)) as server:
        yield server


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLEM_PLUGINS", raising=False)
    monkeypatch.delenv("MLEM_DISABLE_PLUGINS", raising=False)
    from mlem.plugins import reset_plugin_manager

    reset_plugin_manager()


@pytest.fixture
def gcs(gcs_server: GCSServer, monkeypatch: pytest.MonkeyPatch) -> GCSServer:
    """The emulator, with this process's environment pointed at it."""
    gcs_server.patch_env(monkeypatch)
    return gcs_server


@pytest.fixture
def bucket(gcs: GCSServer) -> str:
    """A fresh bucket that keeps no versions."""
    return gcs.new_bucket()


@pytest.fixture
def versioned_bucket(gcs: GCSServer) -> str:
    return gcs.new_bucket(versioned=True)


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
    dest = tmp_path / "mlem04"
    shutil.copytree(mlem04_dir / "project", dest)
    return dest


@pytest.fixture
def model_bytes(mlem04_dir: Path) -> bytes:
    """A model metafile MLEM 0.4.14 wrote."""
    return (mlem04_dir / "project" / "models" / "clf.mlem").read_bytes()


@pytest.fixture
def mlem(gcs: GCSServer):
    """Run the real ``mlem`` command in a subprocess pointed at the emulator."""
    return gcs.run_mlem
