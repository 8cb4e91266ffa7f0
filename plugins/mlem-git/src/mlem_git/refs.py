"""A remote's branches and tags, learnt with one ``git ls-remote``.

Each resolution of a branch or tag lists the remote again, so that a process
that resolves ``main`` after someone pushed to it sees the push; inside a
:func:`mlem_git.snapshot.snapshot`, each remote is listed once.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from mlem.errors import MlemError
from mlem_git import gitcmd, snapshot

logger = logging.getLogger(__name__)

_HEADS = "refs/heads/"
_TAGS = "refs/tags/"


@dataclass(frozen=True)
class Ref:
    """A ref of the remote and the commit it points to (tags peeled)."""

    name: str
    commit: str

    @property
    def short(self) -> str:
        """The name without ``refs/heads/`` or ``refs/tags/``."""
        for prefix in (_HEADS, _TAGS):
            if self.name.startswith(prefix):
                return self.name[len(prefix) :]
        return self.name


@dataclass
class RemoteRefs:
    """What ``git ls-remote --symref`` said about HEAD, branches and tags."""

    #: full ref name -> commit (an annotated tag peeled to its commit)
    refs: dict[str, str] = field(default_factory=dict)
    #: the commit of the remote's HEAD
    head: str | None = None
    #: the branch HEAD points to (``refs/heads/main``), when the server says
    head_ref: str | None = None

    @classmethod
    def parse(cls, text: str) -> RemoteRefs:
        refs = cls()
        peeled: dict[str, str] = {}
        for line in text.splitlines():
            value, _, name = line.partition("\t")
            if value.startswith("ref: ") and name == "HEAD":
                refs.head_ref = value[len("ref: ") :]
            elif name == "HEAD":
                refs.head = value
            elif name.endswith("^{}"):
                peeled[name[: -len("^{}")]] = value
            elif name:
                refs.refs[name] = value
        refs.refs.update(peeled)
        return refs

    def default(self) -> Ref | None:
        """The remote's default branch (what HEAD points to)."""
        if self.head_ref is not None and self.head_ref in self.refs:
            return Ref(self.head_ref, self.refs[self.head_ref])
        if self.head is not None:
            return Ref("HEAD", self.head)
        return None

    def lookup(self, rev: str) -> Ref | None:
        """The ref that ``rev`` names; a tag before a branch, as git decides."""
        if rev == "HEAD":
            return self.default()
        candidates = [rev] if rev.startswith("refs/") else []
        candidates += [_TAGS + rev, _HEADS + rev]
        for name in candidates:
            if name in self.refs:
                return Ref(name, self.refs[name])
        return None

    def split(self, segments: tuple[str, ...]) -> tuple[str, str] | None:
        """``(rev, path)`` from the segments after ``/tree/`` in a web URL.

        Branch names may hold slashes, so the longest run of leading segments
        that names a branch or tag is the rev.
        """
        for end in range(len(segments), 0, -1):
            candidate = "/".join(segments[:end])
            if self.lookup(candidate) is not None:
                return candidate, "/".join(segments[end:])
        return None

    def names(self, prefix: str = _HEADS, limit: int = 8) -> list[str]:
        """Some short names under ``prefix``, for messages."""
        found = sorted(n[len(prefix) :] for n in self.refs if n.startswith(prefix))
        if len(found) > limit:
            return found[:limit] + ["…"]
        return found


def ls_remote(remote: gitcmd.Remote, cwd: str) -> RemoteRefs:
    """HEAD, branches and tags of ``remote``, in one round trip."""
    result = gitcmd.run(
        [
            "ls-remote",
            "--symref",
            gitcmd.REMOTE_NAME,
            "HEAD",
            _HEADS + "*",
            _TAGS + "*",
        ],
        cwd=cwd,
        remote=remote,
        timeout=gitcmd.network_timeout(),
        what=f"cannot read {remote.clean}",
        outside=True,
    )
    if not result.ok:
        raise gitcmd.fail(result, f"cannot read {remote.clean}")
    refs = RemoteRefs.parse(result.stdout.decode("utf-8", "replace"))
    logger.debug("%s: %d refs, HEAD -> %s", remote.clean, len(refs.refs), refs.head_ref)
    return refs


def listing(remote: gitcmd.Remote, cwd: str) -> RemoteRefs:
    """:func:`ls_remote`, or, in a :func:`mlem_git.snapshot.snapshot`, the
    listing (or the failure) already met there.

    Threads that want the same remote at once wait for one ``ls-remote``;
    different remotes are listed side by side.
    """
    state = snapshot.STATE
    # keyed by the URL git talks to: other credentials may see other refs
    key = remote.url
    with state.guard:
        depth = state.depth
        found = state.listings.get(key) if depth else None
        lock = state.listing_locks.setdefault(key, threading.Lock()) if depth else None
    if lock is None:
        return ls_remote(remote, cwd)
    if found is None:
        with lock:
            with state.guard:
                found = state.listings.get(key)
            if found is None:
                try:
                    found = ls_remote(remote, cwd)
                except MlemError as exc:
                    # a remote that is down stays down for the whole check,
                    # rather than costing a time-out per link
                    found = exc
                with state.guard:
                    if state.depth:
                        state.listings[key] = found
    if isinstance(found, Exception):
        raise found
    return found
