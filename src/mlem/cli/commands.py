"""The built-in commands: init, link, ls, show."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from mlem.objects import MlemObject


def _api() -> Any:
    """The API module, imported when a command runs (keeps ``--help`` fast)."""
    from mlem import api
    from mlem.plugins import get_plugin_manager

    for failure in get_plugin_manager().failures:
        click.echo(f"mlem: warning: {failure}", err=True)
    return api


@click.command()
@click.argument("path", default=".")
def init(path: str) -> None:
    """Make PATH (default: here) a MLEM project: write an empty .mlem.yaml."""
    address = _api().init(path)
    click.echo(f"Initialized MLEM project in {address}")


@click.command()
@click.argument("source")
@click.argument("target")
@click.option(
    "--source-project", "--sp", help="Project of SOURCE: a path, git URL or bucket."
)
@click.option("--rev", help="Branch, tag or commit of the source project.")
@click.option("--target-project", "--tp", help="Project to write TARGET in.")
@click.option(
    "--follow-links/--no-follow-links",
    "--f/--nf",
    default=True,
    show_default=True,
    help="If SOURCE is a link, link to what it names (default) or to the link itself.",
)
@click.option(
    "--absolute/--relative",
    "--abs/--rel",
    default=False,
    help="Record the source's project even inside one project.",
)
@click.option("--force", is_flag=True, help="Overwrite TARGET if it exists.")
@click.option(
    "--lock/--no-lock",
    default=None,
    help="Record the commit the rev resolved to and the target's sha256 "
    "(default: links.lock in the target project's .mlem.yaml).",
)
def link(
    source: str,
    target: str,
    source_project: str | None,
    rev: str | None,
    target_project: str | None,
    follow_links: bool,
    absolute: bool,
    force: bool,
    lock: bool | None,
) -> None:
    """Write a link at TARGET to the MLEM object at SOURCE.

    \b
    Examples:
      mlem link models/rf latest
      mlem link --sp https://github.com/org/repo --rev v3 models/rf churn
    """
    _api().link(
        source,
        source_project=source_project,
        rev=rev,
        target=target,
        target_project=target_project,
        follow_links=follow_links,
        absolute=absolute,
        force=force,
        lock=lock,
    )


@click.command(name="ls")
@click.argument("project", default=".")
@click.option("--rev", help="Branch, tag or commit of the project.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def ls_command(project: str, rev: str | None, as_json: bool) -> None:
    """List the objects and links in PROJECT (default: here)."""
    broken: list[str] = []
    objects = _api().ls(
        project, rev=rev, on_error=lambda rel, exc: broken.append(str(exc))
    )
    if as_json:
        import json

        click.echo(json.dumps([_entry(obj) for obj in objects], indent=2))
        _fail_on(broken)
        return
    groups: dict[str, list[str]] = {}
    for obj in objects:
        from mlem.objects import MlemLink

        name = _strip_ext(obj.location.relpath if obj.location else "?")
        if isinstance(obj, MlemLink):
            groups.setdefault("link", []).append(f"{name} -> {obj.describe()}")
        else:
            groups.setdefault(obj.type_name, []).append(name)
    if not groups and not broken:
        click.echo("No MLEM objects found.")
    for type_name in sorted(groups):
        click.echo(f"{_PLURALS.get(type_name, type_name.capitalize() + 's')}:")
        for line in groups[type_name]:
            click.echo(f" - {line}")
    _fail_on(broken)


def _fail_on(broken: list[str]) -> None:
    """One error line per metafile that could not be read; exit 1 if any."""
    for message in broken:
        click.echo(f"mlem: error: {' '.join(message.split())}", err=True)
    if broken:
        sys.exit(1)


@click.command()
@click.argument("path")
@click.option("--project", "-p", help="Project of PATH: a path, git URL or bucket.")
@click.option("--rev", help="Branch, tag or commit of the project.")
@click.option(
    "--follow-links/--no-follow-links",
    "--f/--nf",
    default=True,
    help="Show the object at the end of the links (default) or the link itself.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(
    path: str, project: str | None, rev: str | None, follow_links: bool, as_json: bool
) -> None:
    """Print the metafile at PATH and the links followed to reach it."""
    from mlem import metafile

    obj = _api().load_meta(path, project=project, rev=rev, follow_links=follow_links)
    if as_json:
        import json

        chain = [
            {"location": str(link.location), "link": link.to_dict()} for link in obj.via
        ]
        result = {
            "location": str(obj.location),
            "chain": chain,
            "object": obj.to_dict(),
        }
        click.echo(json.dumps(result, indent=2, default=str))
        return
    for link in obj.via:
        click.echo(f"# {link.location}  ->  {link.describe()}")
    click.echo(f"# {obj.location}")
    click.echo(metafile.dump(obj.to_dict()).decode("utf-8"), nl=False)


@click.command(name="plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plugins_command(as_json: bool) -> None:
    """List the loaded plugins: distribution, version, what each provides."""
    from mlem.plugins import describe_plugins

    _api()
    rows = describe_plugins()
    if as_json:
        import json

        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        provides = ", ".join(row["resolvers"] + row["object_types"]) or "-"
        status = f"FAILED: {row['error']}" if row["error"] else row["origin"]
        click.echo(
            f"{row['name']:<14} {row['distribution']:<14} {row['version'] or '-':<9} "
            f"{provides:<36} {status}"
        )


def _entry(obj: MlemObject) -> dict[str, Any]:
    from mlem.objects import MlemLink

    entry: dict[str, Any] = {
        "path": obj.location.relpath if obj.location else None,
        "object_type": obj.type_name,
    }
    if isinstance(obj, MlemLink):
        entry["link"] = {
            "path": obj.path,
            "project": obj.project,
            "rev": obj.rev,
            "link_type": obj.link_type,
        }
    return entry


_PLURALS = {"data": "Data", "env": "Environments"}


def _strip_ext(name: str) -> str:
    return name[: -len(".mlem")] if name.endswith(".mlem") else name


ALL = [init, link, ls_command, show, plugins_command]
