"""Hosts that bend the usual shapes: subclasses calling super(), a tool with a method named
like a model's, runs overlapping in one thread or stopped on purpose, steps that die with an
exception smolagents lets through, records made by hand inside a tool. Each recorded exactly,
the host's results unchanged."""
import os
import subprocess
import sys
import threading

import pytest
from agent_tools import tool_without_inputs
from scripted_models import ScriptedModel, StreamingModel, code
from smolagents import CodeAgent, Tool, ToolCallingAgent
from tree import children, one, shape, spans_of

from ai_agents.telemetry import SpanKind, TaskStatus


class Shout(Tool):
    name = "shout"
    description = "Upper-cases a text."
    inputs = {"text": {"type": "string", "description": "the text"}}
    output_type = "string"

    def forward(self, text):
        return " ".join(self.generate(text) for _ in range(2))

    def generate(self, text):  # the tool's own helper, no model call
        return text.upper()

    def __call__(self, *args, **kwargs):  # decorates the base call
        return super().__call__(*args, **kwargs) + "!"


def test_a_tool_overriding_call_with_super_is_one_tool_call_and_its_generate_no_llm_call(telemetry):
    model = ScriptedModel([[("shout", {"text": "hi"})], [("final_answer", {"answer": "done"})]])
    agent = ToolCallingAgent(tools=[Shout()], model=model, max_steps=3)
    assert agent.run("shout") == "done"
    session = telemetry.get_session_data()
    assert [t.tool_name for t in session.tasks[0].tools] == ["shout", "final_answer"]
    assert [s.name for s in spans_of(session, SpanKind.LLM)] == ["scripted-model"] * 2


def test_an_agent_overriding_step_stream_with_super_has_each_step_once(telemetry):
    class MyAgent(CodeAgent):
        def _step_stream(self, memory_step):
            yield from super()._step_stream(memory_step)

    agent = MyAgent(tools=[], model=ScriptedModel([code("print(1)"), code("final_answer('z')")]), max_steps=3)
    assert agent.run("subclassed") == "z"
    session = telemetry.get_session_data()
    steps = spans_of(session, SpanKind.STEP)
    assert [s.name for s in steps] == ["step 1", "step 2"], shape(session)
    assert all(len(children(session, step, SpanKind.LLM)) == 1 for step in steps)


def test_a_step_ended_by_an_exception_smolagents_lets_through_is_failed(telemetry):
    class DownModel(ScriptedModel):
        def generate(self, *args, **kwargs):
            raise ConnectionError("model endpoint unreachable")

    with pytest.raises(Exception):
        CodeAgent(tools=[], model=DownModel([""]), max_steps=2).run("down")
    step = one(telemetry.get_session_data(), SpanKind.STEP)
    assert step.status == TaskStatus.FAILED and "AgentGenerationError" in step.error


def test_a_step_ended_by_keyboard_interrupt_is_cancelled_and_one_that_succeeds_inside_an_except_is_not(telemetry):
    try:
        raise LookupError("the host's own, handled around the run")
    except LookupError:
        ok = CodeAgent(tools=[], model=ScriptedModel([code("final_answer(1)")]), max_steps=2).run("ok")
    assert ok == 1

    def interrupt():
        raise KeyboardInterrupt

    model = ScriptedModel([[("stop", {})]])
    with pytest.raises(KeyboardInterrupt):
        ToolCallingAgent(tools=[tool_without_inputs("stop", interrupt)], model=model, max_steps=2).run("interrupted")
    steps = spans_of(telemetry.get_session_data(), SpanKind.STEP)
    assert [s.status for s in steps] == [TaskStatus.COMPLETED, TaskStatus.CANCELLED]


def test_runs_overlapping_in_one_thread_are_each_a_root_task(telemetry):
    def agent(answer):
        return CodeAgent(tools=[], model=ScriptedModel([code("print(1)"), code(f"final_answer('{answer}')")]),
                         max_steps=3)

    first, second = agent("a").run("task A", stream=True), agent("b").run("task B", stream=True)
    for a, b in zip(first, second):  # read in turn
        pass
    list(first), list(second)
    session = telemetry.get_session_data()
    tasks = [s for s in session.spans if s.kind == SpanKind.TASK]
    assert len(tasks) == 2 and all(task.parent_id == 0 for task in tasks), shape(session)


def test_a_model_called_outside_runs_while_two_run_in_threads_is_in_neither(telemetry):
    started, release = threading.Barrier(3), threading.Event()

    class WaitingModel(ScriptedModel):
        def generate(self, *args, **kwargs):
            started.wait(10)
            release.wait(10)
            return super().generate(*args, **kwargs)

    def run(name):
        CodeAgent(tools=[], model=WaitingModel([code("final_answer(1)")]), max_steps=2).run(name)

    workers = [threading.Thread(target=run, args=(f"in thread {i}",)) for i in range(2)]
    for worker in workers:
        worker.start()
    started.wait(10)
    ScriptedModel(["unrelated"], input_tokens=1000, output_tokens=1000, model_id="stray").generate([])
    release.set()
    for worker in workers:
        worker.join()
    session = telemetry.get_session_data()
    assert one(session, SpanKind.LLM, "stray").parent_id == 0, shape(session)
    assert [t.total_tokens.total_tokens for t in session.tasks] == [30, 30]


def test_a_model_called_in_a_thread_a_tool_starts_counts_in_the_run(telemetry):
    summary = ScriptedModel(["a summary"], input_tokens=7, output_tokens=3, model_id="summarizer")

    def summarize_in_a_thread():
        box = []
        worker = threading.Thread(target=lambda: box.append(summary.generate([]).content))
        worker.start()
        worker.join()
        return box[0]

    model = ScriptedModel([[("summarize", {})], [("final_answer", {"answer": "done"})]])
    tool = tool_without_inputs("summarize", summarize_in_a_thread)
    assert ToolCallingAgent(tools=[tool], model=model, max_steps=3).run("summarize") == "done"
    session = telemetry.get_session_data()
    assert [c.model for c in session.tasks[0].llm_calls].count("summarizer") == 1, shape(session)
    assert session.tasks[0].total_tokens.total_tokens == 2 * 30 + 10


def test_telemetry_turned_off_by_the_environment_prints_nothing_at_exit():
    script = "from ai_agents.telemetry import TelemetryManager; print(TelemetryManager.get_instance().is_enabled())"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "SOP_TELEMETRY_ENABLED": "0"})
    assert (result.returncode, result.stdout.strip(), result.stderr) == (0, "False", "")


def test_a_tool_calling_itself_is_a_call_each_time(telemetry):
    class Countdown(Tool):
        name = "countdown"
        description = "Counts down by calling itself."
        inputs = {"n": {"type": "integer", "description": "from"}}
        output_type = "integer"

        def forward(self, n):
            return n if n == 0 else self(n=n - 1)

    model = ScriptedModel([[("countdown", {"n": 3})], [("final_answer", {"answer": "done"})]])
    assert ToolCallingAgent(tools=[Countdown()], model=model, max_steps=3).run("count") == "done"
    tools = spans_of(telemetry.get_session_data(), SpanKind.TOOL, "countdown")
    assert len(tools) == 4 and sum(t.parent_id in {o.span_id for o in tools} for t in tools) == 3


def test_steps_run_one_by_one_with_the_public_step_are_each_a_step(telemetry):
    from smolagents.memory import ActionStep

    agent = CodeAgent(tools=[], model=ScriptedModel([code("print(1)")]), max_steps=20)
    agent.run("warm up")  # prepares the agent's classes and memory
    for number in range(2, 12):
        kwargs = {"step_number": number}
        if "timing" in ActionStep.__dataclass_fields__:
            from smolagents.monitoring import Timing
            kwargs["timing"] = Timing(start_time=0.0)
        else:
            kwargs["start_time"] = 0.0
        agent.step(ActionStep(**kwargs))  # each ActionStep freed after, its address reused
    steps = spans_of(telemetry.get_session_data(), SpanKind.STEP)
    assert [s.name for s in steps][-10:] == [f"step {n}" for n in range(2, 12)]


@pytest.mark.parametrize("closed", [False, True])
def test_a_planning_step_ends_the_way_its_run_did(telemetry, closed):
    if closed:  # the host closes the streamed run while the planning step streams
        agent = CodeAgent(tools=[], model=StreamingModel([code("final_answer(1)")]), max_steps=3,
                          planning_interval=1, stream_outputs=True)
        stream = agent.run("plan", stream=True)
        next(stream)
        stream.close()
    else:  # the model fails while planning
        class DownModel(ScriptedModel):
            def generate(self, *args, **kwargs):
                raise ConnectionError("model endpoint unreachable")

        with pytest.raises(ConnectionError):
            CodeAgent(tools=[], model=DownModel([""]), max_steps=3, planning_interval=1).run("plan")
    session = telemetry.get_session_data()
    planning = one(session, SpanKind.STEP, "planning")
    assert planning.status == one(session, SpanKind.AGENT).status
    assert planning.status == (TaskStatus.CANCELLED if closed else TaskStatus.FAILED)


def test_a_call_recorded_by_hand_in_a_tool_hangs_under_that_tool(telemetry):
    def lookup():
        telemetry.get_collector().record_llm_call(model="side-model", prompt_tokens=500,
                                                  completion_tokens=5, duration=0.1)
        return "found"

    model = ScriptedModel([[("lookup", {})], [("final_answer", {"answer": "ok"})]])
    assert ToolCallingAgent(tools=[tool_without_inputs("lookup", lookup)], model=model, max_steps=3).run("by hand") == "ok"
    session = telemetry.get_session_data()
    assert one(session, SpanKind.LLM, "side-model").parent_id == one(session, SpanKind.TOOL, "lookup").span_id
    assert session.tasks[0].total_tokens.total_tokens == 2 * 30 + 505


def test_a_task_the_user_opens_inside_a_tool_gets_the_calls_recorded_in_it(telemetry):
    def lookup():
        collector = telemetry.get_collector()
        collector.start_task("sub-task", "opened inside the tool")
        collector.record_llm_call(model="side-model", prompt_tokens=500, completion_tokens=5, duration=0.1)
        collector.end_task("sub-task")
        return "found"

    model = ScriptedModel([[("lookup", {})], [("final_answer", {"answer": "ok"})]])
    assert ToolCallingAgent(tools=[tool_without_inputs("lookup", lookup)], model=model, max_steps=3).run("sub") == "ok"
    tasks = {t.task_id: [c.model for c in t.llm_calls] for t in telemetry.get_session_data().tasks}
    assert tasks["sub-task"] == ["side-model"]


def test_a_run_stopped_with_interrupt_is_cancelled(telemetry):
    agent = CodeAgent(tools=[], model=ScriptedModel([code("print(1)")]), max_steps=5,
                      step_callbacks=[lambda step, agent=None: (agent or interrupting).interrupt()])
    interrupting = agent
    with pytest.raises(Exception, match="interrupted"):
        agent.run("stop me")
    session = telemetry.get_session_data()
    assert session.tasks[0].status == TaskStatus.CANCELLED
    assert one(session, SpanKind.AGENT).status == TaskStatus.CANCELLED
