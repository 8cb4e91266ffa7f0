"""The ``static`` resolver: ``static+http://host/path`` and ``static+https://``.

The ``static+`` prefix keeps these addresses apart from ``https://`` git
remotes, which the git plugin claims.
"""

from __future__ import annotations

from mlem import hookimpl
from mlem.errors import ObjectNotFoundError, RevisionsNotSupportedError, StorageError
from mlem.resolver import Resolver, Source
from mlem_static.fs import StaticFS

PREFIXES = ("static+http://", "static+https://")


class StaticResolver(Resolver):
    """Projects published on a static web server with directory listings."""

    name = "static"
    schemes = ("static+http", "static+https")
    supports_revs = False

    def claims(self, uri: str, rev: str | None) -> bool:
        return uri.startswith(PREFIXES)

    def open(self, uri: str, rev: str | None) -> Source:
        if rev is not None:
            raise RevisionsNotSupportedError(
                f"--rev {rev} given for {uri}; a static file server keeps no revs"
            )
        url = uri[len("static+") :]
        scheme, _, rest = url.partition("://")
        host, _, path = rest.partition("/")
        fs = StaticFS(f"{scheme}://{host}/")
        return Source(
            resolver=self,
            fs=fs,
            base=path.strip("/"),
            boundary="",
            display=uri,
            storage_id=f"{scheme}://{host}",
        )

    def project_uri(self, source: Source, root: str) -> str:
        return (
            f"static+{source.storage_id}/{root}/"
            if root
            else f"static+{source.storage_id}/"
        )

    def display_uri(self, source: Source, path: str) -> str:
        return f"static+{source.storage_id}/{path}"

    def read_file(self, source: Source, path: str) -> bytes:
        try:
            return source.fs.cat_file(path)
        except FileNotFoundError as exc:
            raise ObjectNotFoundError(
                f"no file at {self.display_uri(source, path)}"
            ) from exc
        except ConnectionError as exc:
            raise StorageError(f"cannot reach {source.storage_id}: {exc}") from exc

    def file_exists(self, source: Source, path: str) -> bool:
        try:
            return source.fs.isfile(path)
        except ConnectionError as exc:
            raise StorageError(f"cannot reach {source.storage_id}: {exc}") from exc


@hookimpl
def mlem_register_resolvers() -> list[Resolver]:
    return [StaticResolver()]
