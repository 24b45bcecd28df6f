"""Zero-configuration start: importing ai_agents.telemetry starts the session, routes the
engine's diagnostics to logging, instruments smolagents when it is (or gets) imported, and
writes the session file at interpreter exit. SOP_TELEMETRY_ENABLED=0 turns all of it off."""
from __future__ import annotations

import atexit
import logging
import platform
import sys

from . import _core
from .error_handler import record_error
from ._import_hook import when_imported
from .instrumentor import AgentInstrumentor
from .manager import TelemetryManager, config_from_mapping

logger = logging.getLogger("ai_agents.telemetry")
# A library prints nothing of its own: without logging configured by the host, its
# diagnostics stay out of the host's stderr (they are in get_error_summary() all the same).
logger.addHandler(logging.NullHandler())

_LEVELS = {
    _core.LogLevel.DEBUG.value: logging.DEBUG,
    _core.LogLevel.INFO.value: logging.INFO,
    _core.LogLevel.WARNING.value: logging.WARNING,
    _core.LogLevel.ERROR.value: logging.ERROR,
}
_started = False


def _log_from_engine(level: int, message: str) -> None:
    python_level = _LEVELS.get(int(level), logging.WARNING)
    if logger.isEnabledFor(python_level):
        logger.log(python_level, message)


def disabled_by_environment() -> bool:
    """The engine's own reading of SOP_TELEMETRY_ENABLED (and of every other override)."""
    resolved, _problems = _core.resolve_config(_core.Config())
    return not resolved.enabled


def _instrument_smolagents() -> None:
    AgentInstrumentor.instance().instrument()


def _started_automatically() -> bool:
    return bool(getattr(sys.modules.get("ai_agents.telemetry_autoload"), "STARTED", False))


def _at_exit() -> None:
    _core.end_open_runs()  # a stream never read to its end, a daemon thread's run: cancelled
    manager = TelemetryManager.get_instance()
    if _started_automatically() and manager._core.discard_if_empty():
        return  # SOP_TELEMETRY_AUTO and nothing recorded: no file (see telemetry_autoload)
    manager.shutdown()


def start() -> None:
    """Idempotent; never raises."""
    global _started
    if _started:
        return
    _started = True
    try:
        # Everything reaches Python; the 'ai_agents.telemetry' logger's level decides.
        _core.set_log_callback(_log_from_engine)
        # Registered first, so it runs last: the interpreter is going away, no more Python
        # logging (and no reference from the engine to Python left behind, even when disabled).
        atexit.register(_core.set_log_callback, None)
        _core.set_log_level(_core.LogLevel.DEBUG)
        if disabled_by_environment():
            return
        manager = TelemetryManager.get_instance()
        manager._core.set_python_version(platform.python_version())
        manager._core.initialize(config_from_mapping(None))
        atexit.register(_at_exit)
        _register_smolagents_hook()
    except Exception as error:  # noqa: BLE001
        record_error("bootstrap", error)


def _register_smolagents_hook() -> None:
    when_imported("smolagents", _instrument_smolagents)
