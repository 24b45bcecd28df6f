"""Span bookkeeping shared by the smolagents wrappers.

The current span lives in a ContextVar, so it follows asyncio tasks and — with the
context-carrying thread pool below — smolagents' worker threads. Generators never keep a
ContextVar token across a yield: the value is set around each step of the generator and put
back by value, so a generator closed late or from elsewhere cannot fail to "detach".
Steps and tool calls (C++ hooks) leave the ContextVar alone: a span begun while one is open
takes its parent from `_core.current_parent()`, which finds it.
"""
from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Generator, Iterator, Optional

from . import _core
from ._core import SpanKind, TaskStatus
from .collector import TelemetryCollector
from .error_handler import record_error

# Shared with the engine's C++ hooks (bind_hooks.cpp), which read and set it too.
current_span: contextvars.ContextVar[int] = _core.current_span_var

_collector: Optional[TelemetryCollector] = None


def collector() -> TelemetryCollector:
    if _collector is None:
        use_collector(TelemetryCollector())
    return _collector  # type: ignore[return-value]


def use_collector(telemetry: Optional[TelemetryCollector]) -> None:
    """The collector the instrumentation records into — the Python wrappers and the C++ hooks
    alike. None forgets it (the manager was re-created, e.g. in tests)."""
    global _collector
    _collector = telemetry
    try:
        _core.set_hook_collector(telemetry._core if telemetry is not None else None)
    except Exception as error:  # noqa: BLE001 - e.g. a stand-in engine collector in tests
        _core.set_hook_collector(None)
        record_error("collector", error)


def reset_collector() -> None:
    use_collector(None)


def error_text(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def status_of(error: BaseException) -> TaskStatus:
    if isinstance(error, (KeyboardInterrupt, GeneratorExit)):
        return TaskStatus.CANCELLED
    return TaskStatus.FAILED


# How a smolagents run that returned ended (MAX_STEPS or COMPLETED): the engine's reading,
# the same one that closes instrumented runs (bind_runs.cpp).
run_outcome = _core.run_outcome


def is_final_answer(error: BaseException) -> bool:
    """smolagents ends CodeAgent code with FinalAnswerException: a success, not a failure."""
    return type(error).__name__ == "FinalAnswerException"


def traced_generator(generator: Iterator[Any], kind: SpanKind, name: str, detail: str = "",
                     on_item: Optional[Callable[[Any], None]] = None,
                     on_end: Optional[Callable[[int, Optional[BaseException]], None]] = None
                     ) -> Generator[Any, Any, Any]:
    """Runs `generator` inside a span that opens at the first item and closes when it ends,
    fails, or is closed early. `on_end(span_id, error)` replaces the default end."""
    telemetry = collector()
    span = 0
    error: Optional[BaseException] = None
    try:
        try:
            span = telemetry.begin_span(kind, name, _core.current_parent(), detail)
        except Exception as failure:  # noqa: BLE001 - telemetry must not break the run
            record_error("span", failure)
        while True:
            previous = current_span.get()
            current_span.set(span or previous)
            try:
                item = next(generator)
            except StopIteration as stop:
                return stop.value
            finally:
                current_span.set(previous)
            if on_item is not None:
                try:
                    on_item(item)
                except Exception as failure:  # noqa: BLE001
                    record_error("span", failure)
            yield item
    except BaseException as failure:
        error = failure
        raise
    finally:
        close = getattr(generator, "close", None)
        if isinstance(error, GeneratorExit) and close is not None:
            close()
        if span:
            try:
                if on_end is not None:
                    on_end(span, error)
                elif error is None or is_final_answer(error):
                    telemetry.end_span(span)
                else:
                    telemetry.end_span(span, status_of(error), error_text(error))
            except Exception as failure:  # noqa: BLE001
                record_error("span", failure)


class ContextThreadPoolExecutor(ThreadPoolExecutor):
    """A ThreadPoolExecutor whose tasks run in a copy of the submitter's context, so spans keep
    their parent in smolagents' code-execution and parallel-tool threads. `submit` is a C++ hook
    (bind_hooks.cpp): submit(copy_context().run, fn, *args, **kwargs) without a Python frame."""

    submit = _core.make_hook(ThreadPoolExecutor.submit, _core.HookKind.SUBMIT)
