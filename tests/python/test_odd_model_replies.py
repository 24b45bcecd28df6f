"""Models that reply in odd ways: generate_stream returning a list, a built-in or a home-made
iterator, or raising; token counts past 64 bits; a raw usage that raises; Bedrock's camelCase
usage; text UTF-8 cannot hold. The host gets its results unchanged, the counts are exact or a
recorded telemetry error."""
import time

import pytest
from scripted_models import ScriptedModel, StreamingModel, code
from smolagents import CodeAgent
from smolagents.models import ChatMessageStreamDelta
from smolagents.monitoring import TokenUsage
from tree import one, recorded_errors, spans_of

from ai_agents.telemetry import SpanKind, TaskStatus, get_error_handler


def test_generate_stream_returning_a_list_is_given_back_as_a_list_and_counted(telemetry):
    class BufferedModel(ScriptedModel):
        def generate_stream(self, messages, **kwargs):
            time.sleep(0.05)  # buffering takes time: the call's duration
            return [ChatMessageStreamDelta(content=self.next_response(),
                                           token_usage=TokenUsage(input_tokens=3, output_tokens=4))]

    model = BufferedModel([code("final_answer('z')")])
    assert CodeAgent(tools=[], model=model, max_steps=2, stream_outputs=True).run("buffered") == "z"
    deltas = model.generate_stream([])  # the host's own call, after an agent has used the model
    assert isinstance(deltas, list) and "final_answer" in deltas[0].content
    llm = spans_of(telemetry.get_session_data(), SpanKind.LLM)
    assert [(s.prompt_tokens, s.completion_tokens, s.status) for s in llm] == [(3, 4, TaskStatus.COMPLETED)] * 2
    assert all(s.duration >= 0.05 for s in llm)


@pytest.mark.parametrize("streaming", [False, True])
def test_a_token_count_beyond_64_bits_counts_0_as_a_recorded_error(telemetry, streaming):
    get_error_handler().reset_error_state()
    kind = StreamingModel if streaming else ScriptedModel
    model = kind([code("final_answer('b')")], input_tokens=2**64, output_tokens=5)
    agent = CodeAgent(tools=[], model=model, max_steps=2, stream_outputs=streaming)
    assert agent.run("huge") == "b"
    llm = one(telemetry.get_session_data(), SpanKind.LLM)
    assert (llm.prompt_tokens, llm.completion_tokens, llm.status) == (0, 5, TaskStatus.COMPLETED)
    assert "token count" in recorded_errors("llm_call")


def test_a_raw_usage_that_raises_keeps_the_call_and_its_tokens(telemetry):
    get_error_handler().reset_error_state()

    class Raw:
        @property
        def usage(self):
            raise ValueError("usage not loaded")

    model = ScriptedModel([code("final_answer('ok')")], input_tokens=100, output_tokens=7, raw=Raw())
    assert CodeAgent(tools=[], model=model, max_steps=2).run("raw") == "ok"
    session = telemetry.get_session_data()
    assert session.total_tokens.total_tokens == 107
    assert "usage not loaded" in recorded_errors("llm_call")


def test_text_utf8_cannot_hold_keeps_the_rest(telemetry):
    task = "résumé \udcff tail"  # a lone surrogate, as a 'surrogateescape' decode leaves it
    model = ScriptedModel([code("final_answer('k')")], model_id="model-\ud800")
    assert CodeAgent(tools=[], model=model, max_steps=2).run(task) == "k"
    session = telemetry.get_session_data()
    assert session.tasks[0].description == "résumé ? tail"
    assert one(session, SpanKind.LLM).name == "model-?"


class _DeltasOf(ScriptedModel):
    def deltas(self):
        return [ChatMessageStreamDelta(content=self.next_response(),
                                       token_usage=TokenUsage(input_tokens=100, output_tokens=7))]


def test_generate_stream_returning_a_builtin_iterator_is_counted_and_a_host_iterator_kept(telemetry):
    get_error_handler().reset_error_state()

    class HostStream:
        def __init__(self, items):
            self.items, self.response_id = iter(items), "kept"

        def __iter__(self):
            return self

        def __next__(self):
            return next(self.items)

    class MapModel(_DeltasOf):
        def generate_stream(self, messages, **kwargs):
            return map(lambda delta: delta, self.deltas())

    class HostModel(_DeltasOf):
        def generate_stream(self, messages, **kwargs):
            return HostStream(self.deltas())

    for kind in (MapModel, HostModel):
        assert CodeAgent(tools=[], model=kind([code("final_answer('ok')")]), max_steps=2,
                         stream_outputs=True).run("iterate") == "ok"
    assert type(HostModel([code("x")]).generate_stream([])).__name__ == "HostStream"
    session = telemetry.get_session_data()
    assert [t.total_tokens.total_tokens for t in session.tasks] == [107, 0]
    assert "HostStream" in recorded_errors("llm_call")


def test_generate_stream_raising_when_called_is_a_failed_llm_call(telemetry):
    class Refusing(ScriptedModel):
        def generate_stream(self, messages, **kwargs):
            raise ConnectionError("429 rate limited")

    with pytest.raises(Exception):
        CodeAgent(tools=[], model=Refusing([""]), max_steps=1, stream_outputs=True).run("refused")
    llm = one(telemetry.get_session_data(), SpanKind.LLM)
    assert llm.status == TaskStatus.FAILED and "429 rate limited" in llm.error


def test_bedrock_converse_cache_tokens_are_counted_and_priced(telemetry):
    raw = {"usage": {"inputTokens": 200, "outputTokens": 50, "totalTokens": 5250,
                     "cacheReadInputTokens": 4000, "cacheWriteInputTokens": 1000}}
    model = ScriptedModel([code("final_answer(1)")], input_tokens=200, output_tokens=50, raw=raw,
                          model_id="us.anthropic.claude-sonnet-4-5-20250929-v1:0")
    assert CodeAgent(tools=[], model=model, max_steps=2).run("cached") == 1
    call = telemetry.get_session_data().tasks[0].llm_calls[0]
    assert (call.prompt_tokens, call.completion_tokens, call.cache_read_tokens, call.cache_write_tokens) == \
        (5200, 50, 4000, 1000)
    assert call.cost_estimate > 0.006  # the cached tokens are priced too


def test_inference_client_replies_give_their_usage_details(telemetry):
    # huggingface_hub's reply types (InferenceClientModel's raw) are dicts whose items leave out
    # the usage details that their attributes carry.
    from huggingface_hub import ChatCompletionOutput

    raw = ChatCompletionOutput.parse_obj_as_instance({
        "id": "r", "created": 0, "model": "gpt-4o", "system_fingerprint": "", "choices": [],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100,
                  "prompt_tokens_details": {"cached_tokens": 800},
                  "completion_tokens_details": {"reasoning_tokens": 40}}})
    model = ScriptedModel([code("final_answer(1)")], input_tokens=1000, output_tokens=100, raw=raw,
                          model_id="gpt-4o")
    assert CodeAgent(tools=[], model=model, max_steps=2).run("cached") == 1
    call = telemetry.get_session_data().tasks[0].llm_calls[0]
    assert (call.prompt_tokens, call.cache_read_tokens, call.reasoning_tokens) == (1000, 800, 40)
    assert abs(call.cost_estimate - (200 * 2.5 + 800 * 1.25 + 100 * 10.0) / 1e6) < 1e-12


def test_attribute_dicts_in_the_raw_usage_are_read_as_dicts(telemetry):
    class AttrDict(dict):  # a missing attribute is a KeyError here
        __getattr__ = dict.__getitem__

    get_error_handler().reset_error_state()
    raw = AttrDict(usage=AttrDict(prompt_tokens=1000, completion_tokens=100,
                                  cache_creation_input_tokens=300,
                                  completion_tokens_details=AttrDict(reasoning_tokens=40)))
    model = ScriptedModel([code("final_answer(1)")], input_tokens=1000, output_tokens=100, raw=raw)
    assert CodeAgent(tools=[], model=model, max_steps=2).run("attribute dict") == 1
    call = telemetry.get_session_data().tasks[0].llm_calls[0]
    assert (call.cache_write_tokens, call.reasoning_tokens) == (300, 40)
    assert not recorded_errors("llm_call")
