"""The plugin manager: entry-point loading, block and allow lists, resolvers.

Plugins are loaded on first use, not at import, so that ``mlem --help`` does
not pay for them. A plugin that fails to import is recorded in
:attr:`PluginManager.failures` and skipped; the rest keep working.

Users control loading with two environment variables:

``MLEM_DISABLE_PLUGINS``
    comma-separated entry-point names never to load (``git,s3``).
``MLEM_PLUGINS``
    if set, a comma-separated list of the only entry-point names to load.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING, Any, NamedTuple

import pluggy

from mlem import hookspecs
from mlem._names import ENTRY_POINT_GROUP, PROJECT_NAME
from mlem.errors import PluginError, UnknownSchemeError

if TYPE_CHECKING:
    from mlem.objects import MlemObject
    from mlem.resolver import Resolver

logger = logging.getLogger(__name__)

DISABLE_ENV = "MLEM_DISABLE_PLUGINS"
ALLOW_ENV = "MLEM_PLUGINS"

#: distributions to suggest when no resolver claims a scheme
INSTALL_HINTS = {
    "s3": "mlem-s3",
    "gs": "mlem-gcs",
    "gcs": "mlem-gcs",
    "git": "mlem-git",
    "ssh": "mlem-git",
    "http": "mlem-git",
    "https": "mlem-git",
    "file": "mlem-local",
    "": "mlem-local",
}

_BUILTIN_MODULES = ("mlem.objects",)


class PluginInfo(NamedTuple):
    """What ``mlem plugins`` shows about one loaded plugin."""

    name: str
    distribution: str
    version: str
    origin: str


class PluginFailure(NamedTuple):
    """A plugin that could not be loaded, and why, in one line."""

    name: str
    distribution: str
    reason: str

    def __str__(self) -> str:
        return (
            f"plugin {self.name!r} ({self.distribution}) failed to load: {self.reason}"
        )


#: names blocked for this process by ``mlem -p no:NAME``
_blocked_here: set[str] = set()


def block(names: set[str]) -> None:
    """Never load the plugins named (for ``mlem -p no:NAME``); call before use."""
    _blocked_here.update(names)


def _names_from_env(var: str) -> set[str] | None:
    value = os.environ.get(var)
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


class PluginManager(pluggy.PluginManager):
    """pluggy's manager with MLEM's loading rules and typed hook wrappers."""

    def __init__(self) -> None:
        super().__init__(PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self.failures: list[PluginFailure] = []
        self._resolvers: list[Resolver] | None = None
        self._object_types: dict[str, type[MlemObject]] | None = None

    def load(self) -> None:
        """Register the built-ins, then every allowed entry point."""
        import importlib

        for module_name in _BUILTIN_MODULES:
            module = importlib.import_module(module_name)
            self.register(module, name=module_name)
            self.infos[module_name] = PluginInfo(
                module_name, "mlem-core", _core_version(), "built-in"
            )
        self.load_entry_points()

    def load_entry_points(self) -> None:
        from mlem._entrypoints import entry_points

        blocked = (_names_from_env(DISABLE_ENV) or set()) | _blocked_here
        allowed = _names_from_env(ALLOW_ENV)
        for ep in entry_points(ENTRY_POINT_GROUP):
            if ep.name in blocked or (allowed is not None and ep.name not in allowed):
                logger.debug(
                    "plugin %s not loaded: blocked by the environment", ep.name
                )
                continue
            if self.has_plugin(ep.name):
                continue
            try:
                plugin = ep.load()
                self.register(plugin, name=ep.name)
            except Exception as exc:  # a broken plugin must not take MLEM down
                reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
                self.failures.append(PluginFailure(ep.name, ep.dist_name, reason))
                logger.debug("plugin %s failed to load", ep.name, exc_info=True)
                continue
            self.infos[ep.name] = PluginInfo(
                ep.name, ep.dist_name, ep.dist_version, f"entry point {ep.value}"
            )

    def provided(self, hook_name: str) -> list[tuple[str, Any]]:
        """``(plugin name, item)`` for every item a registering hook returns.

        Each implementation is called on its own, so that what it returns is
        attributed to its plugin, and a plugin that raises is recorded as
        failed instead of breaking every command.
        """
        found: list[tuple[str, Any]] = []
        # pluggy calls the most recently registered first; registration order
        # (built-ins, then entry points) is the order users expect
        for impl in getattr(self.hook, hook_name).get_hookimpls():
            try:
                items = impl.function()
            except Exception as exc:
                info = self.infos.get(impl.plugin_name)
                dist = info.distribution if info else "?"
                reason = f"{type(exc).__name__} in {hook_name}: {exc}".splitlines()[0]
                self.failures.append(PluginFailure(impl.plugin_name, dist, reason))
                logger.debug("plugin %s failed", impl.plugin_name, exc_info=True)
                continue
            found.extend((impl.plugin_name, item) for item in items or ())
        return found

    def distribution_of(self, plugin_name: str) -> str:
        info = self.infos.get(plugin_name)
        return info.distribution if info else plugin_name

    # typed wrappers around the hooks

    def resolvers(self) -> list[Resolver]:
        """Every registered resolver, ``override`` first and ``fallback`` last.

        Two resolvers with one name, or two of the same priority claiming one
        scheme, are an error that names both distributions: which one would
        answer must never depend on installation order.
        """
        if self._resolvers is not None:
            return self._resolvers
        owners: dict[str, str] = {}
        found: list[Resolver] = []
        by_scheme: dict[tuple[str, str], tuple[str, Resolver]] = {}
        for plugin_name, resolver in self.provided("mlem_register_resolvers"):
            if resolver.name in owners:
                raise self._clash(
                    f"the resolver name {resolver.name!r}",
                    owners[resolver.name],
                    plugin_name,
                )
            owners[resolver.name] = plugin_name
            for scheme in resolver.schemes:
                key = (scheme, resolver.priority)
                if key in by_scheme:
                    raise self._clash(
                        f"the {scheme}:// scheme", by_scheme[key][0], plugin_name
                    )
                by_scheme[key] = (plugin_name, resolver)
            found.append(resolver)
        order = {"override": 0, "normal": 1, "fallback": 2}
        self._resolvers = sorted(found, key=lambda r: order.get(r.priority, 1))
        return self._resolvers

    def _clash(self, what: str, first: str, second: str) -> PluginError:
        return PluginError(
            f"two plugins claim {what}: {self.distribution_of(first)} "
            f"(plugin {first!r}) and {self.distribution_of(second)} "
            f"(plugin {second!r}); uninstall one, block one with "
            f"{DISABLE_ENV}={second}, or have one declare priority "
            "'fallback' or 'override'"
        )

    def object_types(self) -> dict[str, type[MlemObject]]:
        """``object_type`` value → class, for every registered object type."""
        if self._object_types is None:
            types: dict[str, type[MlemObject]] = {}
            for _plugin, cls in self.provided("mlem_register_object_types"):
                types[cls.object_type] = cls
            self._object_types = types
        return self._object_types

    def resolver_for(self, uri: str, rev: str | None) -> Resolver:
        """The first resolver that claims ``uri`` at ``rev``."""
        for resolver in self.resolvers():
            if resolver.claims(uri, rev):
                return resolver
        scheme = uri.split("://", 1)[0] if "://" in uri else ""
        hint = INSTALL_HINTS.get(scheme)
        what = f"{scheme}:// addresses" if scheme else "local paths"
        message = f"no installed resolver handles {what} (asked for {_safe(uri)})"
        if hint:
            message += f"; install it with: pip install {hint}"
        broken = [f for f in self.failures if hint and f.distribution == hint]
        if broken:
            message += f"; {broken[0]}"
        limits = [v for v in (ALLOW_ENV, DISABLE_ENV) if os.environ.get(v)]
        if _blocked_here:
            limits.append("-p no:NAME")
        if limits:
            message += f" (plugins are limited by {', '.join(limits)}: is it blocked?)"
        raise UnknownSchemeError(message)

    def validate_link(self, link: Any, target: str, action: str) -> str | None:
        return self.hook.mlem_validate_link(link=link, target=target, action=action)


def describe_plugins() -> list[dict[str, Any]]:
    """One row per plugin, loaded or failed, for ``mlem plugins``."""
    pm = get_plugin_manager()
    resolvers: dict[str, list[str]] = {}
    for plugin_name, resolver in pm.provided("mlem_register_resolvers"):
        schemes = ", ".join(f"{s}://" for s in resolver.schemes)
        label = f"resolver {resolver.name}" + (f" ({schemes})" if schemes else "")
        resolvers.setdefault(plugin_name, []).append(label)
    types: dict[str, list[str]] = {}
    for plugin_name, cls in pm.provided("mlem_register_object_types"):
        types.setdefault(plugin_name, []).append(f"type {cls.object_type}")
    rows: list[dict[str, Any]] = []
    failed = {f.name: f for f in pm.failures}
    for name, info in pm.infos.items():
        if name in failed:
            continue
        rows.append(
            {
                "name": name,
                "distribution": info.distribution,
                "version": info.version,
                "origin": info.origin,
                "resolvers": resolvers.get(name, []),
                "object_types": types.get(name, []),
                "error": None,
            }
        )
    for failure in failed.values():
        info = pm.infos.get(failure.name)
        rows.append(
            {
                "name": failure.name,
                "distribution": failure.distribution,
                "version": info.version if info else None,
                "origin": info.origin if info else None,
                "resolvers": [],
                "object_types": [],
                "error": failure.reason,
            }
        )
    return rows


def _safe(uri: str) -> str:
    from mlem._uri import strip_credentials

    return strip_credentials(uri)


def _core_version() -> str:
    from mlem import __version__

    return __version__


_manager: PluginManager | None = None
_lock = threading.Lock()


def get_plugin_manager() -> PluginManager:
    """The process-wide plugin manager, loaded on first call."""
    global _manager
    with _lock:
        if _manager is None:
            manager = PluginManager()
            manager.load()
            _manager = manager
        return _manager


def reset_plugin_manager() -> None:
    """Forget the loaded plugins; the next call loads them afresh (for tests)."""
    global _manager
    with _lock:
        _manager = None
        _blocked_here.clear()
