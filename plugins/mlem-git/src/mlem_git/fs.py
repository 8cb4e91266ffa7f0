"""A read-only file system over the tree of one commit.

It implements the core's :class:`~mlem.resolver.FileSystem` surface with
fsspec's method names, but without fsspec (importing it costs 150 ms). Paths
are relative to the repository's root, ``/``-separated, with ``""`` for the
root itself.

Everything is read through one long-lived ``git cat-file --batch`` process
per repository: a path is looked up by reading the trees on its way (kept by
id, so commits share them), and a file by reading its blob. Only
:meth:`GitTreeFS.find` lists a whole commit, with one ``git ls-tree -r -t``
(names and object ids only: ``--long`` would need every blob's size, which in
a partial mirror means fetching every blob). In a cached mirror that
process never fetches: a blob the mirror lacks is fetched by
:meth:`mlem_git.mirror.Mirror.fetch_objects`, under the mirror's lock, the
first time it is read.
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
from typing import IO, TYPE_CHECKING, Any

from mlem.errors import StorageAccessError, StorageError
from mlem_git import gitcmd, snapshot

if TYPE_CHECKING:
    from mlem_git.mirror import Mirror

logger = logging.getLogger(__name__)

_SYMLINK_MODE = "120000"
#: the names of files MLEM reads: metafiles and project files
_METAFILE_SUFFIXES = (".mlem", ".mlem.yaml")
#: what git says when a reader that may not fetch meets a missing object
_LAZY_FETCH_REFUSED = "from promisor remote"
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
        """List ``commit``; ``remote`` None for a mirror, whose fetches
        always bring trees, so that listing one never fetches."""
        result = gitcmd.run(
            ["ls-tree", "-r", "-t", "-z", "--full-tree", commit],
            git_dir=git_dir,
            remote=remote,
            timeout=gitcmd.network_timeout(),
            what=f"cannot list {what}",
            lazy_fetch=remote is not None,
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


class MissingObject(StorageError):
    """An object is not in a mirror (whose reader never fetches)."""


class CatFile:
    """A ``git cat-file --batch`` process, started on first use.

    With ``lazy_fetch`` (a local repository, which may be a partial clone of
    its own), git fetches a missing blob from the repository's remote, so a
    read may take a while: each one is bounded by the network time limit.
    Without it (a cached mirror), a missing object is a
    :class:`MissingObject`, for the caller to fetch under the mirror's lock.
    """

    def __init__(
        self, git_dir: str, remote: gitcmd.Remote | None, lazy_fetch: bool = True
    ) -> None:
        self.git_dir = git_dir
        self.remote = remote
        self.lazy_fetch = lazy_fetch
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, _stop, self.__dict__)

    def read(self, oid: str, what: str) -> bytes:
        """The content of the object ``oid``; ``what`` names it in errors."""
        found = self.lookup(oid, what)
        if found is not None:
            return found[1]
        if not self.lazy_fetch:
            raise MissingObject(f"cannot read {what}: {oid} is not in the cache")
        raise StorageError(
            f"cannot read {what}: the object is missing from the repository"
        )

    def lookup(self, name: str, what: str) -> tuple[str, bytes] | None:
        """The type and content of the object ``name`` (an object id, or
        anything ``git cat-file`` takes); None if there is no such object
        (without lazy fetch: none in this repository)."""
        with self._lock:
            proc = self._start()
            assert proc.stdin is not None and proc.stdout is not None
            limit = gitcmd.network_timeout()
            expired = threading.Event()
            timer: threading.Timer | None = None
            if self.lazy_fetch:
                # a stuck lazy fetch would block readline() for ever: end it

                def expire() -> None:
                    expired.set()
                    gitcmd.kill_group(proc)

                timer = threading.Timer(limit, expire)
                timer.start()
            try:
                proc.stdin.write(name.encode("utf-8", "surrogateescape") + b"\n")
                proc.stdin.flush()
                header = proc.stdout.readline()
                parts = header.split()
                if len(parts) == 3:
                    size = int(parts[2])
                    data = proc.stdout.read(size + 1)[:size]
                    if len(data) == size:
                        return parts[1].decode("ascii"), data
                elif header.endswith((b" missing\n", b" ambiguous\n")):
                    return None
            except (OSError, ValueError):
                logger.debug("git cat-file failed on %s", what, exc_info=True)
            finally:
                if timer is not None:
                    timer.cancel()
            stderr = self._failure()
            if not self.lazy_fetch and _LAZY_FETCH_REFUSED in stderr:
                # git that may not fetch a missing object gives up on it
                return None
            reason = gitcmd.Result(1, b"", stderr).message() if stderr.strip() else ""
            if expired.is_set():
                reason = (
                    f"no answer within {limit:g} s; is the host reachable? "
                    f"(set {gitcmd.TIMEOUT_ENV} to wait longer)"
                )
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
                env=gitcmd.git_env(self.remote, lazy_fetch=self.lazy_fetch),
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
        """What git said since the last failure (scrubbed); restart next
        time."""
        text = ""
        if self._stderr is not None:
            self._stderr.seek(0)
            text = self._stderr.read().decode("utf-8", "replace")
            self._stderr.seek(0)
            self._stderr.truncate()
        if self.remote is not None:
            text = self.remote.scrub(text)
        _stop(self.__dict__)
        return text


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


class Folders:
    """Trees read one by one through a repository's :class:`CatFile`.

    Looking up a path costs one short read per folder on the way, with no
    process started; trees are kept by id, so the folders two commits share
    are read once.
    """

    def __init__(self, reader: CatFile) -> None:
        self.reader = reader

    def root_of(self, commit: str, what: str) -> str:
        """The id of ``commit``'s root tree."""
        with _FOLDERS_LOCK:
            root = _ROOTS.get(commit)
        if root is not None:
            return root
        found = self.reader.lookup(commit, f"commit {commit} of {what}")
        if found is None or found[0] != "commit":
            raise StorageError(f"cannot read {what}: no commit {commit} there")
        header = found[1].split(b"\n", 1)[0]
        if not header.startswith(b"tree "):
            raise StorageError(f"cannot read {what}: commit {commit} is malformed")
        root = header[len(b"tree ") :].decode("ascii")
        with _FOLDERS_LOCK:
            _ROOTS[commit] = root
            while len(_ROOTS) > _FOLDERS_KEPT:
                _ROOTS.popitem(last=False)
        return root

    def folder(self, root: str, name: str, what: str) -> dict[str, Entry]:
        """The entries of the folder ``name`` under the tree ``root``
        (``{}`` if it is no folder there)."""
        folder = self.tree(root, what)
        for part in name.split("/") if name else ():
            entry = folder.get(part)
            if entry is None or entry.kind != "tree":
                return {}
            folder = self.tree(entry.oid, what)
        return folder

    def tree(self, oid: str, what: str) -> dict[str, Entry]:
        """The entries of the tree ``oid``, by name."""
        with _FOLDERS_LOCK:
            entries = _FOLDERS.get(oid)
            if entries is not None:
                _FOLDERS.move_to_end(oid)
                return entries
        found = self.reader.lookup(oid, f"tree {oid} of {what}")
        if found is None or found[0] != "tree":
            raise StorageError(f"cannot read {what}: tree {oid} is not there")
        entries = _parse_tree(found[1], len(oid) // 2)
        with _FOLDERS_LOCK:
            _FOLDERS[oid] = entries
            while len(_FOLDERS) > _FOLDERS_KEPT:
                _FOLDERS.popitem(last=False)
        return entries


def _parse_tree(data: bytes, oid_bytes: int) -> dict[str, Entry]:
    """A tree object's entries: ``<mode> <name>\\0<binary id>``, repeated."""
    entries = {}
    at = 0
    while at < len(data):
        space = data.index(b" ", at)
        nul = data.index(b"\0", space)
        mode = data[at:space].decode("ascii").zfill(6)
        name = data[space + 1 : nul].decode("utf-8", "surrogateescape")
        oid = data[nul + 1 : nul + 1 + oid_bytes].hex()
        at = nul + 1 + oid_bytes
        entries[name] = Entry(mode, _KINDS.get(mode, "blob"), oid)
    return entries


_KINDS = {"040000": "tree", "160000": "commit"}
# trees and commits never change: kept by id for the life of the process
_FOLDERS: OrderedDict[str, dict[str, Entry]] = OrderedDict()
_ROOTS: OrderedDict[str, str] = OrderedDict()
_FOLDERS_KEPT = 4096
_FOLDERS_LOCK = threading.Lock()


# one reader per repository and remote, shared by every file system on it; a
# long-running process that reads many repositories keeps the last few open
_READERS: OrderedDict[tuple[str, str | None, bool], CatFile] = OrderedDict()
_READERS_KEPT = 8
_READERS_LOCK = threading.Lock()


def reader_for(
    git_dir: str, remote: gitcmd.Remote | None, lazy_fetch: bool = True
) -> CatFile:
    key = (git_dir, remote.url if remote is not None else None, lazy_fetch)
    with _READERS_LOCK:
        if key in _READERS:
            _READERS.move_to_end(key)
            return _READERS[key]
        reader = _READERS[key] = CatFile(git_dir, remote, lazy_fetch)
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
        mirror: Mirror | None = None,
        pending: str | None = None,
    ) -> None:
        self.git_dir = git_dir
        self.commit = commit
        self.remote = remote
        #: the cached mirror ``git_dir`` is, which fetches what it lacks
        self.mirror = mirror
        #: the ref that brings ``commit`` into the mirror, if not fetched yet
        self.pending = pending
        #: the commit's root tree, once known
        self._root: str | None = None
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
            prefix = name + "/" if name else ""
            names = [prefix + child for child in sorted(self._folder_at(name))]
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

    def _ready(self) -> None:
        """Fetch the commit, if its resolution left that for the first read."""
        if self.pending is not None and self.mirror is not None:
            self.mirror.ensure(self.commit, self.pending, f"cannot fetch {self.where}")
            self.pending = None

    def _listing(self) -> Tree:
        if self._tree is None:
            self._ready()
            remote = self.remote if self.mirror is None else None
            self._tree = tree_of(self.git_dir, self.commit, remote, self.where)
        return self._tree

    def _entry(self, name: str) -> Entry | None:
        if not name:
            return None
        if self._tree is not None:
            return self._tree.entries.get(name)
        # walk down from the root: a few trees read by the running cat-file,
        # rather than a git process listing the whole commit
        parent, _, base = name.rpartition("/")
        return self._folder_at(parent).get(base)

    def _folder_at(self, name: str) -> dict[str, Entry]:
        """The entries of the folder ``name`` (``{}`` if it is none)."""
        return self._folders().folder(self._root_tree(), name, self.where)

    def _root_tree(self) -> str:
        if self._root is None:
            self._ready()
            self._root = self._folders().root_of(self.commit, self.where)
        return self._root

    def _folders(self) -> Folders:
        if self.mirror is None:
            return Folders(reader_for(self.git_dir, self.remote))
        return Folders(reader_for(self.git_dir, None, lazy_fetch=False))

    def _read(self, entry: Entry, name: str) -> bytes:
        logger.debug("reading %s (%s) in %s", name, entry.oid, self.git_dir)
        what = f"{name} in {self.where}"
        if self.mirror is None:
            return reader_for(self.git_dir, self.remote).read(entry.oid, what)
        reader = reader_for(self.git_dir, None, lazy_fetch=False)
        try:
            return reader.read(entry.oid, what)
        except MissingObject:
            wanted = [entry.oid, *self._same_metafile_elsewhere(name)]
            self.mirror.fetch_objects(wanted, f"cannot read {what}")
        return reader.read(entry.oid, what)

    def _same_metafile_elsewhere(self, name: str) -> list[str]:
        """The blobs of the metafile ``name`` at the other commits resolved
        in this mirror in a snapshot, to fetch in the same round trip.

        A registry links to one model at several revs; a metafile is small,
        so fetching it at every rev the check opened costs less than one
        more round trip. Other files (artifacts can be large) never come
        unasked.
        """
        if self.mirror is None or not name.endswith(_METAFILE_SUFFIXES):
            return []
        parent, _, base = name.rpartition("/")
        blobs = []
        folders = self._folders()
        unfetched = set(snapshot.wanted(self.mirror.path).values())
        for commit in snapshot.commits(self.mirror.path) - {self.commit}:
            if commit in unfetched or self.mirror.commit_of(commit) is None:
                continue
            try:
                root = folders.root_of(commit, self.where)
                entry = folders.folder(root, parent, self.where).get(base)
            except StorageError:
                continue
            if entry is not None and entry.kind == "blob":
                blobs.append(entry.oid)
        return sorted(set(blobs))

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
