"""The local resolver passes the contract every resolver must pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlem.testing import ResolverContract


class TestLocalResolver(ResolverContract):
    resolver_name = "local"

    @pytest.fixture
    def make_project(self, tmp_path: Path):
        def make(files: dict[str, bytes]) -> str:
            root = tmp_path / "project"
            for name, data in files.items():
                (root / name).parent.mkdir(parents=True, exist_ok=True)
                (root / name).write_bytes(data)
            return str(root)

        return make


class TestFileURIs(TestLocalResolver):
    """The same, addressed as file:// URIs."""

    @pytest.fixture
    def make_project(self, tmp_path: Path):
        def make(files: dict[str, bytes]) -> str:
            root = tmp_path / "project"
            for name, data in files.items():
                (root / name).parent.mkdir(parents=True, exist_ok=True)
                (root / name).write_bytes(data)
            return root.as_uri()

        return make
