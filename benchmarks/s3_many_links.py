"""Resolving many links into one bucket: one by one, and batched.

Starts moto's S3 server on 127.0.0.1, puts N model metafiles in one bucket,
writes N links to them in a local registry, then times resolving every link
with ``load_meta`` one after another against ``mlem.batch.load_many``, which
reads each step of every chain in one concurrent batch per source. Prints
both times and their ratio; the two must give the same objects.

    python benchmarks/s3_many_links.py [-n 1000] [--repeat 3] [--latency MS]

On loopback, moto answers in microseconds of network and milliseconds of its
own CPU, one request at a time: the ratio then mostly counts requests (about
four per link one by one, one batched). ``--latency`` puts a proxy adding
that many milliseconds to each request between client and server, as a real
network does; there the batched path's concurrency shows.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

BUCKET = "mlem-bench"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="number of links")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best counts")
    parser.add_argument(
        "--latency", type=float, default=0.0, help="ms added to each request"
    )
    args = parser.parse_args(argv)

    from mlem.loopback import FaultProxy
    from mlem_s3.testing import moto_server

    # moto checking signatures and policies costs the server more than it
    # costs either client path; the clients' requests are the same either way
    with (
        moto_server(check_credentials=False) as server,
        tempfile.TemporaryDirectory() as tmp,
    ):
        os.environ.update(server.subprocess_env())
        registry = Path(tmp) / "registry"
        links = setup(server, registry, args.n)
        os.chdir(registry)
        with FaultProxy(server.port, delay=args.latency / 1000) as proxy:
            if args.latency:
                os.environ["FSSPEC_S3_ENDPOINT_URL"] = proxy.endpoint
            one_by_one = best_of(args.repeat, lambda: resolve_one_by_one(links))
            batched = best_of(args.repeat, lambda: resolve_batched(links))

    where = f"moto on 127.0.0.1, {args.latency:g} ms added per request"
    print(f"links:      {args.n} into s3://{BUCKET} ({where})")
    print(f"one by one: {one_by_one:.2f} s  (load_meta per link)")
    print(f"batched:    {batched:.2f} s  (mlem.batch.load_many)")
    print(f"ratio:      {batched / one_by_one:.3f} (batched / one by one)")
    return 0


def setup(server, registry: Path, n: int) -> list[str]:
    """N targets in one bucket project, N links to them in a local registry."""
    from mlem import api, metafile
    from mlem.objects import MlemLink

    server.make_bucket(BUCKET)
    project = api.init(f"s3://{BUCKET}/models")
    targets = {
        f"{BUCKET}/models/m{i:04d}.mlem": f"object_type: model\nindex: {i}\n".encode()
        for i in range(n)
    }
    server.filesystem().pipe(targets)

    registry.mkdir(parents=True)
    (registry / ".mlem.yaml").write_text("")
    names = []
    for i in range(n):
        link = MlemLink.make(path=f"m{i:04d}.mlem", project=project, link_type="model")
        (registry / f"link{i:04d}.mlem").write_bytes(metafile.dump(link.to_dict()))
        names.append(f"link{i:04d}")
    return names


def resolve_one_by_one(names: list[str]) -> list[int]:
    from mlem import api

    return [api.load_meta(name).data["index"] for name in names]


def resolve_batched(names: list[str]) -> list[int]:
    from mlem.batch import load_many

    return [obj.data["index"] for obj in load_many(names)]


def best_of(repeat: int, run) -> float:
    best = float("inf")
    expected = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
        if expected is not None and result != expected:
            raise SystemExit("runs gave different results")
        expected = result
    if expected != list(range(len(expected or []))):
        raise SystemExit("links resolved to the wrong objects")
    return best


if __name__ == "__main__":
    sys.exit(main())
