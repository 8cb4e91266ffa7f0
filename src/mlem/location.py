"""Locations: where a metafile is, and how an address becomes one.

A :class:`Location` is a path in a :class:`~mlem.resolver.Source` (a file
system opened by a resolver at a rev), plus the root of the project that holds
it. The project root is the nearest folder upwards with ``.mlem.yaml`` (or,
for the pre-0.3 layout, ``.mlem/config.yaml``), never above the source's
boundary.
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from mlem._uri import strip_credentials
from mlem.errors import (
    LinkEscapeError,
    MlemError,
    NotAProjectError,
    ObjectNotFoundError,
    RevisionNotFoundError,
    StorageAccessError,
    StorageError,
)
from mlem.objects import MLEM_EXT

if TYPE_CHECKING:
    from mlem.plugins import PluginManager
    from mlem.resolver import FileSystem, Source

logger = logging.getLogger(__name__)

PROJECT_FILE = ".mlem.yaml"
OLD_LAYOUT_DIR = ".mlem"
OLD_PROJECT_FILE = ".mlem/config.yaml"


class Location:
    """A path in an opened source, and the root of its project (if any).

    ``path`` is the file-system path of the metafile (or of where one will be
    written); ``root`` that of the project root, None outside any project.
    """

    __slots__ = ("source", "path", "root")

    def __init__(self, source: Source, path: str, root: str | None) -> None:
        self.source = source
        self.path = path
        self.root = root

    def __repr__(self) -> str:
        return f"<Location {self.display()}>"

    @property
    def fs(self) -> FileSystem:
        return self.source.fs

    @property
    def rev(self) -> str | None:
        """The rev this path is read at (see :meth:`Resolver.rev_for`)."""
        return self.source.resolver.rev_for(self.source, self.path)

    @property
    def commit(self) -> str | None:
        if self.source.rev is not None and self.rev is None:
            return None  # an object-versioned store, and not the pinned object
        return self.source.commit

    @property
    def project(self) -> str | None:
        """The project's address as a link writes it, or None."""
        if self.root is None:
            return None
        return self.source.resolver.project_uri(self.source, self.root)

    @property
    def relpath(self) -> str:
        """The path inside the project (or below the folder, outside one)."""
        base = self.root if self.root is not None else posixpath.dirname(self.path)
        return relative_to(self.path, base)

    @property
    def dir(self) -> str:
        """Where relative links in this metafile are anchored."""
        return self.root if self.root is not None else posixpath.dirname(self.path)

    def display(self) -> str:
        """A readable address, without credentials."""
        return self.source.resolver.display_uri(self.source, self.path)

    def __str__(self) -> str:
        return self.display()


class Opener:
    """Opens addresses through the resolvers, once per (address, rev) per call."""

    def __init__(self, pm: PluginManager) -> None:
        self.pm = pm
        self.cache: dict[tuple[str, str | None], Source] = {}
        #: sha256 of a metafile's bytes -> what it parsed to
        self.parsed: dict[str, dict[str, Any]] = {}

    def open(self, uri: str, rev: str | None) -> Source:
        if rev is not None and not rev.strip():
            raise RevisionNotFoundError(
                f"an empty rev was given for {strip_credentials(uri)}; name a branch, "
                "tag or commit, or give none for the default"
            )
        key = (uri, rev)
        if key not in self.cache:
            resolver = self.pm.resolver_for(uri, rev)
            logger.debug(
                "opening %s at rev %s with %s", strip_credentials(uri), rev, resolver
            )
            self.cache[key] = resolver.open(uri, rev)
        return self.cache[key]

    def locate(self, path: str, project: str | None, rev: str | None) -> Location:
        """The location of ``path``, inside ``project`` when one is given."""
        if project is not None:
            source = self.open(project, rev)
            root = source.base
            if root and _is_file(source, root):
                raise NotAProjectError(
                    f"{source.display} is a file, not a project folder; name the "
                    "folder that holds .mlem.yaml"
                )
            return Location(source, join_inside(root, path), root)
        source = self.open(path, rev)
        with storage_errors(source):
            root = find_root(source.fs, posixpath.dirname(source.base), source.boundary)
        return Location(source, source.base, root)

    def project_root(self, project: str, rev: str | None) -> Location:
        """The location of a project's root folder."""
        source = self.open(project, rev)
        with storage_errors(source):
            # "" is the root of a repository or bucket, always a folder
            if source.base and not source.fs.isdir(source.base):
                at = f" at rev {rev}" if rev else ""
                if source.fs.isfile(source.base):
                    raise NotAProjectError(
                        f"{source.display}{at} is a file, not a project folder; "
                        "name the folder that holds .mlem.yaml"
                    )
                raise ObjectNotFoundError(
                    f"no folder {source.display}{at}; check the address"
                )
            root = find_root(source.fs, source.base, source.boundary)
        if root is None:
            root = source.base
        return Location(source, root, root)


@contextmanager
def storage_errors(source: Source, path: str = "") -> Iterator[None]:
    """Turn a file system's own errors into MLEM's, the original as the cause.

    A missing file is left to the caller, which knows what was asked for.
    """
    try:
        yield
    except (MlemError, FileNotFoundError):
        raise
    except PermissionError as exc:
        where = source.resolver.display_uri(source, path) if path else source.display
        raise StorageAccessError(f"access denied to {where}: {exc}") from exc
    except OSError as exc:
        where = source.display or source.resolver.name
        raise StorageError(
            f"cannot read {where}: {type(exc).__name__}: {exc}; "
            "check the address and that the storage is reachable"
        ) from exc


def _is_file(source: Source, path: str) -> bool:
    """Whether ``path`` is a file; False when that cannot be told (access to
    the project itself may be denied while its objects are readable)."""
    try:
        return bool(source.fs.isfile(path))
    except (MlemError, OSError):
        return False


def relative_to(path: str, base: str) -> str:
    if not base:
        return path.lstrip("/")
    return posixpath.relpath(path, base)


def join_inside(root: str, path: str) -> str:
    """``root``/``path``, refusing a ``path`` that leaves ``root``."""
    if root:
        top = root.rstrip("/")
        joined = posixpath.normpath(posixpath.join(root, path))
        # an absolute path is fine when it is inside: a local project given
        # with --sp, and the object by its full path
        inside = joined == top or joined.startswith(top + "/")
    else:
        joined = posixpath.normpath(path)
        inside = (
            not path.startswith("/") and joined != ".." and not joined.startswith("../")
        )
        joined = "" if joined == "." else joined
    if not inside:
        raise LinkEscapeError(
            f"path {path} leaves {root or 'the root'}; it must stay inside it"
        )
    return joined


def find_root(fs: FileSystem, start: str, boundary: str) -> str | None:
    """The nearest folder from ``start`` upwards that is a MLEM project."""
    current = start
    while True:
        for marker in (PROJECT_FILE, OLD_PROJECT_FILE):
            if fs.exists(posixpath.join(current, marker) if current else marker):
                return current
        if current in (boundary, "", "/") or not current.startswith(boundary):
            return None
        parent = posixpath.dirname(current.rstrip("/"))
        if parent == current:
            return None
        current = parent


def metafile_candidates(location: Location, type_hint: str | None) -> list[str]:
    """The file-system paths a metafile for ``location`` may have, in order."""
    path = location.path
    candidates = [path] if path.endswith(MLEM_EXT) else [path + MLEM_EXT]
    if location.root is not None and _is_old_layout(location):
        # MLEM before 0.3 kept objects in .mlem/<type>/<name>.mlem
        name = relative_to(path, location.root)
        if not name.endswith(MLEM_EXT):
            name += MLEM_EXT
        types = [type_hint] if type_hint else _old_layout_types(location)
        for type_name in types:
            candidates.append(
                posixpath.join(location.root, OLD_LAYOUT_DIR, type_name, name)
            )
    return candidates


def find_metafile(location: Location, type_hint: str | None = None) -> Location:
    """The location of the metafile that ``location`` names.

    Raises :class:`ObjectNotFoundError`, naming an old-layout metafile of the
    same name when there is one.
    """
    source = location.source
    with storage_errors(source, location.path):
        for candidate in metafile_candidates(location, type_hint):
            if source.resolver.file_exists(source, candidate):
                return Location(location.source, candidate, location.root)
        raise ObjectNotFoundError(_not_found_message(location))


def _not_found_message(location: Location) -> str:
    source = location.source
    name = location.relpath
    where = location.project or source.resolver.display_uri(
        source, posixpath.dirname(location.path)
    )
    at = f" at rev {source.rev}" if source.rev else ""
    message = f"no MLEM object at {name} in {where}{at}"
    if location.root is not None and _is_old_layout(location):
        base = posixpath.basename(location.path)
        if base.endswith(MLEM_EXT):
            base = base[: -len(MLEM_EXT)]
        found = [
            relative_to(
                posixpath.join(location.root, OLD_LAYOUT_DIR, t, base + MLEM_EXT),
                location.root,
            )
            for t in _old_layout_types(location)
            if location.fs.isfile(
                posixpath.join(location.root, OLD_LAYOUT_DIR, t, base + MLEM_EXT)
            )
        ]
        if found:
            return (
                message + f" (found {found[0]}: an old-layout project; pass that path)"
            )
        return (
            message
            + " (an old-layout project keeps objects in .mlem/<type>/<name>.mlem)"
        )
    return message + " (no such metafile; check the path and the rev)"


def _is_old_layout(location: Location) -> bool:
    assert location.root is not None
    # asked for every metafile looked up; on a bucket each answer is a request
    known = location.source.extra.setdefault("mlem.old_layout", {})
    if location.root not in known:
        folder = posixpath.join(location.root, OLD_LAYOUT_DIR)
        known[location.root] = location.fs.isdir(folder)
    return bool(known[location.root])


def _old_layout_types(location: Location) -> list[str]:
    assert location.root is not None
    folder = posixpath.join(location.root, OLD_LAYOUT_DIR)
    try:
        entries = location.fs.ls(folder)  # type: ignore[attr-defined]
    except (FileNotFoundError, NotADirectoryError):
        return []
    names = [posixpath.basename(str(e).rstrip("/")) for e in entries]
    return sorted(n for n in names if location.fs.isdir(posixpath.join(folder, n)))
