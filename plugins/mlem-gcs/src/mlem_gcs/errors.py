"""GCS failures as MLEM's errors: one line each, no credentials, cause kept.

gcsfs raises builtins for some statuses (``FileNotFoundError`` for 404, an
``OSError`` starting "Forbidden" for 403), its own ``HttpError`` for others,
and lets aiohttp's and google-auth's errors through; the classification here
looks at the whole chain for any of them.
"""

from __future__ import annotations

from mlem.errors import (
    MlemError,
    ObjectNotFoundError,
    RevisionNotFoundError,
    StorageAccessError,
    StorageError,
)

MISSING = "missing"
DENIED = "denied"
NO_CREDENTIALS = "no-credentials"
REQUESTER_PAYS = "requester-pays"
UNREACHABLE = "unreachable"
BROKEN = "broken"
OTHER = "other"

_NO_CREDENTIAL_CLASSES = {"DefaultCredentialsError", "RefreshError"}
_UNREACHABLE_CLASSES = {
    "ClientConnectorError",
    "ClientProxyConnectionError",
    "ConnectionRefusedError",
    "ConnectTimeoutError",
    "ServerTimeoutError",
}
_BROKEN_CLASSES = {
    "ClientPayloadError",
    "ContentLengthError",
    "ServerDisconnectedError",
    "ChecksumError",
    "ConnectionResetError",
    "FSTimeoutError",
    "TimeoutError",
}


def chain(exc: BaseException) -> list[BaseException]:
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


def http_status(exc: BaseException) -> int | None:
    """The first HTTP status an error in ``exc``'s chain carries."""
    for error in chain(exc):
        for name in ("code", "status"):
            value = getattr(error, name, None)
            if isinstance(value, int) and 100 <= value < 600:
                return value
    return None


def classify(exc: BaseException) -> str:
    """What kind of failure ``exc`` is: one of this module's constants."""
    errors = chain(exc)
    names = {cls.__name__ for error in errors for cls in type(error).__mro__}
    texts = " ".join(str(error) for error in errors)
    status = http_status(exc)
    if "requester pays" in texts.lower():
        return REQUESTER_PAYS
    if names & _NO_CREDENTIAL_CLASSES:
        return NO_CREDENTIALS
    if status in (401, 403) or any(
        str(error).startswith("Forbidden") or isinstance(error, PermissionError)
        for error in errors
    ):
        return DENIED
    if status == 404 or any(isinstance(error, FileNotFoundError) for error in errors):
        return MISSING
    # unreachable first: a connect timeout is also a TimeoutError
    if names & _UNREACHABLE_CLASSES:
        return UNREACHABLE
    if names & _BROKEN_CLASSES:
        return BROKEN
    if any(isinstance(error, ConnectionError) for error in errors):
        return UNREACHABLE
    return OTHER


_VERBS = {
    "read": "read",
    "check": "look for",
    "list": "list",
    "write": "write",
    "reach": "open",
}

CREDENTIALS_HINT = (
    "check the credentials: GOOGLE_APPLICATION_CREDENTIALS or `gcloud auth "
    "application-default login`, or token: in the storage section of .mlem.yaml"
)


def translate(
    exc: BaseException,
    action: str,
    address: str,
    endpoint: str,
    rev: str | None = None,
) -> MlemError:
    """The MLEM error for ``exc``, raised while doing ``action`` on ``address``.

    ``address`` is a ``gs://`` address, ``endpoint`` the server's address
    without credentials. The message carries no token.
    """
    if isinstance(exc, MlemError):
        return exc
    kind = classify(exc)
    verb = _VERBS.get(action, action)
    if kind == MISSING:
        if rev is not None:
            return RevisionNotFoundError(
                f"no generation {rev} of {address}; the rev of a gs:// address is "
                "the generation of its metafile"
            )
        return ObjectNotFoundError(f"no object at {address} (GCS at {endpoint})")
    if kind == REQUESTER_PAYS:
        return StorageAccessError(
            f"the bucket of {address} is requester-pays: set requester_pays: true "
            "(or a project to bill) in the storage section of .mlem.yaml"
        )
    if kind == DENIED:
        return StorageAccessError(
            f"access denied to {verb} {address} at {endpoint}; {CREDENTIALS_HINT}"
        )
    if kind == NO_CREDENTIALS:
        return StorageAccessError(
            f"no usable Google credentials to {verb} {address}: set "
            "GOOGLE_APPLICATION_CREDENTIALS or run `gcloud auth application-default "
            "login`, or anon: true in the storage section of .mlem.yaml for a "
            "public bucket"
        )
    if kind == UNREACHABLE:
        return StorageError(
            f"cannot reach GCS at {endpoint} to {verb} {address}; check that the "
            "server is up and the endpoint is right"
        )
    if kind == BROKEN:
        return StorageError(
            f"the connection to GCS at {endpoint} broke while trying to {verb} "
            f"{address}; try again"
        )
    status = http_status(exc)
    what = type(exc).__name__ + (f", HTTP {status}" if status else "")
    return StorageError(f"GCS at {endpoint} could not {verb} {address} ({what})")


__all__ = ["classify", "http_status", "translate"]
