"""TelemetryManager: the session's owner, as the design document names it.

A thin front over the C++ singleton: configuration dicts are checked here (a bad key or type
is a recorded telemetry error and not applied), everything else is the engine's own behaviour.
"""
from __future__ import annotations

import os
import threading
from typing import Any, Mapping, Optional

from . import _core
from .collector import TelemetryCollector
from .error_handler import record_error
from .types import TelemetrySession


# key -> (accepted types, converter)
_CONFIG_KEYS: dict[str, tuple[tuple[type, ...], Any]] = {
    "enabled": ((bool,), bool),
    "storage_dir": ((str, os.PathLike), os.fspath),
    "max_file_age_days": ((int,), int),
    "auto_cleanup": ((bool,), bool),
    "flush_interval": ((int, float), float),
    "max_memory_sessions": ((int,), int),
    "max_events_per_session": ((int,), int),
    "journal": ((bool,), bool),
    "code_metrics": ((bool,), bool),
    "handle_sigterm": ((bool,), bool),
    "env_allowlist": ((list, tuple), lambda v: [str(x) for x in v]),
    "price_file": ((str, os.PathLike), os.fspath),
    "log_level": ((str,), lambda v: getattr(_core.LogLevel, v.upper())),
}


def config_from_mapping(values: Optional[Mapping[str, Any]],
                        base: Optional[_core.Config] = None) -> _core.Config:
    """A Config from a dict, over `base` (default: the defaults): keys not named keep its value.
    Unknown keys and values of the wrong type are skipped, each a recorded telemetry error
    (operation "config", also logged).

    The engine's log level defaults to DEBUG here: every diagnostic reaches Python, and the
    level of the 'ai_agents.telemetry' logger decides what is shown."""
    config = base if base is not None else _core.Config()
    if base is None:
        config.log_level = _core.LogLevel.DEBUG
    if values is None:
        return config
    if not isinstance(values, Mapping):
        record_error("config", f"telemetry config must be a dict, got {type(values).__name__}; using defaults")
        return config
    for key, value in values.items():
        if key not in _CONFIG_KEYS:
            record_error("config", f"unknown telemetry config key {key!r} ignored "
                                   f"(known: {', '.join(sorted(_CONFIG_KEYS))})")
            continue
        types, convert = _CONFIG_KEYS[key]
        if isinstance(value, bool) and bool not in types or not isinstance(value, types):
            record_error("config", f"telemetry config {key!r} must be "
                                   f"{' or '.join(t.__name__ for t in types)}, got {value!r}; not applied")
            continue
        try:
            setattr(config, key, convert(value))
        except (AttributeError, ValueError, TypeError, OverflowError) as error:
            record_error("config", f"telemetry config {key!r}={value!r} is invalid ({error}); not applied")
    return config


class TelemetryManager:
    """Singleton owning the current session (use get_instance())."""

    _instance: Optional["TelemetryManager"] = None
    _lock = threading.Lock()

    def __init__(self, _engine: Optional[_core.TelemetryManager] = None) -> None:
        self._core = _engine or _core.TelemetryManager.get_instance()

    @classmethod
    def get_instance(cls) -> "TelemetryManager":
        if cls._instance is None:
            with cls._lock:
                if cls._instance is None:
                    cls._instance = cls()
        return cls._instance

    def initialize(self, config: Optional[Mapping[str, Any]] = None) -> bool:
        """Starts the session (automatic on first use); with a config, applies it."""
        try:
            if config is None:
                return self._core.initialize()
            # Over the configuration in force: a key not named keeps its value, and telemetry
            # turned off by disable_telemetry() stays off unless `enabled` is named.
            current = self._core.config()
            current.enabled = current.enabled and (self._core.is_enabled() or not self._core.session_id())
            return self._core.initialize(config_from_mapping(config, current))
        except Exception as error:  # noqa: BLE001
            record_error("initialize", error)
            return False

    def get_collector(self) -> TelemetryCollector:
        try:
            return TelemetryCollector(self._core.get_collector())
        except Exception as error:  # noqa: BLE001
            record_error("get_collector", error)
            return TelemetryCollector()

    def flush_data(self) -> bool:
        return self._call("flush_data", False)

    def get_session_data(self, session_id: Optional[str] = None) -> Optional[TelemetrySession]:
        """The current session, or a stored one by id; None when unknown or unreadable."""
        try:
            return self._core.get_session_data(None if session_id is None else str(session_id))
        except Exception as error:  # noqa: BLE001
            record_error("get_session_data", error)
            return None

    def get_storage_stats(self) -> dict[str, Any]:
        return self._call("get_storage_stats", {})

    def get_all_session_ids(self) -> list[str]:
        return self._call("get_all_session_ids", [])

    def enable_telemetry(self) -> None:
        self._call("enable_telemetry", None)

    def disable_telemetry(self) -> None:
        self._call("disable_telemetry", None)

    def is_enabled(self) -> bool:
        return self._call("is_enabled", False)

    def cleanup_old_data(self, max_age_days: int = 14) -> int:
        """Removes stored files older than max_age_days; returns how many were removed."""
        try:
            return self._core.cleanup_old_data(int(max_age_days))
        except Exception as error:  # noqa: BLE001
            record_error("cleanup_old_data", error)
            return 0

    def recover_sessions(self) -> int:
        return self._call("recover_sessions", 0)

    def shutdown(self) -> None:
        self._call("shutdown", None)

    @property
    def session_id(self) -> str:
        return self._call("session_id", "")

    def _call(self, name: str, fallback: Any) -> Any:
        try:
            return getattr(self._core, name)()
        except Exception as error:  # noqa: BLE001
            record_error(name, error)
            return fallback
