"""Loaded by sop_telemetry_auto.pth at every interpreter start: with SOP_TELEMETRY_AUTO=1 (or true,
yes, on) it imports ai_agents.telemetry, so a program is instrumented without any import of its own.
A session started so that records nothing at all leaves no file: every Python process of an
environment with the variable set (tools, pip, multiprocessing's helpers) would otherwise add
an empty session to the store."""
import os

STARTED = False  # whether it started the telemetry (read by ai_agents.telemetry at exit)

if os.environ.get("SOP_TELEMETRY_AUTO", "").strip().lower() in {"1", "true", "yes", "on"}:
    STARTED = True
    try:
        import ai_agents.telemetry  # noqa: F401
    except Exception:  # noqa: BLE001 - never stop the interpreter from starting
        pass
