"""Opening ``gs://`` addresses with gcsfs, and reading metafiles at a generation.

Options come from three places, later ones winning: google-auth's own
configuration (``GOOGLE_APPLICATION_CREDENTIALS``, gcloud's application
default credentials), fsspec's (``FSSPEC_GS_*`` and ``FSSPEC_GCS_*``
variables, its config folder), and the ``storage:`` section of the project's
``.mlem.yaml`` (see :mod:`mlem.storage_options`). With an endpoint of its own
(``endpoint_url``, or ``STORAGE_EMULATOR_HOST`` as Google's clients read it)
the plain gcsfs file system is used, never the one that also talks gRPC to
Google, and with ``STORAGE_EMULATOR_HOST`` the default token is ``anon``.

Versions: with a rev, the bucket must keep versions (object versioning on).
The rev is the generation of the metafile the address names; the first
metafile found at that generation takes it, and every other path in the same
source is read at its latest generation, since a generation belongs to one
object, not to a tree.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import posixpath
import threading
from typing import TYPE_CHECKING, Any

from mlem._uri import has_credentials, scheme_of, strip_credentials
from mlem.errors import (
    ObjectNotFoundError,
    RevisionNotFoundError,
    RevisionsNotSupportedError,
    StorageError,
)
from mlem_gcs import errors

if TYPE_CHECKING:
    from mlem.resolver import Resolver, Source

logger = logging.getLogger(__name__)

# gcsfs reports failures it is about to raise with logger.exception; with no
# handler anywhere, Python's last-resort handler would print those tracebacks
# under the one-line message MLEM gives. A NullHandler keeps that quiet and
# leaves logging set up by an application as it is.
logging.getLogger("gcsfs").addHandler(logging.NullHandler())

SCHEMES = ("gs", "gcs")

#: what ``.mlem.yaml`` may set for gs:// addresses, and the types of the values
OPTIONS: dict[str, tuple[type, ...]] = {
    "endpoint_url": (str,),
    "project": (str,),
    "anon": (bool,),
    "token": (str,),
    "requester_pays": (bool, str),
    "attempts": (int,),
}

#: how many metafiles :func:`read_files` fetches at once
CONCURRENCY = 64

_BOOLEANS = ("anon", "version_aware")

#: variables google-auth and gcsfs read when a file system is made
_CLIENT_ENV = (
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_CLOUD_PROJECT",
    "GCSFS_DEFAULT_PROJECT",
    "STORAGE_EMULATOR_HOST",
    "CLOUDSDK_CONFIG",
)

_cache: dict[str, Any] = {}
_classes: dict[tuple[type, int], type] = {}
_cache_lock = threading.Lock()


class GCSContext:
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
        """The same file system, generation-aware (made on first use)."""
        if self._versioned is None:
            self._versioned = filesystem(
                {**self.kwargs, "version_aware": True}, self.attempts
            )
        return self._versioned

    def translate(
        self, exc: BaseException, action: str, path: str, rev: str | None = None
    ) -> Exception:
        return errors.translate(exc, action, "gs://" + path, self.endpoint, rev)


def parse_address(uri: str) -> str:
    """``gs://bucket/some/prefix/`` → ``bucket/some/prefix``, checked."""
    if has_credentials(uri):
        raise StorageError(
            f"{strip_credentials(uri)}: a gs:// address carries no credentials; "
            "remove the user:password@ part and use the environment or a key file"
        )
    rest = uri.split("://", 1)[1]
    bucket = rest.split("/", 1)[0]
    if not bucket:
        raise StorageError(f"{uri} names no bucket; write gs://BUCKET/PREFIX")
    path = posixpath.normpath(rest.rstrip("/")) if "/" in rest else bucket
    if path != bucket and not path.startswith(bucket + "/"):
        raise StorageError(f"{uri} leaves its bucket {bucket}")
    return path


def storage_kwargs(uri: str) -> tuple[dict[str, Any], int | None]:
    """gcsfs's keyword arguments for ``uri``, and how many attempts a request gets."""
    from mlem.storage_options import fsspec_env_options, project_options

    kwargs = fsspec_env_options(SCHEMES, booleans=_BOOLEANS)
    options, _ = project_options(uri, SCHEMES, OPTIONS)
    attempts = options.pop("attempts", None)
    if attempts is not None and attempts < 1:
        raise StorageError(f"storage option attempts must be 1 or more for {uri}")
    if options.pop("anon", None) or kwargs.pop("anon", None):
        options["token"] = "anon"
    kwargs.update(options)
    if "token" not in kwargs and os.environ.get("STORAGE_EMULATOR_HOST"):
        # what Google's own clients do for an emulator
        kwargs["token"] = "anon"
    return kwargs, attempts


def filesystem(kwargs: dict[str, Any], attempts: int | None) -> Any:
    """A ``GCSFileSystem`` for ``kwargs``, one per distinct setup in this process."""
    env = hashlib.sha256(
        "\0".join(os.environ.get(name, "") for name in _CLIENT_ENV).encode()
    ).hexdigest()
    key = json.dumps([kwargs, attempts, env], sort_keys=True, default=repr)
    with _cache_lock:
        fs = _cache.get(key)
        if fs is None:
            cls = _filesystem_class(kwargs, attempts)
            fs = cls(skip_instance_cache=True, **kwargs)
            _cache[key] = fs
        return fs


def _filesystem_class(kwargs: dict[str, Any], attempts: int | None) -> type:
    import gcsfs
    from gcsfs.core import GCSFileSystem as Plain

    own_endpoint = kwargs.get("endpoint_url") or os.environ.get("STORAGE_EMULATOR_HOST")
    # gcsfs may pick a subclass that also talks gRPC to Google's own hosts;
    # an emulator or another endpoint speaks only the JSON API
    base: type = Plain if own_endpoint else gcsfs.GCSFileSystem
    if attempts is None:
        return base
    # gcsfs fixes its number of attempts when its class is defined; a subclass
    # with the same request method, wrapped again, changes it
    request = getattr(Plain._request, "__wrapped__", None)
    if request is None:
        logger.debug("this gcsfs cannot change its attempts; keeping its own")
        return base
    if (base, attempts) not in _classes:
        from gcsfs.retry import retry_request

        _classes[(base, attempts)] = type(
            base.__name__,
            (base,),
            {"_request": retry_request(retries=attempts)(request)},
        )
    return _classes[(base, attempts)]


def endpoint_of(raw: Any, kwargs: dict[str, Any]) -> str:
    """The server's address for messages, without credentials."""
    url = getattr(raw, "_location", None) or kwargs.get("endpoint_url") or "GCS"
    return strip_credentials(str(url))


def open_source(resolver: Resolver, uri: str, rev: str | None) -> Source:
    """The source for ``uri`` at ``rev``: see :meth:`GCSResolver.open`."""
    from mlem.fsguard import GuardedFileSystem
    from mlem.resolver import Source

    if scheme_of(uri) not in SCHEMES:
        raise StorageError(f"{uri} is not a gs:// address")
    path = parse_address(uri)
    bucket = path.split("/", 1)[0]
    kwargs, attempts = storage_kwargs(uri)
    raw = filesystem(kwargs, attempts)
    context = GCSContext(raw, kwargs, attempts, endpoint_of(raw, kwargs))
    meta = _check_bucket(context, bucket, path)
    if rev is not None:
        _check_versioning(meta, bucket, path, rev)
    logger.debug("opened gs://%s at %s (rev %s)", path, context.endpoint, rev)
    return Source(
        resolver=resolver,
        fs=GuardedFileSystem(raw, context.translate),
        base=path,
        boundary=bucket,
        rev=rev,
        # a generation already names one immutable object
        commit=rev,
        display="gs://" + path,
        storage_id=f"gcs|{context.endpoint}",
        extra={"gcs": context},
    )


def _check_bucket(context: GCSContext, bucket: str, path: str) -> dict[str, Any] | None:
    """The bucket's metadata; fail early on a missing bucket or a dead server.

    None when the caller may not read the bucket's metadata: reading objects
    may still be allowed, and the reads will say if it is not.
    """
    try:
        return context.raw.call("GET", "b/{}", bucket, json_out=True)
    except Exception as exc:
        kind = errors.classify(exc)
        if kind == errors.DENIED:
            logger.debug("cannot read bucket %s: access denied", bucket)
            return None
        if kind == errors.MISSING:
            raise ObjectNotFoundError(
                f"no bucket {bucket} at {context.endpoint} (asked for gs://{path}); "
                "check the bucket name and the endpoint"
            ) from exc
        raise context.translate(exc, "reach", path) from exc


def _check_versioning(
    meta: dict[str, Any] | None, bucket: str, path: str, rev: str
) -> None:
    if meta is not None and not (meta.get("versioning") or {}).get("enabled"):
        raise RevisionsNotSupportedError(
            f"--rev {rev} given for gs://{path}, but bucket {bucket} keeps no "
            "versions (object versioning is off); drop --rev, or turn versioning "
            "on for the bucket"
        )
    if not rev.isdigit():
        raise RevisionNotFoundError(
            f"no generation {rev} of gs://{path}: the rev of a gs:// address is "
            "the generation (a number) of its metafile"
        )


def _context(source: Source) -> GCSContext:
    return source.extra["gcs"]


def version_for(source: Source, path: str) -> str | None:
    """The generation to read ``path`` at: the rev, for the metafile that took it."""
    if source.rev is None:
        return None
    pinned = source.extra.get("pinned")
    if pinned is None or pinned == path:
        return source.rev
    return None


def file_exists(source: Source, path: str) -> bool:
    generation = version_for(source, path)
    if generation is None:
        return source.fs.isfile(path)
    context = _context(source)
    try:
        info = context.versioned.info(f"{path}#{generation}")
        # a server that ignores ?generation= answers with the latest one
        found = info.get("type") == "file" and str(info.get("generation")) == generation
    except Exception as exc:
        if errors.classify(exc) != errors.MISSING:
            raise context.translate(exc, "check", path) from exc
        found = False
    if not found:
        if source.fs.exists(path):
            raise RevisionNotFoundError(
                f"no generation {generation} of gs://{path}; the rev of a gs:// "
                "address is the generation of its metafile"
            )
        return False
    source.extra["pinned"] = path
    return True


def read_file(source: Source, path: str) -> bytes:
    generation = version_for(source, path)
    if generation is None:
        return source.fs.cat_file(path)
    context = _context(source)
    try:
        data = context.versioned.cat_file(f"{path}#{generation}")
    except Exception as exc:
        raise context.translate(exc, "read", path, generation) from exc
    # read without asking file_exists first (a batch does): it takes the rev
    source.extra.setdefault("pinned", path)
    return data


def read_files(source: Source, paths: list[str]) -> dict[str, bytes | Exception]:
    """Many metafiles at their latest generations, :data:`CONCURRENCY` at once."""
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
    "GCSContext",
    "file_exists",
    "open_source",
    "parse_address",
    "read_file",
    "read_files",
    "storage_kwargs",
]
