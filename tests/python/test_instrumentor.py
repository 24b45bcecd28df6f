"""AgentInstrumentor: reversibility, no double counting, user and duck-typed models, identical
outputs, and telemetry faults that never reach the agent."""
import sys

import pytest
import smolagents.agents as agents
import smolagents.local_python_executor as executor
import smolagents.models as models
import smolagents.tools as tools
from agent_tools import WordCounter, file_reader
from scripted_models import ScriptedModel, code
from smolagents import CodeAgent
from smolagents.models import ChatMessage, MessageRole
from smolagents.monitoring import TokenUsage
from tree import one, spans_of

from ai_agents.telemetry import AgentInstrumentor, SpanKind, _core, _tracing, get_error_handler


def _originals():
    return {
        "run": agents.MultiStepAgent.__dict__["run"],
        "code_step": agents.CodeAgent.__dict__["_step_stream"],
        "tool_call": tools.Tool.__dict__["__call__"],
        "model_generate": models.Model.__dict__["generate"],
        "executor_pool": getattr(executor, "ThreadPoolExecutor", None),
    }


def test_uninstrument_restores_every_original_and_instrument_is_idempotent():
    instrumentor = AgentInstrumentor.instance()
    assert instrumentor.is_instrumented()
    wrapped = _originals()
    instrumentor.uninstrument()
    instrumentor.uninstrument()  # idempotent
    originals = _originals()
    for name, function in originals.items():
        assert not hasattr(function, "__sop_telemetry_original__"), name
        assert wrapped[name] is not function or function is None, name
    assert wrapped["run"].__sop_telemetry_original__ is originals["run"]
    assert instrumentor.instrument()
    assert instrumentor.instrument()  # idempotent: wrapped once, not twice
    again = _originals()
    assert again["run"].__sop_telemetry_original__ is originals["run"]
    assert again["tool_call"].__sop_telemetry_original__ is originals["tool_call"]


def _outputs(agent_factory):
    agent = agent_factory()
    result = agent.run("compute")
    return result, [getattr(step, "model_output", None) for step in agent.memory.steps]


def test_outputs_are_identical_with_and_without_telemetry(telemetry):
    def factory():
        model = ScriptedModel([code("n = word_counter(text='a b c')\nprint(n)"),
                               code("final_answer(n * 2)")])
        return CodeAgent(tools=[WordCounter()], model=model, max_steps=4)

    with_telemetry = _outputs(factory)
    instrumentor = AgentInstrumentor.instance()
    instrumentor.uninstrument()
    try:
        without = _outputs(factory)
    finally:
        instrumentor.instrument()
    assert with_telemetry == without == (6, with_telemetry[1])
    assert len(telemetry.get_session_data().tasks) == 1


class _Broken:
    """An engine collector that says it is on, and whose every other call fails."""

    def is_enabled(self):
        return True

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise RuntimeError(f"engine call {name} failed")
        return fail


def test_telemetry_faults_never_reach_the_agent(telemetry):
    get_error_handler().reset_error_state()
    _tracing.collector()._core = _Broken()  # the Python wrappers' engine calls fail
    _core.set_hook_fault_injection(True)  # and so does the telemetry of every C++ hook and run
    try:
        model = ScriptedModel([code("print(file_reader(path='a'))"), code("final_answer('fine')")])
        agent = CodeAgent(tools=[file_reader], model=model, max_steps=3)
        assert agent.run("despite broken telemetry") == "fine"
    finally:
        _core.set_hook_fault_injection(False)
    summary = get_error_handler().get_error_summary()
    assert summary, "the failures were recorded"
    assert all("engine call" in m for item in summary.values() for m in item["recent_messages"])
    assert {"agent_run", "llm_call", "tool_call", "step"} <= set(summary)


def test_user_model_subclass_defined_after_instrumentation_is_traced_once(telemetry):
    class MyModel(ScriptedModel):
        def generate(self, messages, **kwargs):
            return super().generate(messages, **kwargs)  # delegates: must count once

    model = MyModel([code("final_answer('sub')")], input_tokens=5, output_tokens=2, model_id="mine")
    assert CodeAgent(tools=[], model=model, max_steps=2).run("subclass") == "sub"
    session = telemetry.get_session_data()
    assert len(spans_of(session, SpanKind.LLM)) == 1
    assert one(session, SpanKind.LLM).name == "mine"
    assert session.total_tokens.total_tokens == 7


def test_duck_typed_model_is_traced_and_call_is_not_counted_twice(telemetry):
    class DuckModel:  # not a smolagents Model at all
        model_id = "duck-llm"

        def generate(self, messages, stop_sequences=None, **kwargs):
            return ChatMessage(role=MessageRole.ASSISTANT, content=code("final_answer('quack')"),
                               token_usage=TokenUsage(input_tokens=3, output_tokens=4))

        def __call__(self, *args, **kwargs):
            return self.generate(*args, **kwargs)

    assert CodeAgent(tools=[], model=DuckModel(), max_steps=2).run("duck") == "quack"
    session = telemetry.get_session_data()
    assert one(session, SpanKind.LLM).name == "duck-llm"
    assert session.total_tokens.total_tokens == 7


def test_model_call_through_dunder_call_counts_once(telemetry):
    model = ScriptedModel(["hello"], input_tokens=1, output_tokens=1)
    model([{"role": "user", "content": [{"type": "text", "text": "hi"}]}])
    assert len(spans_of(telemetry.get_session_data(), SpanKind.LLM)) == 1


def test_cached_and_reasoning_tokens_are_read_from_the_raw_response(telemetry):
    raw = {"usage": {"prompt_tokens": 1000, "completion_tokens": 100,
                     "prompt_tokens_details": {"cached_tokens": 600},
                     "completion_tokens_details": {"reasoning_tokens": 40}}}
    model = ScriptedModel([code("final_answer(1)")], 1000, 100, model_id="gpt-4o", raw=raw)
    CodeAgent(tools=[], model=model, max_steps=2).run("cached")
    call = telemetry.get_session_data().tasks[0].llm_calls[0]
    assert (call.cache_read_tokens, call.reasoning_tokens) == (600, 40)
    expected = (400 * 2.5 + 600 * 1.25 + 100 * 10.0) / 1e6  # gpt-4o: cached input at its price
    assert abs(call.cost_estimate - expected) < 1e-12


def test_a_hook_looks_and_binds_like_the_function_it_stands_in_for():
    import inspect

    hook = models.Model.__dict__["generate"]
    original = hook.__sop_telemetry_original__
    assert hook is not original and hook.__wrapped__ is original
    assert (hook.__name__, hook.__qualname__, hook.__doc__, hook.__module__) == (
        original.__name__, original.__qualname__, original.__doc__, original.__module__)
    assert inspect.signature(hook) == inspect.signature(original)
    assert models.Model.generate is hook  # looked up on the class: itself, like a function
    model = ScriptedModel(["x"])
    bound = model.generate
    assert bound.__self__ is model and bound.__func__ is ScriptedModel.__dict__["generate"]
    assert "hook" in repr(hook) and original.__qualname__ in repr(hook)


def _method_load_after_warm_up(cls):
    """The instruction `obj.method()` loads the method with, once the interpreter has had the
    chance to specialise it (Python 3.11+ rewrites it in place after a few calls)."""
    import dis

    namespace = {}
    exec("def call_site(obj):\n    return obj.method()\n", namespace)  # fresh bytecode per class
    call_site, obj = namespace["call_site"], cls()
    for _ in range(200):
        call_site(obj)
    return next(i.opname for i in dis.get_instructions(call_site, adaptive=True) if i.argval == "method")


@pytest.mark.skipif(sys.version_info < (3, 11), reason="the specialising interpreter came in 3.11")
def test_a_call_through_a_hook_is_specialised_like_a_call_of_the_function():
    # The interpreter specialises a method load only when the descriptor's type is immutable;
    # otherwise every call site of a patched method (self.model.generate(...), every step) does a
    # full attribute lookup each time.
    def method(self):
        return 1

    class Plain:
        pass

    class Hooked:
        pass

    Plain.method = method
    Hooked.method = _core.make_hook(method, _core.HookKind.GENERATE)
    plain = _method_load_after_warm_up(Plain)
    assert plain not in ("LOAD_METHOD", "LOAD_METHOD_ADAPTIVE", "LOAD_ATTR")  # it does specialise here
    assert _method_load_after_warm_up(Hooked) == plain


def test_exceptions_pass_through_a_hook_untouched(telemetry):
    class Boom(Exception):
        pass

    raised = Boom("from the tool")

    class RaisingTool(tools.Tool):
        name = "raising"
        description = "raises"
        inputs = {}
        output_type = "string"

        def forward(self):
            raise raised

    tool = RaisingTool()
    AgentInstrumentor.instance().prepare_agent(type("A", (), {"tools": {"raising": tool}})())
    try:
        tool()
    except Boom as caught:
        assert caught is raised and caught.__traceback__ is not None
    else:
        raise AssertionError("the tool's exception was swallowed")
    assert one(telemetry.get_session_data(), SpanKind.TOOL).error == "Boom: from the tool"


class _HostileRaw:
    """A provider response whose usage raises when read: the hook must record the failure and
    leave the reply alone."""

    @property
    def usage(self):
        raise RuntimeError("usage exploded")


def test_odd_objects_in_a_model_reply_are_a_telemetry_error_not_a_host_error(telemetry):
    get_error_handler().reset_error_state()

    class OddModel(ScriptedModel):
        def generate(self, *args, **kwargs):
            message = super().generate(*args, **kwargs)
            message.raw = _HostileRaw()
            return message

    model = OddModel([code("final_answer('kept')")], model_id="odd")
    assert CodeAgent(tools=[], model=model, max_steps=2).run("odd reply") == "kept"
    assert "usage exploded" in " ".join(get_error_handler().get_error_summary()["llm_call"]["recent_messages"])


def test_the_context_carrying_pool_forwards_every_argument_and_runs_in_the_submitters_context():
    import contextvars

    marker = contextvars.ContextVar("marker", default="unset")

    def echo(*args, **kwargs):
        return marker.get(), args, kwargs

    many = tuple(range(40))  # more arguments than the hook keeps on its stack
    with _tracing.ContextThreadPoolExecutor(max_workers=1) as pool:
        token = marker.set("submitter")
        try:
            few = pool.submit(echo, 1, "two", key="value").result()
            lots = pool.submit(echo, *many, **{f"k{i}": i for i in range(20)}).result()
            failed = pool.submit(int, "not a number").exception()
        finally:
            marker.reset(token)
        unset = pool.submit(echo).result()
        try:
            pool.submit()
        except TypeError:
            pass
        else:
            raise AssertionError("submit() without a function must fail as the original does")
    assert few == ("submitter", (1, "two"), {"key": "value"})
    assert lots == ("submitter", many, {f"k{i}": i for i in range(20)})
    assert isinstance(failed, ValueError)
    assert unset == ("unset", (), {})


def test_tool_classes_made_per_agent_are_traced_and_not_kept_alive(telemetry):
    import gc
    import weakref

    from smolagents import tool

    def run_once(i):
        @tool
        def shout(text: str) -> str:
            """Shouts.

            Args:
                text: What to shout.
            """
            return text.upper()

        agent = CodeAgent(tools=[shout], model=ScriptedModel([code(f"final_answer(shout('run {i}'))")]),
                          max_steps=2)
        assert agent.run("shout") == f"RUN {i}"
        return weakref.ref(type(agent.tools["shout"]))

    runs = [run_once(i) for i in range(5)]
    gc.collect()
    assert all(ref() is None for ref in runs), "a per-agent tool class was kept alive"
    tool_spans = [s for s in spans_of(telemetry.get_session_data(), SpanKind.TOOL) if s.name == "shout"]
    assert len(tool_spans) == 5


def test_prepare_agent_reads_odd_agents_without_raising_and_starts_over_after_uninstrument(telemetry):
    from types import MappingProxyType

    class CallingTool(tools.Tool):  # defines __call__: patched when an agent brings it
        name = "calling"
        description = "calls"
        inputs = {}
        output_type = "string"

        def forward(self):
            return "ok"

        def __call__(self, *args, **kwargs):
            return super().__call__(*args, **kwargs)

    class NoTools:
        @property
        def tools(self):
            raise RuntimeError("no tools here")

    get_error_handler().reset_error_state()
    instrumentor = AgentInstrumentor.instance()
    instrumentor.prepare_agent(NoTools())  # recorded, not raised
    assert "no tools here" in " ".join(get_error_handler().get_error_summary()["instrument"]["recent_messages"])

    holder = type("Holder", (), {"tools": MappingProxyType({"calling": CallingTool()})})
    instrumentor.prepare_agent(holder())  # tools in a mapping that is not a dict
    assert hasattr(CallingTool.__dict__["__call__"], "__sop_telemetry_original__")

    instrumentor.uninstrument()
    assert not hasattr(CallingTool.__dict__["__call__"], "__sop_telemetry_original__")
    instrumentor.instrument()
    instrumentor.prepare_agent(holder())  # looked at again, patched again
    assert hasattr(CallingTool.__dict__["__call__"], "__sop_telemetry_original__")
    assert CallingTool()() == "ok"
    assert any(s.name == "calling" for s in spans_of(telemetry.get_session_data(), SpanKind.TOOL))
