"""Loading many objects at once: one request per storage, not one per object.

A registry of a thousand links into one bucket costs a thousand round trips
when each link is followed on its own. :func:`load_many` follows them side by
side instead: every step of every chain is read in one batch, grouped by the
source it lives in, through :meth:`~mlem.resolver.Resolver.read_files`, which
resolvers for high-latency storage implement with concurrent requests.

The result is the same as calling :func:`mlem.api.load_meta` on each path:
same objects, same ``via`` chains, same checks (link types, validation hooks,
loops) and the same errors.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlem.errors import MlemError, ObjectTypeError
from mlem.links import Walk, read_metafile, read_object
from mlem.location import Location, Opener
from mlem.objects import MLEM_EXT, MlemLink, MlemObject
from mlem.plugins import get_plugin_manager

if TYPE_CHECKING:
    from mlem.api import StrPath

__all__ = ["load_many"]

logger = logging.getLogger(__name__)


class _Chain:
    """One path's walk along its links."""

    __slots__ = ("walk", "current", "error")

    def __init__(self) -> None:
        self.walk = Walk()
        self.current: MlemObject | None = None
        self.error: Exception | None = None

    @property
    def links(self) -> list[MlemLink]:
        return self.walk.links


def load_many(
    paths: Sequence[StrPath],
    project: str | None = None,
    rev: str | None = None,
    follow_links: bool = True,
    force_type: str | type[MlemObject] | None = None,
    return_exceptions: bool = False,
) -> list[Any]:
    """The objects at ``paths`` (in ``project`` at ``rev``), in order.

    Arguments mean what they mean for :func:`mlem.api.load_meta`. With
    ``return_exceptions``, a path that fails gives its error in its place in
    the result; without, the first failure (in the order of ``paths``) is
    raised once every path has been tried.
    """
    opener = Opener(get_plugin_manager())
    type_name = force_type.object_type if isinstance(force_type, type) else force_type
    chains = [_Chain() for _ in paths]

    wanted: list[tuple[int, Location, str | None]] = []
    for index, path in enumerate(paths):
        try:
            location = opener.locate(os.fspath(path), project, rev)
        except Exception as exc:
            chains[index].error = exc
            continue
        wanted.append((index, location, type_name))
    _store(chains, _read_batch(opener, wanted))

    while follow_links:
        wanted = []
        for index, chain in enumerate(chains):
            if chain.error is None and isinstance(chain.current, MlemLink):
                step = _next_step(opener, chain)
                if step is not None:
                    wanted.append((index, step, chain.links[-1].link_type))
        if not wanted:
            break
        read = _read_batch(opener, wanted)
        for index, obj in read.items():
            chain = chains[index]
            if isinstance(obj, Exception):
                chain.error = obj
                continue
            try:
                chain.walk.accept(chain.links[-1], obj)
            except MlemError as exc:
                chain.error = exc
                continue
            chain.current = obj

    results: list[Any] = []
    for chain in chains:
        obj = chain.current
        if chain.error is None and obj is not None:
            obj.via = chain.links
            if type_name is not None and obj.type_name != type_name:
                chain.error = ObjectTypeError(
                    f"{obj.location} is a {obj.type_name}, not a {type_name}"
                )
        results.append(chain.error if chain.error is not None else obj)
    if not return_exceptions:
        for result in results:
            if isinstance(result, Exception):
                raise result
    return results


def _store(chains: list[_Chain], read: dict[int, MlemObject | Exception]) -> None:
    for index, obj in read.items():
        if isinstance(obj, Exception):
            chains[index].error = obj
        else:
            chains[index].current = obj


def _next_step(opener: Opener, chain: _Chain) -> Location | None:
    """Where the chain's current link points, after the checks ``follow`` makes."""
    link = chain.current
    assert isinstance(link, MlemLink)
    try:
        return chain.walk.target_of(opener, link)
    except Exception as exc:
        chain.error = exc
        return None


def _read_batch(
    opener: Opener, wanted: list[tuple[int, Location, str | None]]
) -> dict[int, MlemObject | Exception]:
    """Read the metafile each location names: one ``read_files`` per source.

    The plain ``<path>.mlem`` is fetched for all of them at once; a location
    whose metafile is not there goes the one-by-one way, which knows the
    pre-0.3 layout and says what it found instead.
    """
    groups: dict[int, list[tuple[int, Location, str | None]]] = {}
    for item in wanted:
        groups.setdefault(id(item[1].source), []).append(item)

    result: dict[int, MlemObject | Exception] = {}
    for items in groups.values():
        source = items[0][1].source
        direct = {index: _direct_path(loc) for index, loc, _ in items}
        logger.debug("reading %d metafiles from %s", len(items), source)
        try:
            raw = source.resolver.read_files(source, sorted(set(direct.values())))
        except Exception as exc:  # the whole source failed: every item did
            for index, _, _ in items:
                result[index] = exc
            continue
        for index, location, type_hint in items:
            path = direct[index]
            data = raw.get(path)
            try:
                if isinstance(data, bytes):
                    found = Location(source, path, location.root)
                    result[index] = read_metafile(opener, found, data)
                elif data is None or isinstance(data, FileNotFoundError):
                    result[index] = read_object(opener, location, type_hint)
                else:
                    raise data
            except Exception as exc:
                result[index] = exc
    return result


def _direct_path(location: Location) -> str:
    path = location.path
    return path if path.endswith(MLEM_EXT) else path + MLEM_EXT
