"""fsspec file systems whose errors come out as MLEM's.

The core calls a source's file system directly (``exists`` to find a project
root, ``find`` to list one). fsspec back-ends raise their own errors there, and
``isfile``/``isdir`` answer False for any error at all, so a server that is down
would look like a missing file. :class:`GuardedFileSystem` answers "no" only
for a path that does not exist and turns every other failure into a
:class:`~mlem.errors.StorageError` (or a more specific child) through the
resolver's own translation, keeping the original as ``__cause__``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from mlem.errors import MlemError

#: ``translate(error, action, path)``: the MLEM error to raise instead
Translate = Callable[[BaseException, str, str], Exception]


class GuardedFileSystem:
    """An fsspec file system, its errors translated; other attributes pass through.

    ``raw`` is the wrapped file system, for code that wants fsspec's own
    behaviour (or its errors). ``raw_isdir``: the back-end's own ``isdir``
    answers False only for a missing path (s3fs's does, in one request where
    ``info`` takes two); by default ``isdir`` goes through ``info``.
    """

    def __init__(self, raw: Any, translate: Translate, raw_isdir: bool = False) -> None:
        self.raw = raw
        self._translate = translate
        self._raw_isdir = raw_isdir

    def __repr__(self) -> str:
        return f"<GuardedFileSystem {type(self.raw).__name__}>"

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)

    def _call(self, action: str, path: str, method: str, *args: Any) -> Any:
        try:
            return getattr(self.raw, method)(path, *args)
        except MlemError:
            raise
        except Exception as exc:
            raise self._translate(exc, action, path) from exc

    def info(self, path: str) -> dict[str, Any]:
        return self._call("check", path, "info")

    def _info_or_none(self, path: str) -> dict[str, Any] | None:
        try:
            return self.raw.info(path)
        except FileNotFoundError:
            return None
        except MlemError:
            raise
        except Exception as exc:
            raise self._translate(exc, "check", path) from exc

    def exists(self, path: str) -> bool:
        return self._info_or_none(path) is not None

    def isfile(self, path: str) -> bool:
        info = self._info_or_none(path)
        return info is not None and info.get("type") == "file"

    def isdir(self, path: str) -> bool:
        if self._raw_isdir:
            return bool(self._call("check", path, "isdir"))
        info = self._info_or_none(path)
        return info is not None and info.get("type") == "directory"

    def cat_file(self, path: str) -> bytes:
        return self._call("read", path, "cat_file")

    def ls(self, path: str, detail: bool = False) -> list[Any]:
        return self._call("list", path, "ls", detail)

    def find(self, path: str) -> list[str]:
        return self._call("list", path, "find")

    def pipe_file(self, path: str, value: bytes) -> None:
        self._call("write", path, "pipe_file", value)

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        # object stores have no folders: a key's prefix exists once the key
        # does, and fsspec's makedirs would create a missing bucket instead
        return None


def cat_many(
    raw: Any,
    paths: list[str],
    limit: int = 64,
    fetch: Callable[[str], Any] | None = None,
) -> dict[str, bytes | BaseException]:
    """Read ``paths`` from the async fsspec file system ``raw``, ``limit`` at once.

    ``fetch(path)`` makes the coroutine for one path (default: ``raw._cat_file``,
    fsspec's async method). Each path maps to its bytes or to the error reading
    it; one failure does not stop the others.
    """
    from fsspec.asyn import sync

    fetch = fetch or raw._cat_file

    async def one(path: str, gate: asyncio.Semaphore) -> bytes | BaseException:
        async with gate:
            try:
                return await fetch(path)
            except Exception as exc:  # handed back per path
                return exc

    async def everything() -> list[bytes | BaseException]:
        # the semaphore is made here, on the file system's own event loop
        gate = asyncio.Semaphore(limit)
        return await asyncio.gather(*(one(p, gate) for p in paths))

    results = sync(raw.loop, everything)
    return dict(zip(paths, results, strict=True))


__all__ = ["GuardedFileSystem", "Translate", "cat_many"]
