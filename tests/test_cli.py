"""The ``mlem`` command, run for real in subprocesses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def one_line_error(result) -> str:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mlem: error: ")
    return lines[0]


def test_help_lists_the_commands(mlem, tmp_path):
    result = mlem("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("init", "link", "ls", "show"):
        assert command in result.stdout


def test_init_link_show_ls(mlem, mlem04_project: Path, tmp_path):
    registry = tmp_path / "registry"
    registry.mkdir()
    assert mlem("init", cwd=registry).returncode == 0
    assert (registry / ".mlem.yaml").exists()

    result = mlem("link", "--sp", str(mlem04_project), "latest", "prod", cwd=registry)
    assert result.returncode == 0, result.stderr
    assert "Loading meta from" in result.stdout
    assert "models/clf.mlem" in result.stdout
    assert "Saving link to prod.mlem" in result.stdout
    assert (registry / "prod.mlem").read_text() == (
        "link_type: model\nobject_type: link\npath: models/clf.mlem\n"
        f"project: file://{mlem04_project}/\n"
    )

    shown = mlem("show", "prod", "--json", cwd=registry)
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["object"]["object_type"] == "model"
    assert [c["location"] for c in data["chain"]] == ["prod.mlem"]

    text = mlem("show", "latest-alias", cwd=mlem04_project)
    assert text.stdout.splitlines()[:3] == [
        "# latest-alias.mlem  ->  latest.mlem",
        "# latest.mlem  ->  models/clf.mlem",
        "# models/clf.mlem",
    ]
    link_only = mlem("show", "--nf", "latest-alias", cwd=mlem04_project)
    assert "path: latest.mlem" in link_only.stdout

    listed = mlem("ls", "--json", cwd=registry)
    assert json.loads(listed.stdout) == [
        {
            "path": "prod.mlem",
            "object_type": "link",
            "link": {
                "path": "models/clf.mlem",
                "project": f"file://{mlem04_project}/",
                "rev": None,
                "link_type": "model",
            },
        }
    ]
    human = mlem("ls", str(mlem04_project), cwd=tmp_path)
    assert " - latest-alias -> latest.mlem" in human.stdout
    assert " - models/clf" in human.stdout


def test_link_option_spellings(mlem, mlem04_project):
    assert mlem("link", "--nf", "latest", "a1", cwd=mlem04_project).returncode == 0
    assert "path: latest.mlem" in (mlem04_project / "a1.mlem").read_text()
    assert mlem("link", "--abs", "latest", "a2", cwd=mlem04_project).returncode == 0
    assert "project: file://" in (mlem04_project / "a2.mlem").read_text()
    result = mlem(
        "link",
        "--no-follow-links",
        "--relative",
        "--tp",
        ".",
        "latest",
        "a3",
        cwd=mlem04_project,
    )
    assert result.returncode == 0, result.stderr
    assert (mlem04_project / "a3.mlem").read_text().endswith("path: latest.mlem\n")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "is empty"),
        ("object_type: link\npath: [oops\n", "not valid YAML"),
        ("!!python/object/apply:os.system ['true']\n", "YAML tag that is not allowed"),
        ("object_type: link\nlink_type: model\n", "no 'path' key"),
        (
            "link_type: warp\nobject_type: link\npath: models/clf.mlem\n",
            "unknown link_type",
        ),
        (
            "link_type: data\nobject_type: link\npath: models/clf.mlem\n",
            "links to a data",
        ),
        (
            "link_type: model\nobject_type: link\npath: ../../x.mlem\n",
            "leaves its project",
        ),
    ],
)
def test_bad_link_files(mlem, mlem04_project, content, expected):
    (mlem04_project / "bad.mlem").write_text(content)
    for args in (["show", "bad"], ["link", "bad", "copy"]):
        line = one_line_error(mlem(*args, cwd=mlem04_project))
        assert expected in line
        assert "bad.mlem" in line
    assert not (mlem04_project / "copy.mlem").exists()


def test_loop_is_one_line(mlem, mlem04_project):
    (mlem04_project / "a.mlem").write_text(
        "link_type: model\nobject_type: link\npath: b.mlem\n"
    )
    (mlem04_project / "b.mlem").write_text(
        "link_type: model\nobject_type: link\npath: a.mlem\n"
    )
    assert "links loop" in one_line_error(mlem("show", "a", cwd=mlem04_project))


def test_existing_target(mlem, mlem04_project):
    before = (mlem04_project / "latest.mlem").read_bytes()
    line = one_line_error(mlem("link", "models/clf", "latest", cwd=mlem04_project))
    assert "latest.mlem already exists; pass --force" in line
    assert (mlem04_project / "latest.mlem").read_bytes() == before
    forced = mlem(
        "link", "--force", "--abs", "models/clf", "latest", cwd=mlem04_project
    )
    assert forced.returncode == 0
    assert (mlem04_project / "latest.mlem").read_bytes() != before


def test_missing_object_and_rev_on_folder(mlem, mlem04_project):
    line = one_line_error(mlem("show", "models/none", cwd=mlem04_project))
    assert "no MLEM object at models/none" in line
    line = one_line_error(mlem("show", "--rev", "v1", "latest", cwd=mlem04_project))
    assert "--rev v1" in line


def test_verbose_shows_the_traceback(mlem, mlem04_project):
    result = mlem("--verbose", "show", "models/none", cwd=mlem04_project)
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert "ObjectNotFoundError" in result.stderr


def test_usage_errors_exit_non_zero(mlem, tmp_path):
    result = mlem("link", "only-one-arg", cwd=tmp_path)
    assert result.returncode == 2
    assert "Missing argument" in result.stderr


@pytest.mark.parametrize(
    "command", [["ls"], ["check"], ["update", "--all", "--project"]]
)
def test_a_project_that_is_not_there(mlem, mlem04_project, tmp_path, command):
    missing = one_line_error(mlem(*command, str(tmp_path / "nowhere"), cwd=tmp_path))
    assert "no folder" in missing and "nowhere" in missing
    a_file = one_line_error(
        mlem(*command, str(mlem04_project / "models" / "clf"), cwd=tmp_path)
    )
    assert "is a file, not a project folder" in a_file


def test_ls_lists_what_it_can_and_names_what_it_cannot(mlem, mlem04_project):
    (mlem04_project / "broken.mlem").write_text("object_type: link\npath: [\n")
    result = mlem("ls", cwd=mlem04_project)
    assert " - models/clf" in result.stdout
    line = one_line_error(result)
    assert "broken.mlem" in line and "not valid YAML" in line


@pytest.mark.parametrize("target", ["", ".", "sub/", "..", "a\nb"])
def test_targets_that_name_no_file(mlem, mlem04_project, target):
    before = sorted(p.name for p in mlem04_project.rglob("*"))
    line = one_line_error(mlem("link", "models/clf", target, cwd=mlem04_project))
    assert "names no file" in line
    assert sorted(p.name for p in mlem04_project.rglob("*")) == before


def test_write_problems_name_the_file_asked_for(mlem, mlem04_project):
    (mlem04_project / "folder.mlem").mkdir()
    line = one_line_error(
        mlem("link", "--force", "models/clf", "folder", cwd=mlem04_project)
    )
    assert "folder.mlem is a folder" in line
    line = one_line_error(
        mlem("link", "models/clf", "data/sample/x", cwd=mlem04_project)
    )
    assert "cannot write" in line and "data/sample/x.mlem" in line
    assert ".tmp" not in line


def test_projects_that_are_files(mlem, mlem04_project, tmp_path):
    a_file = mlem04_project / "models" / "clf"
    assert "is a file" in one_line_error(mlem("init", str(a_file), cwd=tmp_path))
    line = one_line_error(
        mlem(
            "link",
            "--sp",
            str(mlem04_project),
            "--tp",
            str(a_file),
            "latest",
            "x",
            cwd=tmp_path,
        )
    )
    assert "is a file, not a project folder" in line


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ("links:\n  lock: 'false'\n", "links.lock must be true or false"),
        ("links:\n  lock: maybe\n", "links.lock must be true or false"),
        ("links:\n  max_chain: -5\n", "links.max_chain must be a whole number"),
        ("links:\n  max_chain: x\n", "links.max_chain must be a whole number"),
        ("links: [1]\n", "'links' must be a mapping"),
    ],
)
def test_bad_registry_settings(mlem, mlem04_project, settings, message):
    (mlem04_project / ".mlem.yaml").write_text(settings)
    command = ["link", "models/clf", "x"] if "lock" in settings else ["check"]
    assert message in one_line_error(mlem(*command, cwd=mlem04_project))
    assert not (mlem04_project / "x.mlem").exists()


def test_absolute_source_inside_the_source_project(mlem, mlem04_project, tmp_path):
    full = str(mlem04_project / "models" / "clf")
    result = mlem("link", "--sp", str(mlem04_project), full, "x", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "path: models/clf.mlem" in (tmp_path / "x.mlem").read_text()


def test_ctrl_c_is_one_line_and_exit_130(mlem04_project, tmp_path):
    import signal
    import socket
    import subprocess
    import sys
    import time

    hang = socket.socket()
    hang.bind(("127.0.0.1", 0))
    hang.listen()
    port = hang.getsockname()[1]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlem",
            "show",
            "m",
            "--project",
            f"git://127.0.0.1:{port}/x.git",
        ],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.5)
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=30)
    finally:
        hang.close()
    assert process.returncode == 130
    assert err.strip().splitlines() == [
        "mlem: error: interrupted; nothing half-written was left"
    ]


def test_empty_rev(mlem, mlem04_project):
    assert "an empty rev was given" in one_line_error(
        mlem("show", "--rev", "", "latest", cwd=mlem04_project)
    )


def test_install_hint_says_when_plugins_are_limited(mlem, tmp_path):
    result = mlem("show", "x", cwd=tmp_path, env={"MLEM_PLUGINS": "nothing"})
    line = one_line_error(result)
    assert "pip install mlem-local" in line
    assert "plugins are limited by MLEM_PLUGINS" in line
