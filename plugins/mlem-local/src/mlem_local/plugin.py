"""The ``local`` resolver: folders on this machine and ``file://`` addresses."""

from __future__ import annotations

import os

from mlem import hookimpl
from mlem._uri import local_path, scheme_of
from mlem.errors import RevisionsNotSupportedError
from mlem.resolver import Resolver, Source
from mlem_local.fs import LocalFS


class LocalResolver(Resolver):
    """Plain paths and ``file://`` URIs, read and written on local disk."""

    name = "local"
    schemes = ("file",)
    supports_revs = False
    # anything that looks like a path is ours, unless a resolver that reads
    # local git clones at a rev claims it first
    priority = "fallback"

    def claims(self, uri: str, rev: str | None) -> bool:
        return scheme_of(uri) in ("", "file")

    def open(self, uri: str, rev: str | None) -> Source:
        path = local_path(uri)
        if rev is not None:
            raise RevisionsNotSupportedError(
                f"--rev {rev} given for {path}, a local folder; only git repositories "
                "have revs (pip install mlem-git to read a local clone at a rev)"
            )
        return Source(
            resolver=self,
            fs=LocalFS(),
            base=path,
            boundary="/",
            display=path,
            storage_id="local",
        )

    def project_uri(self, source: Source, root: str) -> str:
        return "file://" + root.rstrip("/") + "/"

    def display_uri(self, source: Source, path: str) -> str:
        relative = os.path.relpath(path)
        return path if relative.startswith("..") else relative

    def write_file(self, source: Source, path: str, data: bytes) -> None:
        source.fs.pipe_file(path, data)


@hookimpl
def mlem_register_resolvers() -> list[Resolver]:
    return [LocalResolver()]


__all__ = ["LocalResolver", "local_path"]
