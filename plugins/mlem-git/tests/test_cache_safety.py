"""The git cache under real concurrency and real crashes.

Every count here is of git processes that really ran, read from the trace2
event files git writes (``GIT_TRACE2_EVENT`` set to a folder: one file per
git process). Slow fetches are slow for real: an ``ssh://`` remote whose
"ssh" is a small script that sleeps before it runs ``git upload-pack`` on a
local bare repository, so no network is involved.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlem import api
from mlem_git import testing
from mlem_git.mirror import cache_root

#: what the subprocesses run: follow one link, print the target's commit
LOAD = textwrap.dedent(
    """
    import os, sys, time
    gate = os.environ.get("TEST_GATE")
    while gate and not os.path.exists(gate):
        time.sleep(0.002)
    from mlem.api import load_meta
    obj = load_meta(sys.argv[1])
    print(obj.location.commit)
    """
)


@dataclass(frozen=True)
class GitRun:
    """One git process, as its trace2 events tell it."""

    name: str
    hierarchy: str
    argv: tuple[str, ...]
    code: int | None


def git_runs(folder: Path) -> list[GitRun]:
    """Every git process that wrote trace2 events into ``folder``."""
    runs = []
    for path in sorted(folder.iterdir()):
        name, hierarchy, argv, code = "", "", (), None
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a process killed while writing
            kind = event.get("event")
            if kind == "start":
                argv = tuple(event.get("argv", ()))
            elif kind == "cmd_name":
                name, hierarchy = event["name"], event.get("hierarchy", "")
            elif kind in ("exit", "atexit"):
                code = event.get("code")
        runs.append(GitRun(name, hierarchy, argv, code))
    return runs


def commits_fetched_of(runs: list[GitRun]) -> list[GitRun]:
    """The fetches that brought commits (and their trees)."""
    return [r for r in runs if _fetched(r) and _NOOP not in r.argv]


def objects_fetched_of(runs: list[GitRun]) -> list[GitRun]:
    """The fetches of objects by id (blobs), by mlem-git or git's lazy fetch."""
    return [r for r in runs if _fetched(r) and _NOOP in r.argv]


def commits_fetched(folder: Path) -> list[GitRun]:
    return commits_fetched_of(git_runs(folder))


def objects_fetched(folder: Path) -> list[GitRun]:
    return objects_fetched_of(git_runs(folder))


def _fetched(run: GitRun) -> bool:
    return run.name == "fetch" and run.code == 0


#: how a fetch of objects by id is told from a fetch of revs
_NOOP = "fetch.negotiationAlgorithm=noop"


def link_file(folder: Path, name: str, project: str, rev: str, path: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.mlem"
    target.write_text(
        f"link_type: model\nobject_type: link\npath: {path}\n"
        f"project: {project}\nrev: {rev}\n",
        encoding="utf-8",
    )
    return target


def run_load(link: Path, env: dict[str, str], **popen: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", LOAD, str(link)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
        **popen,  # type: ignore[arg-type]
    )


def leftovers() -> list[str]:
    root = Path(cache_root())
    return sorted(p.name for p in root.glob(".tmp-*")) if root.exists() else []


def test_eight_processes_share_one_fetch(
    tmp_path: Path, example_url: str, example_repo: Path
) -> None:
    link = link_file(tmp_path / "registry", "rf", example_url, "2-train", "models/rf")
    traces = tmp_path / "traces"
    traces.mkdir()
    gate = tmp_path / "go"
    env = {"GIT_TRACE2_EVENT": str(traces), "TEST_GATE": str(gate)}
    procs = [run_load(link, env) for _ in range(8)]
    time.sleep(0.5)  # all started and waiting at the gate
    gate.touch()
    results = [p.communicate(timeout=60) for p in procs]

    expected = testing.git("rev-parse", "2-train^{commit}", cwd=example_repo)
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert out.strip() == expected
    # one fetch of the commit and its trees, one of the metafile's blob
    assert len(commits_fetched(traces)) == 1, git_runs(traces)
    assert len(objects_fetched(traces)) == 1, git_runs(traces)
    assert leftovers() == []


# -- a fetch killed half-way --------------------------------------------------

#: an "ssh" that runs ``git upload-pack`` on the local path it is asked for;
#: for a ``git fetch`` (not ``ls-remote``) it first writes its pid and its
#: parent's (git's) and sleeps, as told
FAKE_SSH = """#!{python}
import os, shlex, sys, time
with open(f"/proc/{{os.getppid()}}/cmdline", "rb") as f:
    fetching = b"fetch" in f.read().split(b"\\0")
marker = os.environ.get("SLOW_GIT_MARKER")
if marker and fetching:
    with open(marker + ".tmp", "w") as f:
        f.write(f"{{os.getpid()}} {{os.getppid()}}")
    os.replace(marker + ".tmp", marker)
    time.sleep(float(os.environ.get("SLOW_GIT_SECONDS", "0")))
path = shlex.split(sys.argv[-1])[-1]
os.execvp("git", ["git", "upload-pack", path])
"""

#: a reference-transaction hook that sleeps while git holds the ref locks
HOLD_REFS = """#!{python}
import os, sys, time
marker = os.environ.get("HOLD_REFS_MARKER")
if marker and sys.argv[1] == "prepared":
    with open(marker + ".tmp", "w") as f:
        f.write(f"{{os.getpid()}} {{os.getppid()}}")
    os.replace(marker + ".tmp", marker)
    time.sleep(60)
sys.stdin.read()
"""

MODEL = b"object_type: model\nartifacts: {}\n"


def script(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.format(python=sys.executable), encoding="utf-8")
    path.chmod(0o755)
    return path


@dataclass
class SshRepo:
    """A repository reached through the fake ssh, and a link into it."""

    work: Path
    bare: Path
    url: str
    registry: Path

    def release(self, tag: str, content: bytes) -> str:
        """Commit ``content`` as the model, tag it, push it to the bare copy."""
        files = {".mlem.yaml": b"", "models/m.mlem": content}
        if testing.git("tag", "--list", tag, cwd=self.work):
            testing.git("tag", "--delete", tag, cwd=self.work)  # moves it
        commit = testing.commit_tree(self.work, files, tag, tag=tag)
        testing.git(
            "push", "--quiet", "--force", "--tags", str(self.bare), cwd=self.work
        )
        return commit

    def link(self, rev: str) -> Path:
        return link_file(self.registry, f"m-{rev}", self.url, rev, "models/m")


@pytest.fixture
def ssh_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SshRepo:
    work = tmp_path / "work"
    testing.commit_tree(work, {".mlem.yaml": b"", "models/m.mlem": MODEL}, tag="v1")
    bare = testing.serve_copy(work, tmp_path / "served", "team.git")
    monkeypatch.setenv("GIT_SSH", str(script(tmp_path / "bin" / "ssh", FAKE_SSH)))
    monkeypatch.setenv("GIT_SSH_VARIANT", "simple")
    return SshRepo(work, bare, f"ssh://localhost{bare}", tmp_path / "registry")


def wait_for(condition: object, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {condition}")
        time.sleep(0.01)


def is_gone(pid: int) -> bool:
    """Whether ``pid`` has ended (a zombie nobody reaped has)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@contextlib.contextmanager
def killed_midway(link: Path, env: dict[str, str], marker: Path) -> Iterator[int]:
    """Start a process that follows ``link``; once ``marker`` says the slow
    part runs, SIGKILL the process's group. Yields git's pid; the slow helper
    (this test's own script, left sleeping) is killed at the end."""
    proc = run_load(link, {**env}, start_new_session=True)
    helper = None
    try:
        wait_for(lambda: marker.exists() or proc.poll() is not None)
        assert proc.poll() is None, proc.communicate()
        helper, git_pid = map(int, marker.read_text().split())
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        yield git_pid
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
        if helper is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(helper, signal.SIGKILL)


def git_lock_files(mirror: Path) -> list[str]:
    return sorted(str(p.relative_to(mirror)) for p in mirror.rglob("*.lock"))


def only_mirror() -> Path:
    (mirror,) = Path(cache_root()).glob("*.git")
    return mirror


linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"),
    reason="git dies with mlem through PR_SET_PDEATHSIG; the test reads /proc",
)


@linux_only
def test_killed_while_building_a_mirror(ssh_repo: SshRepo, tmp_path: Path) -> None:
    link = ssh_repo.link("v1")
    marker = tmp_path / "fetching"
    slow = {"SLOW_GIT_SECONDS": "60", "SLOW_GIT_MARKER": str(marker)}
    with killed_midway(link, slow, marker) as git_pid:
        assert leftovers(), "the build folder exists while git fetches"
        # git does not outlive the process that started it
        wait_for(lambda: is_gone(git_pid), 10)

    again = run_load(link, {})
    out, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    assert out.strip() == testing.git("rev-parse", "v1^{commit}", cwd=ssh_repo.work)
    assert leftovers() == []
    assert git_lock_files(only_mirror()) == []


@linux_only
def test_killed_while_fetching_into_a_mirror(ssh_repo: SshRepo, tmp_path: Path) -> None:
    assert api.load_meta(ssh_repo.link("v1")).location is not None  # the mirror
    second = ssh_repo.release("v2", MODEL + b"description: two\n")
    link = ssh_repo.link("v2")
    marker = tmp_path / "fetching"
    slow = {"SLOW_GIT_SECONDS": "60", "SLOW_GIT_MARKER": str(marker)}
    with killed_midway(link, slow, marker) as git_pid:
        wait_for(lambda: is_gone(git_pid), 10)

    again = run_load(link, {})
    out, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    assert out.strip() == second
    assert leftovers() == []
    assert git_lock_files(only_mirror()) == []


@linux_only
def test_a_ref_lock_left_by_a_killed_git_is_cleared(
    ssh_repo: SshRepo, tmp_path: Path
) -> None:
    api.load_meta(ssh_repo.link("v1"))
    ssh_repo.release("v2", MODEL + b"description: two\n")
    link = ssh_repo.link("v2")
    hooks = tmp_path / "hooks"
    script(hooks / "reference-transaction", HOLD_REFS)
    marker = tmp_path / "updating-refs"
    hold = {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "core.hooksPath",
        "GIT_CONFIG_VALUE_0": str(hooks),
        "HOLD_REFS_MARKER": str(marker),
    }
    # killed while git holds the lock of refs/tags/v2: git cannot remove it
    with killed_midway(link, hold, marker) as git_pid:
        wait_for(lambda: is_gone(git_pid), 10)
    mirror = only_mirror()
    assert git_lock_files(mirror) == ["refs/tags/v2.lock"]

    # v2 moves: updating refs/tags/v2 in the mirror needs that lock
    moved = ssh_repo.release("v2", MODEL + b"description: moved\n")
    again = run_load(link, {})
    out, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    assert out.strip() == moved
    assert git_lock_files(mirror) == []


# -- one ls-remote per repository for a whole check ---------------------------


def test_check_lists_each_repository_once(tmp_path: Path) -> None:
    """30 links, locked and not, into 2 repositories at 3 tags each."""
    served = tmp_path / "served"
    served.mkdir()
    revs = ("v1", "v2", "v3")
    registry = tmp_path / "registry"
    api.init(str(registry))
    with testing.GitDaemon(served) as daemon:
        for repo in ("alpha", "beta"):
            work = tmp_path / "work" / repo
            for rev in revs:
                model = MODEL + f"description: {repo} {rev}\n".encode()
                files = {".mlem.yaml": b"", "models/m.mlem": model}
                commit = testing.commit_tree(work, files, rev, tag=rev)
                for i in range(5):
                    lock = (
                        f"lock:\n  commit: {commit}\n"
                        f"  sha256: {hashlib.sha256(model).hexdigest()}\n"
                        if i % 2
                        else ""
                    )
                    (registry / f"{repo}-{rev}-{i}.mlem").write_text(
                        f"link_type: model\n{lock}object_type: link\n"
                        f"path: models/m.mlem\nproject: {daemon.url_of(repo)}\n"
                        f"rev: {rev}\n",
                        encoding="utf-8",
                    )
            testing.serve_copy(work, served, repo)

        def check(name: str) -> tuple[list[GitRun], str]:
            traces = tmp_path / name
            traces.mkdir()
            result = subprocess.run(
                [sys.executable, "-m", "mlem", "check", str(registry)],
                capture_output=True,
                text=True,
                env={**os.environ, "GIT_TRACE2_EVENT": str(traces)},
                timeout=120,
            )
            assert result.returncode == 0, result.stdout + result.stderr
            return git_runs(traces), result.stdout

        cold, out = check("cold")
        assert "30 links, 30 ok, 0 not ok" in out
        assert sum(r.name == "ls-remote" for r in cold) == 2
        # per repository, one fetch of its three revs (commits and trees),
        # and one of its metafile at all three
        revs_fetched = commits_fetched_of(cold)
        assert len(revs_fetched) == 2
        for run in revs_fetched:
            assert {f"+refs/tags/{rev}:refs/tags/{rev}" for rev in revs} <= set(
                run.argv
            )
        objects = objects_fetched_of(cold)
        assert len(objects) == 2
        assert all(len([a for a in r.argv if len(a) == 40]) == 3 for r in objects)

        warm, out = check("warm")
        assert "30 links, 30 ok, 0 not ok" in out
        assert sum(r.name == "ls-remote" for r in warm) == 2
        assert [r for r in warm if r.name == "fetch"] == []


def test_a_remote_that_is_down_is_tried_once_per_check(tmp_path: Path) -> None:
    url = f"git://127.0.0.1:{testing.free_port()}/gone"
    registry = tmp_path / "registry"
    api.init(str(registry))
    for i in range(6):
        link_file(registry, f"gone-{i}", url, ("v1", "v2")[i % 2], "models/m")
    traces = tmp_path / "traces"
    traces.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "mlem", "check", str(registry)],
        capture_output=True,
        text=True,
        env={**os.environ, "GIT_TRACE2_EVENT": str(traces)},
        timeout=120,
    )
    assert result.returncode == 1
    assert "6 links, 0 ok, 6 not ok" in result.stdout
    assert result.stdout.count("unreachable") == 6
    assert [r.name for r in git_runs(traces)] == ["ls-remote"]
