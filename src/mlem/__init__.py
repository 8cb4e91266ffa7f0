"""MLEM links: a plugin framework for links to MLEM objects anywhere.

Plugins implement hooks with :data:`hookimpl`::

    from mlem import hookimpl

    @hookimpl
    def mlem_register_resolvers():
        return [MyResolver()]
"""

import pluggy

from mlem._names import PROJECT_NAME

__version__ = "0.1.0"

#: the marker for hook implementations in plugins
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

__all__ = ["__version__", "hookimpl"]
