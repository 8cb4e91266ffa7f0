"""Settings that are not per-link: the cache, offline mode, project options.

Each comes, first found first: an explicit argument, an environment variable,
the user's ``config.yaml`` (``$XDG_CONFIG_HOME/mlem/config.yaml``, else
``~/.config/mlem/config.yaml``), then the default.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

CACHE_ENV = "MLEM_CACHE_DIR"
OFFLINE_ENV = "MLEM_OFFLINE"
CONFIG_ENV = "MLEM_CONFIG"

_offline_here: bool | None = None


def user_config_path() -> Path:
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(
        os.path.expanduser("~"), ".config"
    )
    return Path(base) / "mlem" / "config.yaml"


def user_config() -> dict[str, Any]:
    """The user's ``config.yaml``, or ``{}``; a broken one is an error."""
    path = user_config_path()
    try:
        raw = path.read_bytes()
    except OSError:
        return {}
    if not raw.strip():
        return {}
    from mlem import metafile

    return metafile.parse_mapping(raw, str(path))


def cache_dir() -> Path:
    """The per-user cache: ``MLEM_CACHE_DIR``, ``cache_dir`` in the user's
    config, else ``$XDG_CACHE_HOME/mlem`` or ``~/.cache/mlem``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    configured = user_config().get("cache_dir")
    if configured:
        return Path(str(configured)).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache"
    )
    return Path(base) / "mlem"


def set_offline(value: bool | None) -> None:
    """Force offline mode on or off for this process (``mlem --offline``)."""
    global _offline_here
    _offline_here = value


def offline() -> bool:
    """Whether resolvers must answer from the cache alone, without network."""
    if _offline_here is not None:
        return _offline_here
    value = os.environ.get(OFFLINE_ENV, "")
    if value:
        return value.strip().lower() not in ("0", "false", "no", "off")
    return bool(user_config().get("offline", False))
