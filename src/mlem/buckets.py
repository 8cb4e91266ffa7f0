"""Resolvers for object stores: projects under ``SCHEME://BUCKET/PREFIX``.

Every object store fsspec reaches (S3, GCS, and stores that speak their APIs)
works the same way for MLEM, and :class:`BucketResolver` does that part once:

* an address names a bucket and a prefix; the project root is looked for
  upwards from the prefix, never above the bucket;
* opening checks that the bucket is there (a missing bucket or a dead server
  fails at once, in one line), and, with a rev, that the bucket keeps versions;
* a rev names a version of one object, the metafile the address names, not a
  state of the whole tree: the first metafile read at that version takes it
  (``source.extra["pinned"]``), every other path is read at its latest
  version, and :meth:`~BucketResolver.rev_for` gives the rev only to the
  metafile that took it;
* a request waits for its server a bounded time and is tried a few times
  (:class:`~mlem.storage_options.Limits`: ``timeout`` and ``attempts`` in
  ``.mlem.yaml``, ``MLEM_STORAGE_TIMEOUT``), so a hung server fails soon, and
  the error says how long it waited;
* many metafiles are fetched side by side, :data:`CONCURRENCY` at once;
* a link is written with one PUT, which readers see whole or not at all;
* the storage library's errors become MLEM's, one line each, the original
  kept as the cause.

A subclass says what differs. Its class attributes name the storage and word
its messages (:attr:`~BucketResolver.label`, :attr:`~BucketResolver.rev_word`
...). Its methods build the fsspec file system
(:meth:`~BucketResolver.storage_kwargs`,
:meth:`~BucketResolver.make_filesystem`, :meth:`~BucketResolver.endpoint_of`),
talk to the storage's own API about buckets and versions
(:meth:`~BucketResolver.bucket_info`, :meth:`~BucketResolver.keeps_versions`,
:meth:`~BucketResolver.has_version`, :meth:`~BucketResolver.read_version`),
and sort its errors into the kinds below (:meth:`~BucketResolver.classify`,
:meth:`~BucketResolver.error_code`).

This module is imported whenever a bucket plugin is loaded, so it imports
nothing heavy: fsspec is imported when an address is first opened, and the
storage library (s3fs, gcsfs) by the subclass's
:meth:`~BucketResolver.make_filesystem`.
"""

from __future__ import annotations

import logging
import posixpath
import threading
from typing import Any, ClassVar

from mlem._uri import has_credentials, scheme_of, strip_credentials
from mlem.errors import (
    MlemError,
    ObjectNotFoundError,
    RevisionNotFoundError,
    RevisionsNotSupportedError,
    StorageAccessError,
    StorageError,
)
from mlem.resolver import Resolver, Source
from mlem.storage_options import Limits

logger = logging.getLogger(__name__)

# What kind of failure an error is: what BucketResolver.classify answers. A
# subclass may add kinds of its own and word them in translate_other.
MISSING = "missing"
NO_BUCKET = "no-bucket"
BAD_VERSION = "bad-version"
DENIED = "denied"
NO_CREDENTIALS = "no-credentials"
UNREACHABLE = "unreachable"
TIMEOUT = "timeout"
BROKEN = "broken"
OTHER = "other"

#: how many metafiles :meth:`BucketResolver.read_files` fetches at once
CONCURRENCY = 64

_VERBS = {
    "read": "read",
    "check": "look for",
    "list": "list",
    "write": "write",
    "reach": "open",
}

_cache: dict[str, Any] = {}
_cache_lock = threading.Lock()


def error_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and every error it was raised from or during, once each."""
    found: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop(0)
        if current is None or any(current is seen for seen in found):
            continue
        found.append(current)
        todo.extend([current.__cause__, current.__context__])
    return found


def class_names(errors: list[BaseException]) -> set[str]:
    """The names of the classes of ``errors`` and of all their bases."""
    return {cls.__name__ for error in errors for cls in type(error).__mro__}


def classify_by_class(
    exc: BaseException,
    no_credentials: set[str],
    unreachable: set[str],
    broken: set[str],
    timeout: set[str] | None = None,
) -> str:
    """The kind of ``exc`` from the classes in its chain, builtins last.

    For what a backend's codes and statuses did not settle: ``no_credentials``,
    ``unreachable``, ``broken`` and ``timeout`` (a server that did not answer
    in the time allowed) are class names of the storage library (and of
    the HTTP library under it) that mean that kind of failure.
    """
    errors = error_chain(exc)
    names = class_names(errors)
    if names & no_credentials:
        return NO_CREDENTIALS
    # unreachable first: a connect timeout is also a TimeoutError, and to
    # aiohttp a kind of read timeout
    if names & unreachable:
        return UNREACHABLE
    if names & (timeout or set()):
        return TIMEOUT
    if names & broken:
        return BROKEN
    if any(isinstance(error, PermissionError) for error in errors):
        return DENIED
    if any(isinstance(error, FileNotFoundError) for error in errors):
        return MISSING
    if any(isinstance(error, ConnectionError) for error in errors):
        return UNREACHABLE
    return OTHER


def version_for(source: Source, path: str) -> str | None:
    """The version to read ``path`` at: the rev, for the metafile that took it."""
    if source.rev is None:
        return None
    pinned = source.extra.get("pinned")
    if pinned is None or pinned == path:
        return source.rev
    return None


class BucketContext:
    """What a source needs to reach its bucket: file systems and endpoint.

    ``raw`` is the storage library's file system, ``kwargs`` and ``limits``
    what it was made with, ``endpoint`` the server's address for messages
    (without credentials), ``fs`` the same file system with its errors
    translated: the source's.
    """

    def __init__(
        self,
        resolver: BucketResolver,
        raw: Any,
        kwargs: dict[str, Any],
        limits: Limits,
        endpoint: str,
    ) -> None:
        from mlem.fsguard import GuardedFileSystem

        self.resolver = resolver
        self.raw = raw
        self.kwargs = kwargs
        self.limits = limits
        self.endpoint = endpoint
        self.fs = GuardedFileSystem(raw, self.translate, raw_isdir=resolver.raw_isdir)
        self._versioned: Any = None

    @property
    def versioned(self) -> Any:
        """The same file system, reading versions (made on first use)."""
        if self._versioned is None:
            self._versioned = self.resolver.filesystem(
                {**self.kwargs, "version_aware": True}, self.limits
            )
        return self._versioned

    def address(self, path: str) -> str:
        """``path`` as an address in the resolver's scheme."""
        return self.resolver.schemes[0] + "://" + path

    def translate(
        self, exc: BaseException, action: str, path: str, rev: str | None = None
    ) -> Exception:
        """The MLEM error for ``exc``, raised while doing ``action`` on ``path``."""
        return self.resolver.translate_error(
            exc, action, self.address(path), self.endpoint, rev, self.limits
        )


class BucketResolver(Resolver):
    """Base class for resolvers of object stores reached through fsspec.

    Set :attr:`~mlem.resolver.Resolver.name` and
    :attr:`~mlem.resolver.Resolver.schemes` (the first is the one links are
    written with), the wording attributes below, and implement the methods
    that raise ``NotImplementedError``. Keep the subclass's module light:
    import the storage library inside :meth:`make_filesystem`.
    """

    supports_revs = True

    #: the storage's name in messages: ``"S3"``
    label: ClassVar[str] = ""
    #: how a message names an address of this storage: ``"an s3:// address"``
    address_kind: ClassVar[str] = ""
    #: what a rev names: ``"version"`` (no version nope of s3://...)
    rev_word: ClassVar[str] = "version"
    #: what a rev is, for a person who gave a wrong one: ``"version id"``
    rev_meaning: ClassVar[str] = "version id"
    #: what the user turns on for a bucket to keep versions: ``"S3 versioning"``
    versioning_name: ClassVar[str] = "versioning"
    #: where credentials go instead of the address: ``"the environment or a
    #: profile"``
    credential_sources: ClassVar[str] = "the environment"
    #: the end of an access-denied message: what to check
    credentials_hint: ClassVar[str] = "check the credentials"
    #: what a message calls the credentials it found none of: ``"AWS
    #: credentials"``
    credentials_name: ClassVar[str] = "credentials"
    #: how to provide them: ``"set AWS_PROFILE or ..."``
    credentials_setup: ClassVar[str] = "set them in the environment"
    #: variables the storage library reads when a file system is made: a
    #: change in any of them makes a new file system
    client_env: ClassVar[tuple[str, ...]] = ()
    #: whether the file system's own ``isdir`` answers False only for a
    #: missing path (see :class:`mlem.fsguard.GuardedFileSystem`)
    raw_isdir: ClassVar[bool] = False

    # -- what a subclass provides ---------------------------------------------

    def storage_kwargs(self, uri: str) -> tuple[dict[str, Any], Limits]:
        """The file system's keyword arguments for ``uri``, and how long and how
        often a request waits for the server.

        :func:`mlem.storage_options.request_limits` reads the limits from the
        options :func:`~mlem.storage_options.project_options` found (add
        :data:`~mlem.storage_options.LIMIT_OPTIONS` to the allowed ones).
        """
        raise NotImplementedError

    def make_filesystem(self, kwargs: dict[str, Any], limits: Limits) -> Any:
        """A new fsspec file system for ``kwargs`` that keeps to ``limits``.

        Each request waits at most ``limits.connect`` seconds for a connection
        and ``limits.timeout`` for an answer, and is tried ``limits.attempts``
        times in all: a library that retries at two levels retries at one.
        Import the storage library here. :meth:`filesystem` keeps one per
        distinct setup.
        """
        raise NotImplementedError

    def endpoint_of(self, raw: Any, kwargs: dict[str, Any]) -> str:
        """The server's address for messages, without credentials."""
        raise NotImplementedError

    def bucket_info(self, context: BucketContext, bucket: str) -> Any:
        """Ask the server about ``bucket``; raise the storage's error if it cannot
        say (no such bucket, access denied, server down)."""
        raise NotImplementedError

    def keeps_versions(
        self, context: BucketContext, bucket: str, info: Any
    ) -> bool | None:
        """Whether ``bucket`` keeps versions of its objects; None if unknown.

        ``info`` is what :meth:`bucket_info` answered, None if the caller may
        not read it.
        """
        raise NotImplementedError

    def check_rev(self, path: str, rev: str) -> None:
        """Refuse a rev that cannot name any version, before asking the server."""

    def has_version(self, context: BucketContext, path: str, version: str) -> bool:
        """Whether ``path`` has ``version``; raise the storage's error if the
        server fails to answer."""
        raise NotImplementedError

    def has_any_version(self, context: BucketContext, path: str) -> bool:
        """Whether anything was ever written at ``path``, to tell a rev that
        names nothing from a metafile that is not there."""
        return bool(context.fs.exists(path))

    def read_version(self, context: BucketContext, path: str, version: str) -> bytes:
        """The bytes of ``path`` at ``version``; the storage's errors as raised."""
        raise NotImplementedError

    def classify(self, exc: BaseException) -> str:
        """What kind of failure ``exc`` is: :data:`MISSING`, :data:`DENIED`..."""
        raise NotImplementedError

    def error_code(self, exc: BaseException) -> tuple[str, int | None]:
        """The storage's error code and the HTTP status in ``exc``'s chain."""
        return "", None

    def translate_other(
        self, kind: str, verb: str, address: str, endpoint: str
    ) -> MlemError | None:
        """The error for a kind of failure only this storage has, else None."""
        return None

    # -- the Resolver interface -----------------------------------------------

    def claims(self, uri: str, rev: str | None) -> bool:
        return scheme_of(uri) in self.schemes

    def open(self, uri: str, rev: str | None) -> Source:
        if scheme_of(uri) not in self.schemes:
            raise StorageError(f"{uri} is not {self.address_kind}")
        path = self.parse_address(uri)
        bucket = path.split("/", 1)[0]

        kwargs, limits = self.storage_kwargs(uri)
        raw = self.filesystem(kwargs, limits)
        context = BucketContext(
            self, raw, kwargs, limits, self.endpoint_of(raw, kwargs)
        )

        info = self._check_bucket(context, bucket, path)
        # some clients learn their endpoint only once they have made a request
        context.endpoint = self.endpoint_of(raw, kwargs)
        if rev is not None:
            self._check_versions(context, bucket, path, rev, info)

        display = context.address(path)
        logger.debug("opened %s at %s (rev %s)", display, context.endpoint, rev)
        return Source(
            resolver=self,
            fs=context.fs,
            base=path,
            boundary=bucket,
            rev=rev,
            # a version already names one immutable object
            commit=rev,
            display=display,
            storage_id=f"{self.name}|{context.endpoint}",
            extra={self.name: context},
        )

    def project_uri(self, source: Source, root: str) -> str:
        return self.schemes[0] + "://" + root.strip("/") + "/"

    def display_uri(self, source: Source, path: str) -> str:
        return self.schemes[0] + "://" + path

    def rev_for(self, source: Source, path: str) -> str | None:
        return version_for(source, path)

    def file_exists(self, source: Source, path: str) -> bool:
        version = version_for(source, path)
        if version is None:
            return source.fs.isfile(path)
        context = self.context(source)
        try:
            found = self.has_version(context, path, version)
        except Exception as exc:
            if self.classify(exc) not in (MISSING, BAD_VERSION):
                raise context.translate(exc, "check", path, version) from exc
            found = False
        if not found:
            if self.has_any_version(context, path):
                raise self.no_version_error(context.address(path), version)
            return False
        source.extra["pinned"] = path
        return True

    def read_file(self, source: Source, path: str) -> bytes:
        version = version_for(source, path)
        if version is None:
            return source.fs.cat_file(path)
        context = self.context(source)
        try:
            data = self.read_version(context, path, version)
        except Exception as exc:
            raise context.translate(exc, "read", path, version) from exc
        # read without asking file_exists first (a batch does): it takes the rev
        source.extra.setdefault("pinned", path)
        return data

    def read_files(
        self, source: Source, paths: list[str]
    ) -> dict[str, bytes | Exception]:
        """Many metafiles at their latest versions, :data:`CONCURRENCY` at once."""
        from mlem.fsguard import cat_many

        if source.rev is not None:
            # a version belongs to one metafile: nothing to fetch side by side
            return super().read_files(source, paths)
        context = self.context(source)
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

    def write_file(self, source: Source, path: str, data: bytes) -> None:
        # one PUT: an object store shows readers the whole object or none of it
        source.fs.pipe_file(path, data)

    # -- the shared machinery -------------------------------------------------

    def context(self, source: Source) -> BucketContext:
        """The :class:`BucketContext` of a source this resolver opened."""
        return source.extra[self.name]

    def parse_address(self, uri: str) -> str:
        """``s3://bucket/some/prefix/`` → ``bucket/some/prefix``, checked."""
        scheme = self.schemes[0]
        if has_credentials(uri):
            raise StorageError(
                f"{strip_credentials(uri)}: {self.address_kind} carries no "
                "credentials; remove the user:password@ part and use "
                f"{self.credential_sources}"
            )
        rest = uri.split("://", 1)[1]
        bucket = rest.split("/", 1)[0]
        if not bucket:
            raise StorageError(f"{uri} names no bucket; write {scheme}://BUCKET/PREFIX")
        path = posixpath.normpath(rest.rstrip("/")) if "/" in rest else bucket
        if path != bucket and not path.startswith(bucket + "/"):
            raise StorageError(f"{uri} leaves its bucket {bucket}")
        return path

    def filesystem(self, kwargs: dict[str, Any], limits: Limits) -> Any:
        """A file system for ``kwargs``, one per distinct setup in this process."""
        import hashlib
        import json
        import os

        # the environment is part of the key, hashed so no secret sits in memory
        # longer than the storage library keeps it anyway
        env = hashlib.sha256(
            "\0".join(os.environ.get(name, "") for name in self.client_env).encode()
        ).hexdigest()
        key = json.dumps([self.name, kwargs, limits, env], sort_keys=True, default=repr)
        with _cache_lock:
            fs = _cache.get(key)
            if fs is None:
                fs = self.make_filesystem(kwargs, limits)
                _cache[key] = fs
            return fs

    def no_version_error(self, address: str, rev: str | None) -> RevisionNotFoundError:
        """The error for a rev that names no version of ``address``."""
        return RevisionNotFoundError(
            f"no {self.rev_word} {rev} of {address}; the rev of {self.address_kind} "
            f"is the {self.rev_meaning} of its metafile"
        )

    def translate_error(
        self,
        exc: BaseException,
        action: str,
        address: str,
        endpoint: str,
        rev: str | None = None,
        limits: Limits | None = None,
    ) -> MlemError:
        """The MLEM error for ``exc``, raised while doing ``action`` on ``address``.

        ``address`` is an address in this storage's scheme, ``endpoint`` the
        server's address without credentials; ``rev`` the version asked for,
        if any; ``limits`` what the file system waited, for a timeout's
        message. The message names neither a key nor a secret.
        """
        if isinstance(exc, MlemError):
            return exc
        kind = self.classify(exc)
        verb = _VERBS.get(action, action)
        own = self.translate_other(kind, verb, address, endpoint)
        if own is not None:
            return own
        code, status = self.error_code(exc)
        if kind == NO_BUCKET:
            bucket = address.split("://", 1)[1].split("/", 1)[0]
            return self._no_bucket(bucket, endpoint, address)
        if kind == BAD_VERSION or (kind == MISSING and rev is not None):
            return self.no_version_error(address, rev)
        if kind == MISSING:
            return ObjectNotFoundError(
                f"no object at {address} ({self.label} at {endpoint})"
            )
        if kind == DENIED:
            why = f" ({code})" if code and not code.isdigit() else ""
            return StorageAccessError(
                f"access denied to {verb} {address} at {endpoint}{why}; "
                f"{self.credentials_hint}"
            )
        if kind == NO_CREDENTIALS:
            return StorageAccessError(
                f"no {self.credentials_name} to {verb} {address}: "
                f"{self.credentials_setup}, or anon: true in the storage section "
                "of .mlem.yaml for a public bucket"
            )
        if kind == UNREACHABLE:
            return StorageError(
                f"cannot reach {self.label} at {endpoint} to {verb} {address}; check "
                "that the server is up and the endpoint is right"
            )
        if kind == TIMEOUT:
            return self._timeout_error(verb, address, endpoint, limits or Limits())
        if kind == BROKEN:
            return StorageError(
                f"the connection to {self.label} at {endpoint} broke while trying "
                f"to {verb} {address}; try again"
            )
        what = code or type(exc).__name__
        if status:
            what += f", HTTP {status}"
        return StorageError(
            f"{self.label} at {endpoint} could not {verb} {address} ({what})"
        )

    def _timeout_error(
        self, verb: str, address: str, endpoint: str, limits: Limits
    ) -> StorageError:
        seconds = f"{limits.timeout:g} second{'' if limits.timeout == 1 else 's'}"
        tries = f" ({limits.attempts} attempts)" if limits.attempts > 1 else ""
        return StorageError(
            f"{self.label} at {endpoint} did not answer within {seconds}{tries} "
            f"while trying to {verb} {address}; check that the server is up and "
            f"the endpoint is right, or {limits.hint()}"
        )

    def _no_bucket(self, bucket: str, endpoint: str, address: str) -> MlemError:
        return ObjectNotFoundError(
            f"no bucket {bucket} at {endpoint} (asked for {address}); check the "
            "bucket name and the endpoint"
        )

    def _check_bucket(self, context: BucketContext, bucket: str, path: str) -> Any:
        """The bucket's info; fail early on a missing bucket or a dead server.

        None when the caller may not look at the bucket itself: reading
        objects may still be allowed, and the reads will say if it is not.
        """
        try:
            return self.bucket_info(context, bucket)
        except Exception as exc:
            kind = self.classify(exc)
            if kind == DENIED:
                logger.debug("cannot check bucket %s: access denied", bucket)
                return None
            if kind in (MISSING, NO_BUCKET):
                address = context.address(path)
                raise self._no_bucket(bucket, context.endpoint, address) from exc
            raise context.translate(exc, "reach", path) from exc

    def _check_versions(
        self, context: BucketContext, bucket: str, path: str, rev: str, info: Any
    ) -> None:
        try:
            keeps = self.keeps_versions(context, bucket, info)
        except Exception as exc:
            if self.classify(exc) != DENIED:
                raise context.translate(exc, "reach", path) from exc
            logger.debug("cannot read the versioning of %s: access denied", bucket)
            keeps = None
        if keeps is False:
            raise RevisionsNotSupportedError(
                f"--rev {rev} given for {context.address(path)}, but bucket {bucket} "
                f"keeps no versions ({self.versioning_name} is off); drop --rev, or "
                "turn versioning on for the bucket"
            )
        self.check_rev(path, rev)


__all__ = [
    "BAD_VERSION",
    "BROKEN",
    "CONCURRENCY",
    "DENIED",
    "MISSING",
    "NO_BUCKET",
    "NO_CREDENTIALS",
    "OTHER",
    "TIMEOUT",
    "UNREACHABLE",
    "BucketContext",
    "BucketResolver",
    "class_names",
    "classify_by_class",
    "error_chain",
    "version_for",
]
