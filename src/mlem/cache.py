"""The per-user cache folder: what is in it, and emptying it.

Resolvers keep what they fetch under :func:`mlem.config.cache_dir`, each in
the folder its :attr:`~mlem.resolver.Resolver.cache_folder` names (the git
plugin's mirrors are in ``git/``). Only those folders are reported or
emptied: the cache folder is the user's to choose, and may hold other files
(a mistaken ``MLEM_CACHE_DIR=~`` must not cost anyone their home folder).
Emptying them is safe: everything is fetched again on demand.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from mlem.config import cache_dir


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                continue  # removed while we walked
    return total


def _folders() -> list[Path]:
    """The cache folders of the loaded resolvers."""
    from mlem.plugins import get_plugin_manager

    root = cache_dir()
    names = {r.cache_folder for r in get_plugin_manager().resolvers() if r.cache_folder}
    return [root / name for name in sorted(names)]


def info() -> dict[str, Any]:
    """The cache's path, and the size of each entry in the resolvers' folders."""
    entries = []
    for folder in _folders():
        if not folder.is_dir():
            continue
        for child in sorted(folder.iterdir()):
            if child.name.startswith(".") or child.name.endswith(".lock"):
                continue  # a resolver's lock or unfinished work, not content
            name = str(child.relative_to(folder.parent))
            entries.append({"name": name, "bytes": _size(child)})
    return {
        "path": str(cache_dir()),
        "entries": entries,
        "bytes": sum(e["bytes"] for e in entries),
    }


def clean() -> int:
    """Empty the resolvers' cache folders; the number of bytes freed."""
    freed = 0
    for folder in _folders():
        if not folder.is_dir() or folder.is_symlink():
            continue
        freed += _size(folder)
        shutil.rmtree(folder, ignore_errors=True)
    return freed
