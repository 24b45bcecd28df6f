"""SOP Agents Telemetry — zero-configuration telemetry for smolagents-based SOP agents.

    from ai_agents.telemetry import TelemetryManager, TelemetryCollector, TaskStatus

Importing this package starts the session and instruments smolagents (when installed); the
session file is written at interpreter exit. The engine is C++ (`_core`).
"""
from . import types
from ._core import SpanKind, TaskStatus
from .collector import TelemetryCollector
from .data_store import TelemetryDataStore
from .error_handler import ErrorHandler, get_error_handler, safe_telemetry_operation
from .instrumentor import AgentInstrumentor
from .manager import TelemetryManager
from .types import (AgentExecution, CodeMetrics, EnvironmentInfo, LLMCall, TaskExecution,
                    TelemetrySession, TokenUsage, ToolExecution)
from . import _bootstrap

__all__ = [
    "AgentExecution", "AgentInstrumentor", "CodeMetrics", "EnvironmentInfo", "ErrorHandler",
    "LLMCall", "SpanKind", "TaskExecution", "TaskStatus", "TelemetryCollector",
    "TelemetryDataStore", "TelemetryManager", "TelemetrySession", "TokenUsage", "ToolExecution",
    "get_error_handler", "safe_telemetry_operation", "types",
]
__version__ = "0.1.0"

_bootstrap.start()
