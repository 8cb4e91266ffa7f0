"""Opening ``s3://`` addresses with s3fs, and reading metafiles at a version.

Options come from three places, later ones winning: botocore's own
configuration (``AWS_*`` variables, ``~/.aws``), fsspec's (``FSSPEC_S3_*``
variables and its config folder), and the ``storage:`` section of the
project's ``.mlem.yaml`` (see :mod:`mlem.storage_options`).

Versions: with a rev, the bucket must keep versions (versioning enabled or
suspended). The rev is the version id of the metafile the address names; the
first metafile found at that version takes it, and every other path in the
same source (``.mlem.yaml``, relative links out of that metafile) is read at
its latest version, since an S3 version belongs to one key, not to a tree.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import posixpath
import threading
from typing import TYPE_CHECKING, Any

from mlem._uri import has_credentials, strip_credentials
from mlem.errors import (
    ObjectNotFoundError,
    RevisionNotFoundError,
    RevisionsNotSupportedError,
    StorageError,
)
from mlem_s3 import errors

if TYPE_CHECKING:
    from mlem.resolver import Resolver, Source

logger = logging.getLogger(__name__)

SCHEME = "s3"

#: what ``.mlem.yaml`` may set for s3:// addresses, and the types of the values
OPTIONS: dict[str, tuple[type, ...]] = {
    "endpoint_url": (str,),
    "profile": (str,),
    "anon": (bool,),
    "requester_pays": (bool,),
    "region": (str,),
    "attempts": (int,),
}

#: how many metafiles :func:`read_files` fetches at once
CONCURRENCY = 64

_BOOLEANS = ("anon", "requester_pays", "use_ssl", "version_aware")

_cache: dict[str, Any] = {}
_cache_lock = threading.Lock()


class S3Context:
    """What a source needs to reach its bucket: file systems and endpoint."""

    def __init__(
        self, raw: Any, kwargs: dict[str, Any], attempts: int | None, endpoint: str
    ) -> None:
        self.raw = raw
        self.kwargs = kwargs
        self.attempts = attempts
        self.endpoint = endpoint
        self._versioned: Any = None

    @property
    def versioned(self) -> Any:
        """The same file system, version-aware (made on first use)."""
        if self._versioned is None:
            self._versioned = filesystem({**self.kwargs, "version_aware": True}, None)
            if self.attempts is not None:
                self._versioned.retries = self.attempts
        return self._versioned

    def translate(
        self, exc: BaseException, action: str, path: str, rev: str | None = None
    ) -> Exception:
        return errors.translate(exc, action, "s3://" + path, self.endpoint, rev)


def parse_address(uri: str) -> str:
    """``s3://bucket/some/prefix/`` → ``bucket/some/prefix``, checked."""
    if has_credentials(uri):
        raise StorageError(
            f"{strip_credentials(uri)}: an s3:// address carries no credentials; "
            "remove the user:password@ part and use the environment or a profile"
        )
    rest = uri[len("s3://") :]
    bucket = rest.split("/", 1)[0]
    if not bucket:
        raise StorageError(f"{uri} names no bucket; write s3://BUCKET/PREFIX")
    path = posixpath.normpath(rest.rstrip("/")) if "/" in rest else bucket
    if path != bucket and not path.startswith(bucket + "/"):
        raise StorageError(f"{uri} leaves its bucket {bucket}")
    return path


def storage_kwargs(uri: str) -> tuple[dict[str, Any], int | None]:
    """s3fs's keyword arguments for ``uri``, and how many attempts a request gets."""
    from mlem.storage_options import fsspec_env_options, project_options

    kwargs = fsspec_env_options(("s3", "s3a"), booleans=_BOOLEANS)
    options, _ = project_options(uri, (SCHEME,), OPTIONS)
    attempts = options.pop("attempts", None)
    region = options.pop("region", None)
    kwargs.update(options)
    config = dict(kwargs.get("config_kwargs") or {})
    # botocore's default pool of 10 connections would serialise read_files
    config.setdefault("max_pool_connections", CONCURRENCY)
    if attempts is not None:
        if attempts < 1:
            raise StorageError(f"storage option attempts must be 1 or more for {uri}")
        config["retries"] = {"max_attempts": attempts, "mode": "standard"}
    kwargs["config_kwargs"] = config
    if region is not None:
        kwargs["client_kwargs"] = {
            **(kwargs.get("client_kwargs") or {}),
            "region_name": region,
        }
    # a listing cache would hide other writers' changes from a long-lived process
    kwargs["use_listings_cache"] = False
    return kwargs, attempts


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


def filesystem(kwargs: dict[str, Any], attempts: int | None) -> Any:
    """An ``S3FileSystem`` for ``kwargs``, one per distinct setup in this process."""
    # the environment is part of the key, hashed so no secret sits in memory
    # longer than botocore keeps it anyway
    env = hashlib.sha256(
        "\0".join(os.environ.get(name, "") for name in _CLIENT_ENV).encode()
    ).hexdigest()
    key = json.dumps([kwargs, attempts, env], sort_keys=True, default=repr)
    with _cache_lock:
        fs = _cache.get(key)
        if fs is None:
            import s3fs

            # our own cache: s3fs's would share one instance between
            # different numbers of attempts, which it keeps as an attribute
            fs = s3fs.S3FileSystem(skip_instance_cache=True, **kwargs)
            if attempts is not None:
                fs.retries = attempts
            _cache[key] = fs
        return fs


def endpoint_of(raw: Any, kwargs: dict[str, Any]) -> str:
    """The server's address for messages, without credentials."""
    client = getattr(raw, "_s3", None)
    url = getattr(getattr(client, "meta", None), "endpoint_url", None)
    url = (
        url
        or kwargs.get("endpoint_url")
        or os.environ.get("AWS_ENDPOINT_URL_S3")
        or os.environ.get("AWS_ENDPOINT_URL")
    )
    return strip_credentials(str(url)) if url else "AWS"


def open_source(resolver: Resolver, uri: str, rev: str | None) -> Source:
    """The source for ``uri`` at ``rev``: see :meth:`S3Resolver.open`."""
    from mlem.fsguard import GuardedFileSystem
    from mlem.resolver import Source

    path = parse_address(uri)
    bucket = path.split("/", 1)[0]
    kwargs, attempts = storage_kwargs(uri)
    raw = filesystem(kwargs, attempts)
    context = S3Context(raw, kwargs, attempts, endpoint_of(raw, kwargs))
    _check_bucket(context, bucket, path)
    context.endpoint = endpoint_of(raw, kwargs)
    if rev is not None:
        _check_versioning(context, bucket, path, rev)
    logger.debug("opened s3://%s at %s (rev %s)", path, context.endpoint, rev)
    return Source(
        resolver=resolver,
        fs=GuardedFileSystem(raw, context.translate, raw_isdir=True),
        base=path,
        boundary=bucket,
        rev=rev,
        # a version id already names one immutable object
        commit=rev,
        display="s3://" + path,
        storage_id=f"s3|{context.endpoint}",
        extra={"s3": context},
    )


def _check_bucket(context: S3Context, bucket: str, path: str) -> None:
    """Fail early, and clearly, on a missing bucket or an unreachable server."""
    try:
        context.raw.call_s3("head_bucket", Bucket=bucket)
    except Exception as exc:
        kind = errors.classify(exc)
        if kind == errors.DENIED:
            # a caller may read objects without the right to look at the
            # bucket itself; the reads will say if they are refused too
            logger.debug("cannot check bucket %s: access denied", bucket)
            return
        if kind in (errors.MISSING, errors.NO_BUCKET):
            raise ObjectNotFoundError(
                f"no bucket {bucket} at {context.endpoint} (asked for s3://{path}); "
                "check the bucket name and the endpoint"
            ) from exc
        raise context.translate(exc, "reach", path) from exc


def _check_versioning(context: S3Context, bucket: str, path: str, rev: str) -> None:
    try:
        answer = context.raw.call_s3("get_bucket_versioning", Bucket=bucket)
    except Exception as exc:
        if errors.classify(exc) == errors.DENIED:
            logger.debug("cannot read the versioning of %s: access denied", bucket)
            return
        raise context.translate(exc, "reach", path) from exc
    if answer.get("Status") not in ("Enabled", "Suspended"):
        raise RevisionsNotSupportedError(
            f"--rev {rev} given for s3://{path}, but bucket {bucket} keeps no "
            "versions (S3 versioning is off); drop --rev, or turn versioning on "
            "for the bucket"
        )


def _context(source: Source) -> S3Context:
    return source.extra["s3"]


def version_for(source: Source, path: str) -> str | None:
    """The version to read ``path`` at: the rev, for the metafile that took it."""
    if source.rev is None:
        return None
    pinned = source.extra.get("pinned")
    if pinned is None or pinned == path:
        return source.rev
    return None


def file_exists(source: Source, path: str) -> bool:
    version = version_for(source, path)
    if version is None:
        return source.fs.isfile(path)
    context = _context(source)
    try:
        info = context.versioned.info(path, version_id=version)
        found = info.get("type") == "file" and info.get("VersionId") == version
    except Exception as exc:
        if errors.classify(exc) not in (errors.MISSING, errors.BAD_VERSION):
            raise context.translate(exc, "check", path, version) from exc
        found = False
    if not found:
        if _has_any_version(context, path):
            raise RevisionNotFoundError(
                f"no version {version} of s3://{path}; the rev of an s3:// address "
                "is the version id of its metafile"
            )
        return False
    source.extra["pinned"] = path
    return True


def _has_any_version(context: S3Context, path: str) -> bool:
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


def read_file(source: Source, path: str) -> bytes:
    version = version_for(source, path)
    if version is None:
        return source.fs.cat_file(path)
    context = _context(source)
    try:
        data = context.versioned.cat_file(path, version_id=version)
    except Exception as exc:
        if errors.classify(exc) in (errors.MISSING, errors.BAD_VERSION):
            raise RevisionNotFoundError(
                f"no version {version} of s3://{path}; the rev of an s3:// address "
                "is the version id of its metafile"
            ) from exc
        raise context.translate(exc, "read", path, version) from exc
    # read without asking file_exists first (a batch does): it takes the rev
    source.extra.setdefault("pinned", path)
    return data


def read_files(source: Source, paths: list[str]) -> dict[str, bytes | Exception]:
    """Many metafiles at their latest versions, :data:`CONCURRENCY` at once."""
    from mlem.fsguard import cat_many

    context = _context(source)
    logger.debug("reading %d metafiles from %s", len(paths), source.display)
    results: dict[str, bytes | Exception] = {}
    for path, value in cat_many(context.raw, paths, CONCURRENCY).items():
        if isinstance(value, BaseException):
            error = context.translate(value, "read", path)
            error.__cause__ = value
            results[path] = error
        else:
            results[path] = value
    return results


__all__ = [
    "OPTIONS",
    "S3Context",
    "file_exists",
    "open_source",
    "parse_address",
    "read_file",
    "read_files",
    "storage_kwargs",
]
