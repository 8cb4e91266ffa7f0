"""Looking after a registry: ``check`` every link, ``update`` locked ones."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mlem import errors, metafile
from mlem.links import follow, read_metafile, read_object, scan, target_location
from mlem.location import Location, Opener, find_metafile
from mlem.objects import MlemLink
from mlem.plugins import get_plugin_manager

logger = logging.getLogger(__name__)

#: what ``check`` calls each kind of broken link, by the error that broke it
PROBLEMS: list[tuple[type[Exception], str]] = [
    (errors.RevisionNotFoundError, "missing rev"),
    (errors.ObjectNotFoundError, "missing target"),
    (errors.LinkCycleError, "cycle"),
    (errors.LockMismatchError, "hash mismatch"),
    (errors.ObjectTypeError, "wrong type"),
    (errors.LinkRefusedError, "refused"),
    (errors.LinkEscapeError, "escapes its project"),
    (errors.MetafileError, "bad metafile"),
    (errors.StorageError, "unreachable"),
    (errors.UnknownSchemeError, "no resolver"),
    (errors.RevisionsNotSupportedError, "rev not supported"),
]


class SharedOpener(Opener):
    """An :class:`Opener` that threads share: each (address, rev) opened once.

    A failure is kept too: a host that is down costs one time-out per check,
    not one per link into it.
    """

    def __init__(self, pm: Any) -> None:
        super().__init__(pm)
        self._locks: dict[tuple[str, str | None], threading.Lock] = {}
        self._failed: dict[tuple[str, str | None], Exception] = {}
        self._guard = threading.Lock()

    def open(self, uri: str, rev: str | None) -> Any:
        key = (uri, rev)
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key in self._failed:
                raise self._failed[key]
            try:
                return super().open(uri, rev)
            except (errors.MlemError, OSError) as exc:
                self._failed[key] = exc
                raise


def _links_in(opener: Opener, root: Location) -> list[tuple[str, MlemLink | Exception]]:
    """Every metafile in the project that is a link (or fails to read)."""
    return [
        (rel, obj)
        for rel, obj in scan(opener, root)
        if isinstance(obj, MlemLink | Exception)
    ]


def check(
    project: str = ".",
    rev: str | None = None,
    max_chain: int | None = None,
    workers: int = 8,
) -> list[dict[str, Any]]:
    """Resolve every link in ``project``; one report per link, by path.

    A report has ``path``, ``status`` (``ok``, ``broken`` or ``drifted``),
    ``problem`` (what broke it, or ``None``), ``message``, ``target`` and
    ``commit``. Chains longer than ``max_chain`` (default: ``links:
    {max_chain: N}`` in the registry's ``.mlem.yaml``, else
    :data:`mlem.links.MAX_CHAIN`) are reported as cycles. Links into one
    project are checked together, so each project and rev is opened once
    however many links name it; different projects are checked concurrently.
    """
    pm = get_plugin_manager()
    with snapshots(pm.resolvers()):  # loaded before threads start
        return _check(SharedOpener(pm), project, rev, max_chain, workers)


@contextlib.contextmanager
def snapshots(resolvers: list[Any]) -> Iterator[None]:
    """Every resolver's :meth:`~mlem.resolver.Resolver.snapshot` at once: for
    work over many links, one look at each storage (the git resolver lists
    each remote's refs once)."""
    with contextlib.ExitStack() as stack:
        for resolver in resolvers:
            stack.enter_context(resolver.snapshot())
        yield


def _check(
    opener: SharedOpener,
    project: str,
    rev: str | None,
    max_chain: int | None,
    workers: int,
) -> list[dict[str, Any]]:
    root = opener.project_root(project, rev)
    if max_chain is None:
        from mlem.api import project_settings

        configured = project_settings(root).get("max_chain")
        max_chain = int(configured) if configured is not None else None
    entries = _links_in(opener, root)

    groups: dict[str, list[tuple[str, MlemLink | Exception]]] = {}
    for rel, link in entries:
        key = link.project or "" if isinstance(link, MlemLink) else ""
        groups.setdefault(key, []).append((rel, link))

    def run(group: list[tuple[str, MlemLink | Exception]]) -> list[dict[str, Any]]:
        _open_ahead(opener, group)
        return [_check_one(opener, rel, link, max_chain) for rel, link in group]

    reports: list[dict[str, Any]] = []
    if workers <= 1 or len(groups) <= 1:
        for group in groups.values():
            reports.extend(run(group))
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for batch in pool.map(run, groups.values()):
                reports.extend(batch)
    return sorted(reports, key=lambda r: r["path"])


def _open_ahead(opener: Opener, group: list[tuple[str, MlemLink | Exception]]) -> None:
    """Open every project and rev the links name before following any.

    A resolver may then fetch them together: the git resolver fetches all the
    revs of a repository opened before its first read in one go. A failure
    here is kept by the opener and reported when its link is checked.
    """
    for _rel, link in group:
        if not isinstance(link, MlemLink) or link.project is None:
            continue
        # the rev, not the locked commit: drift is checked against the rev
        data = {key: value for key, value in link.data.items() if key != "lock"}
        with contextlib.suppress(errors.MlemError, OSError):
            target_location(opener, MlemLink(data, location=link.location))


def _check_one(
    opener: Opener, rel: str, link: MlemLink | Exception, max_chain: int | None
) -> dict[str, Any]:
    report: dict[str, Any] = {
        "path": rel,
        "status": "ok",
        "problem": None,
        "message": "",
        "target": None,
        "commit": None,
    }
    if isinstance(link, Exception):
        return _broken(report, link)
    try:
        final = follow(opener, link, max_chain)
    except Exception as exc:
        return _broken(report, exc)
    report["target"] = str(final.location)
    report["commit"] = final.location.commit if final.location else None
    for step in final.via:
        drift = _drift(opener, step)
        if drift:
            report.update(status="drifted", problem="drifted", message=drift)
            return report
    return report


def _broken(report: dict[str, Any], exc: Exception) -> dict[str, Any]:
    problem = next((name for kind, name in PROBLEMS if isinstance(exc, kind)), None)
    if problem is None:
        if not isinstance(exc, errors.MlemError | OSError):
            raise exc
        problem = "error"
    report.update(status="broken", problem=problem, message=" ".join(str(exc).split()))
    return report


def _drift(opener: Opener, link: MlemLink) -> str | None:
    """Why a locked link no longer matches its rev, or None."""
    if not link.locked_commit or link.project is None:
        return None
    source = opener.open(link.project, link.rev)
    if source.commit is None or source.commit == link.locked_commit:
        return None
    rev = link.rev or "the default branch"
    return (
        f"{link.location} is locked to {link.locked_commit}, "
        f"but {rev} of {link.project} is now at {source.commit}; "
        f"run: mlem update {link.location}"
    )


def update(
    links: Iterable[str] = (),
    project: str = ".",
    all_links: bool = False,
    rev: str | None = None,
    dry_run: bool = False,
) -> list[dict[str, Any]]:
    """Re-resolve locked links and rewrite those that changed.

    ``links`` names link files; with ``all_links``, every locked link in
    ``project``. With ``rev``, the links move to that rev. A report per link:
    ``path``, ``old`` and ``new`` commit, ``old_sha256``, ``new_sha256``,
    ``changed`` and ``written``. Each file is rewritten atomically; nothing is
    written with ``dry_run``.
    """
    pm = get_plugin_manager()
    with snapshots(pm.resolvers()):
        return _update(Opener(pm), links, project, all_links, rev, dry_run)


def _update(
    opener: Opener,
    links: Iterable[str],
    project: str,
    all_links: bool,
    rev: str | None,
    dry_run: bool,
) -> list[dict[str, Any]]:
    chosen: list[MlemLink] = []
    for name in links:
        obj = read_object(opener, opener.locate(name, None, None))
        if not isinstance(obj, MlemLink):
            raise errors.ObjectTypeError(
                f"{obj.location} is a {obj.type_name}, not a link"
            )
        chosen.append(obj)
    if all_links:
        root = opener.project_root(project, None)
        for _rel, obj in _links_in(opener, root):
            if isinstance(obj, Exception):
                raise obj
            if obj.lock:
                chosen.append(obj)

    # everything is resolved and checked before anything is written: a link
    # whose chain is broken is an error, and no other link is rewritten
    planned = [_plan_update(opener, link, rev) for link in chosen]
    reports = []
    for link, data, report in planned:
        if report["changed"] and not dry_run:
            where = link.location
            assert where is not None
            where.source.resolver.write_file(
                where.source, where.path, metafile.dump(data)
            )
            report["written"] = True
        reports.append(report)
    return reports


def _plan_update(
    opener: Opener, link: MlemLink, rev: str | None
) -> tuple[MlemLink, dict[str, Any], dict[str, Any]]:
    """The link's new content, and its report; raises if it would not resolve."""
    new_rev = rev if rev is not None else link.rev
    if link.project is None:
        target = target_location(opener, link)
    else:
        # the rev as it is now, not the commit the lock recorded
        unlocked = MlemLink(
            {k: v for k, v in link.data.items() if k != "lock"}, location=link.location
        )
        unlocked.rev = new_rev
        target = target_location(opener, unlocked)
    found = find_metafile(target, link.link_type)
    obj = read_metafile(opener, found)
    commit = found.commit if link.project is not None else None
    lock = {k: v for k, v in (("commit", commit), ("sha256", obj.sha256)) if v}
    old = link.lock or {}
    data = dict(link.data)
    data["lock"] = lock
    if new_rev is None:
        data.pop("rev", None)
    else:
        data["rev"] = new_rev
    # the updated link must resolve all the way, as check would want it
    follow(opener, MlemLink(data, location=link.location))
    report = {
        "path": str(link.location),
        "old": old.get("commit"),
        "new": lock.get("commit"),
        "old_sha256": old.get("sha256"),
        "new_sha256": lock.get("sha256"),
        "rev": new_rev,
        "changed": lock != old or new_rev != link.rev,
        "written": False,
    }
    return link, data, report
