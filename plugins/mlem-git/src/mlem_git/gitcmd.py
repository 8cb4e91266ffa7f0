"""Running the system ``git``: environment, time limits, and clean messages.

Every git command goes through :func:`run`. The remote's URL, which may carry
credentials, is never put on a command line (other users can read those in
``ps``) or in a repository's config file: it is handed to git as
``remote.origin.url`` through ``GIT_CONFIG_COUNT`` environment variables,
which child processes (``git-remote-https``, lazy fetches) inherit. Whatever
git prints is scrubbed of credentials before anyone sees it.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mlem._uri import strip_credentials
from mlem.config import offline
from mlem.errors import StorageAccessError, StorageError

logger = logging.getLogger(__name__)

#: seconds a network command (ls-remote, fetch) may take; MLEM_GIT_TIMEOUT
#: overrides it
DEFAULT_TIMEOUT = 300.0
TIMEOUT_ENV = "MLEM_GIT_TIMEOUT"
#: seconds a local command may take
LOCAL_TIMEOUT = 60.0

REMOTE_NAME = "origin"

# variables that would point git at another repository than the one we name
_REPO_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
)
_USERINFO = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]*@")
_FAILURES = ("fatal:", "error:", "ERROR:")
_AUTH_FAILURE = (
    "authentication failed",
    "permission denied",
    "could not read username",
    "could not read password",
    "terminal prompts disabled",
    "access denied",
    "returned error: 401",
    "returned error: 403",
)


def network_timeout() -> float:
    """The time limit of a network command, in seconds."""
    value = os.environ.get(TIMEOUT_ENV)
    try:
        return float(value) if value else DEFAULT_TIMEOUT
    except ValueError:
        logger.debug("ignoring %s=%r: not a number", TIMEOUT_ENV, value)
        return DEFAULT_TIMEOUT


@dataclass(frozen=True)
class Remote:
    """The URL git talks to (with credentials), and what may be shown of it."""

    url: str
    clean: str
    secrets: tuple[str, ...] = field(default=())

    @classmethod
    def of(cls, url: str, clean: str | None = None) -> Remote:
        clean = clean if clean is not None else strip_credentials(url)
        secrets = []
        if url != strip_credentials(url):
            userinfo = url.split("://", 1)[1].split("@", 1)[0]
            secrets.append(url)
            secrets.extend(part for part in userinfo.split(":") if len(part) >= 4)
        return cls(url=url, clean=clean, secrets=tuple(secrets))

    def scrub(self, text: str) -> str:
        """``text`` with every credential of this remote removed."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            replacement = self.clean if secret == self.url else "***"
            text = text.replace(secret, replacement)
        return _USERINFO.sub(_keep_ssh_user, text)


def _keep_ssh_user(match: re.Match[str]) -> str:
    # as strip_credentials: an ssh user name alone is no secret
    scheme, userinfo = match.group(1), match.group(0)[len(match.group(1)) :]
    if scheme.lower().startswith("ssh") and ":" not in userinfo:
        return match.group(0)
    return scheme


def git_env(remote: Remote | None, lazy_fetch: bool = True) -> dict[str, str]:
    """The environment for a git command, with ``remote`` as ``origin``.

    Without ``lazy_fetch``, an object missing from a partial mirror is an
    error instead of a fetch: the cache fetches only under its lock (see
    :mod:`mlem_git.mirror`).
    """
    env = {k: v for k, v in os.environ.items() if k not in _REPO_ENV}
    # git must fail rather than wait for a password nobody will type
    env["GIT_TERMINAL_PROMPT"] = "0"
    env.setdefault("GCM_INTERACTIVE", "never")
    if offline() or not lazy_fetch:
        # no transport is allowed, so even a lazy fetch of a missing blob
        # fails at once instead of reaching the network (git before 2.39.4
        # knows no GIT_NO_LAZY_FETCH)
        env["GIT_ALLOW_PROTOCOL"] = "mlem-offline"
        env["GIT_NO_LAZY_FETCH"] = "1"
    if remote is not None:
        try:
            count = int(env.get("GIT_CONFIG_COUNT", "0"))
        except ValueError:
            count = 0
        env[f"GIT_CONFIG_KEY_{count}"] = f"remote.{REMOTE_NAME}.url"
        env[f"GIT_CONFIG_VALUE_{count}"] = remote.url
        env["GIT_CONFIG_COUNT"] = str(count + 1)
    return env


@dataclass
class Result:
    """A finished git command; ``stderr`` is already scrubbed."""

    returncode: int
    stdout: bytes
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def message(self) -> str:
        """git's own complaint in one line.

        The first ``fatal:`` or ``error:`` line says why; later ones mostly
        say what failed because of it ("could not fetch ... from promisor
        remote").
        """
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        if not lines:
            return f"git exited with code {self.returncode}"
        index = next(
            (i for i, line in enumerate(lines) if line.startswith(_FAILURES)),
            next(
                (i for i, line in enumerate(lines) if line.startswith("remote:")),
                len(lines) - 1,
            ),
        )
        text = lines[index]
        if text.endswith(":") and index + 1 < len(lines):
            # "unable to connect to host:" continues on the next line
            text += " " + lines[index + 1]
        for prefix in (*_FAILURES, "remote: "):
            if text.startswith(prefix):
                text = text[len(prefix) :].strip()
        return text

    def is_auth_failure(self) -> bool:
        lower = self.stderr.lower()
        return any(marker in lower for marker in _AUTH_FAILURE)


def run(
    args: list[str],
    *,
    git_dir: str | None = None,
    cwd: str | None = None,
    remote: Remote | None = None,
    timeout: float = LOCAL_TIMEOUT,
    what: str = "",
    outside: bool = False,
    lazy_fetch: bool = True,
) -> Result:
    """Run ``git [--git-dir=git_dir] *args`` and return what it did.

    With ``outside``, git must not take ``cwd`` or a folder above it for a
    repository (``ls-remote`` run in a user's clone would read its
    ``origin``). Without ``lazy_fetch``, a missing object fails the command
    (see :func:`git_env`). A command that outlives ``timeout`` is killed with
    every process it started, and is a :class:`~mlem.errors.StorageError`
    that starts with ``what`` (``"cannot fetch ..."``). A command that talks
    to ``remote`` does not outlive this process either (on Linux): it may
    hold the cache's lock files, which only a live holder of the cache lock
    may do.
    """
    command = ["git"]
    if git_dir is not None:
        command.append(f"--git-dir={git_dir}")
    command.extend(args)
    logger.debug("running %s", " ".join(command))
    env = git_env(remote, lazy_fetch=lazy_fetch)
    if outside and cwd is not None:
        env["GIT_CEILING_DIRECTORIES"] = os.path.dirname(os.path.realpath(cwd))
    try:
        # a session of its own: ssh finds no terminal to ask a password on,
        # and a timeout can end the command's children too
        proc = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=_dies_with_parent() if remote is not None else None,
        )
    except FileNotFoundError:
        raise StorageError(
            "mlem-git needs the git command, and it is not on PATH; install git"
        ) from None
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        proc.communicate()
        raise StorageError(
            f"{what or 'git'}: no answer within {timeout:g} s; is the host "
            f"reachable? (set {TIMEOUT_ENV} to wait longer)"
        ) from None
    except BaseException:
        # Ctrl-C reaches this process, not git in its own session: end git
        # too, rather than leave it fetching into the cache unlocked
        kill_group(proc)
        proc.wait()
        raise
    text = stderr.decode("utf-8", "replace")
    if remote is not None:
        text = remote.scrub(text)
    return Result(proc.returncode, stdout, text)


def _dies_with_parent() -> Callable[[], None] | None:
    """What a child runs before ``exec`` so that the kernel kills it when the
    thread that started it ends; None where there is no such thing.

    git runs in a session of its own, so a SIGKILL to this process's group
    (a cancelled CI job, a killed terminal) would leave it fetching, with no
    lock held. Linux only (``PR_SET_PDEATHSIG``); the calling thread waits for
    the command, so it outlives it.
    """
    global _PRCTL
    if not sys.platform.startswith("linux"):
        return None
    if _PRCTL is None:
        import ctypes

        try:
            _PRCTL = ctypes.CDLL(None, use_errno=True).prctl
        except (OSError, AttributeError):
            _PRCTL = False
    if _PRCTL is False:
        return None
    prctl = _PRCTL
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:
            # the parent died before the line above: nobody waits for us
            os._exit(1)

    return preexec


_PR_SET_PDEATHSIG = 1
_PRCTL: Any = None


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill ``proc`` (started in a session of its own) and its children."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


def fail(result: Result, what: str) -> StorageError:
    """The error for a failed network command: ``what`` and git's reason."""
    message = f"{what}: {result.message()}"
    if result.is_auth_failure():
        return StorageAccessError(
            message + " (check the credentials git uses for this host)"
        )
    return StorageError(message)
