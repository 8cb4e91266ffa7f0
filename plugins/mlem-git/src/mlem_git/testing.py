"""Helpers for tests that need real git repositories on 127.0.0.1.

Nothing here is imported by the resolver itself. Typical use in a test suite::

    from mlem_git import testing

    @pytest.fixture(scope="session")
    def served(tmp_path_factory):
        base = tmp_path_factory.mktemp("served")
        testing.serve_example(base, build_repo_script)
        with testing.GitDaemon(base) as daemon:
            yield daemon

    @pytest.fixture(autouse=True)
    def offline_github(served, tmp_path, monkeypatch):
        env = testing.git_env(
            tmp_path, {testing.EXAMPLE_URL: served.url_of(testing.EXAMPLE_NAME)}
        )
        for name, value in env.items():
            monkeypatch.setenv(name, value)

after which ``https://github.com/iterative/example-mlem-get-started`` resolves
to the local copy, through git's own ``url.<base>.insteadOf``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

from mlem.loopback import free_port, stop_process, wait_for_port

#: the public example project, as links name it
EXAMPLE_URL = "https://github.com/iterative/example-mlem-get-started"
#: the folder name it is served under
EXAMPLE_NAME = "example-mlem-get-started"
#: what ``models/rf.mlem`` in the example says about its artifact
EXAMPLE_MODEL_HASH = "96f5441d1cfa935583836702a3edd3d1"
EXAMPLE_MODEL_SIZE = 163671

#: a fixed identity and dates, so commits made by tests are reproducible
COMMIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_AUTHOR_DATE": "2024-01-01T00:00:00+00:00",
    "GIT_COMMITTER_DATE": "2024-01-01T00:00:00+00:00",
}


def git(
    *args: str | os.PathLike[str], cwd: str | os.PathLike[str] | None = None
) -> str:
    """Run git with a fixed identity; its stdout, stripped. Fails loudly."""
    result = subprocess.run(
        ["git", *map(str, args)],
        cwd=cwd,
        env={**os.environ, **COMMIT_ENV},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(map(str, args))}: {result.stderr.strip()}")
    return result.stdout.strip()


def allow_partial_fetch(bare: str | os.PathLike[str]) -> None:
    """Let clients of ``bare`` fetch with a filter and fetch any commit by sha."""
    git("config", "uploadpack.allowFilter", "true", cwd=bare)
    git("config", "uploadpack.allowAnySHA1InWant", "true", cwd=bare)


def serve_copy(
    repo: str | os.PathLike[str], base: str | os.PathLike[str], name: str
) -> Path:
    """A bare copy of ``repo`` at ``base/name``, ready to be served."""
    dest = Path(base) / name
    git("clone", "--quiet", "--bare", "--no-local", repo, dest)
    allow_partial_fetch(dest)
    return dest


def build_example_repo(
    dest: str | os.PathLike[str], script: str | os.PathLike[str]
) -> Path:
    """Build the get-started example as a git repository at ``dest``.

    ``script`` is the fixtures' ``get-started/build-repo``.
    """
    dest = Path(dest).resolve()
    subprocess.run(
        [sys.executable, str(script), str(dest)],
        check=True,
        capture_output=True,
        env={**os.environ, **COMMIT_ENV},
    )
    return dest


def serve_example(base: str | os.PathLike[str], script: str | os.PathLike[str]) -> Path:
    """Build the example and put a servable bare copy at ``base/EXAMPLE_NAME``."""
    work = Path(base).resolve().parent / (Path(base).name + "-work")
    work.mkdir(parents=True, exist_ok=True)
    repo = build_example_repo(work / EXAMPLE_NAME, script)
    return serve_copy(repo, base, EXAMPLE_NAME)


def commit_tree(
    repo: str | os.PathLike[str],
    files: Mapping[str, bytes],
    message: str = "commit",
    tag: str | None = None,
) -> str:
    """Make the work tree of ``repo`` exactly ``files``, commit, maybe tag."""
    root = Path(repo)
    if not (root / ".git").exists():
        root.mkdir(parents=True, exist_ok=True)
        git("init", "--quiet", "--initial-branch=main", cwd=root)
    git("rm", "-r", "--quiet", "--cached", "--ignore-unmatch", ".", cwd=root)
    for path in root.rglob("*"):
        if ".git" not in path.relative_to(root).parts and path.is_file():
            path.unlink()
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    git("add", "--all", cwd=root)
    git("commit", "--quiet", "--allow-empty", "-m", message, cwd=root)
    if tag is not None:
        git("tag", "--annotate", "-m", tag, tag, cwd=root)
    return git("rev-parse", "HEAD", cwd=root)


class GitDaemon:
    """``git daemon`` serving every repository under ``base`` on 127.0.0.1.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. The
    daemon reads no user or system git config.
    """

    def __init__(self, base: str | os.PathLike[str]) -> None:
        self.base = Path(base).resolve()
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``git://127.0.0.1:PORT``: append ``/<name>`` for a repository."""
        return f"git://127.0.0.1:{self.port}"

    def url_of(self, name: str) -> str:
        return f"{self.url}/{name}"

    def start(self) -> GitDaemon:
        for _ in range(3):
            self.port = free_port()
            self._proc = subprocess.Popen(
                [
                    "git",
                    "daemon",
                    "--reuseaddr",
                    "--export-all",
                    "--informative-errors",
                    f"--base-path={self.base}",
                    "--listen=127.0.0.1",
                    f"--port={self.port}",
                    str(self.base),
                ],
                env={
                    **os.environ,
                    "GIT_CONFIG_NOSYSTEM": "1",
                    "GIT_CONFIG_GLOBAL": os.devnull,
                },
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                # its own process group: stop() ends the daemon and the
                # upload-pack processes it forked, and nothing else
                start_new_session=True,
            )
            try:
                wait_for_port(self.port, 10, self._proc)
                return self
            except (RuntimeError, TimeoutError):
                self.stop()
        raise RuntimeError(f"git daemon did not start serving {self.base}")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_process(proc)

    def __enter__(self) -> GitDaemon:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def serve_git(base: str | os.PathLike[str]) -> Iterator[str]:
    """Serve the repositories under ``base``; yields ``git://127.0.0.1:PORT``."""
    with GitDaemon(base) as daemon:
        yield daemon.url


def write_git_config(
    path: str | os.PathLike[str], insteadof: Mapping[str, str] | None = None
) -> Path:
    """A git config file that sends each key of ``insteadof`` to its value.

    ``{"https://github.com/org/repo": "git://127.0.0.1:9418/repo"}`` makes git
    fetch the first from the second (``url.<value>.insteadOf = <key>``).
    """
    path = Path(path)
    lines = ["[user]", "\tname = Test", "\temail = test@example.com"]
    for original, local in (insteadof or {}).items():
        lines += [f'[url "{local}"]', f"\tinsteadOf = {original}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def git_env(
    tmp: str | os.PathLike[str], insteadof: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Environment variables for isolated git and MLEM under the folder ``tmp``.

    A private global git config (with ``insteadof`` rewrites), no system
    config, and a fresh MLEM cache. Set them with ``monkeypatch.setenv`` or
    pass them to a subprocess; see also :func:`isolated_git`.
    """
    tmp = Path(tmp)
    tmp.mkdir(parents=True, exist_ok=True)
    config = write_git_config(tmp / "gitconfig", insteadof)
    return {
        "GIT_CONFIG_GLOBAL": str(config),
        "GIT_CONFIG_NOSYSTEM": "1",
        "MLEM_CACHE_DIR": str(tmp / "mlem-cache"),
    }


@contextlib.contextmanager
def isolated_git(
    tmp: str | os.PathLike[str], insteadof: Mapping[str, str] | None = None
) -> Iterator[dict[str, str]]:
    """Set :func:`git_env` in ``os.environ`` while the block runs."""
    env = git_env(tmp, insteadof)
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield env
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
