"""Finding entry points without ``importlib.metadata``.

``importlib.metadata`` costs about 40 ms to import (it pulls in ``email``) and
then parses every installed distribution's metadata; every ``mlem`` command
pays that before it can do anything. Plugins only need the ``[mlem]`` section
of each ``entry_points.txt``, so this module reads just that, in the same
order and with the same first-on-``sys.path``-wins rule.
"""

from __future__ import annotations

import os
import sys
from importlib import import_module
from typing import Any


class EntryPoint:
    """One ``name = module:attr`` line of an ``entry_points.txt`` section."""

    # a plain class: a dataclass compiles its methods at import, which every
    # ``mlem`` command would pay for
    __slots__ = ("name", "value", "dist_name", "dist_version", "dist_path")

    def __init__(
        self, name: str, value: str, dist_name: str, dist_version: str, dist_path: str
    ) -> None:
        self.name = name
        self.value = value
        self.dist_name = dist_name
        self.dist_version = dist_version
        #: the ``*.dist-info`` or ``*.egg-info`` folder it came from
        self.dist_path = dist_path

    def __repr__(self) -> str:
        return f"<EntryPoint {self.name} = {self.value} ({self.dist_name})>"

    def load(self) -> Any:
        module_name, _, attrs = self.value.partition(":")
        obj: Any = import_module(module_name.strip())
        for attr in filter(None, attrs.strip().split(".")):
            obj = getattr(obj, attr)
        return obj


def entry_points(group: str, path: list[str] | None = None) -> list[EntryPoint]:
    """Entry points of ``group`` from every distribution on ``path``."""
    found: list[EntryPoint] = []
    seen: set[str] = set()
    for folder in sys.path if path is None else path:
        folder = folder or "."
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        for name in names:
            if not name.endswith((".dist-info", ".egg-info")):
                continue
            dist, version = _split_dist_folder(name)
            key = _normalise(dist)
            if key in seen:
                continue
            seen.add(key)
            meta_dir = os.path.join(folder, name)
            lines = _section(os.path.join(meta_dir, "entry_points.txt"), group)
            if not lines:
                continue
            dist = _real_name(meta_dir) or dist
            for line in lines:
                ep_name, _, value = line.partition("=")
                found.append(
                    EntryPoint(ep_name.strip(), value.strip(), dist, version, meta_dir)
                )
    return found


def _split_dist_folder(name: str) -> tuple[str, str]:
    stem = name.rsplit(".", 1)[0]
    dist, _, version = stem.partition("-")
    return dist, version.split("-")[0] or "?"


def _normalise(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def _section(path: str, group: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return []
    header = f"[{group}]"
    if header not in text:
        return []
    lines: list[str] = []
    inside = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("["):
            inside = line == header
            continue
        if inside and line and not line.startswith(("#", ";")) and "=" in line:
            lines.append(line)
    return lines


def _real_name(meta_dir: str) -> str | None:
    """The ``Name:`` in the distribution's metadata (folder names are mangled)."""
    for file_name in ("METADATA", "PKG-INFO"):
        try:
            with open(os.path.join(meta_dir, file_name), encoding="utf-8") as f:
                for line in f:
                    if line.startswith("Name:"):
                        return line[len("Name:") :].strip()
                    if not line.strip():
                        break
        except OSError:
            continue
    return None
