"""Writes real session files with the engine (through the Python package), each with known
content, into the directory given on the command line: the three named in DEFAULT, or those
named after it. Run in its own interpreter."""
from __future__ import annotations

import os
import sys
import time

from ai_agents.telemetry import SpanKind, TaskStatus, _core
from ai_agents.telemetry.manager import config_from_mapping


def session(directory: str, record) -> None:
    engine = _core.TelemetryManager()
    engine.initialize(config_from_mapping({"storage_dir": directory, "code_metrics": False,
                                           "auto_cleanup": False}))
    record(engine.get_collector())
    if getattr(record, "killed", False):  # as a killed process leaves it: flushed while running
        engine.flush_data()
        os._exit(0)
    engine.shutdown()


def healthy(c) -> None:
    c.start_task("t-ok", "summarise the README", "docs")
    c.record_agent_execution("micro", "reader_agent", 0.4)
    c.record_llm_call("gpt-4o-mini", 1000, 200, 0.3)
    c.record_llm_call("gpt-4o-mini", 1200, 250, 0.35)
    c.record_tool_usage("grep", 0.05, True, "")
    c.end_task("t-ok", TaskStatus.COMPLETED)


def troubled(c) -> None:
    c.start_task("t-fail", "fix the build", "repair")
    c.record_agent_execution("supervisor", "fixer", 2.5)
    for prompt in (1000, 2000, 3500, 5000):  # the prompt grows; outputs stay short
        c.record_llm_call("gpt-4o", prompt, 30, 0.2)
    c.record_tool_usage("flaky_api", 0.1, False, "TimeoutError: upstream")
    c.record_tool_usage("flaky_api", 0.1, False, "TimeoutError: upstream")
    c.record_tool_usage("flaky_api", 0.1, True, "")
    c.record_tool_usage("slow_search", 1.5, True, "")
    c.end_task("t-fail", TaskStatus.FAILED)
    c.start_task("t-limit", "endless loop")
    c.record_llm_call("my-local-model", 10, 5, 0.01)
    c.end_task("t-limit", TaskStatus.MAX_STEPS)


def chinese(c) -> None:
    c.start_task("t-zh", "分析这个代码仓库的架构", "repo_analysis")
    c.record_llm_call("gpt-4o-mini", 300, 40, 0.1)
    c.record_tool_usage('read,"file"', 0.02, True, "")
    c.end_task("t-zh", TaskStatus.COMPLETED)


def cached(c) -> None:
    """Prompt caching: reads and writes are part of the prompt, each with its own price."""
    c.start_task("t-cache", "answer from a long cached prompt", "docs")
    c.record_llm_call("claude-sonnet-4-5", 10_000, 500, 1.0, cache_read_tokens=6_000, cache_write_tokens=3_000)
    c.record_llm_call("claude-sonnet-4-5", 10_000, 400, 0.9, cache_read_tokens=9_000)
    c.end_task("t-cache", TaskStatus.COMPLETED)


def failed_step(c) -> None:
    """An agent step that failed (code that raised) while every call in it succeeded."""
    c.start_task("t-step", "divide", "math")
    step = c.begin_span(SpanKind.STEP, "step 1", detail="action")
    c.record_llm_call("gpt-4o-mini", 100, 10, 0.1, parent_id=step)
    c.end_span(step, TaskStatus.FAILED, "AgentExecutionError: ZeroDivisionError: division by zero")
    step = c.begin_span(SpanKind.STEP, "step 2", detail="action")  # failed by its tool: one error
    c.record_tool_usage("flaky_api", 0.1, False, "TimeoutError: upstream", parent_id=step)
    c.end_span(step, TaskStatus.FAILED, "AgentToolExecutionError: TimeoutError: upstream")
    c.end_task("t-step", TaskStatus.COMPLETED)


def open_task(c) -> None:
    """A task never ended, in a process killed (an orderly exit would end it cancelled): it runs
    to the session's end."""
    c.start_task("t-open", "left open")
    c.record_llm_call("gpt-4o", 10, 1, 0.01)
    time.sleep(0.05)


open_task.killed = True  # type: ignore[attr-defined]


DEFAULT = ("healthy", "troubled", "chinese")

if __name__ == "__main__":
    for name in sys.argv[2:] or DEFAULT:
        session(sys.argv[1], globals()[name])
