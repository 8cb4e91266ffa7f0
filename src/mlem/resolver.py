"""What a resolver plugin implements.

A resolver turns the address of a project (a local path, ``file://``, a git
remote, ``s3://bucket/prefix``...) and an optional rev into a :class:`Source`:
a file system positioned at that address. The core does everything else
(finding the project root, reading metafiles, following links) through the
small file-system surface described by :class:`FileSystem`.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any, ClassVar, Protocol, runtime_checkable


@runtime_checkable
class FileSystem(Protocol):
    """The part of fsspec's ``AbstractFileSystem`` the core uses.

    Any fsspec file system satisfies it. Paths are ``/``-separated strings in
    the file system's own namespace (``bucket/prefix/key`` for S3, an absolute
    path for local disk). Missing paths raise ``FileNotFoundError``.
    """

    def cat_file(self, path: str) -> bytes: ...

    def exists(self, path: str) -> bool: ...

    def isdir(self, path: str) -> bool: ...

    def isfile(self, path: str) -> bool: ...

    def ls(self, path: str, detail: bool = False) -> list[str]: ...

    def find(self, path: str) -> list[str]: ...

    def pipe_file(self, path: str, value: bytes) -> None: ...

    def makedirs(self, path: str, exist_ok: bool = False) -> None: ...


class Source:
    """A file system positioned at an address a resolver was given.

    ``base`` is the file-system path the address names; the core walks up from
    it to find the project root, but never above ``boundary`` (a repository's
    root, a bucket). ``rev`` is the rev as the user gave it (or as parsed from
    the address); ``commit`` is the immutable thing it resolved to, when the
    storage has one. ``display`` is the address without credentials, for
    messages. Two sources with the same ``storage_id`` and commit (or rev) see
    the same files at the same paths. ``extra`` is the resolver's own.
    """

    # a plain class, not a dataclass: dataclasses compile their methods when
    # defined, and every ``mlem`` command imports this module
    def __init__(
        self,
        resolver: Resolver,
        fs: FileSystem,
        base: str,
        boundary: str,
        rev: str | None = None,
        commit: str | None = None,
        display: str = "",
        storage_id: str = "",
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.resolver = resolver
        self.fs = fs
        self.base = base
        self.boundary = boundary
        self.rev = rev
        self.commit = commit
        self.display = display
        self.storage_id = storage_id
        self.extra = extra if extra is not None else {}

    def __repr__(self) -> str:
        at = f" at {self.rev}" if self.rev else ""
        return f"<Source {self.resolver.name} {self.display or self.base}{at}>"


class Resolver:
    """Base class for resolvers; plugins return instances from
    :func:`mlem.hookspecs.mlem_register_resolvers`.

    Subclasses set :attr:`name`, :attr:`schemes` and :attr:`supports_revs`, and
    implement :meth:`claims`, :meth:`open` and :meth:`project_uri`. Keep the
    module that defines a resolver light: import storage libraries inside
    :meth:`open`, so that ``mlem --help`` and work on other storage stay fast.
    """

    #: short unique name, shown by ``mlem plugins`` and in messages
    name: ClassVar[str] = ""
    #: URI schemes this resolver handles (informational, and for clash checks)
    schemes: ClassVar[tuple[str, ...]] = ()
    #: whether ``rev`` means anything to this storage
    supports_revs: ClassVar[bool] = False
    #: ``fallback`` resolvers are asked last, ``override`` ones first
    priority: ClassVar[str] = "normal"
    #: the folder under the cache (:func:`mlem.config.cache_dir`) this
    #: resolver keeps what it fetches in, if any; ``mlem cache`` reports and
    #: empties only such folders
    cache_folder: ClassVar[str | None] = None

    def claims(self, uri: str, rev: str | None) -> bool:
        """Whether this resolver handles ``uri`` (at ``rev``); no I/O."""
        raise NotImplementedError

    def open(self, uri: str, rev: str | None) -> Source:
        """Return a :class:`Source` for ``uri`` at ``rev``.

        Raise :class:`~mlem.errors.RevisionNotFoundError` for a rev that names
        nothing, :class:`~mlem.errors.RevisionsNotSupportedError` for a rev on
        storage without revisions, :class:`~mlem.errors.StorageError` when the
        storage cannot be reached. Never put credentials in messages.
        """
        raise NotImplementedError

    def project_uri(self, source: Source, root: str) -> str:
        """The address to write in a link for the project rooted at ``root``.

        ``root`` is a file-system path of ``source.fs``. The result carries no
        credentials and, for directory-like storage, ends with ``/`` as MLEM
        writes it (``https://github.com/org/repo/``, ``s3://bucket/prefix/``).
        """
        raise NotImplementedError

    def display_uri(self, source: Source, path: str) -> str:
        """A readable address of ``path`` in ``source``, for messages."""
        return path

    def snapshot(self) -> AbstractContextManager[None]:
        """A block of work over many links (``mlem check``, ``mlem update
        --all``, :func:`mlem.batch.load_many`) in which the resolver may look
        at each storage once and answer every address from that one look:
        one consistent view, one round trip per storage instead of one per
        rev. Outside the block, each :meth:`open` looks afresh. The default
        does nothing."""
        return nullcontext()

    def rev_for(self, source: Source, path: str) -> str | None:
        """The rev that ``path`` is read at, as a link to it should record.

        ``source.rev`` for storage whose revs version the whole tree (git);
        storage that versions single objects returns it only for the object
        the rev names, and None for the others, which are read as they are.
        """
        return source.rev

    def file_exists(self, source: Source, path: str) -> bool:
        """Whether a metafile exists at ``path``; storage with per-object
        versions may answer for the version ``source.rev`` names."""
        return source.fs.isfile(path)

    def read_file(self, source: Source, path: str) -> bytes:
        """The bytes of the metafile at ``path`` (at ``source.rev`` where the
        storage versions single objects rather than whole trees)."""
        return source.fs.cat_file(path)

    def read_files(
        self, source: Source, paths: list[str]
    ) -> dict[str, bytes | Exception]:
        """Many metafiles at once: path → bytes, or the error reading it.

        The default reads one after another; resolvers for storage with high
        latency override it to fetch concurrently.
        """
        result: dict[str, bytes | Exception] = {}
        for path in paths:
            try:
                result[path] = self.read_file(source, path)
            except Exception as exc:  # handed back to the caller, per path
                result[path] = exc
        return result

    def write_file(self, source: Source, path: str, data: bytes) -> None:
        """Write ``data`` at ``path`` so that no reader ever sees half of it."""
        source.fs.pipe_file(path, data)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
