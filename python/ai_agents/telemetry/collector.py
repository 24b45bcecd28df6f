"""TelemetryCollector: the recording API of the design document.

Each call goes straight to the C++ engine (one lock-free append); a failure of any kind is
recorded by the error handler and never raised into the host.
"""
from __future__ import annotations

from typing import Optional

from . import _core
from ._core import SpanKind, TaskStatus
from .error_handler import record_error


class TelemetryCollector:
    """Records tasks, LLM calls, agent runs, tool calls and spans into the current session.
    A record without `parent_id` hangs under the step or tool call of an agent in progress in
    this context (an agent's tool recording its own calls), else where the engine puts it: the
    thread's innermost scope or the newest open task."""

    __slots__ = ("_core",)

    def __init__(self, _engine_collector: Optional[_core.TelemetryCollector] = None) -> None:
        try:
            self._core = _engine_collector or _core.TelemetryCollector()
        except Exception as error:  # noqa: BLE001
            record_error("collector", error)
            self._core = None

    def start_task(self, task_id: str, description: str = "",
                   sop_category: Optional[str] = None) -> bool:
        return self.open_task(task_id, description, sop_category) != 0

    def open_task(self, task_id: str, description: str = "",
                  sop_category: Optional[str] = None, parent_id: int = 0) -> int:
        """start_task that returns the task's span id (0 when refused); `parent_id` nests the
        task under a span (0: the current context)."""
        try:
            return self._core.open_task(str(task_id), str(description), sop_category or "", parent_id)
        except Exception as error:  # noqa: BLE001
            record_error("start_task", error)
            return 0

    def end_task(self, task_id: str, status: TaskStatus = TaskStatus.COMPLETED) -> bool:
        try:
            return self._core.end_task(str(task_id), status)
        except Exception as error:  # noqa: BLE001
            record_error("end_task", error)
            return False

    def record_llm_call(self, model: str, prompt_tokens: int, completion_tokens: int,
                        duration: float, cache_read_tokens: int = 0, cache_write_tokens: int = 0,
                        reasoning_tokens: int = 0, error: Optional[str] = None,
                        parent_id: int = 0) -> None:
        try:
            self._core.record_llm_call(model, prompt_tokens, completion_tokens, duration,
                                       cache_read_tokens, cache_write_tokens, reasoning_tokens,
                                       error or "", parent_id or _core.context_parent(self._core))
        except Exception as failure:  # noqa: BLE001
            record_error("record_llm_call", failure)

    def record_agent_execution(self, agent_type: str, agent_name: str, duration: float,
                               parent_id: int = 0) -> None:
        try:
            self._core.record_agent_execution(agent_type, agent_name, duration,
                                              parent_id or _core.context_parent(self._core))
        except Exception as error:  # noqa: BLE001
            record_error("record_agent_execution", error)

    def record_tool_usage(self, tool_name: str, duration: float, success: bool = True,
                          error: Optional[str] = None, parent_id: int = 0) -> None:
        try:
            self._core.record_tool_usage(tool_name, duration, success, error or "",
                                         parent_id or _core.context_parent(self._core))
        except Exception as failure:  # noqa: BLE001
            record_error("record_tool_usage", failure)

    def begin_span(self, kind: SpanKind, name: str, parent_id: int = 0, detail: str = "") -> int:
        """Opens a span; returns its id (0 when telemetry is off or on failure)."""
        try:
            return self._core.begin_span(kind, name, parent_id or _core.context_parent(self._core), detail)
        except Exception as error:  # noqa: BLE001
            record_error("begin_span", error)
            return 0

    def end_span(self, span_id: int, status: TaskStatus = TaskStatus.COMPLETED,
                 error: Optional[str] = None, prompt_tokens: int = 0, completion_tokens: int = 0,
                 cache_read_tokens: int = 0, cache_write_tokens: int = 0,
                 reasoning_tokens: int = 0) -> None:
        try:
            self._core.end_span(span_id, status, error or "", prompt_tokens, completion_tokens,
                                cache_read_tokens, cache_write_tokens, reasoning_tokens)
        except Exception as failure:  # noqa: BLE001
            record_error("end_span", failure)

    def current_span(self) -> int:
        try:
            return self._core.current_span()
        except Exception as error:  # noqa: BLE001
            record_error("current_span", error)
            return 0

    def is_enabled(self) -> bool:
        try:
            return self._core.is_enabled()
        except Exception as error:  # noqa: BLE001
            record_error("is_enabled", error)
            return False
