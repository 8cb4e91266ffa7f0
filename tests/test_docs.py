"""The documentation site is checked against the code it describes.

The site must build with ``mkdocs build --strict`` (broken links and anchors
are errors), every hook must have a section in docs/plugins.md showing its
real parameters, and every built-in command and option must appear in
docs/cli.md. A hook, command or option added without its documentation fails
here.
"""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from mlem import hookspecs

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
EXAMPLE = DOCS / "examples" / "mlem-static"

# "### mlem_validate_link(link, target, action)"
HOOK_HEADING = re.compile(r"^### (mlem_\w+)\((.*)\)[ \t]*$", re.MULTILINE)
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def read(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def sections(text: str, level: str) -> dict[str, str]:
    """Heading text -> the text under it, for headings of one ``level``."""
    pattern = re.compile(rf"^{level} (.+?)[ \t]*$", re.MULTILINE)
    matches = list(pattern.finditer(text))
    found = {}
    for match, following in zip(matches, [*matches[1:], None], strict=True):
        end = following.start() if following else len(text)
        found[match.group(1)] = text[match.end() : end]
    return found


def mentions(text: str, word: str) -> bool:
    """Whether ``word`` (an option such as ``--nf``) appears as a whole token."""
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None


def test_site_builds_strictly(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(REPO / "mkdocs.yml"),
            "--site-dir",
            str(tmp_path / "site"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    site = tmp_path / "site"
    assert (site / "index.html").is_file()
    for page in sorted(p.stem for p in DOCS.glob("*.md") if p.stem != "index"):
        assert (site / page / "index.html").is_file(), f"{page}.md was not built"


def hook_specs() -> dict[str, list[str]]:
    from mlem import hookspecs

    return {
        name: list(inspect.signature(function).parameters)
        for name, function in vars(hookspecs).items()
        if name.startswith("mlem_") and inspect.isfunction(function)
    }


def hook_pages() -> dict[str, str]:
    """Hook name → the text of the docs page of its group."""
    pages = {}
    for group, names in hookspecs.GROUPS.items():
        text = read(f"hooks/{group}.md")
        pages.update(dict.fromkeys(names, text))
    return pages


def test_every_hook_is_in_one_group() -> None:
    grouped = [name for names in hookspecs.GROUPS.values() for name in names]
    assert sorted(grouped) == sorted(hook_specs()), (
        "mlem.hookspecs.GROUPS must name every hook exactly once"
    )


def test_every_hook_has_a_section_with_its_signature() -> None:
    specs = hook_specs()
    assert specs, "mlem.hookspecs defines no hooks"
    pages = hook_pages()
    for group in hookspecs.GROUPS:
        text = read(f"hooks/{group}.md")
        documented = {
            match.group(1): [p.strip() for p in match.group(2).split(",") if p.strip()]
            for match in HOOK_HEADING.finditer(text)
        }
        stale = sorted(set(documented) - set(hookspecs.GROUPS[group]))
        assert not stale, f"docs/hooks/{group}.md documents other hooks: {stale}"
        for name in hookspecs.GROUPS[group]:
            assert name in documented, (
                f"docs/hooks/{group}.md has no '### {name}(...)' section"
            )
            assert documented[name] == specs[name], (
                f"docs/hooks/{group}.md shows {name}({', '.join(documented[name])}), "
                f"but the spec is {name}({', '.join(specs[name])})"
            )
    assert set(pages) == set(specs)


@pytest.mark.parametrize("name", sorted(hook_specs()))
def test_every_hook_section_says_parameters_and_return(name: str) -> None:
    by_heading = sections(hook_pages()[name], "###")
    body = next(b for h, b in by_heading.items() if h.startswith(name + "("))
    assert "Parameters" in body and "Returns" in body, name


def commands(
    group: click.Group, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every built-in command below ``group``, with its path of names.

    ``group.commands`` holds the built-ins only: plugin commands are added
    when a name is looked up, which this does not do.
    """
    for name, command in sorted(group.commands.items()):
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from commands(command, (*prefix, name))


def test_every_command_and_option_is_in_the_cli_page() -> None:
    from mlem.cli import cli

    text = read("cli.md")
    by_heading = sections(text, "##")
    missing: list[str] = []

    def check_params(command: click.Command, where: str, body: str) -> None:
        for param in command.params:
            if isinstance(param, click.Option):
                for spelling in [*param.opts, *param.secondary_opts]:
                    if not mentions(body, spelling):
                        missing.append(f"{spelling} under '## {where}'")
            elif param.human_readable_name.upper() not in body:
                missing.append(f"argument {param.human_readable_name} under {where}")

    top = by_heading.get("mlem")
    assert top is not None, "docs/cli.md has no '## mlem' section"
    check_params(cli, "mlem", top)
    for spelling in cli.context_settings.get("help_option_names", ["--help"]):
        if not mentions(top, spelling):
            missing.append(f"{spelling} under '## mlem'")

    for path, command in commands(cli):
        heading = f"mlem {path[0]}"
        body = by_heading.get(heading)
        if body is None:
            missing.append(f"a '## {heading}' section")
            continue
        if len(path) > 1 and f"mlem {' '.join(path)}" not in body:
            missing.append(f"'mlem {' '.join(path)}' under '## {heading}'")
        check_params(command, heading, body)

    assert not missing, "docs/cli.md lacks: " + "; ".join(missing)


def test_every_error_class_is_in_the_api_page() -> None:
    from mlem import errors

    text = read("api.md")
    classes = [
        name
        for name, value in vars(errors).items()
        if inspect.isclass(value)
        and issubclass(value, errors.MlemError)
        and value.__module__ == errors.__name__
    ]
    assert classes
    undocumented = [name for name in classes if f"| `{name}` |" not in text]
    assert not undocumented, f"docs/api.md has no row for {undocumented}"


def test_tutorial_quotes_the_example_plugin_as_it_is() -> None:
    sources = [
        path.read_text(encoding="utf-8")
        for path in EXAMPLE.rglob("*")
        if path.suffix in (".py", ".toml") and "build" not in path.parts
    ]
    assert sources, f"no example plugin at {EXAMPLE}"
    quoted = [
        body
        for language, body in FENCE.findall(read("plugin-tutorial.md"))
        if language in ("python", "toml")
    ]
    assert quoted
    script = (EXAMPLE / "try-it.sh").read_text(encoding="utf-8")
    commands = [
        body
        for language, body in FENCE.findall(read("plugin-tutorial.md"))
        if language == "sh"
    ]
    assert commands and all(body in script for body in commands), (
        "docs/plugin-tutorial.md shows commands that try-it.sh (which CI runs) "
        "does not run"
    )
    stale = [body for body in quoted if not any(body in source for source in sources)]
    assert not stale, "docs/plugin-tutorial.md quotes code that is not in " + (
        f"{EXAMPLE.relative_to(REPO)}:\n" + "\n---\n".join(stale)
    )
