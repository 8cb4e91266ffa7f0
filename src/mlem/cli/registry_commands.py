"""Commands for running a registry: check, update, get, cache."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from mlem.cli.commands import _api

STATUS_MARK = {"ok": "ok", "broken": "BROKEN", "drifted": "DRIFTED"}


@click.command()
@click.argument("project", default=".")
@click.option("--rev", help="Branch, tag or commit of the registry itself.")
@click.option(
    "--max-chain",
    type=click.IntRange(min=1),
    help="Longest chain of links taken for sound (default: links.max_chain in "
    "the registry's .mlem.yaml, else 32).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def check(project: str, rev: str | None, max_chain: int | None, as_json: bool) -> None:
    """Resolve every link in PROJECT (default: here); exit 1 unless all are ok.

    Each link is followed to its end. A link is broken (missing target or
    rev, unreachable host, wrong type, loop, hash mismatch) or drifted (locked,
    and its rev now points elsewhere). Gate a registry's merges on it.
    """
    reports = _api().check(project, rev=rev, max_chain=max_chain)
    if as_json:
        click.echo(json.dumps(reports, indent=2))
    else:
        for report in reports:
            line = f"{STATUS_MARK[report['status']]:<8} {report['path']}"
            if report["status"] == "ok":
                line += f" -> {report['target']}"
            elif report["status"] == "drifted":
                line += f": {report['message']}"
            else:
                line += f": {report['problem']}: {report['message']}"
            click.echo(line)
        bad = sum(r["status"] != "ok" for r in reports)
        click.echo(f"{len(reports)} links, {len(reports) - bad} ok, {bad} not ok")
    if any(r["status"] != "ok" for r in reports):
        sys.exit(1)


@click.command()
@click.argument("links", nargs=-1)
@click.option(
    "--all", "all_links", is_flag=True, help="Every locked link in the project."
)
@click.option("--project", default=".", help="The registry, for --all (default: here).")
@click.option("--rev", help="Move the links to this rev.")
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
def update(
    links: tuple[str, ...],
    all_links: bool,
    project: str,
    rev: str | None,
    dry_run: bool,
) -> None:
    """Re-resolve LINKS (or every locked link, --all) and lock them.

    Shows the old -> new commit of each; writes only the links that changed.
    """
    if not links and not all_links:
        raise click.UsageError("name the links to update, or pass --all")
    reports = _api().update(
        list(links), project=project, all_links=all_links, rev=rev, dry_run=dry_run
    )
    for report in reports:
        # the commit when it moved, else the metafile's hash
        key = "" if report["old"] != report["new"] else "_sha256"
        old = _short(report["old" + key])
        new = _short(report["new" + key])
        if not report["changed"]:
            click.echo(f"{report['path']}: unchanged ({new})")
            continue
        verb = "would update" if dry_run else "updated"
        click.echo(f"{report['path']}: {verb} {old} -> {new}")


def _short(value: str | None) -> str:
    return value[:12] if value else "unlocked"


@click.command()
@click.argument("path")
@click.option(
    "-o", "--out", default=".", show_default=True, help="Folder to copy into."
)
@click.option("--project", "-p", help="Project of PATH: a path, git URL or bucket.")
@click.option("--rev", help="Branch, tag or commit of the project.")
def get(path: str, out: str, project: str | None, rev: str | None) -> None:
    """Copy the object at PATH (links followed) and its artifacts into OUT.

    Every artifact is checked against the size and md5 its metafile records;
    on a mismatch nothing in OUT changes.
    """
    bars: dict[str, Any] = {}

    def progress(name: str, done: int, total: int | None) -> None:
        if not total or total < 8 * 1024 * 1024:
            return
        if name not in bars:
            bars[name] = click.progressbar(length=total, label=name, file=sys.stderr)
            bars[name].__enter__()
        bar = bars[name]
        bar.update(done - bar.pos)
        if done >= total:
            bar.__exit__(None, None, None)

    from mlem.fetch import get as fetch

    _api()
    for written in fetch(path, out, project=project, rev=rev, progress=progress):
        click.echo(f"Wrote {written}")


@click.group()
def cache() -> None:
    """Inspect or empty the cache of fetched repositories."""


@cache.command(name="info")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def cache_info(as_json: bool) -> None:
    """Where the cache is and what it holds."""
    from mlem.cache import info

    summary = info()
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(f"cache: {summary['path']}")
    for entry in summary["entries"]:
        click.echo(f"  {entry['name']:<60} {entry['bytes']:>14,} bytes")
    click.echo(
        f"total: {summary['bytes']:,} bytes in {len(summary['entries'])} entries"
    )


@cache.command(name="clean")
def cache_clean() -> None:
    """Delete everything in the cache (it is refilled on demand)."""
    from mlem.cache import clean

    removed = clean()
    click.echo(f"Removed {removed:,} bytes from the cache")


ALL = [check, update, get, cache]
