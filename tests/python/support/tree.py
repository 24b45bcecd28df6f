"""Helpers to read a session's span tree in tests."""
from __future__ import annotations

from ai_agents.telemetry import SpanKind, get_error_handler


def spans_of(session, kind=None, name=None):
    return [s for s in session.spans
            if (kind is None or s.kind == kind) and (name is None or s.name == name)]


def one(session, kind, name=None):
    found = spans_of(session, kind, name)
    assert len(found) == 1, f"expected one {kind} {name!r}, found {[s.name for s in found]}"
    return found[0]


def children(session, parent, kind=None):
    return [s for s in session.spans
            if s.parent_id == parent.span_id and (kind is None or s.kind == kind)]


def shape(session, span=None, depth=0):
    """The tree as indented lines 'kind name [status]', for exact comparisons."""
    roots = [s for s in session.spans if s.parent_id == 0] if span is None else children(session, span)
    lines = []
    for node in roots:
        lines.append("  " * depth + f"{node.kind.name.lower()} {node.name} [{node.status.name.lower()}]")
        lines.extend(shape(session, node, depth + 1))
    return lines


def recorded_errors(operation):
    """The recent telemetry error messages recorded under `operation`, joined."""
    summary = get_error_handler().get_error_summary().get(operation, {})
    return " ".join(summary.get("recent_messages", []))


__all__ = ["SpanKind", "spans_of", "one", "children", "shape", "recorded_errors"]
