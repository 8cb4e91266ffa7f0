"""Locked links, drift, update, offline mode and get, against real git
repositories served by git daemon on 127.0.0.1, whose branches move."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from mlem import api
from mlem.errors import ArtifactError, OfflineError, StorageError
from mlem.objects import MlemModel
from mlem_git import testing

V1 = (
    b"artifacts:\n  data:\n    hash: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
    b"    size: 1\n    uri: m\nobject_type: model\n"
)
V2 = V1.replace(b"aaaa", b"bbbb")


def model_hash(obj) -> str:
    return obj.artifacts["data"]["hash"]


@pytest.fixture
def team(tmp_path: Path, monkeypatch):
    """A team's repository (work tree + served bare copy) and a registry."""
    work = tmp_path / "team-work"
    first = testing.commit_tree(
        work, {".mlem.yaml": b"", "models/m.mlem": V1, "models/m": b"1"}, "v1", tag="v1"
    )
    base = tmp_path / "served"
    bare = testing.serve_copy(work, base, "team.git")
    daemon = testing.GitDaemon(base).start()
    registry = tmp_path / "registry"
    api.init(str(registry))
    monkeypatch.chdir(registry)
    yield {
        "work": work,
        "bare": bare,
        "url": daemon.url_of("team.git"),
        "daemon": daemon,
        "first": first,
        "registry": registry,
    }
    daemon.stop()


def push_new_version(team) -> str:
    second = testing.commit_tree(
        team["work"], {".mlem.yaml": b"", "models/m.mlem": V2, "models/m": b"2"}, "v2"
    )
    testing.git("push", "--quiet", str(team["bare"]), "main", cwd=team["work"])
    return second


def test_locked_link_pins_the_commit_and_drift_is_reported(team, mlem):
    url, registry = team["url"], team["registry"]
    api.link("models/m", source_project=url, rev="main", target="locked", lock=True)
    api.link("models/m", source_project=url, rev="main", target="plain")
    text = (registry / "locked.mlem").read_text()
    sha = hashlib.sha256(V1).hexdigest()
    assert f"lock:\n  commit: {team['first']}\n  sha256: {sha}\n" in text
    assert "rev: main\n" in text

    second = push_new_version(team)
    assert model_hash(api.load_meta("locked")).startswith("aaaa")  # pinned
    assert model_hash(api.load_meta("plain")).startswith("bbbb")  # follows main

    checked = mlem("check", cwd=registry)
    assert checked.returncode == 1
    lines = checked.stdout.splitlines()
    line = next(text for text in lines if text.startswith("DRIFTED"))
    assert "locked.mlem" in line and team["first"] in line and second in line
    assert "ok       plain.mlem" in checked.stdout

    dry = mlem("update", "--all", "--dry-run", cwd=registry)
    assert (
        f"locked.mlem: would update {team['first'][:12]} -> {second[:12]}" in dry.stdout
    )
    assert (registry / "locked.mlem").read_text() == text

    done = mlem("update", "locked", cwd=registry)
    assert done.returncode == 0, done.stderr
    assert f"updated {team['first'][:12]} -> {second[:12]}" in done.stdout
    assert model_hash(api.load_meta("locked")).startswith("bbbb")
    assert mlem("check", cwd=registry).returncode == 0

    back = mlem("update", "locked", "--rev", "v1", cwd=registry)
    assert back.returncode == 0, back.stderr
    relinked = (registry / "locked.mlem").read_text()
    assert "rev: v1\n" in relinked and team["first"] in relinked
    assert model_hash(api.load_meta("locked")).startswith("aaaa")


def test_lock_hash_mismatch_on_a_rewritten_history(team, mlem):
    """A force-pushed tag can change the bytes behind a commit-less lock."""
    url, registry = team["url"], team["registry"]
    api.link("models/m", source_project=url, rev="v1", target="t", lock=True)
    data = (registry / "t.mlem").read_text()
    # hand-edit the lock to another hash: following must refuse, naming both
    (registry / "t.mlem").write_text(
        data.replace(hashlib.sha256(V1).hexdigest(), "f" * 64)
    )
    result = mlem("show", "t", cwd=registry)
    assert result.returncode == 1
    assert "f" * 64 in result.stderr and hashlib.sha256(V1).hexdigest() in result.stderr


def test_offline_reads_the_cache_and_never_the_network(team, mlem, monkeypatch):
    url, registry = team["url"], team["registry"]
    api.link("models/m", source_project=url, rev="main", target="a")
    api.link("models/m", source_project=url, target="b")  # the default branch
    team["daemon"].stop()

    offline = {"MLEM_OFFLINE": "1"}
    for name in ("a", "b"):
        shown = mlem("show", name, cwd=registry, env=offline)
        assert shown.returncode == 0, shown.stderr
        assert "hash: aaaaaaaa" in shown.stdout
    assert mlem("--offline", "show", "a", cwd=registry).returncode == 0

    (registry / "c.mlem").write_text(
        "link_type: model\nobject_type: link\npath: models/m.mlem\n"
        f"project: {url}\nrev: v1\n"
    )
    missing = mlem("show", "c", cwd=registry, env=offline)
    assert missing.returncode == 1
    assert "offline: rev v1 of" in missing.stderr
    assert "is not in the cache" in missing.stderr
    monkeypatch.setenv("MLEM_OFFLINE", "1")
    with pytest.raises(OfflineError):
        api.load_meta("c")
    monkeypatch.delenv("MLEM_OFFLINE")
    with pytest.raises(StorageError):  # online, the server is down
        api.load_meta("c")


def test_get_through_a_link_to_the_example(github, tmp_path, monkeypatch):
    registry = tmp_path / "registry"
    api.init(str(registry))
    monkeypatch.chdir(registry)
    url = testing.EXAMPLE_URL
    api.link("models/rf", source_project=url, rev="main", target="prod")
    out = tmp_path / "deploy"
    api.get("prod", out)
    blob = (out / "rf").read_bytes()
    assert hashlib.md5(blob).hexdigest() == testing.EXAMPLE_MODEL_HASH
    assert len(blob) == testing.EXAMPLE_MODEL_SIZE
    assert isinstance(api.load_meta(str(out / "rf")), MlemModel)

    api.link("models/rf", source_project=url, rev="dvc", target="dvc")
    with pytest.raises(ArtifactError, match="stored in DVC"):
        api.get("dvc", tmp_path / "dvc-out")
    assert not (tmp_path / "dvc-out").exists()


def test_get_refuses_local_files_named_by_a_remote_metafile(tmp_path, monkeypatch):
    secret = tmp_path / "secret.txt"
    secret.write_text("this machine's secret")
    digest = hashlib.md5(secret.read_bytes()).hexdigest()
    size = secret.stat().st_size
    files = {}
    for name, uri in (("abs", str(secret)), ("fileuri", secret.as_uri())):
        files[f"models/{name}.mlem"] = (
            f"object_type: model\nartifacts:\n  data:\n    uri: {uri}\n"
            f"    size: {size}\n    hash: {digest}\n"
        ).encode()
    work = tmp_path / "evil-work"
    testing.commit_tree(work, {".mlem.yaml": b"", **files}, "evil")
    base = tmp_path / "served"
    testing.serve_copy(work, base, "evil.git")
    with testing.GitDaemon(base) as daemon:
        url = daemon.url_of("evil.git")
        for name in ("abs", "fileuri"):
            out = tmp_path / f"out-{name}"
            with pytest.raises(ArtifactError, match="names a local file"):
                api.get(f"models/{name}", out, project=url)
            assert not out.exists()
