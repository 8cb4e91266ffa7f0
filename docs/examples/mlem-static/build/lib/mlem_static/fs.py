"""A read-only file system over a static web server's directory listings.

Any server that answers a folder URL (ending with ``/``) with an HTML page of
``<a href>`` links to its entries works: ``python -m http.server``, nginx with
``autoindex on``, Apache's ``mod_autoindex``.
"""

from __future__ import annotations

import posixpath
import urllib.error
import urllib.request
from html.parser import HTMLParser
from urllib.parse import unquote, urljoin, urlsplit

TIMEOUT = 10.0


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.extend(
                value for name, value in attrs if name == "href" and value
            )


class StaticFS:
    """Paths are ``/``-separated, relative to ``base_url`` ("" is its root)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/") + "/"

    def url(self, path: str, folder: bool = False) -> str:
        path = path.strip("/")
        return self.base_url + path + ("/" if folder and path else "")

    def _get(self, url: str) -> bytes:
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise FileNotFoundError(url) from exc
            if exc.code in (401, 403):
                raise PermissionError(f"{url}: HTTP {exc.code}") from exc
            raise OSError(f"{url}: HTTP {exc.code}") from exc
        except urllib.error.URLError as exc:
            raise ConnectionError(f"{url}: {exc.reason}") from exc

    def cat_file(self, path: str) -> bytes:
        return self._get(self.url(path))

    def ls(self, path: str, detail: bool = False) -> list[str]:
        folder_url = self.url(path, folder=True)
        parser = _Links()
        parser.feed(self._get(folder_url).decode("utf-8", "replace"))
        entries = []
        for href in parser.hrefs:
            target = urljoin(folder_url, href)
            # only entries directly inside this folder, not sorting links
            if "?" in href or not target.startswith(folder_url) or target == folder_url:
                continue
            name = unquote(urlsplit(target).path[len(urlsplit(folder_url).path) :])
            if name.strip("/") and "/" not in name.rstrip("/"):
                entries.append(posixpath.join(path.strip("/"), name))
        return sorted(set(entries))

    def find(self, path: str) -> list[str]:
        found = []
        for entry in self.ls(path):
            if entry.endswith("/"):
                found.extend(self.find(entry.rstrip("/")))
            else:
                found.append(entry)
        return found

    def isdir(self, path: str) -> bool:
        try:
            self._get(self.url(path, folder=True))
        except FileNotFoundError:
            return False
        return True

    def isfile(self, path: str) -> bool:
        if not path.strip("/"):
            return False
        try:
            self.cat_file(path)
        except (FileNotFoundError, IsADirectoryError):
            return False
        return not self.isdir(path)

    def exists(self, path: str) -> bool:
        return self.isfile(path) or self.isdir(path)

    def pipe_file(self, path: str, value: bytes) -> None:
        raise PermissionError(f"{self.url(path)}: a static file server is read-only")

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        raise PermissionError(f"{self.url(path)}: a static file server is read-only")
