"""Agent-run bookkeeping at its edges: odd agents, streams never consumed, one agent object run
in two threads at once."""
import threading

from scripted_models import ScriptedModel, code
from smolagents import CodeAgent
from tree import spans_of

from ai_agents.telemetry import SpanKind, TaskStatus, _core, _tracing, get_error_handler


def _run_good_agent_after(telemetry):
    CodeAgent(tools=[], model=ScriptedModel([code("final_answer(1)")]), max_steps=2).run("good")
    session = telemetry.get_session_data()
    assert [t.description for t in session.tasks][-1] == "good"
    good = session.tasks[-1]
    assert all(a.parent_id == good.span_id for a in spans_of(session, SpanKind.AGENT)
               if a.name == "CodeAgent")
    return session


class _RaisingManagedAgents:
    name = "odd"

    @property
    def managed_agents(self):
        raise ValueError("registry not loaded")


class _RaisingMemory:
    name = "odd"

    @property
    def memory(self):
        raise RuntimeError("memory not ready")


def test_an_agent_that_cannot_be_read_at_its_start_leaves_no_task_open(telemetry):
    get_error_handler().reset_error_state()
    agent = _RaisingManagedAgents()
    _core.end_agent_run(agent, _core.begin_agent_run(agent, "odd start"))
    session = _run_good_agent_after(telemetry)
    odd = session.tasks[0]
    assert (odd.description, odd.status) == ("odd start", TaskStatus.FAILED)
    assert odd.end_time is not None
    assert "registry not loaded" in " ".join(get_error_handler().get_error_summary()["agent_run"]["recent_messages"])


def test_an_agent_that_cannot_be_read_at_its_end_still_ends_its_run_and_task(telemetry):
    agent = _RaisingMemory()
    _core.end_agent_run(agent, _core.begin_agent_run(agent, "odd end"))
    session = _run_good_agent_after(telemetry)
    odd = session.tasks[0]
    assert (odd.description, odd.status) == ("odd end", TaskStatus.COMPLETED)
    assert all(a.end_time is not None for a in spans_of(session, SpanKind.AGENT))


def test_a_streamed_run_never_consumed_records_nothing_and_leaves_nothing_open(telemetry):
    agent = CodeAgent(tools=[], model=ScriptedModel([code("final_answer(1)")]), max_steps=2)
    steps = agent.run("never consumed", stream=True)
    del steps
    session = _run_good_agent_after(telemetry)
    assert [t.description for t in session.tasks] == ["good"]


class _Step:
    def __init__(self, number):
        self.step_number = number
        self.error = None


class _SharedAgent:
    """Stands in for one agent object run by two threads at once (a smolagents agent is not
    safe to run concurrently, so the hooks are put on a plain class)."""
    name = "shared"

    def _step_stream(self, memory_step):
        return None

    def _finalize_step(self, memory_step):
        return None


_SharedAgent._step_stream = _core.make_hook(_SharedAgent._step_stream, _core.HookKind.ACTION_STEP)
_SharedAgent._finalize_step = _core.make_hook(_SharedAgent._finalize_step, _core.HookKind.FINALIZE_STEP)


def test_one_agent_run_in_two_threads_at_once_keeps_each_step_in_its_own_run(telemetry):
    agent = _SharedAgent()
    both_running = threading.Barrier(2)
    runs = {}

    def run(label):
        span = _core.begin_agent_run(agent, label)
        runs[label] = span
        token = _tracing.current_span.set(span)
        both_running.wait()
        if label == "A":
            agent._step_stream(_Step(1))
            agent._finalize_step(_Step(1))
        both_running.wait()
        _tracing.current_span.reset(token)
        _core.end_agent_run(agent, span)

    threads = [threading.Thread(target=run, args=(label,)) for label in "AB"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    (step,) = spans_of(telemetry.get_session_data(), SpanKind.STEP)
    assert step.parent_id == runs["A"] and step.end_time is not None


def test_run_arguments_given_any_way_are_traced_and_a_bad_call_fails_as_it_would(telemetry):
    def agent(answer):
        return CodeAgent(tools=[], model=ScriptedModel([code(f"final_answer({answer!r})")]), max_steps=2)

    assert agent("kw").run(task="by keyword") == "kw"
    assert list(agent("pos").run("streamed positionally", True))[-1].output == "pos"
    assert list(agent("kwstream").run(task="streamed by keyword", stream=True))[-1].output == "kwstream"
    session = telemetry.get_session_data()
    described = {t.description: t for t in session.tasks}
    for text in ("by keyword", "streamed positionally", "streamed by keyword"):
        assert described[text].status == TaskStatus.COMPLETED, text
        assert any(a.parent_id == described[text].span_id for a in spans_of(session, SpanKind.AGENT)), text

    runs_before = len(spans_of(session, SpanKind.AGENT))
    try:
        agent("none").run()  # no task: smolagents' own TypeError, untouched
    except TypeError as error:
        assert "task" in str(error)
    else:
        raise AssertionError("run() without a task did not fail")

    class Unreadable:
        def __bool__(self):
            raise ValueError("no truth here")

    try:
        agent("odd").run("odd stream flag", stream=Unreadable())
    except ValueError as error:
        assert str(error) == "no truth here"
    else:
        raise AssertionError("smolagents did not fail on the stream flag")
    after = telemetry.get_session_data()
    assert len(spans_of(after, SpanKind.AGENT)) == runs_before + 1  # the odd run, failed
    assert [t for t in after.tasks if t.description == "odd stream flag"][0].status == TaskStatus.FAILED
