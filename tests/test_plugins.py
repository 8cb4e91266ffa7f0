"""Plugins: entry-point loading, failures, clashes, controls, the hooks.

Fake third-party distributions are real ``*.dist-info`` folders on
``PYTHONPATH``, loaded by a real ``mlem`` subprocess.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from mlem import api, hookimpl
from mlem.errors import LinkRefusedError
from mlem.plugins import get_plugin_manager


def fake_dist(
    site: Path, dist: str, entry_points: dict[str, str], module: str, code: str
):
    """Install a distribution the way pip leaves it: a module and a dist-info."""
    site.mkdir(exist_ok=True)
    (site / f"{module}.py").write_text(textwrap.dedent(code))
    info = site / f"{dist.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n\n"
    )
    lines = "".join(f"{name} = {value}\n" for name, value in entry_points.items())
    (info / "entry_points.txt").write_text(
        f"[console_scripts]\nx = y:z\n\n[mlem]\n{lines}"
    )


RESOLVER = """
    from mlem import hookimpl
    from mlem.resolver import Resolver

    class R(Resolver):
        name = {name!r}
        schemes = ("fake",)
        priority = {priority!r}

        def claims(self, uri, rev):
            return uri.startswith("fake://")

    @hookimpl
    def mlem_register_resolvers():
        return [R()]
"""


@pytest.fixture
def site(tmp_path):
    return tmp_path / "site"


def with_site(site: Path) -> dict[str, str]:
    return {"PYTHONPATH": str(site)}


def test_a_plugin_that_fails_to_import_does_not_take_mlem_down(
    mlem, site, mlem04_project
):
    fake_dist(
        site, "mlem-broken", {"broken": "mlem_broken"}, "mlem_broken", "import nope\n"
    )
    result = mlem("ls", cwd=mlem04_project, env=with_site(site))
    assert result.returncode == 0
    assert " - models/clf" in result.stdout
    warning = result.stderr.strip().splitlines()
    assert warning == [
        "mlem: warning: plugin 'broken' (mlem-broken) failed to load: "
        "ModuleNotFoundError: No module named 'nope'"
    ]
    listed = mlem("plugins", "--json", cwd=mlem04_project, env=with_site(site))
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["broken"]["error"].startswith("ModuleNotFoundError")
    assert rows["local"]["resolvers"] == ["resolver local (file://)"]


def test_a_plugin_that_raises_while_registering(mlem, site, mlem04_project):
    code = """
        from mlem import hookimpl

        @hookimpl
        def mlem_register_resolvers():
            raise RuntimeError("no credentials configured")
    """
    fake_dist(site, "mlem-raises", {"raises": "mlem_raises"}, "mlem_raises", code)
    result = mlem("show", "latest", cwd=mlem04_project, env=with_site(site))
    assert result.returncode == 0, result.stderr
    assert "object_type: model" in result.stdout
    listed = mlem("plugins", cwd=mlem04_project, env=with_site(site))
    assert "FAILED: RuntimeError in mlem_register_resolvers" in listed.stdout


def test_two_plugins_claiming_one_scheme_are_named(mlem, site, mlem04_project):
    for name in ("one", "two"):
        code = RESOLVER.format(name=name, priority="normal")
        fake_dist(site, f"mlem-{name}", {name: f"mlem_{name}"}, f"mlem_{name}", code)
    result = mlem("show", "latest", cwd=mlem04_project, env=with_site(site))
    assert result.returncode == 1
    line = result.stderr.strip()
    assert "two plugins claim the fake:// scheme" in line
    assert "mlem-one" in line and "mlem-two" in line

    # blocking one, by variable or option, settles it
    blocked = mlem(
        "show",
        "latest",
        cwd=mlem04_project,
        env={**with_site(site), "MLEM_DISABLE_PLUGINS": "two"},
    )
    assert blocked.returncode == 0, blocked.stderr
    option = mlem(
        "-p", "no:one", "show", "latest", cwd=mlem04_project, env=with_site(site)
    )
    assert option.returncode == 0, option.stderr


def test_a_fallback_does_not_clash(mlem, site, mlem04_project):
    fake_dist(
        site,
        "mlem-one",
        {"one": "mlem_one"},
        "mlem_one",
        RESOLVER.format(name="one", priority="normal"),
    )
    fake_dist(
        site,
        "mlem-two",
        {"two": "mlem_two"},
        "mlem_two",
        RESOLVER.format(name="two", priority="fallback"),
    )
    result = mlem("show", "latest", cwd=mlem04_project, env=with_site(site))
    assert result.returncode == 0, result.stderr


def test_allow_list_loads_only_the_plugins_named(mlem, site, mlem04_project):
    fake_dist(
        site,
        "mlem-one",
        {"one": "mlem_one"},
        "mlem_one",
        RESOLVER.format(name="one", priority="normal"),
    )
    env = {**with_site(site), "MLEM_PLUGINS": "local"}
    rows = json.loads(mlem("plugins", "--json", cwd=mlem04_project, env=env).stdout)
    assert {row["name"] for row in rows} == {"mlem.objects", "local"}


def test_plugins_add_commands(mlem, site, tmp_path):
    code = """
        import click
        from mlem import hookimpl

        @click.command()
        @click.argument("who")
        def hello(who):
            "Say hello."
            click.echo(f"hello {who}")

        @hookimpl
        def mlem_add_commands(cli):
            cli.add_command(hello)
    """
    fake_dist(site, "mlem-hello", {"hello": "mlem_hello"}, "mlem_hello", code)
    result = mlem("hello", "registry", cwd=tmp_path, env=with_site(site))
    assert (result.returncode, result.stdout) == (0, "hello registry\n")
    blocked = mlem("-p", "no:hello", "hello", "x", cwd=tmp_path, env=with_site(site))
    assert blocked.returncode == 2
    assert "No such command 'hello'" in blocked.stderr


class RequirePinnedRevs:
    """A registry policy: links to other projects must name a rev."""

    @hookimpl
    def mlem_validate_link(self, link, target, action):
        if link.project is not None and link.rev is None:
            return f"{action}: links to other projects must pin a rev"
        return None


def test_validate_hook_refuses_before_writing_and_following(
    mlem04_project, tmp_path, monkeypatch
):
    registry = tmp_path / "registry"
    api.init(str(registry))
    monkeypatch.chdir(registry)
    api.link("latest", source_project=str(mlem04_project), target="ok")
    get_plugin_manager().register(RequirePinnedRevs(), name="policy")

    with pytest.raises(
        LinkRefusedError, match="write: links to other projects must pin"
    ):
        api.link("latest", source_project=str(mlem04_project), target="refused")
    assert not (registry / "refused.mlem").exists()
    with pytest.raises(LinkRefusedError, match="refused to follow .*ok.mlem: follow:"):
        api.load_meta("ok")
    # relative links are not this policy's business
    api.link("ok", target="alias", follow_links=False)


def test_help_lists_plugin_commands(mlem, site, tmp_path):
    code = """
        import click
        from mlem import hookimpl

        @click.command()
        def hello():
            "Say hello from a plugin."

        @hookimpl
        def mlem_add_commands(cli):
            cli.add_command(hello)
    """
    fake_dist(site, "mlem-hello", {"hello": "mlem_hello"}, "mlem_hello", code)
    result = mlem("--help", cwd=tmp_path, env=with_site(site))
    assert "Say hello from a plugin." in result.stdout
    hidden = mlem("-p", "no:hello", "--help", cwd=tmp_path, env=with_site(site))
    assert "Say hello" not in hidden.stdout
