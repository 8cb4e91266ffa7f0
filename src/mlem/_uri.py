"""Small helpers for addresses: schemes and credentials."""

from __future__ import annotations

import os
import re
from urllib.parse import unquote

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")
_USERINFO = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)([^/@]*@)")


def scheme_of(uri: str) -> str:
    """The scheme of ``uri`` (``"s3"``, ``"https"``), or ``""`` for a plain path."""
    match = _SCHEME.match(uri)
    return match.group(1).lower() if match else ""


def strip_credentials(uri: str) -> str:
    """``uri`` without a ``user:password@`` part, safe to print or write.

    A user name alone is kept for ``ssh://`` (``ssh://git@host/...`` carries no
    secret); anything with a password or token is dropped.
    """
    match = _USERINFO.match(uri)
    if not match:
        return uri
    scheme, userinfo = match.group(1), match.group(2)
    if scheme.lower().startswith("ssh") and ":" not in userinfo:
        return uri
    return scheme + uri[match.end() :]


def has_credentials(uri: str) -> bool:
    return strip_credentials(uri) != uri


def local_path(uri: str) -> str:
    """The absolute, normalised path of a plain path or ``file://`` address
    (shared by every resolver that reads this machine's disk)."""
    if scheme_of(uri) == "file":
        rest = uri[len("file://") :]
        if rest.startswith("localhost/"):
            rest = rest[len("localhost") :]
        uri = unquote(rest)
    return os.path.normpath(os.path.abspath(os.path.expanduser(uri)))
