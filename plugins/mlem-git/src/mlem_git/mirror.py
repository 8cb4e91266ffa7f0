"""The cache: one partial bare mirror per remote repository.

Layout: ``<cache>/git/<slug>-<hash>.git`` is a bare repository made with
``--filter=blob:none``: commits and trees of the revs asked for, and blobs
only once something reads them. ``<slug>-<hash>.lock`` serialises the
processes that create or fetch into that mirror.

The cache directory is ``$MLEM_CACHE_DIR/git``, else
``$XDG_CACHE_HOME/mlem/git``, else ``~/.cache/mlem/git``.

Only a process holding the lock writes into a mirror: every fetch, of
commits or of single blobs, runs under it, and nothing else may fetch (git's
own lazy fetch of a missing blob is turned off; :mod:`mlem_git.fs` asks
:meth:`Mirror.fetch_objects` instead). So eight processes that want the same
blob fetch it once, and whatever a dead process left behind can be cleared
by the next one that takes the lock:

- a new mirror is built in a temporary folder next to its final place and
  renamed there only once its first fetch succeeded, so a mirror that exists
  is always whole; an unfinished ``.tmp-*`` build is removed;
- git's own ``*.lock`` files in a mirror (a ref being updated when git was
  killed) are removed, since no git process can still be writing there:
  git commands that fetch die with the process that started them (see
  :func:`mlem_git.gitcmd.run`).

The remote's URL is not written in the mirror's config (it may carry
credentials); :mod:`mlem_git.gitcmd` hands it to every git command that
needs it.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator

from mlem.errors import StorageError
from mlem_git import gitcmd, snapshot

logger = logging.getLogger(__name__)

CACHE_ENV = "MLEM_CACHE_DIR"
FILTER = "blob:none"

#: git's complaints about a commit the remote will not or cannot send
_NO_SUCH_OBJECT = (
    "not our ref",
    "unadvertised object",
    "couldn't find remote ref",
    "no such remote ref",
)


def cache_root() -> str:
    """The folder that holds the git mirrors (not created here): ``git/`` in
    the cache folder the core chooses (``MLEM_CACHE_DIR``, the user's config,
    ``$XDG_CACHE_HOME/mlem``, ``~/.cache/mlem``)."""
    from mlem.config import cache_dir

    return os.path.join(os.path.abspath(cache_dir()), "git")


def mirror_name(key: str) -> str:
    """A readable, collision-free folder name for the remote ``key``."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    readable = key.split("://", 1)[-1]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", readable).strip("-.")[-60:]
    return f"{slug.strip('-.') or 'repo'}-{digest}.git"


class Mirror:
    """The cached bare mirror of one remote."""

    def __init__(self, remote: gitcmd.Remote, key: str, root: str | None = None):
        self.remote = remote
        self.root = root or cache_root()
        name = mirror_name(key)
        self.path = os.path.join(self.root, name)
        self._lock_path = os.path.join(self.root, name[: -len(".git")] + ".lock")
        #: what the name of an unfinished build starts with
        self.tmp_prefix = f".tmp-{name[: -len('.git')]}-"

    def exists(self) -> bool:
        return os.path.isfile(os.path.join(self.path, "HEAD"))

    def commit_of(self, rev: str) -> str | None:
        """The commit ``rev`` names in the mirror now, without any network."""
        if not self.exists():
            return None
        if _OID.fullmatch(rev):
            # asked of every link's commit: the running cat-file answers
            # without starting a process
            kind = self._type_of(rev)
            if kind in ("commit", None):
                return rev if kind == "commit" else None
        result = self._local(
            ["rev-parse", "--verify", "--quiet", "--end-of-options", rev + "^{commit}"]
        )
        if not result.ok:
            return None
        return result.stdout.decode().strip() or None

    def has_objects(self, oids: list[str]) -> bool:
        """Whether the mirror holds every object in ``oids``; no network."""
        if not self.exists():
            return False
        # --missing=print makes rev-list report, not fetch, what is absent
        result = self._local(
            ["rev-list", "--objects", "--no-walk", "--missing=print", *oids]
        )
        return result.ok and b"\n?" not in b"\n" + result.stdout

    def fetch(
        self, refspecs: list[str], what: str, done: Callable[[], bool] | None = None
    ) -> gitcmd.Result | None:
        """Fetch ``refspecs``, creating the mirror if needed.

        ``done`` is asked again once the lock is held: another process may have
        fetched the same thing meanwhile, and then nothing is fetched (and None
        returned). A failed fetch is returned, not raised, for the caller to
        name the rev it was after.
        """
        with self._locked():
            self._remove_leftovers()
            if self.exists():
                if done is not None and done():
                    return None
                self._remove_stale_git_locks()
                return self._fetch_into(self.path, refspecs, what)
            building = tempfile.mkdtemp(prefix=self.tmp_prefix, dir=self.root)
            try:
                self._init(building)
                result = self._fetch_into(building, refspecs, what, building=True)
                if result.ok:
                    os.rename(building, self.path)
                    logger.debug(
                        "created mirror %s of %s", self.path, self.remote.clean
                    )
                return result
            finally:
                if os.path.isdir(building):
                    shutil.rmtree(building, ignore_errors=True)

    def fetch_commit(self, sha: str, what: str) -> bool:
        """Fetch the commit ``sha``; False if the remote has no such commit."""
        result = self.fetch(
            [f"+{sha}:refs/mlem/commits/{sha}"],
            what,
            done=lambda: self.commit_of(sha) is not None,
        )
        if result is None or result.ok:
            return True
        if any(marker in result.stderr for marker in _NO_SUCH_OBJECT):
            # servers that refuse unadvertised objects still send branches
            # and tags; the commit may be on one of them
            self.fetch_branches_and_tags(what)
            return self.commit_of(sha) is not None
        raise gitcmd.fail(result, what)

    def fetch_ref(self, name: str, commit: str, what: str) -> str:
        """Fetch the ref ``name`` (which the remote said is at ``commit``)."""
        if self.commit_of(commit) is not None:
            return commit
        local = _local_name(name)
        result = self.fetch(
            [f"+{name}:{local}"], what, done=lambda: self.commit_of(commit) is not None
        )
        if result is not None and not result.ok:
            raise gitcmd.fail(result, what)
        if self.commit_of(commit) is not None:
            return commit
        # the branch moved between ls-remote and fetch: take what was fetched
        moved = self.commit_of(local)
        if moved is None:
            raise StorageError(f"{what}: the fetch brought no commit")
        return moved

    def want(self, name: str, commit: str) -> None:
        """Fetch the ref ``name`` (at ``commit``) with the next fetch here,
        in a snapshot (see :mod:`mlem_git.snapshot`); :meth:`ensure` before
        reading ``commit``."""
        snapshot.want(self.path, name, commit)

    def ensure(self, commit: str, name: str | None, what: str) -> None:
        """Make sure ``commit`` (which the ref ``name`` pointed to) is here,
        fetching every ref wanted in this mirror with it."""
        if self.commit_of(commit) is not None:
            return
        self.fetch_wanted(what, {name: commit} if name is not None else {})
        # a branch that moved between ls-remote and fetch brought another
        # commit; the caller resolved this one
        if self.commit_of(commit) is None and not self.fetch_commit(commit, what):
            raise StorageError(f"{what}: the remote no longer has commit {commit}")

    def fetch_wanted(self, what: str, more: dict[str, str] | None = None) -> None:
        """Fetch, in one go, every ref wanted here (and ``more``: ref name ->
        commit) whose commit the mirror lacks."""
        refs = {**snapshot.wanted(self.path), **(more or {})}
        missing = {n: c for n, c in refs.items() if self.commit_of(c) is None}
        if missing:
            result = self.fetch(
                [f"+{name}:{_local_name(name)}" for name in sorted(missing)],
                what,
                done=lambda: all(self.commit_of(c) for c in missing.values()),
            )
            if result is not None and not result.ok:
                if len(missing) == 1:
                    raise gitcmd.fail(result, what)
                # one ref gone since it was listed must not fail the others:
                # each is fetched on its own when it is read
                logger.debug("fetching %d refs together failed", len(missing))
        snapshot.fetched(self.path, list(refs))

    def fetch_objects(self, oids: list[str], what: str) -> None:
        """Fetch the objects ``oids`` (blobs a reader wants) unless present.

        This is what git's lazy fetch would do, but under the mirror's lock:
        processes that want the same blob at the same time fetch it once.
        """
        wanted = sorted(set(oids))
        result = self.fetch(
            wanted,
            what,
            done=lambda: self.has_objects(wanted),
        )
        if result is not None and not result.ok:
            raise gitcmd.fail(result, what)

    def remember_default(self, ref_name: str) -> None:
        """Point the mirror's HEAD at the remote's default branch, so that
        offline mode knows it."""
        if self._head() == f"ref: {ref_name}":
            return
        with self._locked():
            self._local(["symbolic-ref", "HEAD", ref_name])

    def default_branch(self) -> str | None:
        head = self._head()
        if head is None or not head.startswith("ref: refs/heads/"):
            return None
        return head[len("ref: refs/heads/") :]

    def fetch_branches_and_tags(self, what: str) -> None:
        result = self.fetch(
            ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"], what
        )
        if result is not None and not result.ok:
            raise gitcmd.fail(result, what)

    def _type_of(self, oid: str) -> str | None:
        """The type of the object ``oid`` in the mirror; None if absent."""
        from mlem_git.fs import reader_for

        reader = reader_for(self.path, None, lazy_fetch=False)
        try:
            found = reader.lookup(oid, f"{oid} in the cache of {self.remote.clean}")
        except StorageError:
            logger.debug("cannot look %s up in %s", oid, self.path, exc_info=True)
            return "unknown"
        return found[0] if found is not None else None

    def _head(self) -> str | None:
        try:
            with open(os.path.join(self.path, "HEAD"), encoding="utf-8") as f:
                return f.read().strip()
        except OSError:
            return None

    def _local(self, args: list[str]) -> gitcmd.Result:
        # no remote URL and no lazy fetch: only a fetch under the lock writes
        return gitcmd.run(args, git_dir=self.path, cwd=self.root, lazy_fetch=False)

    def _fetch_into(
        self, git_dir: str, refspecs: list[str], what: str, building: bool = False
    ) -> gitcmd.Result:
        logger.debug("fetching %s from %s", " ".join(refspecs), self.remote.clean)
        # whatever maintenance git starts after a fetch runs inside it, under
        # the lock, instead of in a detached process nobody waits for
        options = [
            "-c",
            "gc.autoDetach=false",
            "-c",
            "maintenance.autoDetach=false",
        ]
        if building:
            options += ["-c", "gc.auto=0", "-c", "maintenance.auto=false"]
        if all(_OID.fullmatch(spec) for spec in refspecs):
            # objects by id, as git's lazy fetch asks for them: nothing to
            # negotiate, the mirror has none of them
            options += ["-c", "fetch.negotiationAlgorithm=noop"]
        return gitcmd.run(
            [
                *options,
                "fetch",
                "--quiet",
                f"--filter={FILTER}",
                "--no-tags",
                "--no-write-fetch-head",
                "--no-recurse-submodules",
                gitcmd.REMOTE_NAME,
                *refspecs,
            ],
            git_dir=git_dir,
            cwd=self.root,
            remote=self.remote,
            timeout=gitcmd.network_timeout(),
            what=what,
        )

    def _init(self, git_dir: str) -> None:
        result = gitcmd.run(["init", "--quiet", "--bare", "--template=", git_dir])
        if not result.ok:
            raise StorageError(
                f"cannot create a git mirror in {self.root}: {result.message()}"
            )
        # a partial clone: the promisor remote is named here, its URL is given
        # to each command (see mlem_git.gitcmd)
        with open(os.path.join(git_dir, "config"), "w", encoding="utf-8") as f:
            f.write(
                "[core]\n"
                "\trepositoryformatversion = 1\n"
                "\tbare = true\n"
                "[extensions]\n"
                f"\tpartialClone = {gitcmd.REMOTE_NAME}\n"
                f'[remote "{gitcmd.REMOTE_NAME}"]\n'
                "\tpromisor = true\n"
                f"\tpartialclonefilter = {FILTER}\n"
                "[mlem]\n"
                f"\tremote = {_config_value(self.remote.clean)}\n"
            )

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            os.makedirs(self.root, exist_ok=True)
            lock = open(self._lock_path, "a+b")
        except OSError as exc:
            raise StorageError(
                f"cannot use the git cache in {self.root}: {exc.strerror or exc}; "
                f"set {CACHE_ENV} to a writable folder"
            ) from exc
        with lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _remove_leftovers(self) -> None:
        # only a process holding the lock builds this mirror, so any folder
        # with our prefix is from a process that died while building
        for path in glob.glob(
            os.path.join(glob.escape(self.root), self.tmp_prefix + "*")
        ):
            logger.debug("removing the unfinished mirror %s", path)
            shutil.rmtree(path, ignore_errors=True)

    def _remove_stale_git_locks(self) -> None:
        """Remove the ``*.lock`` files of git processes that died in here.

        Called with the lock held: any git that wrote into the mirror did so
        under this lock, and died with the process that held it, so a lock
        file now is one nobody will ever remove, and it would fail every
        later fetch that updates the same ref ("cannot lock ref").
        """
        for folder, recurse in _GIT_LOCK_PLACES:
            top = os.path.join(self.path, folder) if folder else self.path
            for path in _lock_files(top, recurse):
                logger.debug("removing %s, left by a git process that died", path)
                with contextlib.suppress(FileNotFoundError):
                    os.remove(path)


def _local_name(ref: str) -> str:
    """Where the mirror keeps the remote's ref ``ref``."""
    return ref if ref.startswith("refs/") else "refs/mlem/" + ref


_OID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
#: where git puts lock files in a bare repository: (folder, recursively)
_GIT_LOCK_PLACES = (
    ("", False),
    ("refs", True),
    ("logs", True),
    ("objects/info", False),
)


def _lock_files(top: str, recurse: bool) -> Iterator[str]:
    if not recurse:
        with contextlib.suppress(OSError):
            for entry in os.scandir(top):
                if entry.name.endswith(".lock") and entry.is_file():
                    yield entry.path
        return
    for folder, _dirs, files in os.walk(top):
        for name in files:
            if name.endswith(".lock"):
                yield os.path.join(folder, name)


def _config_value(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
