"""Interop with the original MLEM 0.4.14, installed in a virtual environment
of its own (``MLEM014_PYTHON`` names its interpreter; ``scripts/test`` makes
it). Our links must load there, and what it writes must load here.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from mlem import api
from mlem.objects import MlemLink, MlemModel

DRIVER = Path(__file__).with_name("mlem014_driver.py")
CLF_MD5 = "67be2254a4dec1fcf4ac6bc8fa3ab011"


@pytest.fixture(scope="module")
def mlem014() -> str:
    python = os.environ.get("MLEM014_PYTHON")
    if not python:
        if os.environ.get("MLEM014_REQUIRED"):
            pytest.fail("MLEM014_REQUIRED is set but MLEM014_PYTHON is not")
        pytest.skip("MLEM014_PYTHON is not set (scripts/test sets it)")
    return python


def run014(python: str, *args: str, cwd: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLEM_")}
    env.update(MLEM_NO_ANALYTICS="true", ITERATIVE_DO_NOT_TRACK="1")
    result = subprocess.run(
        [python, str(DRIVER), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    data = json.loads(result.stdout or "{}")
    assert result.returncode == 0, (data, result.stderr[-2000:])
    return data


@pytest.fixture
def two_projects(
    mlem04_project: Path, tmp_path: Path, monkeypatch
) -> tuple[Path, Path]:
    registry = tmp_path / "registry"
    registry.mkdir()
    (registry / ".mlem.yaml").write_text("")
    monkeypatch.chdir(registry)
    return mlem04_project, registry


def test_mlem014_reads_our_default_links(mlem014, two_projects, monkeypatch):
    team, registry = two_projects
    api.link("models/clf", source_project=str(team), target="churn")
    api.link("latest", source_project=str(team), target="alias", follow_links=False)
    monkeypatch.chdir(team)
    api.link("models/clf", target="ours-relative")
    api.link("latest", target="ours-nf", follow_links=False)

    for cwd, name in [
        (registry, "churn.mlem"),
        (registry, "alias.mlem"),
        (team, "ours-relative.mlem"),
        (team, "ours-nf.mlem"),
    ]:
        found = run014(mlem014, "read", name, cwd=cwd)
        assert found["class"] == "MlemModel", name
        assert found["artifacts"]["data"]["hash"] == CLF_MD5
        link = run014(mlem014, "read", name, "--no-follow", cwd=cwd)
        assert link["object_type"] == "link"


def test_we_read_what_mlem014_writes(mlem014, two_projects, monkeypatch):
    team, registry = two_projects
    cases = {
        "rel": ["link", "models/clf", "rel"],
        "nf": ["link", "latest", "nf", "--no-follow"],
        "abs": ["link", "models/clf", "abs", "--absolute"],
        "deep/x": ["link", "models/clf", "deep/x"],
    }
    written = {}
    for name, args in cases.items():
        written[name] = run014(mlem014, *args, cwd=team)["text"]
    cross = ["link", "models/clf", "cross", "--source-project", str(team)]
    written["cross"] = run014(mlem014, *cross, cwd=registry)["text"]
    unnormalised = f"{registry}/../{team.name}"
    cross2 = ["link", "latest", "cross2", "--source-project", unnormalised]
    written["cross2"] = run014(mlem014, *cross2, cwd=registry)["text"]
    assert "/../" in written["cross2"]

    # our writer makes the same bytes for the same requests
    monkeypatch.chdir(team)
    api.link("models/clf", target="our-rel")
    assert (team / "our-rel.mlem").read_text() == written["rel"]
    api.link("latest", target="our-nf", follow_links=False)
    assert (team / "our-nf.mlem").read_text() == written["nf"]
    api.link("models/clf", target="our-abs", absolute=True)
    assert (team / "our-abs.mlem").read_text() == written["abs"]
    monkeypatch.chdir(registry)
    api.link("models/clf", source_project=str(team), target="our-cross")
    assert (registry / "our-cross.mlem").read_text() == written["cross"]

    for where, name in [
        (team, "rel"),
        (team, "nf"),
        (team, "abs"),
        (team, "deep/x"),
        (registry, "cross"),
        (registry, "cross2"),
    ]:
        model = api.load_meta(str(where / name))
        assert isinstance(model, MlemModel), name
        assert model.location.path == str(team / "models" / "clf.mlem")
        assert isinstance(
            api.load_meta(str(where / name), follow_links=False), MlemLink
        )
