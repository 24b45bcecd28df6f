"""Loaded by sop_telemetry_auto.pth at every interpreter start: with SOP_TELEMETRY_AUTO=1 it
imports ai_agents.telemetry, so a program is instrumented without any import of its own."""
import os

if os.environ.get("SOP_TELEMETRY_AUTO", "").strip() == "1":
    try:
        import ai_agents.telemetry  # noqa: F401
    except Exception:  # noqa: BLE001 - never stop the interpreter from starting
        pass
