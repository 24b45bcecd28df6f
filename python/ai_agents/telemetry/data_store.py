"""TelemetryDataStore: the stored session files of one directory (the engine's own store).

Session files are `<session_id>.json`, written atomically; `<session_id>.jsonl` is the crash
journal of a running session. Invalid files are skipped with an error recorded.
"""
from __future__ import annotations

import os
from typing import Any, Optional

from . import _core
from .error_handler import record_error
from .types import TelemetrySession


class TelemetryDataStore:
    def __init__(self, storage_dir: Optional[str | bytes | os.PathLike[str] | os.PathLike[bytes]] = None) -> None:
        # os.fsdecode: a bytes path (as os.listdir gives) names the same directory.
        directory = os.fsdecode(storage_dir) if storage_dir is not None else _core.default_storage_dir()
        self._core = _core.TelemetryDataStore(directory)

    @property
    def storage_dir(self) -> str:
        return self._core.directory

    @staticmethod
    def is_valid_session_id(session_id: str) -> bool:
        return isinstance(session_id, str) and _core.TelemetryDataStore.is_valid_session_id(session_id)

    def list_session_ids(self) -> list[str]:
        """Valid stored sessions, oldest first."""
        return self._call("list_session_ids", [])

    def read_session(self, session_id: str) -> Optional[TelemetrySession]:
        if not self.is_valid_session_id(session_id):
            record_error("read_session", f"invalid session id: {session_id!r}")
            return None
        return self._call("read_session", None, session_id)

    def stats(self) -> dict[str, Any]:
        return self._call("stats", {})

    def cleanup(self, max_age_days: int) -> int:
        return self._call("cleanup", 0, int(max_age_days))

    def recover_journals(self) -> int:
        return self._call("recover_journals", 0)

    def _call(self, name: str, fallback: Any, *args: Any) -> Any:
        try:
            return getattr(self._core, name)(*args)
        except Exception as error:  # noqa: BLE001
            record_error(name, error)
            return fallback
