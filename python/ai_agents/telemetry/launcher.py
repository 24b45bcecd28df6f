"""sop-telemetry-run: runs a Python program with telemetry, without touching its code.

    sop-telemetry-run app.py [args...]
    sop-telemetry-run -m package.module [args...]
"""
from __future__ import annotations

import runpy
import sys

USAGE = "usage: sop-telemetry-run (SCRIPT | -m MODULE) [ARGS...]"


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help"}:
        print(USAGE, file=sys.stderr if not args else sys.stdout)
        return 2 if not args else 0
    import ai_agents.telemetry  # noqa: F401 - starts the session and instruments smolagents

    if args[0] == "-m":
        if len(args) < 2:
            print(USAGE, file=sys.stderr)
            return 2
        sys.argv = args[1:]
        runpy.run_module(args[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = args
        runpy.run_path(args[0], run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())
