"""TelemetryCollector: the recording API of the design document.

Each call goes straight to the C++ engine (one lock-free append); a failure of any kind is
recorded by the error handler and never raised into the host.
"""
from __future__ import annotations

from typing import Any, Optional

from . import _core
from ._core import SpanKind, TaskStatus
from .error_handler import record_error


def _clean(value: Any) -> Any:
    """A str as the engine takes it: text UTF-8 cannot hold (lone surrogates, as a
    'surrogateescape' decode leaves them) keeps the rest, '?' in its place."""
    return value.encode("utf-8", "replace").decode("utf-8") if isinstance(value, str) else value


class TelemetryCollector:
    """Records tasks, LLM calls, agent runs, tool calls and spans into the current session.
    A record without `parent_id` hangs under the step or tool call of an agent in progress in
    this context (an agent's tool recording its own calls), else where the engine puts it: the
    thread's innermost scope or the newest open task."""

    __slots__ = ("_core",)

    def __init__(self, _engine_collector: Optional[_core.TelemetryCollector] = None) -> None:
        self._core: Optional[_core.TelemetryCollector]
        try:
            self._core = _engine_collector or _core.TelemetryCollector()
        except Exception as error:  # noqa: BLE001
            record_error("collector", error)
            self._core = None

    def _engine(self, operation: str, failed: Any, method: str, *args: Any) -> Any:
        """self._core.method(*args); on failure `failed`, the error recorded under `operation`.
        Text the engine cannot take (lone surrogates) is cleaned and the call made again."""
        try:
            return getattr(self._core, method)(*args)
        except Exception as error:  # noqa: BLE001
            cleaned = tuple(_clean(arg) for arg in args)
            if isinstance(error, TypeError) and cleaned != args:
                return self._engine(operation, failed, method, *cleaned)
            record_error(operation, error)
            return failed

    def _parent(self, parent_id: int) -> int:
        if parent_id or self._core is None:  # no engine collector: the call itself fails, recorded
            return parent_id
        try:
            return _core.context_parent(self._core)
        except Exception as error:  # noqa: BLE001
            record_error("parent", error)
            return 0

    def start_task(self, task_id: str, description: str = "",
                   sop_category: Optional[str] = None) -> bool:
        return self.open_task(task_id, description, sop_category) != 0

    def open_task(self, task_id: str, description: str = "",
                  sop_category: Optional[str] = None, parent_id: int = 0) -> int:
        """start_task that returns the task's span id (0 when refused); `parent_id` nests the
        task under a span (0: the current context)."""
        return self._engine("start_task", 0, "open_task", str(task_id), str(description),
                            sop_category or "", parent_id)

    def end_task(self, task_id: str, status: TaskStatus = TaskStatus.COMPLETED) -> bool:
        return self._engine("end_task", False, "end_task", str(task_id), status)

    def record_llm_call(self, model: str, prompt_tokens: int, completion_tokens: int,
                        duration: float, cache_read_tokens: int = 0, cache_write_tokens: int = 0,
                        reasoning_tokens: int = 0, error: Optional[str] = None,
                        parent_id: int = 0) -> None:
        self._engine("record_llm_call", None, "record_llm_call", model, prompt_tokens,
                     completion_tokens, duration, cache_read_tokens, cache_write_tokens,
                     reasoning_tokens, error or "", self._parent(parent_id))

    def record_agent_execution(self, agent_type: str, agent_name: str, duration: float,
                               parent_id: int = 0) -> None:
        self._engine("record_agent_execution", None, "record_agent_execution", agent_type,
                     agent_name, duration, self._parent(parent_id))

    def record_tool_usage(self, tool_name: str, duration: float, success: bool = True,
                          error: Optional[str] = None, parent_id: int = 0) -> None:
        self._engine("record_tool_usage", None, "record_tool_usage", tool_name, duration, success,
                     error or "", self._parent(parent_id))

    def begin_span(self, kind: SpanKind, name: str, parent_id: int = 0, detail: str = "") -> int:
        """Opens a span; returns its id (0 when telemetry is off or on failure)."""
        return self._engine("begin_span", 0, "begin_span", kind, name, self._parent(parent_id), detail)

    def end_span(self, span_id: int, status: TaskStatus = TaskStatus.COMPLETED,
                 error: Optional[str] = None, prompt_tokens: int = 0, completion_tokens: int = 0,
                 cache_read_tokens: int = 0, cache_write_tokens: int = 0,
                 reasoning_tokens: int = 0) -> None:
        """Closes a span begun by begin_span. Its earliest end counts; the end of a span this
        session never began makes no span."""
        self._engine("end_span", None, "end_span", span_id, status, error or "", prompt_tokens,
                     completion_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens)

    def current_span(self) -> int:
        return self._engine("current_span", 0, "current_span")

    def is_enabled(self) -> bool:
        return self._engine("is_enabled", False, "is_enabled")
