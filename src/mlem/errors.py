"""The errors MLEM raises.

One small tree: every error is a :class:`MlemError`, and most are also the
builtin a caller would expect (a missing object is a ``FileNotFoundError``, a
refused overwrite a ``FileExistsError``), so code that does not know MLEM can
still catch them. The CLI prints ``str(error)`` as one line and exits non-zero.
"""

from __future__ import annotations


class MlemError(Exception):
    """Base class of every error MLEM raises on purpose."""


class MetafileError(MlemError, ValueError):
    """A metafile that cannot be read: malformed, empty, unsafe or incomplete."""

    def __init__(self, where: object, problem: str, hint: str = "") -> None:
        # ``where`` may be worked out lazily (mlem.objects.Where): now it is needed
        self.where = str(where)
        self.problem = problem
        self.hint = hint
        message = f"{self.where}: {problem}"
        if hint:
            message += f" ({hint})"
        super().__init__(message)


class ObjectNotFoundError(MlemError, FileNotFoundError):
    """No MLEM object at the path asked for."""


class NotAProjectError(MlemError, NotADirectoryError):
    """A project was asked for where there is a file."""


class RevisionNotFoundError(MlemError, FileNotFoundError):
    """The rev names no branch, tag, commit or object version."""


class RevisionsNotSupportedError(MlemError, ValueError):
    """A rev was given for storage that keeps no revisions."""


class StorageError(MlemError, OSError):
    """The storage behind a project could not be reached or read."""


class StorageAccessError(StorageError, PermissionError):
    """The storage refused access."""


class OfflineError(StorageError):
    """Offline mode, and what was asked for is not in the cache."""


class LinkError(MlemError):
    """A link that cannot be followed or written."""


class ObjectTypeError(LinkError, TypeError):
    """An object is not of the type asked for, or that a link declares."""


class LinkCycleError(LinkError):
    """Following links came back to a link already followed."""


class LinkEscapeError(LinkError, ValueError):
    """A relative link whose path leaves its project."""


class LinkRefusedError(LinkError, PermissionError):
    """A plugin's validation hook refused a link."""


class LockMismatchError(LinkError):
    """A locked link's target metafile no longer has the hash it recorded."""


class ArtifactError(MlemError, ValueError):
    """An artifact that cannot be fetched, or does not match its metafile."""


class TargetExistsError(MlemError, FileExistsError):
    """The file a command would write already exists."""


class UnknownSchemeError(MlemError, ValueError):
    """No installed resolver understands a project URI."""


class PluginError(MlemError):
    """A plugin failed to load or misbehaved."""
