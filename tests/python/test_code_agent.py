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


def test_spans_begun_inside_a_tool_hang_under_it_and_the_context_is_left_alone(telemetry):
    from ai_agents.telemetry import _tracing
    from smolagents import tool

    summarizer = ScriptedModel(["a summary"], input_tokens=30, output_tokens=3,
                               model_id="summarizer-model")
    seen_in_tool = []

    @tool
    def summarize(text: str) -> str:
        """Summarizes a text with a model of its own.

        Args:
            text: The text.
        """
        seen_in_tool.append(_tracing.current_span.get())
        message = [{"role": "user", "content": [{"type": "text", "text": text}]}]
        return summarizer.generate(message).content

    model = ScriptedModel([code("print(summarize(text='long text'))"), code("final_answer('ok')")],
                          input_tokens=100, output_tokens=7)
    agent = CodeAgent(tools=[summarize], model=model, max_steps=3)
    assert agent.run("summarize") == "ok"

    session = telemetry.get_session_data()
    assert shape(session)[2:6] == [
        "    step step 1 [completed]",
        "      llm scripted-model [completed]",
        "      tool summarize [completed]",
        "        llm summarizer-model [completed]",
    ]
    assert session.total_tokens.model_breakdown["summarizer-model"].total_tokens == 33
    # Steps and tools find their children without touching the context: inside the tool (in
    # smolagents' executor thread) the context still holds the agent run's span.
    agent_span = next(s for s in session.spans if s.kind.name == "AGENT")
    assert seen_in_tool == [agent_span.span_id]
    assert _tracing.current_span.get() == 0


def test_reading_the_session_mid_run_sees_every_call_so_far(telemetry):
    from smolagents import tool

    seen = []

    @tool
    def peek() -> int:
        """Counts the LLM calls and steps the session holds so far.

        Returns: the count
        """
        session = telemetry.get_session_data()
        seen.append((sum(1 for s in session.spans if s.kind.name == "LLM"),
                     sum(1 for s in session.spans if s.kind.name == "STEP")))
        return len(seen)

    model = ScriptedModel([code("print(peek())"), code("print(peek())"), code("final_answer(peek())")],
                          input_tokens=10, output_tokens=1)
    agent = CodeAgent(tools=[peek], model=model, max_steps=5)
    assert agent.run("peek three times") == 3
    # At step N: N LLM calls made, N steps (the current one still running).
    assert seen == [(1, 1), (2, 2), (3, 3)]
    assert sum(1 for s in telemetry.get_session_data().spans if s.kind.name == "STEP") == 3
