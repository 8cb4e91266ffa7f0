"""The ``git`` resolver: any git repository at any rev, read with system git.

Importing this module is cheap; the parts that run git are imported by
:meth:`GitResolver.open`.
"""

from __future__ import annotations

import dataclasses
import os
from contextlib import AbstractContextManager

from mlem import hookimpl
from mlem._uri import scheme_of, strip_credentials
from mlem.errors import UnknownSchemeError
from mlem.resolver import Resolver, Source
from mlem_git.address import (
    Address,
    is_remote,
    local_path,
    parse,
    project_uri,
    web_uri,
)


class GitResolver(Resolver):
    """Git remotes, forge web URLs, and local clones at a rev."""

    name = "git"
    schemes = ("https", "http", "ssh", "git+ssh", "ssh+git", "git", "file")
    supports_revs = True
    # asked before the local resolver, which takes every path it is left
    priority = "normal"
    cache_folder = "git"

    def claims(self, uri: str, rev: str | None) -> bool:
        """Remotes always; a local path only with a rev, or when it is in a
        repository without a work tree (a bare one, or a name ending ``.git``).

        A local folder without a rev stays with the local resolver, which reads
        the files as they are on disk. Telling a bare repository costs a few
        ``stat`` calls, no git process.
        """
        if uri.startswith("git:///") or is_remote(uri):
            return True
        if scheme_of(uri) not in ("", "file"):
            return False
        if rev is not None:
            return True
        return _in_bare_repository(local_path(uri))

    def open(self, uri: str, rev: str | None) -> Source:
        from mlem_git.fs import GitTreeFS
        from mlem_git.resolve import resolve

        try:
            address = parse(uri)
        except ValueError as exc:
            raise UnknownSchemeError(str(exc)) from None
        found = resolve(address, rev)
        repo = found.address
        at = found.rev or found.branch
        where = f"{repo.clean} at rev {at}" if at else repo.clean
        fs = GitTreeFS(
            found.git_dir,
            found.commit,
            found.remote,
            where=where,
            mirror=found.mirror,
            pending=found.pending,
        )
        return Source(
            resolver=self,
            fs=fs,
            base=found.base,
            boundary="",
            rev=found.rev,
            commit=found.commit,
            display=repo.clean,
            storage_id=repo.clean if repo.kind == "remote" else found.git_dir,
            # what project_uri and display_uri need, and no credentials
            extra={
                "address": dataclasses.replace(repo, url=repo.clean),
                "branch": found.branch,
            },
        )

    def snapshot(self) -> AbstractContextManager[None]:
        """While the block runs, each remote's branches and tags are listed
        once, every rev is resolved against that listing, and the revs of a
        repository opened before any is read are fetched together.

        For work over many links at once (``mlem check``): a registry with a
        thousand links at five tags of one repository costs one
        ``ls-remote`` and one fetch, and sees one consistent state of it.
        See :mod:`mlem_git.snapshot`.
        """
        from mlem_git.snapshot import snapshot

        return snapshot()

    def project_uri(self, source: Source, root: str) -> str:
        return project_uri(_address(source), root)

    def display_uri(self, source: Source, path: str) -> str:
        address = _address(source)
        rev = source.rev or source.extra.get("branch") or source.commit or "HEAD"
        web = web_uri(address, rev, path)
        if web:
            return web
        at = f" at rev {source.rev}" if source.rev else ""
        where = strip_credentials(source.display)
        return f"{path} in {where}{at}" if path else f"{where}{at}"


def _address(source: Source) -> Address:
    address = source.extra.get("address")
    if not isinstance(address, Address):
        raise TypeError(f"{source!r} was not opened by the git resolver")
    return address


def _in_bare_repository(path: str) -> bool:
    """Whether ``path`` (which may exist only in the repository, not on disk)
    is in a bare repository or one named ``*.git``."""
    current = path
    while not os.path.isdir(current):
        if current.endswith(".git"):
            return True
        parent = os.path.dirname(current)
        if parent == current:
            return False
        current = parent
    # the three things git itself checks before it takes a folder for a
    # repository
    return current.endswith(".git") or (
        os.path.isfile(os.path.join(current, "HEAD"))
        and os.path.isdir(os.path.join(current, "objects"))
        and os.path.isdir(os.path.join(current, "refs"))
    )


@hookimpl
def mlem_register_resolvers() -> list[Resolver]:
    return [GitResolver()]


__all__ = ["GitResolver"]
