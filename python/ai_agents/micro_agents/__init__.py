"""Micro agents: small smolagents CodeAgents with a few tools each."""
