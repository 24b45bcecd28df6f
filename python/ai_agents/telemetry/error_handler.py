"""Fail-safe helpers: telemetry errors are recorded here and never reach the host.

The counts and messages live in the C++ engine's error handler, so errors of the engine and of
this Python front are summarised together.
"""
from __future__ import annotations

import functools
import inspect
import sys
from datetime import datetime, timezone
from typing import Any, AsyncGenerator, Callable, Coroutine, Generator, Optional, ParamSpec, Protocol, TypeVar, cast, overload

from . import _core

F = TypeVar("F", bound=Callable[..., Any])
P = ParamSpec("P")
R = TypeVar("R")
Y = TypeVar("Y")
S = TypeVar("S")


class SafeOperation(Protocol):
    """What safe_telemetry_operation(...) makes of a function: the same function, whose result is
    None when it failed (a generator's or coroutine's, for those)."""

    @overload
    def __call__(self, function: Callable[P, AsyncGenerator[Y, S]]) -> Callable[P, AsyncGenerator[Y, S]]: ...
    @overload
    def __call__(self, function: Callable[P, Generator[Y, S, R]]) -> Callable[P, Generator[Y, S, Optional[R]]]: ...
    @overload
    def __call__(  # type: ignore[overload-overlap]  # a coroutine function is a function too
        self, function: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, Optional[R]]]: ...
    @overload
    def __call__(self, function: Callable[P, R]) -> Callable[P, Optional[R]]: ...


def record_error(operation: str, error: BaseException | str) -> None:
    """Records a telemetry failure under `operation`; never raises."""
    try:
        message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        _core.record_error(str(operation), message)
    except Exception:  # noqa: BLE001 - the last line of defence must not raise either
        pass


def safe_telemetry_operation(operation: str) -> SafeOperation:
    """Decorator: the function's exceptions are recorded under `operation`; it returns None.

    Works on plain and async functions, generators and async generators (an exception while
    iterating is recorded and ends the iteration). Use it for telemetry code only — never around
    the host's own work, whose exceptions must pass unchanged.
    """

    def decorate(function: F) -> F:
        if inspect.isasyncgenfunction(function):

            @functools.wraps(function)
            async def async_generator_wrapper(*args: Any, **kwargs: Any) -> Any:
                try:
                    async for item in function(*args, **kwargs):
                        yield item
                except Exception as error:  # noqa: BLE001
                    record_error(operation, error)

            return async_generator_wrapper  # type: ignore[return-value]

        if inspect.isgeneratorfunction(function):

            @functools.wraps(function)
            def generator_wrapper(*args: Any, **kwargs: Any) -> Any:
                try:
                    return (yield from function(*args, **kwargs))
                except Exception as error:  # noqa: BLE001
                    record_error(operation, error)
                    return None

            return generator_wrapper  # type: ignore[return-value]

        if _is_coroutine_function(function):

            @functools.wraps(function)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                try:
                    return await function(*args, **kwargs)
                except Exception as error:  # noqa: BLE001
                    record_error(operation, error)
                    return None

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return function(*args, **kwargs)
            except Exception as error:  # noqa: BLE001
                record_error(operation, error)
                return None

        return wrapper  # type: ignore[return-value]

    return cast(SafeOperation, decorate)


def _is_coroutine_function(function: Any) -> bool:
    """inspect's answer, or asyncio's when a function carries its marker (AsyncMock does). asyncio
    is not imported for it: that alone would double the import time of this package."""
    if inspect.iscoroutinefunction(function):
        return True
    asyncio = sys.modules.get("asyncio")
    return asyncio is not None and asyncio.iscoroutinefunction(function)


class ErrorHandler:
    """The view on telemetry errors: counts by operation and their latest messages."""

    def get_error_summary(self) -> dict[str, dict[str, Any]]:
        """{operation: {"count", "recent_messages", "last_time"}}; empty when all is well."""
        try:
            return {
                item["operation"]: {
                    "count": item["count"],
                    "recent_messages": list(item["recent_messages"]),
                    "last_time": datetime.fromtimestamp(item["last_time_us"] / 1e6, timezone.utc)
                    if item["last_time_us"]
                    else None,
                }
                for item in _core.get_error_summary()
            }
        except Exception:  # noqa: BLE001
            return {}

    def total_errors(self) -> int:
        try:
            return int(_core.total_errors())
        except Exception:  # noqa: BLE001
            return 0

    def reset_error_state(self) -> None:
        try:
            _core.reset_error_state()
        except Exception:  # noqa: BLE001
            pass


_handler = ErrorHandler()


def get_error_handler() -> ErrorHandler:
    return _handler
