"""Offline models for real smolagents agents: each plays back a script of responses with their
token usage, the way smolagents' own tests do."""
from __future__ import annotations

from typing import Any, Iterable, Optional

from smolagents.models import ChatMessage, ChatMessageStreamDelta, MessageRole, Model
from smolagents.monitoring import TokenUsage

try:  # the tool-call message classes moved between versions
    from smolagents.models import ChatMessageToolCall, ChatMessageToolCallFunction
except ImportError:  # pragma: no cover
    from smolagents.models import ChatMessageToolCall, ChatMessageToolCallDefinition as ChatMessageToolCallFunction


def code(source: str) -> str:
    """A CodeAgent reply holding `source` as a markdown code block: every smolagents version
    from 1.17 to today parses it."""
    return f"Thought: running it.\n```py\n{source}\n```"


class ScriptedModel(Model):
    """Returns the scripted responses in order (the last one repeats). A response is a string
    (CodeAgent code) or a list of (tool name, arguments) pairs (ToolCallingAgent calls)."""

    def __init__(self, script: list[Any], input_tokens: int = 10, output_tokens: int = 20,
                 model_id: str = "scripted-model", raw: Any = None, **kwargs: Any) -> None:
        super().__init__(model_id=model_id, **kwargs)
        self.script = list(script)
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.raw = raw
        self.calls = 0

    def next_response(self) -> Any:
        response = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        return response

    def generate(self, messages: list[Any], stop_sequences: Optional[list[str]] = None,
                 response_format: Any = None, tools_to_call_from: Any = None,
                 **kwargs: Any) -> ChatMessage:
        response = self.next_response()
        usage = TokenUsage(input_tokens=self.input_tokens, output_tokens=self.output_tokens)
        if isinstance(response, str):
            return ChatMessage(role=MessageRole.ASSISTANT, content=response, token_usage=usage,
                               raw=self.raw)
        calls = [ChatMessageToolCall(id=f"call_{self.calls}_{i}", type="function",
                                     function=ChatMessageToolCallFunction(name=name, arguments=args))
                 for i, (name, args) in enumerate(response)]
        return ChatMessage(role=MessageRole.ASSISTANT, content="", tool_calls=calls,
                           token_usage=usage, raw=self.raw)


class FailingModel(ScriptedModel):
    def generate(self, *args: Any, **kwargs: Any) -> ChatMessage:
        self.calls += 1
        raise ConnectionError("model endpoint unreachable")


class StreamingModel(ScriptedModel):
    """Streams its responses in pieces. per_token=False: one final delta carries all usage
    (OpenAI / LiteLLM style); per_token=True: every delta carries (input if first else 0, 1)
    (TransformersModel style)."""

    def __init__(self, script: list[str], per_token: bool = False, **kwargs: Any) -> None:
        super().__init__(script, **kwargs)
        self.per_token = per_token

    def generate_stream(self, messages: list[Any], stop_sequences: Optional[list[str]] = None,
                        **kwargs: Any) -> Iterable[ChatMessageStreamDelta]:
        text = self.next_response()
        pieces = [text[i:i + 7] for i in range(0, len(text), 7)]
        for index, piece in enumerate(pieces):
            usage = (TokenUsage(input_tokens=self.input_tokens if index == 0 else 0, output_tokens=1)
                     if self.per_token else None)
            yield ChatMessageStreamDelta(content=piece, token_usage=usage)
        if not self.per_token:
            yield ChatMessageStreamDelta(content="", token_usage=TokenUsage(
                input_tokens=self.input_tokens, output_tokens=self.output_tokens))
