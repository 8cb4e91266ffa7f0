"""S3 failures as MLEM's errors: one line each, no credentials, cause kept.

s3fs turns some botocore errors into builtins and lets others through; the
classification here looks at the whole chain (``__cause__`` and
``__context__``) for an S3 error code, an HTTP status or a known class, so it
does not depend on which layer raised.
"""

from __future__ import annotations

from mlem.errors import (
    MlemError,
    ObjectNotFoundError,
    RevisionNotFoundError,
    StorageAccessError,
    StorageError,
)

NO_BUCKET = "no-bucket"
MISSING = "missing"
BAD_VERSION = "bad-version"
DENIED = "denied"
NO_CREDENTIALS = "no-credentials"
UNREACHABLE = "unreachable"
BROKEN = "broken"
OTHER = "other"

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
_BROKEN_CLASSES = {
    "ClientPayloadError",
    "ServerDisconnectedError",
    "ResponseStreamingError",
    "IncompleteReadError",
    "ReadTimeoutError",
    "ConnectionClosedError",
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


def error_code(exc: BaseException) -> tuple[str, int | None]:
    """The first S3 error code and HTTP status in ``exc``'s chain."""
    for error in chain(exc):
        response = getattr(error, "response", None)
        if isinstance(response, dict):
            code = str(response.get("Error", {}).get("Code", ""))
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            return code, status
    return "", None


def classify(exc: BaseException) -> str:
    """What kind of failure ``exc`` is: one of this module's constants."""
    errors = chain(exc)
    code, status = error_code(exc)
    if code == "NoSuchBucket":
        return NO_BUCKET
    if code in _VERSION_CODES or (
        code == "InvalidArgument" and "version" in str(errors).lower()
    ):
        return BAD_VERSION
    if code in _DENIED_CODES or status in (401, 403):
        return DENIED
    if code in _MISSING_CODES or status == 404:
        return MISSING
    names = {cls.__name__ for error in errors for cls in type(error).__mro__}
    if names & _NO_CREDENTIAL_CLASSES:
        return NO_CREDENTIALS
    # unreachable first: a connect timeout is also a TimeoutError
    if names & _UNREACHABLE_CLASSES:
        return UNREACHABLE
    if names & _BROKEN_CLASSES:
        return BROKEN
    if any(isinstance(error, PermissionError) for error in errors):
        return DENIED
    if any(isinstance(error, FileNotFoundError) for error in errors):
        return MISSING
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
    "check the credentials: AWS_PROFILE or AWS_ACCESS_KEY_ID, or profile: in the "
    "storage section of .mlem.yaml"
)


def translate(
    exc: BaseException,
    action: str,
    address: str,
    endpoint: str,
    rev: str | None = None,
) -> MlemError:
    """The MLEM error for ``exc``, raised while doing ``action`` on ``address``.

    ``address`` is an ``s3://`` address, ``endpoint`` the server's address
    without credentials. The message names neither a key nor a secret.
    """
    if isinstance(exc, MlemError):
        return exc
    kind = classify(exc)
    verb = _VERBS.get(action, action)
    code, status = error_code(exc)
    bucket = address[len("s3://") :].split("/", 1)[0]
    if kind == NO_BUCKET:
        return ObjectNotFoundError(
            f"no bucket {bucket} at {endpoint} (asked for {address}); "
            "check the bucket name and the endpoint"
        )
    if kind == MISSING:
        return ObjectNotFoundError(f"no object at {address} (S3 at {endpoint})")
    if kind == BAD_VERSION:
        return RevisionNotFoundError(
            f"no version {rev} of {address}; the rev of an s3:// address is the "
            "version id of its metafile"
        )
    if kind == DENIED:
        why = f" ({code})" if code and not code.isdigit() else ""
        return StorageAccessError(
            f"access denied to {verb} {address} at {endpoint}{why}; {CREDENTIALS_HINT}"
        )
    if kind == NO_CREDENTIALS:
        return StorageAccessError(
            f"no AWS credentials to {verb} {address}: set AWS_PROFILE or "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or anon: true in the "
            "storage section of .mlem.yaml for a public bucket"
        )
    if kind == UNREACHABLE:
        return StorageError(
            f"cannot reach S3 at {endpoint} to {verb} {address}; check that the "
            "server is up and the endpoint is right"
        )
    if kind == BROKEN:
        return StorageError(
            f"the connection to S3 at {endpoint} broke while trying to {verb} "
            f"{address}; try again"
        )
    what = code or type(exc).__name__
    if status:
        what += f", HTTP {status}"
    return StorageError(f"S3 at {endpoint} could not {verb} {address} ({what})")


__all__ = ["classify", "error_code", "translate"]
