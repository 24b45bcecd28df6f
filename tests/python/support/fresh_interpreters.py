"""Programs run in fresh interpreters, as a user runs them, and the session files they leave."""
import json
import os
import subprocess
import sys
from pathlib import Path

SUPPORT = Path(__file__).parent


def program_environment(tmp_path, env=None):
    """The environment of a program under test: its own store, these helpers on its path, and
    no SOP_TELEMETRY_AUTO of the developer's."""
    environment = {key: value for key, value in os.environ.items() if key != "SOP_TELEMETRY_AUTO"}
    environment.update({"SOP_TELEMETRY_DIR": str(tmp_path / "store"), "PYTHONPATH": str(SUPPORT),
                        **(env or {})})
    return environment


def run_python(tmp_path, script, *, env=None, launcher=None):
    path = tmp_path / "app.py"
    path.write_text(script, encoding="utf-8")
    command = [launcher, str(path)] if launcher else [sys.executable, str(path)]
    return subprocess.run(command, env=program_environment(tmp_path, env), capture_output=True, text=True,
                          timeout=120)


def start_python(tmp_path, script, *, env=None):
    """The program running, its output piped; it prints 'ready' when the test may go on."""
    path = tmp_path / "app.py"
    path.write_text(script, encoding="utf-8")
    return subprocess.Popen([sys.executable, str(path)], env=program_environment(tmp_path, env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stored_sessions(tmp_path):
    store = tmp_path / "store"
    files = sorted(store.glob("*.json")) if store.exists() else []
    return [json.loads(f.read_text(encoding="utf-8")) for f in files]
