"""Loaded by sop_telemetry_auto.pth at every interpreter start: with SOP_TELEMETRY_AUTO=1 (or true,
yes, on) it imports ai_agents.telemetry, so a program is instrumented without any import of its own."""
import os

if os.environ.get("SOP_TELEMETRY_AUTO", "").strip().lower() in {"1", "true", "yes", "on"}:
    try:
        import ai_agents.telemetry  # noqa: F401
    except Exception:  # noqa: BLE001 - never stop the interpreter from starting
        pass
