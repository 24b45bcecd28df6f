"""The wrappers that AgentInstrumentor puts around smolagents' methods.

Each wrapper calls the original exactly once with the arguments it was given and returns its
result (or lets its exception through) unchanged; the telemetry around it runs in its own
try/except and reports failures to the error handler.
"""
from __future__ import annotations

import functools
import inspect
import time
from typing import Any, Callable, Optional

from . import _core
from ._core import HookKind, SpanKind, TaskStatus
from ._tracing import collector, current_span, error_text, status_of, traced_generator
from .error_handler import record_error


def mark(wrapper: Callable[..., Any], original: Callable[..., Any]) -> Callable[..., Any]:
    functools.update_wrapper(wrapper, original)
    wrapper.__sop_telemetry_original__ = original  # type: ignore[attr-defined]
    return wrapper


def is_wrapped(function: Any) -> bool:
    return hasattr(function, "__sop_telemetry_original__")


# --- LLM calls -------------------------------------------------------------------------------

_MAX_TOKENS = 2**63 - 1


def model_name(model: Any) -> str:
    name = getattr(model, "model_id", None)
    return name if isinstance(name, str) and name else type(model).__name__


def wrap_generate(original: Callable[..., Any]) -> Callable[..., Any]:
    """`generate` of a model: one LLM call, with its tokens (a C++ hook, see bind_hooks.cpp)."""
    return _core.make_hook(original, HookKind.GENERATE)


def wrap_generate_stream(original: Callable[..., Any]) -> Callable[..., Any]:
    def generate_stream(self: Any, *args: Any, **kwargs: Any) -> Any:
        telemetry = collector()
        if _core.inside_llm_call() or not telemetry.is_enabled():
            return original(self, *args, **kwargs)
        previous = _core.set_inside_llm_call(True)
        start = time.perf_counter()
        try:
            stream = original(self, *args, **kwargs)
        except BaseException as error:
            _record_unstreamed(telemetry, self, time.perf_counter() - start, None, error)
            raise
        finally:
            _core.set_inside_llm_call(previous)
        if _traceable(stream):
            return _traced_stream(telemetry, self, stream)
        _record_unstreamed(telemetry, self, time.perf_counter() - start, stream)
        return stream  # a buffered list of deltas, an iterator of the host's own: as it is

    return mark(generate_stream, original)


def _traceable(stream: Any) -> bool:
    """A generator, or a built-in iterator (iter(list), map, itertools): only iteration to
    offer, so a generator in its place changes nothing for the host. An iterator class of the
    host's own may have more (attributes, methods) and is not replaced."""
    if inspect.isgenerator(stream):
        return True
    kind = type(stream)
    return hasattr(kind, "__next__") and kind.__module__ in ("builtins", "itertools")


def _add_usage(totals: list[int], delta: Any) -> None:
    usage = getattr(delta, "token_usage", None)
    if usage is not None:  # read as the C++ hooks read replies, summed within the engine's range
        totals[0] = max(min(totals[0] + _core.token_field(usage, "input_tokens"), _MAX_TOKENS), -_MAX_TOKENS)
        totals[1] = max(min(totals[1] + _core.token_field(usage, "output_tokens"), _MAX_TOKENS), -_MAX_TOKENS)


def _record_unstreamed(telemetry: Any, model: Any, duration: float, result: Any,
                       error: Optional[BaseException] = None) -> None:
    """An LLM call whose generate_stream raised, or returned nothing _traced_stream can stand in
    for, recorded now (it took `duration`): with the usage of the deltas of a list or tuple
    (read without changing it). An iterator class of the host's own is not read (its items are
    the host's): the call is kept without tokens, and that is a telemetry error."""
    totals = [0, 0]
    for delta in result if isinstance(result, (list, tuple)) else ():
        try:
            _add_usage(totals, delta)
        except Exception as failure:  # noqa: BLE001 - telemetry must not break the call
            record_error("llm_call", failure)
    if result is not None and not isinstance(result, (list, tuple)):
        record_error("llm_call", f"generate_stream returned a {type(result).__name__}, not a generator "
                                 "or a built-in iterator: its tokens are not counted")
    telemetry.record_llm_call(model_name(model), totals[0], totals[1], duration,
                              error=error_text(error) if error is not None else None,
                              parent_id=_core.current_parent())


def _traced_stream(telemetry: Any, model: Any, stream: Any) -> Any:
    # Usage arrives on the deltas, either once at the end or a little on every token: sum it.
    totals = [0, 0]

    def finish(span: int, error: Optional[BaseException]) -> None:
        if error is None or isinstance(error, GeneratorExit):
            telemetry.end_span(span, TaskStatus.COMPLETED, None, totals[0], totals[1])
        else:
            telemetry.end_span(span, status_of(error), error_text(error), totals[0], totals[1])

    def guarded() -> Any:
        iterator = iter(stream)
        while True:
            previous = _core.set_inside_llm_call(True)  # this thread, while the model runs
            try:
                item = next(iterator)
            except StopIteration:
                return
            finally:
                _core.set_inside_llm_call(previous)
            yield item

    return traced_generator(guarded(), SpanKind.LLM, model_name(model), "stream",
                            on_item=lambda delta: _add_usage(totals, delta), on_end=finish)


# --- tools -----------------------------------------------------------------------------------

def wrap_tool_call(original: Callable[..., Any]) -> Callable[..., Any]:
    """`Tool.__call__`: a tool span, current while the tool runs (a C++ hook)."""
    return _core.make_hook(original, HookKind.TOOL_CALL)


# --- agent runs ------------------------------------------------------------------------------
# The span of a run, and the task of an outermost run, are opened and closed by the engine
# (_core.begin_agent_run / end_agent_run, bind_runs.cpp).

def wrap_run(original: Callable[..., Any]) -> Callable[..., Any]:
    """MultiStepAgent.run: a C++ hook (call_agent_run in bind_runs.cpp) prepares the agent's
    classes and opens and closes the run around the call; a streamed run comes to _streamed_run."""
    return _core.make_hook(original, HookKind.AGENT_RUN, _streamed_run)


def _streamed_run(original: Callable[..., Any], agent: Any, task: Any, *args: Any, **kwargs: Any) -> Any:
    """run(stream=True): smolagents sets the run up now and steps it as the generator is
    consumed. The run's span opens at the first item, so a generator never consumed leaves
    nothing open; a setup that raises is a failed run."""
    try:
        steps = original(agent, task, *args, **kwargs)
    except BaseException as error:
        _core.end_agent_run(agent, _core.begin_agent_run(agent, task), error)
        raise
    return _traced_run_stream(steps, agent, task)


def _traced_run_stream(steps: Any, agent: Any, task: Any) -> Any:
    def run_in_span() -> Any:
        iterator = iter(steps)
        error: Optional[BaseException] = None
        span = _core.begin_agent_run(agent, task)
        inner = span  # the span current inside the run, carried from item to item
        ended = False
        try:
            while True:
                previous = current_span.get()
                current_span.set(inner or previous)
                try:
                    item = next(iterator)
                except StopIteration:
                    return
                finally:
                    inner = current_span.get()
                    current_span.set(previous)
                if not ended and type(item).__name__ == "FinalAnswerStep":
                    # The last thing a run does: it is over now, with its outcome, whether the
                    # consumer then reads on, leaves (`break`) or keeps the stream to the end.
                    ended = True
                    _core.end_agent_run(agent, span, None)
                yield item
        except BaseException as failure:
            error = failure
            if isinstance(failure, GeneratorExit):
                close = getattr(iterator, "close", None)
                if close is not None:
                    previous = current_span.get()
                    current_span.set(inner or previous)
                    try:
                        close()
                    finally:
                        current_span.set(previous)
            raise
        finally:
            if not ended and isinstance(error, GeneratorExit):
                _core.end_agent_run(agent, span, None, TaskStatus.CANCELLED)  # stopped early
            elif not ended:
                _core.end_agent_run(agent, span, error)

    return run_in_span()


# --- steps -------------------------------------------------------------------------------
# A step span opens when smolagents starts the step (the step generator is created) and closes
# in `_finalize_step`, where the step arrives complete with its error. While it is open it is
# the current span, so the step's LLM and tool calls hang under it. No generator is wrapped.
# These run every step, so they are C++ hooks (bind_hooks.cpp).

def wrap_step_stream(original: Callable[..., Any]) -> Callable[..., Any]:
    return _core.make_hook(original, HookKind.ACTION_STEP)


def wrap_planning_step(original: Callable[..., Any]) -> Callable[..., Any]:
    return _core.make_hook(original, HookKind.PLANNING_STEP)


def wrap_finalize_step(original: Callable[..., Any]) -> Callable[..., Any]:
    return _core.make_hook(original, HookKind.FINALIZE_STEP)
