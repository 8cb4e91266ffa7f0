"""The ``s3`` resolver: projects in Amazon S3 and S3-compatible stores.

This module is imported whenever MLEM loads its plugins, so it imports
nothing heavy: s3fs (and botocore with it) is imported by :mod:`mlem_s3.store`
when an ``s3://`` address is first opened.
"""

from __future__ import annotations

from mlem import hookimpl
from mlem._uri import scheme_of
from mlem.resolver import Resolver, Source


class S3Resolver(Resolver):
    """``s3://bucket/prefix`` addresses, read and written through s3fs.

    A rev names a version of the metafile an address names, in a bucket that
    keeps versions (S3 versioning, enabled or suspended); see
    :mod:`mlem_s3.store`.
    """

    name = "s3"
    schemes = ("s3",)
    supports_revs = True

    def claims(self, uri: str, rev: str | None) -> bool:
        return scheme_of(uri) == "s3"

    def open(self, uri: str, rev: str | None) -> Source:
        from mlem_s3 import store

        return store.open_source(self, uri, rev)

    def project_uri(self, source: Source, root: str) -> str:
        return "s3://" + root.strip("/") + "/"

    def display_uri(self, source: Source, path: str) -> str:
        return "s3://" + path

    def rev_for(self, source: Source, path: str) -> str | None:
        from mlem_s3 import store

        return store.version_for(source, path)

    def file_exists(self, source: Source, path: str) -> bool:
        from mlem_s3 import store

        return store.file_exists(source, path)

    def read_file(self, source: Source, path: str) -> bytes:
        from mlem_s3 import store

        return store.read_file(source, path)

    def read_files(
        self, source: Source, paths: list[str]
    ) -> dict[str, bytes | Exception]:
        from mlem_s3 import store

        if source.rev is not None:
            # a version belongs to one metafile: nothing to fetch side by side
            return super().read_files(source, paths)
        return store.read_files(source, paths)

    def write_file(self, source: Source, path: str, data: bytes) -> None:
        # one PUT: S3 shows readers the whole object or none of it
        source.fs.pipe_file(path, data)


@hookimpl
def mlem_register_resolvers() -> list[Resolver]:
    return [S3Resolver()]


__all__ = ["S3Resolver"]
