"""Start-up timings of the ``mlem`` command and API, as ratios against MLEM 0.4.14.

    python benchmarks/startup.py [--repeat N]

Times three things, each a fresh process as a user runs it: ``mlem --help``,
``mlem link`` on a local project, and ``load_meta`` through a two-link chain
(``latest-alias`` -> ``latest`` -> ``models/clf``). When MLEM 0.4.14 is
installed beside (``MLEM014_PYTHON``, else ``.venv-mlem014/``), the same three
run with it in the same script and the ratio is printed; the goal is 0.20 or
less. The best of N runs is reported, after one warm-up run that also writes
the byte-code caches.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ROOT / "examples" / "data" / "team-project"
LOAD = "from mlem.api import load_meta; load_meta('latest-alias')"


def best_of(repeat: int, argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    times = []
    for i in range(repeat + 1):
        for leftover in cwd.glob("bench-*.mlem"):
            leftover.unlink()
        start = time.perf_counter()
        result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed:\n{result.stderr[-2000:]}")
        if i:  # the first run warms the caches
            times.append(elapsed)
    return min(times)


def measure(python: Path, repeat: int, workdir: Path) -> dict[str, float]:
    project = workdir / python.parent.parent.name
    shutil.copytree(PROJECT, project)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(MLEM_NO_ANALYTICS="true", ITERATIVE_DO_NOT_TRACK="1")
    script = python.parent / "mlem"
    return {
        "mlem --help": best_of(repeat, [str(script), "--help"], project, env),
        "mlem link (local)": best_of(
            repeat, [str(script), "link", "models/clf", "bench-link"], project, env
        ),
        "load_meta via 2 links": best_of(
            repeat, [str(python), "-c", LOAD], project, env
        ),
    }


def find_mlem014() -> Path | None:
    configured = os.environ.get("MLEM014_PYTHON")
    candidate = (
        Path(configured) if configured else ROOT / ".venv-mlem014" / "bin" / "python"
    )
    return candidate if candidate.exists() else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        ours = measure(Path(sys.executable), args.repeat, Path(tmp) / "ours")
        theirs_python = find_mlem014()
        theirs = (
            measure(theirs_python, args.repeat, Path(tmp) / "theirs")
            if theirs_python
            else None
        )

    print(f"{'task':<24}{'mlem-core':>11}{'MLEM 0.4.14':>13}{'ratio':>8}")
    for task, seconds in ours.items():
        if theirs:
            other = theirs[task]
            print(f"{task:<24}{seconds:>10.3f}s{other:>12.3f}s{seconds / other:>8.2f}")
        else:
            print(f"{task:<24}{seconds:>10.3f}s{'-':>13}{'-':>8}")
    if not theirs:
        print("MLEM 0.4.14 not found: set MLEM014_PYTHON or run scripts/test once")


if __name__ == "__main__":
    main()
