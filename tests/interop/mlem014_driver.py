"""Interop driver for the ORIGINAL MLEM 0.4.14.

Runs INSIDE a venv that has ``mlem==0.4.14`` installed (not mlem-core's venv):

    $MLEM014/bin/python mlem014_driver.py read PATH [--no-follow]
    $MLEM014/bin/python mlem014_driver.py link SOURCE TARGET \
        [--source-project P] [--target-project P] [--rev R] [--no-follow] [--absolute]

Prints one JSON object on stdout; on failure prints {"error": ...} and exits 1.
MLEM's own chatter (emoji progress lines) goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from typing import Any

# Never let MLEM 0.4.14 phone home (it sends telemetry by default).
os.environ.setdefault("MLEM_NO_ANALYTICS", "true")
os.environ.setdefault("ITERATIVE_DO_NOT_TRACK", "1")


def describe(meta: Any) -> dict[str, Any]:
    """JSON-friendly summary of a loaded MLEM object."""
    out: dict[str, Any] = {
        "object_type": meta.object_type,
        "class": type(meta).__name__,
    }
    if meta.object_type == "link":
        for key in ("path", "project", "rev", "link_type"):
            out[key] = getattr(meta, key)
    artifacts = getattr(meta, "artifacts", None)
    if artifacts is not None:
        out["artifacts"] = {
            name: {
                "uri": getattr(art, "uri", None),
                "hash": getattr(art, "hash", None),
                "size": getattr(art, "size", None),
            }
            for name, art in artifacts.items()
        }
    return out


def cmd_read(args: argparse.Namespace) -> dict[str, Any]:
    from mlem.api import load_meta

    return describe(load_meta(args.path, follow_links=not args.no_follow))


def cmd_link(args: argparse.Namespace) -> dict[str, Any]:
    from mlem.api import link

    result = link(
        args.source,
        source_project=args.source_project,
        rev=args.rev,
        target=args.target,
        target_project=args.target_project,
        follow_links=not args.no_follow,
        absolute=args.absolute,
    )
    loc = result.location
    if loc is None:
        raise RuntimeError("mlem.api.link returned an unsaved link")
    with loc.open("r") as f:
        text: str = f.read()
    return {"written": loc.fullpath, "text": text}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    read = sub.add_parser("read", help="load_meta(PATH) and describe it")
    read.add_argument("path")
    read.add_argument("--no-follow", action="store_true")
    read.set_defaults(func=cmd_read)

    lnk = sub.add_parser("link", help="mlem.api.link(...) and print the file")
    lnk.add_argument("source")
    lnk.add_argument("target")
    lnk.add_argument("--source-project", default=None)
    lnk.add_argument("--target-project", default=None)
    lnk.add_argument("--rev", default=None)
    lnk.add_argument("--no-follow", action="store_true")
    lnk.add_argument("--absolute", action="store_true")
    lnk.set_defaults(func=cmd_link)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        # MLEM echoes progress to stdout; keep stdout for our JSON only.
        with contextlib.redirect_stdout(sys.stderr):
            result = args.func(args)
    except Exception as exc:  # noqa: BLE001 - report any MLEM failure as JSON
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        return 1
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
