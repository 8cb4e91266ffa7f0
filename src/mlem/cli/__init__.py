"""The ``mlem`` command.

Only click is imported to build the command; each command imports the API when
it runs, so ``mlem --help`` stays fast. Errors become one line on stderr and
exit code 1; ``--verbose`` shows the traceback and debug logging instead.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from mlem.cli import commands, registry_commands

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130  # as a shell reports a command ended by Ctrl-C


class MlemGroup(click.Group):
    """Built-in commands, plus those plugins add, loaded only when asked for."""

    _plugins_loaded = False

    def _load_plugin_commands(self) -> None:
        if MlemGroup._plugins_loaded:
            return
        MlemGroup._plugins_loaded = True
        from mlem.plugins import get_plugin_manager

        get_plugin_manager().hook.mlem_add_commands(cli=self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        # --help lists what plugins add too; plugin modules are kept light,
        # so loading them here costs milliseconds
        try:
            self._load_plugin_commands()
        except Exception as exc:  # help must show even if a plugin is broken
            logging.getLogger(__name__).debug("plugin commands: %s", exc)
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None:
            self._load_plugin_commands()
            command = super().get_command(ctx, cmd_name)
        return command


@click.group(cls=MlemGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-v", "--verbose", is_flag=True, help="Show debug logging and tracebacks."
)
@click.option(
    "-p",
    "plugin_options",
    multiple=True,
    metavar="no:NAME",
    # eager, so that it takes effect before --help or a plugin's command is
    # looked up (click does both before running the group's callback)
    is_eager=True,
    expose_value=False,
    callback=lambda _ctx, _param, value: _block_plugins(value),
    help="Do not load the plugin NAME (repeatable); see also MLEM_DISABLE_PLUGINS.",
)
@click.option(
    "--offline",
    is_flag=True,
    default=None,
    help="Resolve from the cache only; never use the network (or MLEM_OFFLINE=1).",
)
@click.version_option(package_name="mlem-core", prog_name="mlem")
@click.pass_context
def cli(
    ctx: click.Context,
    verbose: bool,
    offline: bool | None,
) -> None:
    """MLEM links: a model registry of links to MLEM objects.

    A link is a small .mlem file naming a MLEM object kept elsewhere: in a git
    repository at a branch, tag or commit, in another folder, or in a bucket.
    """
    ctx.obj = {"verbose": verbose}
    _setup_logging(verbose)
    if offline:
        from mlem.config import set_offline

        set_offline(True)


def _block_plugins(options: tuple[str, ...]) -> None:
    names = set()
    for option in options:
        if not option.startswith("no:") or not option[3:]:
            raise click.BadParameter(
                f"expected no:NAME, got {option!r}", param_hint="-p"
            )
        names.add(option[3:])
    if names:
        from mlem.plugins import block

        block(names)


for _command in [*commands.ALL, *registry_commands.ALL]:
    cli.add_command(_command)


class _Progress(logging.Handler):
    """Prints the API's INFO messages (what it loads, where it saves)."""

    ICONS = {"Loading": "⏳", "Following": "🔗", "Saving": "💾", "Fetching": "⬇"}

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        icon = self.ICONS.get(message.split(" ", 1)[0], "")
        if icon and _can_print(icon):
            message = f"{icon} {message}"
        click.echo(message, err=False)


def _can_print(text: str) -> bool:
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _setup_logging(verbose: bool) -> None:
    for name in ("mlem.api", "mlem.fetch"):
        api_logger = logging.getLogger(name)
        if not any(isinstance(h, _Progress) for h in api_logger.handlers):
            api_logger.addHandler(_Progress())
        api_logger.propagate = verbose
        api_logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    if verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s")
        logging.getLogger("mlem").setLevel(logging.DEBUG)


def main(argv: list[str] | None = None) -> Any:
    """Run the command; MLEM's errors become one line and exit code 1."""
    verbose = any(arg in ("-v", "--verbose") for arg in (argv or sys.argv[1:]))
    try:
        return cli.main(args=argv, prog_name="mlem", standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("mlem: error: interrupted; nothing half-written was left", err=True)
        return sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        return sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        return sys.exit(exc.exit_code)
    except Exception as exc:
        if verbose:
            raise
        click.echo(f"mlem: error: {_one_line(exc)}", err=True)
        return sys.exit(EXIT_ERROR)


def _one_line(exc: BaseException) -> str:
    from mlem.errors import MlemError

    if isinstance(exc, MlemError):
        text = str(exc)
    elif isinstance(exc, OSError) and exc.filename is not None:
        text = f"{exc.strerror or type(exc).__name__}: {exc.filename}"
    else:
        text = f"{type(exc).__name__}: {exc} (run with --verbose for the traceback)"
    return " ".join(text.split())
