"""The hooks MLEM calls; plugins implement them with :data:`mlem.hookimpl`.

Every hook name starts with ``mlem_``. A plugin is a module (or object) with
functions of these names decorated with ``@mlem.hookimpl``, registered through
the ``mlem`` entry-point group::

    [project.entry-points.mlem]
    azure = "mlem_azure.plugin"
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

from mlem._names import PROJECT_NAME

if TYPE_CHECKING:
    import click

    from mlem.objects import MlemLink, MlemObject
    from mlem.resolver import Resolver

#: the hooks by purpose; each group has a page in the docs (docs/hooks/)
GROUPS: dict[str, tuple[str, ...]] = {
    "resolvers": ("mlem_register_resolvers",),
    "objects": ("mlem_register_object_types",),
    "links": ("mlem_validate_link",),
    "commands": ("mlem_add_commands",),
}

# the spec marker is internal: plugins only ever need ``mlem.hookimpl``
_hookspec = pluggy.HookspecMarker(PROJECT_NAME)


@_hookspec
def mlem_register_resolvers() -> list[Resolver]:
    """Return the resolvers this plugin provides.

    A resolver claims the project addresses it understands and opens them as
    file systems; see :class:`mlem.resolver.Resolver`. Two resolvers with the
    same :attr:`~mlem.resolver.Resolver.name` are an error that names both
    plugins.

    :return: a list of :class:`~mlem.resolver.Resolver` instances (may be
        empty).

    .. versionadded:: 0.1
    """


@_hookspec
def mlem_register_object_types() -> list[type[MlemObject]]:
    """Return the object classes this plugin provides.

    Each class sets ``object_type`` (the value of the ``object_type`` key in a
    metafile). Metafiles whose ``object_type`` no plugin registers are still
    read, as plain :class:`~mlem.objects.MlemObject`, and written back whole.

    :return: a list of :class:`~mlem.objects.MlemObject` subclasses.

    .. versionadded:: 0.1
    """


@_hookspec(firstresult=True)
def mlem_validate_link(link: MlemLink, target: str, action: str) -> str | None:
    """Accept or refuse a link before it is written or followed.

    :param link: the link, with ``project``, ``rev`` and ``path`` as they are
        (or will be) written in its metafile.
    :param target: the address of the target, for messages (no credentials).
    :param action: ``"write"`` before ``mlem link`` writes the link,
        ``"follow"`` before a link is followed.
    :return: ``None`` to accept, or a reason (one sentence) to refuse. The
        first non-None result wins: the link is refused with that reason.

    .. versionadded:: 0.1
    """


@_hookspec
def mlem_add_commands(cli: click.Group) -> None:
    """Add subcommands to the ``mlem`` command.

    :param cli: the top-level click group; call ``cli.add_command(...)``.
        Keep heavy imports inside the command's function, so that
        ``mlem --help`` stays fast.

    .. versionadded:: 0.1
    """
