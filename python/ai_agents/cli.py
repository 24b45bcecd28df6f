"""sop-agents: the CLI layer of the reference host.

    sop-agents run "<task>" [--sop CATEGORY] [--model SPEC] [--root DIR]

Runs the repo-analysis supervisor (or --agent NAME from agents.yaml) on the task. The invocation
itself is recorded in the session as a span "sop-agents run"."""
from __future__ import annotations

import argparse
import sys
import time
from typing import Optional, Sequence

import ai_agents.telemetry  # noqa: F401 - the session starts before anything else
from ai_agents.telemetry import SpanKind, TaskStatus, TelemetryCollector, TelemetryManager
from ai_agents.telemetry._tracing import current_span

EXIT_FAILED, EXIT_USAGE = 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sop-agents", description="Run SOP agents (supervisor → micro agents → tools).")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a task")
    run.add_argument("task", help="what to do, e.g. '分析这个代码仓库的架构'")
    run.add_argument("--sop", help="SOP category (default: the agent's own)")
    run.add_argument("--model", help="model spec: replay:PATH or a model id (default: $SOP_AGENTS_MODEL)")
    run.add_argument("--agent", help="a supervisor or micro agent from agents.yaml (default: the repo-analysis supervisor)")
    run.add_argument("--config", help="agents.yaml to read --agent from")
    run.add_argument("--root", help="repository the tools work in (default: the current directory)")
    return parser


def _build(args: argparse.Namespace):
    from .models import model_from_spec

    model = model_from_spec(args.model)
    if args.agent:
        from .agent_factory import create_agent_from_yaml

        agent = create_agent_from_yaml(args.agent, args.config, root=args.root)
    else:
        from .supervisor_agents.repo_analysis_supervisor_agent import RepoAnalysisSupervisorAgent

        agent = RepoAnalysisSupervisorAgent(root=args.root)
    agent.use_model(model)
    return agent


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parser().parse_args(argv)
    try:
        import smolagents  # noqa: F401 - the agents are smolagents agents
    except ImportError:
        print("sop-agents: needs smolagents: pip install 'sop-agents-telemetry[smolagents]' "
              "(or pip install smolagents)", file=sys.stderr)
        return EXIT_USAGE
    from .agent_factory import AgentConfigError
    from .models import ModelConfigError
    from .supervisor_agents.base_supervisor_agent import UnknownSopError

    telemetry = TelemetryCollector()
    span = telemetry.begin_span(SpanKind.OTHER, "sop-agents run", 0, "cli")
    current_span.set(span)  # the task and everything in it hang under the invocation
    status, error = TaskStatus.COMPLETED, None
    try:
        agent = _build(args)
        kwargs = {"sop_category": args.sop} if args.sop and hasattr(agent, "sop_category") else {}
        started = time.perf_counter()
        result = agent.run(args.task, **kwargs)
        print(result)
        print(f"\n[sop-agents] done in {time.perf_counter() - started:.2f} s; session "
              f"{TelemetryManager.get_instance().get_session_data().session_id}", file=sys.stderr)
        return 0
    except (ModelConfigError, AgentConfigError, UnknownSopError) as problem:
        status, error = TaskStatus.FAILED, str(problem)
        print(f"sop-agents: {problem}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as problem:  # noqa: BLE001 - the agent failed: say so, exit non-zero
        status, error = TaskStatus.FAILED, f"{type(problem).__name__}: {problem}"
        print(f"sop-agents: the run failed: {error}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        telemetry.end_span(span, status, error)


if __name__ == "__main__":
    sys.exit(main())
