"""The git runner's environment, scrubbing and messages."""

from __future__ import annotations

import pytest

from mlem_git.gitcmd import Remote, Result, git_env


def test_scrub_removes_every_credential() -> None:
    remote = Remote.of("https://bot:s3cret@host.example.com/org/repo.git")
    assert remote.clean == "https://host.example.com/org/repo.git"
    text = (
        "fatal: unable to access 'https://bot:s3cret@host.example.com/org/repo.git/'"
        "\nusing s3cret for https://other:pw@elsewhere/x"
    )
    scrubbed = remote.scrub(text)
    assert "s3cret" not in scrubbed and "pw@" not in scrubbed
    assert "https://host.example.com/org/repo.git/" in scrubbed
    assert "https://elsewhere/x" in scrubbed
    # an ssh user name alone is no secret
    assert Remote.of("ssh://git@host/r").scrub("ssh://git@host/r") == "ssh://git@host/r"


def test_the_remote_url_travels_in_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "user.name")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "Someone")
    monkeypatch.setenv("GIT_DIR", "/elsewhere")
    env = git_env(Remote.of("https://bot:tok@host/r.git"))
    assert env["GIT_CONFIG_COUNT"] == "2"
    assert env["GIT_CONFIG_KEY_0"] == "user.name"
    assert (env["GIT_CONFIG_KEY_1"], env["GIT_CONFIG_VALUE_1"]) == (
        "remote.origin.url",
        "https://bot:tok@host/r.git",
    )
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert "GIT_DIR" not in env


@pytest.mark.parametrize(
    ("stderr", "message"),
    [
        (
            "fatal: remote error: no such repository: /x\n",
            "remote error: no such repository: /x",
        ),
        (
            "fatal: unable to connect to h:\nh[0: 1.2.3.4]: errno=Connection refused\n"
            "fatal: could not fetch abc from promisor remote\n",
            "unable to connect to h: h[0: 1.2.3.4]: errno=Connection refused",
        ),
        ("remote: Repository not found.\n", "Repository not found."),
        ("", "git exited with code 128"),
    ],
)
def test_message_is_the_cause_in_one_line(stderr: str, message: str) -> None:
    assert Result(128, b"", stderr).message() == message
