"""The ``gcs`` resolver: what is particular to GCS on top of :mod:`mlem.buckets`.

Options come from three places, later ones winning: google-auth's own
configuration (``GOOGLE_APPLICATION_CREDENTIALS``, gcloud's application
default credentials), fsspec's (``FSSPEC_GS_*`` and ``FSSPEC_GCS_*``
variables, its config folder), and the ``storage:`` section of the project's
``.mlem.yaml`` (see :mod:`mlem.storage_options`). With an endpoint of its own
(``endpoint_url``, or ``STORAGE_EMULATOR_HOST`` as Google's clients read it)
the plain gcsfs file system is used, never the one that also talks gRPC to
Google, and with ``STORAGE_EMULATOR_HOST`` the default token is ``anon``.

Waiting: every request gets the connect and read timeouts of
:class:`~mlem.storage_options.Limits` (gcsfs's ``requests_timeout``; without
one, aiohttp waits five minutes for an answer) and is tried
``limits.attempts`` times by gcsfs's own retry loop.

Versions: with a rev, the bucket must keep versions (object versioning on).
The rev is the generation of the metafile the address names; the first
metafile found at that generation takes it, and every other path in the same
source is read at its latest generation, since a generation belongs to one
object, not to a tree.

This module is imported whenever MLEM loads its plugins; gcsfs (and
google-auth with it) is imported when a ``gs://`` address is first opened.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from mlem._uri import strip_credentials
from mlem.buckets import BucketContext, BucketResolver, version_for
from mlem.errors import MlemError, RevisionNotFoundError, StorageAccessError
from mlem.storage_options import LIMIT_OPTIONS, Limits
from mlem_gcs import errors

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
    **LIMIT_OPTIONS,
}

_BOOLEANS = ("anon", "version_aware")

#: variables google-auth and gcsfs read when a file system is made
_CLIENT_ENV = (
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_CLOUD_PROJECT",
    "GCSFS_DEFAULT_PROJECT",
    "STORAGE_EMULATOR_HOST",
    "CLOUDSDK_CONFIG",
)

# file-system classes with a number of attempts of their own; filled under
# BucketResolver.filesystem's lock
_classes: dict[tuple[type, int], type] = {}


class GCSResolver(BucketResolver):
    """``gs://bucket/prefix`` (or ``gcs://``) addresses, through gcsfs.

    A rev names a generation of the metafile an address names, in a bucket
    that keeps versions (object versioning on). Links are written with
    ``gs://``, as MLEM 0.4 wrote them, whichever spelling was given.
    """

    name = "gcs"
    schemes = SCHEMES
    label = "GCS"
    address_kind = "a gs:// address"
    rev_word = "generation"
    rev_meaning = "generation"
    versioning_name = "object versioning"
    credential_sources = "the environment or a key file"
    credentials_hint = (
        "check the credentials: GOOGLE_APPLICATION_CREDENTIALS or `gcloud auth "
        "application-default login`, or token: in the storage section of .mlem.yaml"
    )
    credentials_name = "usable Google credentials"
    credentials_setup = (
        "set GOOGLE_APPLICATION_CREDENTIALS or run `gcloud auth application-default "
        "login`"
    )
    client_env = _CLIENT_ENV

    def storage_kwargs(self, uri: str) -> tuple[dict[str, Any], Limits]:
        """gcsfs's keyword arguments for ``uri``, and how long and how often a
        request waits for the server."""
        from mlem.storage_options import (
            fsspec_env_options,
            project_options,
            request_limits,
        )

        kwargs = fsspec_env_options(SCHEMES, booleans=_BOOLEANS)
        options, config_file = project_options(uri, SCHEMES, OPTIONS)
        limits = request_limits(options, config_file)
        if options.pop("anon", None) or kwargs.pop("anon", None):
            options["token"] = "anon"
        kwargs.update(options)
        if "token" not in kwargs and os.environ.get("STORAGE_EMULATOR_HOST"):
            # what Google's own clients do for an emulator
            kwargs["token"] = "anon"
        return kwargs, limits

    def make_filesystem(self, kwargs: dict[str, Any], limits: Limits) -> Any:
        import aiohttp

        # per read of the socket, not for the whole answer: a large object
        # that keeps arriving is never cut off
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=limits.connect, sock_read=limits.timeout
        )
        cls = _filesystem_class(kwargs, limits.attempts)
        return cls(skip_instance_cache=True, requests_timeout=timeout, **kwargs)

    def endpoint_of(self, raw: Any, kwargs: dict[str, Any]) -> str:
        url = getattr(raw, "_location", None) or kwargs.get("endpoint_url") or "GCS"
        return strip_credentials(str(url))

    def bucket_info(self, context: BucketContext, bucket: str) -> Any:
        return context.raw.call("GET", "b/{}", bucket, json_out=True)

    def keeps_versions(
        self, context: BucketContext, bucket: str, info: Any
    ) -> bool | None:
        if info is None:
            return None
        return bool((info.get("versioning") or {}).get("enabled"))

    def check_rev(self, path: str, rev: str) -> None:
        if not rev.isdigit():
            raise RevisionNotFoundError(
                f"no generation {rev} of gs://{path}: the rev of a gs:// address is "
                "the generation (a number) of its metafile"
            )

    def has_version(self, context: BucketContext, path: str, version: str) -> bool:
        info = context.versioned.info(f"{path}#{version}")
        # a server that ignores ?generation= answers with the latest one
        return info.get("type") == "file" and str(info.get("generation")) == version

    def read_version(self, context: BucketContext, path: str, version: str) -> bytes:
        return context.versioned.cat_file(f"{path}#{version}")

    def classify(self, exc: BaseException) -> str:
        return errors.classify(exc)

    def error_code(self, exc: BaseException) -> tuple[str, int | None]:
        # GCS's answers carry no code worth showing beyond the status
        return "", errors.http_status(exc)

    def translate_other(
        self, kind: str, verb: str, address: str, endpoint: str
    ) -> MlemError | None:
        if kind == errors.REQUESTER_PAYS:
            return StorageAccessError(
                f"the bucket of {address} is requester-pays: set requester_pays: "
                "true (or a project to bill) in the storage section of .mlem.yaml"
            )
        return None


def _filesystem_class(kwargs: dict[str, Any], attempts: int) -> type:
    import gcsfs
    from gcsfs.core import GCSFileSystem as Plain

    own_endpoint = kwargs.get("endpoint_url") or os.environ.get("STORAGE_EMULATOR_HOST")
    # gcsfs may pick a subclass that also talks gRPC to Google's own hosts;
    # an emulator or another endpoint speaks only the JSON API
    base: type = Plain if own_endpoint else gcsfs.GCSFileSystem
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


__all__ = ["OPTIONS", "GCSResolver", "version_for"]
