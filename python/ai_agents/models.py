"""Models of the reference host, chosen by SOP_AGENTS_MODEL (or --model):

- `replay:PATH` — plays back a recorded script of responses with their token usage and latency
  (offline: the demo and the tests). One script serves every agent of the process, in call
  order. SOP_AGENTS_REPLAY_LATENCY=0 replays without waiting.
- `MODEL_ID` or `openai:MODEL_ID` — an OpenAI-compatible chat-completions endpoint:
  SOP_AGENTS_BASE_URL (default https://api.openai.com/v1) and SOP_AGENTS_API_KEY (or
  OPENAI_BASE_URL / OPENAI_API_KEY). The key is read from the environment, sent only to that
  endpoint and never stored.
"""
from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Optional

from smolagents.models import ChatMessage, MessageRole, Model
from smolagents.monitoring import TokenUsage

NO_MODEL_HELP = ("no model configured: set SOP_AGENTS_MODEL=replay:path/to/script.json to play back a "
                 "recorded run offline, or SOP_AGENTS_MODEL=<model id> with SOP_AGENTS_BASE_URL and "
                 "SOP_AGENTS_API_KEY for an OpenAI-compatible endpoint (or pass --model)")


class ModelConfigError(RuntimeError):
    """The model cannot be set up from the configuration; the message says how to fix it."""


class ReplayScript:
    """A recorded script: {"model_id": ..., "responses": [{"content", "input_tokens",
    "output_tokens", "model"?, "latency_ms"?}, ...]}, consumed in order by every ReplayModel
    reading it."""

    _scripts: dict[Path, "ReplayScript"] = {}
    _lock = threading.Lock()

    def __init__(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelConfigError(f"replay script {path} does not exist") from None
        except (OSError, ValueError) as error:
            raise ModelConfigError(f"replay script {path} is not valid JSON: {error}") from None
        responses = data.get("responses") if isinstance(data, dict) else None
        if not isinstance(responses, list) or not all(isinstance(r, dict) and isinstance(r.get("content"), str)
                                                      for r in responses):
            raise ModelConfigError(f"replay script {path} needs a 'responses' list of objects with a 'content' string")
        self.path = path
        self.model_id = str(data.get("model_id") or "replay")
        self.responses = responses
        self.position = 0

    @classmethod
    def open(cls, path: str | os.PathLike) -> "ReplayScript":
        resolved = Path(path).expanduser().resolve()
        with cls._lock:
            if resolved not in cls._scripts:
                cls._scripts[resolved] = cls(resolved)
            return cls._scripts[resolved]

    @classmethod
    def rewind_all(cls) -> None:
        """Every script back to its first response (a new run of the same recording); models
        made before keep sharing the same script."""
        with cls._lock:
            for script in cls._scripts.values():
                script.position = 0

    def next_response(self) -> dict:
        with self._lock:
            if self.position >= len(self.responses):
                raise ModelConfigError(f"replay script {self.path} has no response left "
                                       f"(all {len(self.responses)} were used)")
            self.position += 1
            return self.responses[self.position - 1]


class ReplayModel(Model):
    """Plays back a ReplayScript: each call returns the next response and its token usage."""

    def __init__(self, script_path: str | os.PathLike, **kwargs: Any) -> None:
        self.script = ReplayScript.open(script_path)
        super().__init__(model_id=self.script.model_id, **kwargs)

    def generate(self, messages: list[Any], stop_sequences: Optional[list[str]] = None,
                 response_format: Any = None, tools_to_call_from: Any = None, **kwargs: Any) -> ChatMessage:
        response = self.script.next_response()
        if os.environ.get("SOP_AGENTS_REPLAY_LATENCY", "1") != "0":
            time.sleep(max(0.0, float(response.get("latency_ms", 0))) / 1000)
        self.model_id = str(response.get("model") or self.script.model_id)  # a recording may mix models
        usage = TokenUsage(input_tokens=int(response.get("input_tokens", 0)),
                           output_tokens=int(response.get("output_tokens", 0)))
        return ChatMessage(role=MessageRole.ASSISTANT, content=response["content"], token_usage=usage)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect would carry the key to another address: it is an error instead."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001, ANN201
        return None


_opener = urllib.request.build_opener(_NoRedirect)


class OpenAICompatibleModel(Model):
    """Chat completions over HTTP (no SDK needed): POST {base_url}/chat/completions. The key is
    kept in memory only, sent only to base_url (redirects are refused) and never in a message."""

    def __init__(self, model_id: str, base_url: str, api_key: str = "", timeout: float = 120, **kwargs: Any) -> None:
        super().__init__(model_id=model_id, **kwargs)
        self.base_url = base_url.rstrip("/")
        api_key = api_key.strip()
        if any(ord(c) < 32 or ord(c) == 127 for c in api_key):
            raise ModelConfigError("the API key contains control characters; check SOP_AGENTS_API_KEY")
        self._api_key = api_key
        self.timeout = timeout

    def generate(self, messages: list[Any], stop_sequences: Optional[list[str]] = None,
                 response_format: Any = None, tools_to_call_from: Any = None, **kwargs: Any) -> ChatMessage:
        body: dict[str, Any] = {"model": self.model_id, "messages": [_plain_message(m) for m in messages]}
        if stop_sequences:
            body["stop"] = stop_sequences[:4]
        request = urllib.request.Request(self.base_url + "/chat/completions", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        if self._api_key:
            request.add_header("Authorization", f"Bearer {self._api_key}")
        try:
            with _opener.open(request, timeout=self.timeout) as response:
                body_bytes = response.read()
        except urllib.error.HTTPError as error:
            detail = error.read()[:300].decode(errors="replace").replace(self._api_key or "\0", "***")
            raise RuntimeError(f"model endpoint {self.base_url} answered {error.code}: {detail}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            raise RuntimeError(f"model endpoint {self.base_url} unreachable: {type(error).__name__}") from None
        try:
            reply = json.loads(body_bytes)
            content = reply["choices"][0]["message"].get("content") or ""
            usage = reply.get("usage") or {}
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise RuntimeError(f"model endpoint {self.base_url} returned an unexpected reply: "
                               f"{body_bytes[:200].decode(errors='replace')!r}") from None
        return ChatMessage(role=MessageRole.ASSISTANT, content=content, raw=reply,
                           token_usage=TokenUsage(input_tokens=int(usage.get("prompt_tokens", 0)),
                                                  output_tokens=int(usage.get("completion_tokens", 0))))


def _plain_message(message: Any) -> dict:
    """smolagents messages (ChatMessage or dicts, content as text parts) as OpenAI JSON."""
    if hasattr(message, "dict") and not isinstance(message, dict):
        message = message.dict()
    role = message.get("role")
    role = getattr(role, "value", role)
    content = message.get("content")
    if isinstance(content, list):
        content = "\n".join(part.get("text", "") for part in content if isinstance(part, dict))
    return {"role": {"tool-call": "assistant", "tool-response": "user"}.get(role, role), "content": content or ""}


class ConfiguredModel:
    """For agents: `self.model` is the model given, else the one the environment configures
    (made on first use, so an agent can be built before a model is configured)."""

    _model: Optional[Model] = None

    @property
    def model(self) -> Model:
        if self._model is None:
            self._model = model_from_spec()
        return self._model

    def use_model(self, model: Model) -> None:
        self._model = model


def model_from_spec(spec: Optional[str] = None) -> Model:
    """The model SOP_AGENTS_MODEL (or `spec`) names; ModelConfigError with the fix otherwise."""
    spec = (spec or os.environ.get("SOP_AGENTS_MODEL") or "").strip()
    if not spec:
        raise ModelConfigError(NO_MODEL_HELP)
    if spec.startswith("replay:"):
        return ReplayModel(spec[len("replay:"):])
    model_id = spec[len("openai:"):] if spec.startswith("openai:") else spec
    base_url = os.environ.get("SOP_AGENTS_BASE_URL") or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
    api_key = os.environ.get("SOP_AGENTS_API_KEY") or os.environ.get("OPENAI_API_KEY") or ""
    if not api_key and "api.openai.com" in base_url:
        raise ModelConfigError(f"model {model_id!r} needs SOP_AGENTS_API_KEY (or OPENAI_API_KEY) for "
                               f"{base_url}; or set SOP_AGENTS_BASE_URL to a local endpoint")
    return OpenAICompatibleModel(model_id, base_url, api_key)
