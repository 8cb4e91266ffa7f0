"""What is particular to local paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlem_local.fs import LocalFS
from mlem_local.plugin import LocalResolver, local_path


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("file:///tmp/a/b/", "/tmp/a/b"),
        ("file://localhost/tmp/a", "/tmp/a"),
        ("file:///tmp/peer/t3/projB/../projA/", "/tmp/peer/t3/projA"),
        ("file:///tmp/with%20space", "/tmp/with space"),
        ("/tmp/x/./y", "/tmp/x/y"),
    ],
)
def test_local_path(uri, expected):
    assert local_path(uri) == expected


def test_relative_paths_are_from_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert local_path("a/b") == str(tmp_path / "a" / "b")
    assert local_path("~") == os.path.expanduser("~")


def test_project_uri_is_what_mlem_writes():
    resolver = LocalResolver()
    source = resolver.open("/tmp/x", None)
    assert resolver.project_uri(source, "/tmp/x/proj") == "file:///tmp/x/proj/"


def test_atomic_write_leaves_no_temporary_file(tmp_path: Path):
    fs = LocalFS()
    target = tmp_path / "sub" / "a.mlem"
    fs.pipe_file(str(target), b"one")
    fs.pipe_file(str(target), b"two")
    assert target.read_bytes() == b"two"
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.mlem"]


def test_failed_write_keeps_the_old_file(tmp_path: Path):
    fs = LocalFS()
    target = tmp_path / "a.mlem"
    target.write_bytes(b"old")

    with pytest.raises(TypeError):
        fs.pipe_file(str(target), "text is not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.mlem"]
