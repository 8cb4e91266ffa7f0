"""Build a small model registry on local disk and resolve it.

    python examples/local_registry.py [WORKDIR]

Copies a team's MLEM project (written by MLEM 0.4.14) into WORKDIR (a fresh
temporary folder by default), makes a registry project beside it with
``mlem init`` and ``mlem link``, then lists it, shows a link chain and loads
the model's metadata through the Python API. Every step runs the real ``mlem``
command and prints what it printed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEAM_PROJECT = HERE / "data" / "team-project"


def mlem(*args: str, cwd: Path) -> None:
    """Run ``mlem ARGS`` in ``cwd``, echoing the command and its output."""
    print(f"\n$ mlem {' '.join(args)}")
    result = subprocess.run(
        [sys.executable, "-m", "mlem", *args], cwd=cwd, capture_output=True, text=True
    )
    print((result.stdout + result.stderr).rstrip())
    if result.returncode != 0:
        raise SystemExit(f"mlem {args[0]} failed with exit code {result.returncode}")


def main() -> None:
    workdir = Path(
        sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="mlem-")
    )
    team = workdir / "team-a"
    registry = workdir / "registry"
    if team.exists() or registry.exists():
        raise SystemExit(f"{workdir} already holds team-a/ or registry/; pick another")
    shutil.copytree(TEAM_PROJECT, team)
    registry.mkdir(parents=True)
    print(f"Team project (written by MLEM 0.4.14): {team}")
    print(f"Registry: {registry}")

    mlem("init", cwd=registry)
    mlem("link", "--sp", str(team), "models/clf", "churn", cwd=registry)
    mlem("link", "--sp", str(team), "--nf", "latest", "churn-latest", cwd=registry)
    mlem("link", "--nf", "churn", "production", cwd=registry)
    mlem("ls", cwd=registry)
    mlem("show", "production", cwd=registry)

    from mlem.api import load_meta

    model = load_meta(str(registry / "production"))
    link = load_meta(str(registry / "production"), follow_links=False)
    artifact = model.artifacts["data"]  # type: ignore[attr-defined]
    print("\n>>> load_meta('production')")
    print(f"followed: {' -> '.join(str(v.location) for v in model.via)}")
    print(f"resolved: {model.type_name} at {model.location}")
    print(
        f"artifact: {artifact['uri']}, md5 {artifact['hash']}, {artifact['size']} bytes"
    )
    print(f">>> load_meta('production', follow_links=False) -> {link!r}")


if __name__ == "__main__":
    main()
