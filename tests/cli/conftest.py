"""End-to-end tests of the sop-telemetry command: the real binary, on session files the real
engine wrote, plus files that are not sessions."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(os.environ.get("SOP_TELEMETRY_CLI", ROOT / "build" / "cli" / "sop-telemetry"))
SUPPORT = Path(__file__).parent / "support"


def run(*args: str, env: dict | None = None, check_code: int | None = 0) -> subprocess.CompletedProcess:
    """Runs the CLI; asserts its exit code unless check_code is None."""
    full_env = {k: v for k, v in os.environ.items() if k != "SOP_TELEMETRY_DIR"}  # --dir decides
    full_env.update(env or {})
    result = subprocess.run([str(CLI), *args], capture_output=True, text=True, env=full_env, timeout=60)
    if check_code is not None:
        assert result.returncode == check_code, (args, result.returncode, result.stdout, result.stderr)
    return result


def run_json(*args: str) -> dict:
    return json.loads(run(*args, "--json").stdout)


@pytest.fixture(scope="session")
def sessions_dir(tmp_path_factory) -> Path:
    """Three sessions written by the engine (healthy, troubled, Chinese text), oldest first."""
    directory = tmp_path_factory.mktemp("sessions")
    subprocess.run([sys.executable, str(SUPPORT / "make_sessions.py"), str(directory)], check=True,
                   env={k: v for k, v in os.environ.items() if k != "SOP_TELEMETRY_DIR"})
    return directory


@pytest.fixture
def store(sessions_dir, tmp_path) -> Path:
    """A copy of the three sessions that a test may change."""
    copy = tmp_path / "store"
    shutil.copytree(sessions_dir, copy)
    return copy


@pytest.fixture
def ids(store) -> list[str]:
    """Session ids, newest first."""
    return [s["session_id"] for s in run_json("--dir", str(store), "list")["sessions"]]


def session_with(store: Path, edit, source: Path | None = None) -> str:
    """A copy of a stored session (`source`, else any) changed by `edit(data)`, saved under the
    id `edit` returns; returns that id."""
    data = json.loads((source or next(store.glob("2*.json"))).read_text())
    session_id = edit(data)
    data["session_id"] = session_id
    (store / f"{session_id}.json").write_text(json.dumps(data))
    return session_id


def add_tool_spans(data: dict, names) -> None:
    """Adds to a session file's data a copy of its first tool call under each of `names`."""
    tool = next(span for span in data["spans"] if span["kind"] == "tool")
    data["spans"] += [{**tool, "span_id": f"{0xFFF00000000000 + i:016x}", "name": name}  # ids no session has
                      for i, name in enumerate(names)]


def task_span(data: dict) -> dict:
    """The first task span of a session file's data (its detail is the task's description)."""
    return next(span for span in data["spans"] if span["kind"] == "task")


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.fail("no Chromium: scripts/install-deps.sh installs Debian's chromium")


def browse(url: str, screenshot: Path | None = None, budget_ms: int = 4000) -> tuple[str, str]:
    """Loads `url` in headless Chromium; returns (the DOM after its scripts ran, the console log)."""
    base = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            f"--user-data-dir={Path(os.environ.get('TMPDIR', '/tmp')) / 'sop-telemetry-chromium'}",
            "--enable-logging=stderr", "--v=0", f"--virtual-time-budget={budget_ms}",
            "--window-size=1280,1400"]
    dom = subprocess.run(base + ["--dump-dom", url], capture_output=True, text=True, timeout=120)
    if screenshot is not None:
        subprocess.run(base + [f"--screenshot={screenshot}", url], capture_output=True, timeout=120)
    console = "\n".join(line for line in dom.stderr.splitlines() if "CONSOLE" in line)
    return dom.stdout, console
