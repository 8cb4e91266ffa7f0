"""From an address and a rev to a commit in a repository on this machine.

Remote repositories go through the cache (:mod:`mlem_git.mirror`):

- a commit the mirror already holds (the rev is a full sha, or a short one of
  at least 7 digits) is taken from it without any network;
- a full sha it lacks is fetched by itself;
- a branch or tag costs one ``git ls-remote``, and a fetch only if the
  mirror lacks the commit it points to; in a snapshot (see
  :mod:`mlem_git.snapshot`), one ``ls-remote`` per remote, and the fetch
  waits for the first read, to take every rev wanted by then;
- no rev means the remote's default branch (what its HEAD points to);
- a short sha no branch or tag is named after makes the mirror fetch every
  branch and tag, then is looked up there.

Local repositories (a plain path, ``file://``, ``git:///path/:rev@``) are read
where they are, with git's own rev syntax.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import posixpath
from dataclasses import dataclass

from mlem.config import offline
from mlem.errors import (
    ObjectNotFoundError,
    OfflineError,
    RevisionNotFoundError,
    RevisionsNotSupportedError,
    StorageError,
)
from mlem_git import gitcmd, snapshot
from mlem_git.address import Address, is_full_sha, is_short_sha
from mlem_git.mirror import Mirror
from mlem_git.refs import RemoteRefs, listing

logger = logging.getLogger(__name__)

#: a short sha needs this many digits to be looked up in the cache first
CACHED_SHORT_SHA = 7


@dataclass(frozen=True)
class Resolved:
    """A commit of a repository that git can read here."""

    #: the address, with ``url``/``clean`` naming the repository's top
    address: Address
    git_dir: str
    commit: str
    #: path in the repository that the address named
    base: str
    #: the rev as given, or as written in the address; None for the default
    rev: str | None
    #: the branch that no rev stood for, for readable addresses
    branch: str | None
    #: how git reaches the remote; None for a local repository
    remote: gitcmd.Remote | None
    #: the cached mirror ``git_dir`` is; None for a local repository
    mirror: Mirror | None = None
    #: the ref to fetch ``commit`` with before reading it, if not fetched yet
    pending: str | None = None


def resolve(address: Address, rev: str | None) -> Resolved:
    """The commit that ``address`` at ``rev`` stands for."""
    if address.kind == "local":
        return _resolve_local(address, rev)
    return _resolve_remote(address, rev)


def _resolve_remote(address: Address, rev: str | None) -> Resolved:
    remote = gitcmd.Remote.of(address.url, address.clean)
    mirror = Mirror(remote, address.cache_key)
    where = address.clean
    refs: RemoteRefs | None = None
    base = address.path
    if offline():
        return _resolve_offline(address, rev, remote, mirror)

    if address.web_tail:
        tail = address.web_tail
        if is_full_sha(tail[0]):
            url_rev, inner = tail[0], "/".join(tail[1:])
        else:
            refs = _ls_remote(remote, mirror)
            split = refs.split(tail)
            if split is None and is_short_sha(tail[0], CACHED_SHORT_SHA):
                split = tail[0], "/".join(tail[1:])
            if split is None:
                raise RevisionNotFoundError(
                    f"rev not found in {where}: no branch or tag of it starts "
                    f"{'/'.join(tail)}{_known(refs)}"
                )
            url_rev, inner = split
        base = posixpath.join(base, inner).strip("/") if inner else base
        if rev is None:
            rev = url_rev

    at = f"{where} at rev {rev}" if rev is not None else where
    branch = None
    if rev is not None and (is_full_sha(rev) or is_short_sha(rev, CACHED_SHORT_SHA)):
        commit = mirror.commit_of(rev)
        if commit is not None:
            logger.debug("%s: commit %s is in the cache", where, commit)
            return _remote_result(address, mirror, commit, base, rev, None, remote)

    what = f"cannot fetch {at}"
    if rev is not None and is_full_sha(rev):
        if snapshot.wanted(mirror.path):
            # the revs opened before it are likely to bring it
            mirror.fetch_wanted(what)
        if mirror.commit_of(rev) is None and not mirror.fetch_commit(rev, what):
            raise RevisionNotFoundError(
                f"rev {rev} not found in {where}: the remote has no such commit"
            )
        commit = mirror.commit_of(rev)
        if commit is None:
            raise RevisionNotFoundError(f"rev {rev} in {where} is not a commit")
        return _remote_result(address, mirror, commit, base, rev, None, remote)

    if refs is None:
        refs = _ls_remote(remote, mirror)
    if rev is None:
        ref = refs.default()
        if ref is None:
            raise RevisionNotFoundError(
                f"{where} has no default branch (is it empty?); pass a rev"
            )
        branch = ref.short
    else:
        ref = refs.lookup(rev)
    if ref is not None:
        if (
            rev is not None
            and snapshot.active()
            and mirror.commit_of(ref.commit) is None
        ):
            # fetched with the other revs of this repository on first read
            mirror.want(ref.name, ref.commit)
            result = _remote_result(
                address, mirror, ref.commit, base, rev, None, remote
            )
            return dataclasses.replace(result, pending=ref.name)
        commit = mirror.fetch_ref(ref.name, ref.commit, what)
        if rev is None:
            mirror.remember_default(ref.name)
        return _remote_result(address, mirror, commit, base, rev, branch, remote)

    assert rev is not None
    if is_short_sha(rev):
        mirror.fetch_branches_and_tags(what)
        commit = mirror.commit_of(rev)
        if commit is not None:
            return _remote_result(address, mirror, commit, base, rev, None, remote)
    raise RevisionNotFoundError(
        f"rev {rev} not found in {where}: no branch, tag or commit of that name"
        + _known(refs)
    )


def _resolve_offline(
    address: Address, rev: str | None, remote: gitcmd.Remote, mirror: Mirror
) -> Resolved:
    """Only what the mirror holds: revs as they were when last fetched."""
    where = address.clean
    base = address.path
    tail = address.web_tail
    if tail:
        # the longest prefix of the web path that names something cached
        for cut in range(len(tail), 0, -1):
            if mirror.commit_of("/".join(tail[:cut])) is not None:
                url_rev, inner = "/".join(tail[:cut]), "/".join(tail[cut:])
                break
        else:
            url_rev, inner = tail[0], "/".join(tail[1:])
        base = posixpath.join(base, inner).strip("/") if inner else base
        rev = rev if rev is not None else url_rev
    commit = mirror.commit_of(rev if rev is not None else "HEAD")
    if commit is None:
        asked = f"rev {rev}" if rev is not None else "the default branch"
        raise OfflineError(
            f"offline: {asked} of {where} is not in the cache "
            f"({mirror.root}); run once without --offline (or MLEM_OFFLINE) to fetch it"
        )
    branch = mirror.default_branch() if rev is None else None
    logger.debug("offline: %s at %s is %s in the cache", where, rev, commit)
    return _remote_result(address, mirror, commit, base, rev, branch, remote)


def _ls_remote(remote: gitcmd.Remote, mirror: Mirror) -> RemoteRefs:
    # run in the cache folder, which is no repository: git must not read the
    # remotes of a clone the user happens to be in
    try:
        os.makedirs(mirror.root, exist_ok=True)
    except OSError as exc:
        raise StorageError(
            f"cannot use the git cache in {mirror.root}: {exc.strerror or exc}; "
            "set MLEM_CACHE_DIR to a writable folder"
        ) from exc
    return listing(remote, cwd=mirror.root)


def _known(refs: RemoteRefs) -> str:
    branches = refs.names()
    return f" (branches: {', '.join(branches)})" if branches else ""


def _remote_result(
    address: Address,
    mirror: Mirror,
    commit: str,
    base: str,
    rev: str | None,
    branch: str | None,
    remote: gitcmd.Remote,
) -> Resolved:
    top = dataclasses.replace(address, path="", web_tail=())
    snapshot.resolved(mirror.path, commit)
    return Resolved(top, mirror.path, commit, base, rev, branch, remote, mirror)


def _resolve_local(address: Address, rev: str | None) -> Resolved:
    path = address.url
    if rev is None:
        rev = address.rev
    found = _find_repository(path)
    if found is None:
        if rev is not None:
            raise RevisionsNotSupportedError(
                f"--rev {rev} given for {path}, which is not a git repository "
                "(nor inside one); drop --rev to read the folder as it is"
            )
        if not os.path.exists(path):
            raise ObjectNotFoundError(
                f"{path} does not exist, and no folder above it is a git repository"
            )
        raise StorageError(f"{path} is not a git repository (nor inside one)")
    git_dir, top, base = found
    base = posixpath.join(base, address.path).strip("/") if address.path else base

    result = gitcmd.run(
        [
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            f"{rev or 'HEAD'}^{{commit}}",
        ],
        git_dir=git_dir,
    )
    commit = result.stdout.decode().strip() if result.ok else ""
    if not commit:
        if rev is None:
            raise RevisionNotFoundError(f"{top} has no commits yet; pass a rev")
        raise RevisionNotFoundError(
            f"rev {rev} not found in {top}: no branch, tag or commit of that name"
        )
    repo = dataclasses.replace(address, url=top, clean=top, path="", rev=None)
    return Resolved(repo, git_dir, commit, base, rev, None, None)


def _find_repository(path: str) -> tuple[str, str, str] | None:
    """``(git dir, top, path inside)`` of the repository holding ``path``.

    ``path`` may name something that exists only at some rev, so the search
    starts at its nearest existing folder. ``top`` keeps the spelling of
    ``path`` (no symbolic links resolved), since it is written in links.
    """
    existing = path
    while not os.path.isdir(existing):
        parent = os.path.dirname(existing)
        if parent == existing:
            return None
        existing = parent
    result = gitcmd.run(
        [
            "rev-parse",
            "--absolute-git-dir",
            "--is-bare-repository",
            "--is-inside-git-dir",
            "--show-prefix",
        ],
        cwd=existing,
    )
    lines = result.stdout.decode("utf-8", "surrogateescape").split("\n")
    if not result.ok or len(lines) < 4:
        logger.debug("%s is in no git repository: %s", path, result.message())
        return None
    git_dir, bare, in_git_dir, prefix = lines[:4]
    if in_git_dir == "true" and bare != "true":
        # the .git folder of a clone stands for the whole repository
        return git_dir, os.path.dirname(git_dir), ""
    if bare == "true":
        same = os.path.realpath(existing) == os.path.realpath(git_dir)
        top = existing if same else git_dir
        inside = os.path.relpath(path, top)
        return git_dir, top, "" if inside == "." else inside
    depth = len([p for p in prefix.split("/") if p])
    top = existing
    for _ in range(depth):
        top = os.path.dirname(top)
    inside = posixpath.normpath(posixpath.join(prefix, os.path.relpath(path, existing)))
    return git_dir, top, "" if inside == "." else inside
