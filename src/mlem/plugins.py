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

        blocked = _names_from_env(DISABLE_ENV) or set()
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

    def plugin_of(self, obj: Any) -> PluginInfo:
        """The plugin whose hook returned ``obj`` (by module), for messages."""
        module = type(obj).__module__ if not isinstance(obj, type) else obj.__module__
        for name, plugin in self.list_name_plugin():
            plugin_module = getattr(plugin, "__name__", type(plugin).__module__)
            if module.split(".")[0] == str(plugin_module).split(".")[0]:
                return self.infos.get(name, PluginInfo(name, "?", "?", "?"))
        return PluginInfo(module, "?", "?", "?")

    # typed wrappers around the hooks

    def resolvers(self) -> list[Resolver]:
        """Every registered resolver, ``override`` first and ``fallback`` last."""
        if self._resolvers is not None:
            return self._resolvers
        found: dict[str, Resolver] = {}
        for batch in self.hook.mlem_register_resolvers():
            for resolver in batch or ():
                if resolver.name in found:
                    raise PluginError(
                        f"two plugins provide the resolver {resolver.name!r}: "
                        f"{self.plugin_of(found[resolver.name]).distribution} and "
                        f"{self.plugin_of(resolver).distribution}; uninstall one, or "
                        f"block one with {DISABLE_ENV}"
                    )
                found[resolver.name] = resolver
        order = {"override": 0, "normal": 1, "fallback": 2}
        self._resolvers = sorted(found.values(), key=lambda r: order.get(r.priority, 1))
        return self._resolvers

    def object_types(self) -> dict[str, type[MlemObject]]:
        """``object_type`` value → class, for every registered object type."""
        if self._object_types is None:
            types: dict[str, type[MlemObject]] = {}
            for batch in self.hook.mlem_register_object_types():
                for cls in batch or ():
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
        raise UnknownSchemeError(message)

    def validate_link(self, link: Any, target: str, action: str) -> str | None:
        return self.hook.mlem_validate_link(link=link, target=target, action=action)


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
