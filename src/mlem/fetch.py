"""The deploy side: copy an object's metafile and artifacts, verified.

Everything is first written beside the output folder under temporary names
and checked against the size and md5 its metafile records; only when every
artifact matches are the files moved into place. A mismatch deletes nothing
that was there and leaves no partial file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import posixpath
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

from mlem.errors import ArtifactError, ObjectNotFoundError
from mlem.links import follow, read_object
from mlem.location import Location, Opener, storage_errors
from mlem.objects import MlemObject
from mlem.plugins import get_plugin_manager

logger = logging.getLogger(__name__)

CHUNK = 1024 * 1024

#: called with (artifact name, bytes done, bytes expected or None)
Progress = Callable[[str, int, int | None], None]


def get(
    path: str,
    out: str,
    project: str | None = None,
    rev: str | None = None,
    progress: Progress | None = None,
) -> list[str]:
    """Follow links from ``path`` and copy the target into the folder ``out``.

    Writes the target's metafile and every artifact it lists (at their
    relative ``uri``), verifying each against the ``size`` and ``hash`` (md5)
    recorded. Returns the paths written. Raises
    :class:`~mlem.errors.ArtifactError` naming the artifact on a mismatch or
    an artifact MLEM links cannot fetch (DVC-stored ones).
    """
    opener = Opener(get_plugin_manager())
    obj = follow(opener, read_object(opener, opener.locate(path, project, rev)))
    where = obj.location
    assert where is not None
    name = posixpath.basename(where.path)
    # stage beside ``out``, so the final moves are renames on one file system
    # and a failure leaves ``out`` as it was (not even created)
    parent = os.path.dirname(os.path.abspath(out))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".mlem-get-", dir=parent)
    try:
        staged: list[tuple[str, str]] = []
        metafile_copy = os.path.join(staging, name)
        with storage_errors(where.source, where.path):
            data = where.source.resolver.read_file(where.source, where.path)
        with open(metafile_copy, "wb") as f:
            f.write(data)
        staged.append((metafile_copy, os.path.join(out, name)))
        for art_name, artifact in _artifacts(obj).items():
            staged.append(
                _fetch(opener, where, art_name, artifact, staging, out, progress)
            )
        written = []
        os.makedirs(out, exist_ok=True)
        for temporary, final in staged:
            os.makedirs(os.path.dirname(final) or ".", exist_ok=True)
            os.replace(temporary, final)
            written.append(final)
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _artifacts(obj: MlemObject) -> dict[str, dict[str, Any]]:
    value = obj.data.get("artifacts") or {}
    return value if isinstance(value, dict) else {}


def _fetch(
    opener: Opener,
    where: Location,
    name: str,
    artifact: dict[str, Any],
    staging: str,
    out: str,
    progress: Progress | None,
) -> tuple[str, str]:
    uri = artifact.get("uri")
    label = f"artifact {name} ({uri}) of {where}"
    if not isinstance(uri, str) or not uri:
        raise ArtifactError(f"{label} has no uri")
    if artifact.get("type") == "dvc":
        raise ArtifactError(
            f"{label} is stored in DVC, not in the project's storage: MLEM links do "
            f"not read DVC remotes; fetch it with: dvc get {where.project or ''} "
            f"{posixpath.join(posixpath.dirname(where.relpath), uri)}"
        )
    if "://" in uri or uri.startswith("/"):
        source = opener.open(uri, None)
        path = source.base
        relative = posixpath.basename(uri.rstrip("/"))
    else:
        source = where.source
        path = posixpath.normpath(posixpath.join(posixpath.dirname(where.path), uri))
        relative = posixpath.normpath(uri)
        if relative.startswith("../"):
            raise ArtifactError(f"{label} leaves the metafile's folder")
    expected_size = artifact.get("size")
    expected_md5 = artifact.get("hash")
    temporary = os.path.join(staging, relative.replace("/", "__"))
    digest = hashlib.md5(usedforsecurity=False)
    done = 0
    logger.info("Fetching %s (%s bytes)", relative, expected_size or "?")
    try:
        with storage_errors(source, path), open(temporary, "wb") as f:
            for chunk in _chunks(source.fs, path):
                f.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress:
                    progress(relative, done, expected_size)
    except FileNotFoundError as exc:
        raise ObjectNotFoundError(f"{label} is missing") from exc
    if expected_size is not None and done != expected_size:
        raise ArtifactError(f"{label}: expected {expected_size} bytes, got {done}")
    if expected_md5 is not None and digest.hexdigest() != expected_md5:
        raise ArtifactError(
            f"{label}: expected md5 {expected_md5}, got {digest.hexdigest()}"
        )
    return temporary, os.path.join(out, relative)


def _chunks(fs: Any, path: str) -> Any:
    """The file in chunks, streamed where the file system can open files."""
    opener = getattr(fs, "open", None)
    if opener is None:
        yield fs.cat_file(path)
        return
    with opener(path, "rb") as f:
        while True:
            chunk = f.read(CHUNK)
            if not chunk:
                return
            yield chunk
