"""The Python API: the same names and meanings as MLEM 0.4's ``mlem.api``."""

from __future__ import annotations

import logging
import os
import posixpath
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mlem import metafile
from mlem.errors import (
    LinkError,
    LinkRefusedError,
    MetafileError,
    MlemError,
    NotAProjectError,
    ObjectTypeError,
    TargetExistsError,
)
from mlem.links import check_link_type, follow, read_metafile, read_object, scan
from mlem.location import (
    PROJECT_FILE,
    Location,
    Opener,
    find_metafile,
    storage_errors,
)
from mlem.objects import MLEM_EXT, MlemLink, MlemObject
from mlem.plugins import get_plugin_manager

if TYPE_CHECKING:
    from os import PathLike

    StrPath = str | PathLike[str]

__all__ = ["check", "get", "init", "link", "load_meta", "ls", "update"]

logger = logging.getLogger(__name__)


def _opener() -> Opener:
    return Opener(get_plugin_manager())


def init(project: StrPath = ".") -> str:
    """Make ``project`` a MLEM project: write an empty ``.mlem.yaml`` there.

    An existing ``.mlem.yaml`` is left as it is. Returns the project's address.
    """
    opener = _opener()
    source = opener.open(os.fspath(project), None)
    if source.base and source.fs.isfile(source.base):
        raise NotAProjectError(
            f"{source.display} is a file; a project is a folder (give a new or "
            "existing folder)"
        )
    marker = posixpath.join(source.base, PROJECT_FILE) if source.base else PROJECT_FILE
    if not source.fs.exists(marker):
        source.resolver.write_file(source, marker, b"")
    return source.resolver.project_uri(source, source.base)


def load_meta(
    path: StrPath,
    project: str | None = None,
    rev: str | None = None,
    follow_links: bool = True,
    force_type: str | type[MlemObject] | None = None,
) -> MlemObject:
    """Read the object at ``path`` (in ``project`` at ``rev``).

    Links are followed to the object they name unless ``follow_links`` is
    false; the links passed through are in the result's ``via``. With
    ``force_type`` (a type name or class), an object of another type is an
    :class:`~mlem.errors.ObjectTypeError`.
    """
    opener = _opener()
    type_name = force_type.object_type if isinstance(force_type, type) else force_type
    location = opener.locate(os.fspath(path), project, rev)
    obj = read_object(opener, location, type_name)
    if follow_links:
        obj = follow(opener, obj)
    if type_name is not None and obj.type_name != type_name:
        raise ObjectTypeError(f"{obj.location} is a {obj.type_name}, not a {type_name}")
    return obj


def link(
    source: StrPath,
    source_project: str | None = None,
    rev: str | None = None,
    target: StrPath | None = None,
    target_project: str | None = None,
    follow_links: bool = True,
    absolute: bool = False,
    force: bool = False,
    lock: bool | None = None,
) -> MlemLink:
    """Make a link to the object at ``source``; write it at ``target`` if given.

    The link is relative (no ``project``) when it is written in the project of
    its target and ``absolute`` is false; otherwise it records the target's
    project and the rev as given. With ``follow_links`` false, a link to a link
    stays a link to that link. An existing ``target`` is refused unless
    ``force``. With ``lock`` (default: ``links: {lock: true}`` in the target
    project's ``.mlem.yaml``), the link also records the commit the rev
    resolved to and the sha256 of the target metafile.
    """
    opener = _opener()
    found = find_metafile(opener.locate(os.fspath(source), source_project, rev))
    logger.info("Loading meta from %s", found.display())
    obj = read_metafile(opener, found)
    if follow_links:
        obj = follow(opener, obj)
        if obj.via:
            logger.info("Following links to %s", obj.location)
    target_str = os.fspath(target) if target is not None else None
    return _link_to(obj, target_str, target_project, absolute, force, opener, lock)


def _link_to(
    obj: MlemObject,
    target: str | None,
    target_project: str | None,
    absolute: bool,
    force: bool = False,
    opener: Opener | None = None,
    lock: bool | None = None,
) -> MlemLink:
    opener = opener or _opener()
    here = obj.location
    if here is None:
        raise MlemError(
            f"{obj!r} was not read from a metafile, so nothing can link to it"
        )
    link_type = obj.link_type if isinstance(obj, MlemLink) else obj.type_name
    if target is None:
        return _absolute_link(here, link_type)

    _check_target_name(target)
    if not target.endswith(MLEM_EXT):
        target += MLEM_EXT
    where = opener.locate(target, target_project, None)
    if lock is None:
        lock = bool(project_settings(where).get("lock", False))
    if not absolute and _same_project(here, where):
        new = MlemLink.make(path=here.relpath, link_type=link_type)
    else:
        new = _absolute_link(here, link_type)
    if lock:
        new = _locked(new, here.commit if new.project else None, obj.sha256)
    new.location = where
    check_link_type(opener, new)

    reason = opener.pm.validate_link(new, here.display(), "write")
    if reason:
        raise LinkRefusedError(f"refused to write a link to {here}: {reason}")
    if where.fs.isdir(where.path):
        raise TargetExistsError(f"{where} is a folder; name the link's file instead")
    if where.fs.exists(where.path) and not force:
        raise TargetExistsError(
            f"{where} already exists; pass --force (force=True) to overwrite it"
        )
    logger.info("Saving link to %s", where.display())
    where.source.resolver.write_file(
        where.source, where.path, metafile.dump(new.to_dict())
    )
    return new


def _check_target_name(target: str) -> None:
    """Refuse a target that names no file (``''``, ``.``, ``dir/``)."""
    name = posixpath.basename(target)
    if name in ("", ".", "..", MLEM_EXT) or any(ord(c) < 32 for c in target):
        raise LinkError(
            f"target {target!r} names no file; give the link a name, such as "
            "churn or links/churn"
        )


def _locked(link: MlemLink, commit: str | None, sha256: str | None) -> MlemLink:
    lock = {"commit": commit, "sha256": sha256}
    return MlemLink.make(
        path=link.path,
        project=link.project,
        rev=link.rev,
        link_type=link.link_type,
        lock={k: v for k, v in lock.items() if v},
    )


def project_settings(location: Location) -> dict[str, Any]:
    """The ``links:`` section of the ``.mlem.yaml`` of ``location``'s project."""
    if location.root is None:
        return {}
    marker = (
        posixpath.join(location.root, PROJECT_FILE) if location.root else PROJECT_FILE
    )
    try:
        with storage_errors(location.source):
            raw = location.fs.cat_file(marker)
    except FileNotFoundError:
        return {}
    if not raw.strip():
        return {}
    settings = metafile.parse_mapping(raw, marker).get("links") or {}
    if not isinstance(settings, dict):
        raise MetafileError(marker, "'links' must be a mapping, such as {lock: true}")
    lock = settings.get("lock", False)
    if not isinstance(lock, bool):
        raise MetafileError(
            marker, f"links.lock must be true or false, not {lock!r}", "unquoted"
        )
    max_chain = settings.get("max_chain")
    if max_chain is not None and (
        not isinstance(max_chain, int) or isinstance(max_chain, bool) or max_chain < 1
    ):
        raise MetafileError(
            marker,
            f"links.max_chain must be a whole number of 1 or more, not {max_chain!r}",
        )
    return settings


def _absolute_link(here: Location, link_type: str | None) -> MlemLink:
    if here.root is not None:
        project, path = here.project, here.relpath
    else:
        folder = posixpath.dirname(here.path)
        project = here.source.resolver.project_uri(here.source, folder)
        path = posixpath.basename(here.path)
    return MlemLink.make(path=path, project=project, rev=here.rev, link_type=link_type)


def _same_project(here: Location, where: Location) -> bool:
    return (
        here.root is not None
        and here.source.resolver is where.source.resolver
        and here.rev == where.rev
        and here.root == where.root
        and here.project == where.project
    )


def ls(
    project: str = ".",
    rev: str | None = None,
    on_error: Callable[[str, MlemError], None] | None = None,
) -> list[MlemObject]:
    """Every object and link in ``project`` at ``rev``, by path; links not followed.

    Hidden folders are skipped, except the pre-0.3 layout's ``.mlem/``. A
    metafile that cannot be read raises its error, or, with ``on_error``, is
    handed to it (with its path) and the listing goes on.
    """
    opener = _opener()
    found = []
    for rel, obj in scan(opener, opener.project_root(project, rev)):
        if isinstance(obj, MlemError):
            if on_error is None:
                raise obj
            on_error(rel, obj)
            continue
        found.append(obj)
    return found


def get(
    path: StrPath,
    out: StrPath,
    project: str | None = None,
    rev: str | None = None,
) -> list[str]:
    """Copy the object at ``path`` (links followed) and its artifacts into
    ``out``, each artifact verified against its recorded md5 and size."""
    from mlem.fetch import get as _get

    return _get(os.fspath(path), os.fspath(out), project=project, rev=rev)


def check(
    project: str = ".", rev: str | None = None, max_chain: int | None = None
) -> list[dict[str, Any]]:
    """Resolve every link in ``project``; see :func:`mlem.registry.check`."""
    from mlem.registry import check as _check

    return _check(project, rev=rev, max_chain=max_chain)


def update(
    links: list[str] | None = None,
    project: str = ".",
    all_links: bool = False,
    rev: str | None = None,
    dry_run: bool = False,
) -> list[dict[str, Any]]:
    """Re-resolve locked links; see :func:`mlem.registry.update`."""
    from mlem.registry import update as _update

    return _update(links or (), project, all_links=all_links, rev=rev, dry_run=dry_run)
