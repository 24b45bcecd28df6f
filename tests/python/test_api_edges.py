"""The design document's Python API at its edges: configurations given in parts, sessions read
while another process still writes them, text and numbers the engine cannot take as they are,
and safe_telemetry_operation around generators."""
import asyncio
import os

from tree import recorded_errors

from ai_agents.telemetry import _core, get_error_handler, safe_telemetry_operation
from ai_agents.telemetry.data_store import TelemetryDataStore
from ai_agents.telemetry.manager import TelemetryManager
from ai_agents.telemetry.types import TelemetrySession


def _manager(storage_dir):
    manager = TelemetryManager(_core.TelemetryManager())
    assert manager.initialize({"storage_dir": str(storage_dir), "code_metrics": False})
    return manager


def test_initialize_with_some_keys_keeps_the_others_and_stays_off_when_turned_off(tmp_path, monkeypatch):
    monkeypatch.delenv("SOP_TELEMETRY_DIR")
    manager = _manager(tmp_path / "store")
    assert manager.initialize({"max_file_age_days": 7})
    assert manager.get_storage_stats()["storage_path"] == str(tmp_path / "store")
    manager.disable_telemetry()
    assert manager.initialize({"max_file_age_days": 8}) and not manager.is_enabled()
    manager.shutdown()


def test_a_relative_storage_dir_is_made_absolute_once(tmp_path, monkeypatch):
    monkeypatch.delenv("SOP_TELEMETRY_DIR")
    monkeypatch.chdir(tmp_path)
    manager = _manager("relative store")
    assert manager.get_storage_stats()["storage_path"] == str(tmp_path / "relative store")
    os.mkdir(tmp_path / "elsewhere")
    monkeypatch.chdir(tmp_path / "elsewhere")
    manager.get_collector().record_llm_call("gpt-4o", 1, 1, 0.1)
    manager.shutdown()
    assert list((tmp_path / "relative store").glob("*.json")) and not os.listdir(tmp_path / "elsewhere")


def test_a_data_store_takes_every_kind_of_path(tmp_path, monkeypatch):
    monkeypatch.delenv("SOP_TELEMETRY_DIR")
    directory = tmp_path / "存储"
    manager = _manager(directory)
    manager.get_collector().record_llm_call("gpt-4o", 1, 1, 0.1)
    session_id = manager.get_session_data().session_id
    manager.shutdown()
    for path in (str(directory), directory, os.fsencode(directory)):
        store = TelemetryDataStore(path)
        assert store.storage_dir == str(directory) and store.list_session_ids() == [session_id]


def test_configuration_problems_are_in_the_error_summary(tmp_path, monkeypatch):
    monkeypatch.delenv("SOP_TELEMETRY_DIR")
    get_error_handler().reset_error_state()
    manager = _manager(tmp_path / "store")
    manager.initialize({"no_such_key": 1, "flush_interval": "soon", "max_file_age_days": -3,
                        "price_file": str(tmp_path / "missing.json")})
    assert all(word in recorded_errors("config") for word in ("no_such_key", "flush_interval", "max_file_age_days"))
    assert "missing.json" in recorded_errors("pricing")
    manager.shutdown()


def test_a_session_read_again_after_its_file_was_rewritten_is_the_new_one(tmp_path, monkeypatch):
    monkeypatch.delenv("SOP_TELEMETRY_DIR")
    writer, reader = _manager(tmp_path), _manager(tmp_path)
    writer.get_collector().record_llm_call("gpt-4o", 100, 0, 0.1)
    assert writer.flush_data()
    session_id = writer.get_session_data().session_id
    assert reader.get_session_data(session_id).total_tokens.total_tokens == 100
    writer.get_collector().record_llm_call("gpt-4o", 900, 0, 0.1)
    assert writer.flush_data()
    assert reader.get_session_data(session_id).total_tokens.total_tokens == 1000
    writer.shutdown()
    reader.shutdown()


def test_text_with_lone_surrogates_and_counts_past_64_bits_in_total(tmp_path, monkeypatch):
    monkeypatch.delenv("SOP_TELEMETRY_DIR")
    manager = _manager(tmp_path)
    collector = manager.get_collector()
    assert collector.start_task("t\udcff", "a\udcffb")
    collector.record_llm_call("gpt-4o", 2**62, 2**62, 0.1)
    collector.end_task("t\udcff")
    session = manager.get_session_data()
    assert session.tasks[0].description == "a?b" and session.tasks[0].task_id == "t?"
    assert session.total_tokens.total_tokens == 2**63 - 1
    assert TelemetrySession.from_json(session.to_json()).total_tokens.total_tokens == 2**63 - 1
    manager.shutdown()


def test_safe_telemetry_operation_keeps_generators_from_raising():
    get_error_handler().reset_error_state()

    @safe_telemetry_operation("numbers")
    def numbers():
        yield 1
        raise ValueError("generator broke")

    @safe_telemetry_operation("async numbers")
    async def async_numbers():
        yield 1
        raise ValueError("async generator broke")

    async def collect():
        return [item async for item in async_numbers()]

    assert list(numbers()) == [1] and asyncio.run(collect()) == [1]
    assert "generator broke" in recorded_errors("numbers") and "async generator broke" in recorded_errors("async numbers")
