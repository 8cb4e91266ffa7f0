"""Servers on 127.0.0.1 for tests: storage emulators, and a proxy that fails.

Resolver plugins test against real servers (moto's S3, a GCS emulator, git
daemons), each started by the test suite on a free loopback port and stopped
after it. :func:`serve` runs such a server as a child process;
:class:`BucketServer` is what tests hold of a running object store;
:class:`FaultProxy` stands between a client and a server and breaks responses
on purpose, so that a resolver's handling of a connection that dies mid-read is
tested against a real socket, not a mock; :class:`SilentServer` accepts
connections and never answers, as a hung server does.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import os
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0, proc: Any = None) -> None:
    """Wait until something accepts connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.2)
            if sock.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {HOST}:{port} after {timeout} s")


@contextlib.contextmanager
def serve(
    argv: list[str],
    port: int,
    env: dict[str, str] | None = None,
    log_path: str | None = None,
    timeout: float = 30.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` (a server listening on ``port``) until the block ends.

    The server's output goes to ``log_path`` (default: discarded). It runs in
    its own process group and is stopped by its process id: SIGTERM, then
    SIGKILL if it has not gone after five seconds.
    """
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen(
        argv,
        env={**os.environ, **(env or {})},
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_port(port, timeout, proc)
        logger.debug("started %s on port %s (pid %s)", argv[0], port, proc.pid)
        yield proc
    finally:
        stop_process(proc)
        if log_path:
            out.close()  # type: ignore[union-attr]


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """End a server started in a process group of its own, and what it forked:
    TERM, then KILL if it has not gone within 5 seconds."""
    if proc.poll() is not None:
        return
    # the process group holds only what this server started itself
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


class BucketServer:
    """A running object-store server on 127.0.0.1 and how a client reaches it.

    ``env`` holds the variables a client (this process, or a ``mlem``
    subprocess) needs to reach the server; :attr:`unset` names those that
    would point it at a real cloud or at a user's own setup. A subclass fills
    both and implements :meth:`make_filesystem`, :meth:`make_bucket` and
    :meth:`put` with the storage's own library.
    """

    #: variables removed from a client's environment
    unset: ClassVar[tuple[str, ...]] = ()

    def __init__(self, port: int) -> None:
        self.port = port
        self.endpoint = f"http://{HOST}:{port}"
        self.env: dict[str, str] = {}
        self._fs: Any = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.endpoint}>"

    def patch_env(self, monkeypatch: Any) -> None:
        """Point this process at the server (a pytest ``monkeypatch``)."""
        for name in self.unset:
            monkeypatch.delenv(name, raising=False)
        for name, value in self.env.items():
            monkeypatch.setenv(name, value)

    def subprocess_env(self) -> dict[str, str]:
        """``os.environ`` with :attr:`env` applied and :attr:`unset` removed."""
        env = {k: v for k, v in os.environ.items() if k not in self.unset}
        env.update(self.env)
        return env

    def run_mlem(
        self, *args: str, cwd: Any, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run the real ``mlem`` command in a subprocess pointed at the server."""
        return subprocess.run(
            [sys.executable, "-m", "mlem", *args],
            cwd=cwd,
            env={**self.subprocess_env(), **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
        )

    def filesystem(self) -> Any:
        """A file system on this server, for setting up tests (made once)."""
        if self._fs is None:
            self._fs = self.make_filesystem()
        return self._fs

    def new_bucket(self, versioned: bool = False) -> str:
        """A fresh bucket with a name no other test uses; keeping versions if
        asked."""
        name = f"mlem-{'v-' if versioned else ''}{uuid.uuid4().hex[:12]}"
        self.make_bucket(name, versioned=versioned)
        return name

    def make_filesystem(self) -> Any:
        """A new fsspec file system on this server, with rights to set up."""
        raise NotImplementedError

    def make_bucket(self, name: str, versioned: bool = False) -> None:
        """Create bucket ``name`` (if it is not there), keeping versions if asked."""
        raise NotImplementedError

    def put(self, path: str, data: bytes) -> str | None:
        """Write ``data`` at ``bucket/key``; the version written, if any."""
        raise NotImplementedError


class _QuietServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a connection the proxy cut on purpose fails as it closes; that is
        # the point, not news for the test's output
        logger.debug("fault proxy: error with %s", client_address, exc_info=True)


class FaultProxy:
    """An HTTP proxy on 127.0.0.1 that forwards to ``upstream`` and breaks things.

    ``mode`` says what it breaks, and can be changed while it runs:

    ``"pass"``
        forward everything unchanged.
    ``"truncate"``
        forward, but send only the first half of every object body (any
        response that is not XML or JSON), then close the connection: a
        server that stops mid-read.
    ``"deny"``
        answer every request 403 with ``deny_body`` (of ``deny_type``).

    ``delay`` (seconds) is added before every request is forwarded, as a
    network between client and server would: loopback has none.

    Use it as a context manager; :attr:`endpoint` is its address.
    """

    def __init__(
        self,
        upstream_port: int,
        mode: str = "pass",
        deny_body: bytes = b"",
        deny_type: str = "application/json",
        delay: float = 0.0,
    ) -> None:
        self.upstream_port = upstream_port
        self.mode = mode
        self.delay = delay
        self.deny_body = deny_body
        self.deny_type = deny_type
        self.port = 0
        self._server: _QuietServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def __enter__(self) -> FaultProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body go out as separate writes; Nagle's algorithm
            # would hold the second back for the client's delayed ACK
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: object) -> None:
                logger.debug("fault proxy: " + format, *args)

            def _handle(self) -> None:
                proxy._forward(self)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = _handle

        self._server = _QuietServer((HOST, 0), Handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _forward(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else None
        if self.delay:
            time.sleep(self.delay)
        if self.mode == "deny":
            handler.send_response(403)
            handler.send_header("Content-Type", self.deny_type)
            handler.send_header("Content-Length", str(len(self.deny_body)))
            handler.end_headers()
            if handler.command != "HEAD":
                handler.wfile.write(self.deny_body)
            return

        conn = http.client.HTTPConnection(HOST, self.upstream_port, timeout=30)
        try:
            # the Host header is kept as the client sent it: S3 signs it
            headers = dict(handler.headers.items())
            conn.request(handler.command, handler.path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()

        content_type = response.getheader("Content-Type") or ""
        structured = "xml" in content_type or "json" in content_type
        cut = self.mode == "truncate" and handler.command == "GET" and not structured
        handler.send_response(response.status, response.reason)
        for key, value in response.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(data)))
        if cut:
            handler.send_header("Connection", "close")
        handler.end_headers()
        if handler.command == "HEAD":
            return
        if cut:
            handler.wfile.write(data[: len(data) // 2])
            handler.wfile.flush()
            handler.close_connection = True
            # a hard close, as a server that dies does, not a polite shutdown
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        handler.wfile.write(data)


class SilentServer:
    """A listener on 127.0.0.1 that accepts connections and never answers.

    What a hung server looks like to a client: the connection is made, the
    request is sent, and not one byte comes back, however long the client
    waits. Use it as a context manager; :attr:`endpoint` is its address and
    :attr:`accepted` counts the connections it took. Leaving the block closes
    them all.
    """

    def __init__(self) -> None:
        self.port = 0
        self.accepted = 0
        self._listener: socket.socket | None = None
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def __enter__(self) -> SilentServer:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind((HOST, 0))
        listener.listen(64)
        # a short wait, so that leaving the block is not held up by accept()
        listener.settimeout(0.1)
        self._listener = listener
        self.port = int(listener.getsockname()[1])
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for conn in [*self._held, self._listener]:
            if conn is not None:
                conn.close()

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            # held, never read from or written to: the request stays unanswered
            self._held.append(conn)
            self.accepted += 1


__all__ = [
    "HOST",
    "BucketServer",
    "FaultProxy",
    "SilentServer",
    "free_port",
    "serve",
    "wait_for_port",
]
