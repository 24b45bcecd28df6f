"""create_agent_from_yaml: agents described in an agents.yaml like the design document's:

    agents:
      - name: "search_agent"
        type: "micro"                  # or "supervisor" (with agents: [...] and sop: ...)
        tools: ["file_search", "text_grep"]

Which file: `path`, else $SOP_AGENTS_CONFIG, else ./agents.yaml, else the one shipped with the
package. Every problem is an AgentConfigError that names the file and what is wrong."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Union

import yaml

from .micro_agents.base_micro_agent import BaseMicroAgent
from .supervisor_agents.base_supervisor_agent import BaseSupervisorAgent, available_sops
from .tools import TOOLS

PACKAGED_CONFIG = Path(__file__).resolve().parent / "agents.yaml"


class AgentConfigError(ValueError):
    """agents.yaml cannot give the agent asked for."""


def _config_path(path: Optional[Union[str, os.PathLike]]) -> Path:
    if path:
        return Path(path)
    if os.environ.get("SOP_AGENTS_CONFIG"):
        return Path(os.environ["SOP_AGENTS_CONFIG"])
    local = Path.cwd() / "agents.yaml"
    return local if local.is_file() else PACKAGED_CONFIG


def load_agent_specs(path: Optional[Union[str, os.PathLike]] = None) -> tuple[Path, dict[str, dict]]:
    source = _config_path(path)
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AgentConfigError(f"{source}: no such file") from None
    except (OSError, UnicodeError) as error:
        raise AgentConfigError(f"{source}: cannot be read: {error}") from None
    except yaml.YAMLError as error:
        raise AgentConfigError(f"{source}: not valid YAML: {error}") from None
    agents = data.get("agents") if isinstance(data, dict) else None
    if not isinstance(agents, list):
        raise AgentConfigError(f"{source}: expected a top-level 'agents:' list")
    specs: dict[str, dict] = {}
    for index, spec in enumerate(agents):
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not spec["name"]:
            raise AgentConfigError(f"{source}: agents[{index}] needs a 'name'")
        if not spec["name"].isidentifier():
            raise AgentConfigError(f"{source}: agent name {spec['name']!r} must be a Python identifier "
                                   "(letters, digits, '_'): the supervisor calls it by that name")
        if "max_steps" in spec and (not isinstance(spec["max_steps"], int) or spec["max_steps"] < 1):
            raise AgentConfigError(f"{source}: agent {spec['name']!r}: max_steps must be a positive integer")
        if spec.get("type", "micro") not in ("micro", "supervisor"):
            raise AgentConfigError(f"{source}: agent {spec['name']!r} has type {spec.get('type')!r}; "
                                   "use 'micro' or 'supervisor'")
        specs[spec["name"]] = spec
    return source, specs


def _micro(source: Path, spec: dict, root: Any) -> BaseMicroAgent:
    tools = spec.get("tools") or []
    if not isinstance(tools, list) or not all(isinstance(t, str) for t in tools):
        raise AgentConfigError(f"{source}: agent {spec['name']!r}: 'tools' must be a list of tool names")
    unknown = [t for t in tools if t not in TOOLS]
    if unknown:
        raise AgentConfigError(f"{source}: agent {spec['name']!r} uses unknown tool(s) {', '.join(unknown)}; "
                               f"known tools: {', '.join(sorted(TOOLS))}")
    return BaseMicroAgent(name=spec["name"], description=spec.get("description"), tools=tools, root=root,
                          max_steps=spec.get("max_steps"))


def create_agent_from_yaml(name: str, path: Optional[Union[str, os.PathLike]] = None,
                           root: Optional[Union[str, os.PathLike]] = None
                           ) -> Union[BaseMicroAgent, BaseSupervisorAgent]:
    """The agent called `name` in agents.yaml: a BaseMicroAgent, or a BaseSupervisorAgent that
    manages the micro agents it lists."""
    source, specs = load_agent_specs(path)
    if name not in specs:
        raise AgentConfigError(f"{source}: no agent {name!r}; defined: {', '.join(specs) or 'none'}")
    spec = specs[name]
    if spec.get("type", "micro") == "micro":
        return _micro(source, spec, root)
    members = spec.get("agents") or []
    if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
        raise AgentConfigError(f"{source}: supervisor {name!r}: 'agents' must be a list of agent names")
    missing = [m for m in members if m not in specs]
    if missing:
        raise AgentConfigError(f"{source}: supervisor {name!r} manages undefined agent(s) {', '.join(missing)}")
    nested = [m for m in members if specs[m].get("type", "micro") != "micro"]
    if nested:
        raise AgentConfigError(f"{source}: supervisor {name!r} can only manage micro agents, not {', '.join(nested)}")
    sop = spec.get("sop", "default")
    if sop not in available_sops():
        raise AgentConfigError(f"{source}: supervisor {name!r} follows unknown SOP {sop!r}; "
                               f"available: {', '.join(available_sops())}")
    supervisor = BaseSupervisorAgent(micro_agents=[_micro(source, specs[m], root) for m in members], root=root,
                                     max_steps=spec.get("max_steps"))
    supervisor.name = name
    supervisor.sop_category = sop
    return supervisor
