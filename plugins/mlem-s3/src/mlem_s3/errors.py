"""S3 failures sorted into the kinds :mod:`mlem.buckets` turns into MLEM's errors.

s3fs turns some botocore errors into builtins and lets others through; the
classification here looks at the whole chain (``__cause__`` and
``__context__``) for an S3 error code, an HTTP status or a known class, so it
does not depend on which layer raised.
"""

from __future__ import annotations

from mlem.buckets import (
    BAD_VERSION,
    DENIED,
    MISSING,
    NO_BUCKET,
    classify_by_class,
    error_chain,
)

_DENIED_CODES = {
    "AccessDenied",
    "AccountProblem",
    "AllAccessDisabled",
    "ExpiredToken",
    "InvalidAccessKeyId",
    "InvalidClientTokenId",
    "InvalidPayer",
    "InvalidSecurity",
    "InvalidToken",
    "RequestTimeTooSkewed",
    "SignatureDoesNotMatch",
    "TokenRefreshRequired",
    "401",
    "403",
    "Forbidden",
}
_MISSING_CODES = {"NoSuchKey", "404", "NotFound"}
_VERSION_CODES = {"NoSuchVersion", "InvalidVersion"}

_NO_CREDENTIAL_CLASSES = {"NoCredentialsError", "PartialCredentialsError"}
_UNREACHABLE_CLASSES = {
    "EndpointConnectionError",
    "ConnectTimeoutError",
    "ProxyConnectionError",
    "ClientConnectorError",
    "ConnectionRefusedError",
    "SSLError",
}
#: the server took the connection and did not answer within the read timeout
_TIMEOUT_CLASSES = {"ReadTimeoutError", "SocketTimeoutError"}
_BROKEN_CLASSES = {
    "ClientPayloadError",
    "ServerDisconnectedError",
    "ResponseStreamingError",
    "IncompleteReadError",
    "ConnectionClosedError",
    "ConnectionResetError",
    "FSTimeoutError",
    "TimeoutError",
}


def error_code(exc: BaseException) -> tuple[str, int | None]:
    """The first S3 error code and HTTP status in ``exc``'s chain."""
    for error in error_chain(exc):
        response = getattr(error, "response", None)
        if isinstance(response, dict):
            code = str(response.get("Error", {}).get("Code", ""))
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            return code, status
    return "", None


def classify(exc: BaseException) -> str:
    """What kind of failure ``exc`` is: one of :mod:`mlem.buckets`' kinds."""
    code, status = error_code(exc)
    if code == "NoSuchBucket":
        return NO_BUCKET
    if code in _VERSION_CODES or (
        code == "InvalidArgument" and "version" in str(error_chain(exc)).lower()
    ):
        return BAD_VERSION
    if code in _DENIED_CODES or status in (401, 403):
        return DENIED
    if code in _MISSING_CODES or status == 404:
        return MISSING
    return classify_by_class(
        exc,
        _NO_CREDENTIAL_CLASSES,
        _UNREACHABLE_CLASSES,
        _BROKEN_CLASSES,
        timeout=_TIMEOUT_CLASSES,
    )


__all__ = ["classify", "error_code"]
