"""The registry MLEM's documentation describes, built with the real ``mlem``
command on the public example project (served on 127.0.0.1 by git daemon,
reached through its GitHub URL by git's insteadOf)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mlem import api
from mlem.errors import ObjectNotFoundError, RevisionNotFoundError
from mlem.objects import MlemModel

URL = "https://github.com/iterative/example-mlem-get-started"
RF_MD5 = "96f5441d1cfa935583836702a3edd3d1"
RF_SIZE = 163671


@pytest.fixture
def registry(tmp_path: Path, github, mlem, monkeypatch) -> Path:
    reg = tmp_path / "registry"
    reg.mkdir()
    subprocess.run(["git", "init", "-q", str(reg)], check=True)
    assert mlem("init", cwd=reg).returncode == 0
    monkeypatch.chdir(reg)
    return reg


def test_first_model_link_is_what_mlem_writes(registry, mlem):
    result = mlem("link", "--sp", URL, "models/rf", "first-model", cwd=registry)
    assert result.returncode == 0, result.stderr
    assert f"Loading meta from {URL}/tree/main/models/rf.mlem" in result.stdout
    assert "Saving link to first-model.mlem" in result.stdout
    assert (registry / "first-model.mlem").read_bytes() == (
        b"link_type: model\nobject_type: link\npath: models/rf.mlem\n"
        b"project: https://github.com/iterative/example-mlem-get-started/\n"
    )
    model = api.load_meta("first-model")
    assert isinstance(model, MlemModel)
    assert model.artifacts["data"]["hash"] == RF_MD5


def revs(example_served) -> list[str]:
    _daemon, repo = example_served
    sha = subprocess.run(
        ["git", "rev-parse", "3-eval^{commit}"],
        cwd=repo,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return ["2-train", "main", "dvc", sha, sha[:8]]


def test_every_kind_of_rev(registry, mlem, example_served):
    for rev in revs(example_served):
        name = f"rf-{rev[:8]}-{len(rev)}"
        result = mlem(
            "link", "--sp", URL, "--rev", rev, "models/rf", name, cwd=registry
        )
        assert result.returncode == 0, result.stderr
        text = (registry / f"{name}.mlem").read_text()
        assert text.endswith(f"rev: {rev}\n")  # recorded exactly as given
        model = api.load_meta(name)
        assert isinstance(model, MlemModel)
        artifact = model.artifacts["data"]
        assert (artifact["hash"], artifact["size"]) == (RF_MD5, RF_SIZE)
        assert (artifact.get("type") == "dvc") == (rev == "dvc")


def test_old_layout_rev_names_the_path_to_pass(registry, mlem):
    result = mlem(
        "link", "--sp", URL, "--rev", "5-deploy-meta", "models/rf", "old", cwd=registry
    )
    assert result.returncode == 1
    line = result.stderr.strip()
    assert "\n" not in line
    assert "no MLEM object at models/rf" in line
    assert "at rev 5-deploy-meta" in line
    assert "found .mlem/model/rf.mlem: an old-layout project; pass that path" in line
    assert not (registry / "old.mlem").exists()

    # either spelling the message suggests works
    for source in (".mlem/model/rf.mlem", "rf"):
        ok = mlem(
            "link",
            "--sp",
            URL,
            "--rev",
            "5-deploy-meta",
            source,
            "old",
            "--force",
            cwd=registry,
        )
        assert ok.returncode == 0, ok.stderr
        assert "path: .mlem/model/rf.mlem" in (registry / "old.mlem").read_text()
        model = api.load_meta("old")
        assert model.type_name == "model"
        assert "model_type" in model.data  # the pre-0.3 key, kept whole


def test_embedded_links_of_the_old_deployment(github):
    deployment = api.load_meta(
        ".mlem/deployment/myservice", project=URL, rev="5-deploy-meta"
    )
    links = deployment.embedded_links()
    assert {name: link.link_type for name, link in links.items()} == {
        "env_link": "env",
        "model_link": "model",
    }
    # in the old layout, a bare name resolves under .mlem/<type>/
    env = api.load_meta(
        links["env_link"].path, project=URL, rev="5-deploy-meta", force_type="env"
    )
    assert env.location.relpath == ".mlem/env/staging.mlem"


@pytest.mark.parametrize(
    ("rev", "expected"),
    [
        ("8-dvc-mlem-config", "no MLEM object at models/rf in"),
        ("no-such-rev", "rev no-such-rev not found in"),
    ],
)
def test_clear_one_line_failures(registry, mlem, rev, expected):
    result = mlem("link", "--sp", URL, "--rev", rev, "models/rf", "x", cwd=registry)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.stderr
    assert not (registry / "x.mlem").exists()


def test_api_errors_are_specific(github):
    with pytest.raises(ObjectNotFoundError):
        api.load_meta("models/rf", project=URL, rev="8-dvc-mlem-config")
    with pytest.raises(RevisionNotFoundError):
        api.load_meta("models/rf", project=URL, rev="no-such-rev")


def test_ls_and_show_through_the_registry(registry, mlem):
    assert (
        mlem(
            "link", "--sp", URL, "--rev", "main", "models/rf", "prod", cwd=registry
        ).returncode
        == 0
    )
    assert mlem("link", "--nf", "prod", "live", cwd=registry).returncode == 0
    listed = mlem("ls", cwd=registry)
    assert f" - prod -> {URL}@main/models/rf.mlem" in listed.stdout
    assert " - live -> prod.mlem" in listed.stdout
    shown = mlem("show", "live", cwd=registry)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[0].startswith("# live.mlem  ->  prod.mlem")
    assert f"{URL}/tree/main/models/rf.mlem" in shown.stdout
    remote = mlem("ls", URL, "--rev", "3-eval", "--json", cwd=registry)
    assert {e["path"] for e in __import__("json").loads(remote.stdout)} == {
        "models/rf.mlem",
        "data/iris.csv.mlem",
    }


def test_credentials_are_used_but_never_written_or_printed(
    registry, mlem, github, monkeypatch
):
    secret_url = (
        "https://ci-bot:s3cr3t-token@github.com/iterative/example-mlem-get-started"
    )
    # the credentialed spelling reaches the same daemon
    config = Path(github["GIT_CONFIG_GLOBAL"])
    local = config.read_text().split('[url "')[1].split('"]')[0]
    with open(config, "a") as f:
        f.write(f'[url "{local}"]\n\tinsteadOf = {secret_url}\n')
    result = mlem(
        "--verbose", "link", "--sp", secret_url, "models/rf", "tok", cwd=registry
    )
    assert result.returncode == 0, result.stderr
    assert "s3cr3t" not in result.stdout + result.stderr
    text = (registry / "tok.mlem").read_text()
    assert "s3cr3t" not in text and "ci-bot" not in text
    assert f"project: {URL}/" in text
    cache = Path(github["MLEM_CACHE_DIR"])
    for path in cache.rglob("*"):
        if path.is_file() and path.stat().st_size < 1_000_000:
            assert b"s3cr3t" not in path.read_bytes(), path


def test_unreachable_host(registry, mlem):
    result = mlem(
        "link", "--sp", "git://127.0.0.1:9/nothing.git", "models/rf", "x", cwd=registry
    )
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "127.0.0.1:9" in result.stderr
    assert not (registry / "x.mlem").exists()


def test_rev_on_a_folder_that_is_not_a_repository(mlem04_project, mlem):
    result = mlem("show", "--rev", "v1", "latest", cwd=mlem04_project)
    assert result.returncode == 1
    assert "not a git repository" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
