"""Test setup: sessions go to a temporary directory, and each test that needs one gets a fresh
engine manager that the smolagents instrumentation records into."""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

# Before ai_agents.telemetry is imported anywhere: never write into the developer's cache.
os.environ["SOP_TELEMETRY_DIR"] = tempfile.mkdtemp(prefix="sop_telemetry_pytest_")
os.environ.pop("SOP_TELEMETRY_ENABLED", None)
os.environ["SOP_AGENTS_REPLAY_LATENCY"] = "0"  # recorded model latencies are not waited for
sys.path.insert(0, str(Path(__file__).parent / "support"))

import pytest  # noqa: E402

from ai_agents.telemetry import _core, _tracing  # noqa: E402
from ai_agents.telemetry.collector import TelemetryCollector  # noqa: E402
from ai_agents.telemetry.manager import TelemetryManager, config_from_mapping  # noqa: E402


@pytest.fixture
def telemetry(tmp_path, monkeypatch):
    """A fresh session in tmp_path that the instrumentation records into; yields its manager."""
    monkeypatch.delenv("SOP_TELEMETRY_DIR")  # the environment would win over storage_dir
    engine = _core.TelemetryManager()
    engine.initialize(config_from_mapping({"storage_dir": str(tmp_path), "flush_interval": 0.05,
                                           "code_metrics": False, "auto_cleanup": False}))
    _tracing.use_collector(TelemetryCollector(engine.get_collector()))
    manager = TelemetryManager(engine)
    yield manager
    _tracing.reset_collector()
    engine.shutdown()
