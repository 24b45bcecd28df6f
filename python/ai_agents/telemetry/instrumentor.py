"""AgentInstrumentor: instruments smolagents without any change to the agents' code.

What is wrapped (see docs/python.md): MultiStepAgent.run (plain and streaming; managed agents
come through it too), every `_step_stream` and the planning step, `generate` and
`generate_stream` of every Model class that defines them — including user subclasses and
duck-typed models, patched when an agent using them first runs — `Tool.__call__` and every
override of it, and the thread pools smolagents runs code and parallel tool calls in (so spans
keep their parent). instrument() and uninstrument() are idempotent; uninstrument() puts every
original function object back.
"""
from __future__ import annotations

import atexit
import logging
import sys
import threading
from typing import Any, Callable

from . import _core
from . import _smolagents_wrappers as wrappers
from ._tracing import ContextThreadPoolExecutor, collector
from .error_handler import record_error

logger = logging.getLogger("ai_agents.telemetry")

OLDEST_SUPPORTED = (1, 17)

# method name -> wrapper factory, for the classes found on agents at run time
_MODEL_METHODS: dict[str, Callable[[Callable[..., Any]], Callable[..., Any]]] = {
    "generate": wrappers.wrap_generate,
    "generate_stream": wrappers.wrap_generate_stream,
}


_AGENT_METHODS = ("_step_stream", "_generate_planning_step")  # see _patch_agent_class

# Every method name prepare_agent may patch in a class.
_PATCHED_NAMES = frozenset({*_AGENT_METHODS, "__call__", *_MODEL_METHODS})


# The engine holds the instrumentor's _prepare_class (bind_prepare.cpp): let it go before
# the interpreter tears modules down.
atexit.register(_core.forget_class_checks)


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def _all_subclasses(cls: type) -> list[type]:
    seen: list[type] = []
    stack: list[type] = [cls]
    while stack:
        subclasses: list[type] = stack.pop().__subclasses__()
        for sub in subclasses:
            if sub not in seen:
                seen.append(sub)
                stack.append(sub)
    return seen


class AgentInstrumentor:
    """Patches smolagents in place; one instance per process (use instance())."""

    _instance: "AgentInstrumentor | None" = None

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._patches: list[tuple[Any, str, Any]] = []  # (owner, attribute, original)
        self._instrumented = False

    @classmethod
    def instance(cls) -> "AgentInstrumentor":
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def is_instrumented(self) -> bool:
        return self._instrumented

    def instrument(self) -> bool:
        """Instruments smolagents if it is installed; False (logged) when it cannot."""
        with self._lock:
            if self._instrumented:
                return True
            try:
                import smolagents  # noqa: F401
            except ImportError:
                logger.debug("smolagents is not installed: nothing to instrument")
                return False
            try:
                self._check_version(smolagents)
                self._patch_smolagents()
                self._instrumented = True
                logger.debug("instrumented smolagents %s", getattr(smolagents, "__version__", "?"))
                return True
            except Exception as error:  # noqa: BLE001
                record_error("instrument", error)
                self._restore()
                return False

    def uninstrument(self) -> None:
        with self._lock:
            self._restore()
            self._instrumented = False

    # -- internals ------------------------------------------------------------------------

    @staticmethod
    def _check_version(smolagents: Any) -> None:
        version = getattr(smolagents, "__version__", "0")
        if _version(version) < OLDEST_SUPPORTED:
            logger.warning("smolagents %s is older than 1.17, the oldest supported; "
                           "instrumenting anyway", version)

    def _patch(self, owner: Any, name: str, wrapper: Callable[[Any], Any]) -> None:
        original = owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name, None)
        if (original is None or wrappers.is_wrapped(original) or not callable(original)
                or isinstance(original, (staticmethod, classmethod))):
            return
        setattr(owner, name, wrapper(original))
        self._patches.append((owner, name, original))

    def _patch_smolagents(self) -> None:
        import smolagents.agents as agents
        import smolagents.models as models
        import smolagents.tools as tools

        collector()  # the C++ hooks record into the collector the Python wrappers use
        _core.set_class_checks(list(_AGENT_METHODS), list(_MODEL_METHODS), tools.Tool, self._prepare_class)
        self._patch(agents.MultiStepAgent, "run", wrappers.wrap_run)
        self._patch(agents.MultiStepAgent, "_finalize_step", wrappers.wrap_finalize_step)
        for cls in [agents.MultiStepAgent, *_all_subclasses(agents.MultiStepAgent)]:
            self._patch_agent_class(cls)
        for cls in [models.Model, *_all_subclasses(models.Model)]:
            self._patch_model_class(cls)
        for cls in [tools.Tool, *_all_subclasses(tools.Tool)]:
            self._patch(cls, "__call__", wrappers.wrap_tool_call)
        for module_name in ("smolagents.local_python_executor", "smolagents.agents"):
            module = sys.modules.get(module_name)
            if module is not None and "ThreadPoolExecutor" in vars(module):
                self._patch_module_global(module, "ThreadPoolExecutor", ContextThreadPoolExecutor)

    def _patch_module_global(self, module: Any, name: str, value: Any) -> None:
        original = vars(module)[name]
        if original is value:
            return
        setattr(module, name, value)
        self._patches.append((module, name, original))

    def _patch_agent_class(self, cls: type) -> None:
        self._patch(cls, "_step_stream", wrappers.wrap_step_stream)  # _AGENT_METHODS
        self._patch(cls, "_generate_planning_step", wrappers.wrap_planning_step)

    def _patch_model_class(self, cls: type) -> None:
        for name, factory in _MODEL_METHODS.items():
            self._patch(cls, name, factory)

    def prepare_agent(self, agent: Any) -> None:
        """At run time: patch the classes this agent uses that instrument() could not see —
        user subclasses defined later and duck-typed models. The engine looks up each patched
        method on the agent, its model and its tools (bind_prepare.cpp) and hands the class of
        one that is not hooked yet to _prepare_class."""
        _core.prepare_agent(agent)

    def _prepare_class(self, cls: type, role: str) -> None:
        """Patches the methods of `role` ("agent", "model" or "tool") in `cls` and its bases:
        only those, so a tool's own method named `generate` stays a plain method."""
        with self._lock:
            if not self._instrumented:
                return
            for klass in cls.__mro__[::-1]:  # bases first
                if klass is object or _PATCHED_NAMES.isdisjoint(klass.__dict__.keys()):
                    continue
                if role == "agent":
                    self._patch_agent_class(klass)
                elif role == "model":
                    self._patch_model_class(klass)
                elif "__call__" in klass.__dict__ and any(base.__name__ == "Tool" for base in klass.__mro__):
                    self._patch(klass, "__call__", wrappers.wrap_tool_call)

    def _restore(self) -> None:
        while self._patches:
            owner, name, original = self._patches.pop()
            try:
                setattr(owner, name, original)
            except Exception as error:  # noqa: BLE001
                record_error("uninstrument", error)
        _core.forget_class_checks()
