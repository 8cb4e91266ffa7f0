"""What one bulk operation (``mlem check``) lets the git resolver remember.

Outside a snapshot every resolution of a branch or tag lists the remote
again and fetches what it lacks at once, so that a process that resolves
``main`` after someone pushed to it sees the push. Inside one:

- each remote is listed once (:func:`mlem_git.refs.listing`), and every rev
  is resolved against that listing: one consistent view of each repository;
- a rev whose commit the mirror lacks is not fetched when it is resolved but
  *wanted*; the first read from the mirror fetches every wanted rev of it
  in one go (:meth:`mlem_git.mirror.Mirror.ensure`), so that a registry that
  opens five tags of a repository before reading any fetches once;
- the commits resolved in each mirror are remembered, so that a metafile
  fetched at one of them comes with the same metafile at the others.

The state is process-wide, not per thread (a check's worker threads share
it), and is dropped when the last open snapshot ends.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlem_git.refs import RemoteRefs


class _State:
    def __init__(self) -> None:
        self.guard = threading.Lock()
        self.depth = 0
        #: remote URL -> its listing, or why listing it failed
        self.listings: dict[str, RemoteRefs | Exception] = {}
        #: remote URL -> the lock the threads that list it share
        self.listing_locks: dict[str, threading.Lock] = {}
        #: mirror path -> {ref name: commit} resolved but not fetched yet
        self.wanted: dict[str, dict[str, str]] = {}
        #: mirror path -> the commits resolved in it
        self.commits: dict[str, set[str]] = {}

    def clear(self) -> None:
        self.listings.clear()
        self.listing_locks.clear()
        self.wanted.clear()
        self.commits.clear()


STATE = _State()


@contextlib.contextmanager
def snapshot() -> Iterator[None]:
    """Remember listings, wanted revs and commits until the block ends.

    Nested and concurrent blocks share what they learn; it is dropped when
    the last one ends.
    """
    with STATE.guard:
        STATE.depth += 1
    try:
        yield
    finally:
        with STATE.guard:
            STATE.depth -= 1
            if STATE.depth == 0:
                STATE.clear()


def active() -> bool:
    return STATE.depth > 0


def want(mirror: str, name: str, commit: str) -> None:
    """Note that the ref ``name`` (at ``commit``) is to be fetched into
    ``mirror`` with the next fetch there."""
    with STATE.guard:
        if STATE.depth:
            STATE.wanted.setdefault(mirror, {})[name] = commit


def wanted(mirror: str) -> dict[str, str]:
    """The refs wanted in ``mirror``, by name."""
    with STATE.guard:
        return dict(STATE.wanted.get(mirror, {}))


def fetched(mirror: str, names: list[str]) -> None:
    with STATE.guard:
        found = STATE.wanted.get(mirror, {})
        for name in names:
            found.pop(name, None)


def resolved(mirror: str, commit: str) -> None:
    """Note that a rev resolved to ``commit`` in ``mirror``."""
    with STATE.guard:
        if STATE.depth:
            STATE.commits.setdefault(mirror, set()).add(commit)


def commits(mirror: str) -> set[str]:
    """The commits resolved in ``mirror`` in this snapshot."""
    with STATE.guard:
        return set(STATE.commits.get(mirror, ()))
