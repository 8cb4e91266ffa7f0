"""A read-only file system over the tree of one commit.

It implements the core's :class:`~mlem.resolver.FileSystem` surface with
fsspec's method names, but without fsspec (importing it costs 150 ms). Paths
are relative to the repository's root, ``/``-separated, with ``""`` for the
root itself.

The tree is listed once with ``git ls-tree -r -t`` (names and object ids
only: ``--long`` would need every blob's size, which in a partial mirror means
fetching every blob). File contents come from one long-lived
``git cat-file --batch`` process per repository, which fetches a blob the
mirror lacks from the remote the first time it is read.
"""

from __future__ import annotations

import io
import logging
import posixpath
import subprocess
import tempfile
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import IO, Any

from mlem.errors import StorageAccessError, StorageError
from mlem_git import gitcmd

logger = logging.getLogger(__name__)

_SYMLINK_MODE = "120000"
_MAX_SYMLINKS = 8


@dataclass(frozen=True)
class Entry:
    """One entry of a tree: a file (``blob``), a folder (``tree``) or a
    submodule (``commit``)."""

    mode: str
    kind: str
    oid: str


class Tree:
    """Every path of one commit's tree, listed once."""

    def __init__(self, entries: dict[str, Entry]) -> None:
        self.entries = entries
        self.children: dict[str, list[str]] = {"": []}
        for path in entries:
            self.children.setdefault(posixpath.dirname(path), []).append(path)
        for names in self.children.values():
            names.sort()

    @classmethod
    def read(
        cls, git_dir: str, commit: str, remote: gitcmd.Remote | None, what: str
    ) -> Tree:
        result = gitcmd.run(
            ["ls-tree", "-r", "-t", "-z", "--full-tree", commit],
            git_dir=git_dir,
            remote=remote,
            timeout=gitcmd.network_timeout(),
            what=f"cannot list {what}",
        )
        if not result.ok:
            raise gitcmd.fail(result, f"cannot list {what}")
        entries = {}
        for record in result.stdout.split(b"\0"):
            if not record:
                continue
            meta, _, name = record.partition(b"\t")
            mode, kind, oid = meta.decode("ascii").split(" ")
            entries[name.decode("utf-8", "surrogateescape")] = Entry(mode, kind, oid)
        return cls(entries)


# commits never change, so their trees are kept for the life of the process
_TREES: OrderedDict[tuple[str, str], Tree] = OrderedDict()
_TREES_KEPT = 32
_TREES_LOCK = threading.Lock()


def tree_of(git_dir: str, commit: str, remote: gitcmd.Remote | None, what: str) -> Tree:
    """The tree of ``commit``, listed at most once per process."""
    key = (git_dir, commit)
    with _TREES_LOCK:
        if key in _TREES:
            _TREES.move_to_end(key)
            return _TREES[key]
    tree = Tree.read(git_dir, commit, remote, what)
    with _TREES_LOCK:
        _TREES[key] = tree
        while len(_TREES) > _TREES_KEPT:
            _TREES.popitem(last=False)
    return tree


class CatFile:
    """A ``git cat-file --batch`` process, started on first use.

    Reading a blob the mirror lacks makes git fetch it from the remote, so a
    read may take a while: each one is bounded by the network time limit.
    """

    def __init__(self, git_dir: str, remote: gitcmd.Remote | None) -> None:
        self.git_dir = git_dir
        self.remote = remote
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, _stop, self.__dict__)

    def read(self, oid: str, what: str) -> bytes:
        """The content of the object ``oid``; ``what`` names it in errors."""
        with self._lock:
            proc = self._start()
            assert proc.stdin is not None and proc.stdout is not None
            # a stuck lazy fetch would block readline() for ever: end it
            limit = gitcmd.network_timeout()
            expired = threading.Event()

            def expire() -> None:
                expired.set()
                gitcmd.kill_group(proc)

            timer = threading.Timer(limit, expire)
            timer.start()
            header = b""
            try:
                proc.stdin.write(oid.encode("ascii") + b"\n")
                proc.stdin.flush()
                header = proc.stdout.readline()
                parts = header.split()
                if len(parts) == 3:
                    size = int(parts[2])
                    data = proc.stdout.read(size + 1)[:size]
                    if len(data) == size:
                        return data
            except (OSError, ValueError):
                logger.debug("git cat-file failed on %s", what, exc_info=True)
            finally:
                timer.cancel()
            reason = self._failure()
            if expired.is_set():
                reason = (
                    f"no answer within {limit:g} s; is the host reachable? "
                    f"(set {gitcmd.TIMEOUT_ENV} to wait longer)"
                )
            elif not reason and header.endswith(b" missing\n"):
                reason = "the object is missing from the repository"
            elif not reason:
                reason = "git cat-file stopped unexpectedly"
            raise StorageError(f"cannot read {what}: {reason}")

    def close(self) -> None:
        """End the process; the next read starts another."""
        with self._lock:
            _stop(self.__dict__)

    def _start(self) -> subprocess.Popen[bytes]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        _stop(self.__dict__)
        self._stderr = tempfile.TemporaryFile()
        try:
            self._proc = subprocess.Popen(
                ["git", f"--git-dir={self.git_dir}", "cat-file", "--batch"],
                env=gitcmd.git_env(self.remote),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                start_new_session=True,
            )
        except FileNotFoundError:
            raise StorageError(
                "mlem-git needs the git command, and it is not on PATH; install git"
            ) from None
        return self._proc

    def _failure(self) -> str:
        """Why the last read failed, from git's stderr; restart next time."""
        text = ""
        if self._stderr is not None:
            self._stderr.seek(0)
            text = self._stderr.read().decode("utf-8", "replace")
            self._stderr.seek(0)
            self._stderr.truncate()
        if self.remote is not None:
            text = self.remote.scrub(text)
        _stop(self.__dict__)
        return gitcmd.Result(1, b"", text).message() if text.strip() else ""


def _stop(state: dict[str, Any]) -> None:
    """End a :class:`CatFile` process (also run when the object is collected)."""
    proc = state.get("_proc")
    if proc is not None:
        try:
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    stderr = state.get("_stderr")
    if stderr is not None:
        stderr.close()
    state["_proc"] = None
    state["_stderr"] = None


# one reader per repository and remote, shared by every file system on it; a
# long-running process that reads many repositories keeps the last few open
_READERS: OrderedDict[tuple[str, str | None], CatFile] = OrderedDict()
_READERS_KEPT = 8
_READERS_LOCK = threading.Lock()


def reader_for(git_dir: str, remote: gitcmd.Remote | None) -> CatFile:
    key = (git_dir, remote.url if remote is not None else None)
    with _READERS_LOCK:
        if key in _READERS:
            _READERS.move_to_end(key)
            return _READERS[key]
        reader = _READERS[key] = CatFile(git_dir, remote)
        while len(_READERS) > _READERS_KEPT:
            _, evicted = _READERS.popitem(last=False)
            evicted.close()
        return reader


class GitTreeFS:
    """The files of one commit, read-only; paths relative to the repository."""

    protocol = ("git",)
    sep = "/"

    def __init__(
        self,
        git_dir: str,
        commit: str,
        remote: gitcmd.Remote | None = None,
        where: str = "",
    ) -> None:
        self.git_dir = git_dir
        self.commit = commit
        self.remote = remote
        #: the repository and rev, for messages
        self.where = where or f"{git_dir} at {commit}"
        self._tree: Tree | None = None

    # reading

    def cat_file(
        self, path: str, start: int | None = None, end: int | None = None
    ) -> bytes:
        name = self._norm(path)
        entry = self._entry(name)
        for _ in range(_MAX_SYMLINKS):
            if entry is None:
                raise FileNotFoundError(f"{name} is not in {self.where}")
            if entry.kind == "tree":
                raise IsADirectoryError(f"{name} is a folder in {self.where}")
            if entry.kind != "blob":
                raise FileNotFoundError(f"{name} is a submodule in {self.where}")
            if entry.mode != _SYMLINK_MODE:
                break
            target = self._read(entry, name).decode("utf-8", "surrogateescape")
            name = self._norm(posixpath.join(posixpath.dirname(name), target))
            entry = self._entry(name)
        else:
            raise FileNotFoundError(f"{path}: too many symbolic links in {self.where}")
        data = self._read(entry, name)
        return data[start:end] if start is not None or end is not None else data

    def open(self, path: str, mode: str = "rb", **kwargs: Any) -> IO[Any]:
        if "r" not in mode or "+" in mode:
            self._refuse(path)
        data = self.cat_file(path)
        if "b" in mode:
            return io.BytesIO(data)
        return io.StringIO(data.decode(kwargs.get("encoding") or "utf-8"))

    def exists(self, path: str) -> bool:
        name = _key(path)
        return name is not None and (name == "" or self._entry(name) is not None)

    def isdir(self, path: str) -> bool:
        name = _key(path)
        if name is None:
            return False
        entry = self._entry(name)
        return name == "" or (entry is not None and entry.kind == "tree")

    def isfile(self, path: str) -> bool:
        name = _key(path)
        entry = self._entry(name) if name else None
        return entry is not None and entry.kind == "blob"

    def info(self, path: str) -> dict[str, Any]:
        """fsspec's ``info``; ``size`` is None for a file whose content was
        never read (learning it would fetch the blob)."""
        name = self._norm(path)
        if name == "":
            return {"name": "", "type": "directory", "size": 0}
        entry = self._entry(name)
        if entry is None:
            raise FileNotFoundError(f"{name} is not in {self.where}")
        kind = {"tree": "directory", "blob": "file"}.get(entry.kind, "other")
        return {
            "name": name,
            "type": kind,
            "size": 0 if kind == "directory" else None,
            "mode": entry.mode,
            "oid": entry.oid,
        }

    def ls(self, path: str = "", detail: bool = False) -> list[Any]:
        name = self._norm(path)
        if self.isfile(name):
            names = [name]
        elif self.isdir(name):
            names = list(self._listing().children.get(name, []))
        else:
            raise FileNotFoundError(f"{name} is not in {self.where}")
        return [self.info(n) for n in names] if detail else names

    def find(self, path: str = "") -> list[str]:
        name = _key(path)
        if name is None:
            return []
        if self.isfile(name):
            return [name]
        prefix = name + "/" if name else ""
        return sorted(
            p
            for p, e in self._listing().entries.items()
            if e.kind == "blob" and p.startswith(prefix)
        )

    # writing: never

    def pipe_file(self, path: str, value: bytes) -> None:
        self._refuse(path)

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        self._refuse(path)

    def rm(self, path: str, recursive: bool = False) -> None:
        self._refuse(path)

    def _refuse(self, path: str) -> None:
        raise StorageAccessError(
            f"cannot write {path} in {self.where}: mlem-git reads git "
            "repositories and never writes them; write in a clone and commit"
        )

    # helpers

    def _listing(self) -> Tree:
        if self._tree is None:
            self._tree = tree_of(self.git_dir, self.commit, self.remote, self.where)
        return self._tree

    def _entry(self, name: str) -> Entry | None:
        return self._listing().entries.get(name) if name else None

    def _read(self, entry: Entry, name: str) -> bytes:
        logger.debug("reading %s (%s) in %s", name, entry.oid, self.git_dir)
        reader = reader_for(self.git_dir, self.remote)
        return reader.read(entry.oid, f"{name} in {self.where}")

    def _norm(self, path: str) -> str:
        name = _key(path)
        if name is None:
            raise FileNotFoundError(f"{path} is outside {self.where}")
        return name


def _key(path: str) -> str | None:
    """``path`` as a key of the tree (``""`` for the root); None outside it."""
    parts: list[str] = []
    for part in str(path).split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts)
