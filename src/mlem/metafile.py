"""Reading and writing ``.mlem`` metafiles.

YAML is loaded with the safe loader only; a tag such as ``!!python/object`` is
refused, not executed. Output matches MLEM 0.4 byte for byte: block style,
keys sorted, so a link written here and one written by MLEM are the same file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlem.errors import MetafileError

if TYPE_CHECKING:
    from mlem.location import Location
    from mlem.objects import MlemObject

#: metafiles are small; anything larger is not one
MAX_METAFILE_BYTES = 16 * 1024 * 1024


def parse(raw: bytes, where: object) -> dict[str, Any]:
    """The mapping in a metafile's bytes; :class:`MetafileError` if there is none."""
    data = parse_mapping(raw, where)
    if "object_type" not in data:
        if "mlem_link" in data:
            data["object_type"] = "link"
        else:
            raise MetafileError(
                where, "has no 'object_type' key", "is it a MLEM metafile?"
            )
    if not isinstance(data["object_type"], str):
        raise MetafileError(
            where, f"object_type must be a string, not {data['object_type']!r}"
        )
    return data


def parse_mapping(raw: bytes, where: object) -> dict[str, Any]:
    """The YAML mapping in ``raw`` (a metafile or a config file), safely."""
    import yaml

    if len(raw) > MAX_METAFILE_BYTES:
        raise MetafileError(where, f"is {len(raw)} bytes, too large for a metafile")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MetafileError(
            where, "is not UTF-8 text", "is it a binary artifact?"
        ) from None
    if not text.strip():
        raise MetafileError(where, "is empty", "a metafile holds a YAML mapping")
    try:
        data = yaml.load(text, Loader=_loader())
    except yaml.constructor.ConstructorError as exc:
        tag = getattr(exc, "problem", "") or str(exc)
        raise MetafileError(
            where,
            f"uses a YAML tag that is not allowed ({tag.strip()})",
            "only plain YAML is read",
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid syntax"
        raise MetafileError(where, f"is not valid YAML{at}: {problem}") from None
    if not isinstance(data, dict):
        raise MetafileError(
            where,
            f"holds a {type(data).__name__}, not a mapping",
            "expected a YAML mapping",
        )
    return data


def dump(data: dict[str, Any]) -> bytes:
    """A mapping as metafile bytes, in MLEM 0.4's layout."""
    import yaml

    return yaml.safe_dump(data, default_flow_style=False, sort_keys=True).encode(
        "utf-8"
    )


def build(
    data: dict[str, Any],
    location: Location | None,
    types: dict[str, type[MlemObject]],
    where: object = "",
) -> MlemObject:
    """The object for a parsed mapping: its registered class, or the base class."""
    from mlem.objects import MlemObject

    cls = types.get(data["object_type"], MlemObject)
    try:
        return cls(data, location=location)
    except MetafileError as exc:
        if not where:
            raise
        raise MetafileError(where, exc.problem, exc.hint) from None


_LOADER: Any = None


def _loader() -> Any:
    """``yaml.SafeLoader``, in its C version when PyYAML has one."""
    global _LOADER
    if _LOADER is None:
        import yaml

        _LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return _LOADER
