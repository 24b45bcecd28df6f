"""sop-telemetry-run: runs a Python program with telemetry, without touching its code.

    sop-telemetry-run app.py [args...]
    sop-telemetry-run -m package.module [args...]

The program runs as `python` would run it: in the real `__main__` module (which stays its own
after its body ends, for atexit handlers, threads and pickling), with an absolute `__file__`
and `sys.path[0]` its directory (the working one for -m). Python programs it starts inherit
SOP_TELEMETRY_AUTO=1, so they are recorded too (set SOP_TELEMETRY_AUTO=0 to keep them out).
"""
from __future__ import annotations

import builtins
import importlib
import importlib.machinery
import io
import os
import runpy
import sys
import types
import zipfile
from typing import Callable

USAGE = "usage: sop-telemetry-run (SCRIPT | -m MODULE) [ARGS...]"


def _give_program_its_path(entry: str) -> None:
    """sys.path[0] as `python` would set it for the program — `entry`, its script's directory
    or the working directory for -m — in place of the one python set for this launcher (its
    bin directory). Nothing to replace (PYTHONSAFEPATH, or main() called from other code):
    sys.path stays as it is."""
    launcher_dir = os.path.dirname(os.path.realpath(sys.argv[0])) if sys.argv and sys.argv[0] else None
    if sys.path and launcher_dir and os.path.realpath(sys.path[0] or os.getcwd()) == launcher_dir:
        sys.path[0] = entry


def _run_script(path: str) -> None:
    """The script's code in a fresh `__main__` that stays `__main__` (runpy.run_path puts the
    launcher's back once the body returns)."""
    path = os.path.abspath(path)  # as python gives it: in __file__, tracebacks and warnings
    with io.open_code(path) as source:
        code = compile(source.read(), path, "exec")
    main = types.ModuleType("__main__")
    main.__dict__.update({"__file__": path, "__builtins__": builtins, "__spec__": None,
                          "__package__": None, "__cached__": None,
                          "__loader__": importlib.machinery.SourceFileLoader("__main__", path)})
    sys.modules["__main__"] = main
    exec(code, main.__dict__)


def _as_python_reports(run: Callable[[], None]) -> int:
    """Runs the program; an exception it lets out is reported as `python` reports it — through
    sys.excepthook, with the program's frames only (not the launcher's) — and the status is 1.
    SystemExit and KeyboardInterrupt pass on as they are (python's own handling of them)."""
    try:
        run()
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as error:  # noqa: BLE001 - reported, as the interpreter would
        frames = error.__traceback__
        while frames is not None and frames.tb_frame.f_code.co_filename == __file__:
            frames = frames.tb_next
        # The default hook prints the exception's own __traceback__, whatever it is passed.
        sys.excepthook(type(error), error.with_traceback(frames), frames)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help"}:
        print(USAGE, file=sys.stderr if not args else sys.stdout)
        return 2 if not args else 0
    os.environ.setdefault("SOP_TELEMETRY_AUTO", "1")  # the program's own Python children
    # Started as SOP_TELEMETRY_AUTO starts it: a program that records nothing leaves no file.
    importlib.import_module("ai_agents.telemetry_autoload")  # starts the session, instruments smolagents
    if "ai_agents.telemetry" not in sys.modules:  # the autoload keeps the program going whatever happens
        print("sop-telemetry-run: the telemetry could not start (a broken install?); "
              "the program runs without it", file=sys.stderr)

    if args[0] == "-m":
        if len(args) < 2:
            print(USAGE, file=sys.stderr)
            return 2
        _give_program_its_path(os.getcwd())
        sys.argv = args[1:]
        # What `python -m` itself calls: the module runs in the real __main__.
        return _as_python_reports(
            lambda: runpy._run_module_as_main(args[1], alter_argv=True))  # type: ignore[attr-defined]
    path = args[0]
    if not os.path.exists(path):  # python's own message and status
        print(f"sop-telemetry-run: can't open file {os.path.abspath(path)!r}: "
              "[Errno 2] No such file or directory", file=sys.stderr)
        return 2
    if os.path.isdir(path) or zipfile.is_zipfile(path):  # its __main__.py, as python runs it
        _give_program_its_path(os.path.abspath(path))
        sys.argv = args
        return _as_python_reports(
            lambda: runpy._run_module_as_main("__main__", alter_argv=False))  # type: ignore[attr-defined]
    _give_program_its_path(os.path.dirname(os.path.realpath(path)))
    sys.argv = args
    return _as_python_reports(lambda: _run_script(path))


if __name__ == "__main__":
    sys.exit(main())
