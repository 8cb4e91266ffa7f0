"""mlem-static against a real ``python -m http.server`` on 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlem import api
from mlem.errors import ObjectNotFoundError, StorageError
from mlem.objects import MlemModel
from mlem.testing import ResolverContract


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """A static file server over a folder; yields (folder, base address)."""
    root = tmp_path_factory.mktemp("www")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.05)
    yield root, f"static+http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


class TestStaticResolver(ResolverContract):
    resolver_name = "static"

    @pytest.fixture
    def make_project(self, server, request):
        root, base = server

        def make(files: dict[str, bytes]) -> str:
            name = request.node.name.replace("[", "_").replace("]", "_")
            for path, data in files.items():
                target = root / name / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            return f"{base}/{name}"

        return make


def test_link_and_load_through_the_cli(server, tmp_path: Path):
    root, base = server
    project = root / "team"
    (project / "models").mkdir(parents=True)
    (project / ".mlem.yaml").write_bytes(b"")
    (project / "models" / "rf.mlem").write_bytes(b"object_type: model\nartifacts: {}\n")
    registry = tmp_path / "registry"
    registry.mkdir()
    run = [sys.executable, "-m", "mlem"]
    subprocess.run([*run, "init"], cwd=registry, check=True)
    made = subprocess.run(
        [*run, "link", "--sp", f"{base}/team", "models/rf", "rf"],
        cwd=registry,
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    assert (registry / "rf.mlem").read_text() == (
        "link_type: model\nobject_type: link\npath: models/rf.mlem\n"
        f"project: {base}/team/\n"
    )
    model = api.load_meta(str(registry / "rf"))
    assert isinstance(model, MlemModel)
    listed = subprocess.run([*run, "plugins"], capture_output=True, text=True)
    assert "mlem-static" in listed.stdout
    assert "resolver static (static+http://, static+https://)" in listed.stdout


def test_errors(server):
    _, base = server
    with pytest.raises(ObjectNotFoundError):
        api.load_meta("nothing/here", project=f"{base}/nothing")
    port = free_port()  # nothing listens there
    with pytest.raises(StorageError, match="Connection refused"):
        api.load_meta("m", project=f"static+http://127.0.0.1:{port}/p")
