"""MLEM objects: what a metafile holds.

An object keeps the mapping it was read from whole, so that writing it back
loses no key, whatever its type. The classes here only add typed views of the
keys MLEM links care about. This module is also the core's built-in plugin: it
registers these classes through the same hook a third party uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from mlem import hookimpl
from mlem.errors import MetafileError

if TYPE_CHECKING:
    from mlem.location import Location

MLEM_EXT = ".mlem"


class MlemObject:
    """Any MLEM object. Unknown object types are read as this class."""

    #: the ``object_type`` value a subclass stands for
    object_type: ClassVar[str] = ""

    def __init__(self, data: dict[str, Any], location: Location | None = None) -> None:
        self.data = data
        #: where the metafile was read from, when it was read
        self.location = location
        #: the links followed to reach this object, first one first
        self.via: list[MlemLink] = []
        #: sha256 of the metafile's bytes, when it was read from one
        self.sha256: str | None = None

    @property
    def type_name(self) -> str:
        """The ``object_type`` written in the metafile."""
        return str(self.data.get("object_type", self.object_type))

    def to_dict(self) -> dict[str, Any]:
        """The mapping to write back, every key kept."""
        return self.data

    def embedded_links(self) -> dict[str, MlemLink]:
        """Links held inside this object, such as a deployment's ``model_link``.

        The key names the type when the link does not (``env_link`` → ``env``).
        """
        found = {}
        for key, value in self.data.items():
            if key.endswith("_link") and isinstance(value, dict):
                data = dict(value)
                data.setdefault("object_type", "link")
                data.setdefault("link_type", key[: -len("_link")])
                found[key] = MlemLink(data, location=self.location)
        return found

    def make_link(
        self,
        path: str | None = None,
        project: str | None = None,
        absolute: bool = False,
        force: bool = False,
    ) -> MlemLink:
        """A link to this object; written at ``path`` (in ``project``) if given,
        refusing to overwrite an existing file unless ``force``."""
        from mlem import api

        return api._link_to(
            self,
            target=path,
            target_project=project,
            absolute=absolute,
            force=force,
        )

    def __repr__(self) -> str:
        where = f" at {self.location}" if self.location is not None else ""
        return f"<{type(self).__name__} {self.type_name!r}{where}>"


class MlemLink(MlemObject):
    """A link: the address of another object.

    ``path`` is relative to the root of ``project`` (or of the link's own
    project when ``project`` is empty); ``rev`` is kept as the user wrote it.
    Older spellings are read too: ``repo:`` for ``project:`` (MLEM 0.2) and
    ``mlem_link:`` for the whole address (MLEM 0.1).

    A *locked* link also has ``lock: {commit: ..., sha256: ...}``: the
    immutable thing ``rev`` resolved to when the link was written (a git
    commit, an object version) and the hash of the target metafile. Following
    it reads exactly that commit and checks the hash. MLEM 0.4 cannot read
    locked links.
    """

    object_type = "link"

    def __init__(self, data: dict[str, Any], location: Location | None = None) -> None:
        super().__init__(data, location)
        self.path, self.project, self.rev = _link_address(data, _where(location))
        link_type = data.get("link_type")
        if link_type is not None and not isinstance(link_type, str):
            raise MetafileError(
                _where(location), f"link_type must be a string, not {link_type!r}"
            )
        self.link_type: str | None = link_type
        lock = data.get("lock")
        if lock is not None and not (
            isinstance(lock, dict) and all(isinstance(v, str) for v in lock.values())
        ):
            raise MetafileError(
                _where(location), "lock must map commit and sha256 to strings"
            )
        self.lock: dict[str, str] | None = lock

    @classmethod
    def make(
        cls,
        path: str,
        project: str | None = None,
        rev: str | None = None,
        link_type: str | None = None,
        lock: dict[str, str] | None = None,
    ) -> MlemLink:
        """A new link, with keys in the order and form MLEM writes them."""
        data: dict[str, Any] = {}
        if link_type is not None:
            data["link_type"] = link_type
        data["object_type"] = "link"
        data["path"] = path
        if project is not None:
            data["project"] = project
        if rev is not None:
            data["rev"] = rev
        if lock:
            data["lock"] = dict(lock)
        return cls(data)

    @property
    def locked_commit(self) -> str | None:
        return self.lock.get("commit") if self.lock else None

    @property
    def locked_sha256(self) -> str | None:
        return self.lock.get("sha256") if self.lock else None

    @property
    def is_relative(self) -> bool:
        """Whether the link points inside its own project."""
        return (
            self.project is None
            and not self.path.startswith("/")
            and "://" not in self.path
        )

    def describe(self) -> str:
        """The target's address in one line, for listings and messages."""
        if self.project is None:
            return self.path
        at = f"@{self.rev}" if self.rev else ""
        return f"{self.project.rstrip('/')}{at}/{self.path}"


class MlemModel(MlemObject):
    """A model: its metafile lists the artifacts (files) that hold it."""

    object_type = "model"

    @property
    def artifacts(self) -> dict[str, dict[str, Any]]:
        """Artifact name → ``{"uri", "hash", "size", ...}`` as recorded."""
        value = self.data.get("artifacts") or {}
        return value if isinstance(value, dict) else {}


class MlemData(MlemModel):
    """A data set; artifacts as for a model."""

    object_type = "data"


#: the types ``link_type`` may name without any plugin (MLEM 0.4's own)
KNOWN_LINK_TYPES = frozenset(
    {"model", "data", "link", "deployment", "env", "builder", "state", "docker_env"}
)


class Where:
    """Where a metafile is, for messages: worked out only if one is written.

    Building a readable address costs (a relative path, a web URL); reading a
    registry of a thousand links must not pay that a thousand times over for
    messages it never shows.
    """

    __slots__ = ("_location",)

    def __init__(self, location: Location | None) -> None:
        self._location = location

    def __str__(self) -> str:
        return str(self._location) if self._location is not None else "link"

    def __bool__(self) -> bool:
        return True


def _where(location: Location | None) -> Where:
    return Where(location)


def _link_address(
    data: dict[str, Any], where: str | Where
) -> tuple[str, str | None, str | None]:
    """(path, project, rev) of a link mapping, in whichever spelling it uses."""
    project = data.get("project", data.get("repo"))
    rev = data.get("rev")
    path = data.get("path")
    if path is None and "mlem_link" in data:
        path, old_project, old_rev = _parse_mlem_link(data["mlem_link"], where)
        project = project if project is not None else old_project
        rev = rev if rev is not None else old_rev
    if path is None:
        raise MetafileError(
            where, "link has no 'path' key", "a link needs at least path:"
        )
    for key, value in (("path", path), ("project", project), ("rev", rev)):
        if value is not None and not isinstance(value, str):
            raise MetafileError(
                where, f"link key {key!r} must be a string, not {value!r}"
            )
    if not path:
        raise MetafileError(where, "link has an empty 'path'")
    return path, project or None, rev or None


def _parse_mlem_link(
    value: Any, where: str | Where
) -> tuple[str, str | None, str | None]:
    """MLEM 0.1's ``mlem_link:``: a path, or an fsspec ``github://`` address."""
    if not isinstance(value, str) or not value:
        raise MetafileError(where, f"mlem_link must be a path, not {value!r}")
    if value.startswith("github://"):
        # github://org:repo@rev/path/in/repo
        rest = value[len("github://") :]
        head, _, path = rest.partition("/")
        org_repo, _, rev = head.partition("@")
        org, _, repo = org_repo.partition(":")
        return path, f"https://github.com/{org}/{repo}/", rev or None
    # a path, or a full address whose project is found when it is followed
    return value, None, None


@hookimpl
def mlem_register_object_types() -> list[type[MlemObject]]:
    return [MlemLink, MlemModel, MlemData]
