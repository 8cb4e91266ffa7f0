"""The per-user cache folder: what is in it, and emptying it.

Resolvers keep what they fetch under :func:`mlem.config.cache_dir`, each in a
folder of its own (the git plugin's mirrors are in ``git/``). Emptying it is
always safe: everything is fetched again on demand.
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


def info() -> dict[str, Any]:
    """The cache's path, and the size of each of its entries."""
    root = cache_dir()
    entries = []
    if root.is_dir():
        for kind in sorted(root.iterdir()):
            children = sorted(kind.iterdir()) if kind.is_dir() else [kind]
            for child in children:
                if child.name.endswith(".lock"):
                    continue  # a resolver's lock file, not content
                name = str(child.relative_to(root))
                entries.append({"name": name, "bytes": _size(child)})
    return {
        "path": str(root),
        "entries": entries,
        "bytes": sum(e["bytes"] for e in entries),
    }


def clean() -> int:
    """Delete the cache's contents; the number of bytes freed."""
    root = cache_dir()
    if not root.is_dir():
        return 0
    freed = 0
    for child in root.iterdir():
        freed += _size(child)
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
    return freed
