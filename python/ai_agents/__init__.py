"""SOP agents: a small reference host (CLI → supervisor → micro agents + tools + SOP) and its
telemetry (`ai_agents.telemetry`)."""


def create_agent_from_yaml(*args, **kwargs):  # noqa: ANN001, ANN201 - see agent_factory
    """See ai_agents.agent_factory.create_agent_from_yaml (imported lazily: importing
    ai_agents must not import smolagents)."""
    from .agent_factory import create_agent_from_yaml as create

    return create(*args, **kwargs)
