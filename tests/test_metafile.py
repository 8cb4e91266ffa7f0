"""Reading and writing metafiles: every format MLEM wrote, and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlem import metafile
from mlem.errors import MetafileError
from mlem.objects import MlemData, MlemLink, MlemModel, MlemObject

TYPES = {"link": MlemLink, "model": MlemModel, "data": MlemData}


def build(raw: bytes) -> MlemObject:
    return metafile.build(metafile.parse(raw, "test.mlem"), None, TYPES, "test.mlem")


def all_metafiles(fixtures: Path) -> list[Path]:
    found = sorted((fixtures / "mlem-0.4").rglob("*.mlem"))
    assert len(found) >= 14
    return found


def test_every_mlem04_file_reads_and_writes_back_byte_for_byte(fixtures_dir):
    for path in all_metafiles(fixtures_dir):
        raw = path.read_bytes()
        obj = build(raw)
        assert obj.type_name in ("link", "model", "data"), path
        assert metafile.dump(obj.to_dict()) == raw, path


def test_get_started_metafiles_of_every_type_round_trip(fixtures_dir):
    seen = set()
    for blob in (fixtures_dir / "get-started" / "blobs").iterdir():
        raw = blob.read_bytes()
        try:
            data = metafile.parse(raw, blob.name)
        except MetafileError:
            continue  # CSVs, pickles, DVC files, state files
        seen.add(data["object_type"])
        assert metafile.dump(data) == raw
    # deployment, env and builder are kept whole though no class knows them
    assert {"model", "data", "deployment", "env", "builder"} <= seen


def test_new_link_is_written_as_mlem_writes_it():
    link = MlemLink.make(
        path="models/rf.mlem",
        project="https://github.com/iterative/example-mlem-get-started/",
        link_type="model",
    )
    assert metafile.dump(link.to_dict()) == (
        b"link_type: model\nobject_type: link\npath: models/rf.mlem\n"
        b"project: https://github.com/iterative/example-mlem-get-started/\n"
    )


def test_mlem_02_repo_key_is_read_as_project():
    link = build(
        b"object_type: link\nlink_type: model\npath: m.mlem\nrepo: s3://b/p/\n"
    )
    assert isinstance(link, MlemLink)
    assert (link.project, link.path) == ("s3://b/p/", "m.mlem")


def test_mlem_01_mlem_link_forms():
    link = build(b"object_type: link\nlink_type: model\nmlem_link: data/model/x.mlem\n")
    assert isinstance(link, MlemLink)
    assert (link.path, link.project) == ("data/model/x.mlem", None)

    link = build(
        b"link_type: model\nmlem_link: github://iterative:example-mlem@main/data/model\n"
    )
    assert isinstance(link, MlemLink)
    assert link.project == "https://github.com/iterative/example-mlem/"
    assert (link.rev, link.path) == ("main", "data/model")


def test_embedded_links_take_their_type_from_the_key(fixtures_dir):
    old_deployment = (fixtures_dir / "get-started" / "blobs").glob("*")
    deployments = [
        build(b.read_bytes())
        for b in old_deployment
        if b.read_bytes().startswith(b"app_name:") and b"model_link" in b.read_bytes()
    ]
    assert deployments
    for deployment in deployments:
        links = deployment.embedded_links()
        assert links["model_link"].link_type == "model"
        if "env_link" in links:
            assert links["env_link"].link_type == "env"
            assert links["env_link"].path == "staging"
    # writing back keeps the embedded links exactly as they were
    for deployment in deployments:
        assert (
            metafile.parse(metafile.dump(deployment.to_dict()), "x") == deployment.data
        )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "is empty"),
        (b"   \n\n", "is empty"),
        (b"object_type: link\npath: [unclosed\n", "not valid YAML"),
        (b"- a\n- b\n", "holds a list, not a mapping"),
        (b"just a string", "holds a str"),
        (b"path: x.mlem\n", "no 'object_type' key"),
        (b"object_type: link\nlink_type: model\n", "no 'path' key"),
        (b"object_type: link\npath: ''\n", "empty 'path'"),
        (b"object_type: link\npath: [a, b]\n", "must be a string"),
        (b"object_type: 7\n", "object_type must be a string"),
        (b"\xff\xfe\x00bin", "not UTF-8"),
    ],
)
def test_bad_metafiles_raise_one_clear_error(raw, message):
    with pytest.raises(MetafileError, match=message) as info:
        build(raw)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("test.mlem: ")


def test_python_tags_are_refused_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    raw = (f"!!python/object/apply:os.system\n- touch {marker}\n").encode()
    with pytest.raises(MetafileError, match="YAML tag that is not allowed"):
        build(raw)
    nested = b"object_type: model\nx: !!python/object:os.system {}\n"
    with pytest.raises(MetafileError, match="YAML tag"):
        build(nested)
    assert not marker.exists()


def test_oversized_metafile_is_refused(monkeypatch):
    monkeypatch.setattr(metafile, "MAX_METAFILE_BYTES", 64)
    with pytest.raises(MetafileError, match="too large"):
        build(b"object_type: model\n" + b"x: 1\n" * 20)
