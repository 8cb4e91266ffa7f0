"""Locked links, check, update and get, on local storage.

The same behaviours against git repositories at moving revs are tested in
tests/test_git_registry.py.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from mlem import api
from mlem.errors import ArtifactError, LockMismatchError
from mlem.objects import MlemModel


@pytest.fixture
def registry(mlem04_project: Path, tmp_path: Path, monkeypatch) -> Path:
    reg = tmp_path / "registry"
    api.init(str(reg))
    monkeypatch.chdir(reg)
    return reg


CLF_MD5 = "67be2254a4dec1fcf4ac6bc8fa3ab011"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_lock_records_the_target_hash(registry, mlem04_project):
    api.link("models/clf", source_project=str(mlem04_project), target="a", lock=True)
    expected = sha256(mlem04_project / "models" / "clf.mlem")
    assert (registry / "a.mlem").read_text() == (
        "link_type: model\n"
        f"lock:\n  sha256: {expected}\n"
        "object_type: link\npath: models/clf.mlem\n"
        f"project: file://{mlem04_project}/\n"
    )
    assert isinstance(api.load_meta("a"), MlemModel)


def test_unlocked_links_keep_mlem_04_format(registry, mlem04_project):
    api.link("models/clf", source_project=str(mlem04_project), target="plain")
    assert "\nlock:" not in (registry / "plain.mlem").read_text()


def test_registry_can_make_locking_the_default(registry, mlem04_project):
    (registry / ".mlem.yaml").write_text("links:\n  lock: true\n")
    api.link("models/clf", source_project=str(mlem04_project), target="a")
    assert "lock:" in (registry / "a.mlem").read_text()
    api.link("models/clf", source_project=str(mlem04_project), target="b", lock=False)
    assert "lock:" not in (registry / "b.mlem").read_text()


def test_hash_mismatch_names_link_and_both_hashes(registry, mlem04_project):
    api.link("models/clf", source_project=str(mlem04_project), target="a", lock=True)
    before = sha256(mlem04_project / "models" / "clf.mlem")
    with open(mlem04_project / "models" / "clf.mlem", "a") as f:
        f.write("description: changed\n")
    after = sha256(mlem04_project / "models" / "clf.mlem")
    with pytest.raises(LockMismatchError) as info:
        api.load_meta("a")
    message = str(info.value)
    assert "a.mlem is locked" in message
    assert before in message and after in message


def test_check_reports_each_link(registry, mlem04_project):
    api.link("models/clf", source_project=str(mlem04_project), target="good")
    api.link(
        "models/clf", source_project=str(mlem04_project), target="locked", lock=True
    )
    (registry / "gone.mlem").write_text(
        f"link_type: model\nobject_type: link\npath: models/gone.mlem\n"
        f"project: file://{mlem04_project}/\n"
    )
    (registry / "a.mlem").write_text(
        "link_type: model\nobject_type: link\npath: b.mlem\n"
    )
    (registry / "b.mlem").write_text(
        "link_type: model\nobject_type: link\npath: a.mlem\n"
    )
    (registry / "typed.mlem").write_text(
        f"link_type: data\nobject_type: link\npath: models/clf.mlem\n"
        f"project: file://{mlem04_project}/\n"
    )
    (registry / "junk.mlem").write_text("object_type: link\npath: [\n")
    with open(mlem04_project / "models" / "clf.mlem", "a") as f:
        f.write("description: changed\n")

    reports = {r["path"]: r for r in api.check()}
    assert {p: (r["status"], r["problem"]) for p, r in reports.items()} == {
        "good.mlem": ("ok", None),
        "locked.mlem": ("broken", "hash mismatch"),
        "gone.mlem": ("broken", "missing target"),
        "a.mlem": ("broken", "cycle"),
        "b.mlem": ("broken", "cycle"),
        "typed.mlem": ("broken", "wrong type"),
        "junk.mlem": ("broken", "bad metafile"),
    }


def test_check_cli_exit_code_gates_merges(registry, mlem04_project, mlem):
    api.link("models/clf", source_project=str(mlem04_project), target="good")
    ok = mlem("check", cwd=registry)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "1 links, 1 ok, 0 not ok" in ok.stdout
    (registry / "bad.mlem").write_text("link_type: model\nobject_type: link\npath: x\n")
    bad = mlem("check", "--json", cwd=registry)
    assert bad.returncode == 1
    assert '"status": "broken"' in bad.stdout


def test_update_rewrites_only_what_changed(registry, mlem04_project, mlem):
    api.link("models/clf", source_project=str(mlem04_project), target="a", lock=True)
    api.link("data/sample", source_project=str(mlem04_project), target="d", lock=True)
    untouched = (registry / "d.mlem").read_bytes()
    with open(mlem04_project / "models" / "clf.mlem", "a") as f:
        f.write("description: changed\n")

    dry = mlem("update", "--all", "--dry-run", cwd=registry)
    assert dry.returncode == 0, dry.stderr
    assert "a.mlem: would update" in dry.stdout
    assert "d.mlem: unchanged" in dry.stdout
    with pytest.raises(LockMismatchError):
        api.load_meta("a")

    done = mlem("update", "--all", cwd=registry)
    assert "a.mlem: updated" in done.stdout
    assert (registry / "d.mlem").read_bytes() == untouched
    assert isinstance(api.load_meta("a"), MlemModel)
    assert mlem("check", cwd=registry).returncode == 0


def test_get_copies_and_verifies(registry, mlem04_project, tmp_path):
    api.link("models/clf", source_project=str(mlem04_project), target="prod")
    out = tmp_path / "deploy"
    written = api.get("prod", out)
    assert sorted(Path(p).name for p in written) == ["clf", "clf.mlem"]
    assert (out / "clf").read_bytes() == (
        mlem04_project / "models" / "clf"
    ).read_bytes()
    assert sorted(p.name for p in out.iterdir()) == ["clf", "clf.mlem"]


def test_get_mismatch_changes_nothing(registry, mlem04_project, tmp_path):
    api.link("models/clf", source_project=str(mlem04_project), target="prod")
    out = tmp_path / "deploy"
    out.mkdir()
    (out / "clf").write_bytes(b"the model deployed yesterday")
    (mlem04_project / "models" / "clf").write_bytes(b"tampered")
    with pytest.raises(
        ArtifactError, match=r"artifact data \(clf\) .* expected 827 bytes"
    ):
        api.get("prod", out)
    assert sorted(p.name for p in out.iterdir()) == ["clf"]
    assert (out / "clf").read_bytes() == b"the model deployed yesterday"


def test_get_md5_mismatch(registry, mlem04_project, tmp_path):
    api.link("models/clf", source_project=str(mlem04_project), target="prod")
    blob = mlem04_project / "models" / "clf"
    data = bytearray(blob.read_bytes())
    data[100] ^= 0xFF
    blob.write_bytes(bytes(data))
    with pytest.raises(
        ArtifactError, match="expected md5 67be2254a4dec1fcf4ac6bc8fa3ab011"
    ):
        api.get("prod", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert list(tmp_path.glob(".mlem-get-*")) == []


def test_cache_info_and_clean(mlem, tmp_path):
    cache = tmp_path / "mlem-cache"
    (cache / "git" / "repo-1.git").mkdir(parents=True)
    (cache / "git" / "repo-1.git" / "pack").write_bytes(b"x" * 1000)
    info = mlem("cache", "info", cwd=tmp_path)
    assert str(cache) in info.stdout
    assert "git/repo-1.git" in info.stdout
    assert "1,000 bytes" in info.stdout
    (cache / "notes.txt").write_text("the user's own file")
    (cache / "other").mkdir()
    cleaned = mlem("cache", "clean", cwd=tmp_path)
    assert "Removed 1,000 bytes" in cleaned.stdout
    # only what a resolver keeps there goes: the folder is the user's
    assert sorted(p.name for p in cache.iterdir()) == ["notes.txt", "other"]


def test_over_long_chains_are_reported_with_a_configurable_limit(registry, mlem):
    for i in range(6):
        path = f"c{i - 1}.mlem" if i else "nowhere.mlem"
        (registry / f"c{i}.mlem").write_text(
            f"link_type: model\nobject_type: link\npath: {path}\n"
        )
    (registry / "nowhere.mlem").write_text("object_type: model\n")
    assert mlem("check", cwd=registry).returncode == 0
    limited = mlem("check", "--max-chain", "3", "--json", cwd=registry)
    assert limited.returncode == 1
    statuses = {r["path"]: r["problem"] for r in json.loads(limited.stdout)}
    assert statuses["c5.mlem"] == "cycle" and statuses["c1.mlem"] is None
    (registry / ".mlem.yaml").write_text("links:\n  max_chain: 3\n")
    assert mlem("check", cwd=registry).returncode == 1


def _model_with(project: Path, artifacts: str) -> None:
    (project / "models" / "odd.mlem").write_text(
        f"object_type: model\nartifacts:\n{artifacts}"
    )


def test_get_into_an_existing_folder_leaves_no_staging(
    registry, mlem04_project, tmp_path
):
    out = tmp_path / "deploy"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    api.get("models/clf", out, project=str(mlem04_project))
    assert sorted(p.name for p in out.iterdir()) == ["clf", "clf.mlem", "keep.txt"]


@pytest.mark.parametrize(
    ("artifacts", "message"),
    [
        ("  data:\n    uri: clf\n", "records no size"),
        ("  data:\n    uri: clf\n    size: 827\n", "records no md5"),
        ("  data:\n    uri: clf\n    size: big\n    hash: x\n", "records no size"),
        (
            f"  a:\n    uri: clf\n    size: 827\n    hash: {CLF_MD5}\n"
            f"  b:\n    uri: ./clf\n    size: 827\n    hash: {CLF_MD5}\n",
            "two artifacts at clf",
        ),
        (
            "  data:\n    uri: ../../secret\n    size: 1\n    hash: " + "a" * 32 + "\n",
            "leaves the metafile's folder",
        ),
    ],
)
def test_get_refuses_what_it_cannot_verify(
    mlem04_project, tmp_path, artifacts, message
):
    _model_with(mlem04_project, artifacts)
    out = tmp_path / "out"
    with pytest.raises(ArtifactError, match=message):
        api.get("models/odd", out, project=str(mlem04_project))
    assert not out.exists()


def test_get_with_a_folder_in_the_way_changes_nothing(mlem04_project, tmp_path):
    out = tmp_path / "out"
    (out / "clf").mkdir(parents=True)
    (out / "clf.mlem").write_text("yesterday's metafile")
    with pytest.raises(ArtifactError, match="is a folder"):
        api.get("models/clf", out, project=str(mlem04_project))
    assert (out / "clf.mlem").read_text() == "yesterday's metafile"
    assert sorted(p.name for p in out.iterdir()) == ["clf", "clf.mlem"]


def test_update_refuses_to_lock_a_broken_chain(registry, mlem):
    (registry / "a.mlem").write_text(
        "link_type: model\nobject_type: link\npath: b.mlem\n"
    )
    (registry / "b.mlem").write_text(
        "link_type: model\nobject_type: link\npath: a.mlem\n"
    )
    before = (registry / "a.mlem").read_bytes()
    result = mlem("update", "a", cwd=registry)
    assert result.returncode == 1
    assert "links loop" in result.stderr
    assert (registry / "a.mlem").read_bytes() == before
