"""A real smolagents CodeAgent with a scripted model: exact span tree and token totals."""
from agent_tools import file_reader
from scripted_models import ScriptedModel, code
from smolagents import CodeAgent
from tree import shape

from ai_agents.telemetry import TaskStatus


def test_code_agent_run_gives_the_exact_tree_and_tokens(telemetry):
    model = ScriptedModel([code("text = file_reader(path='README.md')\nprint(text)"),
                           code("final_answer('done')")], input_tokens=100, output_tokens=7)
    agent = CodeAgent(tools=[file_reader], model=model, max_steps=5)
    assert agent.run("读取 README") == "done"

    session = telemetry.get_session_data()
    assert len(session.tasks) == 1
    task = session.tasks[0]
    assert task.description == "读取 README"
    assert task.status == TaskStatus.COMPLETED
    assert shape(session) == [
        f"task {task.task_id} [completed]",
        "  agent CodeAgent [completed]",
        "    step step 1 [completed]",
        "      llm scripted-model [completed]",
        "      tool file_reader [completed]",
        "    step step 2 [completed]",
        "      llm scripted-model [completed]",
        "      tool final_answer [completed]",
    ]
    assert session.total_tokens.prompt_tokens == 200
    assert session.total_tokens.completion_tokens == 14
    assert task.total_tokens.total_tokens == 214
    assert [call.model for call in task.llm_calls] == ["scripted-model", "scripted-model"]
    assert [t.tool_name for t in task.tools] == ["file_reader", "final_answer"]
    assert task.agents[0].agent_type == "micro"
