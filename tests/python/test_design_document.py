"""Every telemetry example of the design document (spec/seed-design-zh.md), run as written
against the process-wide manager. Only paths are changed, to stay inside a temp directory."""
import json
import logging

from ai_agents.telemetry import TaskStatus, TelemetryCollector, TelemetryManager, get_error_handler
from ai_agents.telemetry.error_handler import safe_telemetry_operation


def test_manager_usage():
    manager = TelemetryManager.get_instance()
    manager.initialize()
    collector = manager.get_collector()
    manager.flush_data()
    session_data = manager.get_session_data()
    stats = manager.get_storage_stats()
    assert collector.is_enabled()
    assert session_data.session_id == manager.session_id
    assert stats["total_files"] >= 1  # flush_data wrote the session file


def test_collector_core_methods_and_manual_collection():
    collector = TelemetryCollector()
    collector.start_task("task_123", "分析代码仓库")
    collector.end_task("task_123", TaskStatus.COMPLETED)
    collector.record_llm_call(model="gpt-4", prompt_tokens=100, completion_tokens=50, duration=2.5)
    collector.record_agent_execution(agent_type="supervisor", agent_name="RepoAnalysisAgent",
                                     duration=30.2)
    collector.record_tool_usage(tool_name="file_reader", duration=0.5)

    manager = TelemetryManager.get_instance()
    collector = manager.get_collector()
    collector.start_task("custom_task", "自定义任务")
    collector.record_llm_call(model="gpt-4", prompt_tokens=150, completion_tokens=75, duration=3.2)
    collector.record_tool_usage("file_reader", 0.8)
    collector.end_task("custom_task", TaskStatus.COMPLETED)

    session = manager.get_session_data()
    task = [t for t in session.tasks if t.task_id == "custom_task"][0]
    assert task.description == "自定义任务"
    assert task.status == TaskStatus.COMPLETED
    assert task.llm_calls[0].prompt_tokens == 150
    assert task.tools[0].tool_name == "file_reader"
    assert abs(task.tools[0].duration - 0.8) < 1e-3
    assert session.total_tokens.model_breakdown["gpt-4"].total_tokens >= 375


def test_statistics_example(capsys):
    manager = TelemetryManager.get_instance()
    collector = manager.get_collector()  # noqa: F841 - an active collector to count
    manager.flush_data()
    stats = manager.get_storage_stats()
    print(f"存储路径: {stats['storage_path']}")
    print(f"活跃收集器: {stats['active_collectors']}")
    print(f"总文件数: {stats['total_files']}")
    session_ids = manager.get_all_session_ids()
    print(f"历史会话: {len(session_ids)}")
    for session_id in session_ids[-5:]:
        session = manager.get_session_data(session_id)
        if session:
            print(f"会话 {session_id}: {len(session.tasks)} 个任务")
    listed = [line.split()[1].rstrip(":") for line in capsys.readouterr().out.splitlines()
              if line.startswith("会话 ")]
    assert listed == session_ids[-5:]
    assert manager.session_id in session_ids
    assert stats["active_collectors"] >= 1


def test_configuration_disable_and_troubleshooting(tmp_path, monkeypatch):
    monkeypatch.delenv("SOP_TELEMETRY_DIR")  # the environment would win over storage_dir
    manager = TelemetryManager.get_instance()
    original_dir = manager.get_storage_stats()["storage_path"]
    config = {
        "enabled": True,
        "storage_dir": str(tmp_path / "custom"),
        "max_file_age_days": 14,
        "auto_cleanup": True,
    }
    manager.initialize(config)
    assert manager.get_storage_stats()["storage_path"] == str(tmp_path / "custom")
    manager.disable_telemetry()
    assert manager.is_enabled() is False
    manager.enable_telemetry()
    print(f"遥测状态: {manager.is_enabled()}")
    cleaned = manager.cleanup_old_data(max_age_days=7)
    print(f"清理了 {cleaned} 个文件")
    assert cleaned == 0
    manager.initialize({"flush_interval": 600, "max_memory_sessions": 20})
    assert manager._core.config().flush_interval == 600
    assert manager._core.config().max_memory_sessions == 20
    manager.initialize({"storage_dir": original_dir, "flush_interval": 1})


def analyze_token_usage(session):
    total_tokens = session.total_tokens
    print(f"总令牌使用: {total_tokens.total_tokens}")
    print(f"提示令牌: {total_tokens.prompt_tokens}")
    print(f"完成令牌: {total_tokens.completion_tokens}")
    for model, usage in total_tokens.model_breakdown.items():
        print(f"{model}: {usage.total_tokens} 令牌")
    if total_tokens.cost_estimate:
        print(f"估算成本: ${total_tokens.cost_estimate:.4f}")


def analyze_performance(session):
    print(f"总执行时间: {session.total_duration:.2f}秒")
    for task in session.tasks:
        print(f"任务 {task.task_id}: {task.duration:.2f}秒")
        for agent in task.agents:
            print(f"  {agent.agent_name}: {agent.duration:.2f}秒")
        for tool in task.tools:
            print(f"  工具 {tool.tool_name}: {tool.duration:.2f}秒")


def export_session_data(session_id: str, output_file: str):
    manager = TelemetryManager.get_instance()
    session = manager.get_session_data(session_id)
    if session:
        with open(output_file, "w", encoding="utf-8") as f:
            f.write(session.to_json())
        print(f"会话数据已导出到: {output_file}")
    else:
        print(f"未找到会话: {session_id}")


def test_analysis_and_export_examples(tmp_path, capsys):
    manager = TelemetryManager.get_instance()
    collector = manager.get_collector()
    collector.start_task("analysis", "分析")
    collector.record_llm_call(model="gpt-4o", prompt_tokens=1000, completion_tokens=100, duration=1)
    collector.record_agent_execution("micro", "search_agent", 1.5)
    collector.end_task("analysis", TaskStatus.COMPLETED)
    session = manager.get_session_data()
    analyze_token_usage(session)
    analyze_performance(session)
    export_session_data(session.session_id, str(tmp_path / "out.json"))
    export_session_data("no-such-session", str(tmp_path / "none.json"))
    out = capsys.readouterr().out
    assert "gpt-4o: 1100 令牌" in out
    assert "估算成本: $" in out
    assert "  search_agent: 1.50秒" in out
    assert "未找到会话: no-such-session" in out
    exported = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert exported["session_id"] == session.session_id
    assert not (tmp_path / "none.json").exists()


def test_error_handling_examples():
    error_handler = get_error_handler()
    error_handler.reset_error_state()

    @safe_telemetry_operation("custom_operation")
    def my_telemetry_function():
        raise KeyError("boom")

    assert my_telemetry_function() is None  # never raises
    error_summary = error_handler.get_error_summary()
    print(f"遥测错误数量: {len(error_summary)}")
    assert error_summary["custom_operation"]["count"] == 1
    assert "KeyError" in error_summary["custom_operation"]["recent_messages"][0]
    error_handler.reset_error_state()
    assert error_handler.get_error_summary() == {}


def test_debug_logging_shows_the_engine_diagnostics(caplog, tmp_path):
    logging.getLogger("ai_agents.telemetry").setLevel(logging.DEBUG)
    try:
        with caplog.at_level(logging.DEBUG, logger="ai_agents.telemetry"):
            TelemetryManager.get_instance().initialize({"max_file_age_days": -1, "bogus": 1})
            TelemetryManager.get_instance().flush_data()
        messages = [r.getMessage() for r in caplog.records if r.name == "ai_agents.telemetry"]
        assert any("max_file_age_days must be >= 1" in m for m in messages)  # from C++
        assert any("unknown telemetry config key 'bogus'" in m for m in messages)  # from Python
    finally:
        logging.getLogger("ai_agents.telemetry").setLevel(logging.NOTSET)


# --- the integration examples (自动集成 / 使用示例), on the reference host, offline ----------
# The model comes from the environment, as a user would configure it: a recorded replay.

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from ai_agents.models import ReplayScript  # noqa: E402

REPLAY = Path(__file__).parent / "support" / "replay"
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def replay(monkeypatch):
    def use(script: Path) -> None:
        ReplayScript.rewind_all()
        monkeypatch.setenv("SOP_AGENTS_MODEL", f"replay:{script}")
    yield use
    ReplayScript.rewind_all()


def test_supervisor_integration_example(replay):
    replay(REPLAY / "one_answer.json")
    from ai_agents.supervisor_agents.base_supervisor_agent import BaseSupervisorAgent

    class MyCustomSupervisorAgent(BaseSupervisorAgent):
        # 遥测自动启用，无需额外代码
        pass

    # 使用时自动收集遥测数据
    agent = MyCustomSupervisorAgent()
    result = agent.run("执行任务")  # 自动记录执行时间、LLM调用等

    assert result == "任务完成"
    task = TelemetryManager.get_instance().get_session_data().tasks[-1]
    assert task.description == "执行任务" and task.llm_calls[0].prompt_tokens == 120


def test_micro_agent_integration_example(replay):
    replay(REPLAY / "one_answer.json")
    from ai_agents.micro_agents.base_micro_agent import BaseMicroAgent

    class MyCustomMicroAgent(BaseMicroAgent):
        # 遥测自动启用，无需额外代码
        pass

    # 通过get_code_agent()获取的智能体自动包含遥测
    agent = MyCustomMicroAgent()
    code_agent = agent.get_code_agent()  # 自动插桩

    assert code_agent.run("回答") == "任务完成"
    assert TelemetryManager.get_instance().get_session_data().tasks[-1].agents[0].agent_name == "micro_agent"


def test_yaml_agent_example(replay):
    replay(REPLAY / "one_answer.json")
    from ai_agents import create_agent_from_yaml

    # 自动包含遥测功能
    agent = create_agent_from_yaml("search_agent")

    assert [tool.name for tool in agent.tools] == ["file_search", "text_grep"]
    assert agent.get_code_agent().run("查找") == "任务完成"


def test_basic_usage_example(replay, monkeypatch, capsys):
    replay(REPO_ROOT / "examples" / "replay" / "repo_analysis.json")
    monkeypatch.chdir(REPO_ROOT)  # the agent analyses the repository it runs in
    from ai_agents.telemetry import TelemetryManager
    from ai_agents.supervisor_agents.repo_analysis_supervisor_agent import RepoAnalysisSupervisorAgent

    # 遥测自动初始化
    agent = RepoAnalysisSupervisorAgent()

    # 执行任务，自动收集遥测数据
    result = agent.run("分析这个代码仓库的架构")

    # 获取遥测数据
    manager = TelemetryManager.get_instance()
    session_data = manager.get_session_data()

    print(f"总令牌使用: {session_data.total_tokens.total_tokens}")
    print(f"执行时间: {session_data.total_duration}秒")
    print(f"任务数量: {len(session_data.tasks)}")

    assert result.startswith("架构:")
    out = capsys.readouterr().out
    assert "总令牌使用: " in out and "任务数量: " in out
    assert session_data.tasks[-1].sop_category == "repo_analysis"
    assert len([a for a in session_data.tasks[-1].agents if a.agent_type == "micro"]) == 2
