"""The ``gcs`` plugin: projects in Google Cloud Storage.

This module is imported whenever MLEM loads its plugins, so it imports
nothing heavy: gcsfs (and google-auth with it) is imported when a ``gs://``
address is first opened (see :mod:`mlem_gcs.store`).
"""

from __future__ import annotations

from mlem import hookimpl
from mlem.resolver import Resolver
from mlem_gcs.store import GCSResolver


@hookimpl
def mlem_register_resolvers() -> list[Resolver]:
    return [GCSResolver()]


__all__ = ["GCSResolver"]
