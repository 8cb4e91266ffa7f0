"""A small local file system with fsspec's method names.

fsspec's own ``LocalFileSystem`` costs about 150 ms to import; local work is
the common case and should not pay it, so the core's file-system surface is
implemented here over ``os`` directly. :meth:`LocalFS.to_fsspec` gives the
real thing to code that wants it.
"""

from __future__ import annotations

import errno
import os
import tempfile
from typing import Any


class LocalFS:
    """Absolute ``/``-separated paths on this machine."""

    protocol = ("file", "local")
    sep = "/"

    def cat_file(self, path: str) -> bytes:
        with open(path, "rb") as f:
            return f.read()

    def open(self, path: str, mode: str = "rb") -> Any:
        return open(path, mode)  # noqa: SIM115 - the caller closes it

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def isdir(self, path: str) -> bool:
        return os.path.isdir(path)

    def isfile(self, path: str) -> bool:
        return os.path.isfile(path)

    def ls(self, path: str, detail: bool = False) -> list[Any]:
        names = sorted(os.listdir(path))
        full = [os.path.join(path, name) for name in names]
        if detail:
            return [self.info(p) for p in full]
        return full

    def info(self, path: str) -> dict[str, Any]:
        st = os.stat(path)
        kind = "directory" if os.path.isdir(path) else "file"
        return {"name": path, "size": st.st_size, "type": kind}

    def find(self, path: str) -> list[str]:
        found = []
        for folder, dirs, files in os.walk(path):
            dirs.sort()
            found.extend(os.path.join(folder, name) for name in sorted(files))
        return found

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        os.makedirs(path, exist_ok=exist_ok)

    def pipe_file(self, path: str, value: bytes) -> None:
        """Write ``value`` at ``path`` atomically: a reader sees all or nothing."""
        folder = os.path.dirname(path) or "."
        try:
            os.makedirs(folder, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
        except OSError as exc:
            raise _cannot_write(path, exc) from exc
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(value)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, path)
        except BaseException as exc:
            os.unlink(tmp)
            if isinstance(exc, OSError):
                raise _cannot_write(path, exc) from exc
            raise

    def to_fsspec(self) -> Any:
        """fsspec's ``LocalFileSystem`` (imports fsspec)."""
        from fsspec.implementations.local import LocalFileSystem

        return LocalFileSystem()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _cannot_write(path: str, exc: OSError) -> Exception:
    """A write error that names the file asked for, not a temporary one."""
    from mlem.errors import StorageAccessError, StorageError

    reason = exc.strerror or type(exc).__name__
    if isinstance(exc, PermissionError) or exc.errno in (errno.EROFS, errno.EACCES):
        return StorageAccessError(
            f"cannot write {path}: {reason}; pick a writable folder"
        )
    return StorageError(f"cannot write {path}: {reason}")
