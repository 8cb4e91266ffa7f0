"""The ``s3`` plugin: projects in Amazon S3 and S3-compatible stores.

This module is imported whenever MLEM loads its plugins, so it imports
nothing heavy: s3fs (and botocore with it) is imported when an ``s3://``
address is first opened (see :mod:`mlem_s3.store`).
"""

from __future__ import annotations

from mlem import hookimpl
from mlem.resolver import Resolver
from mlem_s3.store import S3Resolver


@hookimpl
def mlem_register_resolvers() -> list[Resolver]:
    return [S3Resolver()]


__all__ = ["S3Resolver"]
