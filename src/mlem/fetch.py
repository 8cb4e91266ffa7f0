"""The deploy side: copy an object's metafile and artifacts, verified.

Everything is first written under temporary names on the output folder's own
file system and checked against the size and md5 its metafile records; only
when every artifact matches, and every destination is known to be free of
folders in the way, are the files moved into place. A mismatch deletes
nothing that was there and leaves no partial file.

What a metafile may make us read is limited: an artifact lives next to its
metafile (a relative ``uri`` that stays in the metafile's folder) or in a
bucket; a local path is followed only when the metafile itself is on local
disk, so that a metafile in someone's repository cannot copy this machine's
files into the output. An artifact must record its md5 and size, or it is not
copied: what cannot be verified is not deployed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import posixpath
import re
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

from mlem._uri import scheme_of
from mlem.errors import ArtifactError, ObjectNotFoundError
from mlem.links import follow, read_object
from mlem.location import Location, Opener, storage_errors
from mlem.objects import MlemObject
from mlem.plugins import get_plugin_manager

logger = logging.getLogger(__name__)

CHUNK = 1024 * 1024

#: schemes an artifact of a metafile kept elsewhere may name
BUCKET_SCHEMES = ("s3", "gs", "gcs")

_MD5 = re.compile(r"^[0-9a-f]{32}$")

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
    :class:`~mlem.errors.ArtifactError` naming the artifact on a mismatch, an
    artifact that records no md5 or size, one kept where it may not be read
    from, or one MLEM links cannot fetch (DVC-stored ones).
    """
    opener = Opener(get_plugin_manager())
    obj = follow(opener, read_object(opener, opener.locate(path, project, rev)))
    where = obj.location
    assert where is not None
    out = os.path.abspath(out)
    if os.path.exists(out) and not os.path.isdir(out):
        raise ArtifactError(f"-o {out} is a file; name a folder to copy {where} into")

    name = posixpath.basename(where.path)
    plan = [(name, None, None)] + [
        (_relative(where, art_name, artifact), art_name, artifact)
        for art_name, artifact in _artifacts(obj).items()
    ]
    _check_destinations(out, [relative for relative, _, _ in plan], where)

    # stage on the output folder's own file system, so that the final moves
    # are renames; a new folder is staged beside, to leave nothing on failure
    staging_dir = out if os.path.isdir(out) else os.path.dirname(out)
    os.makedirs(staging_dir, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".mlem-get-", dir=staging_dir)
    try:
        staged: list[tuple[str, str]] = []
        for relative, art_name, artifact in plan:
            temporary = os.path.join(staging, str(len(staged)))
            if artifact is None:
                _copy_metafile(where, temporary)
            else:
                _fetch(opener, where, art_name or "", artifact, temporary, progress)
            staged.append((temporary, os.path.join(out, relative)))
        os.makedirs(out, exist_ok=True)
        written = []
        for temporary, final in staged:
            os.makedirs(os.path.dirname(final), exist_ok=True)
            os.replace(temporary, final)
            written.append(final)
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _artifacts(obj: MlemObject) -> dict[str, dict[str, Any]]:
    value = obj.data.get("artifacts") or {}
    if not isinstance(value, dict) or not all(
        isinstance(a, dict) for a in value.values()
    ):
        raise ArtifactError(
            f"{obj.location}: 'artifacts' must map names to {{uri, hash, size}}"
        )
    return value


def _label(where: Location, name: str, artifact: dict[str, Any]) -> str:
    return f"artifact {name} ({artifact.get('uri')}) of {where}"


def _relative(where: Location, name: str, artifact: dict[str, Any]) -> str:
    """Where in the output folder an artifact goes (checks its record too)."""
    label = _label(where, name, artifact)
    uri = artifact.get("uri")
    if not isinstance(uri, str) or not uri:
        raise ArtifactError(f"{label} has no uri")
    size, md5 = artifact.get("size"), artifact.get("hash")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ArtifactError(
            f"{label} records no size (found {size!r}); what cannot be verified is "
            "not copied"
        )
    if not isinstance(md5, str) or not _MD5.match(md5):
        raise ArtifactError(
            f"{label} records no md5 (found {md5!r}); what cannot be verified is "
            "not copied"
        )
    if scheme_of(uri) or uri.startswith("/"):
        return posixpath.basename(uri.rstrip("/"))
    relative = posixpath.normpath(uri)
    if relative.startswith("../") or relative == "..":
        raise ArtifactError(f"{label} leaves the metafile's folder")
    return relative


def _check_destinations(out: str, relatives: list[str], where: Location) -> None:
    seen: set[str] = set()
    for relative in relatives:
        if relative in seen:
            raise ArtifactError(
                f"{where} lists two artifacts at {relative}; they cannot both be copied"
            )
        seen.add(relative)
        final = os.path.join(out, relative)
        if os.path.isdir(final):
            raise ArtifactError(
                f"{final} is a folder, where {where} puts a file; move it away first"
            )


def _copy_metafile(where: Location, temporary: str) -> None:
    with storage_errors(where.source, where.path):
        data = where.source.resolver.read_file(where.source, where.path)
    with open(temporary, "wb") as f:
        f.write(data)


def _fetch(
    opener: Opener,
    where: Location,
    name: str,
    artifact: dict[str, Any],
    temporary: str,
    progress: Progress | None,
) -> None:
    uri = artifact["uri"]
    label = _label(where, name, artifact)
    if artifact.get("type") == "dvc":
        raise ArtifactError(
            f"{label} is stored in DVC, not in the project's storage: MLEM links do "
            f"not read DVC remotes; fetch it with: dvc get {where.project or ''} "
            f"{posixpath.join(posixpath.dirname(where.relpath), uri)}"
        )
    scheme = scheme_of(uri)
    if scheme or uri.startswith("/"):
        local_target = scheme in ("", "file")
        if local_target and where.source.resolver.name != "local":
            raise ArtifactError(
                f"{label} names a local file, but its metafile is not on local disk; "
                "refusing to copy this machine's files"
            )
        if not local_target and scheme not in BUCKET_SCHEMES:
            raise ArtifactError(
                f"{label} is kept at a {scheme}:// address; artifacts are read next "
                "to their metafile or from a bucket"
            )
        source = opener.open(uri, None)
        path = source.base
    else:
        source = where.source
        path = posixpath.normpath(posixpath.join(posixpath.dirname(where.path), uri))
    relative = posixpath.basename(path)
    expected_size, expected_md5 = artifact["size"], artifact["hash"]
    digest = hashlib.md5(usedforsecurity=False)
    done = 0
    logger.info("Fetching %s (%s bytes)", relative, f"{expected_size:,}")
    try:
        with storage_errors(source, path), open(temporary, "wb") as f:
            for chunk in _chunks(source.fs, path):
                f.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if done > expected_size:
                    break  # no use reading a file that is already too long
                if progress:
                    progress(relative, done, expected_size)
    except FileNotFoundError as exc:
        raise ObjectNotFoundError(f"{label} is missing") from exc
    if done != expected_size:
        shown = f"more than {expected_size}" if done > expected_size else str(done)
        raise ArtifactError(f"{label}: expected {expected_size} bytes, got {shown}")
    if digest.hexdigest() != expected_md5:
        raise ArtifactError(
            f"{label}: expected md5 {expected_md5}, got {digest.hexdigest()}"
        )


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
