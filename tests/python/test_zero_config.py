"""Zero configuration, end to end, in fresh interpreters: import-only, SOP_TELEMETRY_AUTO=1
with no import at all, the sop-telemetry-run launcher, SOP_TELEMETRY_ENABLED=0, and Ctrl-C."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fresh_interpreters import SUPPORT, run_python, stored_sessions

AGENT_SCRIPT = """
from scripted_models import ScriptedModel, code
from smolagents import CodeAgent
agent = CodeAgent(tools=[], model=ScriptedModel([code("final_answer('zero')")], 12, 3),
                  max_steps=2, verbosity_level=0)
print(agent.run("零配置任务"))
"""


def assert_one_agent_session(tmp_path):
    sessions = stored_sessions(tmp_path)
    assert len(sessions) == 1
    session = sessions[0]
    assert session["end_time"] is not None
    assert [t["description"] for t in session["tasks"]] == ["零配置任务"]
    assert session["total_tokens"]["total_tokens"] == 15
    assert session["environment"]["python_version"] == ".".join(map(str, sys.version_info[:3]))
    assert not list((tmp_path / "store").glob("*.jsonl"))  # the journal is gone after a clean exit


def test_importing_the_package_is_all_it_takes(tmp_path):
    result = run_python(tmp_path, "import ai_agents.telemetry\n" + AGENT_SCRIPT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "zero"
    assert_one_agent_session(tmp_path)


def test_auto_mode_needs_no_import_at_all(tmp_path):
    result = run_python(tmp_path, AGENT_SCRIPT, env={"SOP_TELEMETRY_AUTO": "1"})
    assert result.returncode == 0, result.stderr
    assert_one_agent_session(tmp_path)


@pytest.mark.parametrize("start", ["import", "auto"])
def test_asking_whether_smolagents_is_installed_before_importing_it_changes_nothing(tmp_path, start):
    script = "import importlib.util\nassert importlib.util.find_spec('smolagents') is not None\n" + AGENT_SCRIPT
    if start == "import":
        script = "import ai_agents.telemetry\n" + script
    result = run_python(tmp_path, script, env={"SOP_TELEMETRY_AUTO": "1"} if start == "auto" else None)
    assert result.returncode == 0, result.stderr
    assert_one_agent_session(tmp_path)


def test_auto_mode_leaves_no_file_for_a_program_that_records_nothing(tmp_path):
    result = run_python(tmp_path, "import json\nprint(json.dumps([1]))\n", env={"SOP_TELEMETRY_AUTO": "1"})
    assert (result.returncode, result.stdout.strip(), result.stderr) == (0, "[1]", "")
    store = tmp_path / "store"
    assert not store.exists() or not list(store.iterdir())
    result = run_python(tmp_path, "from ai_agents.telemetry import TelemetryCollector\n"
                                  "TelemetryCollector().record_tool_usage('grep', 0.1)\n",
                        env={"SOP_TELEMETRY_AUTO": "1"})
    assert result.returncode == 0, result.stderr
    assert len(stored_sessions(tmp_path)) == 1  # something recorded: kept


def test_starting_pulls_in_no_heavy_modules_a_program_does_not_use(tmp_path):
    # Every Python child of a launched program (and every interpreter with SOP_TELEMETRY_AUTO)
    # pays for the import: asyncio alone took ~35 ms of ~80, importlib.abc ~10.
    script = "import sys\nprint(sorted(m for m in ('asyncio', 'importlib.abc') if m in sys.modules))\n"
    result = run_python(tmp_path, script, env={"SOP_TELEMETRY_AUTO": "1"})
    assert (result.returncode, result.stdout.strip()) == (0, "[]"), result.stderr


def test_without_auto_mode_nothing_is_recorded(tmp_path):
    result = run_python(tmp_path, AGENT_SCRIPT)
    assert result.returncode == 0, result.stderr
    assert stored_sessions(tmp_path) == []


def test_without_auto_mode_the_package_is_not_even_imported(tmp_path):
    # A project of the user's own named ai_agents must stay its own: the .pth imported this
    # package at every interpreter start, shadowing it.
    own = tmp_path / "project" / "ai_agents"
    own.mkdir(parents=True)
    (own / "__init__.py").write_text("OWNER = 'the user'\n")
    (own / "util.py").write_text("")
    script = "import sys\nfrom ai_agents import util, OWNER\nprint(OWNER, 'ai_agents.telemetry' in sys.modules)"
    for auto in ("0", ""):
        result = subprocess.run([sys.executable, "-c", script], cwd=own.parent, capture_output=True, text=True,
                                timeout=60, env={**os.environ, "SOP_TELEMETRY_AUTO": auto})
        assert (result.returncode, result.stdout, result.stderr) == (0, "the user False\n", ""), auto


def test_launcher_runs_a_program_with_telemetry(tmp_path):
    launcher = str(Path(sys.executable).parent / "sop-telemetry-run")
    quiet = run_python(tmp_path, "print('nothing to record')", launcher=launcher)
    assert quiet.returncode == 0 and stored_sessions(tmp_path) == []  # as with SOP_TELEMETRY_AUTO=1
    result = run_python(tmp_path, AGENT_SCRIPT, launcher=launcher)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "zero"
    assert_one_agent_session(tmp_path)


def test_disabled_by_environment_writes_nothing_and_changes_nothing(tmp_path):
    result = run_python(tmp_path, "import ai_agents.telemetry\n" + AGENT_SCRIPT,
                        env={"SOP_TELEMETRY_ENABLED": "0"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "zero"
    assert not (tmp_path / "store").exists()


def test_ctrl_c_is_still_a_keyboard_interrupt_and_the_session_is_saved(tmp_path):
    # A shell starts background jobs with SIGINT ignored; the program first takes the default
    # Python handler, as a program run from a terminal has, then checks telemetry keeps it.
    script = ("import signal, time\n"
              "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
              "import ai_agents.telemetry\n"
              "assert signal.getsignal(signal.SIGINT) is signal.default_int_handler\n"
              "c = ai_agents.telemetry.TelemetryCollector()\n"
              "c.start_task('long', 'interrupted')\n"
              "try:\n    print('ready', flush=True)\n    time.sleep(60)\n"
              "except KeyboardInterrupt:\n    print('caught KeyboardInterrupt', flush=True)\n    raise\n")
    (tmp_path / "app.py").write_text(script, encoding="utf-8")
    environment = {**os.environ, "SOP_TELEMETRY_DIR": str(tmp_path / "store")}
    process = subprocess.Popen([sys.executable, str(tmp_path / "app.py")], env=environment,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert "caught KeyboardInterrupt" in out
    assert "KeyboardInterrupt" in err
    assert process.returncode != 0
    sessions = stored_sessions(tmp_path)
    assert len(sessions) == 1 and sessions[0]["tasks"][0]["status"] == "cancelled"  # over with its process


def test_a_killed_interpreter_leaves_a_journal_the_next_start_recovers(tmp_path):
    script = ("import time, ai_agents.telemetry as t\n"
              "c = t.TelemetryCollector()\n"
              "c.record_llm_call('gpt-4o', 100, 10, 0.5)\n"
              "print('ready', flush=True)\n"
              "time.sleep(60)\n")
    (tmp_path / "app.py").write_text(script, encoding="utf-8")
    environment = {**os.environ, "SOP_TELEMETRY_DIR": str(tmp_path / "store"),
                   "SOP_TELEMETRY_FLUSH_INTERVAL_MS": "50"}
    process = subprocess.Popen([sys.executable, str(tmp_path / "app.py")], env=environment,
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    time.sleep(0.5)
    process.kill()
    process.wait(timeout=30)
    assert list((tmp_path / "store").glob("*.jsonl"))
    subprocess.run([sys.executable, "-c", "import ai_agents.telemetry"], env=environment,
                   check=True, timeout=60)
    sessions = stored_sessions(tmp_path)
    recovered = [s for s in sessions if s["incomplete"]]
    assert len(recovered) == 1
    assert recovered[0]["total_tokens"]["total_tokens"] == 110


def test_runs_still_open_at_exit_end_cancelled(tmp_path):
    script = AGENT_SCRIPT.replace('print(agent.run("零配置任务"))', """
steps = agent.run("left open", stream=True)
next(steps)  # the host stops reading and exits
""").replace('code("final_answer(\'zero\')")', 'code("print(1)"), code("final_answer(\'zero\')")')
    result = run_python(tmp_path, "import ai_agents.telemetry\n" + script)
    assert result.returncode == 0, result.stderr
    [session] = stored_sessions(tmp_path)
    statuses = {(span["kind"], span["status"]) for span in session["spans"] if span["kind"] != "llm"}
    assert statuses == {("task", "cancelled"), ("agent", "cancelled"), ("step", "cancelled")}, statuses


def test_the_launcher_gives_the_program_its_own_directory_and_the_working_one_for_m(tmp_path):
    launcher = str(Path(sys.executable).parent / "sop-telemetry-run")
    (tmp_path / "neighbour.py").write_text("VALUE = '邻居'\nif __name__ == '__main__':\n    print('as main', VALUE)\n",
                                           encoding="utf-8")
    as_script = run_python(tmp_path, "import neighbour\nprint(neighbour.VALUE)", launcher=launcher)
    assert (as_script.returncode, as_script.stdout.strip()) == (0, "邻居"), as_script.stderr
    (tmp_path / "links").mkdir()  # a link to the script: python takes the directory it points into
    (tmp_path / "links" / "app.py").symlink_to(tmp_path / "app.py")
    linked = subprocess.run([launcher, str(tmp_path / "links" / "app.py")], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "SOP_TELEMETRY_DIR": str(tmp_path / "store")})
    assert (linked.returncode, linked.stdout.strip()) == (0, "邻居"), linked.stderr
    as_module = subprocess.run([launcher, "-m", "neighbour"], cwd=tmp_path, capture_output=True, text=True,
                               timeout=120, env={**os.environ, "SOP_TELEMETRY_DIR": str(tmp_path / "store")})
    assert (as_module.returncode, as_module.stdout.strip()) == (0, "as main 邻居"), as_module.stderr


def test_the_launcher_runs_a_program_as_python_does(tmp_path):
    launcher = str(Path(sys.executable).parent / "sop-telemetry-run")
    script = """
import atexit, os, pickle, subprocess, sys

class State:  # pickled by reference to __main__, after the body has ended too
    pass

def at_exit():
    print("pickled at exit", len(pickle.dumps(State())) > 0, flush=True)

atexit.register(at_exit)
here = __file__
os.chdir("/")
print("absolute file", os.path.isabs(here), os.path.exists(here))
print("builtins module", type(__builtins__).__name__, type(__loader__).__name__)
child = subprocess.run([sys.executable, "-c", "import sys; print('ai_agents.telemetry' in sys.modules)"],
                       capture_output=True, text=True)
print("child recorded", child.stdout.strip())
"""
    result = run_python(tmp_path, script, launcher=launcher)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["absolute file True True", "builtins module module SourceFileLoader",
                                          "child recorded True", "pickled at exit True"]
    assert stored_sessions(tmp_path) == []  # neither it nor its child recorded anything: no file
    (tmp_path / "fails.py").write_text("raise ValueError('shown as python shows it')\n")
    failed = subprocess.run([launcher, "fails.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "SOP_TELEMETRY_DIR": str(tmp_path / "store")})
    assert failed.returncode == 1 and f'File "{tmp_path / "fails.py"}", line 1' in failed.stderr, failed.stderr
    plain = subprocess.run([sys.executable, "fails.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                           env={**os.environ, "SOP_TELEMETRY_DIR": str(tmp_path / "store")})
    assert failed.stderr == plain.stderr  # no launcher frames
    missing = subprocess.run([launcher, str(tmp_path / "nowhere.py")], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "can't open file" in missing.stderr and "Traceback" not in missing.stderr


def test_a_forked_child_never_writes_its_parents_session(tmp_path):
    script = """
import os, sys
from ai_agents.telemetry import TelemetryManager, get_error_handler
manager = TelemetryManager.get_instance()
collector = manager.get_collector()
collector.record_llm_call("gpt-4o", 1, 0, 0.1)
child = os.fork()
if child == 0:
    collector.record_llm_call("gpt-4o", 100, 0, 0.1)
    flushed = manager.flush_data()
    errors = get_error_handler().get_error_summary().get("flush_data", {}).get("recent_messages", [])
    print("child", flushed, any("forked" in e for e in errors), flush=True)
    sys.exit(0)
os.waitpid(child, 0)
collector.record_llm_call("gpt-4o", 10000, 0, 0.1)
"""
    result = run_python(tmp_path, script)
    assert result.returncode == 0 and result.stdout.strip() == "child False True", result.stderr
    [session] = stored_sessions(tmp_path)
    assert session["total_tokens"]["prompt_tokens"] == 10001
    assert not list((tmp_path / "store").glob("*.jsonl"))


def test_the_api_used_in_the_hosts_own_exit_hook_prints_nothing(tmp_path):
    script = """
import atexit
def report():  # registered before the telemetry was imported: runs after its own exit hooks
    from ai_agents.telemetry import TelemetryCollector, TelemetryManager
    TelemetryManager.get_instance().get_session_data("no such id!")
    TelemetryCollector().end_task("never-started")
atexit.register(report)
import ai_agents.telemetry
print("host done")
"""
    result = run_python(tmp_path, script)
    assert (result.returncode, result.stdout.strip(), result.stderr) == (0, "host done", "")


def test_an_agent_still_running_in_a_daemon_thread_at_exit_neither_crashes_nor_stays_running(tmp_path):
    script = """
import threading, time
from scripted_models import ScriptedModel, code
from smolagents import CodeAgent
def work():  # never final: still running when the interpreter exits
    CodeAgent(tools=[], model=ScriptedModel([code("x = 1")]), max_steps=10**6, verbosity_level=0).run("loop")
threading.Thread(target=work, daemon=True).start()
time.sleep(0.5)
print("exiting")
"""
    for attempt in range(3):  # it crashed in most runs before
        (tmp_path / str(attempt)).mkdir()
        if attempt == 1:  # started by SOP_TELEMETRY_AUTO (nanobind's leak report showed then)
            result = run_python(tmp_path / str(attempt), script, env={"SOP_TELEMETRY_AUTO": "1"})
        else:
            result = run_python(tmp_path / str(attempt), "import ai_agents.telemetry\n" + script)
        # (smolagents itself prints its failing steps once the interpreter shuts its pools down)
        assert (result.returncode, result.stdout.splitlines()[0]) == (0, "exiting"), result.stderr[-2000:]
        assert "nanobind" not in result.stderr, result.stderr[-2000:]
        [session] = stored_sessions(tmp_path / str(attempt))
        assert {task["status"] for task in session["tasks"]} == {"cancelled"}
