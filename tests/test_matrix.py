"""Every pair of storages, (where the link lives, where its target lives),
through ``mlem link``, ``load_meta``, ``ls`` and ``show``: local disk, a git
repository served by git daemon, moto's S3 server and the GCS emulator, all
real and on 127.0.0.1."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from mlem import api
from mlem.objects import MlemModel
from mlem_gcs.testing import gcs_emulator
from mlem_git import testing as git_testing
from mlem_s3.testing import moto_server

STORAGES = ["local", "git", "s3", "gcs"]
MODEL = (
    b"artifacts:\n  data:\n    hash: cafecafecafecafecafecafecafecafe\n"
    b"    size: 4\n    uri: m\nobject_type: model\n"
)
TEAM = {".mlem.yaml": b"", "models/m.mlem": MODEL, "models/m": b"data"}


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("git-served")
    with (
        moto_server() as s3,
        gcs_emulator() as gcs,
        git_testing.GitDaemon(base) as daemon,
    ):
        yield {"s3": s3, "gcs": gcs, "git": daemon, "git_base": base}


@pytest.fixture
def env(servers, monkeypatch, tmp_path):
    servers["s3"].patch_env(monkeypatch)
    servers["gcs"].patch_env(monkeypatch)
    for name, value in git_testing.git_env(tmp_path / "git-env").items():
        monkeypatch.setenv(name, value)
    import os

    return dict(os.environ)


class Storages:
    """Makes a project on each storage; returns its address."""

    def __init__(self, servers, tmp_path: Path) -> None:
        self.servers = servers
        self.tmp = tmp_path
        self.bucket = f"mx-{uuid.uuid4().hex[:10]}"
        servers["s3"].make_bucket(self.bucket)
        servers["gcs"].make_bucket(self.bucket)

    def project(self, kind: str, name: str, files: dict[str, bytes]) -> str:
        if kind == "local":
            root = self.tmp / name
            for path, data in files.items():
                (root / path).parent.mkdir(parents=True, exist_ok=True)
                (root / path).write_bytes(data)
            return str(root)
        if kind == "git":
            work = self.tmp / f"{name}-work"
            git_testing.commit_tree(work, files, name)
            served = f"{name}-{self.bucket}.git"
            git_testing.serve_copy(work, self.servers["git_base"], served)
            return self.servers["git"].url_of(served)
        scheme = "s3" if kind == "s3" else "gs"
        server = self.servers[kind]
        for path, data in files.items():
            server.put(f"{self.bucket}/{name}/{path}", data)
        return f"{scheme}://{self.bucket}/{name}"


def mlem_cli(*args: str, cwd: Path, env: dict[str, str]):
    return subprocess.run(
        [sys.executable, "-m", "mlem", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("home", "target"), list(itertools.product(STORAGES, STORAGES))
)
def test_link_between(home, target, servers, env, tmp_path, monkeypatch):
    stores = Storages(servers, tmp_path)
    team = stores.project(target, "team", TEAM)
    monkeypatch.chdir(tmp_path)

    # the registry: written in place, or (git) in a clone that is then pushed
    if home == "git":
        work = tmp_path / "registry-work"
        git_testing.commit_tree(work, {".mlem.yaml": b""}, "init")
        write_to = str(work)
    else:
        write_to = stores.project(home, "registry", {".mlem.yaml": b""})
    made = mlem_cli(
        "link",
        "--sp",
        team,
        "--tp",
        write_to,
        "models/m",
        "prod",
        cwd=tmp_path,
        env=env,
    )
    assert made.returncode == 0, made.stderr
    assert "Saving link to" in made.stdout
    made = mlem_cli(
        "link",
        "--sp",
        write_to,
        "--tp",
        write_to,
        "--nf",
        "prod",
        "alias",
        cwd=tmp_path,
        env=env,
    )
    assert made.returncode == 0, made.stderr
    if home == "git":
        git_testing.git("add", "--all", cwd=work)
        git_testing.git("commit", "--quiet", "-m", "links", cwd=work)
        served = f"registry-{stores.bucket}.git"
        git_testing.serve_copy(work, servers["git_base"], served)
        registry = servers["git"].url_of(served)
    else:
        registry = write_to

    # load_meta through both links
    model = api.load_meta("alias", project=registry)
    assert isinstance(model, MlemModel)
    assert model.artifacts["data"]["hash"] == "cafecafecafecafecafecafecafecafe"
    assert [link.location.relpath for link in model.via] == ["alias.mlem", "prod.mlem"]
    link = api.load_meta("prod", project=registry, follow_links=False)
    assert link.path == "models/m.mlem"
    assert link.project is not None and team.rstrip("/") in link.project

    # ls and show, through the command
    listed = mlem_cli("ls", registry, "--json", cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    assert {e["path"] for e in json.loads(listed.stdout)} == {"prod.mlem", "alias.mlem"}
    shown = mlem_cli(
        "show", "alias", "--project", registry, "--json", cwd=tmp_path, env=env
    )
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["object"]["object_type"] == "model"
    assert len(data["chain"]) == 2
