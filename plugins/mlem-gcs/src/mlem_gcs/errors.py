"""GCS failures sorted into the kinds :mod:`mlem.buckets` turns into MLEM's errors.

gcsfs raises builtins for some statuses (``FileNotFoundError`` for 404, an
``OSError`` starting "Forbidden" for 403), its own ``HttpError`` for others,
and lets aiohttp's and google-auth's errors through; the classification here
looks at the whole chain for any of them.
"""

from __future__ import annotations

from mlem.buckets import (
    DENIED,
    MISSING,
    NO_CREDENTIALS,
    class_names,
    classify_by_class,
    error_chain,
)

#: a kind of failure only GCS has: the bucket bills the reader, who said nothing
REQUESTER_PAYS = "requester-pays"

_NO_CREDENTIAL_CLASSES = {"DefaultCredentialsError", "RefreshError"}
_UNREACHABLE_CLASSES = {
    "ClientConnectorError",
    "ClientProxyConnectionError",
    "ConnectionRefusedError",
    "ConnectTimeoutError",
    # aiohttp's connect timeout, a child of the read timeout's class below
    "ConnectionTimeoutError",
}
#: the server took the connection and did not answer within the read timeout
_TIMEOUT_CLASSES = {"ServerTimeoutError", "SocketTimeoutError"}
_BROKEN_CLASSES = {
    "ClientPayloadError",
    "ContentLengthError",
    "ServerDisconnectedError",
    "ChecksumError",
    "ConnectionResetError",
    "FSTimeoutError",
    "TimeoutError",
}


def http_status(exc: BaseException) -> int | None:
    """The first HTTP status an error in ``exc``'s chain carries."""
    for error in error_chain(exc):
        for name in ("code", "status"):
            value = getattr(error, name, None)
            if isinstance(value, int) and 100 <= value < 600:
                return value
    return None


def classify(exc: BaseException) -> str:
    """What kind of failure ``exc`` is: one of :mod:`mlem.buckets`' kinds, or
    :data:`REQUESTER_PAYS`."""
    errors = error_chain(exc)
    texts = " ".join(str(error) for error in errors)
    status = http_status(exc)
    if "requester pays" in texts.lower():
        return REQUESTER_PAYS
    # before the status: a token google-auth cannot get or refresh is missing
    # credentials, whatever answer came with it
    if class_names(errors) & _NO_CREDENTIAL_CLASSES:
        return NO_CREDENTIALS
    if status in (401, 403) or any(
        str(error).startswith("Forbidden") or isinstance(error, PermissionError)
        for error in errors
    ):
        return DENIED
    if status == 404 or any(isinstance(error, FileNotFoundError) for error in errors):
        return MISSING
    return classify_by_class(
        exc,
        _NO_CREDENTIAL_CLASSES,
        _UNREACHABLE_CLASSES,
        _BROKEN_CLASSES,
        timeout=_TIMEOUT_CLASSES,
    )


__all__ = ["REQUESTER_PAYS", "classify", "http_status"]
