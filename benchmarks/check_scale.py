"""``mlem check`` on a registry of many links into many git repositories.

    python benchmarks/check_scale.py [--links 1000] [--repos 20] [--revs 5]
                                     [--repeat 3] [--profile]

Builds ``--repos`` git repositories, each a MLEM project (``.mlem.yaml``,
``models/m.mlem`` and its artifact) with ``--revs`` tagged revs, serves them
with ``git daemon`` on 127.0.0.1, and writes a registry of ``--links`` link
files spread evenly over every repository and rev, every other one locked
(commit and sha256). Then it times:

- cold: ``mlem.registry.check`` in a fresh process with an empty cache, and
  counts, from git's own trace2 events, the ``ls-remote`` runs and the
  fetches (of revs, and of objects by id) it made; the goal is one fetch of
  revs per repository;
- warm: the same with the cache filled (best of ``--repeat``; the time of
  the check itself, and of the whole ``mlem check`` command);
- the floor: what no implementation can beat: parsing the link files with
  PyYAML and reading every target metafile with one pipelined
  ``git cat-file --batch`` per repository, from the warm mirrors; and the
  same, parsing the targets too (which a check must, to know their type).

warm/floor is the number to watch; the goal is 3 or less. ``--profile``
prints where a warm check spends its time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from mlem_git import testing
from mlem_git.address import parse
from mlem_git.gitcmd import Remote
from mlem_git.mirror import Mirror

#: a warm check, timed inside its process (imports excluded), as JSON
CHECK = """
import json, sys, time
start = time.perf_counter()
from mlem.registry import check
imported = time.perf_counter()
reports = check(sys.argv[1])
done = time.perf_counter()
bad = [r for r in reports if r["status"] != "ok"]
print(json.dumps({"import": imported - start, "check": done - imported,
                  "links": len(reports), "bad": len(bad), "first_bad": bad[:1]}))
"""

PROFILE = """
import cProfile, pstats, sys
from mlem.registry import check
profile = cProfile.Profile()
profile.enable()
# one worker, so that the profile sees the work the threads would share
check(sys.argv[1], workers=1)
profile.disable()
stats = pstats.Stats(profile)
stats.sort_stats("tottime").print_stats(25)
stats.sort_stats("cumulative").print_stats(25)
"""

TIME = 1_700_000_000


def metafile(repo: int, rev: int) -> bytes:
    """A model metafile of a realistic size, different at every rev."""
    digest = hashlib.md5(f"{repo}-{rev}".encode()).hexdigest()
    return (
        "artifacts:\n"
        "  data:\n"
        f"    hash: {digest}\n"
        f"    size: {1000 + rev}\n"
        "    uri: m\n"
        "model_type:\n"
        "  methods:\n"
        "    predict:\n"
        "      args:\n"
        "      - name: X\n"
        "        type_:\n"
        "          columns: [sepal_length, sepal_width, petal_length, petal_width]\n"
        "          type: dataframe\n"
        "      name: predict\n"
        "      returns:\n"
        "        dtype: int64\n"
        "        type: ndarray\n"
        "  type: sklearn\n"
        "object_type: model\n"
        "requirements:\n"
        "- module: sklearn\n"
        "  version: 1.2.2\n"
        "- module: pandas\n"
        "  version: 2.0.1\n"
    ).encode()


def build_repo(bare: Path, repo: int, revs: int) -> dict[str, str]:
    """A bare repository with ``revs`` tagged commits; tag -> commit."""
    testing.git("init", "--quiet", "--bare", "--initial-branch=main", bare)
    testing.allow_partial_fetch(bare)
    stream = []
    for rev in range(1, revs + 1):
        files = {
            ".mlem.yaml": b"",
            "models/m.mlem": metafile(repo, rev),
            "models/m": os.urandom(2048),
            "README.md": f"repository {repo}, version {rev}\n".encode(),
        }
        message = f"v{rev}".encode()
        stream.append(
            b"commit refs/heads/main\n"
            + f"mark :{rev}\n".encode()
            + f"committer Bench <bench@example.com> {TIME + rev} +0000\n".encode()
            + f"data {len(message)}\n".encode()
            + message
            + b"\n"
        )
        for name, data in files.items():
            stream.append(
                f"M 644 inline {name}\ndata {len(data)}\n".encode() + data + b"\n"
            )
        stream.append(
            f"tag v{rev}\nfrom :{rev}\n".encode()
            + f"tagger Bench <bench@example.com> {TIME + rev} +0000\n".encode()
            + f"data {len(message)}\n".encode()
            + message
            + b"\n"
        )
    subprocess.run(
        ["git", f"--git-dir={bare}", "fast-import", "--quiet"],
        input=b"".join(stream),
        check=True,
    )
    return {
        f"v{rev}": testing.git("rev-parse", f"v{rev}^{{commit}}", cwd=bare)
        for rev in range(1, revs + 1)
    }


def write_registry(
    registry: Path, urls: list[str], commits: list[dict[str, str]], links: int
) -> None:
    """``links`` link files over every repository and rev, every other locked."""
    registry.mkdir(parents=True)
    (registry / ".mlem.yaml").write_bytes(b"")
    targets = [(r, rev) for r in range(len(urls)) for rev in sorted(commits[r])]
    for i in range(links):
        repo, rev = targets[i % len(targets)]
        lock = ""
        if (i // len(targets)) % 2:  # each target gets locked and plain links
            repo_number = int(Path(urls[repo]).name[1:-4])
            sha = hashlib.sha256(metafile(repo_number, int(rev[1:]))).hexdigest()
            lock = f"lock:\n  commit: {commits[repo][rev]}\n  sha256: {sha}\n"
        (registry / f"link-{i:05d}.mlem").write_text(
            f"link_type: model\n{lock}object_type: link\npath: models/m.mlem\n"
            f"project: {urls[repo]}\nrev: {rev}\n",
            encoding="utf-8",
        )


def run_check(registry: Path, env: dict[str, str]) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-c", CHECK, str(registry)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"check failed:\n{result.stderr[-3000:]}")
    report = json.loads(result.stdout)
    if report["bad"]:
        raise SystemExit(f"{report['bad']} links not ok: {report['first_bad']}")
    return report


def git_counts(traces: Path) -> dict[str, int]:
    """How many ls-remote and fetch processes git ran, from trace2 events."""
    counts = {"ls-remote": 0, "fetch (revs)": 0, "fetch (objects)": 0}
    for path in traces.iterdir():
        name, argv, code = "", [], None
        for line in path.read_text(errors="replace").splitlines():
            event = json.loads(line)
            if event["event"] == "start":
                argv = event["argv"]
            elif event["event"] == "cmd_name":
                name = event["name"]
            elif event["event"] == "exit":
                code = event["code"]
        if code != 0:
            continue
        if name == "ls-remote":
            counts["ls-remote"] += 1
        elif name == "fetch" and "fetch.negotiationAlgorithm=noop" in argv:
            counts["fetch (objects)"] += 1
        elif name == "fetch":
            counts["fetch (revs)"] += 1
    return counts


def floor(registry: Path, git_dirs: dict[str, str], parse: bool = False) -> float:
    """Parse every link, read every target with one cat-file per repository
    (and, with ``parse``, parse every target too, as a check must)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    start = time.perf_counter()
    wanted: dict[str, list[str]] = defaultdict(list)
    for path in sorted(registry.glob("*.mlem")):
        data = yaml.load(path.read_bytes(), Loader=loader)
        rev = (data.get("lock") or {}).get("commit") or data["rev"]
        wanted[data["project"]].append(f"{rev}:{data['path']}")
    read = 0
    for project, names in wanted.items():
        proc = subprocess.Popen(
            ["git", f"--git-dir={git_dirs[project]}", "cat-file", "--batch"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        out, _ = proc.communicate(("\n".join(names) + "\n").encode())
        at = 0
        while at < len(out):
            end = out.index(b"\n", at)
            header = out[at:end].split()
            if len(header) != 3:
                raise SystemExit(f"floor: cannot read {header!r} in {project}")
            size = int(header[2])
            if parse:
                yaml.load(out[end + 1 : end + 1 + size], Loader=loader)
            at = end + 1 + size + 1
            read += 1
    elapsed = time.perf_counter() - start
    if read != sum(len(names) for names in wanted.values()):
        raise SystemExit("floor: not every target was read")
    return elapsed


def best(times: list[float]) -> float:
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=1000)
    parser.add_argument("--repos", type=int, default=20)
    parser.add_argument("--revs", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mlem-check-scale-") as tmp:
        base = Path(tmp)
        served = base / "served"
        served.mkdir()
        started = time.perf_counter()
        commits = [
            build_repo(served / f"r{r:03d}.git", r, args.revs)
            for r in range(args.repos)
        ]
        with testing.GitDaemon(served) as daemon:
            urls = [daemon.url_of(f"r{r:03d}.git") for r in range(args.repos)]
            registry = base / "registry"
            write_registry(registry, urls, commits, args.links)
            print(
                f"{args.links} links into {args.repos} repositories x {args.revs} "
                f"revs (built in {time.perf_counter() - started:.1f} s)"
            )

            env = {**os.environ, **testing.git_env(base / "env")}
            env.pop("GIT_TRACE2_EVENT", None)
            traces = base / "traces-cold"
            traces.mkdir()
            cold = run_check(registry, {**env, "GIT_TRACE2_EVENT": str(traces)})
            counts = git_counts(traces)
            print(
                f"cold check  {cold['check']:7.3f} s   "
                + ", ".join(f"{k}: {v}" for k, v in counts.items())
            )

            warm = best(
                [float(run_check(registry, env)["check"]) for _ in range(args.repeat)]
            )
            traces = base / "traces-warm"
            traces.mkdir()
            run_check(registry, {**env, "GIT_TRACE2_EVENT": str(traces)})
            warm_counts = git_counts(traces)
            print(
                f"warm check  {warm:7.3f} s   "
                + ", ".join(f"{k}: {v}" for k, v in warm_counts.items())
            )

            cli = []
            for _ in range(args.repeat):
                begin = time.perf_counter()
                result = subprocess.run(
                    [sys.executable, "-m", "mlem", "check", str(registry)],
                    capture_output=True,
                    text=True,
                    env=env,
                    check=False,
                )
                cli.append(time.perf_counter() - begin)
                if result.returncode != 0:
                    raise SystemExit(result.stdout[-2000:] + result.stderr[-2000:])
            print(f"warm `mlem check` command  {best(cli):7.3f} s (with start-up)")

            cache = Path(env["MLEM_CACHE_DIR"]) / "git"
            git_dirs = {
                url: Mirror(Remote.of(url), parse(url).cache_key, str(cache)).path
                for url in urls
            }
            floor_time = best([floor(registry, git_dirs) for _ in range(args.repeat)])
            parsed = best(
                [floor(registry, git_dirs, parse=True) for _ in range(args.repeat)]
            )
            print(
                f"floor       {floor_time:7.3f} s   (parsing targets too: {parsed:.3f})"
            )
            print(
                f"warm/floor  {warm / floor_time:7.2f}   (goal: 3 or less; "
                f"against the floor that parses targets: {warm / parsed:.2f})"
            )

            if args.profile:
                subprocess.run(
                    [sys.executable, "-c", PROFILE, str(registry)], env=env, check=True
                )


if __name__ == "__main__":
    main()
