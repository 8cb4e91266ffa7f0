"""The ``gcs`` resolver: projects in Google Cloud Storage.

This module is imported whenever MLEM loads its plugins, so it imports
nothing heavy: gcsfs (and google-auth with it) is imported by
:mod:`mlem_gcs.store` when a ``gs://`` address is first opened.
"""

from __future__ import annotations

from mlem import hookimpl
from mlem._uri import scheme_of
from mlem.resolver import Resolver, Source


class GCSResolver(Resolver):
    """``gs://bucket/prefix`` (or ``gcs://``) addresses, through gcsfs.

    A rev names a generation of the metafile an address names, in a bucket
    that keeps versions (object versioning on); see :mod:`mlem_gcs.store`.
    Links are written with ``gs://``, as MLEM 0.4 wrote them, whichever
    spelling was given.
    """

    name = "gcs"
    schemes = ("gs", "gcs")
    supports_revs = True

    def claims(self, uri: str, rev: str | None) -> bool:
        return scheme_of(uri) in ("gs", "gcs")

    def open(self, uri: str, rev: str | None) -> Source:
        from mlem_gcs import store

        return store.open_source(self, uri, rev)

    def project_uri(self, source: Source, root: str) -> str:
        return "gs://" + root.strip("/") + "/"

    def display_uri(self, source: Source, path: str) -> str:
        return "gs://" + path

    def rev_for(self, source: Source, path: str) -> str | None:
        from mlem_gcs import store

        return store.version_for(source, path)

    def file_exists(self, source: Source, path: str) -> bool:
        from mlem_gcs import store

        return store.file_exists(source, path)

    def read_file(self, source: Source, path: str) -> bytes:
        from mlem_gcs import store

        return store.read_file(source, path)

    def read_files(
        self, source: Source, paths: list[str]
    ) -> dict[str, bytes | Exception]:
        from mlem_gcs import store

        if source.rev is not None:
            # a version belongs to one metafile: nothing to fetch side by side
            return super().read_files(source, paths)
        return store.read_files(source, paths)

    def write_file(self, source: Source, path: str, data: bytes) -> None:
        # one upload request: GCS shows readers the whole object or none of it
        source.fs.pipe_file(path, data)


@hookimpl
def mlem_register_resolvers() -> list[Resolver]:
    return [GCSResolver()]


__all__ = ["GCSResolver"]
