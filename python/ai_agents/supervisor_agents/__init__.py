"""Supervisor agents: a CodeAgent that manages micro agents and follows an SOP."""
