"""BaseSupervisorAgent: a smolagents CodeAgent that manages micro agents and follows an SOP.

The SOP is a Markdown procedure chosen by category (`sops/<category>.md`); the category is
recorded as the task's `sop_category`. Subclasses set `sop_category` and `micro_agent_classes`;
nothing about telemetry is needed."""
from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any, Optional, Sequence

from smolagents import CodeAgent
from smolagents.models import Model

from ai_agents.telemetry import TaskStatus
from ai_agents.telemetry._tracing import collector as instrumentation_collector, current_span, run_outcome

from ..micro_agents.base_micro_agent import BaseMicroAgent
from ..models import ConfiguredModel

SOP_DIRECTORY = Path(__file__).resolve().parents[1] / "sops"
_task_numbers = itertools.count(1)


class UnknownSopError(ValueError):
    """No SOP of that category."""


def available_sops(directory: Path = SOP_DIRECTORY) -> list[str]:
    return sorted(path.stem for path in directory.glob("*.md"))


def load_sop(category: str, directory: Path = SOP_DIRECTORY) -> str:
    path = directory / f"{category}.md"
    if not category.replace("_", "").replace("-", "").isalnum() or not path.is_file():
        raise UnknownSopError(f"no SOP {category!r}; available: {', '.join(available_sops(directory))}")
    return path.read_text(encoding="utf-8")


class BaseSupervisorAgent(ConfiguredModel):
    name: str = "supervisor_agent"
    description: str = "Plans the task, delegates to micro agents and reports."
    sop_category: str = "default"
    micro_agent_classes: Sequence[type[BaseMicroAgent]] = ()
    max_steps: int = 8

    def __init__(self, model: Optional[Model] = None, micro_agents: Optional[Sequence[BaseMicroAgent]] = None,
                 root: Optional[str | os.PathLike] = None, sop_directory: Optional[str | os.PathLike] = None,
                 max_steps: Optional[int] = None) -> None:
        self._model = model
        self.root = root
        self.micro_agents = list(micro_agents) if micro_agents is not None else [
            cls(root=root) for cls in self.micro_agent_classes]
        self.sop_directory = Path(sop_directory) if sop_directory else SOP_DIRECTORY
        self.max_steps = max_steps or self.max_steps

    def use_model(self, model: Model) -> None:
        """This model for the supervisor and every micro agent."""
        super().use_model(model)
        for micro in self.micro_agents:
            micro.use_model(model)

    def build_agent(self) -> CodeAgent:
        return CodeAgent(tools=[], model=self.model, name=self.name, description=self.description,
                         managed_agents=[micro.get_code_agent() for micro in self.micro_agents],
                         max_steps=self.max_steps,
                         verbosity_level=int(os.environ.get("SOP_AGENTS_VERBOSITY", "0")))

    def run(self, task: str, sop_category: Optional[str] = None, **kwargs: Any) -> Any:
        """Runs the task under the SOP of `sop_category` (default: the class's) as one
        telemetry task; returns the agent's final answer, raises what the agent raised."""
        category = sop_category or self.sop_category
        sop = load_sop(category, self.sop_directory)
        agent = self.build_agent()
        task_id = f"{category}-{next(_task_numbers)}"
        telemetry = instrumentation_collector()  # the one the smolagents instrumentation uses
        task_span = telemetry.open_task(task_id, task, category, current_span.get())  # under the CLI's span, if any
        inside_task = current_span.set(task_span) if task_span else None  # the agent's run hangs under it
        status = TaskStatus.FAILED
        try:
            result = agent.run(f"{task}\n\nFollow this standard operating procedure:\n\n{sop}", **kwargs)
            status = run_outcome(agent)
            return result
        except KeyboardInterrupt:
            status = TaskStatus.CANCELLED
            raise
        finally:
            if inside_task is not None:
                current_span.reset(inside_task)
            telemetry.end_task(task_id, status)
