"""Imported by sop_telemetry_auto.pth at interpreter start when SOP_TELEMETRY_AUTO is 1 (or true,
yes, on), and only then: the .pth checks the variable itself, so without it nothing of this
package is imported (a project of the user's own named `ai_agents` stays its own). It imports
ai_agents.telemetry, so a program is instrumented without any import of its own. A session
started so that records nothing at all leaves no file: every Python process of an environment
with the variable set (tools, pip, multiprocessing's helpers) would otherwise add an empty
session to the store."""

STARTED = True  # the telemetry was started here (read by ai_agents.telemetry at exit)

try:
    import ai_agents.telemetry  # noqa: F401
except Exception:  # noqa: BLE001 - never stop the interpreter from starting
    pass
