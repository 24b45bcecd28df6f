"""sop-telemetry-run: runs a Python program with telemetry, without touching its code.

    sop-telemetry-run app.py [args...]
    sop-telemetry-run -m package.module [args...]
"""
from __future__ import annotations

import os
import runpy
import sys

USAGE = "usage: sop-telemetry-run (SCRIPT | -m MODULE) [ARGS...]"


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help"}:
        print(USAGE, file=sys.stderr if not args else sys.stdout)
        return 2 if not args else 0
    import ai_agents.telemetry  # noqa: F401 - starts the session and instruments smolagents

    # sys.path[0] as `python` sets it: the script's directory, or the working directory for -m
    # (not this launcher's own directory), so the program imports its neighbours the same way.
    if args[0] == "-m":
        if len(args) < 2:
            print(USAGE, file=sys.stderr)
            return 2
        sys.argv = args[1:]
        sys.path[0] = os.getcwd()
        runpy.run_module(args[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = args
        sys.path[0] = os.path.dirname(os.path.abspath(args[0]))
        runpy.run_path(args[0], run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())
