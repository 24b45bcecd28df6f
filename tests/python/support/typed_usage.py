"""The API as docs/python.md shows it, written as a user checked by `mypy --strict` would write it.
test_typing.py type-checks this file against the installed package and runs it."""
from __future__ import annotations

import asyncio
import sys
from datetime import datetime
from typing import Any, Coroutine, Optional

from ai_agents.telemetry import TaskStatus, TelemetryCollector, TelemetryManager, get_error_handler
from ai_agents.telemetry.data_store import TelemetryDataStore
from ai_agents.telemetry.error_handler import safe_telemetry_operation

if sys.version_info >= (3, 11):
    from typing import assert_type
else:  # checked on 3.11; on 3.10 it only runs
    def assert_type(value: object, _type: object) -> object:
        return value


@safe_telemetry_operation("ratio")
def ratio(total: int, count: int) -> float:
    return total / count


@safe_telemetry_operation("async ratio")
async def async_ratio(total: int, count: int) -> float:
    return total / count


def main(storage_dir: str) -> None:
    manager = TelemetryManager.get_instance()
    manager.initialize({"storage_dir": storage_dir, "max_file_age_days": 14})
    collector: TelemetryCollector = manager.get_collector()
    collector.start_task("task_123", "分析代码仓库", sop_category="repo_analysis")
    collector.record_llm_call(model="gpt-4o", prompt_tokens=100, completion_tokens=50, duration=2.5,
                              cache_read_tokens=60)
    collector.record_agent_execution(agent_type="supervisor", agent_name="RepoAnalysisAgent", duration=30.2)
    collector.record_tool_usage(tool_name="file_reader", duration=0.5)
    collector.end_task("task_123", TaskStatus.COMPLETED)

    session = manager.get_session_data()
    assert session is not None  # None only while telemetry is off
    total: int = session.total_tokens.total_tokens
    cost: Optional[float] = session.total_tokens.cost_estimate
    assert_type(session.start_time, datetime)
    assert_type(session.tasks[0].end_time, Optional[datetime])
    print(total, cost, session.total_tokens.model_breakdown["gpt-4o"].total_tokens,
          session.tasks[0].duration, session.tasks[0].agents[0].agent_name, session.tasks[0].tools[0].tool_name,
          session.start_time.isoformat(), len(session.to_json()) > 0)
    print(manager.get_storage_stats()["storage_path"], len(manager.get_all_session_ids()))
    stored = TelemetryDataStore(storage_dir).list_session_ids()
    print(len(stored), manager.cleanup_old_data(max_age_days=7))

    failed = ratio(1, 0)
    assert_type(failed, Optional[float])
    print("ratio", failed, get_error_handler().get_error_summary()["ratio"]["count"])
    pending = async_ratio(1, 0)
    assert_type(pending, Coroutine[Any, Any, Optional[float]])
    print("async ratio", asyncio.run(pending), get_error_handler().get_error_summary()["async ratio"]["count"])


if __name__ == "__main__":
    main(sys.argv[1])
