"""Credentials in an address reach git, and nothing else: not the link, not
a message, not a log line, not the cache on disk."""

from __future__ import annotations

import base64
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mlem import api
from mlem.errors import StorageAccessError, StorageError
from mlem_git import testing
from mlem_git.mirror import cache_root
from mlem_git.plugin import GitResolver

SECRET = "s3cret-t0ken"
WITH_SECRET = testing.EXAMPLE_URL.replace("https://", f"https://bot:{SECRET}@")


class _Refuse(BaseHTTPRequestHandler):
    """Asks every client for a password, and records what it was given."""

    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.seen.append(self.headers.get("Authorization", ""))
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="test"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def refusing_server() -> Iterator[str]:
    _Refuse.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refuse)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def secret_maps_to_daemon(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, daemon: testing.GitDaemon
) -> None:
    """The address with credentials goes to the daemon too (git rewrites it,
    as a user's ``insteadOf`` would)."""
    served = daemon.url_of(testing.EXAMPLE_NAME)
    env = testing.git_env(
        tmp_path / "env-secret", {WITH_SECRET: served, testing.EXAMPLE_URL: served}
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_git_never_prompts(refusing_server: str) -> None:
    with pytest.raises(StorageAccessError) as info:
        GitResolver().open(f"http://{refusing_server}/repo.git", "main")
    assert "\n" not in str(info.value)


def test_credentials_are_used_and_never_shown(refusing_server: str) -> None:
    with pytest.raises(StorageAccessError) as info:
        GitResolver().open(f"http://bot:{SECRET}@{refusing_server}/repo.git", "main")
    # git sent them...
    expected = "Basic " + base64.b64encode(f"bot:{SECRET}".encode()).decode()
    assert expected in _Refuse.seen
    # ...and nobody sees them
    message = str(info.value)
    assert SECRET not in message
    assert f"http://{refusing_server}/repo.git" in message


def test_unreachable_host_with_credentials() -> None:
    port = testing.free_port()
    with pytest.raises(StorageError) as info:
        api.load_meta("m", project=f"https://bot:{SECRET}@127.0.0.1:{port}/r.git")
    assert SECRET not in str(info.value)
    assert f"https://127.0.0.1:{port}/r.git" in str(info.value)


@pytest.mark.usefixtures("secret_maps_to_daemon")
def test_link_with_credentials(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    target = tmp_path / "rf"
    link = api.link(
        "models/rf", source_project=WITH_SECRET, rev="2-train", target=str(target)
    )
    assert link.project == testing.EXAMPLE_URL + "/"
    text = (tmp_path / "rf.mlem").read_text()
    assert SECRET not in text and "bot" not in text
    assert api.load_meta(str(target)).artifacts["data"]["hash"] == (  # type: ignore[attr-defined]
        testing.EXAMPLE_MODEL_HASH
    )
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("mlem_git")]
    assert ours and not [line for line in ours if SECRET in line]
    for path in Path(cache_root()).rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def _mlem(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlem", *args],
        cwd=cwd,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.usefixtures("secret_maps_to_daemon")
def test_cli_output_has_no_credentials(tmp_path: Path) -> None:
    result = _mlem(
        tmp_path, "link", "--sp", WITH_SECRET, "--rev", "main", "models/rf", "rf"
    )
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert (
        f"Loading meta from {testing.EXAMPLE_URL}/tree/main/models/rf.mlem"
        in result.stdout + result.stderr
    )


@pytest.mark.usefixtures("secret_maps_to_daemon")
def test_verbose_cli_output_has_no_credentials(tmp_path: Path) -> None:
    result = _mlem(
        tmp_path, "--verbose", "link", "--sp", WITH_SECRET, "models/rf", "rf"
    )
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr


def test_cli_refuses_credentials_in_a_git_protocol_address(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    port = testing.free_port()
    address = f"git://ci-bot:{SECRET}@127.0.0.1:{port}/x.git"

    result = _mlem(work, "link", "--sp", address, "models/rf", "x")

    assert result.returncode == 1
    assert result.stderr == (
        f"mlem: error: git://127.0.0.1:{port}/x.git: git:// addresses carry no "
        "user or password; remove 'user:password@' or use https:// or ssh://\n"
    )
    assert SECRET not in result.stdout + result.stderr
    assert list(work.iterdir()) == []
    # refused before git ran: no mirror was started for it
    assert not os.path.exists(cache_root())
