"""Reading objects and following links from one location to the next."""

from __future__ import annotations

import hashlib
import logging
import posixpath
from typing import TYPE_CHECKING, Any

from mlem import metafile
from mlem._uri import scheme_of
from mlem.errors import (
    LinkCycleError,
    LinkEscapeError,
    LinkRefusedError,
    LockMismatchError,
    MetafileError,
    MlemError,
    ObjectNotFoundError,
    ObjectTypeError,
)
from mlem.location import Location, find_metafile, join_inside, storage_errors
from mlem.objects import KNOWN_LINK_TYPES, MLEM_EXT, MlemLink, MlemObject, Where

if TYPE_CHECKING:
    from mlem.location import Opener

logger = logging.getLogger(__name__)

#: how many links a chain may have before it is taken for a loop
MAX_CHAIN = 32


def read_object(
    opener: Opener, location: Location, type_hint: str | None = None
) -> MlemObject:
    """The object whose metafile ``location`` names (links not followed)."""
    return read_metafile(opener, find_metafile(location, type_hint))


def read_metafile(
    opener: Opener, found: Location, raw: bytes | None = None
) -> MlemObject:
    """The object in the metafile at ``found`` (whose bytes are ``raw``, when
    the caller has already read them)."""
    where = Where(found)
    if raw is None:
        logger.debug("reading %s", where)
        try:
            with storage_errors(found.source, found.path):
                raw = found.source.resolver.read_file(found.source, found.path)
        except FileNotFoundError as exc:
            if isinstance(exc, MlemError):
                raise
            raise ObjectNotFoundError(f"{where} disappeared while it was read") from exc
    sha256 = hashlib.sha256(raw).hexdigest()
    # a registry's links repeat the same few bytes many times over: parse each
    # distinct metafile once per call, and hand every object its own copy
    parsed = opener.parsed.get(sha256)
    if parsed is None:
        parsed = opener.parsed[sha256] = metafile.parse(raw, where)
    data = _copy_tree(parsed)
    obj = metafile.build(data, found, opener.pm.object_types(), where)
    obj.sha256 = sha256
    if isinstance(obj, MlemLink):
        check_link_type(opener, obj)
    return obj


def _copy_tree(value: Any) -> Any:
    """A copy of parsed YAML (mappings, lists, scalars): what ``deepcopy``
    does for it, several times faster, as every object read needs one."""
    if isinstance(value, dict):
        return {key: _copy_tree(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy_tree(item) for item in value]
    return value


def check_link_type(opener: Opener, link: MlemLink) -> None:
    known = KNOWN_LINK_TYPES | set(opener.pm.object_types())
    if link.link_type is not None and link.link_type not in known:
        raise MetafileError(
            str(link.location or "link"),
            f"unknown link_type {link.link_type!r}",
            f"known types: {', '.join(sorted(known))}",
        )


def target_location(opener: Opener, link: MlemLink) -> Location:
    """Where ``link`` points."""
    here = link.location
    if link.project is None and (scheme_of(link.path) or link.path.startswith("/")):
        # MLEM 0.1 wrote whole addresses in mlem_link
        return opener.locate(link.path, None, link.rev)
    if link.project is None:
        if here is None:
            raise MetafileError("link", "a relative link has no location to start from")
        try:
            path = join_inside(here.dir, link.path)
        except LinkEscapeError:
            project = here.project or here.dir
            raise LinkEscapeError(
                f"{here}: link path {link.path} leaves its project {project}; "
                "a relative link must stay inside its project"
            ) from None
        return Location(here.source, path, here.root)
    # a locked link reads the commit it recorded, whatever its rev does later
    rev = link.locked_commit or link.rev
    return opener.locate(link.path, _anchor_project(link), rev)


def _anchor_project(link: MlemLink) -> str:
    """A relative local project path is read from the link's folder."""
    project = link.project
    assert project is not None
    here = link.location
    if (
        here is not None
        and not scheme_of(project)
        and not project.startswith("/")
        and here.source.resolver.name == "local"
    ):
        return posixpath.normpath(posixpath.join(posixpath.dirname(here.path), project))
    return project


class Walk:
    """One walk along a chain of links: the checks every step makes.

    :func:`follow` walks one chain; :func:`mlem.batch.load_many` walks many
    side by side. Both take each step through :meth:`target_of` and
    :meth:`accept`, so they refuse the same things in the same words.
    More than ``max_chain`` links (default :data:`MAX_CHAIN`) is taken for a
    loop that the links already seen could not catch, such as one through
    ever-new revs.
    """

    def __init__(self, max_chain: int | None = None) -> None:
        self.max_chain = MAX_CHAIN if max_chain is None else max_chain
        #: the links followed so far, first one first
        self.links: list[MlemLink] = []
        self._seen: set[tuple[str, str]] = set()

    def target_of(self, opener: Opener, link: MlemLink) -> Location:
        """Where ``link`` points, once it is known not to loop and allowed."""
        key = _identity(link)
        if key in self._seen:
            names = " -> ".join(str(one.location) for one in self.links)
            raise LinkCycleError(
                f"links loop: {names} -> {link.location}; "
                "point one of them at an object"
            )
        if len(self.links) >= self.max_chain:
            raise LinkCycleError(
                f"more than {self.max_chain} links from {self.links[0].location}; "
                "is there a loop?"
            )
        self._seen.add(key)
        self.links.append(link)
        target = target_location(opener, link)
        reason = opener.pm.validate_link(link, target.display(), "follow")
        if reason:
            raise LinkRefusedError(f"refused to follow {link.location}: {reason}")
        return target

    @staticmethod
    def accept(link: MlemLink, following: MlemObject) -> None:
        """Refuse what ``link`` reached if its lock or type says otherwise."""
        check_lock(link, following)
        check_target_type(link, following)


def follow(opener: Opener, obj: MlemObject, max_chain: int | None = None) -> MlemObject:
    """Follow ``obj`` while it is a link; the object at the end of the chain."""
    walk = Walk(max_chain)
    current = obj
    while isinstance(current, MlemLink):
        target = walk.target_of(opener, current)
        following = read_object(opener, target, current.link_type)
        walk.accept(current, following)
        current = following
    current.via = walk.links
    return current


def check_lock(link: MlemLink, target: MlemObject) -> None:
    """Refuse a target whose metafile is not the one a locked link recorded."""
    expected = link.locked_sha256
    if expected is None or target.sha256 == expected:
        return
    at = f" at commit {link.locked_commit}" if link.locked_commit else ""
    raise LockMismatchError(
        f"{link.location} is locked to sha256 {expected} of {target.location}{at}, "
        f"but found sha256 {target.sha256}; if the change is intended, run: "
        f"mlem update {link.location}"
    )


def check_target_type(link: MlemLink, target: MlemObject) -> None:
    """Refuse a target whose type is not the one ``link`` declares."""
    expected = link.link_type
    if expected is None or expected == "link":
        return
    found = target.link_type if isinstance(target, MlemLink) else target.type_name
    if found is not None and found != expected:
        kind = f"a link to a {found}" if isinstance(target, MlemLink) else f"a {found}"
        raise ObjectTypeError(
            f"{link.location} links to a {expected}, but {target.location} is {kind}"
        )


def _identity(link: MlemLink) -> tuple[str, str]:
    location = link.location
    if location is None:
        return ("", str(id(link)))
    source = location.source
    storage = source.storage_id or source.display
    return (
        f"{source.resolver.name}:{storage}@{source.commit or source.rev}",
        location.path,
    )


def scan(opener: Opener, root: Location) -> list[tuple[str, MlemObject | MlemError]]:
    """Every metafile in the project rooted at ``root``, by path: the object
    read from it, or the error reading it (links are not followed).

    Hidden folders are skipped, except the pre-0.3 layout's ``.mlem/``.
    """
    with storage_errors(root.source):
        paths = sorted(root.fs.find(root.path) if root.path else root.fs.find(""))
    found: list[tuple[str, MlemObject | MlemError]] = []
    for path in paths:
        rel = posixpath.relpath(path, root.path) if root.path else path
        parts = rel.split("/")
        hidden = any(p.startswith(".") for p in parts[:-1]) and parts[0] != ".mlem"
        if not rel.endswith(MLEM_EXT) or hidden:
            continue
        try:
            found.append(
                (rel, read_object(opener, Location(root.source, path, root.path)))
            )
        except MlemError as exc:
            found.append((rel, exc))
    return found
