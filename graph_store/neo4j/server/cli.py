"""``python -m graph_store.neo4j.server install|start|stop|status [options]``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from graph_store.neo4j.server.common import (
    DEFAULT_BOLT_PORT,
    DEFAULT_HTTP_PORT,
    ENV_HOME,
    NEO4J_VERSION,
    Neo4jServerError,
    default_home,
    resolve_home,
)
from graph_store.neo4j.server.install import install, is_installed
from graph_store.neo4j.server.process import start, status, stop


def main(argv: list[str] | None = None) -> int:
    """``python -m graph_store.neo4j.server install|start|stop|status``.

    Prints one line. Exit codes: 0 success (for ``status``: running), 1 error,
    3 ``status`` says not running. The password comes from ``$SYBIL_NEO4J_PASSWORD``
    (not a flag, so it does not show in ``ps``).
    """
    parser = argparse.ArgumentParser(
        prog="python -m graph_store.neo4j.server",
        description="Install and run a local Neo4j Community server (dev/test only).",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--home",
        type=Path,
        default=None,
        help=f"server home (default ${ENV_HOME} or ~/.cache/sybil-linker/neo4j/<version>)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_install = sub.add_parser(
        "install", parents=[common], help="fetch the jars from Maven Central (once)"
    )
    p_install.add_argument("--version", default=NEO4J_VERSION, help="Neo4j version")
    p_start = sub.add_parser("start", parents=[common], help="start the server (no-op if running)")
    p_start.add_argument("--bolt-port", type=int, default=DEFAULT_BOLT_PORT)
    p_start.add_argument("--http-port", type=int, default=DEFAULT_HTTP_PORT)
    p_start.add_argument("--heap", default="2g")
    p_start.add_argument("--pagecache", default="2g")
    p_start.add_argument("--timeout", type=float, default=120)
    p_stop = sub.add_parser("stop", parents=[common], help="stop the server")
    p_stop.add_argument("--timeout", type=float, default=60)
    sub.add_parser("status", parents=[common], help="say whether the server runs (exit 3 if not)")
    args = parser.parse_args(argv)

    try:
        if args.command == "install":
            began = time.monotonic()
            home = args.home if args.home is not None else default_home(args.version)
            already = is_installed(home, args.version)
            home = install(home, args.version)
            how = (
                "already installed" if already else f"installed in {time.monotonic() - began:.1f}s"
            )
            print(f"neo4j {args.version}: {how} at {home / 'lib'}")
            return 0
        if args.command == "start":
            st = start(
                args.home,
                bolt_port=args.bolt_port,
                http_port=args.http_port,
                heap=args.heap,
                pagecache=args.pagecache,
                timeout=args.timeout,
            )
            print(f"neo4j {st.message}")
            return 0
        if args.command == "stop":
            stopped = stop(args.home, timeout=args.timeout)
            where = resolve_home(args.home)
            print(f"neo4j: {'stopped' if stopped else 'was not running'} [home {where}]")
            return 0
        st = status(args.home)
        print(f"neo4j {st.message}")
        return 0 if st.running else 3
    except Neo4jServerError as exc:
        lines = str(exc).splitlines()
        print(f"neo4j {args.command} failed: {lines[0]}", file=sys.stdout)
        if len(lines) > 1:
            print("\n".join(lines[1:]), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
