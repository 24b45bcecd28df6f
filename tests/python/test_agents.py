"""Real smolagents agents (ToolCallingAgent, managed agents, failures, max steps, streaming)
recorded with exact trees and token totals."""
import gc
import threading

import pytest
from agent_tools import WordCounter, broken_tool, file_reader
from scripted_models import FailingModel, ScriptedModel, StreamingModel, code
from smolagents import CodeAgent, ToolCallingAgent
from tree import children, one, shape, spans_of

from ai_agents.telemetry import AgentInstrumentor, SpanKind, TaskStatus, _tracing

PARALLEL_TOOL_CALLS = hasattr(ToolCallingAgent, "process_tool_calls")


def test_tool_calling_agent_with_parallel_tool_calls(telemetry):
    model = ScriptedModel([
        [("file_reader", {"path": "a.txt"}), ("word_counter", {"text": "one two three"})],
        [("final_answer", {"answer": "finished"})],
    ], input_tokens=50, output_tokens=5)
    agent = ToolCallingAgent(tools=[file_reader, WordCounter()], model=model, max_steps=4)
    assert agent.run("parallel tools") == "finished"

    session = telemetry.get_session_data()
    step1 = one(session, SpanKind.STEP, "step 1")
    # Before smolagents 1.20 a ToolCallingAgent ran only the first call of a message.
    ran = ["file_reader", "word_counter"] if PARALLEL_TOOL_CALLS else ["file_reader"]
    assert sorted(s.name for s in children(session, step1)) == sorted(ran + ["scripted-model"])
    step2 = one(session, SpanKind.STEP, "step 2")
    assert sorted(s.name for s in children(session, step2)) == ["final_answer", "scripted-model"]
    assert session.total_tokens.total_tokens == 110
    assert session.tasks[0].status == TaskStatus.COMPLETED
    tool_threads_parented = all(t.parent_id == step1.span_id for t in spans_of(session, SpanKind.TOOL)
                                if t.name != "final_answer")
    assert tool_threads_parented


def test_supervisor_with_two_managed_micro_agents(telemetry):
    searcher = CodeAgent(tools=[file_reader], name="search_agent", description="searches",
                         model=ScriptedModel([code("final_answer('found it')")], 30, 3, "small-model"))
    reader = CodeAgent(tools=[WordCounter()], name="reader_agent", description="reads",
                       model=ScriptedModel([code("final_answer(word_counter(text='a b'))")], 40, 4, "small-model"))
    supervisor = CodeAgent(tools=[], managed_agents=[searcher, reader], name="supervisor_agent",
                           model=ScriptedModel([
                               code("a = search_agent(task='find')\nb = reader_agent(task='read')\nprint(a, b)"),
                               code("final_answer('all done')")], 100, 10, "big-model"))
    assert supervisor.run("分析仓库") == "all done"

    session = telemetry.get_session_data()
    task = session.tasks[0]
    sup = one(session, SpanKind.AGENT, "supervisor_agent")
    assert sup.detail == "supervisor"
    step1 = [s for s in children(session, sup, SpanKind.STEP) if s.name == "step 1"][0]
    micro = children(session, step1, SpanKind.AGENT)
    assert sorted(a.name for a in micro) == ["reader_agent", "search_agent"]
    assert all(a.detail == "micro" for a in micro)
    assert all(a.task_id == task.task_id for a in session.spans)
    # Tokens roll up to the task: 2 supervisor calls + 1 call per micro agent.
    assert task.total_tokens.model_breakdown["big-model"].total_tokens == 220
    assert task.total_tokens.model_breakdown["small-model"].total_tokens == 33 + 44
    assert task.total_tokens.total_tokens == 297
    assert sorted(a.agent_type for a in task.agents) == ["micro", "micro", "supervisor"]


def test_a_tool_that_raises_fails_its_span_and_the_run_goes_on(telemetry):
    model = ScriptedModel([code("broken_tool(path='x')"), code("final_answer('recovered')")])
    agent = CodeAgent(tools=[broken_tool], model=model, max_steps=4)
    assert agent.run("use the broken tool") == "recovered"
    session = telemetry.get_session_data()
    tool = one(session, SpanKind.TOOL, "broken_tool")
    assert tool.status == TaskStatus.FAILED
    assert "cannot read x" in tool.error
    assert one(session, SpanKind.STEP, "step 1").status == TaskStatus.FAILED
    assert session.tasks[0].status == TaskStatus.COMPLETED
    assert session.tasks[0].tools[0].success is False


def test_a_model_that_raises_fails_the_llm_call_and_the_task(telemetry):
    agent = CodeAgent(tools=[], model=FailingModel([""]), max_steps=3)
    with pytest.raises(Exception) as raised:
        agent.run("model is down")
    session = telemetry.get_session_data()
    llm = spans_of(session, SpanKind.LLM)
    assert llm and all(s.status == TaskStatus.FAILED for s in llm)
    assert "model endpoint unreachable" in llm[0].error
    assert session.tasks[0].status == TaskStatus.FAILED
    assert type(raised.value).__name__ in session.spans[1].error  # the agent span names it


def test_max_steps_is_recorded_and_the_extra_llm_call_counted(telemetry):
    model = ScriptedModel([code("print('still thinking')")], input_tokens=10, output_tokens=1)
    agent = CodeAgent(tools=[], model=model, max_steps=2)
    agent.run("never finishes")
    session = telemetry.get_session_data()
    assert session.tasks[0].status == TaskStatus.MAX_STEPS
    assert model.calls == 3  # two steps and the final answer after max steps
    assert len(session.tasks[0].llm_calls) == 3
    assert session.total_tokens.total_tokens == 33
    agent_span = one(session, SpanKind.AGENT)
    assert len(children(session, agent_span, SpanKind.LLM)) == 1  # outside any step


def _stop_after_first_item(agent):
    """Consumes one item of a streaming run, then closes it; returns what close() raised."""
    stream = agent.run("stream me", stream=True)
    next(stream)
    try:
        stream.close()
    except Exception as error:  # smolagents' own stream may refuse an early close
        return type(error)
    finally:
        gc.collect()
    return None


def test_streaming_run_consumed_partly_still_closes_every_span(telemetry):
    def make_agent():
        model = ScriptedModel([code("print(1)"), code("print(2)"), code("final_answer('x')")])
        return CodeAgent(tools=[], model=model, max_steps=5)

    raised = _stop_after_first_item(make_agent())
    assert _tracing.current_span.get() == 0  # nothing of the run leaks into the caller's context
    session = telemetry.get_session_data()
    assert all(s.end_time is not None for s in session.spans), shape(session)
    assert one(session, SpanKind.AGENT).status == TaskStatus.CANCELLED
    assert session.tasks[0].status == TaskStatus.CANCELLED
    # The consumer sees exactly what it would see without telemetry.
    instrumentor = AgentInstrumentor.instance()
    instrumentor.uninstrument()
    try:
        assert _stop_after_first_item(make_agent()) is raised
    finally:
        instrumentor.instrument()


def test_streaming_run_consumed_fully(telemetry):
    model = ScriptedModel([code("final_answer('streamed')")])
    agent = CodeAgent(tools=[], model=model, max_steps=3)
    items = list(agent.run("stream all", stream=True))
    assert getattr(items[-1], "output", None) == "streamed"
    session = telemetry.get_session_data()
    assert session.tasks[0].status == TaskStatus.COMPLETED
    assert one(session, SpanKind.LLM).parent_id == one(session, SpanKind.STEP).span_id


@pytest.mark.parametrize("steps, status", [(2, TaskStatus.COMPLETED), (1, TaskStatus.MAX_STEPS)])
def test_streaming_run_left_once_the_final_answer_arrived_ends_as_it_did(telemetry, steps, status):
    # The usual way to take the answer from a stream: leave the loop at the FinalAnswerStep.
    model = ScriptedModel([code("print(1)"), code("final_answer('x')"), code("final_answer('late')")])
    agent = CodeAgent(tools=[], model=model, max_steps=steps)
    steps = agent.run("take the answer and leave", stream=True)  # kept, as a script or notebook does
    for item in steps:
        if type(item).__name__ == "FinalAnswerStep":
            break
    session = telemetry.get_session_data()
    assert session.tasks[0].status == status and one(session, SpanKind.AGENT).status == status
    assert all(s.end_time is not None for s in session.spans), shape(session)


@pytest.mark.parametrize("per_token", [False, True])
def test_streaming_model_usage_is_summed_over_deltas(telemetry, per_token):
    model = StreamingModel([code("final_answer('ok')")], per_token=per_token,
                           input_tokens=80, output_tokens=9)
    agent = CodeAgent(tools=[], model=model, max_steps=3, stream_outputs=True)
    assert agent.run("stream tokens") == "ok"
    session = telemetry.get_session_data()
    llm = one(session, SpanKind.LLM)
    expected_output = 9 if not per_token else len(range(0, len(code("final_answer('ok')")), 7))
    assert llm.prompt_tokens == 80
    assert llm.completion_tokens == expected_output
    assert session.total_tokens.total_tokens == 80 + expected_output


def test_runs_in_threads_each_get_their_own_task(telemetry):
    def run(i):
        CodeAgent(tools=[], model=ScriptedModel([code(f"final_answer({i})")]), max_steps=2).run(f"job {i}")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    session = telemetry.get_session_data()
    assert sorted(t.description for t in session.tasks) == [f"job {i}" for i in range(4)]
    for task in session.tasks:
        assert len(task.llm_calls) == 1


def test_a_run_task_is_described_by_its_first_2000_characters_and_named_after_the_agent(telemetry):
    task = "分析代码仓库" * 1000  # 6,000 characters, 18,000 bytes of UTF-8
    agent = CodeAgent(tools=[], model=ScriptedModel([code("final_answer(1)")]), max_steps=2,
                      name="analyst")
    assert agent.run(task) == 1
    CodeAgent(tools=[], model=ScriptedModel([code("final_answer(2)")]), max_steps=2).run("short")
    session = telemetry.get_session_data()
    assert [t.description for t in session.tasks] == [task[:2000], "short"]
    ids = [t.task_id for t in session.tasks]
    assert len(set(ids)) == 2 and all(i.startswith("run-") for i in ids)
    assert [(a.agent_name, a.agent_type) for t in session.tasks for a in t.agents] == [
        ("analyst", "micro"), ("CodeAgent", "micro")]


def test_turning_telemetry_off_mid_run_still_ends_the_run_and_its_task(telemetry):
    from smolagents import tool

    @tool
    def switch_off() -> str:
        """Turns telemetry off."""
        telemetry.disable_telemetry()
        return "off"

    model = ScriptedModel([code("switch_off()"), code("final_answer('done')")])
    assert CodeAgent(tools=[switch_off], model=model, max_steps=3).run("first") == "done"
    telemetry.enable_telemetry()
    CodeAgent(tools=[], model=ScriptedModel([code("final_answer(2)")]), max_steps=2).run("second")
    session = telemetry.get_session_data()
    first, second = session.tasks
    assert (first.description, second.description) == ("first", "second")
    assert first.end_time is not None and first.status == TaskStatus.COMPLETED
    agents = spans_of(session, SpanKind.AGENT)
    assert len(agents) == 2 and all(a.end_time is not None for a in agents)
    assert agents[1].parent_id == second.span_id  # not under the first run's task


def test_planning_steps_are_spans_with_their_llm_call(telemetry):
    model = ScriptedModel(["1. answer\n<end_plan>", code("final_answer('planned')")],
                          input_tokens=20, output_tokens=2)
    agent = CodeAgent(tools=[], model=model, max_steps=3, planning_interval=1)
    assert agent.run("plan first") == "planned"
    session = telemetry.get_session_data()
    planning = one(session, SpanKind.STEP, "planning")
    assert planning.detail == "planning"
    assert [s.kind for s in children(session, planning)] == [SpanKind.LLM]
    assert planning.end_time is not None
    step = one(session, SpanKind.STEP, "step 1")
    assert [s.kind for s in children(session, step)] == [SpanKind.LLM, SpanKind.TOOL]
    assert session.total_tokens.total_tokens == 44  # the planning call's tokens are counted
