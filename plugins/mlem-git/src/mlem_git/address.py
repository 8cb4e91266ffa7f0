"""Addresses that name a git repository, parsed and written without any I/O.

A project address is one of:

- a git remote: ``https://``, ``http://``, ``ssh://``, ``git://``, or the
  scp-like ``user@host:org/repo.git``;
- a web page of a repository on GitHub, GitLab or Bitbucket, possibly naming a
  rev and a path in it (``/tree/<rev>/<path>``, ``/-/tree/<rev>/<path>``,
  ``/src/<rev>/<path>``; ``blob`` works as ``tree``);
- a local clone or bare repository: a plain path, ``file://``, or MLEM 0.4's
  ``git:///abs/path/:rev@path/in/repo`` (fsspec's ``GitFileSystem`` form).

A path inside a remote repository is written after a double slash
(``ssh://host/repo.git//sub/dir``), as go-getter and Terraform do; on GitHub
and Bitbucket it may also follow the repository (``https://github.com/org/repo/
sub/dir``), which is how MLEM 0.4 wrote a project in a sub-folder.
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

from mlem._uri import local_path, scheme_of, strip_credentials
from mlem.errors import StorageError

#: hosts whose web URLs have a known shape
GITHUB_HOSTS = frozenset({"github.com", "www.github.com"})
GITLAB_HOSTS = frozenset({"gitlab.com", "www.gitlab.com"})
BITBUCKET_HOSTS = frozenset({"bitbucket.org", "www.bitbucket.org"})

#: schemes that always name a remote repository
REMOTE_SCHEMES = frozenset({"http", "https", "ssh", "git+ssh", "ssh+git", "git"})

# git's own rule: a colon before any slash makes an scp-like ssh address; a
# one-letter "host" is a Windows drive, not a host
_SCP = re.compile(r"^(?P<user>[^@/:\s]+@)?(?P<host>[^@/:\s]{2,}):(?P<path>.+)$")
_HEX = re.compile(r"^[0-9a-f]+$")


@dataclass(frozen=True)
class Address:
    """A git repository, and the place in it that an address names."""

    #: ``"remote"`` (fetched into the cache) or ``"local"`` (read in place)
    kind: str
    #: remote: the URL git fetches, credentials included; local: absolute path
    url: str
    #: :attr:`url` without credentials, safe to print and to write in a link
    clean: str
    #: ``"github"``, ``"gitlab"`` or ``"bitbucket"`` for a web URL, else ``""``
    forge: str = ""
    #: ``https://host/org/repo`` of a repository on a known forge, however it
    #: was addressed (https, ssh or scp-like); used for readable addresses
    web: str = ""
    #: path in the repository that the address names, when known without refs
    path: str = ""
    #: segments after ``/tree/`` (and the like): a rev, then a path; branch
    #: names may hold slashes, so they are split against the remote's refs
    web_tail: tuple[str, ...] = ()
    #: a rev written in the address itself (``git:///repo/:rev@``)
    rev: str | None = None

    @property
    def cache_key(self) -> str:
        """What identifies the repository in the cache (no credentials)."""
        if self.kind == "local":
            return self.url
        return self.clean.rstrip("/")


def is_full_sha(rev: str) -> bool:
    """Whether ``rev`` is a whole SHA-1 or SHA-256 object name."""
    return len(rev) in (40, 64) and _HEX.match(rev) is not None


def is_short_sha(rev: str, minimum: int = 4) -> bool:
    """Whether ``rev`` could abbreviate an object name."""
    return minimum <= len(rev) < 40 and _HEX.match(rev) is not None


def is_scp_like(uri: str) -> bool:
    """Whether ``uri`` is git's scp-like ssh form (``[user@]host:path``)."""
    match = _SCP.match(uri)
    return match is not None and not match.group("path").startswith("//")


def is_remote(uri: str) -> bool:
    """Whether ``uri`` names a remote repository (not a local path)."""
    scheme = scheme_of(uri)
    if scheme == "git":
        return not uri.startswith("git:///")
    if scheme in REMOTE_SCHEMES:
        return True
    if scheme or not is_scp_like(uri):
        return False
    # without a user, only an address ending in .git is taken for scp-like:
    # "notes:2024" is more likely a folder than the host "notes"
    match = _SCP.match(uri)
    assert match is not None
    return bool(match.group("user")) or match.group("path").rstrip("/").endswith(".git")


def parse(uri: str) -> Address:
    """The repository and place that ``uri`` names.

    Raises ``ValueError`` (with a message that holds no credentials) for an
    address that names no repository, and
    :class:`~mlem.errors.StorageError` for a ``git://`` address with a user or
    password, which git would take for part of the host name.
    """
    scheme = scheme_of(uri)
    if scheme in ("http", "https"):
        return _parse_http(uri)
    if scheme == "git" and uri.startswith("git:///"):
        return _parse_fsspec_git(uri)
    if scheme in REMOTE_SCHEMES:
        return _parse_remote_url(uri)
    if scheme == "" and is_scp_like(uri):
        return _parse_scp(uri)
    if scheme in ("", "file"):
        path = local_path(uri)
        return Address(kind="local", url=path, clean=path)
    raise ValueError(f"{strip_credentials(uri)} is not a git address")


def _split_subpath(path: str, where: str) -> tuple[str, str]:
    """``path`` cut at a ``//`` into the repository part and a path inside."""
    head, sep, tail = path.partition("//")
    if not sep:
        return path, ""
    return head, _clean_subpath(tail, where)


def _clean_subpath(path: str, where: str) -> str:
    path = path.strip("/")
    if not path:
        return ""
    normal = posixpath.normpath(path)
    if normal == ".." or normal.startswith("../"):
        raise ValueError(f"the path {path} in {where} leaves the repository")
    return "" if normal == "." else normal


def _strip_git(name: str) -> str:
    return name[: -len(".git")] if name.endswith(".git") else name


def _forge_of(host: str) -> str:
    if host in GITHUB_HOSTS:
        return "github"
    if host in GITLAB_HOSTS:
        return "gitlab"
    if host in BITBUCKET_HOSTS:
        return "bitbucket"
    return ""


def _parse_http(uri: str) -> Address:
    parts = urlsplit(uri)
    clean_netloc = parts.netloc.rpartition("@")[2]
    where = f"{parts.scheme}://{clean_netloc}{parts.path}"
    host = (parts.hostname or "").lower()
    forge = _forge_of(host)
    if not forge and "/-/" in parts.path:
        # any host that serves GitLab's page layout
        forge = "gitlab"
    if not forge:
        path, sub = _split_subpath(parts.path, where)
        url = urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))
        return Address(kind="remote", url=url, clean=strip_credentials(url), path=sub)

    path, sub = _split_subpath(parts.path, where)
    if forge == "gitlab":
        repo_part, dash, page = path.partition("/-/")
        repo_segments = [s for s in repo_part.split("/") if s]
        rest = [unquote(s) for s in page.split("/") if s] if dash else []
        markers: tuple[str, ...] = ("tree", "blob")
        if dash and (not rest or rest[0] not in markers):
            raise ValueError(
                f"{where} is a GitLab page, not a repository "
                "(expected https://HOST/GROUP/REPO or .../-/tree/REV/PATH)"
            )
        if len(repo_segments) < 2:
            raise ValueError(f"{where} names no repository")
    else:
        segments = [s for s in path.split("/") if s]
        if len(segments) < 2:
            raise ValueError(
                f"{where} names no repository (expected {parts.scheme}://{host}"
                "/ORG/REPO)"
            )
        repo_segments, rest = segments[:2], [unquote(s) for s in segments[2:]]
        markers = ("tree", "blob") if forge == "github" else ("src",)
        if rest and rest[0] not in markers:
            # MLEM 0.4 wrote a project in a sub-folder as https://github.com/
            # org/repo/sub/folder
            sub = _clean_subpath("/".join(rest + [sub]), where)
            rest = []
    repo_segments[-1] = _strip_git(repo_segments[-1])
    repo = "/".join(repo_segments)
    web_tail: tuple[str, ...] = ()
    if rest:
        if len(rest) < 2:
            raise ValueError(f"{where} names no rev after /{rest[0]}/")
        web_tail = tuple(rest[1:])
    url = urlunsplit((parts.scheme, parts.netloc, "/" + repo, "", ""))
    clean = urlunsplit((parts.scheme, clean_netloc, "/" + repo, "", ""))
    return Address(
        kind="remote",
        url=url,
        clean=clean,
        forge=forge,
        web=f"https://{host}/{repo}",
        path=sub,
        web_tail=web_tail,
    )


def _parse_remote_url(uri: str) -> Address:
    parts = urlsplit(uri)
    # the last @ ends the user information: a password may hold an @ too
    clean_netloc = parts.netloc.rpartition("@")[2]
    where = f"{parts.scheme}://{clean_netloc}{parts.path}"
    if parts.scheme == "git" and "@" in parts.netloc:
        # the git protocol has no user information: git would look up
        # "user:password@host" as a host name, sending the secret to DNS
        raise StorageError(
            f"{where}: git:// addresses carry no user or password; remove "
            "'user:password@' or use https:// or ssh://"
        )
    if not parts.hostname:
        raise ValueError(f"{where} names no host")
    path, sub = _split_subpath(parts.path, where)
    url = urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))
    return Address(
        kind="remote",
        url=url,
        clean=strip_credentials(url),
        web=_web_of(parts.hostname.lower(), path),
        path=sub,
    )


def _parse_scp(uri: str) -> Address:
    match = _SCP.match(uri)
    assert match is not None
    path, sub = _split_subpath(match.group("path"), uri)
    url = f"{match.group('user') or ''}{match.group('host')}:{path}"
    return Address(
        kind="remote",
        url=url,
        clean=url,
        web=_web_of(match.group("host").lower(), path),
        path=sub,
    )


def _web_of(host: str, path: str) -> str:
    """``https://host/org/repo`` for an ssh address on a known forge."""
    if not _forge_of(host):
        return ""
    segments = [s for s in path.split("/") if s]
    if len(segments) < 2:
        return ""
    segments[-1] = _strip_git(segments[-1])
    return f"https://{host}/{'/'.join(segments)}"


def _parse_fsspec_git(uri: str) -> Address:
    # fsspec's GitFileSystem: git://<repo path>[:<ref>@]<path in repo>, cut at
    # the first ":" and then the first "@", as fsspec cuts it
    rest = uri[len("git://") :]
    repo, colon, inner = rest.partition(":")
    rev = None
    if colon and "@" in inner:
        rev, _, inner = inner.partition("@")
    path = os.path.normpath(os.path.expanduser(repo))
    return Address(
        kind="local",
        url=path,
        clean=path,
        path=_clean_subpath(inner if colon else "", uri),
        rev=rev or None,
    )


def project_uri(address: Address, root: str) -> str:
    """The address of the folder ``root`` of the repository, for a link.

    Web URLs of a forge become ``https://host/org/repo/`` (as MLEM 0.4 wrote
    them); other remotes stay as given, without credentials; local
    repositories become ``file:///abs/path/``. A sub-folder follows the
    repository on GitHub and Bitbucket (``.../org/repo/sub/``), after ``//``
    elsewhere (``ssh://host/repo.git//sub/``), and is a plain sub-path for a
    local repository.
    """
    root = root.strip("/")
    if address.kind == "local":
        return "file://" + posixpath.join(address.url.rstrip("/"), root, "")
    if address.forge:
        if not root:
            return address.clean + "/"
        if address.forge in ("github", "bitbucket"):
            return f"{address.clean}/{root}/"
        return f"{address.clean}//{root}/"
    if not root:
        return address.clean
    return f"{address.clean.rstrip('/')}//{root}/"


def web_uri(address: Address, rev: str, path: str) -> str:
    """The web page of ``path`` at ``rev`` on a known forge, or ``""``."""
    if not address.web:
        return ""
    host = address.web.split("/")[2]
    forge = _forge_of(host) or address.forge
    page = {"github": "tree", "gitlab": "-/blob", "bitbucket": "src"}.get(forge)
    if page is None:
        return ""
    return f"{address.web}/{page}/{rev}/{path}".rstrip("/")
