"""MLEM links: a plugin framework for links to MLEM objects anywhere.

Plugins implement hooks with :data:`hookimpl`::

    from mlem import hookimpl

    @hookimpl
    def mlem_register_resolvers():
        return [MyResolver()]
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "hookimpl"]


def __getattr__(name: str) -> Any:
    # pluggy is imported on first use of the marker, not by ``import mlem``,
    # so that ``mlem --help`` does not pay for it
    if name == "hookimpl":
        import pluggy

        from mlem._names import PROJECT_NAME

        marker = pluggy.HookimplMarker(PROJECT_NAME)
        globals()["hookimpl"] = marker
        return marker
    raise AttributeError(f"module 'mlem' has no attribute {name!r}")
