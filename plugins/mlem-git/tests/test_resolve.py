"""Resolving revs against a real git daemon, and local clones in place."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mlem import api
from mlem.errors import (
    ObjectNotFoundError,
    RevisionNotFoundError,
    RevisionsNotSupportedError,
    StorageError,
)
from mlem.objects import MlemModel
from mlem.plugins import get_plugin_manager
from mlem_git import gitcmd, testing
from mlem_git.mirror import cache_root
from mlem_git.plugin import GitResolver

EXAMPLE = testing.EXAMPLE_URL


def commit_of(repo: Path, rev: str) -> str:
    return testing.git("rev-parse", f"{rev}^{{commit}}", cwd=repo)


def mirrors() -> list[Path]:
    root = Path(cache_root())
    return sorted(root.glob("*.git")) + sorted(root.glob(".tmp-*"))


@pytest.mark.parametrize(
    "rev",
    [
        "2-train",
        "9-dvc-save-models",
        "main",
        "dvc",
        "old-layout",
        "refs/heads/dvc",
        "refs/tags/3-eval",
        "HEAD",
        "feature/models",
    ],
)
def test_named_revs(example_url: str, example_repo: Path, rev: str) -> None:
    source = GitResolver().open(example_url, rev)
    assert source.commit == commit_of(example_repo, rev)
    assert source.rev == rev
    assert (source.base, source.boundary) == ("", "")


@pytest.mark.parametrize("length", [40, 12, 7])
def test_commits_by_sha(example_url: str, example_repo: Path, length: int) -> None:
    full = commit_of(example_repo, "4-pack")
    source = GitResolver().open(example_url, full[:length])
    assert source.commit == full
    assert source.rev == full[:length]
    assert source.fs.isfile("pip_config.mlem")


def test_no_rev_is_the_default_branch(example_url: str, example_repo: Path) -> None:
    source = GitResolver().open(example_url, None)
    assert source.commit == commit_of(example_repo, "main")
    assert source.rev is None
    assert source.extra["branch"] == "main"


def test_a_tag_wins_over_a_branch_as_in_git(tmp_path: Path, daemon) -> None:
    served = Path(daemon.base) / "tag-and-branch"
    first = testing.commit_tree(served, {"a": b"1"}, tag="same")
    testing.commit_tree(served, {"a": b"2"})
    testing.git("branch", "--quiet", "--force", "same", "HEAD", cwd=served)
    source = GitResolver().open(daemon.url_of("tag-and-branch"), "same")
    assert source.commit == first


def test_web_url_with_a_slash_branch(example_repo: Path) -> None:
    # the tag "feature" is a prefix of the branch "feature/models": the
    # longest match is the rev
    source = GitResolver().open(EXAMPLE + "/tree/feature/models/models/rf.mlem", None)
    assert (source.rev, source.base) == ("feature/models", "models/rf.mlem")
    assert source.commit == commit_of(example_repo, "main")

    shorter = GitResolver().open(EXAMPLE + "/tree/feature/models", None)
    assert (shorter.rev, shorter.base) == ("feature/models", "")

    tag = GitResolver().open(EXAMPLE + "/blob/feature/.mlem.yaml", None)
    assert (tag.rev, tag.base) == ("feature", ".mlem.yaml")
    assert tag.commit == commit_of(example_repo, "2-train")


def test_web_url_with_a_sha_and_an_explicit_rev(example_repo: Path) -> None:
    sha = commit_of(example_repo, "3-eval")
    source = GitResolver().open(f"{EXAMPLE}/tree/{sha}/data", None)
    assert (source.rev, source.base, source.commit) == (sha, "data", sha)
    # an explicit rev wins over the one in the URL, as in MLEM 0.4
    other = GitResolver().open(EXAMPLE + "/tree/main/models", "2-train")
    assert (other.rev, other.base) == ("2-train", "models")
    assert other.commit == commit_of(example_repo, "2-train")


def test_web_url_reads_through_the_api() -> None:
    model = api.load_meta(EXAMPLE + "/tree/feature/models/models/rf")
    assert isinstance(model, MlemModel)
    assert model.artifacts["data"]["hash"] == testing.EXAMPLE_MODEL_HASH
    assert model.location is not None and model.location.relpath == "models/rf.mlem"


def test_old_layout_at_its_rev() -> None:
    model = api.load_meta("rf", project=EXAMPLE, rev="5-deploy-meta")
    assert model.location is not None
    assert model.location.path == ".mlem/model/rf.mlem"


def test_ls_at_a_rev() -> None:
    found = {o.location.relpath for o in api.ls(EXAMPLE, rev="4-pack")}  # type: ignore[union-attr]
    assert found == {"models/rf.mlem", "data/iris.csv.mlem", "pip_config.mlem"}


def test_only_what_is_read_is_fetched(example_url: str) -> None:
    source = GitResolver().open(example_url, "2-train")
    fs = source.fs
    assert fs.cat_file("models/rf.mlem").startswith(b"artifacts:")
    model_blob = fs.info("models/rf")["oid"]
    meta_blob = fs.info("models/rf.mlem")["oid"]
    # no remote given: git can only answer from what the mirror holds
    mirror = fs.git_dir
    assert gitcmd.run(["cat-file", "-e", meta_blob], git_dir=mirror).ok
    assert not gitcmd.run(["cat-file", "-e", model_blob], git_dir=mirror).ok


def test_a_cached_commit_needs_no_network(
    tmp_path: Path, served_base: Path, _isolated: dict[str, str]
) -> None:
    base = tmp_path / "own"
    testing.serve_copy(served_base / testing.EXAMPLE_NAME, base, "repo")
    daemon = testing.GitDaemon(base).start()
    url = daemon.url_of("repo")
    try:
        commit = GitResolver().open(url, "2-train").commit
        assert commit is not None
        api.load_meta("models/rf", project=url, rev="2-train")
    finally:
        daemon.stop()

    # with the daemon gone, a branch or tag needs the network...
    with pytest.raises(StorageError):
        GitResolver().open(url, "2-train")
    # ...a commit in the cache does not, in this process or a fresh one
    assert GitResolver().open(url, commit).commit == commit
    cached = GitResolver().open(url, commit[:9])
    assert cached.commit == commit
    # a file never read before does need the network, and says so
    with pytest.raises(StorageError) as info:
        cached.fs.cat_file("models/rf")
    assert str(info.value).startswith(f"cannot read models/rf in {url} at rev")
    code = textwrap.dedent(
        f"""
        from mlem import api
        model = api.load_meta("models/rf", project={url!r}, rev={commit!r})
        print(model.artifacts["data"]["hash"])
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == testing.EXAMPLE_MODEL_HASH


def test_missing_rev(example_url: str) -> None:
    with pytest.raises(RevisionNotFoundError) as info:
        GitResolver().open(example_url, "no-such-branch")
    message = str(info.value)
    assert "no-such-branch" in message and example_url in message
    assert "main" in message  # the branches there are
    assert "\n" not in message

    with pytest.raises(RevisionNotFoundError) as info:
        api.load_meta("models/rf", project=EXAMPLE, rev="v9.9")
    assert "v9.9" in str(info.value) and EXAMPLE in str(info.value)


@pytest.mark.parametrize("rev", ["1" * 40, "abcdef1"])
def test_missing_commit_leaves_no_cache_entry(example_url: str, rev: str) -> None:
    with pytest.raises(RevisionNotFoundError) as info:
        GitResolver().open(example_url, rev)
    assert rev in str(info.value) and example_url in str(info.value)
    # a mirror exists only if some fetch succeeded (the fallback to every
    # branch and tag), and no unfinished one is left
    for mirror in mirrors():
        assert mirror.suffix == ".git"
        assert gitcmd.run(
            ["rev-parse", "--verify", "refs/heads/main"], git_dir=str(mirror)
        ).ok


def test_unreachable_host() -> None:
    url = f"git://127.0.0.1:{testing.free_port()}/repo"
    with pytest.raises(StorageError) as info:
        GitResolver().open(url, "main")
    message = str(info.value)
    assert url in message and "\n" not in message
    assert "refused" in message.lower() or "unable to connect" in message
    assert mirrors() == []


def test_no_such_repository(daemon: testing.GitDaemon) -> None:
    with pytest.raises(StorageError) as info:
        GitResolver().open(daemon.url_of("not-here"), None)
    assert "not-here" in str(info.value)


def test_a_silent_server_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(gitcmd.TIMEOUT_ENV, "1")
    # accepts the connection, never answers
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        url = f"git://127.0.0.1:{server.getsockname()[1]}/repo"
        started = time.monotonic()
        with pytest.raises(StorageError) as info:
            GitResolver().open(url, "main")
        assert time.monotonic() - started < 10
    assert "no answer within 1 s" in str(info.value) and url in str(info.value)


def test_a_dead_build_is_cleaned_up(example_url: str) -> None:
    from mlem_git.address import parse
    from mlem_git.mirror import Mirror

    mirror = Mirror(gitcmd.Remote.of(example_url), parse(example_url).cache_key)
    os.makedirs(mirror.root)
    leftover = Path(mirror.root) / (mirror.tmp_prefix + "crashed")
    (leftover / "objects").mkdir(parents=True)
    GitResolver().open(example_url, "2-train")
    assert [p.name for p in mirrors()] == [os.path.basename(mirror.path)]


def test_concurrent_first_resolution(
    tmp_path: Path, example_url: str, example_repo: Path
) -> None:
    go = tmp_path / "go"
    code = textwrap.dedent(
        f"""
        import os, sys, time
        from mlem_git.plugin import GitResolver
        while not os.path.exists({str(go)!r}):
            time.sleep(0.002)
        source = GitResolver().open({example_url!r}, sys.argv[1])
        assert source.fs.cat_file("models/rf.mlem").startswith(b"artifacts:")
        print(source.commit)
        """
    )
    revs = ["2-train", "dvc", "main"] * 2
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, rev],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        for rev in revs
    ]
    time.sleep(0.5)  # let them all start and wait at the gate
    go.touch()
    results = [p.communicate(timeout=60) for p in procs]
    for proc, (_out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
    commits = [out.strip() for out, _ in results]
    assert commits == [commit_of(example_repo, rev) for rev in revs]
    assert [p.suffix for p in mirrors()] == [".git"]


def test_non_git_folder_with_a_rev(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    (plain / "models").mkdir(parents=True)
    with pytest.raises(RevisionsNotSupportedError) as info:
        api.load_meta("models/rf", project=str(plain), rev="v1")
    assert str(info.value).startswith(
        f"--rev v1 given for {plain}, which is not a git repository"
    )
    assert "\n" not in str(info.value)

    with pytest.raises(RevisionsNotSupportedError):
        GitResolver().open(str(tmp_path / "nowhere"), "v1")
    with pytest.raises(ObjectNotFoundError):
        GitResolver().open(str(tmp_path / "nowhere.git"), None)


class TestLocalClone:
    def test_a_local_clone_without_rev_stays_local(self, example_repo: Path) -> None:
        assert get_plugin_manager().resolver_for(str(example_repo), None).name == (
            "local"
        )

    @pytest.mark.parametrize(
        "form", ["path", "file", "subfolder", "mlem04", "mlem04-rev-in-address"]
    )
    def test_forms(self, example_repo: Path, form: str) -> None:
        project, path, rev = {
            "path": (str(example_repo), "models/rf", "2-train"),
            "file": (example_repo.as_uri(), "models/rf", "2-train"),
            "subfolder": (None, str(example_repo / "models" / "rf"), "3-eval"),
            "mlem04": (f"git://{example_repo}/:2-train@", "models/rf", "2-train"),
            "mlem04-rev-in-address": (
                f"git://{example_repo}/:2-train@",
                "models/rf",
                None,
            ),
        }[form]
        model = api.load_meta(path, project=project, rev=rev)
        assert isinstance(model, MlemModel)
        assert model.artifacts["data"]["size"] == testing.EXAMPLE_MODEL_SIZE
        assert model.location is not None
        assert model.location.rev == "2-train" if form.startswith("mlem04") else rev
        assert model.location.relpath == "models/rf.mlem"

    def test_a_path_that_exists_only_at_the_rev(self, example_repo: Path) -> None:
        # the work tree is at main; .mlem/ exists only at 5-deploy-meta
        model = api.load_meta(str(example_repo / ".mlem/model/rf"), rev="5-deploy-meta")
        assert model.location is not None
        assert model.location.path == ".mlem/model/rf.mlem"

    def test_missing_rev(self, example_repo: Path) -> None:
        with pytest.raises(RevisionNotFoundError) as info:
            GitResolver().open(str(example_repo), "nope")
        assert str(info.value) == (
            f"rev nope not found in {example_repo}: no branch, tag or commit of "
            "that name"
        )

    def test_links_to_a_local_clone(self, example_repo: Path, tmp_path: Path) -> None:
        link = api.link(
            "models/rf",
            source_project=str(example_repo),
            rev="2-train",
            target=str(tmp_path / "rf"),
        )
        assert (link.project, link.rev) == (f"file://{example_repo}/", "2-train")
        model = api.load_meta(str(tmp_path / "rf"))
        assert isinstance(model, MlemModel)
        assert model.location is not None and model.location.commit == commit_of(
            example_repo, "2-train"
        )

    def test_reads_symbolic_links_inside_the_repository(self, tmp_path: Path) -> None:
        repo = tmp_path / "with-links"
        testing.commit_tree(repo, {"real/a.mlem": b"object_type: model\n"})
        (repo / "alias.mlem").symlink_to("real/a.mlem")
        testing.git("add", "alias.mlem", cwd=repo)
        testing.git("commit", "--quiet", "-m", "link", cwd=repo)
        fs = GitResolver().open(str(repo), "main").fs
        assert fs.cat_file("alias.mlem") == b"object_type: model\n"


def test_a_project_in_a_sub_folder(tmp_path: Path, daemon: testing.GitDaemon) -> None:
    files = {
        "README": b"",
        "team/proj/.mlem.yaml": b"",
        "team/proj/models/m.mlem": b"object_type: model\n",
    }
    served = Path(daemon.base) / "monorepo"
    testing.commit_tree(served, files, tag="v1")
    url = daemon.url_of("monorepo")

    link = api.link(url + "//team/proj/models/m", rev="v1", target=str(tmp_path / "m"))
    assert (link.project, link.path) == (url + "//team/proj/", "models/m.mlem")
    assert api.load_meta(str(tmp_path / "m")).type_name == "model"

    local = api.link(
        "models/m",
        source_project=str(served / "team" / "proj"),
        rev="v1",
        target=str(tmp_path / "local"),
    )
    assert (local.project, local.path) == (
        f"file://{served}/team/proj/",
        "models/m.mlem",
    )
    assert api.load_meta(str(tmp_path / "local")).type_name == "model"
