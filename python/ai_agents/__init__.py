"""SOP agents: the host system and its telemetry."""
