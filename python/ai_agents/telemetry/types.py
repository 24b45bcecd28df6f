"""The session data types of the design document, backed by the C++ engine's own objects.

A TelemetrySession is a fold of the engine's event log; every total in it is derived. Times are
timezone-aware UTC datetimes and durations float seconds.
"""
from ._core import (
    AgentExecution,
    CodeMetrics,
    EnvironmentInfo,
    LLMCall,
    Span,
    SpanKind,
    TaskExecution,
    TaskStatus,
    TelemetrySession,
    TokenUsage,
    ToolExecution,
)

__all__ = [
    "AgentExecution",
    "CodeMetrics",
    "EnvironmentInfo",
    "LLMCall",
    "Span",
    "SpanKind",
    "TaskExecution",
    "TaskStatus",
    "TelemetrySession",
    "TokenUsage",
    "ToolExecution",
]
