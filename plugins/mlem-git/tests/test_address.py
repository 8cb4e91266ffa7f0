"""Parsing and writing addresses: no I/O, so table-driven."""

from __future__ import annotations

import pytest

from mlem.errors import StorageError
from mlem_git.address import Address, is_remote, parse, project_uri, web_uri
from mlem_git.plugin import GitResolver

GH = "https://github.com/iterative/example-mlem-get-started"

# address -> (url git fetches, clean url, forge, path, web tail, rev)
PARSED = [
    (GH, (GH, GH, "github", "", (), None)),
    (GH + "/", (GH, GH, "github", "", (), None)),
    (GH + ".git", (GH, GH, "github", "", (), None)),
    (GH + ".git/", (GH, GH, "github", "", (), None)),
    (GH + "/tree/main", (GH, GH, "github", "", ("main",), None)),
    (
        GH + "/tree/main/models/rf.mlem",
        (GH, GH, "github", "", ("main", "models", "rf.mlem"), None),
    ),
    (
        GH + "/blob/feature/models/models/rf.mlem",
        (GH, GH, "github", "", ("feature", "models", "models", "rf.mlem"), None),
    ),
    (GH + "/tree/a%2Fb/x", (GH, GH, "github", "", ("a/b", "x"), None)),
    # MLEM 0.4 wrote a project in a sub-folder right after the repository
    (GH + "/sub/dir", (GH, GH, "github", "sub/dir", (), None)),
    (GH + "//sub/dir/", (GH, GH, "github", "sub/dir", (), None)),
    (
        "https://user:tok3n@github.com/org/repo.git",
        (
            "https://user:tok3n@github.com/org/repo",
            "https://github.com/org/repo",
            "github",
            "",
            (),
            None,
        ),
    ),
    (
        "https://gitlab.com/group/sub/repo/-/tree/release/1.0/models?ref_type=heads",
        (
            "https://gitlab.com/group/sub/repo",
            "https://gitlab.com/group/sub/repo",
            "gitlab",
            "",
            ("release", "1.0", "models"),
            None,
        ),
    ),
    (
        "https://gitlab.com/group/repo.git",
        (
            "https://gitlab.com/group/repo",
            "https://gitlab.com/group/repo",
            "gitlab",
            "",
            (),
            None,
        ),
    ),
    (
        "https://git.example.com/group/repo/-/blob/main/a.mlem",
        (
            "https://git.example.com/group/repo",
            "https://git.example.com/group/repo",
            "gitlab",
            "",
            ("main", "a.mlem"),
            None,
        ),
    ),
    (
        "https://bitbucket.org/ws/repo/src/v1/models/rf.mlem",
        (
            "https://bitbucket.org/ws/repo",
            "https://bitbucket.org/ws/repo",
            "bitbucket",
            "",
            ("v1", "models", "rf.mlem"),
            None,
        ),
    ),
    (
        "https://git.example.com/org/repo.git",
        (
            "https://git.example.com/org/repo.git",
            "https://git.example.com/org/repo.git",
            "",
            "",
            (),
            None,
        ),
    ),
    (
        "https://u:p4ss@git.example.com:8443/org/repo.git//models/",
        (
            "https://u:p4ss@git.example.com:8443/org/repo.git",
            "https://git.example.com:8443/org/repo.git",
            "",
            "models",
            (),
            None,
        ),
    ),
    (
        "ssh://git@host.example.com:2222/org/repo.git",
        (
            "ssh://git@host.example.com:2222/org/repo.git",
            "ssh://git@host.example.com:2222/org/repo.git",
            "",
            "",
            (),
            None,
        ),
    ),
    (
        "git://127.0.0.1:9418/repo//a/b",
        ("git://127.0.0.1:9418/repo", "git://127.0.0.1:9418/repo", "", "a/b", (), None),
    ),
    (
        "git@github.com:iterative/example-mlem-get-started.git",
        (
            "git@github.com:iterative/example-mlem-get-started.git",
            "git@github.com:iterative/example-mlem-get-started.git",
            "",
            "",
            (),
            None,
        ),
    ),
    (
        "git@host.example.com:org/repo.git//sub",
        (
            "git@host.example.com:org/repo.git",
            "git@host.example.com:org/repo.git",
            "",
            "sub",
            (),
            None,
        ),
    ),
    # MLEM 0.4's local form: fsspec's GitFileSystem URL
    (
        "git:///tmp/peer/t3/projA/:v1@",
        ("/tmp/peer/t3/projA", "/tmp/peer/t3/projA", "", "", (), "v1"),
    ),
    (
        "git:///srv/repo:feature/x@models/rf.mlem",
        ("/srv/repo", "/srv/repo", "", "models/rf.mlem", (), "feature/x"),
    ),
    ("git:///srv/repo", ("/srv/repo", "/srv/repo", "", "", (), None)),
    ("file:///srv/repo.git", ("/srv/repo.git", "/srv/repo.git", "", "", (), None)),
    ("file://localhost/srv/a%20b", ("/srv/a b", "/srv/a b", "", "", (), None)),
    ("/srv/clone/", ("/srv/clone", "/srv/clone", "", "", (), None)),
]


@pytest.mark.parametrize(("uri", "expected"), PARSED, ids=[p[0] for p in PARSED])
def test_parse(uri: str, expected: tuple) -> None:
    address = parse(uri)
    got = (
        address.url,
        address.clean,
        address.forge,
        address.path,
        address.web_tail,
        address.rev,
    )
    assert got == expected
    assert address.kind == ("local" if expected[0].startswith("/") else "remote")


@pytest.mark.parametrize(
    "uri",
    [
        "https://github.com/iterative",
        "https://github.com/org/repo/tree/",
        "https://gitlab.com/group/repo/-/issues/3",
        "https://github.com/org/repo//../../etc",
        "ssh:///no/host",
        "s3://bucket/prefix",
    ],
)
def test_parse_refuses(uri: str) -> None:
    with pytest.raises(ValueError):
        parse(uri)


# git:// has no user information: git would take "user:password@host" for the
# host name and ask DNS about it, secret and all
GIT_PROTOCOL_CREDENTIALS = [
    ("git://ci-bot:SEKRET@127.0.0.1:9/x.git", "git://127.0.0.1:9/x.git"),
    ("git://ci-bot@127.0.0.1:9/x.git", "git://127.0.0.1:9/x.git"),
    ("git://:SEKRET@host.example.com/x.git", "git://host.example.com/x.git"),
    ("git://ci-bot:SE@KRET@host.example.com/x.git", "git://host.example.com/x.git"),
    (
        "GIT://ci-bot:SEKRET@host.example.com/x.git//models",
        "git://host.example.com/x.git//models",
    ),
]


@pytest.mark.parametrize(("uri", "shown"), GIT_PROTOCOL_CREDENTIALS)
def test_parse_refuses_credentials_in_a_git_protocol_address(
    uri: str, shown: str
) -> None:
    with pytest.raises(StorageError) as info:
        parse(uri)
    assert str(info.value) == (
        f"{shown}: git:// addresses carry no user or password; remove "
        "'user:password@' or use https:// or ssh://"
    )
    for secret in ("SEKRET", "KRET", "ci-bot"):
        assert secret not in str(info.value)


@pytest.mark.parametrize(
    "uri",
    [
        # an @ after the host is part of the path, not user information
        "git://127.0.0.1:9418/repo@v1",
        # the user of an ssh address is how git logs in
        "ssh://git@host.example.com/org/repo.git",
        "git+ssh://git@host.example.com/org/repo.git",
    ],
)
def test_parse_keeps_an_at_sign_that_is_no_credential(uri: str) -> None:
    assert parse(uri).url == uri


def test_relative_local_path_is_made_absolute(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert parse("clone/sub").url == str(tmp_path / "clone" / "sub")


CLAIMS = [
    (GH, None, True),
    (GH + "/tree/main/models", None, True),
    ("http://git.example.com/repo", None, True),
    ("ssh://git@host/org/repo.git", None, True),
    ("git+ssh://host/org/repo.git", None, True),
    ("git://host/repo", None, True),
    ("git@github.com:org/repo.git", None, True),
    ("git@github.com:org/repo", "v1", True),
    ("host.example.com:org/repo.git", None, True),
    ("git:///srv/repo/:v1@", None, True),
    ("s3://bucket/prefix", "v1", False),
    ("gs://bucket/prefix", None, False),
    # local folders: only with a rev, or when plainly a repository
    ("/srv/project", None, False),
    ("/srv/project", "v1", True),
    ("file:///srv/project", None, False),
    ("file:///srv/project", "main", True),
    ("/srv/repo.git", None, True),
    ("/srv/repo.git/models/rf", None, True),
    ("notes:2024", None, False),
    ("relative/folder", None, False),
]


@pytest.mark.parametrize(("uri", "rev", "claimed"), CLAIMS)
def test_claims(uri: str, rev: str | None, claimed: bool) -> None:
    assert GitResolver().claims(uri, rev) is claimed


def test_claims_a_bare_repository_by_its_content(tmp_path) -> None:
    bare = tmp_path / "registry"
    (bare / "objects").mkdir(parents=True)
    (bare / "refs").mkdir()
    (bare / "HEAD").write_text("ref: refs/heads/main\n")
    assert GitResolver().claims(str(bare), None)
    assert GitResolver().claims(str(bare / "models" / "rf"), None)
    assert not GitResolver().claims(str(tmp_path), None)


def test_is_remote() -> None:
    assert is_remote("git@host:org/repo")
    assert not is_remote("git:///srv/repo")
    assert not is_remote("C:/models")


PROJECT_URIS = [
    (GH, "", GH + "/"),
    (GH + ".git", "", GH + "/"),
    (GH + "/", "", GH + "/"),
    (GH + "/tree/main/models", "", GH + "/"),
    ("https://user:tok3n@github.com/org/repo", "", "https://github.com/org/repo/"),
    (GH, "sub/dir", GH + "/sub/dir/"),
    ("https://bitbucket.org/ws/repo", "sub", "https://bitbucket.org/ws/repo/sub/"),
    ("https://gitlab.com/g/r", "", "https://gitlab.com/g/r/"),
    ("https://gitlab.com/g/r", "sub", "https://gitlab.com/g/r//sub/"),
    ("ssh://git@host/org/repo.git", "", "ssh://git@host/org/repo.git"),
    ("ssh://git@host/org/repo.git", "sub", "ssh://git@host/org/repo.git//sub/"),
    ("https://u:p4ss@host/repo.git", "", "https://host/repo.git"),
    ("git@host:org/repo.git", "a/b", "git@host:org/repo.git//a/b/"),
    ("git://127.0.0.1:9418/repo/", "", "git://127.0.0.1:9418/repo/"),
]


@pytest.mark.parametrize(("uri", "root", "expected"), PROJECT_URIS)
def test_project_uri(uri: str, root: str, expected: str) -> None:
    written = project_uri(parse(uri), root)
    assert written == expected
    # what is written reads back as the same repository and folder
    again = parse(written)
    assert (again.clean, again.path) == (parse(uri).clean, root)


def test_project_uri_of_a_local_repository() -> None:
    address = Address(kind="local", url="/srv/clone", clean="/srv/clone")
    assert project_uri(address, "") == "file:///srv/clone/"
    assert project_uri(address, "team/proj") == "file:///srv/clone/team/proj/"


WEB = [
    (GH, "main", "models/rf.mlem", GH + "/tree/main/models/rf.mlem"),
    ("git@github.com:org/repo.git", "v1", "a", "https://github.com/org/repo/tree/v1/a"),
    ("https://gitlab.com/g/r", "v1", "a", "https://gitlab.com/g/r/-/blob/v1/a"),
    ("https://bitbucket.org/w/r", "v1", "a", "https://bitbucket.org/w/r/src/v1/a"),
    (GH, "main", "", GH + "/tree/main"),
    ("ssh://host/repo.git", "v1", "a", ""),
]


@pytest.mark.parametrize(("uri", "rev", "path", "expected"), WEB)
def test_web_uri(uri: str, rev: str, path: str, expected: str) -> None:
    assert web_uri(parse(uri), rev, path) == expected
