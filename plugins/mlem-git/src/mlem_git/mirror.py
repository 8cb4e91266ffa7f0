"""The cache: one partial bare mirror per remote repository.

Layout: ``<cache>/git/<slug>-<hash>.git`` is a bare repository made with
``--filter=blob:none``: commits and trees of the revs asked for, and blobs
only once something reads them (git's promisor remote fetches a missing blob
when ``git cat-file`` asks for it). ``<slug>-<hash>.lock`` serialises the
processes that create or fetch into that mirror.

The cache directory is ``$MLEM_CACHE_DIR/git``, else
``$XDG_CACHE_HOME/mlem/git``, else ``~/.cache/mlem/git``.

A mirror is built in a temporary folder next to its final place and renamed
there only once its first fetch succeeded, so a mirror that exists is always
whole; a process that dies half-way leaves a ``.tmp-*`` folder that the next
process to hold the lock removes. The remote's URL is not written in the
mirror's config (it may carry credentials); :mod:`mlem_git.gitcmd` hands it to
every git command that needs it.
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
from mlem_git import gitcmd

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
        """The commit ``rev`` names in the mirror now, without any network.

        No remote URL is given to git here, so a missing object cannot make it
        fetch: it just is not found.
        """
        if not self.exists():
            return None
        result = gitcmd.run(
            ["rev-parse", "--verify", "--quiet", "--end-of-options", rev + "^{commit}"],
            git_dir=self.path,
            cwd=self.root,
        )
        if not result.ok:
            return None
        return result.stdout.decode().strip() or None

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
            if self.exists():
                if done is not None and done():
                    return None
                return self._fetch_into(self.path, refspecs, what)
            self._remove_leftovers()
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
        local = name if name.startswith("refs/") else "refs/mlem/" + name
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

    def remember_default(self, ref_name: str) -> None:
        """Point the mirror's HEAD at the remote's default branch, so that
        offline mode knows it."""
        gitcmd.run(["symbolic-ref", "HEAD", ref_name], git_dir=self.path, cwd=self.root)

    def default_branch(self) -> str | None:
        result = gitcmd.run(
            ["symbolic-ref", "--quiet", "--short", "HEAD"],
            git_dir=self.path,
            cwd=self.root,
        )
        return result.stdout.decode().strip() or None if result.ok else None

    def fetch_branches_and_tags(self, what: str) -> None:
        result = self.fetch(
            ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"], what
        )
        if result is not None and not result.ok:
            raise gitcmd.fail(result, what)

    def _fetch_into(
        self, git_dir: str, refspecs: list[str], what: str, building: bool = False
    ) -> gitcmd.Result:
        logger.debug("fetching %s from %s", " ".join(refspecs), self.remote.clean)
        options = (
            ["-c", "gc.auto=0", "-c", "maintenance.auto=false"] if building else []
        )
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


def _config_value(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
