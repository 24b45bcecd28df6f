"""sop-telemetry-run: runs a Python program with telemetry, without touching its code.

    sop-telemetry-run app.py [args...]
    sop-telemetry-run -m package.module [args...]
"""
from __future__ import annotations

import os
import runpy
import sys

USAGE = "usage: sop-telemetry-run (SCRIPT | -m MODULE) [ARGS...]"


def _give_program_its_path(entry: str) -> None:
    """sys.path[0] as `python` would set it for the program — `entry`, its script's directory
    or the working directory for -m — in place of the one python set for this launcher (its
    bin directory). Nothing to replace (PYTHONSAFEPATH, or main() called from other code):
    sys.path stays as it is."""
    launcher_dir = os.path.dirname(os.path.realpath(sys.argv[0])) if sys.argv and sys.argv[0] else None
    if sys.path and launcher_dir and os.path.realpath(sys.path[0] or os.getcwd()) == launcher_dir:
        sys.path[0] = entry


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
        _give_program_its_path(os.getcwd())
        sys.argv = args[1:]
        runpy.run_module(args[1], run_name="__main__", alter_sys=True)
    else:
        _give_program_its_path(os.path.dirname(os.path.realpath(args[0])))
        sys.argv = args
        runpy.run_path(args[0], run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())
