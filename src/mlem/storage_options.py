"""Options for object stores: the ``storage:`` section of ``.mlem.yaml``.

Resolvers for buckets (``mlem-s3``, ``mlem-gcs``) need settings that an address
cannot carry: an endpoint, a profile, anonymous access. A project says them
once, in its ``.mlem.yaml``::

    storage:
      s3:                          # every s3:// address
        endpoint_url: https://minio.example.com
        profile: ml-readonly
      s3://public-models:          # this bucket only, over the entry above
        anon: true
      gs://acme-models/registry:   # this prefix only
        requester_pays: true

A key is a scheme (``s3``, ``gs``) or an address prefix; every entry that
matches an address applies, the scheme first, then longer prefixes over
shorter ones. Option names and types are each resolver's own. Secrets are
refused: ``.mlem.yaml`` is committed with the project, so credentials stay in
the environment, a profile or a key file.

Every bucket resolver takes two options on how long and how often it waits
for a server, read by :func:`request_limits`: ``timeout`` (seconds a server
may take to answer; ``MLEM_STORAGE_TIMEOUT`` when ``.mlem.yaml`` does not say,
else 60) and ``attempts`` (tries of one request, else 3).

The project is the nearest folder with ``.mlem.yaml`` from the current
directory upwards: the registry a user works in says how to reach the buckets
its links point into.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from typing import Any

from mlem.errors import MetafileError, StorageError

logger = logging.getLogger(__name__)

PROJECT_FILE = ".mlem.yaml"
SECTION = "storage"

#: option names that hold secrets in fsspec back-ends; never read from a file
#: that is committed with a project
SECRET_NAMES = frozenset(
    {
        "key",
        "secret",
        "password",
        "username",
        "access_key",
        "secret_key",
        "access_key_id",
        "secret_access_key",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "session_token",
        "client_secret",
        "private_key",
        "credentials",
    }
)

#: seconds a storage server may take to answer; MLEM_STORAGE_TIMEOUT, then
#: ``timeout`` in the storage section of .mlem.yaml, override it
DEFAULT_TIMEOUT = 60.0
TIMEOUT_ENV = "MLEM_STORAGE_TIMEOUT"
#: seconds to wait for a connection, at most the timeout: a server that takes
#: longer to accept one is as good as down
CONNECT_TIMEOUT = 10.0
#: how many times a request is tried when nothing says otherwise
DEFAULT_ATTEMPTS = 3

#: the options on waiting that every bucket resolver takes, with their types
LIMIT_OPTIONS: dict[str, tuple[type, ...]] = {
    "timeout": (int, float),
    "attempts": (int,),
}

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


def find_project_file(start: str | None = None) -> str | None:
    """The nearest ``.mlem.yaml`` from ``start`` (default: here) upwards."""
    current = os.path.abspath(start or os.getcwd())
    while True:
        candidate = os.path.join(current, PROJECT_FILE)
        if os.path.isfile(candidate):
            return candidate
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def storage_section(config_file: str) -> dict[str, Any]:
    """The ``storage:`` mapping of a ``.mlem.yaml`` (empty when there is none)."""
    import yaml

    try:
        with open(config_file, "rb") as f:
            data = yaml.safe_load(f)
    except yaml.YAMLError as exc:
        raise MetafileError(config_file, f"is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise MetafileError(config_file, "holds no mapping", "it is a YAML mapping")
    section = data.get(SECTION) or {}
    if not isinstance(section, dict):
        raise MetafileError(
            config_file,
            f"'{SECTION}' must be a mapping of schemes or addresses to options",
        )
    return section


def project_options(
    address: str,
    schemes: tuple[str, ...],
    allowed: dict[str, tuple[type, ...]],
    start: str | None = None,
) -> tuple[dict[str, Any], str | None]:
    """The options ``.mlem.yaml`` gives for ``address``, and the file they came from.

    ``schemes`` are the spellings of one storage (``("gs", "gcs")``): the first
    is the name of its scheme entry, and prefixes in any spelling match.
    ``allowed`` maps each option name to the types its value may have.
    """
    config_file = find_project_file(start)
    if config_file is None:
        return {}, None
    section = storage_section(config_file)
    if not section:
        return {}, config_file

    target = _normalise(address, schemes)
    matches: list[tuple[int, str, Any]] = []
    for key, value in section.items():
        key = str(key)
        if key in schemes:
            matches.append((0, key, value))
        elif "://" in key and key.split("://", 1)[0] in schemes:
            prefix = _normalise(key, schemes).rstrip("/")
            if target == prefix or target.startswith(prefix + "/"):
                matches.append((len(prefix), key, value))

    merged: dict[str, Any] = {}
    for _, key, value in sorted(matches, key=lambda m: m[0]):
        merged.update(_checked(config_file, key, value, allowed))
    logger.debug(
        "storage options for %s from %s: %s", address, config_file, sorted(merged)
    )
    return merged, config_file


@dataclass(frozen=True)
class Limits:
    """How long and how often a resolver waits for a storage server.

    ``timeout`` bounds each wait for an answer and ``connect`` each wait for a
    connection, in seconds; ``attempts`` is how many times one request is
    tried. ``source`` says who set the timeout, for the hint of an error: the
    path of a ``.mlem.yaml``, :data:`TIMEOUT_ENV`, or ``""`` for the default.
    """

    timeout: float = DEFAULT_TIMEOUT
    connect: float = CONNECT_TIMEOUT
    attempts: int = DEFAULT_ATTEMPTS
    source: str = ""

    def hint(self) -> str:
        """What a person does to wait longer."""
        if self.source == TIMEOUT_ENV:
            return f"raise {TIMEOUT_ENV} to wait longer"
        if self.source:
            return (
                f"raise timeout: in the storage section of {self.source} to wait longer"
            )
        return (
            f"set {TIMEOUT_ENV} or timeout: in the storage section of .mlem.yaml "
            "(in seconds) to wait longer"
        )


def request_limits(
    options: dict[str, Any],
    config_file: str | None,
    default_attempts: int = DEFAULT_ATTEMPTS,
) -> Limits:
    """The :class:`Limits` for a resolver, taking ``timeout`` and ``attempts``
    out of ``options``.

    ``options`` are what :func:`project_options` found (and checked) in
    ``config_file``; a timeout there wins over :data:`TIMEOUT_ENV`, as the
    more specific setting. ``default_attempts`` is for a storage library with
    a setting of its own (``AWS_MAX_ATTEMPTS``). A variable that cannot be
    meant is a :class:`~mlem.errors.StorageError`.
    """
    attempts = options.pop("attempts", None) or default_attempts
    timeout = options.pop("timeout", None)
    if timeout is None:
        timeout, source = _timeout_from_env()
    else:
        source = config_file or PROJECT_FILE
    return Limits(
        timeout=float(timeout),
        connect=min(CONNECT_TIMEOUT, float(timeout)),
        attempts=attempts,
        source=source,
    )


def _timeout_from_env() -> tuple[float, str]:
    value = os.environ.get(TIMEOUT_ENV, "").strip()
    if not value:
        return DEFAULT_TIMEOUT, ""
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise StorageError(
            f"{TIMEOUT_ENV}={value} is not a number of seconds above 0; set it to "
            "how long a storage server may take to answer, such as 60"
        )
    return seconds, TIMEOUT_ENV


def _normalise(address: str, schemes: tuple[str, ...]) -> str:
    """``address`` with its scheme spelled as the first of ``schemes``."""
    scheme, _, rest = address.partition("://")
    if scheme in schemes:
        scheme = schemes[0]
    return f"{scheme}://{rest}".rstrip("/")


def _checked(
    where: str, key: str, value: Any, allowed: dict[str, tuple[type, ...]]
) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MetafileError(
            where, f"storage entry {key!r} must be a mapping of options"
        )
    for name, option in value.items():
        if name in SECRET_NAMES or (name == "token" and "token" not in allowed):
            raise MetafileError(
                where,
                f"storage entry {key!r} sets {name!r}, a credential",
                "credentials do not belong in .mlem.yaml, which is committed with "
                "the project; use the environment, a profile or a key file",
            )
        if name not in allowed:
            raise MetafileError(
                where,
                f"storage entry {key!r} has an unknown option {name!r}",
                "known options: " + ", ".join(sorted(allowed)),
            )
        types = allowed[name]
        # bool is an int to Python; an option that wants a number wants no bool
        wrong_bool = isinstance(option, bool) and bool not in types
        if not isinstance(option, types) or wrong_bool:
            wanted = " or ".join(t.__name__ for t in types)
            raise MetafileError(
                where,
                f"storage option {name!r} of {key!r} must be a {wanted}, "
                f"not {option!r}",
            )
        wanted = _out_of_range(name, option)
        if wanted:
            raise MetafileError(
                where,
                f"storage option {name!r} of {key!r} must be {wanted}, not {option!r}",
            )
    return dict(value)


def _out_of_range(name: str, value: Any) -> str:
    """What a value of a :data:`LIMIT_OPTIONS` option must be, if ``value`` is
    not that; else ``""``."""
    if name not in LIMIT_OPTIONS or not isinstance(value, int | float):
        return ""
    if name == "timeout" and not (math.isfinite(value) and value > 0):
        return "more than 0 seconds"
    if name == "attempts" and value < 1:
        return "1 or more"
    return ""


def fsspec_env_options(
    protocols: tuple[str, ...], booleans: tuple[str, ...] = ()
) -> dict[str, Any]:
    """fsspec's own configuration for ``protocols``, read afresh.

    fsspec reads ``FSSPEC_<PROTOCOL>_<OPTION>`` variables and its config folder
    once, when it is imported; reading them again here lets a variable set
    later (by a test, or a long-running service) take effect. Later protocols
    win, as in fsspec. Values of ``booleans`` given as text become booleans
    (fsspec would pass ``"false"`` on, which is true).
    """
    from fsspec.config import conf_dir, set_conf_env, set_conf_files

    conf: dict[str, dict[str, Any]] = {}
    set_conf_files(conf_dir, conf)
    set_conf_env(conf, os.environ)
    options: dict[str, Any] = {}
    for protocol in protocols:
        options.update(conf.get(protocol, {}))
    for name in booleans:
        value = options.get(name)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            options[name] = value.strip().lower() in _TRUE
    return options


__all__ = [
    "CONNECT_TIMEOUT",
    "DEFAULT_ATTEMPTS",
    "DEFAULT_TIMEOUT",
    "LIMIT_OPTIONS",
    "SECRET_NAMES",
    "TIMEOUT_ENV",
    "Limits",
    "find_project_file",
    "fsspec_env_options",
    "project_options",
    "request_limits",
    "storage_section",
]
