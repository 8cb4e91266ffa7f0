"""The ``s3`` resolver: what is particular to S3 on top of :mod:`mlem.buckets`.

Options come from three places, later ones winning: botocore's own
configuration (``AWS_*`` variables, ``~/.aws``), fsspec's (``FSSPEC_S3_*``
variables and its config folder), and the ``storage:`` section of the
project's ``.mlem.yaml`` (see :mod:`mlem.storage_options`).

Waiting: botocore is given the connect and read timeouts and the number of
attempts of :class:`~mlem.storage_options.Limits` (``AWS_MAX_ATTEMPTS`` is
the default number), and is the only one to retry: s3fs's own loop around
it would multiply the tries, and with them the time a hung server costs.

Versions: with a rev, the bucket must keep versions (versioning enabled or
suspended). The rev is the version id of the metafile the address names; the
first metafile found at that version takes it, and every other path in the
same source (``.mlem.yaml``, relative links out of that metafile) is read at
its latest version, since an S3 version belongs to one key, not to a tree.

This module is imported whenever MLEM loads its plugins; s3fs (and botocore
with it) is imported when an ``s3://`` address is first opened.
"""

from __future__ import annotations

import os
from typing import Any

from mlem._uri import strip_credentials
from mlem.buckets import CONCURRENCY, BucketContext, BucketResolver, version_for
from mlem.storage_options import DEFAULT_ATTEMPTS, LIMIT_OPTIONS, Limits
from mlem_s3 import errors

SCHEME = "s3"

#: what ``.mlem.yaml`` may set for s3:// addresses, and the types of the values
OPTIONS: dict[str, tuple[type, ...]] = {
    "endpoint_url": (str,),
    "profile": (str,),
    "anon": (bool,),
    "requester_pays": (bool,),
    "region": (str,),
    **LIMIT_OPTIONS,
}

_BOOLEANS = ("anon", "requester_pays", "use_ssl", "version_aware")

#: variables botocore reads when a client is made; a change makes a new client
_CLIENT_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_MAX_ATTEMPTS",
    "AWS_RETRY_MODE",
    "AWS_EC2_METADATA_DISABLED",
)


class S3Resolver(BucketResolver):
    """``s3://bucket/prefix`` addresses, read and written through s3fs.

    A rev names a version of the metafile an address names, in a bucket that
    keeps versions (S3 versioning, enabled or suspended).
    """

    name = "s3"
    schemes = (SCHEME,)
    label = "S3"
    address_kind = "an s3:// address"
    rev_word = "version"
    rev_meaning = "version id"
    versioning_name = "S3 versioning"
    credential_sources = "the environment or a profile"
    credentials_hint = (
        "check the credentials: AWS_PROFILE or AWS_ACCESS_KEY_ID, or profile: in "
        "the storage section of .mlem.yaml"
    )
    credentials_name = "AWS credentials"
    credentials_setup = "set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    client_env = _CLIENT_ENV
    # s3fs's isdir is one request where info takes two
    raw_isdir = True

    def storage_kwargs(self, uri: str) -> tuple[dict[str, Any], Limits]:
        """s3fs's keyword arguments for ``uri``, and how long and how often a
        request waits for the server."""
        from mlem.storage_options import (
            fsspec_env_options,
            project_options,
            request_limits,
        )

        kwargs = fsspec_env_options(("s3", "s3a"), booleans=_BOOLEANS)
        options, config_file = project_options(uri, (SCHEME,), OPTIONS)
        limits = request_limits(options, config_file, _aws_max_attempts())
        region = options.pop("region", None)
        kwargs.update(options)
        config = dict(kwargs.get("config_kwargs") or {})
        # botocore's default pool of 10 connections would serialise read_files
        config.setdefault("max_pool_connections", CONCURRENCY)
        config["connect_timeout"] = limits.connect
        config["read_timeout"] = limits.timeout
        # total_max_attempts counts the first try; botocore's max_attempts
        # would count only the retries
        config["retries"] = {"total_max_attempts": limits.attempts, "mode": "standard"}
        kwargs["config_kwargs"] = config
        if region is not None:
            kwargs["client_kwargs"] = {
                **(kwargs.get("client_kwargs") or {}),
                "region_name": region,
            }
        # a listing cache would hide other writers' changes from a long-lived
        # process
        kwargs["use_listings_cache"] = False
        return kwargs, limits

    def make_filesystem(self, kwargs: dict[str, Any], limits: Limits) -> Any:
        import s3fs

        # our own cache (BucketResolver.filesystem): s3fs's would share one
        # instance between setups that differ only in retries, which it keeps
        # as an attribute
        fs = s3fs.S3FileSystem(skip_instance_cache=True, **kwargs)
        # botocore retries each request (config_kwargs); s3fs retrying the
        # same timeouts around it would wait attempts x attempts times
        fs.retries = 1
        return fs

    def endpoint_of(self, raw: Any, kwargs: dict[str, Any]) -> str:
        client = getattr(raw, "_s3", None)
        url = getattr(getattr(client, "meta", None), "endpoint_url", None)
        url = (
            url
            or kwargs.get("endpoint_url")
            or os.environ.get("AWS_ENDPOINT_URL_S3")
            or os.environ.get("AWS_ENDPOINT_URL")
        )
        return strip_credentials(str(url)) if url else "AWS"

    def bucket_info(self, context: BucketContext, bucket: str) -> Any:
        return context.raw.call_s3("head_bucket", Bucket=bucket)

    def keeps_versions(
        self, context: BucketContext, bucket: str, info: Any
    ) -> bool | None:
        answer = context.raw.call_s3("get_bucket_versioning", Bucket=bucket)
        return answer.get("Status") in ("Enabled", "Suspended")

    def has_version(self, context: BucketContext, path: str, version: str) -> bool:
        info = context.versioned.info(path, version_id=version)
        return info.get("type") == "file" and info.get("VersionId") == version

    def has_any_version(self, context: BucketContext, path: str) -> bool:
        """Whether ``path`` has any version (or delete marker) in its bucket."""
        bucket, _, key = path.partition("/")
        try:
            answer = context.raw.call_s3(
                "list_object_versions", Bucket=bucket, Prefix=key, MaxKeys=1
            )
        except Exception as exc:
            raise context.translate(exc, "list", path) from exc
        entries = answer.get("Versions", []) + answer.get("DeleteMarkers", [])
        return any(entry.get("Key") == key for entry in entries)

    def read_version(self, context: BucketContext, path: str, version: str) -> bytes:
        return context.versioned.cat_file(path, version_id=version)

    def classify(self, exc: BaseException) -> str:
        return errors.classify(exc)

    def error_code(self, exc: BaseException) -> tuple[str, int | None]:
        return errors.error_code(exc)


def _aws_max_attempts() -> int:
    """``AWS_MAX_ATTEMPTS`` if it is a number of attempts, else MLEM's default.

    botocore reads it only when no number is given in code, and MLEM always
    gives one.
    """
    value = os.environ.get("AWS_MAX_ATTEMPTS", "")
    return int(value) if value.isdigit() and int(value) >= 1 else DEFAULT_ATTEMPTS


__all__ = ["OPTIONS", "S3Resolver", "version_for"]
