"""The read-only file system over one commit's tree."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mlem import api
from mlem.errors import StorageAccessError
from mlem.resolver import FileSystem
from mlem_git.fs import GitTreeFS
from mlem_git.plugin import GitResolver


@pytest.fixture
def fs(example_url: str) -> GitTreeFS:
    fs = GitResolver().open(example_url, "3-eval").fs
    assert isinstance(fs, GitTreeFS)
    return fs


def test_is_a_core_file_system(fs: GitTreeFS) -> None:
    assert isinstance(fs, FileSystem)


def test_listing(fs: GitTreeFS) -> None:
    assert fs.ls("") == [
        ".gitattributes",
        ".gitignore",
        ".mlem.yaml",
        "data",
        "metrics.json",
        "models",
        "requirements.txt",
    ]
    assert fs.ls("models/") == ["models/rf", "models/rf.mlem"]
    assert fs.ls("models/rf.mlem") == ["models/rf.mlem"]
    assert [e["type"] for e in fs.ls("", detail=True)][3] == "directory"
    assert fs.find("data") == ["data/iris.csv", "data/iris.csv.mlem"]
    assert len(fs.find("")) == 9
    assert fs.find("nothing") == []
    with pytest.raises(FileNotFoundError):
        fs.ls("nothing")


def test_kinds(fs: GitTreeFS) -> None:
    assert fs.exists("") and fs.isdir("") and not fs.isfile("")
    assert fs.isdir("models") and not fs.isfile("models")
    assert fs.isfile("models/rf.mlem") and not fs.isdir("models/rf.mlem")
    assert not fs.exists("models/nothing")
    assert fs.exists("./models/../models/rf")
    assert not fs.exists("../models")


def test_info_does_not_fetch_sizes(fs: GitTreeFS) -> None:
    info = fs.info("models/rf")
    assert (info["name"], info["type"], info["size"]) == ("models/rf", "file", None)
    assert fs.info("models")["type"] == "directory"
    with pytest.raises(FileNotFoundError):
        fs.info("nothing")


def test_reading(fs: GitTreeFS) -> None:
    data = fs.cat_file("models/rf.mlem")
    assert data.startswith(b"artifacts:")
    assert fs.cat_file("models/rf.mlem", start=0, end=10) == b"artifacts:"
    assert fs.open("models/rf.mlem", "r").read() == data.decode()
    with pytest.raises(IsADirectoryError):
        fs.cat_file("models")
    with pytest.raises(FileNotFoundError):
        fs.cat_file("models/nothing")
    with pytest.raises(FileNotFoundError):
        fs.cat_file("../../etc/passwd")


def test_never_writes(fs: GitTreeFS) -> None:
    for attempt in (
        lambda: fs.pipe_file("x.mlem", b""),
        lambda: fs.makedirs("x"),
        lambda: fs.open("x", "wb"),
    ):
        with pytest.raises(StorageAccessError) as info:
            attempt()
        assert isinstance(info.value, PermissionError)
        assert "never writes" in str(info.value)


def test_init_in_a_remote_is_refused(example_url: str) -> None:
    with pytest.raises(StorageAccessError):
        api.init(example_url + "//new-project")


def test_no_fsspec_on_the_way(example_url: str) -> None:
    # fsspec costs 150 ms to import: reading a repository must not need it
    code = (
        "import sys; from mlem import api; "
        f"api.load_meta('models/rf', project={example_url!r}, rev='2-train'); "
        "print('fsspec' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "MLEM_PLUGINS": "git,local"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "False", result.stderr
