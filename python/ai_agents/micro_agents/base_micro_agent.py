"""BaseMicroAgent: one focused smolagents CodeAgent with a few tools.

Subclasses set `name`, `description` and `tool_names` (or pass them); nothing about telemetry is
needed — every smolagents agent is instrumented by ai_agents.telemetry."""
from __future__ import annotations

import os
from typing import Any, Optional, Sequence

from smolagents import CodeAgent, Tool
from smolagents.models import Model

import ai_agents.telemetry  # noqa: F401 - zero configuration: the session starts here

from ..models import ConfiguredModel
from ..tools import make_tool


class BaseMicroAgent(ConfiguredModel):
    name: str = "micro_agent"
    description: str = "A micro agent."
    tool_names: Sequence[str] = ()
    max_steps: int = 6

    def __init__(self, name: Optional[str] = None, description: Optional[str] = None,
                 tools: Optional[Sequence[str | Tool]] = None, model: Optional[Model] = None,
                 root: Optional[str | os.PathLike] = None, max_steps: Optional[int] = None) -> None:
        self.name = name or self.name
        self.description = description or self.description
        self.root = root
        wanted = list(tools) if tools is not None else list(self.tool_names)
        self.tools = [item if isinstance(item, Tool) else make_tool(item, root) for item in wanted]
        self._model = model
        self.max_steps = max_steps or self.max_steps
        self._code_agent: Optional[CodeAgent] = None

    def use_model(self, model: Model) -> None:
        super().use_model(model)
        self._code_agent = None  # made again with this model

    def get_code_agent(self) -> CodeAgent:
        """The smolagents CodeAgent (made once), usable alone or as a managed agent."""
        if self._code_agent is None:
            self._code_agent = CodeAgent(tools=self.tools, model=self.model, name=self.name,
                                         description=self.description, max_steps=self.max_steps,
                                         verbosity_level=int(os.environ.get("SOP_AGENTS_VERBOSITY", "0")))
        return self._code_agent

    def run(self, task: str, **kwargs: Any) -> Any:
        return self.get_code_agent().run(task, **kwargs)
